//! Kafka's ZooKeeper layout: znode paths and the JSON each one holds, as
//! Kafka's `ZkData.scala` writes them, so Kafka tooling recognises them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const CLUSTER_ID: &str = "/cluster/id";
pub const BROKER_IDS: &str = "/brokers/ids";
pub const BROKER_TOPICS: &str = "/brokers/topics";
pub const BROKER_SEQID: &str = "/brokers/seqid";
pub const CONFIG_TOPICS: &str = "/config/topics";
pub const CONFIG_CHANGES: &str = "/config/changes";
pub const DELETE_TOPICS: &str = "/admin/delete_topics";
pub const CONTROLLER: &str = "/controller";
pub const CONTROLLER_EPOCH: &str = "/controller_epoch";

/// Persistent paths Kafka creates at start-up (`KafkaZkClient.createTopLevelPaths`).
pub const TOP_LEVEL: &[&str] = &[
    "/consumers",
    "/admin/delete_topics",
    "/brokers/ids",
    "/brokers/topics",
    "/brokers/seqid",
    "/config/changes",
    "/config/clients",
    "/config/topics",
    "/config/users",
    "/config/brokers",
    "/config/ips",
    "/isr_change_notification",
    "/latest_producer_id_block",
    "/log_dir_event_notification",
    "/cluster",
];

/// Prefix of the sequential nodes under [`CONFIG_CHANGES`].
pub const CONFIG_CHANGE_PREFIX: &str = "config_change_";

pub fn broker_path(id: i32) -> String {
    format!("{BROKER_IDS}/{id}")
}

pub fn topic_path(topic: &str) -> String {
    format!("{BROKER_TOPICS}/{topic}")
}

pub fn partitions_path(topic: &str) -> String {
    format!("{BROKER_TOPICS}/{topic}/partitions")
}

pub fn partition_path(topic: &str, partition: i32) -> String {
    format!("{BROKER_TOPICS}/{topic}/partitions/{partition}")
}

pub fn partition_state_path(topic: &str, partition: i32) -> String {
    format!("{BROKER_TOPICS}/{topic}/partitions/{partition}/state")
}

pub fn topic_config_path(topic: &str) -> String {
    format!("{CONFIG_TOPICS}/{topic}")
}

pub fn delete_topic_path(topic: &str) -> String {
    format!("{DELETE_TOPICS}/{topic}")
}

/// `/cluster/id`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClusterIdJson {
    pub version: String,
    pub id: String,
}

/// `/brokers/ids/<id>`, version 5 (endpoints, security protocol map, rack).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BrokerJson {
    #[serde(default)]
    pub listener_security_protocol_map: BTreeMap<String, String>,
    pub endpoints: Vec<String>,
    #[serde(default = "minus_one")]
    pub jmx_port: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rack: Option<String>,
    #[serde(default)]
    pub features: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default = "minus_one")]
    pub port: i32,
    pub version: i32,
}

fn minus_one() -> i32 {
    -1
}

/// `/brokers/topics/<topic>`: the replica assignment (version 3 carries the
/// topic id, as Kafka 2.8+ writes; version 1 and 2 are read too).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TopicJson {
    pub version: i32,
    pub partitions: BTreeMap<String, Vec<i32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_id: Option<String>,
    #[serde(default)]
    pub adding_replicas: BTreeMap<String, Vec<i32>>,
    #[serde(default)]
    pub removing_replicas: BTreeMap<String, Vec<i32>>,
}

impl TopicJson {
    /// Partition number → replicas; entries whose key is not a number are skipped.
    pub fn assignment(&self) -> BTreeMap<i32, Vec<i32>> {
        self.partitions
            .iter()
            .filter_map(|(k, v)| k.parse::<i32>().ok().map(|p| (p, v.clone())))
            .collect()
    }

    pub fn new(assignment: &BTreeMap<i32, Vec<i32>>, topic_id: &str) -> TopicJson {
        TopicJson {
            version: 3,
            partitions: assignment
                .iter()
                .map(|(p, r)| (p.to_string(), r.clone()))
                .collect(),
            topic_id: Some(topic_id.to_string()),
            adding_replicas: BTreeMap::new(),
            removing_replicas: BTreeMap::new(),
        }
    }
}

/// `/brokers/topics/<t>/partitions/<p>/state`: leader and ISR.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartitionStateJson {
    pub controller_epoch: i32,
    pub leader: i32,
    pub version: i32,
    pub leader_epoch: i32,
    pub isr: Vec<i32>,
}

/// `/config/topics/<topic>`: the topic's overrides.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct ConfigJson {
    pub version: i32,
    pub config: BTreeMap<String, String>,
}

/// `/config/changes/config_change_<seq>` (version 2 notification).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConfigChangeJson {
    pub version: i32,
    pub entity_path: String,
}

/// Kafka's textual form of a 16-byte id: URL-safe base64 without padding.
pub fn encode_id(bytes: &[u8; 16]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Inverse of [`encode_id`]; `None` if `text` is not 22 base64url characters.
pub fn decode_id(text: &str) -> Option<[u8; 16]> {
    let text = text.trim_end_matches('=');
    if text.len() != 22 {
        return None;
    }
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut out = Vec::with_capacity(16);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    out.try_into().ok()
}

/// A fresh random id in Kafka's textual form.
pub fn random_id() -> String {
    let bytes: [u8; 16] = rand::random();
    encode_id(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_round_trip() {
        for _ in 0..100 {
            let bytes: [u8; 16] = rand::random();
            let text = encode_id(&bytes);
            assert_eq!(text.len(), 22);
            assert_eq!(decode_id(&text), Some(bytes));
        }
        assert_eq!(encode_id(&[0; 16]), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(decode_id("short"), None);
    }

    #[test]
    fn reads_kafka_json() {
        let broker: BrokerJson = serde_json::from_str(
            r#"{"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://h:9092"],"jmx_port":-1,"features":{},"host":"h","timestamp":"1","port":9092,"version":5}"#,
        )
        .unwrap();
        assert_eq!(broker.endpoints, vec!["PLAINTEXT://h:9092".to_string()]);
        let topic: TopicJson = serde_json::from_str(
            r#"{"version":2,"partitions":{"1":[2,1],"0":[1,2]},"adding_replicas":{},"removing_replicas":{}}"#,
        )
        .unwrap();
        assert_eq!(topic.assignment()[&1], vec![2, 1]);
        let state: PartitionStateJson = serde_json::from_str(
            r#"{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":0,"isr":[1]}"#,
        )
        .unwrap();
        assert_eq!(state.isr, vec![1]);
    }
}

/// Bytes Kafka's `Sanitizer` keeps as they are in a user or client-id
/// znode name (Java's URLEncoder, with `*` encoded too).
const SANITIZE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'-')
    .remove(b'_');

/// An entity name as a znode name, as Kafka's `Sanitizer` makes it
/// (`alice@example.com` → `alice%40example.com`); `<default>` (the
/// brokers' default) stays.
pub fn sanitize(name: &str) -> String {
    if name == crate::quota::DEFAULT_NAME {
        return name.to_string();
    }
    escape(name)
}

/// A name as a znode name, always escaped: a user literally named
/// `<default>` is `%3Cdefault%3E`, not the default entity.
pub fn escape(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, SANITIZE).to_string()
}

/// The entity name a znode name stands for.
pub fn desanitize(node: &str) -> String {
    percent_encoding::percent_decode_str(node)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod sanitize_tests {
    use super::*;

    #[test]
    fn names_are_escaped_as_kafka_escapes_them() {
        assert_eq!(sanitize("alice"), "alice");
        assert_eq!(sanitize("CN=a b,O=x*"), "CN%3Da%20b%2CO%3Dx%2A");
        assert_eq!(sanitize("a/b"), "a%2Fb");
        assert_eq!(sanitize("<default>"), "<default>");
        for n in ["alice@example.com", "CN=a b,O=x*", "a/b", "é.-_"] {
            assert_eq!(desanitize(&sanitize(n)), n);
        }
    }
}
