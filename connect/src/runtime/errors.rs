//! Kafka Connect's error handling for bad records (KIP-298), with its
//! config names:
//!
//! * `errors.tolerance=none` (default): a record a converter or transform
//!   cannot handle fails the task, as before.
//! * `errors.tolerance=all`: such a record is skipped and the task goes on;
//!   `errors.log.enable` logs each one (with the record's coordinates, and
//!   its key and value with `errors.log.include.messages`).
//! * Sinks: `errors.deadletterqueue.topic.name` receives each skipped
//!   record as it was consumed (key, value and headers), plus, with
//!   `errors.deadletterqueue.context.headers.enable`, Kafka's
//!   `__connect.errors.*` headers saying where it came from and what went
//!   wrong. The topic is created (one partition,
//!   `errors.deadletterqueue.topic.replication.factor`) when missing.
//!
//! `errors.retry.timeout` and `errors.retry.delay.max.ms` are accepted: they
//! retry *retriable* failures of these stages, and no converter or
//! transform of this worker fails retriably (Kafka's `DataException`s
//! are not retried either).

use runnel_common::kafka::{BatchBuilder, Client, Codec, ErrorCode, NewTopic};

use super::source::Producer;
use super::{Headers, TaskError, TaskSpec};
use crate::plugins::Config;

/// Where in a record's way through the worker it failed (Kafka's
/// `Stage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    KeyConverter,
    ValueConverter,
    Transformation,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::Transformation => "TRANSFORMATION",
        }
    }
}

/// A consumed record as it was read, for the log and the dead-letter
/// queue.
pub struct Consumed<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: &'a Headers,
}

impl<'a> Consumed<'a> {
    /// A record of `topic`-`partition` as the fetch decoded it.
    pub fn of(topic: &'a str, partition: i32, r: &'a runnel_common::kafka::Record) -> Consumed<'a> {
        Consumed {
            topic,
            partition,
            offset: r.offset,
            timestamp: r.timestamp,
            key: r.key.as_deref(),
            value: r.value.as_deref(),
            headers: &r.headers,
        }
    }
}

/// What failed: the stage, the class doing it and its error.
pub struct Failure<'a> {
    pub stage: Stage,
    pub class: &'a str,
    pub error: TaskError,
}

impl<'a> Failure<'a> {
    pub fn new(stage: Stage, class: &'a str, error: TaskError) -> Failure<'a> {
        Failure {
            stage,
            class,
            error,
        }
    }
}

/// Kafka's `DataException`, the class of every error a stage reports.
const EXCEPTION_CLASS: &str = "org.apache.kafka.connect.errors.DataException";
/// Kafka's header names for the error context.
const HEADER_PREFIX: &str = "__connect.errors.";

struct DeadLetterQueue {
    topic: String,
    replication_factor: i16,
    context_headers: bool,
    /// Whether the topic is known to exist.
    ready: bool,
}

/// A task's error handling, from its connector's config.
pub struct ErrorPolicy {
    tolerate_all: bool,
    log: bool,
    log_messages: bool,
    connector: String,
    task: u32,
    dlq: Option<DeadLetterQueue>,
    /// Records skipped so far (in the log lines).
    skipped: u64,
}

impl ErrorPolicy {
    pub fn new(spec: &TaskSpec) -> ErrorPolicy {
        let c = &spec.config;
        let dlq = c
            .get("errors.deadletterqueue.topic.name")
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .map(|topic| DeadLetterQueue {
                topic: topic.to_string(),
                replication_factor: crate::plugins::int(
                    c,
                    "errors.deadletterqueue.topic.replication.factor",
                    3,
                )
                .clamp(-1, i64::from(i16::MAX)) as i16,
                context_headers: crate::plugins::flag(
                    c,
                    "errors.deadletterqueue.context.headers.enable",
                ),
                ready: false,
            });
        ErrorPolicy {
            tolerate_all: tolerates_all(c),
            log: crate::plugins::flag(c, "errors.log.enable"),
            log_messages: crate::plugins::flag(c, "errors.log.include.messages"),
            connector: spec.connector.clone(),
            task: spec.id,
            dlq,
            skipped: 0,
        }
    }

    /// A failure of a record with no consumed form (a source record):
    /// skipped and logged when tolerated, the task's error otherwise.
    pub fn tolerate(&mut self, failure: Failure<'_>, what: &str) -> Result<(), TaskError> {
        if !self.tolerate_all {
            return Err(failure.error);
        }
        self.skipped += 1;
        if self.log {
            tracing::error!(
                connector = %self.connector, task = self.task, stage = failure.stage.name(),
                class = failure.class, record = %what, error = %failure.error, skipped = self.skipped,
                "error encountered in the task; the record is skipped (errors.tolerance=all)"
            );
        }
        Ok(())
    }

    /// A failure of a consumed record: skipped, logged and sent to the
    /// dead-letter queue when tolerated, the task's error otherwise.
    pub async fn report(
        &mut self,
        client: &Client,
        failure: Failure<'_>,
        record: &Consumed<'_>,
    ) -> Result<(), TaskError> {
        let what = if self.log_messages {
            format!(
                "{{topic='{}', partition={}, offset={}, timestamp={}, key={}, value={}}}",
                record.topic,
                record.partition,
                record.offset,
                record.timestamp,
                text(record.key),
                text(record.value)
            )
        } else {
            format!(
                "{{topic='{}', partition={}, offset={}, timestamp={}}}",
                record.topic, record.partition, record.offset, record.timestamp
            )
        };
        let message = failure.error.to_string();
        let (stage, class) = (failure.stage, failure.class);
        self.tolerate(failure, &what)?;
        let Some(dlq) = self.dlq.as_mut() else {
            return Ok(());
        };
        if !dlq.ready {
            create_topic(client, &dlq.topic, dlq.replication_factor).await?;
            dlq.ready = true;
        }
        let mut headers: Vec<(String, Option<Vec<u8>>)> = record
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.as_ref().map(|b| b.to_vec())))
            .collect();
        if dlq.context_headers {
            let context = [
                ("topic", record.topic.to_string()),
                ("partition", record.partition.to_string()),
                ("offset", record.offset.to_string()),
                ("connector.name", self.connector.clone()),
                ("task.id", self.task.to_string()),
                ("stage", stage.name().to_string()),
                ("class.name", class.to_string()),
                ("exception.class.name", EXCEPTION_CLASS.to_string()),
                ("exception.message", message.clone()),
                (
                    "exception.stacktrace",
                    format!("{EXCEPTION_CLASS}: {message}"),
                ),
            ];
            for (name, value) in context {
                headers.push((format!("{HEADER_PREFIX}{name}"), Some(value.into_bytes())));
            }
        }
        let refs: Vec<(&str, Option<&[u8]>)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        let mut batch = BatchBuilder::new(Codec::None);
        batch.push(record.timestamp, record.key, record.value, &refs);
        let batch = batch
            .finish()
            .map_err(|e| TaskError::Kafka(format!("building a dead-letter record: {e}")))?;
        Producer::new(client).produce(&dlq.topic, 0, batch).await
    }
}

/// Whether the config says `errors.tolerance=all`.
pub fn tolerates_all(config: &Config) -> bool {
    config
        .get("errors.tolerance")
        .is_some_and(|v| v.trim() == "all")
}

/// Creates the dead-letter topic unless it exists.
async fn create_topic(
    client: &Client,
    topic: &str,
    replication_factor: i16,
) -> Result<(), TaskError> {
    let new = NewTopic {
        name: topic.to_string(),
        partitions: Some(1),
        replication_factor: Some(replication_factor),
        configs: Vec::new(),
    };
    let results = client
        .create_topics(&[new], 30_000)
        .await
        .map_err(|e| TaskError::Kafka(format!("creating the dead-letter topic {topic}: {e}")))?;
    for (_, r) in results {
        match r {
            Ok(()) => tracing::info!(topic, "created the dead-letter queue topic"),
            Err(e) if e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => {}
            Err(e) => {
                return Err(TaskError::Kafka(format!(
                    "creating the dead-letter topic {topic}: {e}"
                )))
            }
        }
    }
    Ok(())
}

fn text(b: Option<&[u8]>) -> String {
    b.map_or_else(
        || "null".into(),
        |b| String::from_utf8_lossy(b).into_owned(),
    )
}
