//! `runnel consume`: the console consumer. Reads every partition of a topic
//! (or one with `--partition`) from the end, from the beginning
//! (`--from-beginning`) or from `--offset`, and prints one line per record
//! in the layout of Kafka's `DefaultMessageFormatter`:
//!
//! `[CreateTime:<ts>\t][Partition:<p>\t][Offset:<o>\t][<headers>\t][<key>\t]<value>`
//!
//! each part switched on by `--property print.timestamp|print.partition|
//! print.offset|print.headers|print.key=true` (`print.value=false` drops
//! the value; `key.separator` replaces the tab). It stops after
//! `--max-messages`, or after `--timeout-ms` without a record, and then
//! says on stderr how many it printed, as Kafka's does. There is no group
//! membership: offsets are not committed.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use runnel_common::kafka::fetch::{FetchPosition, EARLIEST, LATEST};
use runnel_common::kafka::{Batches, Client, ErrorCode, Record};

use super::{connect, parse_key_values, prop_bool, unescape};

#[derive(Args, Debug)]
pub struct ConsumeArgs {
    #[arg(long)]
    pub bootstrap_server: String,
    #[arg(long)]
    pub topic: String,
    /// Start at the earliest offset instead of the end.
    #[arg(long)]
    pub from_beginning: bool,
    /// Read only this partition.
    #[arg(long)]
    pub partition: Option<i32>,
    /// earliest, latest, or an offset number (needs --partition).
    #[arg(long)]
    pub offset: Option<String>,
    /// Stop after this many records.
    #[arg(long)]
    pub max_messages: Option<u64>,
    /// Stop when no record arrived for this long.
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Formatter properties: print.key, print.value, print.offset,
    /// print.partition, print.timestamp, print.headers (true/false),
    /// key.separator, line.separator, headers.separator, null.literal.
    #[arg(long = "property", value_name = "KEY=VALUE")]
    pub properties: Vec<String>,
    /// Accepted for compatibility; offsets are not committed.
    #[arg(long)]
    pub group: Option<String>,
    /// Largest amount of data per partition per fetch (max.partition.fetch.bytes).
    #[arg(long, default_value_t = 1 << 20)]
    pub fetch_size: i32,
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

/// How a record becomes a line.
#[derive(Debug, Clone)]
pub struct Formatter {
    pub print_key: bool,
    pub print_value: bool,
    pub print_offset: bool,
    pub print_partition: bool,
    pub print_timestamp: bool,
    pub print_headers: bool,
    pub key_separator: String,
    pub line_separator: String,
    pub headers_separator: String,
    pub null_literal: String,
}

impl Formatter {
    pub fn from_properties(props: &BTreeMap<String, String>) -> Self {
        let text = |k: &str, d: &str| unescape(props.get(k).map_or(d, String::as_str));
        Formatter {
            print_key: prop_bool(props, "print.key", false),
            print_value: prop_bool(props, "print.value", true),
            print_offset: prop_bool(props, "print.offset", false),
            print_partition: prop_bool(props, "print.partition", false),
            print_timestamp: prop_bool(props, "print.timestamp", false),
            print_headers: prop_bool(props, "print.headers", false),
            key_separator: text("key.separator", "\t"),
            line_separator: text("line.separator", "\n"),
            headers_separator: text("headers.separator", ","),
            null_literal: text("null.literal", "null"),
        }
    }

    pub fn write(&self, out: &mut Vec<u8>, partition: i32, rec: &Record, log_append: bool) {
        let sep = self.key_separator.as_bytes();
        let bytes = |out: &mut Vec<u8>, b: &Option<bytes::Bytes>| match b {
            Some(b) => out.extend_from_slice(b),
            None => out.extend_from_slice(self.null_literal.as_bytes()),
        };
        if self.print_timestamp {
            let kind = if log_append {
                "LogAppendTime"
            } else {
                "CreateTime"
            };
            out.extend_from_slice(format!("{kind}:{}", rec.timestamp).as_bytes());
            out.extend_from_slice(sep);
        }
        if self.print_partition {
            out.extend_from_slice(format!("Partition:{partition}").as_bytes());
            out.extend_from_slice(sep);
        }
        if self.print_offset {
            out.extend_from_slice(format!("Offset:{}", rec.offset).as_bytes());
            out.extend_from_slice(sep);
        }
        if self.print_headers {
            if rec.headers.is_empty() {
                out.extend_from_slice(b"NO_HEADERS");
            }
            for (i, (k, v)) in rec.headers.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(self.headers_separator.as_bytes());
                }
                out.extend_from_slice(k.as_bytes());
                out.push(b':');
                bytes(out, v);
            }
            out.extend_from_slice(sep);
        }
        if self.print_key {
            bytes(out, &rec.key);
            if self.print_value {
                out.extend_from_slice(sep);
            }
        }
        if self.print_value {
            bytes(out, &rec.value);
        }
        out.extend_from_slice(self.line_separator.as_bytes());
    }
}

pub async fn run(a: ConsumeArgs) -> anyhow::Result<()> {
    let props = parse_key_values(&a.properties, "--property")?;
    let fmt = Formatter::from_properties(&props);
    if a.offset.is_some() && a.partition.is_none() {
        bail!("--offset needs --partition");
    }
    if a.offset.is_some() && a.from_beginning {
        bail!("--offset and --from-beginning exclude each other");
    }
    let client = connect(
        &a.bootstrap_server,
        Duration::from_secs(30),
        a.command_config.as_deref(),
    )
    .await?;
    let mut count = 0u64;
    let result = tokio::select! {
        r = consume(&client, &a, &fmt, &mut count) => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    eprintln!("Processed a total of {count} messages");
    result
}

async fn consume(
    client: &Client,
    a: &ConsumeArgs,
    fmt: &Formatter,
    count: &mut u64,
) -> anyhow::Result<()> {
    let topic = a.topic.as_str();
    let (mut md, t) = super::existing_topic(client, topic).await?;
    let partitions: Vec<i32> = match a.partition {
        Some(p) if t.partitions.iter().any(|x| x.partition == p) => vec![p],
        Some(p) => bail!("partition {p} of {topic} does not exist"),
        None => t.partitions.iter().map(|p| p.partition).collect(),
    };
    let reset = if a.from_beginning { EARLIEST } else { LATEST };
    // Where each partition starts.
    let mut positions: BTreeMap<i32, i64> = BTreeMap::new();
    let explicit = match a.offset.as_deref() {
        None => None,
        Some("earliest") => Some(EARLIEST),
        Some("latest") => Some(LATEST),
        Some(n) => {
            let n: i64 = n.parse().with_context(|| {
                format!("--offset must be earliest, latest or a number, got {n}")
            })?;
            if n < 0 {
                bail!("--offset must not be negative");
            }
            for &p in &partitions {
                positions.insert(p, n);
            }
            None
        }
    };
    if positions.is_empty() {
        let when = explicit.unwrap_or(reset);
        for (p, off) in client.list_offsets(topic, &partitions, when).await? {
            positions.insert(p, off?);
        }
    }

    let mut stdout = std::io::stdout().lock();
    let mut out = Vec::with_capacity(64 * 1024);
    let timeout = a.timeout_ms.map(Duration::from_millis);
    let mut last_record = Instant::now();
    let max = a.max_messages.unwrap_or(u64::MAX);
    loop {
        if *count >= max {
            return Ok(());
        }
        // One fetch per leader, each with all its partitions.
        let mut by_leader: BTreeMap<i32, Vec<FetchPosition>> = BTreeMap::new();
        for (&p, &offset) in &positions {
            let Some(leader) = md.leader(topic, p) else {
                continue;
            };
            by_leader.entry(leader).or_default().push(FetchPosition {
                partition: p,
                offset,
                max_bytes: a.fetch_size,
            });
        }
        let wait_ms = if by_leader.len() > 1 { 100 } else { 500 };
        let mut refresh = by_leader.is_empty();
        for (leader, fetch_positions) in by_leader {
            let fetched = client
                .fetch(leader, topic, &fetch_positions, wait_ms, 50 << 20)
                .await?;
            for part in fetched {
                let p = part.partition;
                match part.error {
                    None => {}
                    Some(ErrorCode(1)) => {
                        // OFFSET_OUT_OF_RANGE: auto.offset.reset, as Kafka's consumer.
                        let off = client.list_offsets(topic, &[p], reset).await?;
                        if let Some(Ok(o)) = off.get(&p) {
                            positions.insert(p, *o);
                        }
                        continue;
                    }
                    Some(code) if code.is_retriable() => {
                        refresh = true;
                        continue;
                    }
                    Some(code) => bail!("fetch from {topic}-{p}: {code}"),
                }
                let Some(position) = positions.get_mut(&p) else {
                    continue;
                };
                for batch in Batches::new(part.records) {
                    let batch = batch.with_context(|| format!("reading {topic}-{p}"))?;
                    batch
                        .verify_crc()
                        .with_context(|| format!("reading {topic}-{p}"))?;
                    let log_append = batch.header.log_append_time();
                    for rec in batch.records()? {
                        if rec.offset < *position || *count >= max {
                            continue;
                        }
                        fmt.write(&mut out, p, &rec, log_append);
                        *count += 1;
                        last_record = Instant::now();
                    }
                    *position = (*position).max(batch.header.next_offset());
                }
            }
            if !out.is_empty() {
                stdout.write_all(&out).context("writing stdout")?;
                stdout.flush().context("writing stdout")?;
                out.clear();
            }
        }
        if refresh {
            tokio::time::sleep(Duration::from_millis(200)).await;
            md = client.metadata(Some(&[topic]), false).await?;
        }
        if let Some(t) = timeout {
            if last_record.elapsed() >= t {
                eprintln!(
                    "[runnel consume] no record for {} ms: stopping",
                    t.as_millis()
                );
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn rec() -> Record {
        Record {
            offset: 5,
            timestamp: 1234,
            key: None,
            value: Some(Bytes::from_static(b"v")),
            headers: vec![("h".into(), Some(Bytes::from_static(b"x")))],
        }
    }

    #[test]
    fn default_prints_value_only() {
        let f = Formatter::from_properties(&BTreeMap::new());
        let mut out = Vec::new();
        f.write(&mut out, 0, &rec(), false);
        assert_eq!(out, b"v\n");
    }

    #[test]
    fn all_parts_in_kafka_order() {
        let props: BTreeMap<String, String> = [
            "print.key=true",
            "print.offset=true",
            "print.partition=true",
            "print.timestamp=true",
            "print.headers=true",
            "key.separator=|",
        ]
        .iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
        let f = Formatter::from_properties(&props);
        let mut out = Vec::new();
        f.write(&mut out, 2, &rec(), false);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "CreateTime:1234|Partition:2|Offset:5|h:x|null|v\n"
        );
    }
}
