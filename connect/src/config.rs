//! The worker's properties: Kafka's `connect-standalone.properties` and
//! `connect-distributed.properties` keys, so an existing file works as it
//! is.
//!
//! Unknown keys are warned about; a bad value is an error that names its
//! key. Client security keys (`security.protocol`, `ssl.*`, `sasl.*`) are
//! read by the shared [`client_properties`] reader, as the `runnel` tools
//! and the Schema Registry read them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use runnel_common::kafka::client_properties::{self, ClientPropertiesError};
use runnel_common::kafka::ClientSecurity;
use runnel_common::properties::{self, PropertiesError};

use crate::convert::Converter;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Properties(#[from] PropertiesError),
    #[error("{key}: {message} (got {value:?})")]
    Value {
        key: String,
        value: String,
        message: String,
    },
    #[error("Missing required configuration \"{0}\" which has no default value.")]
    Missing(&'static str),
    #[error("{key}: {reason}")]
    Client { key: String, reason: String },
}

/// Which worker the file configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Standalone,
    Distributed,
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// `bootstrap.servers` (`localhost:9092`).
    pub bootstrap: String,
    /// TLS and SASL from `security.protocol`, `ssl.*`, `sasl.*`.
    pub security: ClientSecurity,
    /// `key.converter` with its `key.converter.*` settings.
    pub key_converter: Converter,
    /// `value.converter` with its `value.converter.*` settings.
    pub value_converter: Converter,
    /// `offset.storage.file.filename` (standalone).
    pub offsets_file: Option<PathBuf>,
    /// `offset.flush.interval.ms` (60 s): how often source offsets are
    /// written and sink offsets committed.
    pub offset_flush_interval: Duration,
    /// `listeners` (`http://:8083`): the REST API's address.
    pub listener: SocketAddr,
    /// `host:port` this worker calls itself in statuses (`worker_id`).
    pub worker_id: String,
    /// `client.id` prefix of the worker's Kafka connections.
    pub client_id: String,
}

/// Keys this worker reads.
const KNOWN: &[&str] = &[
    "bootstrap.servers",
    "key.converter",
    "value.converter",
    "offset.storage.file.filename",
    "offset.flush.interval.ms",
    "listeners",
    "client.id",
];

/// Keys accepted without effect, with why.
const IGNORED: &[(&str, &str)] = &[
    (
        "plugin.path",
        "plugins are built in; there is nothing to load",
    ),
    (
        "header.converter",
        "headers are passed through as bytes (SimpleHeaderConverter's strings)",
    ),
    (
        "offset.flush.timeout.ms",
        "offsets are written synchronously",
    ),
    (
        "task.shutdown.graceful.timeout.ms",
        "tasks stop at the next poll",
    ),
];

/// Keys of distributed mode (the next phase): accepted, unused.
const DISTRIBUTED: &[&str] = &[
    "group.id",
    "config.storage.topic",
    "config.storage.replication.factor",
    "offset.storage.topic",
    "offset.storage.replication.factor",
    "offset.storage.partitions",
    "status.storage.topic",
    "status.storage.replication.factor",
    "status.storage.partitions",
];

/// Settings a converter takes under its key's prefix.
const CONVERTER_KEYS: &[&str] = &["schemas.enable", "schemas.cache.size", "encoding"];

fn is_client_security_key(key: &str) -> bool {
    key.starts_with("security.") || key.starts_with("ssl.") || key.starts_with("sasl.")
}

/// The properties of a file (or any `key=value` list) by key, the last
/// value of a repeated key winning as in Java's `Properties`.
pub fn read_properties(path: &Path) -> Result<BTreeMap<String, String>, PropertiesError> {
    Ok(properties::read_file(path)?
        .into_iter()
        .map(|e| (e.key, e.value))
        .collect())
}

impl WorkerConfig {
    pub fn load(path: &Path, mode: Mode) -> Result<WorkerConfig, ConfigError> {
        let entries = read_properties(path)?;
        Self::from_map(&entries, mode)
    }

    pub fn from_map(
        props: &BTreeMap<String, String>,
        mode: Mode,
    ) -> Result<WorkerConfig, ConfigError> {
        for key in props.keys() {
            let converter_key = ["key.converter.", "value.converter."].iter().any(|p| {
                key.strip_prefix(p)
                    .is_some_and(|k| CONVERTER_KEYS.contains(&k))
            });
            if KNOWN.contains(&key.as_str()) || converter_key || is_client_security_key(key) {
                continue;
            }
            if let Some((_, why)) = IGNORED.iter().find(|(k, _)| k == key) {
                tracing::warn!(key = %key, "configuration key ignored: {why}");
            } else if DISTRIBUTED.contains(&key.as_str()) {
                if mode == Mode::Standalone {
                    tracing::warn!(key = %key, "configuration key of distributed mode, ignored by a standalone worker");
                }
            } else {
                tracing::warn!(key = %key, "unknown configuration key, ignored");
            }
        }
        let get = |key: &str| props.get(key).map(String::as_str);
        let bad = |key: &str, value: &str, message: &str| ConfigError::Value {
            key: key.to_string(),
            value: value.to_string(),
            message: message.to_string(),
        };

        let security = client_security(props)?;
        let bootstrap = get("bootstrap.servers").unwrap_or("localhost:9092");
        if bootstrap.split(',').all(|s| s.trim().is_empty()) {
            return Err(bad(
                "bootstrap.servers",
                bootstrap,
                "expected host:port[,host:port...]",
            ));
        }
        let key_converter = converter(props, "key.converter")?;
        let value_converter = converter(props, "value.converter")?;
        let offsets_file = get("offset.storage.file.filename")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        if mode == Mode::Standalone && offsets_file.is_none() {
            return Err(ConfigError::Missing("offset.storage.file.filename"));
        }
        let offset_flush_interval = match get("offset.flush.interval.ms") {
            None => Duration::from_secs(60),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|&ms| ms > 0)
                .map(Duration::from_millis)
                .ok_or_else(|| {
                    bad(
                        "offset.flush.interval.ms",
                        v,
                        "expected a positive number of milliseconds",
                    )
                })?,
        };
        let listeners = get("listeners").unwrap_or("http://:8083");
        let (listener, host) = listener(listeners)
            .ok_or_else(|| bad("listeners", listeners, "expected http://[host]:port"))?;
        Ok(WorkerConfig {
            bootstrap: bootstrap.to_string(),
            security,
            key_converter,
            value_converter,
            offsets_file,
            offset_flush_interval,
            listener,
            worker_id: format!("{host}:{}", listener.port()),
            client_id: get("client.id").unwrap_or("connect").to_string(),
        })
    }
}

/// The client's security settings from the security keys, errors naming
/// the key.
fn client_security(props: &BTreeMap<String, String>) -> Result<ClientSecurity, ConfigError> {
    let pairs = props
        .iter()
        .filter(|(k, _)| is_client_security_key(k))
        .map(|(k, v)| (k.as_str(), v.as_str()));
    let (security, unknown) =
        client_properties::from_pairs(pairs, "worker").map_err(|e| match e {
            ClientPropertiesError::Key { key, reason, .. } => ConfigError::Client { key, reason },
            ClientPropertiesError::Read(e) => ConfigError::Properties(e),
        })?;
    for key in unknown {
        tracing::warn!(key = %key, "unknown configuration key, ignored");
    }
    Ok(security)
}

/// A converter from `<prefix>` (its class) and `<prefix>.*` (its
/// settings), as the worker and connector configs both give them.
pub fn converter(props: &BTreeMap<String, String>, prefix: &str) -> Result<Converter, ConfigError> {
    let class = props.get(prefix).ok_or(ConfigError::Missing(match prefix {
        "key.converter" => "key.converter",
        _ => "value.converter",
    }))?;
    let dotted = format!("{prefix}.");
    let settings: BTreeMap<&str, &str> = props
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(&dotted).map(|k| (k, v.as_str())))
        .collect();
    Converter::configure(class, &settings).map_err(|(key, message)| ConfigError::Value {
        key: if key.is_empty() {
            prefix.to_string()
        } else {
            format!("{dotted}{key}")
        },
        value: if key.is_empty() {
            class.clone()
        } else {
            settings.get(key.as_str()).unwrap_or(&"").to_string()
        },
        message,
    })
}

/// `listeners`: the first `http://host:port`; an empty host is every
/// interface, as in Kafka. Also the host to call this worker by.
fn listener(value: &str) -> Option<(SocketAddr, String)> {
    use std::net::ToSocketAddrs;
    let first = value.split(',').next()?.trim();
    let hostport = first.strip_prefix("http://")?.trim_end_matches('/');
    let (host, port) = hostport.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let bind_host = if host.is_empty() { "0.0.0.0" } else { host };
    let addr = (bind_host, port).to_socket_addrs().ok()?.next()?;
    let name = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        host.to_string()
    };
    Some((addr, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)], mode: Mode) -> Result<WorkerConfig, ConfigError> {
        let props = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        WorkerConfig::from_map(&props, mode)
    }

    const BASE: &[(&str, &str)] = &[
        ("bootstrap.servers", "127.0.0.1:9092"),
        (
            "key.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        ),
        (
            "value.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        ),
        ("value.converter.schemas.enable", "false"),
        ("offset.storage.file.filename", "/tmp/connect.offsets"),
    ];

    #[test]
    fn kafkas_defaults() {
        let c = cfg(BASE, Mode::Standalone).unwrap();
        assert_eq!(c.listener.port(), 8083);
        assert!(c.listener.ip().is_unspecified());
        assert_eq!(c.worker_id, "127.0.0.1:8083");
        assert_eq!(c.offset_flush_interval, Duration::from_secs(60));
        assert_eq!(c.key_converter, Converter::String);
        assert_eq!(
            c.value_converter,
            Converter::Json {
                schemas_enable: false
            }
        );
        assert_eq!(
            c.offsets_file.as_deref(),
            Some(Path::new("/tmp/connect.offsets"))
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let with = |k: &'static str, v: &'static str| {
            let mut pairs = BASE.to_vec();
            pairs.push((k, v));
            cfg(&pairs, Mode::Standalone).unwrap_err().to_string()
        };
        assert!(with("offset.flush.interval.ms", "soon").starts_with("offset.flush.interval.ms:"));
        assert!(with("listeners", "https://:8443").starts_with("listeners:"));
        assert!(with("key.converter", "com.example.Nope").starts_with("key.converter:"));
        assert!(with("value.converter.schemas.enable", "maybe")
            .starts_with("value.converter.schemas.enable:"));
        assert!(with("security.protocol", "TLS").starts_with("security.protocol:"));
        let e = cfg(&BASE[..4], Mode::Standalone).unwrap_err();
        assert!(
            e.to_string().contains("offset.storage.file.filename"),
            "{e}"
        );
        assert!(cfg(&BASE[..4], Mode::Distributed).is_ok());
        let e = cfg(&BASE[..1], Mode::Standalone).unwrap_err();
        assert!(e.to_string().contains("\"key.converter\""), "{e}");
    }

    #[test]
    fn listener_forms() {
        let l = listener("http://127.0.0.1:18083").unwrap();
        assert_eq!((l.0.port(), l.1.as_str()), (18083, "127.0.0.1"));
        assert!(listener("http://localhost").is_none());
        assert!(listener("127.0.0.1:8083").is_none());
    }
}
