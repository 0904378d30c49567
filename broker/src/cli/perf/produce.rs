//! `runnel perf produce`: kafka-producer-perf-test.sh.
//!
//! Records of `--record-size` random capital letters (one payload, as
//! Kafka's tool uses) go to every partition of the topic, batch by batch
//! round the partitions (Kafka's sticky partitioner does the same for
//! keyless records). Each leader gets its own connection and sending loop
//! with up to `max.in.flight.requests.per.connection` requests in flight,
//! each request carrying one batch per partition that has records due.
//!
//! Latency is Kafka's: from the moment a record is handed to the producer
//! to its acknowledgement. Throttled (`--throughput N`), a record is handed
//! over at its scheduled time `i / N` and waits in the "accumulator" while
//! the window is full, so queueing counts; unthrottled, at the moment its
//! batch is built. With `acks=0` the "acknowledgement" is the write to the
//! socket.
//!
//! With `--duration S` the producer stops handing over records after S
//! seconds (or at `--num-records`, whichever comes first), then waits for
//! those in flight: a run of bounded length whatever the machine's speed.
//!
//! The first record of each batch carries the batch's send time in
//! microseconds at the start of its value (see [`super::write_send_time`];
//! records of 12 bytes or more), so `runnel perf consume` can measure end
//! to end below the millisecond. The record timestamp is the same instant
//! in milliseconds.
//!
//! Output: a progress line per `--reporting-interval` and a final line,
//! in kafka-producer-perf-test.sh's words, latencies in ms with decimals.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use clap::Args;
use kafka_protocol::messages::ProduceRequest;
use rand::Rng;
use runnel_common::kafka::produce::{self, PRODUCE_VERSIONS};
use runnel_common::kafka::{BatchBuilder, Client, Codec, Connection, KafkaError, NewTopic};

use super::histogram::{ms, Histogram};
use super::{mb, now_us, write_send_time};
use crate::cli::{client_security, connect_with, parse_key_values};

#[derive(Args, Debug)]
pub struct PerfProduceArgs {
    /// host:port of a broker (or bootstrap.servers in --producer-props).
    #[arg(long)]
    pub bootstrap_server: Option<String>,
    #[arg(long)]
    pub topic: String,
    #[arg(long)]
    pub num_records: u64,
    /// Bytes of value per record.
    #[arg(long)]
    pub record_size: usize,
    /// Stop handing over records after this many seconds, even before
    /// --num-records.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Records per second to aim for; -1: as fast as possible.
    #[arg(long, allow_hyphen_values = true)]
    pub throughput: f64,
    /// 0, 1 or all/-1 (overrides acks in --producer-props; default all).
    #[arg(long)]
    pub acks: Option<String>,
    /// Create the topic with this many partitions if it does not exist.
    #[arg(long)]
    pub partitions: Option<i32>,
    /// Replication factor for a topic created by --partitions.
    #[arg(long)]
    pub replication_factor: Option<i16>,
    /// Producer settings: acks, batch.size (16384), compression.type (none),
    /// max.in.flight.requests.per.connection (5), request.timeout.ms (30000),
    /// bootstrap.servers, and the security settings of --producer.config
    /// (security.protocol, ssl.*, sasl.*).
    #[arg(long = "producer-props", value_name = "KEY=VALUE", num_args = 1..)]
    pub producer_props: Vec<String>,
    /// batch.size in bytes (overrides --producer-props).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Milliseconds between progress lines.
    #[arg(long, default_value_t = 5000)]
    pub reporting_interval: u64,
    /// A Kafka client properties file; its security settings
    /// (security.protocol, ssl.*, sasl.*) are used to connect, other keys
    /// are named on stderr as unused. Security keys in --producer-props
    /// override it. `--command-config` works too.
    #[arg(
        long = "producer.config",
        alias = "command-config",
        value_name = "FILE"
    )]
    pub command_config: Option<String>,
}

struct Settings {
    acks: i16,
    batch_size: usize,
    codec: Codec,
    max_in_flight: usize,
    timeout_ms: i32,
}

/// Counters the reporter reads: the current window and the totals.
#[derive(Default)]
struct Progress {
    window_records: u64,
    window_latency_sum: u128,
    window_latency_max: u64,
    errors: u64,
    first_error: Option<String>,
}

pub async fn run(a: PerfProduceArgs) -> anyhow::Result<()> {
    let props = parse_key_values(&a.producer_props, "--producer-props")?;
    let bootstrap = a
        .bootstrap_server
        .clone()
        .or_else(|| props.get("bootstrap.servers").cloned())
        .ok_or_else(|| {
            anyhow!("--bootstrap-server (or bootstrap.servers in --producer-props) is required")
        })?;
    let acks_text = a
        .acks
        .clone()
        .or_else(|| props.get("acks").cloned())
        .unwrap_or_else(|| "all".into());
    let num = |key: &str, default: usize| -> anyhow::Result<usize> {
        props
            .get(key)
            .map(|v| {
                v.parse::<usize>()
                    .with_context(|| format!("{key}={v} is not a number"))
            })
            .unwrap_or(Ok(default))
    };
    let settings = Settings {
        acks: produce::parse_acks(&acks_text)
            .ok_or_else(|| anyhow!("acks must be 0, 1, -1 or all, got {acks_text}"))?,
        batch_size: match a.batch_size {
            Some(b) => b,
            None => num("batch.size", 16384)?,
        },
        codec: {
            let c = props.get("compression.type").map_or("none", String::as_str);
            Codec::parse(c).ok_or_else(|| anyhow!("unknown compression.type {c}"))?
        },
        max_in_flight: num("max.in.flight.requests.per.connection", 5)?.max(1),
        timeout_ms: num("request.timeout.ms", 30_000)?.min(i32::MAX as usize) as i32,
    };
    if a.record_size == 0 {
        bail!("--record-size must be at least 1");
    }
    let security = client_security(a.command_config.as_deref(), &props, "--producer-props")?;
    let client = connect_with(
        &bootstrap,
        Duration::from_millis(settings.timeout_ms as u64 + 5000),
        security,
    )
    .await?;
    let leaders = prepare_topic(&client, &a).await?;

    let mut rng = rand::thread_rng();
    let payload: Bytes = (0..a.record_size)
        .map(|_| rng.gen_range(b'A'..=b'Z'))
        .collect::<Vec<u8>>()
        .into();
    let total_partitions: usize = leaders.iter().map(|(_, p)| p.len()).sum();
    let progress = Arc::new(Mutex::new(Progress::default()));
    let settings = Arc::new(settings);
    let start = Instant::now();
    let deadline = a
        .duration
        .filter(|d| d.is_finite() && *d >= 0.0)
        .map(|d| start + Duration::from_secs_f64(d));
    let mut lanes = Vec::new();
    let mut assigned = 0u64;
    for (i, (leader, parts)) in leaders.iter().enumerate() {
        // Records and rate split by partition share.
        let share = if i + 1 == leaders.len() {
            a.num_records - assigned
        } else {
            a.num_records * parts.len() as u64 / total_partitions as u64
        };
        assigned += share;
        let rate = (a.throughput > 0.0)
            .then(|| a.throughput * parts.len() as f64 / total_partitions as f64);
        let conn = client.node(*leader).await?;
        let lane = Lane {
            conn,
            topic: a.topic.clone(),
            partitions: parts.clone(),
            records: share,
            rate,
            deadline,
            payload: payload.clone(),
            settings: settings.clone(),
            progress: progress.clone(),
            start,
        };
        lanes.push(tokio::spawn(lane.run()));
    }

    let reporter = tokio::spawn(report(
        progress.clone(),
        a.reporting_interval,
        a.record_size,
    ));
    let mut hist = Histogram::new();
    let mut lane_error = None;
    for lane in lanes {
        match lane.await {
            Ok(Ok(h)) => hist.merge(&h),
            Ok(Err(e)) => lane_error = Some(e),
            Err(e) => lane_error = Some(anyhow!("sending task failed: {e}")),
        }
    }
    let elapsed = start.elapsed().as_secs_f64().max(1e-9);
    reporter.abort();
    let p = progress.lock().unwrap_or_else(|e| e.into_inner());
    let n = hist.count();
    println!(
        "{n} records sent, {:.1} records/sec ({:.2} MB/sec), {} ms avg latency, {} ms max latency, {} ms 50th, {} ms 95th, {} ms 99th, {} ms 99.9th.",
        n as f64 / elapsed,
        mb(n as f64 * a.record_size as f64) / elapsed,
        ms(hist.mean()),
        ms(hist.max() as f64),
        ms(hist.quantile(0.5) as f64),
        ms(hist.quantile(0.95) as f64),
        ms(hist.quantile(0.99) as f64),
        ms(hist.quantile(0.999) as f64),
    );
    if let Some(e) = lane_error {
        return Err(e);
    }
    if p.errors > 0 {
        bail!(
            "{} records failed; first error: {}",
            p.errors,
            p.first_error.clone().unwrap_or_default()
        );
    }
    Ok(())
}

/// The topic's partitions grouped by leader, creating the topic first when
/// `--partitions` asks for it and it does not exist.
async fn prepare_topic(
    client: &Client,
    a: &PerfProduceArgs,
) -> anyhow::Result<Vec<(i32, Vec<i32>)>> {
    let topic = a.topic.as_str();
    let exists = |md: &runnel_common::kafka::ClusterMetadata| {
        md.topics
            .get(topic)
            .is_some_and(|t| t.error.is_none() && !t.partitions.is_empty())
    };
    let md = client.metadata(Some(&[topic]), false).await?;
    if !exists(&md) {
        if let Some(p) = a.partitions {
            let new = NewTopic {
                name: topic.to_string(),
                partitions: Some(p),
                replication_factor: a.replication_factor,
                configs: Vec::new(),
            };
            for (_, res) in client.create_topics(&[new], 30_000).await? {
                match res {
                    Err(e)
                        if e.code()
                            != Some(runnel_common::kafka::ErrorCode::TOPIC_ALREADY_EXISTS) =>
                    {
                        return Err(e.into())
                    }
                    _ => {}
                }
            }
        }
    }
    // Wait until every partition has a leader (a new topic takes a moment).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let md = client
            .metadata(Some(&[topic]), a.partitions.is_none())
            .await?;
        if let Some(t) = md.topics.get(topic).filter(|_| exists(&md)) {
            if let Some(p) = a.partitions {
                if p as usize != t.partitions.len() {
                    eprintln!(
                        "[runnel perf] topic {topic} exists with {} partitions; using them (--partitions {p} ignored)",
                        t.partitions.len()
                    );
                }
            }
            // Every leader must also serve the partition: its own view of a
            // new topic can trail the broker that answered Metadata.
            let ids: Vec<i32> = t.partitions.iter().map(|p| p.partition).collect();
            let served = t.partitions.iter().all(|p| p.leader >= 0)
                && client
                    .list_offsets(topic, &ids, runnel_common::kafka::fetch::LATEST)
                    .await
                    .is_ok_and(|m| m.values().all(Result::is_ok));
            if served {
                let mut by_leader: std::collections::BTreeMap<i32, Vec<i32>> = Default::default();
                for p in &t.partitions {
                    by_leader.entry(p.leader).or_default().push(p.partition);
                }
                return Ok(by_leader.into_iter().collect());
            }
        }
        if Instant::now() > deadline {
            bail!(
                "topic {topic} has no leader for every partition (create it, or pass --partitions)"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One leader's share of the load.
struct Lane {
    conn: Arc<Connection>,
    topic: String,
    partitions: Vec<i32>,
    records: u64,
    rate: Option<f64>,
    deadline: Option<Instant>,
    payload: Bytes,
    settings: Arc<Settings>,
    progress: Arc<Mutex<Progress>>,
    start: Instant,
}

/// What one batch in flight needs for accounting: its records' hand-over
/// times run evenly from `first` to `last`.
struct BatchInfo {
    partition: i32,
    records: u64,
    first: Instant,
    last: Instant,
}

struct InFlight {
    response: std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<kafka_protocol::messages::ProduceResponse, KafkaError>,
                > + Send,
        >,
    >,
    batches: Vec<BatchInfo>,
}

impl Lane {
    async fn run(self) -> anyhow::Result<Histogram> {
        let version = self.conn.version::<ProduceRequest>(PRODUCE_VERSIONS)?;
        let s = self.settings.clone();
        let mut hist = Histogram::new();
        let mut in_flight: VecDeque<InFlight> = VecDeque::new();
        let mut sent = 0u64;
        let mut next_partition = 0usize;
        // What --num-records or, once the deadline passed, what was sent.
        let mut limit = self.records;
        // The payload of each batch's first record, with its send time.
        let mut stamped = self.payload.to_vec();
        loop {
            if sent < limit && self.deadline.is_some_and(|d| Instant::now() >= d) {
                limit = sent;
            }
            while in_flight.len() >= s.max_in_flight || (sent == limit && !in_flight.is_empty()) {
                if let Some(f) = in_flight.pop_front() {
                    let resp = f.response.await;
                    self.account(resp, &f.batches, &mut hist);
                }
            }
            if sent == limit {
                break;
            }
            let due = match self.rate {
                None => limit - sent,
                Some(r) => {
                    let allowed = (self.start.elapsed().as_secs_f64() * r) as u64 + 1;
                    allowed.min(limit).saturating_sub(sent)
                }
            };
            if due == 0 {
                let r = self.rate.unwrap_or(f64::MAX);
                let mut next_at = self.start + Duration::from_secs_f64(sent as f64 / r);
                if let Some(d) = self.deadline {
                    next_at = next_at.min(d);
                }
                match in_flight.front_mut() {
                    Some(head) => {
                        tokio::select! {
                            resp = &mut head.response => {
                                if let Some(f) = in_flight.pop_front() {
                                    self.account(resp, &f.batches, &mut hist);
                                }
                            }
                            _ = tokio::time::sleep_until(next_at.into()) => {}
                        }
                    }
                    None => tokio::time::sleep_until(next_at.into()).await,
                }
                continue;
            }
            // One batch per partition, round the partitions, while records are due.
            let mut remaining = due;
            let mut batches = Vec::new();
            let mut infos = Vec::new();
            let now = Instant::now();
            let ts_us = now_us();
            let ts = (ts_us / 1000) as i64;
            let has_stamp = write_send_time(&mut stamped, ts_us);
            for _ in 0..self.partitions.len() {
                if remaining == 0 {
                    break;
                }
                let partition = self.partitions[next_partition % self.partitions.len()];
                next_partition += 1;
                let mut b = BatchBuilder::with_capacity(s.codec, s.batch_size.min(64 << 20));
                let room = self.payload.len() + 24;
                if has_stamp {
                    b.push(ts, None, Some(&stamped), &[]);
                }
                while (b.len() as u64) < remaining
                    && (b.is_empty() || b.size_in_bytes() + room <= s.batch_size)
                {
                    b.push(ts, None, Some(&self.payload), &[]);
                }
                let n = b.len() as u64;
                let (first, last) = match self.rate {
                    None => (now, now),
                    Some(r) => {
                        let at = |i: u64| self.start + Duration::from_secs_f64(i as f64 / r);
                        (at(sent).min(now), at(sent + n - 1).min(now))
                    }
                };
                sent += n;
                remaining -= n;
                batches.push((partition, b.finish()?));
                infos.push(BatchInfo {
                    partition,
                    records: n,
                    first,
                    last,
                });
            }
            let req = produce::request(s.acks, s.timeout_ms, &self.topic, batches);
            if s.acks == 0 {
                self.conn.send_no_reply(&req, version).await?;
                let ok = Ok(kafka_protocol::messages::ProduceResponse::default());
                self.account(ok, &infos, &mut hist);
            } else {
                let pending = self.conn.send(&req, version).await?;
                in_flight.push_back(InFlight {
                    response: Box::pin(pending.wait()),
                    batches: infos,
                });
            }
        }
        Ok(hist)
    }

    /// Records latencies and errors of one answered request.
    fn account(
        &self,
        resp: Result<kafka_protocol::messages::ProduceResponse, KafkaError>,
        batches: &[BatchInfo],
        hist: &mut Histogram,
    ) {
        let now = Instant::now();
        let acks = match &resp {
            Ok(r) => produce::acks(r),
            Err(_) => Vec::new(),
        };
        let mut p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        for b in batches {
            let failure = match &resp {
                Err(e) => Some(e.to_string()),
                Ok(_) if self.settings.acks == 0 => None,
                Ok(_) => match acks.iter().find(|a| a.partition == b.partition) {
                    Some(a) => a.result.as_ref().err().map(|e| e.to_string()),
                    None => Some(format!("no answer for {}-{}", self.topic, b.partition)),
                },
            };
            if let Some(f) = failure {
                p.errors += b.records;
                if p.first_error.is_none() {
                    eprintln!("[runnel perf] produce failed: {f}");
                    p.first_error = Some(f);
                }
                continue;
            }
            let newest = now.saturating_duration_since(b.last).as_micros() as u64;
            let oldest = now.saturating_duration_since(b.first).as_micros() as u64;
            let mut sum = 0u128;
            if b.records <= 1 || oldest == newest {
                hist.record_n(oldest, b.records);
                sum += oldest as u128 * b.records as u128;
            } else {
                for i in 0..b.records {
                    let lat = oldest - (oldest - newest) * i / (b.records - 1);
                    hist.record_n(lat, 1);
                    sum += lat as u128;
                }
            }
            p.window_records += b.records;
            p.window_latency_sum += sum;
            p.window_latency_max = p.window_latency_max.max(oldest);
        }
    }
}

/// Prints kafka-producer-perf-test.sh's progress line every `interval_ms`.
async fn report(progress: Arc<Mutex<Progress>>, interval_ms: u64, record_size: usize) {
    let interval = Duration::from_millis(interval_ms.max(100));
    let mut last = Instant::now();
    loop {
        tokio::time::sleep(interval).await;
        let now = Instant::now();
        let secs = now.duration_since(last).as_secs_f64().max(1e-9);
        last = now;
        let (n, sum, max) = {
            let mut p = progress.lock().unwrap_or_else(|e| e.into_inner());
            let out = (p.window_records, p.window_latency_sum, p.window_latency_max);
            p.window_records = 0;
            p.window_latency_sum = 0;
            p.window_latency_max = 0;
            out
        };
        let avg = if n == 0 { 0.0 } else { sum as f64 / n as f64 };
        println!(
            "{n} records sent, {:.1} records/sec ({:.2} MB/sec), {} ms avg latency, {} ms max latency.",
            n as f64 / secs,
            mb(n as f64 * record_size as f64) / secs,
            ms(avg),
            ms(max as f64)
        );
    }
}
