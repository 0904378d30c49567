//! Topic-level configuration (`retention.ms`, `segment.bytes`, …): Kafka's
//! names, defaults, validation, and the broker-wide synonyms that supply a
//! topic's value when the topic does not override it.
//!
//! Resolution order for a topic key, as Kafka's: the topic's override in
//! `/config/topics/<topic>`, else the first broker synonym set explicitly in
//! `server.properties` (`log.retention.ms`, then `.minutes`, then `.hours`),
//! else Kafka's default.

use std::collections::BTreeMap;

use crate::config::{BrokerConfig, ValueType};

/// A topic key: type, Kafka's default, and broker synonyms in precedence
/// order with the factor that turns each into the topic's unit.
#[derive(Debug, Clone, Copy)]
pub struct TopicKeyDef {
    pub name: &'static str,
    pub kind: ValueType,
    pub default: &'static str,
    pub synonyms: &'static [(&'static str, i64)],
}

const HOUR_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;

/// The topic keys, as Kafka's `TopicConfig` / `LogConfig` define them.
pub const TOPIC_KEYS: &[TopicKeyDef] = &[
    TopicKeyDef {
        name: "cleanup.policy",
        kind: ValueType::List,
        default: "delete",
        synonyms: &[("log.cleanup.policy", 1)],
    },
    TopicKeyDef {
        name: "compression.type",
        kind: ValueType::String,
        default: "producer",
        synonyms: &[("compression.type", 1)],
    },
    TopicKeyDef {
        name: "delete.retention.ms",
        kind: ValueType::Long,
        default: "86400000",
        synonyms: &[("log.cleaner.delete.retention.ms", 1)],
    },
    TopicKeyDef {
        name: "file.delete.delay.ms",
        kind: ValueType::Long,
        default: "60000",
        synonyms: &[("log.segment.delete.delay.ms", 1)],
    },
    TopicKeyDef {
        name: "flush.messages",
        kind: ValueType::Long,
        default: "9223372036854775807",
        synonyms: &[("log.flush.interval.messages", 1)],
    },
    TopicKeyDef {
        name: "flush.ms",
        kind: ValueType::Long,
        default: "9223372036854775807",
        synonyms: &[("log.flush.interval.ms", 1)],
    },
    TopicKeyDef {
        name: "index.interval.bytes",
        kind: ValueType::Int,
        default: "4096",
        synonyms: &[("log.index.interval.bytes", 1)],
    },
    TopicKeyDef {
        name: "max.compaction.lag.ms",
        kind: ValueType::Long,
        default: "9223372036854775807",
        synonyms: &[("log.cleaner.max.compaction.lag.ms", 1)],
    },
    TopicKeyDef {
        name: "max.message.bytes",
        kind: ValueType::Int,
        default: "1048588",
        synonyms: &[("message.max.bytes", 1)],
    },
    TopicKeyDef {
        name: "message.downconversion.enable",
        kind: ValueType::Bool,
        default: "true",
        synonyms: &[("log.message.downconversion.enable", 1)],
    },
    TopicKeyDef {
        name: "message.timestamp.after.max.ms",
        kind: ValueType::Long,
        default: "9223372036854775807",
        synonyms: &[("log.message.timestamp.after.max.ms", 1)],
    },
    TopicKeyDef {
        name: "message.timestamp.before.max.ms",
        kind: ValueType::Long,
        default: "9223372036854775807",
        synonyms: &[("log.message.timestamp.before.max.ms", 1)],
    },
    TopicKeyDef {
        name: "message.timestamp.difference.max.ms",
        kind: ValueType::Long,
        default: "9223372036854775807",
        synonyms: &[("log.message.timestamp.difference.max.ms", 1)],
    },
    TopicKeyDef {
        name: "message.timestamp.type",
        kind: ValueType::String,
        default: "CreateTime",
        synonyms: &[("log.message.timestamp.type", 1)],
    },
    TopicKeyDef {
        name: "min.cleanable.dirty.ratio",
        kind: ValueType::Double,
        default: "0.5",
        synonyms: &[("log.cleaner.min.cleanable.ratio", 1)],
    },
    TopicKeyDef {
        name: "min.compaction.lag.ms",
        kind: ValueType::Long,
        default: "0",
        synonyms: &[("log.cleaner.min.compaction.lag.ms", 1)],
    },
    TopicKeyDef {
        name: "min.insync.replicas",
        kind: ValueType::Int,
        default: "1",
        synonyms: &[("min.insync.replicas", 1)],
    },
    TopicKeyDef {
        name: "preallocate",
        kind: ValueType::Bool,
        default: "false",
        synonyms: &[("log.preallocate", 1)],
    },
    TopicKeyDef {
        name: "retention.bytes",
        kind: ValueType::Long,
        default: "-1",
        synonyms: &[("log.retention.bytes", 1)],
    },
    TopicKeyDef {
        name: "retention.ms",
        kind: ValueType::Long,
        default: "604800000",
        synonyms: &[
            ("log.retention.ms", 1),
            ("log.retention.minutes", MINUTE_MS),
            ("log.retention.hours", HOUR_MS),
        ],
    },
    TopicKeyDef {
        name: "segment.bytes",
        kind: ValueType::Int,
        default: "1073741824",
        synonyms: &[("log.segment.bytes", 1)],
    },
    TopicKeyDef {
        name: "segment.index.bytes",
        kind: ValueType::Int,
        default: "10485760",
        synonyms: &[("log.index.size.max.bytes", 1)],
    },
    TopicKeyDef {
        name: "segment.jitter.ms",
        kind: ValueType::Long,
        default: "0",
        synonyms: &[
            ("log.roll.jitter.ms", 1),
            ("log.roll.jitter.hours", HOUR_MS),
        ],
    },
    TopicKeyDef {
        name: "segment.ms",
        kind: ValueType::Long,
        default: "604800000",
        synonyms: &[("log.roll.ms", 1), ("log.roll.hours", HOUR_MS)],
    },
    TopicKeyDef {
        name: "unclean.leader.election.enable",
        kind: ValueType::Bool,
        default: "false",
        synonyms: &[("unclean.leader.election.enable", 1)],
    },
];

/// The definition of topic key `name`, if known.
pub fn topic_key(name: &str) -> Option<&'static TopicKeyDef> {
    TOPIC_KEYS.iter().find(|k| k.name == name)
}

/// A rejected topic setting (Kafka's INVALID_CONFIG).
#[derive(Debug, Clone, thiserror::Error)]
#[error("Invalid value {value} for configuration {key}: {reason}")]
pub struct TopicConfigError {
    pub key: String,
    pub value: String,
    pub reason: String,
}

/// Where an effective value came from (DescribeConfigs `config_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `/config/topics/<topic>` (DYNAMIC_TOPIC_CONFIG = 1).
    Topic,
    /// `server.properties` (STATIC_BROKER_CONFIG = 4).
    StaticBroker,
    /// Kafka's default (DEFAULT_CONFIG = 5).
    Default,
}

impl Source {
    pub fn code(self) -> i8 {
        match self {
            Source::Topic => 1,
            Source::StaticBroker => 4,
            Source::Default => 5,
        }
    }
}

/// One effective topic value with where it came from.
#[derive(Debug, Clone)]
pub struct Effective {
    pub name: &'static str,
    pub value: String,
    pub source: Source,
    pub kind: ValueType,
    /// The broker synonym that supplied the value, if any.
    pub synonym: Option<&'static str>,
}

/// The typed topic settings the log and request handlers act on.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicConfig {
    pub cleanup_policy: String,
    pub compression_type: String,
    pub file_delete_delay_ms: i64,
    pub flush_messages: i64,
    pub flush_ms: i64,
    pub index_interval_bytes: i32,
    pub max_message_bytes: i32,
    /// `true` for `LogAppendTime`.
    pub log_append_time: bool,
    pub min_insync_replicas: i32,
    pub preallocate: bool,
    pub retention_bytes: i64,
    pub retention_ms: i64,
    pub segment_bytes: i32,
    pub segment_index_bytes: i32,
    pub segment_jitter_ms: i64,
    pub segment_ms: i64,
    pub unclean_leader_election_enable: bool,
}

impl TopicConfig {
    /// Effective values for a topic with `overrides` on this broker.
    pub fn resolve(
        broker: &BrokerConfig,
        overrides: &BTreeMap<String, String>,
    ) -> Result<TopicConfig, TopicConfigError> {
        let mut values = BTreeMap::new();
        for e in effective(broker, overrides) {
            validate(e.name, &e.value)?;
            values.insert(e.name, e.value);
        }
        let s = |k: &str| values.get(k).cloned().unwrap_or_default();
        let i = |k: &str| s(k).parse::<i32>().unwrap_or_default();
        let l = |k: &str| s(k).parse::<i64>().unwrap_or_default();
        let b = |k: &str| s(k).eq_ignore_ascii_case("true");
        Ok(TopicConfig {
            cleanup_policy: s("cleanup.policy"),
            compression_type: s("compression.type"),
            file_delete_delay_ms: l("file.delete.delay.ms"),
            flush_messages: l("flush.messages"),
            flush_ms: l("flush.ms"),
            index_interval_bytes: i("index.interval.bytes"),
            max_message_bytes: i("max.message.bytes"),
            log_append_time: s("message.timestamp.type") == "LogAppendTime",
            min_insync_replicas: i("min.insync.replicas"),
            preallocate: b("preallocate"),
            retention_bytes: l("retention.bytes"),
            retention_ms: l("retention.ms"),
            segment_bytes: i("segment.bytes"),
            segment_index_bytes: i("segment.index.bytes"),
            segment_jitter_ms: l("segment.jitter.ms"),
            segment_ms: l("segment.ms"),
            unclean_leader_election_enable: b("unclean.leader.election.enable"),
        })
    }
}

/// Every topic key's effective value for a topic with `overrides`.
pub fn effective(broker: &BrokerConfig, overrides: &BTreeMap<String, String>) -> Vec<Effective> {
    TOPIC_KEYS
        .iter()
        .map(|def| {
            if let Some(v) = overrides.get(def.name) {
                return Effective {
                    name: def.name,
                    value: v.clone(),
                    source: Source::Topic,
                    kind: def.kind,
                    synonym: None,
                };
            }
            for (syn, factor) in def.synonyms {
                if let Some(v) = broker.explicit.get(*syn) {
                    let value = if *factor == 1 {
                        v.clone()
                    } else {
                        match v.parse::<i64>() {
                            Ok(n) => n.saturating_mul(*factor).to_string(),
                            Err(_) => v.clone(),
                        }
                    };
                    return Effective {
                        name: def.name,
                        value,
                        source: Source::StaticBroker,
                        kind: def.kind,
                        synonym: Some(syn),
                    };
                }
            }
            Effective {
                name: def.name,
                value: def.default.to_string(),
                source: Source::Default,
                kind: def.kind,
                synonym: None,
            }
        })
        .collect()
}

/// Checks one topic setting as Kafka's `LogConfig.validate` would.
pub fn validate(name: &str, value: &str) -> Result<(), TopicConfigError> {
    let err = |reason: &str| TopicConfigError {
        key: name.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let def = topic_key(name).ok_or_else(|| TopicConfigError {
        key: name.to_string(),
        value: value.to_string(),
        reason: format!("Unknown topic config name: {name}"),
    })?;
    def.kind.check(value).map_err(|r| err(&r))?;
    let at_least = |min: i64| -> Result<(), TopicConfigError> {
        match value.parse::<i64>() {
            Ok(n) if n >= min => Ok(()),
            _ => Err(err(&format!("Value must be at least {min}"))),
        }
    };
    match name {
        "cleanup.policy" => {
            for p in value.split(',').map(str::trim) {
                if p != "delete" && p != "compact" {
                    return Err(err("String must be one of: compact, delete"));
                }
            }
            Ok(())
        }
        "compression.type" => match value {
            "uncompressed" | "zstd" | "lz4" | "snappy" | "gzip" | "producer" => Ok(()),
            _ => Err(err(
                "String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer",
            )),
        },
        "message.timestamp.type" => match value {
            "CreateTime" | "LogAppendTime" => Ok(()),
            _ => Err(err("String must be one of: CreateTime, LogAppendTime")),
        },
        "segment.bytes" => at_least(14),
        "segment.index.bytes" => at_least(4),
        "segment.ms" | "flush.messages" | "min.insync.replicas" => at_least(1),
        "retention.ms" => at_least(-1),
        "max.message.bytes"
        | "index.interval.bytes"
        | "flush.ms"
        | "file.delete.delay.ms"
        | "segment.jitter.ms"
        | "delete.retention.ms"
        | "min.compaction.lag.ms" => at_least(0),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(overrides: &[&str]) -> BrokerConfig {
        let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        BrokerConfig::from_text("zookeeper.connect=127.0.0.1:2181\n", &o).unwrap()
    }

    #[test]
    fn defaults_are_kafkas() {
        let t = TopicConfig::resolve(&broker(&[]), &BTreeMap::new()).unwrap();
        assert_eq!(t.retention_ms, 604_800_000);
        assert_eq!(t.segment_bytes, 1_073_741_824);
        assert_eq!(t.max_message_bytes, 1_048_588);
        assert_eq!(t.retention_bytes, -1);
        assert!(!t.log_append_time);
        assert_eq!(t.segment_ms, 604_800_000);
    }

    #[test]
    fn topic_override_beats_broker_synonym() {
        let b = broker(&["log.segment.bytes=2000", "message.max.bytes=100"]);
        let mut o = BTreeMap::new();
        o.insert("segment.bytes".to_string(), "5000".to_string());
        let t = TopicConfig::resolve(&b, &o).unwrap();
        assert_eq!(t.segment_bytes, 5000);
        assert_eq!(t.max_message_bytes, 100);
        let eff = effective(&b, &o);
        let seg = eff.iter().find(|e| e.name == "segment.bytes").unwrap();
        assert_eq!(seg.source, Source::Topic);
        let mmb = eff.iter().find(|e| e.name == "max.message.bytes").unwrap();
        assert_eq!(mmb.source, Source::StaticBroker);
        assert_eq!(mmb.synonym, Some("message.max.bytes"));
    }

    #[test]
    fn validation_matches_kafka() {
        assert!(validate("retention.ms", "-1").is_ok());
        assert!(validate("retention.ms", "-2").is_err());
        assert!(validate("segment.bytes", "10").is_err());
        assert!(validate("cleanup.policy", "compact,delete").is_ok());
        assert!(validate("cleanup.policy", "forever").is_err());
        assert!(validate("message.timestamp.type", "LogAppendTime").is_ok());
        assert!(validate("compression.type", "brotli").is_err());
        let e = validate("no.such.key", "1").unwrap_err();
        assert!(e.reason.contains("Unknown topic config name"));
        assert!(validate("max.message.bytes", "abc").is_err());
    }
}
