//! A sink task's loop: one member of the consumer group
//! `connect-<connector>` (Kafka's name for it), fetching its partitions,
//! converting and transforming records and handing them to the task.
//!
//! Offsets are committed every `offset.flush.interval.ms`, before a
//! rebalance and when the task stops, each time only after the task
//! flushed what it was given: what the group has committed is written.
//! A new member starts from the group's committed offsets, or from the
//! earliest offset where there are none (Connect's `auto.offset.reset`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use runnel_common::kafka::fetch::{FetchPosition, EARLIEST};
use runnel_common::kafka::group::{consumer, GroupConfig, GroupError, GroupMember};
use runnel_common::kafka::{Batches, Client, ErrorCode, KafkaError};

use super::errors::{Consumed, ErrorPolicy, Failure, Stage};
use super::{SinkRecord, TargetState, TaskControl, TaskError, TaskSpec, Worker};
use crate::plugins::file::FileSinkTask;
use crate::plugins::jdbc::sink::JdbcSinkTask;
use crate::plugins::Plugin;
use crate::transforms::{Chain, Record};

/// How long a fetch waits for records.
const FETCH_WAIT_MS: i32 = 500;
const FETCH_MAX_BYTES: i32 = 8 << 20;
const PARTITION_MAX_BYTES: i32 = 1 << 20;
/// Kafka's `OFFSET_OUT_OF_RANGE`.
const OFFSET_OUT_OF_RANGE: ErrorCode = ErrorCode(1);

enum SinkTask {
    File(FileSinkTask),
    Jdbc(Box<JdbcSinkTask>),
}

impl SinkTask {
    async fn put(&mut self, records: &[SinkRecord]) -> Result<(), TaskError> {
        match self {
            SinkTask::File(t) => t.put(records),
            SinkTask::Jdbc(t) => t.put(records).await,
        }
    }

    /// Makes what `put` was given durable; a JDBC sink commits in `put`.
    fn flush(&mut self) -> Result<(), TaskError> {
        match self {
            SinkTask::File(t) => t.flush(),
            SinkTask::Jdbc(_) => Ok(()),
        }
    }
}

/// Kafka's group id of a sink connector's consumers.
pub fn group_id(connector: &str) -> String {
    format!("connect-{connector}")
}

/// The topics a sink reads: `topics`, or those matching `topics.regex`.
enum Topics {
    List(Vec<String>),
    Regex(regex::Regex),
}

impl Topics {
    fn of(spec: &TaskSpec) -> Result<Topics, TaskError> {
        let get = |k: &str| {
            spec.config
                .get(k)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        if let Some(re) = get("topics.regex") {
            let full = format!("^(?:{re})$");
            return regex::Regex::new(&full)
                .map(Topics::Regex)
                .map_err(|e| TaskError::Config(format!("topics.regex: {e}")));
        }
        let list: Vec<String> = get("topics")
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
        Ok(Topics::List(list))
    }

    async fn resolve(&self, client: &Client) -> Result<Vec<String>, KafkaError> {
        match self {
            Topics::List(l) => Ok(l.clone()),
            Topics::Regex(re) => {
                let md = client.metadata(None, false).await?;
                Ok(md
                    .topics
                    .keys()
                    .filter(|t| re.is_match(t))
                    .cloned()
                    .collect())
            }
        }
    }
}

struct Consumer<'a> {
    worker: &'a Worker,
    /// This task's own client (see [`run`]).
    client: Arc<Client>,
    spec: &'a TaskSpec,
    /// The connector's transforms, run on records before the task's put.
    chain: Chain,
    /// `errors.tolerance`, its log and dead-letter queue.
    errors: ErrorPolicy,
    task: SinkTask,
    member: GroupMember,
    /// Next offset to read per assigned partition.
    positions: BTreeMap<(String, i32), i64>,
    /// Leader per assigned partition (refreshed after any fetch error).
    leaders: BTreeMap<(String, i32), i32>,
    last_commit: Instant,
    last_heartbeat: Instant,
}

/// Whether the member must go back and join again.
enum Next {
    Rejoin,
    Stop,
}

pub(super) async fn run(
    worker: &Worker,
    spec: &TaskSpec,
    ctl: &mut TaskControl,
) -> Result<(), TaskError> {
    let task = match spec.plugin {
        Plugin::FileSink => SinkTask::File(FileSinkTask::new(&spec.config)?),
        Plugin::JdbcSink => SinkTask::Jdbc(Box::new(JdbcSinkTask::new(&spec.config)?)),
        _ => return Err(TaskError::Config("not a sink connector".into())),
    };
    let topics = Topics::of(spec)?;
    let chain = Chain::configure(&spec.config).map_err(|e| TaskError::Config(e.to_string()))?;
    // Each task has connections of its own, as each of Kafka's consumers
    // has: a broker answers a connection's requests in order, so tasks
    // sharing one would wait behind each other's long-poll fetches and
    // group joins (which a coordinator holds until every member joined).
    let client = Arc::new(super::task_client(worker, spec, "consumer").await?);
    let mut c = Consumer {
        worker,
        client: client.clone(),
        spec,
        chain,
        errors: ErrorPolicy::new(spec),
        task,
        member: GroupMember::new(client, GroupConfig::consumer(&group_id(&spec.connector))),
        positions: BTreeMap::new(),
        leaders: BTreeMap::new(),
        last_commit: Instant::now(),
        last_heartbeat: Instant::now(),
    };
    let result = c.run(&topics, ctl).await;
    if let Err(e) = c.member.leave().await {
        tracing::debug!(error = %e, "leaving the group");
    }
    result
}

fn group_err(e: GroupError) -> TaskError {
    TaskError::Kafka(e.to_string())
}

impl Consumer<'_> {
    async fn run(&mut self, topics: &Topics, ctl: &mut TaskControl) -> Result<(), TaskError> {
        loop {
            if ctl.current().await == TargetState::Stopped {
                return Ok(());
            }
            let wanted = topics
                .resolve(&self.client)
                .await
                .map_err(|e| TaskError::Kafka(e.to_string()))?;
            match self.join(&wanted).await {
                Ok(()) => {}
                Err(e) if e.needs_rejoin() || e.coordinator_moved() => {
                    tracing::debug!(error = %e, "joining again");
                    ctl.sleep(Duration::from_millis(200)).await;
                    continue;
                }
                Err(e) => return Err(group_err(e)),
            }
            match self.consume(ctl).await? {
                Next::Rejoin => continue,
                Next::Stop => return Ok(()),
            }
        }
    }

    async fn join(&mut self, topics: &[String]) -> Result<(), GroupError> {
        let client = self.client.clone();
        let assignment = consumer::join(&mut self.member, &client, topics).await?;
        tracing::info!(group = %self.member.config().group_id, ?assignment, "joined the group");
        let committed = self.member.fetch_offsets(Some(&assignment)).await?;
        self.positions.clear();
        self.leaders.clear();
        for (topic, partitions) in &assignment {
            let mut missing = Vec::new();
            for &p in partitions {
                match committed.get(&(topic.clone(), p)) {
                    Some(&o) if o >= 0 => {
                        self.positions.insert((topic.clone(), p), o);
                    }
                    _ => missing.push(p),
                }
            }
            if !missing.is_empty() {
                for (p, res) in client.list_offsets(topic, &missing, EARLIEST).await? {
                    self.positions.insert((topic.clone(), p), res?);
                }
            }
        }
        self.last_heartbeat = Instant::now();
        Ok(())
    }

    /// Flushes the task, then commits the positions.
    async fn commit(&mut self) -> Result<(), TaskError> {
        self.task.flush()?;
        self.last_commit = Instant::now();
        match self.member.commit_offsets(&self.positions).await {
            Ok(()) => Ok(()),
            // The group moved on: what was written is written, and the
            // next member re-reads from the last commit (at least once).
            Err(e) if e.needs_rejoin() || e.coordinator_moved() => {
                tracing::info!(error = %e, "offset commit refused; rejoining");
                Ok(())
            }
            Err(e) => Err(group_err(e)),
        }
    }

    async fn consume(&mut self, ctl: &mut TaskControl) -> Result<Next, TaskError> {
        let interval = self.worker.config.offset_flush_interval;
        let heartbeat = self.member.config().heartbeat_interval;
        loop {
            match ctl.current().await {
                TargetState::Stopped => {
                    self.commit().await?;
                    return Ok(Next::Stop);
                }
                TargetState::Paused => ctl.sleep(Duration::from_millis(200)).await,
                TargetState::Started => self.fetch_once().await?,
            }
            if self.last_commit.elapsed() >= interval {
                self.commit().await?;
            }
            if self.last_heartbeat.elapsed() >= heartbeat {
                self.last_heartbeat = Instant::now();
                match self.member.heartbeat().await {
                    Ok(()) => {}
                    Err(e) if e.needs_rejoin() || e.coordinator_moved() => {
                        tracing::info!(error = %e, "rebalancing");
                        self.commit().await?;
                        return Ok(Next::Rejoin);
                    }
                    Err(e) => return Err(group_err(e)),
                }
            }
        }
    }

    async fn refresh_leaders(&mut self) -> Result<(), KafkaError> {
        let topics: Vec<&str> = {
            let mut t: Vec<&str> = self.positions.keys().map(|(t, _)| t.as_str()).collect();
            t.dedup();
            t
        };
        let md = self.client.metadata(Some(&topics), false).await?;
        self.leaders = self
            .positions
            .keys()
            .filter_map(|(t, p)| md.leader(t, *p).map(|l| ((t.clone(), *p), l)))
            .collect();
        Ok(())
    }

    /// One fetch per leader and topic; records go to the task.
    async fn fetch_once(&mut self) -> Result<(), TaskError> {
        if self.positions.is_empty() {
            tokio::time::sleep(Duration::from_millis(FETCH_WAIT_MS as u64)).await;
            return Ok(());
        }
        if self.leaders.len() < self.positions.len() {
            if let Err(e) = self.refresh_leaders().await {
                tracing::debug!(error = %e, "no leaders yet");
                tokio::time::sleep(Duration::from_millis(200)).await;
                return Ok(());
            }
        }
        let mut requests: BTreeMap<(i32, String), Vec<FetchPosition>> = BTreeMap::new();
        for ((topic, p), &offset) in &self.positions {
            if let Some(&leader) = self.leaders.get(&(topic.clone(), *p)) {
                requests
                    .entry((leader, topic.clone()))
                    .or_default()
                    .push(FetchPosition {
                        partition: *p,
                        offset,
                        max_bytes: PARTITION_MAX_BYTES,
                    });
            }
        }
        for ((leader, topic), positions) in requests {
            let fetched = match self
                .client
                .fetch(leader, &topic, &positions, FETCH_WAIT_MS, FETCH_MAX_BYTES)
                .await
            {
                Ok(f) => f,
                Err(e) => {
                    tracing::debug!(%topic, error = %e, "fetch failed");
                    self.leaders.clear();
                    continue;
                }
            };
            for part in fetched {
                let key = (part.topic.clone(), part.partition);
                match part.error {
                    None => {}
                    Some(OFFSET_OUT_OF_RANGE) => {
                        let reset = self
                            .client
                            .list_offsets(&part.topic, &[part.partition], EARLIEST)
                            .await
                            .ok()
                            .and_then(|mut m| m.remove(&part.partition))
                            .and_then(Result::ok);
                        if let Some(o) = reset {
                            tracing::warn!(topic = %part.topic, partition = part.partition, offset = o, "offset out of range; reset to the earliest");
                            self.positions.insert(key, o);
                        }
                        continue;
                    }
                    Some(_) => {
                        self.leaders.clear();
                        continue;
                    }
                }
                let Some(&from) = self.positions.get(&key) else {
                    continue;
                };
                let (records, next) = self
                    .decode(&part.topic, part.partition, from, part.records)
                    .await?;
                if !records.is_empty() {
                    self.task.put(&records).await?;
                }
                self.positions.insert(key, next);
            }
        }
        Ok(())
    }

    /// The records at or after `from`, converted and transformed (those a
    /// transform dropped left out), and the next offset. A record a stage
    /// fails on is the task's error, or under `errors.tolerance=all`
    /// skipped, logged and sent to the dead-letter queue as configured.
    async fn decode(
        &mut self,
        topic: &str,
        partition: i32,
        from: i64,
        data: bytes::Bytes,
    ) -> Result<(Vec<SinkRecord>, i64), TaskError> {
        let mut next = from;
        let mut out = Vec::new();
        for batch in Batches::new(data) {
            let batch =
                batch.map_err(|e| TaskError::Kafka(format!("reading {topic}-{partition}: {e}")))?;
            if batch.header.next_offset() <= next {
                continue;
            }
            let records = batch
                .records()
                .map_err(|e| TaskError::Kafka(format!("reading {topic}-{partition}: {e}")))?;
            for r in records {
                if r.offset < next {
                    continue;
                }
                let spec = self.spec;
                let converted = spec
                    .key_converter
                    .to_connect(r.key.as_deref())
                    .map_err(|e| (Stage::KeyConverter, spec.key_converter.class(), "key", e))
                    .and_then(|key| {
                        spec.value_converter
                            .to_connect(r.value.as_deref())
                            .map(|value| (key, value))
                            .map_err(|e| {
                                (
                                    Stage::ValueConverter,
                                    spec.value_converter.class(),
                                    "value",
                                    e,
                                )
                            })
                    });
                let (key, value) = match converted {
                    Ok(kv) => kv,
                    Err((stage, class, what, e)) => {
                        let error = TaskError::Convert(format!(
                            "{what} of {topic}-{partition}@{}: {e}",
                            r.offset
                        ));
                        let failure = Failure::new(stage, class, error);
                        let consumed = Consumed::of(topic, partition, &r);
                        self.errors.report(&self.client, failure, &consumed).await?;
                        continue;
                    }
                };
                if self.chain.is_empty() {
                    out.push(SinkRecord {
                        topic: topic.to_string(),
                        partition,
                        offset: r.offset,
                        timestamp: r.timestamp,
                        key,
                        value,
                        headers: r.headers,
                    });
                    continue;
                }
                // The record as read stays for a failure's report, so the
                // transforms get a copy of its headers.
                let transformed = self.chain.run(Record {
                    topic: topic.to_string(),
                    partition: Some(partition),
                    offset: Some(r.offset),
                    timestamp: Some(r.timestamp),
                    key,
                    value,
                    headers: r.headers.clone(),
                });
                match transformed {
                    Ok(Some(t)) => out.push(SinkRecord {
                        topic: t.topic,
                        partition: t.partition.unwrap_or(partition),
                        offset: t.offset.unwrap_or(r.offset),
                        timestamp: t.timestamp.unwrap_or(r.timestamp),
                        key: t.key,
                        value: t.value,
                        headers: t.headers,
                    }),
                    // Dropped: behind `next` all the same, so its offset
                    // is committed with the others'.
                    Ok(None) => {}
                    Err((class, e)) => {
                        let error = TaskError::Transform(e.to_string());
                        let stage = Stage::Transformation;
                        let failure = Failure::new(stage, class, error);
                        let consumed = Consumed::of(topic, partition, &r);
                        self.errors.report(&self.client, failure, &consumed).await?;
                    }
                }
            }
            next = batch.header.next_offset();
        }
        Ok((out, next))
    }
}
