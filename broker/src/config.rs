//! The broker's configuration: a `server.properties` file with Kafka's key
//! names and defaults, plus `--override key=value` from the command line.
//!
//! Every key Kafka's ZooKeeper-mode broker documents that an operator is
//! likely to write is known here (so Kafka's sample `server.properties` loads
//! without warnings); keys the broker does not act on yet are still
//! type-checked. An unknown key is a warning, a bad value an error naming
//! the key (and the line, for the file).
//!
//! Topic-level settings (`retention.ms`, `segment.bytes`, …) take their
//! broker-wide defaults from here through [`crate::topic_config`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use runnel_common::properties::{self, PropertiesError};

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    File(#[from] PropertiesError),
    #[error("{origin}: invalid value {value:?} for configuration {key}: {reason}")]
    BadValue {
        origin: String,
        key: String,
        value: String,
        reason: String,
    },
    #[error("--override expects key=value, found {0:?}")]
    BadOverride(String),
    #[error("missing required configuration {0}")]
    Missing(&'static str),
}

/// The type of a configuration value, as Kafka's `ConfigDef.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    Bool,
    Int,
    Short,
    Long,
    Double,
    String,
    List,
    Password,
    Class,
}

impl ValueType {
    /// Kafka's name for the type (DescribeConfigs v3+ reports it).
    pub fn describe_code(self) -> i8 {
        // DescribeConfigsResponse ConfigType: 1 BOOLEAN, 2 STRING, 3 INT,
        // 4 SHORT, 5 LONG, 6 DOUBLE, 7 LIST, 8 CLASS, 9 PASSWORD.
        match self {
            ValueType::Bool => 1,
            ValueType::String => 2,
            ValueType::Int => 3,
            ValueType::Short => 4,
            ValueType::Long => 5,
            ValueType::Double => 6,
            ValueType::List => 7,
            ValueType::Class => 8,
            ValueType::Password => 9,
        }
    }

    /// Checks `value` against the type; the error is a short reason.
    pub fn check(self, value: &str) -> Result<(), String> {
        match self {
            ValueType::Bool => match value.to_ascii_lowercase().as_str() {
                "true" | "false" => Ok(()),
                _ => Err("expected true or false".into()),
            },
            ValueType::Int => value
                .parse::<i32>()
                .map(|_| ())
                .map_err(|_| "expected a 32-bit integer".into()),
            ValueType::Short => value
                .parse::<i16>()
                .map(|_| ())
                .map_err(|_| "expected a 16-bit integer".into()),
            ValueType::Long => value
                .parse::<i64>()
                .map(|_| ())
                .map_err(|_| "expected a 64-bit integer".into()),
            ValueType::Double => value
                .parse::<f64>()
                .map(|_| ())
                .map_err(|_| "expected a number".into()),
            ValueType::String | ValueType::List | ValueType::Password | ValueType::Class => Ok(()),
        }
    }
}

/// One broker key: name, type and Kafka's default (`None`: null).
#[derive(Debug, Clone, Copy)]
pub struct KeyDef {
    pub name: &'static str,
    pub kind: ValueType,
    pub default: Option<&'static str>,
}

const fn key(name: &'static str, kind: ValueType, default: Option<&'static str>) -> KeyDef {
    KeyDef {
        name,
        kind,
        default,
    }
}

use ValueType::{Bool, Double, Int, List, Long, Short};

/// The broker keys this broker knows, with Kafka's defaults.
pub const BROKER_KEYS: &[KeyDef] = &[
    key("broker.id", Int, Some("-1")),
    key("broker.id.generation.enable", Bool, Some("true")),
    key("reserved.broker.max.id", Int, Some("1000")),
    key("broker.rack", ValueType::String, None),
    // Runnel's own: where Prometheus scrapes `/metrics` (`host:port` or
    // `http://host:port`); unset, no metrics listener is opened.
    key("metrics.listener", ValueType::String, None),
    // Runnel's own (Redpanda's way): a Schema Registry served by the broker
    // at `http://host:port`, its state in `_schemas` on this cluster, its
    // leader elected in this broker's coord; unset, none.
    key("schema.registry.listeners", ValueType::String, None),
    key("listeners", List, Some("PLAINTEXT://:9092")),
    key("advertised.listeners", List, None),
    key(
        "listener.security.protocol.map",
        List,
        Some("PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"),
    ),
    key("inter.broker.listener.name", ValueType::String, None),
    // TLS (PEM stores only) and SASL; each also as
    // `listener.name.<listener>.<key>` (crate::security::settings).
    key("ssl.keystore.type", ValueType::String, Some("PEM")),
    key("ssl.keystore.location", ValueType::String, None),
    key("ssl.key.password", ValueType::Password, None),
    key("ssl.truststore.type", ValueType::String, Some("PEM")),
    key("ssl.truststore.location", ValueType::String, None),
    key("ssl.client.auth", ValueType::String, Some("none")),
    key("ssl.enabled.protocols", List, Some("TLSv1.2,TLSv1.3")),
    key("ssl.cipher.suites", List, None),
    key(
        "ssl.principal.mapping.rules",
        ValueType::String,
        Some("DEFAULT"),
    ),
    key("sasl.enabled.mechanisms", List, Some("GSSAPI")),
    key(
        "sasl.mechanism.inter.broker.protocol",
        ValueType::String,
        Some("GSSAPI"),
    ),
    key("sasl.jaas.config", ValueType::Password, None),
    // KIP-368 (security::settings; per listener and mechanism too).
    key("connections.max.reauth.ms", Long, Some("0")),
    key(
        "security.inter.broker.protocol",
        ValueType::String,
        Some("PLAINTEXT"),
    ),
    key("log.dirs", List, None),
    key("log.dir", ValueType::String, Some("/tmp/kafka-logs")),
    key("zookeeper.connect", ValueType::String, None),
    key("zookeeper.session.timeout.ms", Int, Some("18000")),
    key("zookeeper.connection.timeout.ms", Int, None),
    key("zookeeper.max.in.flight.requests", Int, Some("10")),
    key("zookeeper.set.acl", Bool, Some("false")),
    // TLS to coord's secureClientPort (runnel_common::coord_client::tls).
    key("zookeeper.ssl.client.enable", Bool, Some("false")),
    key("zookeeper.sasl.client", Bool, Some("true")),
    key(
        "zookeeper.sasl.clientconfig",
        ValueType::String,
        Some("Client"),
    ),
    key("java.security.auth.login.config", ValueType::String, None),
    key("zookeeper.clientCnxnSocket", ValueType::String, None),
    key("zookeeper.ssl.keystore.location", ValueType::String, None),
    key("zookeeper.ssl.keystore.type", ValueType::String, None),
    key("zookeeper.ssl.truststore.location", ValueType::String, None),
    key("zookeeper.ssl.truststore.type", ValueType::String, None),
    key("zookeeper.ssl.enabled.protocols", List, None),
    key("num.partitions", Int, Some("1")),
    key("default.replication.factor", Int, Some("1")),
    key("auto.create.topics.enable", Bool, Some("true")),
    key("delete.topic.enable", Bool, Some("true")),
    key("message.max.bytes", Int, Some("1048588")),
    key("min.insync.replicas", Int, Some("1")),
    key("compression.type", ValueType::String, Some("producer")),
    key("unclean.leader.election.enable", Bool, Some("false")),
    key("auto.leader.rebalance.enable", Bool, Some("true")),
    key("controlled.shutdown.enable", Bool, Some("true")),
    key("controlled.shutdown.max.retries", Int, Some("3")),
    key("controlled.shutdown.retry.backoff.ms", Long, Some("5000")),
    key("leader.imbalance.check.interval.seconds", Long, Some("300")),
    key("leader.imbalance.per.broker.percentage", Int, Some("10")),
    key("num.network.threads", Int, Some("3")),
    key("num.io.threads", Int, Some("8")),
    key("num.replica.fetchers", Int, Some("1")),
    key("num.recovery.threads.per.data.dir", Int, Some("1")),
    key("background.threads", Int, Some("10")),
    key("queued.max.requests", Int, Some("500")),
    key("socket.send.buffer.bytes", Int, Some("102400")),
    key("socket.receive.buffer.bytes", Int, Some("102400")),
    key("socket.request.max.bytes", Int, Some("104857600")),
    key("socket.listen.backlog.size", Int, Some("50")),
    key("max.connections", Int, Some("2147483647")),
    key(
        "connection.failed.authentication.delay.ms",
        Int,
        Some("100"),
    ),
    key("max.connections.per.ip", Int, Some("2147483647")),
    key(
        "max.connections.per.ip.overrides",
        ValueType::String,
        Some(""),
    ),
    key("max.connection.creation.rate", Int, Some("2147483647")),
    key("quota.window.num", Int, Some("11")),
    key("quota.window.size.seconds", Int, Some("1")),
    key("controller.quota.window.num", Int, Some("11")),
    key("controller.quota.window.size.seconds", Int, Some("1")),
    key("connections.max.idle.ms", Long, Some("600000")),
    key("request.timeout.ms", Int, Some("30000")),
    key("log.segment.bytes", Int, Some("1073741824")),
    key("log.roll.ms", Long, None),
    key("log.roll.hours", Int, Some("168")),
    key("log.roll.jitter.ms", Long, None),
    key("log.roll.jitter.hours", Int, Some("0")),
    key("log.retention.ms", Long, None),
    key("log.retention.minutes", Int, None),
    key("log.retention.hours", Int, Some("168")),
    key("log.retention.bytes", Long, Some("-1")),
    key("log.retention.check.interval.ms", Long, Some("300000")),
    key("log.cleanup.policy", List, Some("delete")),
    key("log.cleaner.enable", Bool, Some("true")),
    key("log.cleaner.threads", Int, Some("1")),
    key("log.cleaner.delete.retention.ms", Long, Some("86400000")),
    key("log.cleaner.min.compaction.lag.ms", Long, Some("0")),
    key(
        "log.cleaner.max.compaction.lag.ms",
        Long,
        Some("9223372036854775807"),
    ),
    key("log.cleaner.min.cleanable.ratio", Double, Some("0.5")),
    key("log.cleaner.dedupe.buffer.size", Long, Some("134217728")),
    key("log.cleaner.backoff.ms", Long, Some("15000")),
    key(
        "log.cleaner.io.max.bytes.per.second",
        Double,
        Some("1.7976931348623157E308"),
    ),
    key("log.cleaner.io.buffer.size", Int, Some("524288")),
    key("log.cleaner.io.buffer.load.factor", Double, Some("0.9")),
    key("log.segment.delete.delay.ms", Long, Some("60000")),
    key(
        "log.flush.interval.messages",
        Long,
        Some("9223372036854775807"),
    ),
    key("log.flush.interval.ms", Long, None),
    key(
        "log.flush.scheduler.interval.ms",
        Long,
        Some("9223372036854775807"),
    ),
    key(
        "log.flush.offset.checkpoint.interval.ms",
        Int,
        Some("60000"),
    ),
    key(
        "log.flush.start.offset.checkpoint.interval.ms",
        Int,
        Some("60000"),
    ),
    key("log.index.interval.bytes", Int, Some("4096")),
    key("log.index.size.max.bytes", Int, Some("10485760")),
    key("log.preallocate", Bool, Some("false")),
    key(
        "log.message.timestamp.type",
        ValueType::String,
        Some("CreateTime"),
    ),
    key(
        "log.message.timestamp.difference.max.ms",
        Long,
        Some("9223372036854775807"),
    ),
    key(
        "log.message.timestamp.before.max.ms",
        Long,
        Some("9223372036854775807"),
    ),
    key(
        "log.message.timestamp.after.max.ms",
        Long,
        Some("9223372036854775807"),
    ),
    key("log.message.downconversion.enable", Bool, Some("true")),
    key(
        "log.message.format.version",
        ValueType::String,
        Some("3.0-IV1"),
    ),
    key("inter.broker.protocol.version", ValueType::String, None),
    key("offsets.topic.replication.factor", Short, Some("3")),
    key("offsets.topic.num.partitions", Int, Some("50")),
    key("offsets.topic.segment.bytes", Int, Some("104857600")),
    key("offsets.retention.minutes", Int, Some("10080")),
    key("offsets.retention.check.interval.ms", Long, Some("600000")),
    key("offset.metadata.max.bytes", Int, Some("4096")),
    key("offsets.commit.timeout.ms", Int, Some("5000")),
    key("transaction.state.log.replication.factor", Short, Some("3")),
    key("transaction.state.log.min.isr", Int, Some("2")),
    key("transaction.state.log.num.partitions", Int, Some("50")),
    key("transaction.max.timeout.ms", Int, Some("900000")),
    key(
        "transaction.abort.timed.out.transaction.cleanup.interval.ms",
        Int,
        Some("10000"),
    ),
    key("transactional.id.expiration.ms", Int, Some("604800000")),
    key("producer.id.expiration.ms", Int, Some("86400000")),
    key(
        "producer.id.expiration.check.interval.ms",
        Int,
        Some("600000"),
    ),
    key(
        "transaction.remove.expired.transaction.cleanup.interval.ms",
        Int,
        Some("3600000"),
    ),
    key("group.initial.rebalance.delay.ms", Int, Some("3000")),
    key("group.min.session.timeout.ms", Int, Some("6000")),
    key("group.max.session.timeout.ms", Int, Some("1800000")),
    key("group.max.size", Int, Some("2147483647")),
    key("replica.lag.time.max.ms", Long, Some("30000")),
    key("replica.fetch.max.bytes", Int, Some("1048576")),
    key("replica.fetch.wait.max.ms", Int, Some("500")),
    key("replica.fetch.min.bytes", Int, Some("1")),
    key("replica.socket.timeout.ms", Int, Some("30000")),
    key("replica.fetch.response.max.bytes", Int, Some("10485760")),
    key("replica.fetch.backoff.ms", Int, Some("1000")),
    key(
        "replica.high.watermark.checkpoint.interval.ms",
        Long,
        Some("5000"),
    ),
    key("controller.socket.timeout.ms", Int, Some("30000")),
    key("fetch.max.bytes", Int, Some("57671680")),
    key(
        "max.incremental.fetch.session.cache.slots",
        Int,
        Some("1000"),
    ),
    key("metric.reporters", List, Some("")),
    key("authorizer.class.name", ValueType::String, Some("")),
    key("super.users", ValueType::String, None),
    key("allow.everyone.if.no.acl.found", Bool, Some("false")),
];

/// The definition of broker key `name`, if known.
pub fn broker_key(name: &str) -> Option<&'static KeyDef> {
    BROKER_KEYS.iter().find(|k| k.name == name)
}

/// One listener, `NAME://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    /// Empty: every interface (Kafka's meaning of `PLAINTEXT://:9092`).
    pub host: String,
    pub port: u16,
}

impl Listener {
    /// Parses one `NAME://host:port` entry.
    pub fn parse(text: &str) -> Result<Listener, String> {
        let (name, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("expected NAME://host:port, found {text:?}"))?;
        if name.is_empty() {
            return Err(format!("listener {text:?} has no name"));
        }
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| format!("listener {text:?} has no port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = port
            .parse::<u16>()
            .map_err(|_| format!("listener {text:?} has a bad port"))?;
        Ok(Listener {
            name: name.to_ascii_uppercase(),
            host: host.to_string(),
            port,
        })
    }

    /// `NAME://host:port`, as Kafka writes it into `/brokers/ids/<id>`.
    pub fn url(&self) -> String {
        format!("{}://{}:{}", self.name, self.host, self.port)
    }
}

/// The validated broker configuration.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// `broker.id`; -1 means "generate one" (Kafka's default).
    pub broker_id: i32,
    pub broker_id_generation_enable: bool,
    pub reserved_broker_max_id: i32,
    pub rack: Option<String>,
    /// `metrics.listener` as `host:port` (any `http://` prefix removed).
    pub metrics_listener: Option<String>,
    /// `schema.registry.listeners` (`http://host:port`), checked.
    pub schema_registry_listener: Option<String>,
    pub listeners: Vec<Listener>,
    pub advertised_listeners: Vec<Listener>,
    /// Each listener's protocol, TLS and SASL, in `listeners` order.
    pub listener_security: Vec<crate::security::settings::ListenerSecurity>,
    /// The listener brokers use to reach each other, and how.
    pub inter_broker: crate::security::settings::InterBroker,
    /// `authorizer.class.name`, `super.users`, `allow.everyone.if.no.acl.found`.
    pub authorizer: crate::security::authorizer::AuthorizerConfig,
    /// The client side of `inter_broker` (its trust store read): what the
    /// replica fetchers, controller links, transaction markers and the
    /// broker's own services connect with.
    pub inter_broker_client: runnel_common::kafka::ClientSecurity,
    /// `log.dirs`, else `log.dir`.
    pub log_dirs: Vec<PathBuf>,
    /// `host:port[,host:port...][/chroot]`.
    pub zookeeper_connect: String,
    pub zookeeper_session_timeout: Duration,
    pub zookeeper_connection_timeout: Duration,
    /// `zookeeper.ssl.client.enable=true`: TLS to coord, with these files.
    pub zookeeper_tls: Option<runnel_common::coord_client::CoordTls>,
    /// A JAAS `Client` section: SASL DIGEST-MD5 to coord.
    pub zookeeper_sasl: Option<runnel_common::coord_client::CoordSasl>,
    /// `zookeeper.set.acl`: znodes get Kafka's secure ACLs (creator ALL,
    /// world READ except on sensitive paths; `metadata::znode_acl`).
    /// Requires an authenticated coord identity (a TLS client certificate
    /// or a SASL login).
    pub zookeeper_set_acl: bool,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics_enable: bool,
    pub delete_topic_enable: bool,
    pub message_max_bytes: i32,
    pub min_insync_replicas: i32,
    pub socket_request_max_bytes: i32,
    /// `max.connections`, `max.connections.per.ip`, its overrides,
    /// `max.connection.creation.rate` and their `listener.name.<l>.`
    /// forms, checked at accept.
    pub connection_limits: crate::quota::connections::ConnectionLimits,
    /// `connection.failed.authentication.delay.ms` (KIP-306): a failed
    /// authentication is answered after this long, so a client with a
    /// wrong password does not reconnect in a tight loop.
    pub failed_authentication_delay: Duration,
    /// `quota.window.num` and `quota.window.size.seconds`: how client
    /// quota usage is sampled.
    pub quota_windows: crate::quota::Windows,
    /// `controller.quota.window.num` and `controller.quota.window.size.seconds`:
    /// the budget of `controller_mutation_rate` is (num − 1) windows' worth.
    pub controller_quota_windows: crate::quota::Windows,
    /// `max.incremental.fetch.session.cache.slots`: fetch sessions kept (KIP-227).
    pub fetch_session_cache_slots: usize,
    /// `num.recovery.threads.per.data.dir`: logs opened at once per log
    /// directory (at start and when partitions arrive).
    pub num_recovery_threads_per_data_dir: usize,
    pub log_retention_check_interval: Duration,
    pub log_flush_scheduler_interval: Duration,
    /// `group.initial.rebalance.delay.ms`.
    pub group_initial_rebalance_delay: Duration,
    pub group_min_session_timeout_ms: i32,
    pub group_max_session_timeout_ms: i32,
    pub group_max_size: usize,
    /// `offsets.retention.minutes`.
    pub offsets_retention: Duration,
    pub offsets_retention_check_interval: Duration,
    pub offset_metadata_max_bytes: usize,
    pub offsets_topic_num_partitions: i32,
    /// How followers fetch and when the leader drops them from the ISR.
    pub replication: ReplicationConfig,
    /// The transaction coordinator's limits and timers.
    pub transactions: TransactionConfig,
    /// The log cleaner (compacted topics).
    pub cleaner: CleanerConfig,
    /// `controlled.shutdown.enable`: ask the controller to move leaderships
    /// away before stopping.
    pub controlled_shutdown_enable: bool,
    pub controlled_shutdown_max_retries: u32,
    pub controlled_shutdown_retry_backoff: Duration,
    /// `auto.leader.rebalance.enable`: move leadership back to preferred replicas.
    pub auto_leader_rebalance_enable: bool,
    pub leader_imbalance_check_interval: Duration,
    pub leader_imbalance_per_broker_percentage: u32,
    /// `controller.socket.timeout.ms`: the controller's requests to brokers.
    pub controller_socket_timeout: Duration,
    /// Every value explicitly set (file or override), after validation.
    /// DescribeConfigs reports these as STATIC_BROKER_CONFIG.
    pub explicit: BTreeMap<String, String>,
    /// Keys that were not recognised (warned about at start-up).
    pub unknown_keys: Vec<String>,
}

/// Replication settings (Kafka's `replica.*` keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationConfig {
    /// `replica.lag.time.max.ms`: a follower that has not caught up to the
    /// leader's log end for this long leaves the ISR.
    pub lag_time_max: Duration,
    /// `replica.fetch.max.bytes`: per partition in one follower fetch.
    pub fetch_max_bytes: i32,
    /// `replica.fetch.response.max.bytes`: per follower fetch response.
    pub fetch_response_max_bytes: i32,
    /// `replica.fetch.wait.max.ms`: the follower's long-poll wait.
    pub fetch_wait_max_ms: i32,
    /// `replica.fetch.min.bytes`.
    pub fetch_min_bytes: i32,
    /// `replica.fetch.backoff.ms`: pause after a failed fetch.
    pub fetch_backoff: Duration,
    /// `replica.socket.timeout.ms`: a fetch unanswered for this long is
    /// abandoned and the connection reopened.
    pub socket_timeout: Duration,
    /// `replica.high.watermark.checkpoint.interval.ms`.
    pub hw_checkpoint_interval: Duration,
}

/// The log cleaner's settings (Kafka's `log.cleaner.*` broker keys; the
/// per-topic ones, such as `min.cleanable.dirty.ratio`, are topic configs).
#[derive(Debug, Clone, PartialEq)]
pub struct CleanerConfig {
    /// `log.cleaner.enable`.
    pub enable: bool,
    /// `log.cleaner.threads`: logs cleaned at the same time.
    pub threads: usize,
    /// `log.cleaner.dedupe.buffer.size`: key-map memory, shared by the threads.
    pub dedupe_buffer_size: usize,
    /// `log.cleaner.backoff.ms`: pause when no log needs cleaning.
    pub backoff: Duration,
    /// `log.cleaner.io.max.bytes.per.second`.
    pub io_max_bytes_per_second: f64,
}

impl CleanerConfig {
    fn from_getter(get: &Getter<'_>) -> Result<CleanerConfig, ConfigError> {
        let threads = get.int("log.cleaner.threads");
        if threads < 0 {
            return Err(get.error("log.cleaner.threads", "must not be negative"));
        }
        let dedupe = get.long("log.cleaner.dedupe.buffer.size");
        if dedupe < 1 {
            return Err(get.error("log.cleaner.dedupe.buffer.size", "must be at least 1"));
        }
        let backoff = get.long("log.cleaner.backoff.ms");
        if backoff < 0 {
            return Err(get.error("log.cleaner.backoff.ms", "must not be negative"));
        }
        let rate = get
            .string("log.cleaner.io.max.bytes.per.second")
            .parse::<f64>()
            .unwrap_or(f64::MAX);
        if rate <= 0.0 {
            return Err(get.error("log.cleaner.io.max.bytes.per.second", "must be positive"));
        }
        Ok(CleanerConfig {
            enable: get.bool("log.cleaner.enable"),
            threads: threads as usize,
            dedupe_buffer_size: usize::try_from(dedupe).unwrap_or(usize::MAX),
            backoff: Duration::from_millis(backoff as u64),
            io_max_bytes_per_second: rate,
        })
    }
}

/// Transaction coordinator settings (Kafka's `transaction.*` keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionConfig {
    /// `transaction.max.timeout.ms`: the longest timeout a producer may ask
    /// for (INVALID_TRANSACTION_TIMEOUT above it).
    pub max_timeout_ms: i32,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`: how
    /// often open transactions are checked against their timeout.
    pub abort_timed_out_interval: Duration,
    /// `transactional.id.expiration.ms`: an id idle this long is forgotten.
    pub id_expiration: Duration,
    /// `transaction.remove.expired.transaction.cleanup.interval.ms`.
    pub remove_expired_interval: Duration,
    /// `transaction.state.log.num.partitions`: the hash slots transactional
    /// ids map to when choosing their coordinator.
    pub slots: i32,
    /// `producer.id.expiration.ms`: a partition forgets a producer idle this
    /// long (no open transaction), and with it its duplicate window.
    pub producer_id_expiration: Duration,
    /// `producer.id.expiration.check.interval.ms`.
    pub producer_id_expiration_check_interval: Duration,
}

impl TransactionConfig {
    fn from_getter(get: &Getter<'_>) -> Result<TransactionConfig, ConfigError> {
        let positive = |name: &str| -> Result<i32, ConfigError> {
            let v = get.int(name);
            if v < 1 {
                return Err(get.error(name, "must be at least 1"));
            }
            Ok(v)
        };
        let ms = |name: &str| positive(name).map(|v| Duration::from_millis(v as u64));
        Ok(TransactionConfig {
            max_timeout_ms: positive("transaction.max.timeout.ms")?,
            abort_timed_out_interval: ms(
                "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            )?,
            id_expiration: ms("transactional.id.expiration.ms")?,
            remove_expired_interval: ms(
                "transaction.remove.expired.transaction.cleanup.interval.ms",
            )?,
            slots: positive("transaction.state.log.num.partitions")?,
            producer_id_expiration: ms("producer.id.expiration.ms")?,
            producer_id_expiration_check_interval: ms("producer.id.expiration.check.interval.ms")?,
        })
    }
}

impl ReplicationConfig {
    fn from_getter(get: &Getter<'_>) -> Result<ReplicationConfig, ConfigError> {
        let positive_ms = |name: &str| -> Result<Duration, ConfigError> {
            let v = get.long(name);
            if v < 1 {
                return Err(get.error(name, "must be at least 1"));
            }
            Ok(Duration::from_millis(v as u64))
        };
        let non_negative = |name: &str| -> Result<i32, ConfigError> {
            let v = get.int(name);
            if v < 0 {
                return Err(get.error(name, "must not be negative"));
            }
            Ok(v)
        };
        let wait = non_negative("replica.fetch.wait.max.ms")?;
        let socket_timeout = positive_ms("replica.socket.timeout.ms")?;
        if socket_timeout.as_millis() < wait as u128 {
            return Err(get.error(
                "replica.socket.timeout.ms",
                &format!("must be at least replica.fetch.wait.max.ms ({wait})"),
            ));
        }
        Ok(ReplicationConfig {
            lag_time_max: positive_ms("replica.lag.time.max.ms")?,
            fetch_max_bytes: non_negative("replica.fetch.max.bytes")?,
            fetch_response_max_bytes: non_negative("replica.fetch.response.max.bytes")?,
            fetch_wait_max_ms: wait,
            fetch_min_bytes: non_negative("replica.fetch.min.bytes")?,
            fetch_backoff: Duration::from_millis(non_negative("replica.fetch.backoff.ms")? as u64),
            socket_timeout,
            hw_checkpoint_interval: positive_ms("replica.high.watermark.checkpoint.interval.ms")?,
        })
    }
}

/// A value and where it came from, for error messages.
struct Setting {
    value: String,
    origin: String,
}

impl BrokerConfig {
    /// Reads `path` and applies `overrides` (`key=value`, later wins).
    pub fn load(path: &Path, overrides: &[String]) -> Result<BrokerConfig, ConfigError> {
        let entries = properties::read_file(path)?;
        let mut settings = BTreeMap::new();
        for e in entries {
            settings.insert(
                e.key,
                Setting {
                    value: e.value,
                    origin: format!("{}:{}", path.display(), e.line),
                },
            );
        }
        apply_overrides(&mut settings, overrides)?;
        Self::from_settings(settings)
    }

    /// Builds a configuration from `key=value` text (tests, embedded use).
    pub fn from_text(text: &str, overrides: &[String]) -> Result<BrokerConfig, ConfigError> {
        let mut settings = BTreeMap::new();
        for e in properties::parse(text, "config")? {
            settings.insert(
                e.key,
                Setting {
                    value: e.value,
                    origin: format!("config:{}", e.line),
                },
            );
        }
        apply_overrides(&mut settings, overrides)?;
        Self::from_settings(settings)
    }

    fn from_settings(settings: BTreeMap<String, Setting>) -> Result<BrokerConfig, ConfigError> {
        let mut unknown_keys = Vec::new();
        for (name, setting) in &settings {
            if let Some(def) = broker_key(name) {
                def.kind
                    .check(&setting.value)
                    .map_err(|reason| bad(name, setting, reason))?;
            } else if crate::topic_config::topic_key(name).is_none()
                && !name.starts_with("listener.name.")
            {
                unknown_keys.push(name.clone());
            }
        }
        let get = Getter {
            settings: &settings,
        };

        let listeners = get.listeners("listeners")?.unwrap_or_default();
        if listeners.is_empty() {
            return Err(get.error("listeners", "at least one listener is required"));
        }
        let advertised_listeners = match get.listeners("advertised.listeners")? {
            Some(l) if !l.is_empty() => l,
            _ => listeners.clone(),
        };
        for adv in &advertised_listeners {
            if !listeners.iter().any(|l| l.name == adv.name) {
                return Err(get.error(
                    "advertised.listeners",
                    &format!("listener {} is not in listeners", adv.name),
                ));
            }
        }
        let names: Vec<String> = listeners.iter().map(|l| l.name.clone()).collect();
        let lookup = |key: &str| get.value(key);
        let (listener_security, inter_broker) = crate::security::settings::resolve(&names, &lookup)
            .map_err(|e| get.error(&e.key, &e.reason))?;
        let inter_broker_client = crate::security::listener::inter_broker_security(&inter_broker)
            .map_err(|e| {
            get.error(
                "inter.broker.listener.name",
                &format!("listener {}: {e}", inter_broker.listener),
            )
        })?;

        let log_dirs: Vec<PathBuf> = match get.raw("log.dirs") {
            Some(v) => v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect(),
            None => vec![PathBuf::from(get.string("log.dir"))],
        };
        if log_dirs.is_empty() {
            return Err(get.error("log.dirs", "no directory given"));
        }

        let schema_registry_listener = match get.raw("schema.registry.listeners").map(str::trim) {
            None | Some("") => None,
            Some(v) => {
                let first = v.split(',').next().unwrap_or("").trim();
                let port = first
                    .strip_prefix("http://")
                    .and_then(|hp| hp.trim_end_matches('/').rsplit_once(':'))
                    .map(|(_, p)| p.parse::<u16>());
                if !matches!(port, Some(Ok(_))) {
                    return Err(get.error("schema.registry.listeners", "expected http://host:port"));
                }
                Some(first.to_string())
            }
        };
        let metrics_listener = match get.raw("metrics.listener").map(str::trim) {
            None | Some("") => None,
            Some(v) => {
                let hostport = v.strip_prefix("http://").unwrap_or(v);
                let port = hostport.rsplit_once(':').map(|(_, p)| p.parse::<u16>());
                if !matches!(port, Some(Ok(_))) {
                    return Err(get.error("metrics.listener", "expected host:port"));
                }
                Some(hostport.to_string())
            }
        };

        let zookeeper_connect = get
            .raw("zookeeper.connect")
            .map(str::to_string)
            .filter(|s| !s.is_empty())
            .ok_or(ConfigError::Missing("zookeeper.connect"))?;

        let session_ms = get.int("zookeeper.session.timeout.ms");
        if session_ms <= 0 {
            return Err(get.error("zookeeper.session.timeout.ms", "must be positive"));
        }
        let connection_ms = get
            .opt_int("zookeeper.connection.timeout.ms")
            .unwrap_or(session_ms);
        let jvm_opts = runnel_common::coord_client::jvm_opts_from_env(&["KAFKA_OPTS"]);
        let coord_security = runnel_common::coord_client::CoordClientSecurity::from_config(
            &|k| get.value(k),
            &jvm_opts,
        )
        .map_err(|e| get.error(&e.key, &e.reason))?;
        // As Kafka (KafkaServer.initZkClient): secure ACLs name the creator's
        // authenticated identity, so without one every create would fail.
        let zookeeper_set_acl = get.bool("zookeeper.set.acl");
        if zookeeper_set_acl && !coord_security.has_identity() {
            return Err(get.error(
                "zookeeper.set.acl",
                runnel_common::coord_client::SET_ACL_NEEDS_IDENTITY,
            ));
        }
        let runnel_common::coord_client::CoordClientSecurity {
            tls: zookeeper_tls,
            sasl: zookeeper_sasl,
        } = coord_security;

        let broker_id = get.int("broker.id");
        if broker_id < -1 {
            return Err(get.error("broker.id", "must be -1 (generate) or at least 0"));
        }
        let reserved_broker_max_id = get.int("reserved.broker.max.id");
        if broker_id > reserved_broker_max_id {
            // Kafka: ids above reserved.broker.max.id are reserved for generated ids.
            return Err(get.error(
                "broker.id",
                &format!("must not exceed reserved.broker.max.id ({reserved_broker_max_id})"),
            ));
        }

        let num_partitions = get.int("num.partitions");
        if num_partitions < 1 {
            return Err(get.error("num.partitions", "must be at least 1"));
        }
        let rf = get.int("default.replication.factor");
        if !(1..=i16::MAX as i32).contains(&rf) {
            return Err(get.error("default.replication.factor", "must be at least 1"));
        }
        let message_max_bytes = get.int("message.max.bytes");
        if message_max_bytes < 0 {
            return Err(get.error("message.max.bytes", "must not be negative"));
        }
        let min_isr = get.int("min.insync.replicas");
        if min_isr < 1 {
            return Err(get.error("min.insync.replicas", "must be at least 1"));
        }
        let request_max = get.int("socket.request.max.bytes");
        if request_max < 1 {
            return Err(get.error("socket.request.max.bytes", "must be at least 1"));
        }
        let fetch_session_slots = get.int("max.incremental.fetch.session.cache.slots");
        if fetch_session_slots < 0 {
            return Err(get.error(
                "max.incremental.fetch.session.cache.slots",
                "must not be negative",
            ));
        }
        let recovery_threads = get.int("num.recovery.threads.per.data.dir");
        if recovery_threads < 1 {
            return Err(get.error("num.recovery.threads.per.data.dir", "must be at least 1"));
        }
        let authorizer = crate::security::authorizer::AuthorizerConfig::from_values(
            &get.string("authorizer.class.name"),
            &get.string("super.users"),
            get.bool("allow.everyone.if.no.acl.found"),
        )
        .map_err(|reason| get.error("authorizer.class.name", &reason))?;
        let auth_delay = get.int("connection.failed.authentication.delay.ms");
        if auth_delay < 0 {
            return Err(get.error(
                "connection.failed.authentication.delay.ms",
                "must not be negative",
            ));
        }
        let quota_windows = |num: &str, size: &str| {
            let samples = get.int(num);
            if !(1..=1000).contains(&samples) {
                return Err(get.error(num, "must be between 1 and 1000"));
            }
            let seconds = get.int(size);
            if !(1..=86_400).contains(&seconds) {
                return Err(get.error(size, "must be between 1 and 86400"));
            }
            Ok(crate::quota::Windows {
                samples: samples as u32,
                window_ms: seconds as u64 * 1000,
            })
        };
        let client_quota_windows = quota_windows("quota.window.num", "quota.window.size.seconds")?;
        let controller_quota_windows = quota_windows(
            "controller.quota.window.num",
            "controller.quota.window.size.seconds",
        )?;
        let connection_limits = crate::quota::connections::ConnectionLimits::parse(
            get.int("max.connections.per.ip"),
            &get.string("max.connections.per.ip.overrides"),
            get.int("max.connection.creation.rate"),
        )
        .map_err(|(key, reason)| get.error(key, &reason))?
        .with_listeners(
            get.int("max.connections"),
            &names,
            &inter_broker.listener,
            &lookup,
        )
        .map_err(|(key, reason)| get.error(&key, &reason))?;
        let check_ms = get.long("log.retention.check.interval.ms");
        if check_ms < 1 {
            return Err(get.error("log.retention.check.interval.ms", "must be at least 1"));
        }
        let flush_ms = get.long("log.flush.scheduler.interval.ms");
        if flush_ms < 0 {
            return Err(get.error("log.flush.scheduler.interval.ms", "must not be negative"));
        }

        let initial_delay = get.int("group.initial.rebalance.delay.ms");
        if initial_delay < 0 {
            return Err(get.error("group.initial.rebalance.delay.ms", "must not be negative"));
        }
        let min_session = get.int("group.min.session.timeout.ms");
        let max_session = get.int("group.max.session.timeout.ms");
        if min_session < 0 {
            return Err(get.error("group.min.session.timeout.ms", "must not be negative"));
        }
        if max_session < min_session {
            return Err(get.error(
                "group.max.session.timeout.ms",
                &format!("must be at least group.min.session.timeout.ms ({min_session})"),
            ));
        }
        let group_max_size = get.int("group.max.size");
        if group_max_size < 1 {
            return Err(get.error("group.max.size", "must be at least 1"));
        }
        let retention_minutes = get.int("offsets.retention.minutes");
        if retention_minutes < 1 {
            return Err(get.error("offsets.retention.minutes", "must be at least 1"));
        }
        let retention_check = get.long("offsets.retention.check.interval.ms");
        if retention_check < 1 {
            return Err(get.error("offsets.retention.check.interval.ms", "must be at least 1"));
        }
        let metadata_max = get.int("offset.metadata.max.bytes");
        if metadata_max < 0 {
            return Err(get.error("offset.metadata.max.bytes", "must not be negative"));
        }
        let offsets_partitions = get.int("offsets.topic.num.partitions");
        if offsets_partitions < 1 {
            return Err(get.error("offsets.topic.num.partitions", "must be at least 1"));
        }

        let replication = ReplicationConfig::from_getter(&get)?;
        let transactions = TransactionConfig::from_getter(&get)?;
        let cleaner = CleanerConfig::from_getter(&get)?;
        let shutdown_retries = get.int("controlled.shutdown.max.retries");
        if shutdown_retries < 0 {
            return Err(get.error("controlled.shutdown.max.retries", "must not be negative"));
        }
        let shutdown_backoff = get.long("controlled.shutdown.retry.backoff.ms");
        if shutdown_backoff < 0 {
            return Err(get.error(
                "controlled.shutdown.retry.backoff.ms",
                "must not be negative",
            ));
        }
        let imbalance_interval = get.long("leader.imbalance.check.interval.seconds");
        if imbalance_interval < 1 {
            return Err(get.error(
                "leader.imbalance.check.interval.seconds",
                "must be at least 1",
            ));
        }
        let imbalance_pct = get.int("leader.imbalance.per.broker.percentage");
        if !(0..=100).contains(&imbalance_pct) {
            return Err(get.error("leader.imbalance.per.broker.percentage", "must be 0 to 100"));
        }
        let controller_timeout = get.int("controller.socket.timeout.ms");
        if controller_timeout < 1 {
            return Err(get.error("controller.socket.timeout.ms", "must be at least 1"));
        }

        let mut explicit = BTreeMap::new();
        for (name, setting) in &settings {
            explicit.insert(name.clone(), setting.value.clone());
        }
        let config = BrokerConfig {
            broker_id,
            broker_id_generation_enable: get.bool("broker.id.generation.enable"),
            reserved_broker_max_id,
            rack: get.raw("broker.rack").map(str::to_string),
            metrics_listener,
            schema_registry_listener,
            listeners,
            advertised_listeners,
            listener_security,
            inter_broker,
            inter_broker_client,
            authorizer,
            log_dirs,
            zookeeper_connect,
            zookeeper_session_timeout: Duration::from_millis(session_ms as u64),
            zookeeper_connection_timeout: Duration::from_millis(connection_ms.max(1) as u64),
            zookeeper_tls,
            zookeeper_sasl,
            zookeeper_set_acl,
            num_partitions,
            default_replication_factor: rf as i16,
            auto_create_topics_enable: get.bool("auto.create.topics.enable"),
            delete_topic_enable: get.bool("delete.topic.enable"),
            message_max_bytes,
            min_insync_replicas: min_isr,
            socket_request_max_bytes: request_max,
            connection_limits,
            failed_authentication_delay: Duration::from_millis(auth_delay as u64),
            quota_windows: client_quota_windows,
            controller_quota_windows,
            fetch_session_cache_slots: fetch_session_slots as usize,
            num_recovery_threads_per_data_dir: recovery_threads as usize,
            log_retention_check_interval: Duration::from_millis(check_ms as u64),
            log_flush_scheduler_interval: Duration::from_millis(flush_ms as u64),
            group_initial_rebalance_delay: Duration::from_millis(initial_delay as u64),
            group_min_session_timeout_ms: min_session,
            group_max_session_timeout_ms: max_session,
            group_max_size: group_max_size as usize,
            offsets_retention: Duration::from_secs(retention_minutes as u64 * 60),
            offsets_retention_check_interval: Duration::from_millis(retention_check as u64),
            offset_metadata_max_bytes: metadata_max as usize,
            offsets_topic_num_partitions: offsets_partitions,
            replication,
            transactions,
            cleaner,
            controlled_shutdown_enable: get.bool("controlled.shutdown.enable"),
            controlled_shutdown_max_retries: shutdown_retries as u32,
            controlled_shutdown_retry_backoff: Duration::from_millis(shutdown_backoff as u64),
            auto_leader_rebalance_enable: get.bool("auto.leader.rebalance.enable"),
            leader_imbalance_check_interval: Duration::from_secs(imbalance_interval as u64),
            leader_imbalance_per_broker_percentage: imbalance_pct as u32,
            controller_socket_timeout: Duration::from_millis(controller_timeout as u64),
            explicit,
            unknown_keys,
        };
        // Broker-wide topic defaults must themselves be valid topic values.
        crate::topic_config::TopicConfig::resolve(&config, &BTreeMap::new()).map_err(|e| {
            ConfigError::BadValue {
                origin: "server.properties".into(),
                key: e.key,
                value: e.value,
                reason: e.reason,
            }
        })?;
        Ok(config)
    }

    /// The effective value of a broker key: explicit, else Kafka's default.
    pub fn value(&self, name: &str) -> Option<String> {
        if let Some(v) = self.explicit.get(name) {
            return Some(v.clone());
        }
        broker_key(name).and_then(|d| d.default.map(str::to_string))
    }

    /// Whether `name` was set in the file or by an override.
    pub fn is_explicit(&self, name: &str) -> bool {
        self.explicit.contains_key(name)
    }

    /// The chroot part of `zookeeper.connect` (`/kafka`), if any.
    pub fn zookeeper_chroot(&self) -> Option<&str> {
        split_chroot(&self.zookeeper_connect).1
    }

    /// `zookeeper.connect` without its chroot.
    pub fn zookeeper_hosts(&self) -> &str {
        split_chroot(&self.zookeeper_connect).0
    }
}

/// Splits `h1:p1,h2:p2/chroot` into hosts and chroot (`None` for none or `/`).
pub fn split_chroot(connect: &str) -> (&str, Option<&str>) {
    match connect.find('/') {
        Some(i) => {
            let chroot = connect[i..].trim_end_matches('/');
            (
                &connect[..i],
                if chroot.is_empty() {
                    None
                } else {
                    Some(chroot)
                },
            )
        }
        None => (connect, None),
    }
}

fn apply_overrides(
    settings: &mut BTreeMap<String, Setting>,
    overrides: &[String],
) -> Result<(), ConfigError> {
    for o in overrides {
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| ConfigError::BadOverride(o.clone()))?;
        let k = k.trim();
        if k.is_empty() {
            return Err(ConfigError::BadOverride(o.clone()));
        }
        settings.insert(
            k.to_string(),
            Setting {
                value: v.trim().to_string(),
                origin: "--override".into(),
            },
        );
    }
    Ok(())
}

fn bad(key: &str, setting: &Setting, reason: String) -> ConfigError {
    ConfigError::BadValue {
        origin: setting.origin.clone(),
        key: key.to_string(),
        value: setting.value.clone(),
        reason,
    }
}

/// Typed access to already type-checked settings, falling back to defaults.
struct Getter<'a> {
    settings: &'a BTreeMap<String, Setting>,
}

impl Getter<'_> {
    fn raw(&self, key: &str) -> Option<&str> {
        self.settings.get(key).map(|s| s.value.as_str())
    }

    fn value(&self, key: &str) -> Option<String> {
        self.raw(key)
            .map(str::to_string)
            .or_else(|| broker_key(key).and_then(|d| d.default.map(str::to_string)))
    }

    fn error(&self, key: &str, reason: &str) -> ConfigError {
        let (mut value, origin) = match self.settings.get(key) {
            Some(s) => (s.value.clone(), s.origin.clone()),
            None => (self.value(key).unwrap_or_default(), "default".into()),
        };
        // Passwords (and JAAS configs, which hold them) stay out of logs.
        let secret = broker_key(key).is_some_and(|d| d.kind == ValueType::Password)
            || key.ends_with("jaas.config")
            || key.ends_with("password");
        if secret {
            value = "[hidden]".into();
        }
        ConfigError::BadValue {
            origin,
            key: key.to_string(),
            value,
            reason: reason.to_string(),
        }
    }

    fn string(&self, key: &str) -> String {
        self.value(key).unwrap_or_default()
    }

    // The parse calls below cannot fail for a key whose value passed
    // `ValueType::check`, and defaults are valid by construction (unit test).
    fn int(&self, key: &str) -> i32 {
        self.opt_int(key).unwrap_or(0)
    }

    fn opt_int(&self, key: &str) -> Option<i32> {
        self.value(key).and_then(|v| v.parse().ok())
    }

    fn long(&self, key: &str) -> i64 {
        self.value(key).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    fn bool(&self, key: &str) -> bool {
        self.value(key)
            .map(|v| v.eq_ignore_ascii_case("true"))
            .unwrap_or(false)
    }

    fn listeners(&self, key: &str) -> Result<Option<Vec<Listener>>, ConfigError> {
        let Some(v) = self.value(key) else {
            return Ok(None);
        };
        let mut out = Vec::new();
        for part in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            out.push(Listener::parse(part).map_err(|reason| self.error(key, &reason))?);
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "zookeeper.connect=127.0.0.1:2181\n";

    #[test]
    fn defaults_are_kafkas() {
        let c = BrokerConfig::from_text(MINIMAL, &[]).unwrap();
        assert_eq!(c.broker_id, -1);
        assert_eq!(c.message_max_bytes, 1_048_588);
        assert_eq!(c.socket_request_max_bytes, 104_857_600);
        assert_eq!(c.zookeeper_session_timeout, Duration::from_millis(18_000));
        assert_eq!(
            c.zookeeper_connection_timeout,
            Duration::from_millis(18_000)
        );
        assert_eq!(c.num_partitions, 1);
        assert_eq!(c.default_replication_factor, 1);
        assert!(c.auto_create_topics_enable);
        assert_eq!(c.log_dirs, vec![PathBuf::from("/tmp/kafka-logs")]);
        assert!(c.controlled_shutdown_enable);
        assert_eq!(c.controlled_shutdown_max_retries, 3);
        assert_eq!(
            c.controlled_shutdown_retry_backoff,
            Duration::from_millis(5000)
        );
        assert!(c.auto_leader_rebalance_enable);
        assert_eq!(c.leader_imbalance_check_interval, Duration::from_secs(300));
        assert_eq!(c.leader_imbalance_per_broker_percentage, 10);
        assert_eq!(
            c.listeners,
            vec![Listener {
                name: "PLAINTEXT".into(),
                host: "".into(),
                port: 9092
            }]
        );
        assert_eq!(c.advertised_listeners, c.listeners);
        assert_eq!(c.value("log.retention.hours").as_deref(), Some("168"));
    }

    #[test]
    fn every_default_passes_its_own_type_check() {
        for k in BROKER_KEYS {
            if let Some(d) = k.default {
                assert!(k.kind.check(d).is_ok(), "{} default {d:?}", k.name);
            }
        }
    }

    #[test]
    fn reads_values_and_overrides_win() {
        let text = "broker.id=3\nlisteners=PLAINTEXT://127.0.0.1:19092\nlog.dirs=/a, /b\n\
                    zookeeper.connect=127.0.0.1:2181,127.0.0.1:2182/kafka\nnum.partitions=4\n";
        let c = BrokerConfig::from_text(
            text,
            &[
                "num.partitions=6".into(),
                "auto.create.topics.enable=false".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.broker_id, 3);
        assert_eq!(c.num_partitions, 6);
        assert!(!c.auto_create_topics_enable);
        assert_eq!(c.log_dirs, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(c.listeners[0].host, "127.0.0.1");
        assert_eq!(c.listeners[0].port, 19092);
        assert_eq!(c.zookeeper_hosts(), "127.0.0.1:2181,127.0.0.1:2182");
        assert_eq!(c.zookeeper_chroot(), Some("/kafka"));
        assert!(c.is_explicit("num.partitions"));
    }

    #[test]
    fn bad_value_names_key_and_line() {
        let err = BrokerConfig::from_text("zookeeper.connect=x:1\nnum.partitions=lots\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("num.partitions"), "{err}");
        assert!(err.contains("config:2"), "{err}");
        let err = BrokerConfig::from_text(MINIMAL, &["message.max.bytes=-5".into()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("message.max.bytes") && err.contains("--override"),
            "{err}"
        );
        let err = BrokerConfig::from_text("zookeeper.connect=x:1\nlisteners=PLAINTEXT://h\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("listeners"), "{err}");
    }

    #[test]
    fn unknown_keys_are_collected_not_fatal() {
        let c = BrokerConfig::from_text("zookeeper.connect=x:1\nfoo.bar=1\nretention.ms=5\n", &[])
            .unwrap();
        // retention.ms is a topic key; accepted silently as Kafka ignores it.
        assert_eq!(c.unknown_keys, vec!["foo.bar".to_string()]);
    }

    #[test]
    fn missing_zookeeper_connect_is_an_error() {
        let err = BrokerConfig::from_text("broker.id=1\n", &[]).unwrap_err();
        assert!(err.to_string().contains("zookeeper.connect"));
    }

    #[test]
    fn bad_override_syntax() {
        let err = BrokerConfig::from_text(MINIMAL, &["novalue".into()]).unwrap_err();
        assert!(matches!(err, ConfigError::BadOverride(_)));
    }

    #[test]
    fn retention_precedence_ms_minutes_hours() {
        let c = BrokerConfig::from_text(MINIMAL, &["log.retention.hours=1".into()]).unwrap();
        let t = crate::topic_config::TopicConfig::resolve(&c, &BTreeMap::new()).unwrap();
        assert_eq!(t.retention_ms, 3_600_000);
        let c = BrokerConfig::from_text(
            MINIMAL,
            &[
                "log.retention.hours=1".into(),
                "log.retention.minutes=2".into(),
            ],
        )
        .unwrap();
        let t = crate::topic_config::TopicConfig::resolve(&c, &BTreeMap::new()).unwrap();
        assert_eq!(t.retention_ms, 120_000);
        let c = BrokerConfig::from_text(
            MINIMAL,
            &[
                "log.retention.minutes=2".into(),
                "log.retention.ms=5".into(),
            ],
        )
        .unwrap();
        let t = crate::topic_config::TopicConfig::resolve(&c, &BTreeMap::new()).unwrap();
        assert_eq!(t.retention_ms, 5);
    }

    #[test]
    fn chroot_split() {
        assert_eq!(split_chroot("a:1,b:2"), ("a:1,b:2", None));
        assert_eq!(split_chroot("a:1/"), ("a:1", None));
        assert_eq!(split_chroot("a:1/x/y"), ("a:1", Some("/x/y")));
    }

    #[test]
    fn transaction_keys_have_kafkas_defaults_and_are_checked() {
        let c = BrokerConfig::from_text(MINIMAL, &[]).unwrap();
        let t = &c.transactions;
        assert_eq!(t.max_timeout_ms, 900_000);
        assert_eq!(t.abort_timed_out_interval, Duration::from_millis(10_000));
        assert_eq!(t.id_expiration, Duration::from_millis(604_800_000));
        assert_eq!(t.slots, 50);
        let c =
            BrokerConfig::from_text(MINIMAL, &["transaction.max.timeout.ms=5000".into()]).unwrap();
        assert_eq!(c.transactions.max_timeout_ms, 5000);
        let err = BrokerConfig::from_text(
            MINIMAL,
            &["transaction.abort.timed.out.transaction.cleanup.interval.ms=0".into()],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("transaction.abort.timed.out.transaction.cleanup.interval.ms"),
            "{err}"
        );
    }
}
