//! The `_schemas` topic's records, in Confluent's layout: JSON keys that
//! say what a record is about (`keytype`) and JSON values, so a registry
//! can take over a topic Confluent's registry wrote and the other way
//! round. A null value (tombstone) removes what its key names.

use serde::{Deserialize, Serialize};

use crate::types::Reference;

/// A record's key. Serialized with `keytype` first, as Confluent writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "keytype", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Key {
    /// One version of one subject.
    Schema {
        subject: String,
        version: i32,
        magic: i32,
    },
    /// A compatibility level: global when `subject` is null.
    Config { subject: Option<String>, magic: i32 },
    /// A mode: global when `subject` is null.
    Mode { subject: Option<String>, magic: i32 },
    /// A subject soft-deleted up to a version.
    DeleteSubject { subject: String, magic: i32 },
    /// A subject's permanently deleted versions cleared.
    ClearSubject { subject: String, magic: i32 },
    /// Confluent's no-op key, which its readers skip. This registry's value
    /// under it ([`MaxIdValue`]) keeps the highest id ever allocated, so
    /// that an id whose records were permanently deleted and compacted
    /// away is never handed out again.
    Noop { magic: i32 },
    /// Keys of later registries (contexts, tags…) are skipped.
    #[serde(other)]
    Unknown,
}

impl Key {
    pub fn schema(subject: &str, version: i32) -> Key {
        Key::Schema {
            subject: subject.to_string(),
            version,
            magic: 1,
        }
    }

    pub fn config(subject: Option<&str>) -> Key {
        Key::Config {
            subject: subject.map(str::to_string),
            magic: 0,
        }
    }

    pub fn noop() -> Key {
        Key::Noop { magic: 0 }
    }

    pub fn mode(subject: Option<&str>) -> Key {
        Key::Mode {
            subject: subject.map(str::to_string),
            magic: 0,
        }
    }
}

/// The value under a [`Key::Schema`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaValue {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    /// Absent for AVRO.
    #[serde(
        rename = "schemaType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub schema_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    pub schema: String,
    /// Soft-deleted: kept for lookups by id, hidden from the subject.
    #[serde(default)]
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigValue {
    #[serde(rename = "compatibilityLevel")]
    pub compatibility_level: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeValue {
    pub mode: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteSubjectValue {
    pub subject: String,
    pub version: i32,
}

/// One record to write: key and value (None: a tombstone), as JSON.
#[derive(Debug, Clone)]
pub struct Write {
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// The value under [`Key::Noop`]: the highest id allocated so far.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MaxIdValue {
    #[serde(rename = "maxId")]
    pub max_id: i32,
}

impl Write {
    pub fn new<V: Serialize>(key: &Key, value: Option<&V>) -> Write {
        // Serializing these plain structs to JSON cannot fail.
        Write {
            key: serde_json::to_vec(key).unwrap_or_default(),
            value: value.map(|v| serde_json::to_vec(v).unwrap_or_default()),
        }
    }

    pub fn tombstone(key: &Key) -> Write {
        Write::new::<()>(key, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_written_as_confluent_writes_them() {
        let k = serde_json::to_string(&Key::schema("orders-value", 3)).unwrap();
        assert_eq!(
            k,
            r#"{"keytype":"SCHEMA","subject":"orders-value","version":3,"magic":1}"#
        );
        let k = serde_json::to_string(&Key::config(None)).unwrap();
        assert_eq!(k, r#"{"keytype":"CONFIG","subject":null,"magic":0}"#);
        let k: Key = serde_json::from_str(r#"{"keytype":"NOOP","magic":0}"#).unwrap();
        assert_eq!(k, Key::Noop { magic: 0 });
        let k: Key = serde_json::from_str(r#"{"keytype":"CONTEXT","tenant":"x"}"#).unwrap();
        assert_eq!(k, Key::Unknown);
    }

    #[test]
    fn avro_values_leave_out_the_type_and_empty_references() {
        let v = SchemaValue {
            subject: "s".into(),
            version: 1,
            id: 7,
            schema_type: None,
            references: vec![],
            schema: "\"string\"".into(),
            deleted: false,
        };
        let text = serde_json::to_string(&v).unwrap();
        assert_eq!(
            text,
            r#"{"subject":"s","version":1,"id":7,"schema":"\"string\"","deleted":false}"#
        );
        assert_eq!(serde_json::from_str::<SchemaValue>(&text).unwrap(), v);
    }
}
