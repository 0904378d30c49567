//! `runnel perf consume`: kafka-consumer-perf-test.sh.
//!
//! Reads every partition of the topic from its earliest offset until
//! `--messages` records arrived (or nothing came for `--timeout` ms).
//!
//! # Pipelining
//!
//! A broker's partitions are spread over `--connections` fetch loops (by
//! default one per partition), each with its own connection and one fetch
//! in flight that asks for all of the loop's partitions, as Kafka's
//! consumer asks a broker. So a topic of N partitions read with the
//! default has N fetches in flight at once, and a broker, which answers
//! the requests of a connection one at a time, serves them side by side.
//! `--connections 1` is Kafka's consumer: fewer, bigger fetches, which
//! costs less CPU when tailing a topic that is being written.
//!
//! A loop also fetches ahead: as soon as a response is in it walks the
//! batch headers for the next offsets and sends the next fetch, and only
//! then checks the CRCs and counts the records, while the broker already
//! reads the next chunk.
//!
//! Records are counted from batch headers and their key and value bytes
//! summed by walking the records without copying them, so the consumer
//! costs little next to the broker; CRCs are checked as Kafka's consumer
//! checks them (`check.crcs=true`).
//!
//! # Latency
//!
//! Two latencies are reported: the fetch round trip, and end to end: from
//! when the producer built a batch to the arrival of the fetch response
//! that carries it, counted once per record. `runnel perf produce` writes
//! its wall-clock send time in microseconds into the first record of each
//! batch (see [`super::read_send_time`]); for batches without it (other
//! producers) the batch's newest record timestamp is used, which is in
//! whole milliseconds and so reads 0–1 ms high. End to end only means
//! something while a producer runs at the same time, on the same host.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::Args;
use kafka_protocol::messages::FetchRequest;
use runnel_common::kafka::fetch::{self, FetchPosition, EARLIEST, FETCH_VERSIONS};
use runnel_common::kafka::{Batches, Connection, PendingResponse, RawBatch};

use super::histogram::{ms, Histogram};
use super::{mb, now_us, read_send_time};
use crate::cli::connect;

#[derive(Args, Debug)]
pub struct PerfConsumeArgs {
    #[arg(long)]
    pub bootstrap_server: String,
    #[arg(long)]
    pub topic: String,
    /// Records to consume.
    #[arg(long, alias = "num-records")]
    pub messages: u64,
    /// Bytes per partition per fetch (max.partition.fetch.bytes).
    #[arg(long, default_value_t = 1 << 20)]
    pub fetch_size: i32,
    /// Fetch loops (each with its own connection) per broker, the
    /// partitions spread over them (default: one per partition).
    #[arg(long)]
    pub connections: Option<usize>,
    /// How long the broker may hold a fetch that finds no new data
    /// (fetch.max.wait.ms).
    #[arg(long, default_value_t = 100)]
    pub fetch_max_wait_ms: i32,
    /// Stop when no record arrived for this many ms.
    #[arg(long, default_value_t = 10_000)]
    pub timeout: u64,
    /// Milliseconds between progress lines.
    #[arg(long, default_value_t = 5000)]
    pub reporting_interval: u64,
    /// A Kafka client properties file; its security settings
    /// (security.protocol, ssl.*, sasl.*) are used to connect, other keys
    /// are named on stderr as unused. `--command-config` works too.
    #[arg(
        long = "consumer.config",
        alias = "command-config",
        value_name = "FILE"
    )]
    pub command_config: Option<String>,
}

struct Counters {
    records: AtomicU64,
    bytes: AtomicU64,
    /// Set to true by the loop whose records complete the count, so loops
    /// waiting on a long poll stop at once instead of inflating the time.
    done: tokio::sync::watch::Sender<bool>,
}

/// What one partition's loop needs besides its connection.
struct Feed {
    topic: String,
    version: i16,
    target: u64,
    timeout: Duration,
    max_wait_ms: i32,
    counters: Arc<Counters>,
}

/// What a partition loop measured.
#[derive(Default)]
struct Measured {
    fetch: Histogram,
    e2e: Histogram,
    /// Records whose end-to-end time came from a send time in the payload.
    stamped: u64,
}

pub async fn run(a: PerfConsumeArgs) -> anyhow::Result<()> {
    let client = connect(
        &a.bootstrap_server,
        Duration::from_secs(30),
        a.command_config.as_deref(),
    )
    .await?;
    let topic = a.topic.as_str();
    let (md, t) = crate::cli::existing_topic(&client, topic).await?;
    let partitions: Vec<i32> = t.partitions.iter().map(|p| p.partition).collect();
    let mut by_leader: BTreeMap<i32, Vec<FetchPosition>> = BTreeMap::new();
    for (p, off) in client.list_offsets(topic, &partitions, EARLIEST).await? {
        let leader = md
            .leader(topic, p)
            .ok_or_else(|| anyhow!("{topic}-{p} has no leader"))?;
        by_leader.entry(leader).or_default().push(FetchPosition {
            partition: p,
            offset: off?,
            max_bytes: a.fetch_size,
        });
    }
    let counters = Arc::new(Counters {
        records: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        done: tokio::sync::watch::channel(false).0,
    });
    let mut loops = Vec::new();
    for (leader, positions) in by_leader {
        let first = client.node(leader).await?;
        let addr = first.addr().to_string();
        let wanted = a
            .connections
            .unwrap_or(positions.len())
            .clamp(1, positions.len());
        let mut conns = vec![first];
        while conns.len() < wanted {
            let c = Connection::connect(&addr, client.config())
                .await
                .with_context(|| format!("opening another connection to {addr}"))?;
            conns.push(Arc::new(c));
        }
        let version = conns[0].version::<FetchRequest>(FETCH_VERSIONS)?;
        let mut groups: Vec<Vec<FetchPosition>> = vec![Vec::new(); conns.len()];
        for (i, pos) in positions.into_iter().enumerate() {
            groups[i % conns.len()].push(pos);
        }
        for (conn, group) in conns.into_iter().zip(groups) {
            let feed = Feed {
                topic: topic.to_string(),
                version,
                target: a.messages,
                timeout: Duration::from_millis(a.timeout),
                max_wait_ms: a.fetch_max_wait_ms.max(0),
                counters: counters.clone(),
            };
            loops.push((conn, group, feed));
        }
    }
    let start = Instant::now();
    let tasks: Vec<_> = loops
        .into_iter()
        .map(|(conn, group, feed)| tokio::spawn(fetch_loop(conn, group, feed)))
        .collect();
    let reporter = tokio::spawn(report(counters.clone(), a.reporting_interval));
    let mut all = Measured::default();
    let mut end = start;
    let mut error = None;
    for t in tasks {
        match t.await {
            Ok(Ok((m, done_at))) => {
                all.fetch.merge(&m.fetch);
                all.e2e.merge(&m.e2e);
                all.stamped += m.stamped;
                if let Some(t) = done_at {
                    end = end.max(t);
                }
            }
            Ok(Err(e)) => error = Some(e),
            Err(e) => error = Some(anyhow!("fetch task failed: {e}")),
        }
    }
    reporter.abort();
    let secs = end.duration_since(start).as_secs_f64().max(1e-9);
    let n = counters.records.load(Ordering::Relaxed);
    let bytes = counters.bytes.load(Ordering::Relaxed) as f64;
    let e2e_source = if all.e2e.count() > 0 && all.stamped * 2 >= all.e2e.count() {
        "send time in payload"
    } else {
        "record timestamps, ms"
    };
    println!(
        "{n} records consumed, {:.1} records/sec ({:.2} MB/sec), {:.2} MB in {:.3} s; fetch latency {} ms avg, {} ms 50th, {} ms 99th, {} ms 99.9th; end-to-end {} ms 50th, {} ms 99th, {} ms 99.9th, {} ms max ({e2e_source}).",
        n as f64 / secs,
        mb(bytes) / secs,
        mb(bytes),
        secs,
        ms(all.fetch.mean()),
        ms(all.fetch.quantile(0.5) as f64),
        ms(all.fetch.quantile(0.99) as f64),
        ms(all.fetch.quantile(0.999) as f64),
        ms(all.e2e.quantile(0.5) as f64),
        ms(all.e2e.quantile(0.99) as f64),
        ms(all.e2e.quantile(0.999) as f64),
        ms(all.e2e.max() as f64),
    );
    if let Some(e) = error {
        return Err(e);
    }
    if n < a.messages {
        bail!(
            "only {n} of {} records arrived before {} ms without data",
            a.messages,
            a.timeout
        );
    }
    Ok(())
}

type InFlight = (PendingResponse<FetchRequest>, Instant);

async fn send_fetch(
    conn: &Connection,
    feed: &Feed,
    positions: &[FetchPosition],
) -> anyhow::Result<InFlight> {
    let per_partition = positions
        .iter()
        .map(|p| p.max_bytes.max(0))
        .max()
        .unwrap_or(0);
    let max_bytes = per_partition
        .saturating_mul(positions.len() as i32)
        .clamp(1 << 20, 64 << 20);
    let req = fetch::request(&feed.topic, positions, feed.max_wait_ms, 1, max_bytes);
    let pending = conn.send(&req, feed.version).await?;
    Ok((pending, Instant::now()))
}

/// Fetches some partitions, one fetch ahead, until the shared count
/// reaches the target. Returns what it measured and, if this loop
/// completed the count or gave up waiting for data, when.
async fn fetch_loop(
    conn: Arc<Connection>,
    mut positions: Vec<FetchPosition>,
    feed: Feed,
) -> anyhow::Result<(Measured, Option<Instant>)> {
    let topic = feed.topic.as_str();
    let counters = &feed.counters;
    let mut done = counters.done.subscribe();
    let mut m = Measured::default();
    let mut last_data = Instant::now();
    let mut next: Option<InFlight> = None;
    let mut completed_at = None;
    loop {
        if counters.records.load(Ordering::Relaxed) >= feed.target {
            return Ok((m, completed_at));
        }
        if last_data.elapsed() >= feed.timeout {
            return Ok((m, Some(last_data)));
        }
        let (pending, sent) = match next.take() {
            Some(f) => f,
            None => send_fetch(&conn, &feed, &positions).await?,
        };
        let resp = tokio::select! {
            r = pending.wait() => r?,
            _ = done.changed() => return Ok((m, None)),
        };
        let arrived = Instant::now();
        let arrived_us = now_us();
        m.fetch
            .record_n(arrived.duration_since(sent).as_micros() as u64, 1);
        // Headers only: where the next fetch starts.
        let mut batches: Vec<(i32, RawBatch)> = Vec::new();
        let mut records = 0u64;
        for part in fetch::partitions(resp)? {
            let Some(pos) = positions.iter_mut().find(|p| p.partition == part.partition) else {
                continue;
            };
            if let Some(code) = part.error {
                bail!("fetch from {topic}-{}: {code}", part.partition);
            }
            for batch in Batches::new(part.records) {
                let batch = batch.with_context(|| format!("reading {topic}-{}", pos.partition))?;
                let h = &batch.header;
                if h.is_control() || h.next_offset() <= pos.offset {
                    pos.offset = pos.offset.max(h.next_offset());
                    continue;
                }
                pos.offset = h.next_offset();
                records += h.records_count.max(0) as u64;
                batches.push((pos.partition, batch));
            }
        }
        // Fetch ahead unless these records complete the count.
        if counters.records.load(Ordering::Relaxed) + records < feed.target {
            next = Some(send_fetch(&conn, &feed, &positions).await?);
        }
        // Then the per-batch work, while the broker reads the next chunk.
        let mut bytes = 0u64;
        for (partition, batch) in &batches {
            batch
                .verify_crc()
                .with_context(|| format!("{topic}-{partition} at {}", batch.header.base_offset))?;
            let n = batch.header.records_count.max(0) as u64;
            let (b, first_value_stamp) = scan(batch)?;
            bytes += b;
            let ts_us = batch.header.max_timestamp.saturating_mul(1000);
            // A send time in the payload counts only if it agrees with the
            // record timestamp (it is the same instant, in µs).
            let sent_us = match first_value_stamp {
                Some(us) if (us as i64 - ts_us).abs() < 2000 => {
                    m.stamped += n;
                    us as i64
                }
                _ => ts_us,
            };
            m.e2e
                .record_n((arrived_us as i64 - sent_us).max(0) as u64, n);
        }
        if records > 0 {
            last_data = arrived;
            counters.bytes.fetch_add(bytes, Ordering::Relaxed);
            let before = counters.records.fetch_add(records, Ordering::Relaxed);
            if before < feed.target && before + records >= feed.target {
                completed_at = Some(arrived);
                counters.done.send_replace(true);
            }
        }
    }
}

/// Key and value bytes of a batch's records, as Kafka's consumer perf tool
/// counts "data consumed", and the send time in the first record's value
/// if it carries one. Uncompressed batches are walked in place.
fn scan(batch: &RawBatch) -> anyhow::Result<(u64, Option<u64>)> {
    if batch.header.codec()? != runnel_common::kafka::Codec::None {
        let records = batch.records()?;
        let stamp = records
            .first()
            .and_then(|r| r.value.as_deref())
            .and_then(read_send_time);
        let total = records
            .iter()
            .map(|r| {
                (r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len()))
                    as u64
            })
            .sum();
        return Ok((total, stamp));
    }
    let mut buf = &batch.bytes[runnel_common::kafka::batch::BATCH_HEADER_LEN..];
    let mut total = 0u64;
    let mut stamp = None;
    for i in 0..batch.header.records_count.max(0) {
        let len = varint(&mut buf)? as usize;
        let Some(mut rec) = buf.get(..len) else {
            bail!("record runs past its batch");
        };
        buf = &buf[len..];
        rec = rec.get(1..).unwrap_or_default(); // attributes
        varint(&mut rec)?; // timestamp delta
        varint(&mut rec)?; // offset delta
        for field in 0..2 {
            let n = varint(&mut rec)?;
            if n > 0 {
                total += n as u64;
                let value = rec.get(..n as usize).unwrap_or_default();
                if i == 0 && field == 1 {
                    stamp = read_send_time(value);
                }
                rec = rec.get(n as usize..).unwrap_or_default();
            }
        }
    }
    Ok((total, stamp))
}

fn varint(buf: &mut &[u8]) -> anyhow::Result<i64> {
    let mut z: u64 = 0;
    for shift in (0..70).step_by(7) {
        let Some((&b, rest)) = buf.split_first() else {
            bail!("record truncated");
        };
        *buf = rest;
        z |= ((b & 0x7f) as u64) << shift;
        if b & 0x80 == 0 {
            return Ok(((z >> 1) as i64) ^ -((z & 1) as i64));
        }
    }
    bail!("varint too long")
}

async fn report(counters: Arc<Counters>, interval_ms: u64) {
    let interval = Duration::from_millis(interval_ms.max(100));
    let (mut last_n, mut last_b, mut last) = (0u64, 0u64, Instant::now());
    loop {
        tokio::time::sleep(interval).await;
        let n = counters.records.load(Ordering::Relaxed);
        let b = counters.bytes.load(Ordering::Relaxed);
        let secs = last.elapsed().as_secs_f64().max(1e-9);
        println!(
            "{} records consumed, {:.1} records/sec ({:.2} MB/sec).",
            n - last_n,
            (n - last_n) as f64 / secs,
            mb((b - last_b) as f64) / secs
        );
        (last_n, last_b, last) = (n, b, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::perf::write_send_time;
    use runnel_common::kafka::{BatchBuilder, Codec};

    #[test]
    fn scan_counts_keys_and_values() {
        for codec in [Codec::None, Codec::Lz4] {
            let mut b = BatchBuilder::new(codec);
            b.push(1, Some(b"key"), Some(&[7u8; 300]), &[("h", Some(b"zz"))]);
            b.push(1, None, Some(b"12345"), &[]);
            b.push(1, None, None, &[]);
            let batch = Batches::new(b.finish().unwrap()).next().unwrap().unwrap();
            assert_eq!(scan(&batch).unwrap(), (308, None));
        }
    }

    #[test]
    fn scan_finds_the_send_time() {
        for codec in [Codec::None, Codec::Gzip] {
            let mut value = vec![b'A'; 100];
            write_send_time(&mut value, 1_700_000_000_123_456);
            let mut b = BatchBuilder::new(codec);
            b.push(1_700_000_000_123, None, Some(&value), &[]);
            b.push(1_700_000_000_123, None, Some(&[b'A'; 100]), &[]);
            let batch = Batches::new(b.finish().unwrap()).next().unwrap().unwrap();
            assert_eq!(scan(&batch).unwrap(), (200, Some(1_700_000_000_123_456)));
        }
    }
}
