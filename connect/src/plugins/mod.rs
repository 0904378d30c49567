//! The built-in connector plugins: what each is called, the configs it
//! takes (Kafka's `ConfigDef` as `/config/validate` shows it), how its
//! configs split into task configs, and its tasks.
//!
//! * [`file`]: `FileStreamSource` and `FileStreamSink`, as Kafka's.
//! * [`datagen`]: `DataGen`, a source of generated records for demos.
//! * [`jdbc`]: Confluent's `JdbcSourceConnector` and `JdbcSinkConnector`,
//!   for PostgreSQL.

pub mod datagen;
pub mod file;
pub mod jdbc;

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::convert::Converter;
use crate::error::ConnectError;
use crate::transforms;
use crate::KAFKA_VERSION;

/// A connector's configuration as given (string values, `name` included).
pub type Config = BTreeMap<String, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorType {
    Source,
    Sink,
}

impl ConnectorType {
    pub fn name(self) -> &'static str {
        match self {
            ConnectorType::Source => "source",
            ConnectorType::Sink => "sink",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plugin {
    FileSource,
    FileSink,
    DataGen,
    JdbcSource,
    JdbcSink,
}

impl Plugin {
    pub const ALL: &'static [Plugin] = &[
        Plugin::FileSink,
        Plugin::FileSource,
        Plugin::DataGen,
        Plugin::JdbcSink,
        Plugin::JdbcSource,
    ];

    pub fn class(self) -> &'static str {
        match self {
            Plugin::FileSource => "org.apache.kafka.connect.file.FileStreamSourceConnector",
            Plugin::FileSink => "org.apache.kafka.connect.file.FileStreamSinkConnector",
            Plugin::DataGen => "io.runnel.connect.datagen.DataGenConnector",
            Plugin::JdbcSource => "io.confluent.connect.jdbc.JdbcSourceConnector",
            Plugin::JdbcSink => "io.confluent.connect.jdbc.JdbcSinkConnector",
        }
    }

    pub fn task_class(self) -> &'static str {
        match self {
            Plugin::FileSource => "org.apache.kafka.connect.file.FileStreamSourceTask",
            Plugin::FileSink => "org.apache.kafka.connect.file.FileStreamSinkTask",
            Plugin::DataGen => "io.runnel.connect.datagen.DataGenTask",
            Plugin::JdbcSource => "io.confluent.connect.jdbc.source.JdbcSourceTask",
            Plugin::JdbcSink => "io.confluent.connect.jdbc.sink.JdbcSinkTask",
        }
    }

    pub fn kind(self) -> ConnectorType {
        match self {
            Plugin::FileSource | Plugin::DataGen | Plugin::JdbcSource => ConnectorType::Source,
            Plugin::FileSink | Plugin::JdbcSink => ConnectorType::Sink,
        }
    }

    /// A plugin by its class name, its simple name, or its simple name
    /// without `Connector` (Kafka's aliases: `FileStreamSource`).
    pub fn find(name: &str) -> Option<Plugin> {
        let name = name.trim();
        Plugin::ALL.iter().copied().find(|p| {
            let class = p.class();
            let simple = class.rsplit('.').next().unwrap_or(class);
            name == class || name == simple || Some(name) == simple.strip_suffix("Connector")
        })
    }

    /// The plugin a `connector.class` names, or Kafka's error.
    pub fn named(name: &str) -> Result<Plugin, ConnectError> {
        Plugin::find(name).ok_or_else(|| {
            let known: Vec<&str> = Plugin::ALL.iter().map(|p| p.class()).collect();
            ConnectError::BadRequest(format!(
                "Failed to find any class that implements Connector and which name matches {name}, available connectors are: {}",
                known.join(", ")
            ))
        })
    }

    /// `/connector-plugins` entry.
    pub fn info(self) -> Value {
        json!({"class": self.class(), "type": self.kind().name(), "version": KAFKA_VERSION})
    }

    fn own_defs(self) -> Vec<&'static ConfigDef> {
        let parts: &[&'static [ConfigDef]] = match self {
            Plugin::FileSource => &[file::SOURCE_DEFS],
            Plugin::FileSink => &[file::SINK_DEFS],
            Plugin::DataGen => &[datagen::DEFS],
            Plugin::JdbcSource => &[jdbc::CONNECTION_DEFS, jdbc::source::DEFS],
            Plugin::JdbcSink => &[jdbc::CONNECTION_DEFS, jdbc::sink::DEFS],
        };
        parts.iter().flat_map(|p| p.iter()).collect()
    }

    /// Errors between keys (a mode and the columns it needs), by key.
    fn cross_checks(self, config: &Config) -> Vec<(&'static str, String)> {
        match self {
            Plugin::JdbcSource => jdbc::source::check(config),
            Plugin::JdbcSink => jdbc::sink::check(config),
            _ => Vec::new(),
        }
    }

    /// Every config the connector takes: Kafka's common ones, the sink
    /// ones for a sink, then its own.
    pub fn defs(self) -> Vec<&'static ConfigDef> {
        let mut defs: Vec<&ConfigDef> = COMMON_DEFS.iter().collect();
        if self.kind() == ConnectorType::Sink {
            defs.extend(SINK_DEFS.iter());
        }
        defs.extend(TRANSFORM_DEFS.iter());
        defs.extend(ERROR_DEFS.iter());
        if self.kind() == ConnectorType::Sink {
            defs.extend(DLQ_DEFS.iter());
        }
        defs.extend(self.own_defs());
        defs
    }

    /// The task configs of a (valid) connector config: the config with
    /// `task.class` added, as Kafka's worker adds it; one for the file
    /// source (it reads one file), the JDBC source's tables dealt round
    /// its tasks, `tasks.max` for the others.
    pub fn task_configs(self, config: &Config) -> Vec<Config> {
        let max = config
            .get("tasks.max")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        let mut configs = match self {
            Plugin::FileSource => vec![config.clone()],
            Plugin::JdbcSource => jdbc::source::task_configs(config, max),
            _ => vec![config.clone(); max],
        };
        for c in &mut configs {
            c.insert("task.class".into(), self.task_class().into());
        }
        configs
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    String,
    Boolean,
    Int,
    Long,
    List,
    Class,
}

impl ConfigType {
    fn name(self) -> &'static str {
        match self {
            ConfigType::String => "STRING",
            ConfigType::Boolean => "BOOLEAN",
            ConfigType::Int => "INT",
            ConfigType::Long => "LONG",
            ConfigType::List => "LIST",
            ConfigType::Class => "CLASS",
        }
    }
}

/// What a value must be beyond its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    None,
    AtLeast(i64),
    NonEmpty,
    Converter,
    ConnectorClass,
    Regex,
    /// One of these strings (Kafka's `ValidString`).
    OneOf(&'static [&'static str]),
}

/// One config key, as Kafka's `ConfigDef.ConfigKey`.
#[derive(Debug)]
pub struct ConfigDef {
    pub name: &'static str,
    pub kind: ConfigType,
    /// `None` with `required`: the key has no default.
    pub default: Option<&'static str>,
    pub required: bool,
    pub importance: &'static str,
    pub doc: &'static str,
    pub group: Option<&'static str>,
    pub display_name: &'static str,
    pub check: Check,
}

const fn def(
    name: &'static str,
    kind: ConfigType,
    default: Option<&'static str>,
    required: bool,
    doc: &'static str,
) -> ConfigDef {
    ConfigDef {
        name,
        kind,
        default,
        required,
        importance: "HIGH",
        doc,
        group: None,
        display_name: name,
        check: Check::None,
    }
}

const fn common(mut d: ConfigDef, display_name: &'static str, check: Check) -> ConfigDef {
    d.group = Some("Common");
    d.display_name = display_name;
    d.check = check;
    d
}

const fn checked(mut d: ConfigDef, check: Check) -> ConfigDef {
    d.check = check;
    d
}

/// Kafka's `ConnectorConfig` keys every connector has.
static COMMON_DEFS: &[ConfigDef] = &[
    common(
        def("name", ConfigType::String, None, true, "Globally unique name to use for this connector."),
        "Connector name",
        Check::NonEmpty,
    ),
    common(
        def("connector.class", ConfigType::String, None, true, "Name or alias of the class for this connector."),
        "Connector class",
        Check::ConnectorClass,
    ),
    common(
        def("tasks.max", ConfigType::Int, Some("1"), false, "Maximum number of tasks to use for this connector."),
        "Tasks max",
        Check::AtLeast(1),
    ),
    common(
        def("key.converter", ConfigType::Class, None, false, "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka. This controls the format of the keys in messages written to or read from Kafka."),
        "Key converter class",
        Check::Converter,
    ),
    common(
        def("value.converter", ConfigType::Class, None, false, "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka. This controls the format of the values in messages written to or read from Kafka."),
        "Value converter class",
        Check::Converter,
    ),
];

const fn error_handling(mut d: ConfigDef, display_name: &'static str, check: Check) -> ConfigDef {
    d.group = Some("Error Handling");
    d.importance = "MEDIUM";
    d.display_name = display_name;
    d.check = check;
    d
}

/// Kafka's `ConnectorConfig` error-handling keys (see
/// [`crate::runtime::errors`]).
static ERROR_DEFS: &[ConfigDef] = &[
    error_handling(
        def("errors.retry.timeout", ConfigType::Long, Some("0"), false, "The maximum duration in milliseconds that a failed operation will be reattempted. The default is 0, which means no retries will be attempted. Use -1 for infinite retries."),
        "Retry Timeout for Errors",
        Check::AtLeast(-1),
    ),
    error_handling(
        def("errors.retry.delay.max.ms", ConfigType::Long, Some("60000"), false, "The maximum duration in milliseconds between consecutive retry attempts. Jitter will be added to the delay once this limit is reached to prevent thundering herd issues."),
        "Maximum Delay Between Retries for Errors",
        Check::AtLeast(1),
    ),
    error_handling(
        def("errors.tolerance", ConfigType::String, Some("none"), false, "Behavior for tolerating errors during connector operation. 'none' is the default value and signals that any error will result in an immediate connector task failure; 'all' changes the behavior to skip over problematic records."),
        "Error Tolerance",
        Check::OneOf(&["none", "all"]),
    ),
    error_handling(
        def("errors.log.enable", ConfigType::Boolean, Some("false"), false, "If true, write each error and the details of the failed operation and problematic record to the Connect application log. This is 'false' by default, so that only errors that are not tolerated are reported."),
        "Log Errors",
        Check::None,
    ),
    error_handling(
        def("errors.log.include.messages", ConfigType::Boolean, Some("false"), false, "Whether to include in the log the Connect record that resulted in a failure. This is 'false' by default, which will prevent record keys, values, and headers from being written to log files."),
        "Log Error Details",
        Check::None,
    ),
];

/// Kafka's `SinkConnectorConfig` dead-letter queue keys.
static DLQ_DEFS: &[ConfigDef] = &[
    error_handling(
        def("errors.deadletterqueue.topic.name", ConfigType::String, Some(""), false, "The name of the topic to be used as the dead letter queue (DLQ) for messages that result in an error when processed by this sink connector, or its transformations or converters. The topic name is blank by default, which means that no messages are to be recorded in the DLQ."),
        "Dead Letter Queue Topic Name",
        Check::None,
    ),
    error_handling(
        def("errors.deadletterqueue.topic.replication.factor", ConfigType::Int, Some("3"), false, "Replication factor used to create the dead letter queue topic when it doesn't already exist."),
        "Dead Letter Queue Topic Replication Factor",
        Check::AtLeast(-1),
    ),
    error_handling(
        def("errors.deadletterqueue.context.headers.enable", ConfigType::Boolean, Some("false"), false, "If true, add headers containing error context to the messages written to the dead letter queue. To avoid clashing with headers from the original record, all error context header keys, all error context header keys will start with __connect.errors."),
        "Enable Error Context Headers",
        Check::None,
    ),
];

/// Kafka's `SinkConnectorConfig` keys.
static SINK_DEFS: &[ConfigDef] = &[
    common(
        def("topics", ConfigType::List, Some(""), false, "List of topics to consume, separated by commas"),
        "Topics",
        Check::None,
    ),
    common(
        def("topics.regex", ConfigType::String, Some(""), false, "Regular expression giving topics to consume. Under the hood, the regex is compiled to a java.util.regex.Pattern. Only one of topics or topics.regex should be specified."),
        "Topics regex",
        Check::Regex,
    ),
];

/// Kafka's `ConnectorConfig` keys naming a connector's transforms and
/// predicates; each alias's own keys are checked by
/// [`transforms::chain::report`] and listed after these.
static TRANSFORM_DEFS: &[ConfigDef] = &[
    ConfigDef {
        name: "transforms",
        kind: ConfigType::List,
        default: Some(""),
        required: false,
        importance: "LOW",
        doc: "Aliases for the transformations to be applied to records.",
        group: Some("Transforms"),
        display_name: "Transforms",
        check: Check::None,
    },
    ConfigDef {
        name: "predicates",
        kind: ConfigType::List,
        default: Some(""),
        required: false,
        importance: "LOW",
        doc: "Aliases for the predicates used by transformations.",
        group: Some("Predicates"),
        display_name: "Predicates",
        check: Check::None,
    },
];

/// A valid connector config's plugin, or Kafka's 400 listing every error.
pub fn check(config: &Config) -> Result<Plugin, ConnectError> {
    let class = config
        .get("connector.class")
        .map(String::as_str)
        .unwrap_or("");
    if class.is_empty() {
        return Err(ConnectError::BadRequest(format!(
            "Connector config {config:?} contains no connector type"
        )));
    }
    let plugin = Plugin::named(class)?;
    let (_, errors) = validate(plugin, config);
    if !errors.is_empty() {
        return Err(ConnectError::BadRequest(format!(
            "Connector configuration is invalid and contains the following {} error(s):\n{}\nYou can also find the above list of errors at the endpoint `/connector-plugins/{{connectorType}}/config/validate`",
            errors.len(),
            errors.join("\n")
        )));
    }
    Ok(plugin)
}

/// Kafka's `ConfigInfos` for a config of `plugin`, and the error messages
/// in it (empty: valid).
pub fn validate(plugin: Plugin, config: &Config) -> (Value, Vec<String>) {
    let defs = plugin.defs();
    let mut errors_by_key: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for d in &defs {
        errors_by_key.insert(d.name, check_value(d, config.get(d.name)));
    }
    for (key, error) in plugin.cross_checks(config) {
        errors_by_key.entry(key).or_default().push(error);
    }
    if let Some(error) = dlq_among_topics(config) {
        errors_by_key
            .entry("errors.deadletterqueue.topic.name")
            .or_default()
            .push(error);
    }
    if plugin.kind() == ConnectorType::Sink {
        let set = |k: &str| config.get(k).is_some_and(|v| !v.trim().is_empty());
        let both = set("topics") && set("topics.regex");
        let neither = !set("topics") && !set("topics.regex");
        for key in ["topics", "topics.regex"] {
            if let Some(errs) = errors_by_key.get_mut(key) {
                if both {
                    errs.push(
                        "topics and topics.regex are mutually exclusive options, but both are set."
                            .into(),
                    );
                } else if neither {
                    errs.push("Must configure one of topics or topics.regex".into());
                }
            }
        }
    }
    let mut groups: Vec<&str> = Vec::new();
    for d in &defs {
        if let Some(g) = d.group {
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
    }
    let mut all_errors = Vec::new();
    let mut configs = Vec::new();
    for (order, d) in defs.iter().enumerate() {
        let errs = errors_by_key.remove(d.name).unwrap_or_default();
        all_errors.extend(errs.iter().cloned());
        let value = config.get(d.name).map(String::as_str).or(d.default);
        configs.push(json!({
            "definition": {
                "name": d.name,
                "type": d.kind.name(),
                "required": d.required,
                "default_value": d.default,
                "importance": d.importance,
                "documentation": d.doc,
                "group": d.group,
                "width": if d.group.is_some() { "MEDIUM" } else { "NONE" },
                "display_name": d.display_name,
                "dependents": [],
                "order": if d.group.is_some() { order as i64 + 1 } else { -1 },
            },
            "value": {
                "name": d.name,
                "value": value,
                "recommended_values": [],
                "errors": errs,
                "visible": true,
            }
        }));
    }
    // Each transform's and predicate's keys, in groups of their own
    // (`Transforms: route`) as Kafka's enriched ConfigDef lists them.
    let reports = transforms::chain::report(config);
    for r in &reports {
        all_errors.extend(r.errors.iter().cloned());
        if !groups.contains(&r.group.as_str()) {
            groups.push(&r.group);
        }
        let is_type = r.name.ends_with(".type");
        configs.push(json!({
            "definition": {
                "name": r.name,
                "type": if is_type { "CLASS" } else { "STRING" },
                "required": is_type,
                "default_value": null,
                "importance": "HIGH",
                "documentation": if is_type { "Class for the transformation or predicate." } else { "" },
                "group": r.group,
                "width": "LONG",
                "display_name": r.name,
                "dependents": [],
                "order": -1,
            },
            "value": {
                "name": r.name,
                "value": r.value,
                "recommended_values": [],
                "errors": r.errors,
                "visible": true,
            }
        }));
    }
    let infos = json!({
        "name": plugin.class(),
        "error_count": all_errors.len(),
        "groups": groups,
        "configs": configs,
    });
    (infos, all_errors)
}

/// Kafka's error when a sink would read its own dead-letter topic.
fn dlq_among_topics(config: &Config) -> Option<String> {
    let dlq = config.get("errors.deadletterqueue.topic.name")?.trim();
    if dlq.is_empty() {
        return None;
    }
    let listed = list(config, "topics").iter().any(|t| t == dlq);
    let matched = config
        .get("topics.regex")
        .map(|r| r.trim())
        .filter(|r| !r.is_empty())
        .and_then(|r| regex::Regex::new(&format!("^(?:{r})$")).ok())
        .is_some_and(|re| re.is_match(dlq));
    let (key, value) = if listed {
        ("topics", config.get("topics")?)
    } else if matched {
        ("topics.regex", config.get("topics.regex")?)
    } else {
        return None;
    };
    Some(format!(
        "The DLQ topic '{dlq}' may not be included in the list of topics ('{key}={value}') consumed by the connector"
    ))
}

/// Whether a boolean config is set true (Kafka reads them ignoring case).
pub fn flag(config: &Config, key: &str) -> bool {
    config
        .get(key)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Kafka's messages for one key's value.
fn check_value(d: &ConfigDef, given: Option<&String>) -> Vec<String> {
    let Some(v) = given else {
        if d.required {
            return vec![format!(
                "Missing required configuration \"{}\" which has no default value.",
                d.name
            )];
        }
        return Vec::new();
    };
    let invalid = |why: String| {
        vec![format!(
            "Invalid value {v} for configuration {}: {why}",
            d.name
        )]
    };
    let t = v.trim();
    if d.kind == ConfigType::Boolean
        && !t.eq_ignore_ascii_case("true")
        && !t.eq_ignore_ascii_case("false")
    {
        return invalid("Expected value to be either true or false".into());
    }
    let number = match d.kind {
        ConfigType::Int => match t.parse::<i32>() {
            Ok(n) => Some(i64::from(n)),
            Err(_) => return invalid("Not a number of type INT".into()),
        },
        ConfigType::Long => match t.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => return invalid("Not a number of type LONG".into()),
        },
        _ => None,
    };
    match d.check {
        Check::None => Vec::new(),
        Check::AtLeast(min) => match number {
            Some(n) if n < min => invalid(format!("Value must be at least {min}")),
            _ => Vec::new(),
        },
        Check::NonEmpty if t.is_empty() => invalid("String must be non-empty".into()),
        Check::NonEmpty => Vec::new(),
        Check::Converter => match Converter::configure(t, &BTreeMap::new()) {
            Ok(_) => Vec::new(),
            Err(_) => invalid(format!("Class {t} could not be found.")),
        },
        Check::ConnectorClass => match Plugin::find(t) {
            Some(_) => Vec::new(),
            None => invalid(format!("Class {t} could not be found.")),
        },
        Check::Regex if t.is_empty() => Vec::new(),
        Check::Regex => match regex::Regex::new(t) {
            Ok(_) => Vec::new(),
            Err(e) => invalid(format!("Invalid regular expression: {e}")),
        },
        Check::OneOf(allowed) if allowed.contains(&t) => Vec::new(),
        Check::OneOf(allowed) => invalid(format!("String must be one of: {}", allowed.join(", "))),
    }
}

/// A connector config's own converter for `key.converter` or
/// `value.converter`, or the worker's when it sets none.
pub fn converter(
    config: &Config,
    prefix: &str,
    worker: &Converter,
) -> Result<Converter, ConnectError> {
    if !config.contains_key(prefix) {
        return Ok(worker.clone());
    }
    crate::config::converter(config, prefix).map_err(|e| ConnectError::BadRequest(e.to_string()))
}

/// A list config's items: comma-separated, trimmed, empty ones left out.
pub fn list(config: &Config, key: &str) -> Vec<String> {
    config
        .get(key)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A config from key-value pairs, for tests.
#[cfg(test)]
pub(crate) fn config_of(pairs: &[(&str, &str)]) -> Config {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// An integer config (already validated), or its default.
pub fn int(config: &Config, key: &str, default: i64) -> i64 {
    config
        .get(key)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        config_of(pairs)
    }

    #[test]
    fn plugins_by_class_simple_name_and_alias() {
        assert_eq!(Plugin::find("FileStreamSource"), Some(Plugin::FileSource));
        assert_eq!(
            Plugin::find("FileStreamSinkConnector"),
            Some(Plugin::FileSink)
        );
        assert_eq!(
            Plugin::find("org.apache.kafka.connect.file.FileStreamSourceConnector"),
            Some(Plugin::FileSource)
        );
        assert_eq!(Plugin::find("DataGen"), Some(Plugin::DataGen));
        assert_eq!(Plugin::find("JdbcSource"), Some(Plugin::JdbcSource));
        assert_eq!(
            Plugin::find("io.confluent.connect.jdbc.JdbcSinkConnector"),
            Some(Plugin::JdbcSink)
        );
        assert_eq!(Plugin::find("MongoSource"), None);
    }

    #[test]
    fn validation_speaks_kafkas_messages() {
        let c = config(&[
            ("name", "s"),
            ("connector.class", "FileStreamSource"),
            ("tasks.max", "0"),
        ]);
        let (infos, errors) = validate(Plugin::FileSource, &c);
        assert_eq!(
            errors,
            vec![
                "Invalid value 0 for configuration tasks.max: Value must be at least 1".to_string(),
                "Missing required configuration \"topic\" which has no default value.".to_string(),
            ]
        );
        assert_eq!(infos["error_count"], 2);
        assert_eq!(
            infos["groups"],
            json!(["Common", "Transforms", "Predicates", "Error Handling"])
        );
        let t = config(&[
            ("name", "s"),
            ("connector.class", "FileStreamSource"),
            ("topic", "t"),
            ("transforms", "r"),
            ("transforms.r.type", "RegexRouter"),
            ("transforms.r.replacement", "x"),
        ]);
        let (infos, errors) = validate(Plugin::FileSource, &t);
        assert_eq!(
            errors,
            vec![
                "Missing required configuration \"transforms.r.regex\" which has no default value."
                    .to_string()
            ]
        );
        assert_eq!(infos["groups"][4], "Transforms: r");
        let e = check(&t).unwrap_err().to_string();
        assert!(e.contains("transforms.r.regex"), "{e}");
        let sink = config(&[("name", "k"), ("connector.class", "FileStreamSink")]);
        let (_, errors) = validate(Plugin::FileSink, &sink);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("Must configure one of topics"));
        let e = check(&sink).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "Connector configuration is invalid and contains the following 2 error(s):\n"
            ),
            "{e}"
        );
    }

    #[test]
    fn task_configs_follow_tasks_max() {
        let c = config(&[
            ("connector.class", "FileStreamSink"),
            ("tasks.max", "3"),
            ("topics", "t"),
        ]);
        let tasks = Plugin::FileSink.task_configs(&c);
        assert_eq!(tasks.len(), 3);
        assert_eq!(
            tasks[0]["task.class"],
            "org.apache.kafka.connect.file.FileStreamSinkTask"
        );
        let c = config(&[
            ("connector.class", "FileStreamSource"),
            ("tasks.max", "3"),
            ("topic", "t"),
        ]);
        assert_eq!(Plugin::FileSource.task_configs(&c).len(), 1);
    }
}
