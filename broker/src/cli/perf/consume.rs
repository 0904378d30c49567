//! `runnel perf consume`: kafka-consumer-perf-test.sh.
//!
//! Reads every partition of the topic from its earliest offset until
//! `--messages` records arrived (or nothing came for `--timeout` ms), one
//! fetch in flight per leader. Records are counted from batch headers and
//! their key and value bytes summed by walking the records without copying
//! them, so the consumer costs little next to the broker; CRCs are checked
//! as Kafka's consumer checks them (`check.crcs=true`).
//!
//! Two latencies are reported: the fetch round trip, and end to end — the
//! time from a batch's newest record timestamp (set by the producer) to its
//! arrival here, in whole milliseconds as timestamps are. End to end only
//! means something while a producer runs at the same time.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::Args;
use kafka_protocol::messages::FetchRequest;
use runnel_common::kafka::fetch::{self, FetchPosition, EARLIEST, FETCH_VERSIONS};
use runnel_common::kafka::{Batches, Connection};

use super::histogram::{ms, Histogram};
use super::mb;
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
    /// Stop when no record arrived for this many ms.
    #[arg(long, default_value_t = 10_000)]
    pub timeout: u64,
    /// Milliseconds between progress lines.
    #[arg(long, default_value_t = 5000)]
    pub reporting_interval: u64,
}

#[derive(Default)]
struct Counters {
    records: AtomicU64,
    bytes: AtomicU64,
}

pub async fn run(a: PerfConsumeArgs) -> anyhow::Result<()> {
    let client = connect(&a.bootstrap_server, Duration::from_secs(30)).await?;
    let topic = a.topic.as_str();
    let md = client.metadata(Some(&[topic]), false).await?;
    let t = md
        .topics
        .get(topic)
        .ok_or_else(|| anyhow!("topic {topic} does not exist"))?;
    if let Some(code) = t.error {
        bail!("topic {topic}: {code}");
    }
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
    let counters = Arc::new(Counters::default());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (leader, positions) in by_leader {
        let conn = client.node(leader).await?;
        tasks.push(tokio::spawn(fetch_loop(
            conn,
            topic.to_string(),
            positions,
            a.messages,
            Duration::from_millis(a.timeout),
            counters.clone(),
        )));
    }
    let reporter = tokio::spawn(report(counters.clone(), a.reporting_interval));
    let mut fetch_hist = Histogram::new();
    let mut e2e_hist = Histogram::new();
    let mut end = start;
    let mut error = None;
    for t in tasks {
        match t.await {
            Ok(Ok((f, e, done_at))) => {
                fetch_hist.merge(&f);
                e2e_hist.merge(&e);
                end = end.max(done_at);
            }
            Ok(Err(e)) => error = Some(e),
            Err(e) => error = Some(anyhow!("fetch task failed: {e}")),
        }
    }
    reporter.abort();
    let secs = end.duration_since(start).as_secs_f64().max(1e-9);
    let n = counters.records.load(Ordering::Relaxed);
    let bytes = counters.bytes.load(Ordering::Relaxed) as f64;
    println!(
        "{n} records consumed, {:.1} records/sec ({:.2} MB/sec), {:.2} MB in {:.3} s; fetch latency {} ms avg, {} ms 50th, {} ms 99th, {} ms 99.9th; end-to-end {} ms 50th, {} ms 99th, {} ms 99.9th.",
        n as f64 / secs,
        mb(bytes) / secs,
        mb(bytes),
        secs,
        ms(fetch_hist.mean()),
        ms(fetch_hist.quantile(0.5) as f64),
        ms(fetch_hist.quantile(0.99) as f64),
        ms(fetch_hist.quantile(0.999) as f64),
        ms(e2e_hist.quantile(0.5) as f64),
        ms(e2e_hist.quantile(0.99) as f64),
        ms(e2e_hist.quantile(0.999) as f64),
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

/// Fetches one leader's partitions until the shared count reaches `target`.
/// Returns the fetch and end-to-end histograms and when it finished.
async fn fetch_loop(
    conn: Arc<Connection>,
    topic: String,
    mut positions: Vec<FetchPosition>,
    target: u64,
    timeout: Duration,
    counters: Arc<Counters>,
) -> anyhow::Result<(Histogram, Histogram, Instant)> {
    let version = conn.version::<FetchRequest>(FETCH_VERSIONS)?;
    let mut fetch_hist = Histogram::new();
    let mut e2e_hist = Histogram::new();
    let mut last_data = Instant::now();
    loop {
        if counters.records.load(Ordering::Relaxed) >= target {
            return Ok((fetch_hist, e2e_hist, Instant::now()));
        }
        if last_data.elapsed() >= timeout {
            return Ok((fetch_hist, e2e_hist, last_data));
        }
        let req = fetch::request(&topic, &positions, 100, 1, 64 << 20);
        let sent = Instant::now();
        let resp = conn.call(&req, version).await?;
        let arrived = Instant::now();
        fetch_hist.record_n(arrived.duration_since(sent).as_micros() as u64, 1);
        let now_ms = now_ms();
        for part in fetch::partitions(resp)? {
            if let Some(code) = part.error {
                bail!("fetch from {topic}-{}: {code}", part.partition);
            }
            let Some(pos) = positions.iter_mut().find(|p| p.partition == part.partition) else {
                continue;
            };
            let (mut records, mut bytes) = (0u64, 0u64);
            for batch in Batches::new(part.records) {
                let batch = batch.with_context(|| format!("reading {topic}-{}", part.partition))?;
                batch.verify_crc()?;
                let h = &batch.header;
                if h.is_control() || h.next_offset() <= pos.offset {
                    pos.offset = pos.offset.max(h.next_offset());
                    continue;
                }
                let n = h.record_count.max(0) as u64;
                records += n;
                bytes += payload_bytes(&batch)?;
                e2e_hist.record_n((now_ms - h.max_timestamp).max(0) as u64 * 1000, n);
                pos.offset = h.next_offset();
            }
            if records > 0 {
                last_data = arrived;
                counters.records.fetch_add(records, Ordering::Relaxed);
                counters.bytes.fetch_add(bytes, Ordering::Relaxed);
            }
        }
    }
}

/// Key and value bytes of a batch's records, as Kafka's consumer perf tool
/// counts "data consumed". Uncompressed batches are walked in place.
fn payload_bytes(batch: &runnel_common::kafka::RawBatch) -> anyhow::Result<u64> {
    if batch.header.codec()? != runnel_common::kafka::Codec::None {
        return Ok(batch
            .records()?
            .iter()
            .map(|r| {
                (r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len()))
                    as u64
            })
            .sum());
    }
    let mut buf = &batch.bytes[runnel_common::kafka::batch::BATCH_HEADER_LEN..];
    let mut total = 0u64;
    for _ in 0..batch.header.record_count.max(0) {
        let len = varint(&mut buf)? as usize;
        let Some(mut rec) = buf.get(..len) else {
            bail!("record runs past its batch");
        };
        buf = &buf[len..];
        rec = rec.get(1..).unwrap_or_default(); // attributes
        varint(&mut rec)?; // timestamp delta
        varint(&mut rec)?; // offset delta
        for _ in 0..2 {
            let n = varint(&mut rec)?;
            if n > 0 {
                total += n as u64;
                rec = rec.get(n as usize..).unwrap_or_default();
            }
        }
    }
    Ok(total)
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

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use runnel_common::kafka::{BatchBuilder, Codec};

    #[test]
    fn payload_bytes_counts_keys_and_values() {
        for codec in [Codec::None, Codec::Lz4] {
            let mut b = BatchBuilder::new(codec);
            b.push(1, Some(b"key"), Some(&[7u8; 300]), &[("h", Some(b"zz"))]);
            b.push(1, None, Some(b"12345"), &[]);
            b.push(1, None, None, &[]);
            let batch = Batches::new(b.finish().unwrap()).next().unwrap().unwrap();
            assert_eq!(payload_bytes(&batch).unwrap(), 308);
        }
    }
}
