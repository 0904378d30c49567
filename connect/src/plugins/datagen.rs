//! `DataGen`: a source of generated records for demos and tests, with the
//! config names of Confluent's datagen connector where they apply
//! (`kafka.topic`, `max.interval`, `iterations`).
//!
//! Each task writes a struct `{id, task, text, created_ms}`, keyed by its
//! id (a string), every `max.interval` milliseconds; its offset (`{"id": next}` under the
//! partition `{"task": n}`) lets a restarted task go on with the next id.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{checked, def, Check, Config, ConfigDef, ConfigType};
use crate::data::{Data, Schema, SchemaAndValue, Type};
use crate::runtime::{SourceRecord, TaskError};

pub(super) static DEFS: &[ConfigDef] = &[
    checked(
        def(
            "kafka.topic",
            ConfigType::String,
            None,
            true,
            "Topic to write to",
        ),
        Check::NonEmpty,
    ),
    checked(
        def(
            "max.interval",
            ConfigType::Long,
            Some("500"),
            false,
            "Milliseconds between two records of a task",
        ),
        Check::AtLeast(0),
    ),
    def(
        "iterations",
        ConfigType::Long,
        Some("-1"),
        false,
        "Records each task writes in all; -1 for no end",
    ),
];

/// The most records one poll returns when `max.interval` is 0.
const BURST: usize = 500;

pub struct DataGenTask {
    topic: String,
    task: u32,
    interval: Duration,
    iterations: i64,
    next_id: i64,
    last: Option<Instant>,
}

impl DataGenTask {
    pub fn new(config: &Config, task: u32, stored: Option<Value>) -> DataGenTask {
        DataGenTask {
            topic: config.get("kafka.topic").cloned().unwrap_or_default(),
            task,
            interval: Duration::from_millis(super::int(config, "max.interval", 500).max(0) as u64),
            iterations: super::int(config, "iterations", -1),
            next_id: stored
                .as_ref()
                .and_then(|o| o.get("id"))
                .and_then(Value::as_i64)
                .unwrap_or(0),
            last: None,
        }
    }

    pub fn partition(task: u32) -> Value {
        json!({"task": task})
    }

    fn schema() -> Schema {
        Schema::of(Type::Struct)
            .named("io.runnel.connect.datagen.Record")
            .field("id", Schema::of(Type::Int64))
            .field("task", Schema::of(Type::Int32))
            .field("text", Schema::of(Type::String))
            .field("created_ms", Schema::of(Type::Int64))
    }

    pub fn poll(&mut self) -> Result<Vec<SourceRecord>, TaskError> {
        let due = match self.last {
            None => true,
            Some(t) => t.elapsed() >= self.interval,
        };
        if !due {
            return Ok(Vec::new());
        }
        self.last = Some(Instant::now());
        let count = if self.interval.is_zero() { BURST } else { 1 };
        let mut out = Vec::new();
        for _ in 0..count {
            if self.iterations >= 0 && self.next_id >= self.iterations {
                break;
            }
            let id = self.next_id;
            self.next_id += 1;
            out.push(SourceRecord {
                headers: Vec::new(),
                partition: Self::partition(self.task),
                offset: json!({"id": self.next_id}),
                topic: self.topic.clone(),
                // The id as the key: records spread over the topic's
                // partitions as keyed records do.
                key: SchemaAndValue {
                    schema: Some(Schema::of(Type::String)),
                    value: Data::String(id.to_string()),
                },
                value: SchemaAndValue {
                    schema: Some(Self::schema()),
                    value: Data::Struct(vec![
                        ("id".into(), Data::Int(id)),
                        ("task".into(), Data::Int(i64::from(self.task))),
                        ("text".into(), Data::String(format!("record-{id}"))),
                        (
                            "created_ms".into(),
                            Data::Int(runnel_common::clock::now_ms()),
                        ),
                    ]),
                },
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_the_stored_offset_up_to_iterations() {
        let config: Config = [
            ("kafka.topic".to_string(), "t".to_string()),
            ("max.interval".to_string(), "0".to_string()),
            ("iterations".to_string(), "5".to_string()),
        ]
        .into_iter()
        .collect();
        let mut t = DataGenTask::new(&config, 0, Some(json!({"id": 3})));
        let r = t.poll().unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].offset, json!({"id": 5}));
        assert!(t.poll().unwrap().is_empty());
    }
}
