//! A source task's loop: poll, transform, convert, produce, record
//! offsets.
//!
//! Records of one poll go to each topic as one batch, written with
//! `acks=all`; only once the leader acknowledged them are their offsets
//! put in the offset store, so a crash can repeat records (at least once)
//! but never skip any. A record with a key goes to the partition Kafka's
//! producers pick for it (murmur2 of the converted key), so one key's
//! records stay in order in one partition whichever client wrote the
//! others; the records of a poll without a key go together to one
//! partition, the next one for the next poll (Kafka's sticky partitioner).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use runnel_common::kafka::partitioner::partition_for_key;
use runnel_common::kafka::{BatchBuilder, Client, Codec, ErrorCode, KafkaError};

use super::errors::{ErrorPolicy, Failure, Stage};
use super::{SourceRecord, TargetState, TaskControl, TaskError, TaskSpec, Worker};
use crate::plugins::datagen::DataGenTask;
use crate::plugins::file::FileSourceTask;
use crate::plugins::jdbc::source::JdbcSourceTask;
use crate::plugins::Plugin;
use crate::transforms::{Chain, Record};

/// How long an idle task waits before polling again.
const IDLE: Duration = Duration::from_millis(200);
/// Produce attempts on retriable errors before the task fails.
const PRODUCE_ATTEMPTS: u32 = 20;
/// The most record bytes one produced batch holds: a poll's records for
/// one partition are split into batches of this size (Kafka's producer
/// splits by `batch.size`), well under the broker's default
/// `message.max.bytes` of 1 MiB.
const MAX_BATCH_BYTES: usize = 512 << 10;
/// `request.timeout.ms` of the worker's producer.
const PRODUCE_TIMEOUT_MS: i32 = 30_000;

enum SourceTask {
    File(FileSourceTask),
    DataGen(DataGenTask),
    Jdbc(Box<JdbcSourceTask>),
}

impl SourceTask {
    async fn poll(&mut self) -> Result<Vec<SourceRecord>, TaskError> {
        match self {
            SourceTask::File(t) => t.poll(),
            SourceTask::DataGen(t) => t.poll(),
            SourceTask::Jdbc(t) => t.poll().await,
        }
    }
}

fn open(worker: &Worker, spec: &TaskSpec) -> Result<SourceTask, TaskError> {
    match spec.plugin {
        Plugin::FileSource => {
            let partition = FileSourceTask::partition(&spec.config);
            let stored = worker.offsets.get(&spec.connector, &partition);
            Ok(SourceTask::File(FileSourceTask::new(&spec.config, stored)?))
        }
        Plugin::DataGen => {
            let partition = DataGenTask::partition(spec.id);
            let stored = worker.offsets.get(&spec.connector, &partition);
            Ok(SourceTask::DataGen(DataGenTask::new(
                &spec.config,
                spec.id,
                stored,
            )))
        }
        Plugin::JdbcSource => {
            // Its tables (partitions) may be known only once it has listed
            // them, so it looks their offsets up itself.
            let offsets = worker.offsets.clone();
            let connector = spec.connector.clone();
            let stored = Box::new(move |p: &serde_json::Value| offsets.get(&connector, p));
            Ok(SourceTask::Jdbc(Box::new(JdbcSourceTask::new(
                &spec.config,
                stored,
            )?)))
        }
        Plugin::FileSink | Plugin::JdbcSink => {
            Err(TaskError::Config("not a source connector".into()))
        }
    }
}

pub(super) async fn run(
    worker: &Worker,
    spec: &TaskSpec,
    ctl: &mut TaskControl,
) -> Result<(), TaskError> {
    let mut task = open(worker, spec)?;
    let chain = Chain::configure(&spec.config).map_err(|e| TaskError::Config(e.to_string()))?;
    // Its own connections, as each of Kafka's source tasks has its own
    // producer: a shared connection answers in order, so one task's slow
    // request would hold up the others'.
    let client = super::task_client(worker, spec, "producer").await?;
    let mut producer = Producer::new(&client);
    let mut errors = ErrorPolicy::new(spec);
    let result = pump(
        worker,
        spec,
        ctl,
        &chain,
        &mut task,
        &mut producer,
        &mut errors,
    )
    .await;
    // What this task had acknowledged is written before it goes, so the
    // task that follows it (a restart, a new config) starts from there.
    if let Err(e) = worker.offsets.flush() {
        tracing::error!(error = %e, "cannot write source offsets");
    }
    result
}

/// Polls and sends until told to stop.
async fn pump(
    worker: &Worker,
    spec: &TaskSpec,
    ctl: &mut TaskControl,
    chain: &Chain,
    task: &mut SourceTask,
    producer: &mut Producer<'_>,
    errors: &mut ErrorPolicy,
) -> Result<(), TaskError> {
    loop {
        match ctl.current().await {
            TargetState::Stopped => return Ok(()),
            TargetState::Paused => {
                ctl.sleep(Duration::from_secs(3600)).await;
                continue;
            }
            TargetState::Started => {}
        }
        let records = task.poll().await?;
        if records.is_empty() {
            ctl.sleep(IDLE).await;
            continue;
        }
        let out = transform(chain, errors, &records)?;
        if !out.is_empty() {
            producer.send(spec, errors, &out).await?;
        }
        // A record a transform dropped is processed all the same: its
        // offset is stored with the others'.
        for r in &records {
            worker
                .offsets
                .put(&spec.connector, &r.partition, r.offset.clone());
        }
    }
}

/// The records of one poll through the connector's transforms, those
/// dropped left out; without transforms, the records themselves (not a
/// copy). Source records have no timestamp of their own yet: transforms
/// see the poll time (what the producer writes).
fn transform<'a>(
    chain: &Chain,
    errors: &mut ErrorPolicy,
    records: &'a [SourceRecord],
) -> Result<Cow<'a, [SourceRecord]>, TaskError> {
    if chain.is_empty() {
        return Ok(Cow::Borrowed(records));
    }
    let now = runnel_common::clock::now_ms();
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        let t = chain.run(Record {
            headers: r.headers.clone(),
            topic: r.topic.clone(),
            partition: None,
            offset: None,
            timestamp: Some(now),
            key: r.key.clone(),
            value: r.value.clone(),
        });
        let t = match t {
            Ok(t) => t,
            Err((class, e)) => {
                let stage = Stage::Transformation;
                let error = TaskError::Transform(e.to_string());
                errors.tolerate(Failure::new(stage, class, error), &describe(r))?;
                continue;
            }
        };
        if let Some(t) = t {
            out.push(SourceRecord {
                headers: t.headers,
                partition: r.partition.clone(),
                offset: r.offset.clone(),
                topic: t.topic,
                key: t.key,
                value: t.value,
            });
        }
    }
    Ok(Cow::Owned(out))
}

/// Sends batches to partitions with retries, learning partition counts.
pub(super) struct Producer<'a> {
    client: &'a Client,
    /// Per topic: its partition count and the partition of the next batch.
    partitions: BTreeMap<String, (i32, i32)>,
}

impl<'a> Producer<'a> {
    pub(super) fn new(client: &'a Client) -> Producer<'a> {
        Producer {
            client,
            partitions: BTreeMap::new(),
        }
    }

    /// Converts and sends a poll's records; a record a converter fails on
    /// is the task's error, or skipped under `errors.tolerance=all`.
    async fn send(
        &mut self,
        spec: &TaskSpec,
        errors: &mut ErrorPolicy,
        records: &[SourceRecord],
    ) -> Result<(), TaskError> {
        // Per partition, its batches in order, each under MAX_BATCH_BYTES.
        let mut batches: BTreeMap<(&str, i32), Vec<BatchBuilder>> = BTreeMap::new();
        // This poll's partition for records without a key, per topic.
        let mut sticky: BTreeMap<&str, i32> = BTreeMap::new();
        let now = runnel_common::clock::now_ms();
        for r in records {
            let converted = spec
                .key_converter
                .from_connect(&r.key)
                .map_err(|e| (Stage::KeyConverter, spec.key_converter.class(), e));
            let converted = converted.and_then(|key| {
                spec.value_converter
                    .from_connect(&r.value)
                    .map(|value| (key, value))
                    .map_err(|e| (Stage::ValueConverter, spec.value_converter.class(), e))
            });
            let (key, value) = match converted {
                Ok(kv) => kv,
                Err((stage, class, e)) => {
                    let error = TaskError::Convert(e.to_string());
                    errors.tolerate(Failure::new(stage, class, error), &describe(r))?;
                    continue;
                }
            };
            let partition = match key.as_deref() {
                Some(key) => partition_for_key(key, self.partition_count(&r.topic).await?),
                None => match sticky.get(r.topic.as_str()) {
                    Some(p) => *p,
                    None => {
                        let p = self.next_partition(&r.topic).await?;
                        sticky.insert(&r.topic, p);
                        p
                    }
                },
            };
            let headers: Vec<(&str, Option<&[u8]>)> = r
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_deref()))
                .collect();
            let size = key.as_ref().map_or(0, |k| k.len()) + value.as_ref().map_or(0, |v| v.len());
            let queue = batches.entry((&r.topic, partition)).or_default();
            match queue.last_mut() {
                Some(b) if b.is_empty() || b.size_in_bytes() + size <= MAX_BATCH_BYTES => {}
                _ => queue.push(BatchBuilder::new(Codec::None)),
            }
            if let Some(b) = queue.last_mut() {
                b.push(now, key.as_deref(), value.as_deref(), &headers);
            }
        }
        for ((topic, partition), queue) in batches {
            for batch in queue {
                let batch = batch
                    .finish()
                    .map_err(|e| TaskError::Kafka(format!("building a batch for {topic}: {e}")))?;
                self.produce(topic, partition, batch).await?;
            }
        }
        Ok(())
    }

    /// One batch to one partition, retried while the error is retriable
    /// (a leader moving).
    pub(super) async fn produce(
        &mut self,
        topic: &str,
        partition: i32,
        batch: Bytes,
    ) -> Result<(), TaskError> {
        let mut last = None;
        for attempt in 0..PRODUCE_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt.min(10)))).await;
            }
            match self
                .client
                .produce(topic, partition, batch.clone(), -1, PRODUCE_TIMEOUT_MS)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if retriable(&e) => {
                    tracing::debug!(topic, partition, error = %e, "produce failed; retrying");
                    // Learn the partition count again for the next records
                    // (this batch keeps its partition: its keys chose it).
                    self.partitions.remove(topic);
                    last = Some(e);
                }
                Err(e) => return Err(TaskError::Kafka(e.to_string())),
            }
        }
        Err(TaskError::Kafka(format!(
            "producing to {topic} failed {PRODUCE_ATTEMPTS} times: {}",
            last.map(|e| e.to_string()).unwrap_or_default()
        )))
    }

    /// The partition for the topic's next records without a key.
    async fn next_partition(&mut self, topic: &str) -> Result<i32, TaskError> {
        self.partition_count(topic).await?;
        let Some((count, next)) = self.partitions.get_mut(topic) else {
            return Err(TaskError::Kafka(format!("no partitions known for {topic}")));
        };
        let p = *next;
        *next = (*next + 1) % *count;
        Ok(p)
    }

    /// The topic's partition count, asked once; retried while the topic is
    /// being created or has a partition without a leader.
    async fn partition_count(&mut self, topic: &str) -> Result<i32, TaskError> {
        let mut last = None;
        for attempt in 0..PRODUCE_ATTEMPTS {
            if let Some((count, _)) = self.partitions.get(topic) {
                return Ok(*count);
            }
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt.min(10)))).await;
            }
            match self.layout(topic).await {
                Ok(()) => {}
                Err(e) if retriable(&e) => last = Some(e),
                Err(e) => return Err(TaskError::Kafka(e.to_string())),
            }
        }
        Err(TaskError::Kafka(format!(
            "metadata of {topic} failed {PRODUCE_ATTEMPTS} times: {}",
            last.map(|e| e.to_string()).unwrap_or_default()
        )))
    }

    /// Asks for the topic's metadata (the broker creates it when
    /// `auto.create.topics.enable`, as Kafka Connect relies on) and keeps
    /// its partition count, starting its unkeyed records at a partition of
    /// the clock's choosing so tasks do not all begin at partition 0.
    async fn layout(&mut self, topic: &str) -> Result<(), KafkaError> {
        let md = self.client.metadata(Some(&[topic]), true).await?;
        let t = md.topics.get(topic);
        let count = t.map_or(0, |t| t.partitions.len() as i32);
        if count == 0 || t.is_some_and(|t| t.partitions.iter().any(|p| p.leader < 0)) {
            let code = t
                .and_then(|t| t.error)
                .unwrap_or(ErrorCode::LEADER_NOT_AVAILABLE);
            return Err(KafkaError::broker(
                format!("metadata of {topic}"),
                code,
                None,
            ));
        }
        let start = (runnel_common::clock::now_ms() % i64::from(count)) as i32;
        self.partitions.insert(topic.to_string(), (count, start));
        Ok(())
    }
}

/// A source record as error logs name it.
fn describe(r: &SourceRecord) -> String {
    format!(
        "{{topic='{}', sourcePartition={}, sourceOffset={}}}",
        r.topic, r.partition, r.offset
    )
}

/// Errors worth another try: retriable codes, and trouble with a
/// connection (metadata will say where to go next).
pub(super) fn retriable(e: &KafkaError) -> bool {
    match e.code() {
        Some(code) => code.is_retriable() || code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        None => !matches!(e, KafkaError::Invalid(_) | KafkaError::Batch(_)),
    }
}
