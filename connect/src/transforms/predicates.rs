//! Kafka's predicates, which decide whether a transform (typically
//! `Filter`) applies to a record.

use regex::Regex;

use super::chain::Props;
use super::Record;
use crate::data::Data;

#[derive(Debug, Clone)]
pub enum Predicate {
    /// `TopicNameMatches`: the whole topic name matches `pattern`.
    TopicNameMatches(Regex),
    /// `HasHeaderKey`: the record has a header called `name`.
    HasHeaderKey(String),
    /// `RecordIsTombstone`: the value is null.
    RecordIsTombstone,
}

impl Predicate {
    pub fn configure(simple: &str, p: &mut Props<'_>) -> Option<Predicate> {
        match simple {
            "TopicNameMatches" => p.regex("pattern").map(Predicate::TopicNameMatches),
            "HasHeaderKey" => p.required_name("name").map(Predicate::HasHeaderKey),
            "RecordIsTombstone" => Some(Predicate::RecordIsTombstone),
            _ => None,
        }
    }

    pub fn test(&self, r: &Record) -> bool {
        match self {
            Predicate::TopicNameMatches(re) => re.is_match(&r.topic),
            Predicate::HasHeaderKey(name) => r.headers.iter().any(|(k, _)| k == name),
            Predicate::RecordIsTombstone => r.value.value == Data::Null,
        }
    }
}
