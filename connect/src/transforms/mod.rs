//! Single Message Transforms and predicates, under Kafka's class names
//! and config keys, so a connector config written for Kafka Connect
//! (`transforms=route`, `transforms.route.type=…RegexRouter`) works as
//! it is.
//!
//! A chain runs on each record: for a source after the task's poll and
//! before the converters, for a sink after the converters and before the
//! task's put. A transform that returns no record drops it; the runtime
//! still counts its offset as processed.
//!
//! * [`chain`]: the `transforms` / `predicates` keys parsed into a
//!   [`Chain`], with every config error named by its key.
//! * [`router`]: `RegexRouter`, `TimestampRouter` (the record's topic).
//! * [`fields`]: `InsertField`, `ReplaceField`, `MaskField`, `ValueToKey`,
//!   `ExtractField`, `HoistField` (a Struct's or a map's fields).
//! * [`cast`]: `Cast` (a field's or the whole value's type).
//! * [`predicates`]: `TopicNameMatches`, `HasHeaderKey`,
//!   `RecordIsTombstone`, which decide whether a transform (or `Filter`)
//!   applies.

pub mod cast;
pub mod chain;
pub mod fields;
pub mod predicates;
pub mod router;

pub use chain::{Chain, ChainError, Issue};

use crate::data::SchemaAndValue;

/// A record as transforms see it: what both source and sink records
/// have. Where a source record has no Kafka partition or offset yet,
/// those are `None` (and `InsertField` leaves their fields out).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub topic: String,
    pub partition: Option<i32>,
    pub offset: Option<i64>,
    /// Milliseconds since the epoch; source records get their poll time.
    pub timestamp: Option<i64>,
    pub key: SchemaAndValue,
    pub value: SchemaAndValue,
    pub headers: crate::runtime::Headers,
}

/// Why a transform could not handle a record (Kafka's `DataException`):
/// the task fails with it, as Kafka's does without `errors.tolerance`.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TransformError {
    #[error("Only Struct objects supported for [{what}], found: {found}")]
    NotStruct { what: &'static str, found: String },
    #[error("Only Map objects supported in absence of schema for [{what}], found: {found}")]
    NotMap { what: &'static str, found: String },
    #[error("{transform}: field {field} not found in the record")]
    NoField {
        transform: &'static str,
        field: String,
    },
    #[error("TimestampRouter: record of topic {0} has no timestamp")]
    NoTimestamp(String),
    #[error("Cast: {0}")]
    Cast(String),
    #[error("MaskField: {0}")]
    Mask(String),
}

/// Which part of a record a `$Key` / `$Value` transform works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Key,
    Value,
}

impl Side {
    fn of(self, r: &mut Record) -> &mut SchemaAndValue {
        match self {
            Side::Key => &mut r.key,
            Side::Value => &mut r.value,
        }
    }
}

/// Whether a plugin is a transformation or a predicate, as
/// `/connector-plugins?connectorsOnly=false` types them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginKind {
    Transformation,
    Predicate,
}

impl PluginKind {
    pub fn name(self) -> &'static str {
        match self {
            PluginKind::Transformation => "transformation",
            PluginKind::Predicate => "predicate",
        }
    }
}

const PACKAGE: &str = "org.apache.kafka.connect.transforms.";
const PREDICATES: &str = "org.apache.kafka.connect.transforms.predicates.";

/// Every transformation and predicate, by Kafka's class name.
pub const CLASSES: &[(&str, PluginKind)] = &[
    (
        "org.apache.kafka.connect.transforms.Cast$Key",
        PluginKind::Transformation,
    ),
    (
        "org.apache.kafka.connect.transforms.Cast$Value",
        PluginKind::Transformation,
    ),
    (
        "org.apache.kafka.connect.transforms.ExtractField$Key",
        PluginKind::Transformation,
    ),
    (
        "org.apache.kafka.connect.transforms.ExtractField$Value",
        PluginKind::Transformation,
    ),
    (
        "org.apache.kafka.connect.transforms.Filter",
        PluginKind::Transformation,
    ),
    (
        "org.apache.kafka.connect.transforms.HoistField$Key",
        PluginKind::Transformation,
    ),
    (
        "org.apache.kafka.connect.transforms.HoistField$Value",
        PluginKind::Transformation,
    ),
    (
        "org.apache.kafka.connect.transforms.InsertField$Key",
        PluginKind::Transformation,
    ),
    (
        "org.apache.kafka.connect.transforms.InsertField$Value",
        PluginKind::Transformation,
    ),
    (
        "org.apache.kafka.connect.transforms.MaskField$Key",
        PluginKind::Transformation,
    ),
    (
        "org.apache.kafka.connect.transforms.MaskField$Value",
        PluginKind::Transformation,
    ),
    (
        "org.apache.kafka.connect.transforms.RegexRouter",
        PluginKind::Transformation,
    ),
    (
        "org.apache.kafka.connect.transforms.ReplaceField$Key",
        PluginKind::Transformation,
    ),
    (
        "org.apache.kafka.connect.transforms.ReplaceField$Value",
        PluginKind::Transformation,
    ),
    (
        "org.apache.kafka.connect.transforms.TimestampRouter",
        PluginKind::Transformation,
    ),
    (
        "org.apache.kafka.connect.transforms.ValueToKey",
        PluginKind::Transformation,
    ),
    (
        "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
        PluginKind::Predicate,
    ),
    (
        "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
        PluginKind::Predicate,
    ),
    (
        "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        PluginKind::Predicate,
    ),
];

/// The simple name (`InsertField$Value`) of a class given by its full
/// name or already simple, if it is one of ours of that kind.
fn simple_name(given: &str, kind: PluginKind) -> Option<&'static str> {
    let given = given.trim();
    CLASSES
        .iter()
        .filter(|(_, k)| *k == kind)
        .map(|(c, _)| *c)
        .find(|c| {
            let simple = c
                .strip_prefix(PREDICATES)
                .or_else(|| c.strip_prefix(PACKAGE))
                .unwrap_or(c);
            given == *c || given == simple
        })
        .map(|c| {
            c.strip_prefix(PREDICATES)
                .or_else(|| c.strip_prefix(PACKAGE))
                .unwrap_or(c)
        })
}
