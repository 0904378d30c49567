//! The `zoo.cfg` file: ZooKeeper's key names, defaults and rules, validated
//! once at start-up with messages that name the bad key.
//!
//! The TLS client port (`secureClientPort`, `ssl.*`) is read in [`tls`],
//! whose doc lists every key and what it means here; client authentication
//! (SASL, x509 ids, `enforce.auth.*`) in [`sasl`].

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use runnel_common::properties::{self, Entry, PropertiesError};

pub mod sasl;
pub mod tls;

pub use tls::{ClientAuth, SecureClientPort};

/// Four-letter words this server knows.
pub const FOUR_LETTER_WORDS: [&str; 7] = ["ruok", "srvr", "stat", "mntr", "conf", "cons", "envi"];

/// One member of an ensemble as `server.N=host:peerPort[:electionPort][;clientPort]` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub host: String,
    pub peer_port: u16,
    pub client_port: Option<u16>,
}

/// A validated coordination-server configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub tick_time_ms: u32,
    pub data_dir: PathBuf,
    /// ZooKeeper's `dataLogDir`: where the log is kept (a standalone
    /// server's `txnlog/` folder, an ensemble member's `raftlog/`), for a
    /// disk of its own. Unset: `dataDir`.
    pub data_log_dir: Option<PathBuf>,
    /// ZooKeeper's `clientPort` (plaintext). `None` when only
    /// `secureClientPort` is given: then every client speaks TLS.
    pub client_port: Option<u16>,
    pub client_port_address: IpAddr,
    /// ZooKeeper's `secureClientPort` with its `ssl.*` keys (see [`tls`]):
    /// the same service as `clientPort`, over TLS.
    pub secure_client: Option<SecureClientPort>,
    /// `sslQuorum=true` with its `ssl.quorum.*` keys (see [`tls`]): members
    /// talk to each other over mutual TLS.
    pub quorum_tls: Option<tls::QuorumTls>,
    /// Most concurrent connections from one IP address (0 = no limit).
    pub max_client_cnxns: u32,
    pub min_session_timeout_ms: u32,
    pub max_session_timeout_ms: u32,
    /// Enabled four-letter words.
    pub four_letter_words: Vec<String>,
    pub init_limit: u32,
    pub sync_limit: u32,
    /// ZooKeeper's `snapCount`: a standalone server snapshots its tree
    /// after about this many transactions (between half of it and all of
    /// it, chosen at random, as ZooKeeper does), and the log files before
    /// the snapshot go.
    pub snap_count: u64,
    /// Ensemble members by id (empty for a standalone server).
    pub servers: BTreeMap<u64, Peer>,
    /// This member's id (from `dataDir/myid`; 0 when standalone).
    pub my_id: u64,
    /// Where the config came from, for `conf`.
    pub source: Option<PathBuf>,
    /// The Prometheus endpoint, when `metricsProvider.className` asks for
    /// it (`None`: ZooKeeper's default `NullMetricsProvider`, no endpoint).
    pub metrics: Option<MetricsConfig>,
    /// Client authentication: SASL users, x509 ids, enforcement (see [`sasl`]).
    pub auth: sasl::AuthConfig,
}

/// ZooKeeper's default `snapCount`.
pub const DEFAULT_SNAP_COUNT: u64 = 100_000;

/// ZooKeeper's `metricsProvider.className` for its Prometheus provider: the
/// one class name that turns the `/metrics` endpoint on.
pub const PROMETHEUS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";

/// ZooKeeper's default provider, which exports nothing; naming it is the
/// same as leaving `metricsProvider.className` out.
pub const NULL_PROVIDER: &str = "org.apache.zookeeper.metrics.impl.NullMetricsProvider";

/// Where `GET /metrics` is served: ZooKeeper 3.8's
/// `metricsProvider.httpHost` (default 0.0.0.0) and
/// `metricsProvider.httpPort` (default 7000).
///
/// `metricsProvider.exportJvmInfo` is accepted (as `true` or `false`) and
/// ignored: it adds the JVM's own figures to ZooKeeper's output, and there
/// is no JVM here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    pub http_host: String,
    pub http_port: u16,
}

impl MetricsConfig {
    /// `host:port` to listen on (an IPv6 literal in brackets).
    pub fn listen_addr(&self) -> String {
        if self.http_host.contains(':') && !self.http_host.starts_with('[') {
            format!("[{}]:{}", self.http_host, self.http_port)
        } else {
            format!("{}:{}", self.http_host, self.http_port)
        }
    }
}

/// Why a configuration is refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Properties(#[from] PropertiesError),
    #[error("{origin}:{line}: unknown key {key:?}")]
    UnknownKey {
        origin: String,
        line: usize,
        key: String,
    },
    #[error("{origin}:{line}: bad value {value:?} for {key}: {reason}")]
    BadValue {
        origin: String,
        line: usize,
        key: String,
        value: String,
        reason: String,
    },
    #[error("{origin}: {key} is required")]
    Missing { origin: String, key: &'static str },
    #[error("{origin}: {reason}")]
    Invalid { origin: String, reason: String },
    #[error("cannot read {path}: {source}")]
    MyId {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Config {
    /// Reads and validates a `zoo.cfg`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let entries = properties::read_file(path)?;
        let mut config = Config::from_entries(&entries, &path.display().to_string())?;
        config.source = Some(path.to_path_buf());
        config
            .auth
            .load_users()
            .map_err(|reason| ConfigError::Invalid {
                origin: path.display().to_string(),
                reason,
            })?;
        if !config.servers.is_empty() {
            let myid_path = config.data_dir.join("myid");
            let text = std::fs::read_to_string(&myid_path).map_err(|source| ConfigError::MyId {
                path: myid_path.display().to_string(),
                source,
            })?;
            config.my_id = text.trim().parse().map_err(|_| ConfigError::Invalid {
                origin: myid_path.display().to_string(),
                reason: format!("myid must be a number, found {:?}", text.trim()),
            })?;
            if !config.servers.contains_key(&config.my_id) {
                return Err(ConfigError::Invalid {
                    origin: path.display().to_string(),
                    reason: format!("myid {} has no server.{} line", config.my_id, config.my_id),
                });
            }
        }
        Ok(config)
    }

    /// Where a standalone server's transaction log lives.
    pub fn txn_log_dir(&self) -> PathBuf {
        self.data_log_dir
            .as_ref()
            .unwrap_or(&self.data_dir)
            .join("txnlog")
    }

    /// Where an ensemble member keeps its last snapshot (in dataDir, as
    /// ZooKeeper's snapshots).
    pub fn snapshot_dir(&self) -> PathBuf {
        self.data_dir.join("snapshot")
    }

    /// Where an ensemble member's Raft log lives.
    pub fn raft_log_dir(&self) -> PathBuf {
        self.data_log_dir
            .as_ref()
            .unwrap_or(&self.data_dir)
            .join("raftlog")
    }

    /// Validates parsed entries; `origin` names the file in messages.
    pub fn from_entries(entries: &[Entry], origin: &str) -> Result<Config, ConfigError> {
        let mut tick_time_ms = 2000u32;
        let mut data_dir = None;
        let mut data_log_dir = None;
        let mut client_port = None;
        let mut client_port_address: IpAddr = [0, 0, 0, 0].into();
        let mut max_client_cnxns = 60u32;
        let mut min_session = None;
        let mut max_session = None;
        let mut four_letter_words = vec!["srvr".to_string()];
        let mut init_limit = 10u32;
        let mut snap_count = DEFAULT_SNAP_COUNT;
        let mut sync_limit = 5u32;
        let mut servers = BTreeMap::new();
        let mut metrics_provider = false;
        let mut metrics_host = "0.0.0.0".to_string();
        let mut metrics_port = 7000u16;
        let mut tls_keys = tls::TlsKeys::default();
        let mut auth_keys = sasl::AuthKeys::default();
        for e in entries {
            let bad = |reason: &str| ConfigError::BadValue {
                origin: origin.to_string(),
                line: e.line,
                key: e.key.clone(),
                value: e.value.clone(),
                reason: reason.to_string(),
            };
            let number = |min: u64, max: u64| -> Result<u64, ConfigError> {
                let n: u64 = e.value.parse().map_err(|_| bad("not a whole number"))?;
                if n < min || n > max {
                    return Err(bad(&format!("must be between {min} and {max}")));
                }
                Ok(n)
            };
            if tls_keys.accept(e).map_err(|r| bad(&r))? {
                continue;
            }
            if auth_keys.accept(e).map_err(|r| bad(&r))? {
                continue;
            }
            match e.key.as_str() {
                "tickTime" => tick_time_ms = number(1, 3_600_000)? as u32,
                "dataDir" => {
                    if e.value.is_empty() {
                        return Err(bad("must not be empty"));
                    }
                    data_dir = Some(PathBuf::from(&e.value))
                }
                "dataLogDir" => {
                    if e.value.is_empty() {
                        return Err(bad("must not be empty"));
                    }
                    data_log_dir = Some(PathBuf::from(&e.value))
                }
                "clientPort" => client_port = Some(number(0, 65535)? as u16),
                "clientPortAddress" => {
                    client_port_address = e.value.parse().map_err(|_| bad("not an IP address"))?
                }
                "maxClientCnxns" => max_client_cnxns = number(0, u32::MAX as u64)? as u32,
                "minSessionTimeout" => min_session = Some(number(0, u32::MAX as u64)? as u32),
                "maxSessionTimeout" => max_session = Some(number(0, u32::MAX as u64)? as u32),
                "initLimit" => init_limit = number(1, 1_000_000)? as u32,
                "snapCount" => snap_count = number(2, i64::MAX as u64)?,
                "syncLimit" => sync_limit = number(1, 1_000_000)? as u32,
                "4lw.commands.whitelist" => {
                    let words: Vec<String> = e
                        .value
                        .split(',')
                        .map(|w| w.trim().to_string())
                        .filter(|w| !w.is_empty())
                        .collect();
                    four_letter_words = if words.iter().any(|w| w == "*") {
                        FOUR_LETTER_WORDS.iter().map(|w| w.to_string()).collect()
                    } else {
                        if let Some(unknown) = words
                            .iter()
                            .find(|w| !FOUR_LETTER_WORDS.contains(&w.as_str()))
                        {
                            return Err(bad(&format!(
                                "unknown four-letter word {unknown:?} (known: {})",
                                FOUR_LETTER_WORDS.join(", ")
                            )));
                        }
                        words
                    };
                }
                "metricsProvider.className" => {
                    metrics_provider = match e.value.as_str() {
                        PROMETHEUS_PROVIDER => true,
                        "" | NULL_PROVIDER => false,
                        _ => {
                            return Err(bad(&format!(
                                "the only metrics provider is {PROMETHEUS_PROVIDER}"
                            )))
                        }
                    }
                }
                "metricsProvider.httpHost" => {
                    if e.value.is_empty() || e.value.contains(char::is_whitespace) {
                        return Err(bad("not a host name or address"));
                    }
                    metrics_host = e.value.clone();
                }
                "metricsProvider.httpPort" => metrics_port = number(0, 65535)? as u16,
                "metricsProvider.exportJvmInfo" => {
                    if !e.value.eq_ignore_ascii_case("true")
                        && !e.value.eq_ignore_ascii_case("false")
                    {
                        return Err(bad("must be true or false"));
                    }
                }
                key if key.starts_with("server.") => {
                    let id: u64 = key["server.".len()..]
                        .parse()
                        .ok()
                        .filter(|id| (1..=254).contains(id))
                        .ok_or_else(|| bad("server id must be a number from 1 to 254"))?;
                    servers.insert(id, parse_peer(&e.value).map_err(|r| bad(&r))?);
                }
                _ => {
                    return Err(ConfigError::UnknownKey {
                        origin: origin.to_string(),
                        line: e.line,
                        key: e.key.clone(),
                    })
                }
            }
        }
        let data_dir = data_dir.ok_or(ConfigError::Missing {
            origin: origin.to_string(),
            key: "dataDir",
        })?;
        let secure_client = tls_keys.finish().map_err(|reason| ConfigError::Invalid {
            origin: origin.to_string(),
            reason,
        })?;
        let auth = auth_keys
            .finish(secure_client.is_some())
            .map_err(|reason| ConfigError::Invalid {
                origin: origin.to_string(),
                reason,
            })?;
        if client_port.is_none() && secure_client.is_none() {
            return Err(ConfigError::Missing {
                origin: origin.to_string(),
                key: "clientPort (or secureClientPort)",
            });
        }
        let min_session_timeout_ms = min_session.unwrap_or(tick_time_ms * 2);
        let max_session_timeout_ms = max_session.unwrap_or(tick_time_ms * 20);
        if min_session_timeout_ms > max_session_timeout_ms {
            return Err(ConfigError::Invalid {
                origin: origin.to_string(),
                reason: format!(
                    "minSessionTimeout ({min_session_timeout_ms}) must not be larger than maxSessionTimeout ({max_session_timeout_ms})"
                ),
            });
        }
        Ok(Config {
            tick_time_ms,
            data_dir,
            data_log_dir,
            client_port,
            client_port_address,
            secure_client,
            quorum_tls: tls_keys.quorum().map_err(|reason| ConfigError::Invalid {
                origin: origin.to_string(),
                reason,
            })?,
            max_client_cnxns,
            min_session_timeout_ms,
            max_session_timeout_ms,
            four_letter_words,
            init_limit,
            snap_count,
            sync_limit,
            servers,
            my_id: 0,
            source: None,
            metrics: metrics_provider.then_some(MetricsConfig {
                http_host: metrics_host,
                http_port: metrics_port,
            }),
            auth,
        })
    }

    /// The timeout a session gets: the client's wish, clamped to the limits.
    pub fn negotiate_timeout(&self, requested_ms: i32) -> i32 {
        let requested = requested_ms.max(0) as u32;
        requested.clamp(self.min_session_timeout_ms, self.max_session_timeout_ms) as i32
    }
}

/// `host:peerPort[:electionPort][:role][;[clientAddress:]clientPort]`.
fn parse_peer(value: &str) -> Result<Peer, String> {
    let (server, client) = match value.split_once(';') {
        Some((s, c)) => (s, Some(c)),
        None => (value, None),
    };
    let mut parts = server.split(':');
    let host = parts
        .next()
        .filter(|h| !h.is_empty())
        .ok_or("missing host")?;
    let peer_port = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or("expected host:peerPort")?;
    let client_port = match client {
        None => None,
        Some(c) => Some(
            c.rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .ok_or("bad client port after ';'")?,
        ),
    };
    Ok(Peer {
        host: host.to_string(),
        peer_port,
        client_port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_entries(&properties::parse(text, "zoo.cfg").unwrap(), "zoo.cfg")
    }

    #[test]
    fn defaults_follow_zookeeper() {
        let c = parse("dataDir=/tmp/d\nclientPort=2181\n").unwrap();
        assert_eq!(c.tick_time_ms, 2000);
        assert_eq!(c.min_session_timeout_ms, 4000);
        assert_eq!(c.max_session_timeout_ms, 40000);
        assert_eq!(c.max_client_cnxns, 60);
        assert_eq!(c.four_letter_words, vec!["srvr"]);
        assert_eq!(c.negotiate_timeout(100), 4000);
        assert_eq!(c.negotiate_timeout(100_000), 40000);
        assert_eq!(c.negotiate_timeout(10_000), 10000);
    }

    #[test]
    fn errors_name_the_key() {
        let err = parse("dataDir=/d\nclientPort=1\ntickTime=abc\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("tickTime") && err.contains("zoo.cfg:3"),
            "{err}"
        );
        let err = parse("dataDir=/d\nclientPort=1\nbogus=1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown key \"bogus\""), "{err}");
        let err = parse("clientPort=1\n").unwrap_err().to_string();
        assert!(err.contains("dataDir"), "{err}");
        let err = parse("dataDir=/d\nclientPort=1\n4lw.commands.whitelist=ruok,nope\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("4lw.commands.whitelist"), "{err}");
    }

    #[test]
    fn metrics_provider_keys_as_zookeeper_reads_them() {
        let off = parse("dataDir=/d\nclientPort=1\nmetricsProvider.httpPort=7001\n").unwrap();
        assert_eq!(
            off.metrics, None,
            "no className: ZooKeeper's NullMetricsProvider"
        );
        let null = parse(&format!(
            "dataDir=/d\nclientPort=1\nmetricsProvider.className={NULL_PROVIDER}\n"
        ))
        .unwrap();
        assert_eq!(null.metrics, None);

        let on = parse(&format!(
            "dataDir=/d\nclientPort=1\nmetricsProvider.className={PROMETHEUS_PROVIDER}\n"
        ))
        .unwrap();
        let m = on.metrics.expect("prometheus provider");
        assert_eq!((m.http_host.as_str(), m.http_port), ("0.0.0.0", 7000));
        assert_eq!(m.listen_addr(), "0.0.0.0:7000");

        let set = parse(&format!(
            "dataDir=/d\nclientPort=1\nmetricsProvider.className={PROMETHEUS_PROVIDER}\n\
             metricsProvider.httpHost=::1\nmetricsProvider.httpPort=9141\n\
             metricsProvider.exportJvmInfo=false\n"
        ))
        .unwrap();
        let m = set.metrics.expect("prometheus provider");
        assert_eq!((m.http_host.as_str(), m.http_port), ("::1", 9141));
        assert_eq!(m.listen_addr(), "[::1]:9141");
    }

    #[test]
    fn bad_metrics_provider_values_name_the_key() {
        for (line, key) in [
            (
                "metricsProvider.className=com.example.Nope",
                "metricsProvider.className",
            ),
            ("metricsProvider.httpPort=70000", "metricsProvider.httpPort"),
            ("metricsProvider.httpPort=seven", "metricsProvider.httpPort"),
            ("metricsProvider.httpHost=", "metricsProvider.httpHost"),
            (
                "metricsProvider.exportJvmInfo=maybe",
                "metricsProvider.exportJvmInfo",
            ),
        ] {
            let err = parse(&format!("dataDir=/d\nclientPort=1\n{line}\n"))
                .expect_err(line)
                .to_string();
            assert!(
                err.contains(key) && err.contains("zoo.cfg:3"),
                "{line}: {err}"
            );
        }
    }

    #[test]
    fn secure_client_port_with_or_without_client_port() {
        let tls = "secureClientPort=2281\nssl.keyStore.location=/k.pem\n\
                   ssl.trustStore.location=/ca.pem\n";
        let only = parse(&format!("dataDir=/d\n{tls}")).unwrap();
        assert_eq!(only.client_port, None);
        let secure = only.secure_client.expect("secure port");
        assert_eq!((secure.port, secure.client_auth), (2281, ClientAuth::Need));
        let both = parse(&format!("dataDir=/d\nclientPort=2181\n{tls}")).unwrap();
        assert_eq!(both.client_port, Some(2181));
        let err = parse("dataDir=/d\n").unwrap_err().to_string();
        assert!(err.contains("clientPort"), "{err}");
        let err = parse("dataDir=/d\nclientPort=1\nsslQuorum=true\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("ssl.quorum.keyStore.location"), "{err}");
        let err = parse("dataDir=/d\nclientPort=1\nssl.clientAuth=sometimes\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ssl.clientAuth") && err.contains("zoo.cfg:3"),
            "{err}"
        );
    }

    #[test]
    fn server_lines_in_both_forms() {
        let c =
            parse("dataDir=/d\nclientPort=1\nserver.1=127.0.0.1:2888\nserver.2=h:2889:3889;2182\n")
                .unwrap();
        assert_eq!(
            c.servers[&1],
            Peer {
                host: "127.0.0.1".into(),
                peer_port: 2888,
                client_port: None
            }
        );
        assert_eq!(
            c.servers[&2],
            Peer {
                host: "h".into(),
                peer_port: 2889,
                client_port: Some(2182)
            }
        );
    }
}
