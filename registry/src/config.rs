//! `schema-registry.properties`: Confluent's key names, so an existing
//! file works as it is.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

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
];

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

    pub fn from_entries(entries: &[(String, String)]) -> Result<RegistryConfig, ConfigError> {
        let get = |key: &str| {
            entries
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        for (k, _) in entries {
            if !KNOWN.contains(&k.as_str()) {
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

        let bootstrap = get("kafkastore.bootstrap.servers")
            .ok_or(ConfigError::Missing("kafkastore.bootstrap.servers"))?;
        // Confluent's form carries the listener protocol: PLAINTEXT://host:port.
        let bootstrap = bootstrap
            .split(',')
            .map(|s| {
                let s = s.trim();
                s.split_once("://").map_or(s, |(_, rest)| rest)
            })
            .collect::<Vec<_>>()
            .join(",");
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
            },
            compatibility,
            host_name: match get("host.name") {
                Some(h) if !h.is_empty() => h.to_string(),
                _ if listener.ip().is_unspecified() => "127.0.0.1".to_string(),
                _ => listener.ip().to_string(),
            },
            leader_eligibility: boolean(eligibility_key, true)?,
            coord: get("kafkastore.connection.url").map(str::to_string),
            zk_namespace: get("schema.registry.zk.namespace")
                .unwrap_or("schema_registry")
                .to_string(),
            coord_session_timeout: millis("kafkastore.zk.session.timeout.ms", 30_000)?,
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
}
