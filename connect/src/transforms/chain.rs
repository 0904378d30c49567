//! A connector's `transforms` and `predicates` keys parsed into the chain
//! its tasks run, as Kafka's `ConnectorConfig` reads them:
//! `transforms=a,b`, `transforms.a.type=<class>`, `transforms.a.<key>`,
//! `transforms.a.predicate=p`, `transforms.a.negate=true`,
//! `predicates=p`, `predicates.p.type=<class>`, `predicates.p.<key>`.
//!
//! Parsing collects every problem with the key it is about, so connector
//! creation and `/config/validate` can name each bad key at once rather
//! than stop at the first.

use std::collections::BTreeMap;

use regex::Regex;

use super::predicates::Predicate;
use super::{cast, fields, router, simple_name, PluginKind, Record, Side, TransformError};
use crate::plugins::Config;

/// One problem with a transform or predicate config, and its key.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub key: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("{}", .0.iter().map(|i| i.message.as_str()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Issue>),
}

/// One transform's keys (`transforms.a.*` or `predicates.p.*`), with the
/// issues found so far.
pub struct Props<'a> {
    config: &'a Config,
    prefix: String,
    issues: &'a mut Vec<Issue>,
}

impl<'a> Props<'a> {
    pub fn key(&self, k: &str) -> String {
        format!("{}{}", self.prefix, k)
    }

    /// The key's value, trimmed; `None` when absent.
    pub fn get(&self, k: &str) -> Option<&'a str> {
        self.config.get(&self.key(k)).map(|v| v.trim())
    }

    /// The key's value, or an issue saying it is missing.
    pub fn required(&mut self, k: &str) -> Option<&'a str> {
        let v = self.get(k);
        if v.is_none() {
            let key = self.key(k);
            self.issues.push(Issue {
                message: format!(
                    "Missing required configuration \"{key}\" which has no default value."
                ),
                key,
            });
        }
        v
    }

    /// A comma-separated list (empty when absent).
    pub fn list(&self, k: &str) -> Vec<String> {
        split_list(self.get(k).unwrap_or(""))
    }

    /// A required non-empty list.
    pub fn required_list(&mut self, k: &str) -> Option<Vec<String>> {
        let v = self.required(k)?;
        let list = split_list(v);
        if list.is_empty() {
            self.invalid(k, v, "Empty list");
            return None;
        }
        Some(list)
    }

    /// A required non-empty string.
    pub fn required_name(&mut self, k: &str) -> Option<String> {
        let v = self.required(k)?;
        if v.is_empty() {
            self.invalid(k, v, "String must be non-empty");
            return None;
        }
        Some(v.to_string())
    }

    /// A required regex, anchored at both ends as Java's `matches()`.
    pub fn regex(&mut self, k: &str) -> Option<Regex> {
        let v = self.required(k)?;
        match Regex::new(&format!("^(?:{v})$")) {
            Ok(re) => Some(re),
            Err(e) => {
                self.invalid(k, v, &format!("Invalid regex: {e}"));
                None
            }
        }
    }

    /// Records Kafka's message for a bad value of `k`.
    pub fn invalid(&mut self, k: &str, value: &str, why: &str) {
        let key = self.key(k);
        self.issues.push(Issue {
            message: format!("Invalid value {value} for configuration {key}: {why}"),
            key,
        });
    }
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// One transformation, configured.
#[derive(Debug, Clone)]
pub enum Transform {
    RegexRouter(router::RegexRouter),
    TimestampRouter(router::TimestampRouter),
    /// Drops every record it applies to (with a predicate: those that
    /// match it).
    Filter,
    InsertField(Side, fields::InsertField),
    ReplaceField(Side, fields::ReplaceField),
    MaskField(Side, fields::MaskField),
    ValueToKey(fields::ValueToKey),
    ExtractField(Side, fields::ExtractField),
    HoistField(Side, fields::HoistField),
    Cast(Side, cast::Cast),
}

impl Transform {
    fn configure(simple: &str, p: &mut Props<'_>) -> Option<Transform> {
        let side = if simple.ends_with("$Key") {
            Side::Key
        } else {
            Side::Value
        };
        let family = simple.split('$').next().unwrap_or(simple);
        Some(match family {
            "RegexRouter" => Transform::RegexRouter(router::RegexRouter::configure(p)?),
            "TimestampRouter" => Transform::TimestampRouter(router::TimestampRouter::configure(p)?),
            "Filter" => Transform::Filter,
            "InsertField" => Transform::InsertField(side, fields::InsertField::configure(p)?),
            "ReplaceField" => Transform::ReplaceField(side, fields::ReplaceField::configure(p)?),
            "MaskField" => Transform::MaskField(side, fields::MaskField::configure(p)?),
            "ValueToKey" => Transform::ValueToKey(fields::ValueToKey::configure(p)?),
            "ExtractField" => Transform::ExtractField(side, fields::ExtractField::configure(p)?),
            "HoistField" => Transform::HoistField(side, fields::HoistField::configure(p)?),
            "Cast" => Transform::Cast(side, cast::Cast::configure(p)?),
            _ => return None,
        })
    }

    /// Transforms the record in place; `false`: drop it.
    fn apply(&self, r: &mut Record) -> Result<bool, TransformError> {
        match self {
            Transform::RegexRouter(t) => t.apply(r),
            Transform::TimestampRouter(t) => t.apply(r)?,
            Transform::Filter => return Ok(false),
            Transform::InsertField(side, t) => t.apply(*side, r)?,
            Transform::ReplaceField(side, t) => t.apply(side.of(r))?,
            Transform::MaskField(side, t) => t.apply(side.of(r))?,
            Transform::ValueToKey(t) => t.apply(r)?,
            Transform::ExtractField(side, t) => t.apply(side.of(r))?,
            Transform::HoistField(side, t) => t.apply(side.of(r))?,
            Transform::Cast(side, t) => t.apply(side.of(r))?,
        }
        Ok(true)
    }
}

#[derive(Debug, Clone)]
struct Step {
    transform: Transform,
    /// The class as configured, for error reports.
    class: String,
    /// The predicate deciding whether the step applies, and `negate`.
    predicate: Option<(Predicate, bool)>,
}

/// A connector's transforms in order.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    steps: Vec<Step>,
}

impl Chain {
    /// The chain a connector config describes, or every problem in it.
    pub fn configure(config: &Config) -> Result<Chain, ChainError> {
        let (chain, issues) = parse(config);
        if issues.is_empty() {
            Ok(chain)
        } else {
            Err(ChainError::Invalid(issues))
        }
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Runs the record through every step; `None`: a step dropped it.
    pub fn apply(&self, r: Record) -> Result<Option<Record>, TransformError> {
        self.run(r).map_err(|(_, e)| e)
    }

    /// As [`Chain::apply`], a failure naming the class of the transform
    /// that failed (for error reports and dead-letter headers).
    pub fn run(&self, mut r: Record) -> Result<Option<Record>, (&str, TransformError)> {
        for step in &self.steps {
            if let Some((p, negate)) = &step.predicate {
                if p.test(&r) == *negate {
                    continue;
                }
            }
            match step.transform.apply(&mut r) {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(e) => return Err((&step.class, e)),
            }
        }
        Ok(Some(r))
    }
}

/// A key of a transform or predicate as `/config/validate` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyReport {
    pub name: String,
    /// `Transforms: a` / `Predicates: p`, as Kafka groups them.
    pub group: String,
    pub value: Option<String>,
    pub errors: Vec<String>,
}

/// The `*.type` key of every listed transform and predicate, and every
/// other key with a problem, with their errors.
pub fn report(config: &Config) -> Vec<KeyReport> {
    let (_, issues) = parse(config);
    let mut out: Vec<KeyReport> = Vec::new();
    let group_of = |key: &str| -> String {
        let mut parts = key.splitn(3, '.');
        let (kind, alias) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let kind = if kind == "predicates" {
            "Predicates"
        } else {
            "Transforms"
        };
        format!("{kind}: {alias}")
    };
    for (list, prefix) in [("transforms", "transforms"), ("predicates", "predicates")] {
        for alias in split_list(config.get(list).map(String::as_str).unwrap_or("")) {
            let name = format!("{prefix}.{alias}.type");
            out.push(KeyReport {
                group: group_of(&name),
                value: config.get(&name).cloned(),
                name,
                errors: Vec::new(),
            });
        }
    }
    for issue in issues {
        match out.iter_mut().find(|r| r.name == issue.key) {
            Some(r) => r.errors.push(issue.message),
            None => out.push(KeyReport {
                group: group_of(&issue.key),
                value: config.get(&issue.key).cloned(),
                name: issue.key,
                errors: vec![issue.message],
            }),
        }
    }
    out
}

fn parse(config: &Config) -> (Chain, Vec<Issue>) {
    let mut issues = Vec::new();
    let list = |k: &str| split_list(config.get(k).map(String::as_str).unwrap_or(""));
    let mut predicates: BTreeMap<String, Predicate> = BTreeMap::new();
    for alias in list("predicates") {
        let mut p = Props {
            config,
            prefix: format!("predicates.{alias}."),
            issues: &mut issues,
        };
        let Some(class) = p.required("type") else {
            continue;
        };
        match simple_name(class, PluginKind::Predicate) {
            Some(simple) => {
                if let Some(pred) = Predicate::configure(simple, &mut p) {
                    predicates.insert(alias, pred);
                }
            }
            None => p.invalid("type", class, &format!("Class {class} could not be found.")),
        }
    }
    let mut steps = Vec::new();
    for alias in list("transforms") {
        let mut p = Props {
            config,
            prefix: format!("transforms.{alias}."),
            issues: &mut issues,
        };
        let Some(class) = p.required("type") else {
            continue;
        };
        let transform = match simple_name(class, PluginKind::Transformation) {
            Some(simple) => Transform::configure(simple, &mut p),
            None => {
                p.invalid("type", class, &format!("Class {class} could not be found."));
                None
            }
        };
        let negate = match p.get("negate") {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                p.invalid("negate", v, "Expected value to be either true or false");
                false
            }
        };
        let predicate = match p.get("predicate").filter(|v| !v.is_empty()) {
            None => None,
            Some(name) => match predicates.get(name) {
                Some(pred) => Some((pred.clone(), negate)),
                None => {
                    // Kafka names the missing alias; a listed predicate
                    // that failed its own config is reported there.
                    if !list("predicates").iter().any(|a| a == name) {
                        p.invalid(
                            "predicate",
                            name,
                            &format!("Predicate alias {name} is not listed in predicates"),
                        );
                    }
                    None
                }
            },
        };
        if let Some(transform) = transform {
            steps.push(Step {
                transform,
                class: class.to_string(),
                predicate,
            });
        }
    }
    (Chain { steps }, issues)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::data::{Data, SchemaAndValue};

    pub(crate) fn config(pairs: &[(&str, &str)]) -> Config {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn record(topic: &str, value: Data) -> Record {
        Record {
            headers: Vec::new(),
            topic: topic.into(),
            partition: Some(0),
            offset: Some(7),
            timestamp: Some(0),
            key: SchemaAndValue::NULL,
            value: SchemaAndValue {
                schema: None,
                value,
            },
        }
    }

    #[test]
    fn filter_with_predicate_and_negate() {
        let c = config(&[
            ("transforms", "drop"),
            (
                "transforms.drop.type",
                "org.apache.kafka.connect.transforms.Filter",
            ),
            ("transforms.drop.predicate", "isLogs"),
            ("predicates", "isLogs"),
            (
                "predicates.isLogs.type",
                "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            ),
            ("predicates.isLogs.pattern", "logs-.*"),
        ]);
        let chain = Chain::configure(&c).unwrap();
        assert!(chain
            .apply(record("logs-1", Data::Int(1)))
            .unwrap()
            .is_none());
        assert!(chain
            .apply(record("orders", Data::Int(1)))
            .unwrap()
            .is_some());
        let mut negated = c.clone();
        negated.insert("transforms.drop.negate".into(), "true".into());
        let chain = Chain::configure(&negated).unwrap();
        assert!(chain
            .apply(record("logs-1", Data::Int(1)))
            .unwrap()
            .is_some());
        assert!(chain
            .apply(record("orders", Data::Int(1)))
            .unwrap()
            .is_none());
    }

    #[test]
    fn tombstones_and_headers() {
        let c = config(&[
            ("transforms", "drop"),
            ("transforms.drop.type", "Filter"),
            ("transforms.drop.predicate", "t"),
            ("predicates", "t,h"),
            ("predicates.t.type", "RecordIsTombstone"),
            ("predicates.h.type", "HasHeaderKey"),
            ("predicates.h.name", "trace"),
        ]);
        let chain = Chain::configure(&c).unwrap();
        assert!(chain.apply(record("a", Data::Null)).unwrap().is_none());
        assert!(chain.apply(record("a", Data::Int(1))).unwrap().is_some());
    }

    #[test]
    fn errors_name_their_keys() {
        let c = config(&[
            ("transforms", "a,b,c,d"),
            ("transforms.a.type", "com.example.Nope"),
            ("transforms.b.type", "RegexRouter"),
            ("transforms.b.regex", "(unclosed"),
            ("transforms.b.replacement", "x"),
            ("transforms.c.type", "InsertField$Value"),
            ("transforms.c.predicate", "missing"),
        ]);
        let Err(ChainError::Invalid(issues)) = Chain::configure(&c) else {
            panic!("accepted a bad config");
        };
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "transforms.a.type",
                "transforms.b.regex",
                "transforms.c.predicate",
                "transforms.d.type"
            ]
        );
        assert_eq!(
            issues[0].message,
            "Invalid value com.example.Nope for configuration transforms.a.type: Class com.example.Nope could not be found."
        );
        assert_eq!(
            issues[3].message,
            "Missing required configuration \"transforms.d.type\" which has no default value."
        );
        let report = report(&c);
        assert_eq!(report[0].name, "transforms.a.type");
        assert_eq!(report[0].group, "Transforms: a");
        assert_eq!(report[0].errors.len(), 1);
    }

    #[test]
    fn no_transforms_is_an_empty_chain() {
        let chain = Chain::configure(&config(&[("name", "x")])).unwrap();
        assert!(chain.is_empty());
    }
}
