//! `schema-registry.properties`: Confluent's key names, so an existing
//! file works as it is.
//!
//! The Kafka client the `_schemas` store connects with is configured, as in
//! Confluent's registry, by Kafka's client keys under the `kafkastore.`
//! prefix (`kafkastore.security.protocol`, `kafkastore.ssl.*`,
//! `kafkastore.sasl.*`). The prefix is stripped and the rest read by
//! [`client_properties`], the one reader of client security settings that
//! the `runnel` tools use too; its errors come back under the prefixed key
//! the user wrote.
//!
//! Its coord session (`kafkastore.connection.url`) is secured as
//! Confluent's registry secured its ZooKeeper session: a JAAS `Client`
//! section from `java.security.auth.login.config` (the JVM property
//! Confluent reads; here a key of this file, or `-D...` in
//! `SCHEMA_REGISTRY_OPTS`, else `KAFKA_OPTS`, when the key is unset) and
//! `zookeeper.set.acl`. Confluent had no TLS to ZooKeeper; Kafka's
//! `zookeeper.ssl.*` keys are taken for it, as a broker takes them. All of
//! it is read by `runnel_common::coord_client`, the broker's reader too.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use runnel_common::coord_client::{self, CoordClientSecurity};
use runnel_common::kafka::client_properties::{self, ClientPropertiesError};
use runnel_common::kafka::{ClientSecurity, SecurityProtocol};
use runnel_common::properties;

use crate::store::StoreConfig;
use crate::types::Compatibility;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Properties(#[from] properties::PropertiesError),
    #[error("{key}: {message} (got {value:?})")]
    Value {
        key: String,
        value: String,
        message: String,
    },
    #[error("{0} is required")]
    Missing(&'static str),
    #[error("--override {0:?}: expected KEY=VALUE")]
    Override(String),
    /// A `kafkastore.security.*`, `kafkastore.ssl.*` or `kafkastore.sasl.*`
    /// setting the store's Kafka client cannot use; `key` carries the
    /// `kafkastore.` prefix, as written in the file.
    #[error("{key}: {reason}")]
    StoreClient { key: String, reason: String },
}

#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// `listeners`: where the REST API is served (`http://host:port`).
    pub listener: SocketAddr,
    pub store: StoreConfig,
    /// `schema.compatibility.level` (`backward`).
    pub compatibility: Compatibility,
    /// `host.name`: how other instances reach this one (forwarding);
    /// by default the listener's address, 127.0.0.1 for a wildcard one.
    pub host_name: String,
    /// `leader.eligibility`: whether this instance may become leader.
    pub leader_eligibility: bool,
    /// `kafkastore.connection.url`: the coord ensemble (with chroot) the
    /// instances elect their leader through; none: this instance is
    /// always the leader.
    pub coord: Option<String>,
    /// `schema.registry.zk.namespace` (`schema_registry`): instances with
    /// the same namespace in the same coord share one leader.
    pub zk_namespace: String,
    /// `kafkastore.zk.session.timeout.ms`: the leader's coord session.
    pub coord_session_timeout: Duration,
    /// TLS and SASL login to coord (see the module documentation).
    pub coord_security: CoordClientSecurity,
    /// `zookeeper.set.acl` (`false`): the election's znodes get
    /// `sasl:<user>` (or `x509:<subject>`) ALL + world READ instead of
    /// world ALL.
    pub coord_set_acl: bool,
}

const KNOWN: &[&str] = &[
    "listeners",
    "kafkastore.bootstrap.servers",
    "kafkastore.topic",
    "kafkastore.topic.replication.factor",
    "kafkastore.timeout.ms",
    "kafkastore.init.timeout.ms",
    "schema.compatibility.level",
    "avro.compatibility.level",
    "host.name",
    "leader.eligibility",
    "master.eligibility",
    "kafkastore.connection.url",
    "schema.registry.zk.namespace",
    "kafkastore.zk.session.timeout.ms",
    "debug",
    "zookeeper.set.acl",
    "java.security.auth.login.config",
    "zookeeper.sasl.client",
    "zookeeper.sasl.clientconfig",
    "zookeeper.ssl.client.enable",
    "zookeeper.clientCnxnSocket",
    "zookeeper.ssl.keystore.location",
    "zookeeper.ssl.keystore.type",
    "zookeeper.ssl.truststore.location",
    "zookeeper.ssl.truststore.type",
    "zookeeper.ssl.enabled.protocols",
];

/// The JVM options variables Confluent's start script passes to the JVM,
/// searched in this order for `-Djava.security.auth.login.config`.
const JVM_OPTS_VARS: &[&str] = &["SCHEMA_REGISTRY_OPTS", "KAFKA_OPTS"];

/// Confluent's prefix for the settings of the store's Kafka client.
const STORE_CLIENT_PREFIX: &str = "kafkastore.";

/// A Kafka client key (prefix stripped) that belongs to its security
/// settings, the only client settings the store takes from the file.
fn is_client_security_key(key: &str) -> bool {
    key.starts_with("security.") || key.starts_with("ssl.") || key.starts_with("sasl.")
}

/// The store client's security settings from the `kafkastore.`-prefixed
/// security keys, read by the shared client properties reader. Keys it does
/// not know are warned about under their full name, as any unknown key is.
fn store_client_security(entries: &[(String, String)]) -> Result<ClientSecurity, ConfigError> {
    let pairs = entries.iter().filter_map(|(k, v)| {
        k.strip_prefix(STORE_CLIENT_PREFIX)
            .filter(|k| is_client_security_key(k))
            .map(|k| (k, v.as_str()))
    });
    let (security, unknown) =
        client_properties::from_pairs(pairs, "kafkastore").map_err(|e| match e {
            ClientPropertiesError::Key { key, reason, .. } => ConfigError::StoreClient {
                key: prefixed(&key),
                reason,
            },
            ClientPropertiesError::Read(e) => ConfigError::Properties(e),
        })?;
    for key in unknown {
        tracing::warn!(key = %prefixed(&key), "unknown configuration key, ignored");
    }
    Ok(security)
}

/// A client key as the file spells it: `kafkastore.` before each key of
/// an error that names two (`ssl.keystore.location and ssl.ca.location`).
fn prefixed(keys: &str) -> String {
    keys.split(" and ")
        .map(|k| format!("{STORE_CLIENT_PREFIX}{k}"))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// `kafkastore.bootstrap.servers` as the client takes it: `host:port`
/// entries. Confluent's form names each endpoint's protocol
/// (`SASL_SSL://host:port`); as Confluent does, only endpoints of the
/// store's `kafkastore.security.protocol` are used (a broker with a
/// PLAINTEXT and a SASL_SSL listener can be listed whole), and entries
/// without a protocol are taken as they are.
fn bootstrap_servers(value: &str, protocol: SecurityProtocol) -> Result<String, ConfigError> {
    const KEY: &str = "kafkastore.bootstrap.servers";
    let bad = |message: String| ConfigError::Value {
        key: KEY.to_string(),
        value: value.to_string(),
        message,
    };
    let mut servers = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((name, hostport)) = entry.split_once("://") else {
            servers.push(entry);
            continue;
        };
        let endpoint = SecurityProtocol::parse(name).ok_or_else(|| {
            bad(format!(
                "{name:?} in {entry:?} is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"
            ))
        })?;
        if endpoint == protocol {
            servers.push(hostport);
        } else {
            tracing::info!(
                endpoint = entry,
                "not a {} endpoint (kafkastore.security.protocol): not used",
                protocol.name()
            );
        }
    }
    if servers.is_empty() {
        return Err(bad(format!(
            "no endpoint for kafkastore.security.protocol={}",
            protocol.name()
        )));
    }
    Ok(servers.join(","))
}

impl RegistryConfig {
    pub fn load(path: Option<&Path>, overrides: &[String]) -> Result<RegistryConfig, ConfigError> {
        let mut entries: Vec<(String, String)> = match path {
            Some(p) => properties::read_file(p)?
                .into_iter()
                .map(|e| (e.key, e.value))
                .collect(),
            None => Vec::new(),
        };
        for o in overrides {
            let (k, v) = o
                .split_once('=')
                .ok_or_else(|| ConfigError::Override(o.clone()))?;
            entries.push((k.trim().to_string(), v.trim().to_string()));
        }
        Self::from_entries(&entries)
    }

    /// The configuration of `entries`, the login file falling back to
    /// `SCHEMA_REGISTRY_OPTS`, then `KAFKA_OPTS`.
    pub fn from_entries(entries: &[(String, String)]) -> Result<RegistryConfig, ConfigError> {
        Self::from_entries_and_jvm_opts(entries, &coord_client::jvm_opts_from_env(JVM_OPTS_VARS))
    }

    /// As [`RegistryConfig::from_entries`], with the JVM options given
    /// (`(variable, value)`) instead of read from the environment.
    pub fn from_entries_and_jvm_opts(
        entries: &[(String, String)],
        jvm_opts: &[(String, String)],
    ) -> Result<RegistryConfig, ConfigError> {
        let get = |key: &str| {
            entries
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        for (k, _) in entries {
            let client_key = k
                .strip_prefix(STORE_CLIENT_PREFIX)
                .is_some_and(is_client_security_key);
            // The client's keys are checked (and warned about) by its reader.
            if !KNOWN.contains(&k.as_str()) && !client_key {
                tracing::warn!(key = %k, "unknown configuration key, ignored");
            }
        }
        let bad = |key: &str, value: &str, message: &str| ConfigError::Value {
            key: key.to_string(),
            value: value.to_string(),
            message: message.to_string(),
        };
        let millis = |key: &str, default: u64| -> Result<Duration, ConfigError> {
            match get(key) {
                None => Ok(Duration::from_millis(default)),
                Some(v) => v
                    .parse::<u64>()
                    .map(Duration::from_millis)
                    .map_err(|_| bad(key, v, "expected milliseconds")),
            }
        };
        let boolean = |key: &str, default: bool| -> Result<bool, ConfigError> {
            match get(key) {
                None => Ok(default),
                Some(v) => v.parse().map_err(|_| bad(key, v, "expected true or false")),
            }
        };

        let listeners = get("listeners").unwrap_or("http://0.0.0.0:8081");
        let first = listeners.split(',').next().unwrap_or("").trim();
        let Some(hostport) = first.strip_prefix("http://") else {
            return Err(bad(
                "listeners",
                listeners,
                "expected http://host:port (https needs the security issue's TLS)",
            ));
        };
        let listener = resolve(hostport)
            .ok_or_else(|| bad("listeners", listeners, "cannot resolve host:port"))?;

        let security = store_client_security(entries)?;
        let bootstrap = get("kafkastore.bootstrap.servers")
            .ok_or(ConfigError::Missing("kafkastore.bootstrap.servers"))?;
        let bootstrap = bootstrap_servers(bootstrap, security.protocol())?;
        let rf = match get("kafkastore.topic.replication.factor") {
            None => 3,
            Some(v) => v.parse::<i16>().ok().filter(|&n| n >= 1).ok_or_else(|| {
                bad(
                    "kafkastore.topic.replication.factor",
                    v,
                    "expected a positive number",
                )
            })?,
        };
        let level_key = if get("schema.compatibility.level").is_some() {
            "schema.compatibility.level"
        } else {
            "avro.compatibility.level"
        };
        let compatibility = match get(level_key) {
            None => Compatibility::Backward,
            Some(v) => Compatibility::parse(v).map_err(|_| {
                bad(level_key, v, "expected none, backward, backward_transitive, forward, forward_transitive, full or full_transitive")
            })?,
        };
        let coord = get("kafkastore.connection.url").map(str::to_string);
        let coord_security =
            CoordClientSecurity::from_config(&|k| get(k).map(str::to_string), jvm_opts).map_err(
                |e| ConfigError::Value {
                    key: e.key.clone(),
                    value: get(&e.key).unwrap_or_default().to_string(),
                    message: e.reason,
                },
            )?;
        let coord_set_acl = boolean("zookeeper.set.acl", false)?;
        if coord_set_acl && coord.is_some() && !coord_security.has_identity() {
            return Err(bad(
                "zookeeper.set.acl",
                "true",
                coord_client::SET_ACL_NEEDS_IDENTITY,
            ));
        }
        let eligibility_key = if get("leader.eligibility").is_some() {
            "leader.eligibility"
        } else {
            "master.eligibility"
        };
        Ok(RegistryConfig {
            listener,
            store: StoreConfig {
                bootstrap,
                topic: get("kafkastore.topic").unwrap_or("_schemas").to_string(),
                replication_factor: rf,
                timeout: millis("kafkastore.timeout.ms", 500)?,
                init_timeout: millis("kafkastore.init.timeout.ms", 60_000)?,
                security,
            },
            compatibility,
            host_name: match get("host.name") {
                Some(h) if !h.is_empty() => h.to_string(),
                _ if listener.ip().is_unspecified() => "127.0.0.1".to_string(),
                _ => listener.ip().to_string(),
            },
            leader_eligibility: boolean(eligibility_key, true)?,
            coord,
            zk_namespace: get("schema.registry.zk.namespace")
                .unwrap_or("schema_registry")
                .to_string(),
            coord_session_timeout: millis("kafkastore.zk.session.timeout.ms", 30_000)?,
            coord_security,
            coord_set_acl,
        })
    }
}

fn resolve(hostport: &str) -> Option<SocketAddr> {
    use std::net::ToSocketAddrs;
    let hostport = hostport.trim_end_matches('/');
    hostport.to_socket_addrs().ok()?.next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<RegistryConfig, ConfigError> {
        let entries: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RegistryConfig::from_entries(&entries)
    }

    #[test]
    fn coord_login_and_secure_acls() {
        let dir = tempfile::tempdir().unwrap();
        let jaas = dir.path().join("jaas.conf");
        std::fs::write(
            &jaas,
            "Client { org.apache.zookeeper.server.auth.DigestLoginModule required \
             username=\"kafka\" password=\"s\"; };",
        )
        .unwrap();
        let jaas = jaas.display().to_string();
        let base = [
            ("kafkastore.bootstrap.servers", "127.0.0.1:9092"),
            ("kafkastore.connection.url", "127.0.0.1:2181/runnel"),
        ];
        let c = cfg(&base).unwrap();
        assert!(!c.coord_set_acl && c.coord_security == CoordClientSecurity::default());
        // Secure ACLs need an identity to name.
        let e = cfg(&[base[0], base[1], ("zookeeper.set.acl", "true")]).unwrap_err();
        assert!(e.to_string().starts_with("zookeeper.set.acl"), "{e}");
        let c = cfg(&[
            base[0],
            base[1],
            ("zookeeper.set.acl", "true"),
            ("java.security.auth.login.config", &jaas),
        ])
        .unwrap();
        assert!(c.coord_set_acl);
        assert_eq!(
            c.coord_security.sasl.map(|s| s.username),
            Some("kafka".into())
        );
        // The login file from SCHEMA_REGISTRY_OPTS, as Confluent's start script passes it.
        let entries: Vec<(String, String)> = base
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let opts = [(
            "SCHEMA_REGISTRY_OPTS".to_string(),
            format!("-Djava.security.auth.login.config={jaas}"),
        )];
        let c = RegistryConfig::from_entries_and_jvm_opts(&entries, &opts).unwrap();
        assert!(c.coord_security.sasl.is_some());
        // TLS keys are Kafka's, and checked alike.
        let e = cfg(&[base[0], base[1], ("zookeeper.ssl.client.enable", "true")]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("zookeeper.ssl.truststore.location"),
            "{e}"
        );
    }

    #[test]
    fn confluents_defaults() {
        let c = cfg(&[("kafkastore.bootstrap.servers", "PLAINTEXT://127.0.0.1:9092")]).unwrap();
        assert_eq!(c.listener.port(), 8081);
        assert_eq!(c.store.bootstrap, "127.0.0.1:9092");
        assert_eq!(c.store.topic, "_schemas");
        assert_eq!(c.store.replication_factor, 3);
        assert_eq!(c.store.timeout, Duration::from_millis(500));
        assert_eq!(c.compatibility, Compatibility::Backward);
    }

    #[test]
    fn bad_values_name_their_key() {
        let e = cfg(&[
            ("kafkastore.bootstrap.servers", "127.0.0.1:9092"),
            ("schema.compatibility.level", "sideways"),
        ])
        .unwrap_err();
        assert!(
            e.to_string().starts_with("schema.compatibility.level"),
            "{e}"
        );
        let e = cfg(&[]).unwrap_err();
        assert!(e.to_string().contains("kafkastore.bootstrap.servers"));
        let e = cfg(&[
            ("kafkastore.bootstrap.servers", "127.0.0.1:9092"),
            ("listeners", "https://0.0.0.0:8081"),
        ])
        .unwrap_err();
        assert!(e.to_string().starts_with("listeners"), "{e}");
    }

    const JAAS: &str = "org.apache.kafka.common.security.plain.PlainLoginModule required \
                        username=\"admin\" password=\"admin-secret\";";

    #[test]
    fn kafkastore_prefixed_keys_configure_the_store_client() {
        let c = cfg(&[
            (
                "kafkastore.bootstrap.servers",
                "PLAINTEXT://a:9092,SASL_PLAINTEXT://a:9093, b:9094",
            ),
            ("kafkastore.security.protocol", "SASL_PLAINTEXT"),
            ("kafkastore.sasl.mechanism", "PLAIN"),
            ("kafkastore.sasl.jaas.config", JAAS),
        ])
        .unwrap();
        assert_eq!(c.store.security.protocol(), SecurityProtocol::SaslPlaintext);
        let sasl = c.store.security.sasl.as_ref().expect("SASL credentials");
        assert_eq!(
            (sasl.username.as_str(), sasl.password.as_str()),
            ("admin", "admin-secret")
        );
        // Only the endpoints of the store's protocol, and bare ones.
        assert_eq!(c.store.bootstrap, "a:9093,b:9094");
        // No kafkastore.security.* keys: PLAINTEXT, as before.
        let c = cfg(&[("kafkastore.bootstrap.servers", "PLAINTEXT://a:9092")]).unwrap();
        assert_eq!(c.store.security.protocol(), SecurityProtocol::Plaintext);
        // Un-prefixed client keys are not the store's (Confluent ignores them too).
        let c = cfg(&[
            ("kafkastore.bootstrap.servers", "a:9092"),
            ("security.protocol", "SASL_SSL"),
        ])
        .unwrap();
        assert_eq!(c.store.security.protocol(), SecurityProtocol::Plaintext);
    }

    #[test]
    fn store_client_errors_name_the_prefixed_key() {
        let e = cfg(&[
            ("kafkastore.bootstrap.servers", "a:9092"),
            ("kafkastore.security.protocol", "TLS"),
        ])
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("kafkastore.security.protocol: \"TLS\" is not one of"),
            "{e}"
        );
        let e = cfg(&[
            ("kafkastore.bootstrap.servers", "SASL_SSL://a:9092"),
            ("kafkastore.security.protocol", "SASL_SSL"),
            ("kafkastore.ssl.truststore.location", "/no/such/ca.pem"),
            ("kafkastore.sasl.mechanism", "PLAIN"),
            ("kafkastore.sasl.jaas.config", JAAS),
        ])
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("kafkastore.ssl.truststore.location: cannot read /no/such/ca.pem"),
            "{e}"
        );
        let e = cfg(&[
            ("kafkastore.bootstrap.servers", "a:9092"),
            ("kafkastore.security.protocol", "SASL_PLAINTEXT"),
            ("kafkastore.sasl.mechanism", "PLAIN"),
        ])
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("kafkastore.sasl.jaas.config: not set"),
            "{e}"
        );
    }

    #[test]
    fn bootstrap_endpoints_must_match_the_protocol() {
        let e = cfg(&[
            ("kafkastore.bootstrap.servers", "PLAINTEXT://a:9092"),
            ("kafkastore.security.protocol", "SASL_PLAINTEXT"),
            ("kafkastore.sasl.mechanism", "PLAIN"),
            ("kafkastore.sasl.jaas.config", JAAS),
        ])
        .unwrap_err();
        assert!(
            e.to_string().starts_with(
                "kafkastore.bootstrap.servers: no endpoint for kafkastore.security.protocol=SASL_PLAINTEXT"
            ),
            "{e}"
        );
        let e = cfg(&[("kafkastore.bootstrap.servers", "HTTP://a:9092")]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("kafkastore.bootstrap.servers: \"HTTP\""),
            "{e}"
        );
    }
}
