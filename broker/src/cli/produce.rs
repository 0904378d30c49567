//! `runnel produce`: the console producer. Each line of stdin is one
//! record; with `--property parse.key=true` the text before
//! `key.separator` (a tab by default) is the key.
//!
//! Lines are gathered into one batch per partition while stdin has more
//! ready, so piping a file in is fast and typing a line sends it at once.
//! Keyed records go where Kafka's Java producer puts them (murmur2);
//! keyless ones stick to one partition per batch round, as Kafka's sticky
//! partitioner does. Requests are pipelined (up to five in flight) and a
//! failed one stops the producer with an error, so nothing fails silently.

use std::collections::{BTreeMap, VecDeque};
use std::io::BufRead;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::Args;
use kafka_protocol::messages::ProduceRequest;
use runnel_common::kafka::produce::{self, PRODUCE_VERSIONS};
use runnel_common::kafka::{
    BatchBuilder, Client, ClusterMetadata, Codec, KafkaError, PendingResponse,
};
use tokio::sync::mpsc;

use super::{connect, parse_key_values, prop_bool, unescape};
use runnel_common::kafka::partitioner::partition_for_key;

/// Requests in flight per connection (Kafka's
/// `max.in.flight.requests.per.connection`).
const MAX_IN_FLIGHT: usize = 5;

#[derive(Args, Debug)]
pub struct ProduceArgs {
    /// host:port of a broker (`--broker-list`, the old name, works too).
    #[arg(long, alias = "broker-list")]
    pub bootstrap_server: String,
    #[arg(long)]
    pub topic: String,
    /// Reader properties: parse.key=true, key.separator=<sep>,
    /// null.marker=<text> (that text becomes a null key/value).
    #[arg(long = "property", value_name = "KEY=VALUE")]
    pub properties: Vec<String>,
    /// Send every record to this partition.
    #[arg(long)]
    pub partition: Option<i32>,
    /// acks: 0, 1, or all/-1 (kafka-console-producer.sh's default is -1).
    #[arg(long = "request-required-acks", alias = "acks", default_value = "-1")]
    pub acks: String,
    /// none, gzip, snappy, lz4 or zstd.
    #[arg(long, default_value = "none")]
    pub compression_codec: String,
    /// Largest batch in bytes per partition (Kafka's batch.size).
    #[arg(long, default_value_t = 16384)]
    pub batch_size: usize,
    /// Wait for each batch to be acknowledged before reading on.
    #[arg(long)]
    pub sync: bool,
    /// How long the broker may take to acknowledge (Kafka's request.timeout.ms).
    #[arg(long, default_value_t = 30_000)]
    pub request_timeout_ms: u64,
    /// A Kafka client properties file; its security settings
    /// (security.protocol, ssl.*, sasl.*) are used to connect, other keys
    /// are named on stderr as unused. `--command-config` works too.
    #[arg(
        long = "producer.config",
        alias = "command-config",
        value_name = "FILE"
    )]
    pub command_config: Option<String>,
}

struct Reader {
    parse_key: bool,
    separator: String,
    null_marker: Option<String>,
}

/// A record's key and value; `None` is null.
type KeyValue = (Option<Vec<u8>>, Option<Vec<u8>>);

impl Reader {
    /// Splits one line into key and value (`None`: null).
    fn parse(&self, line: &str, number: u64) -> anyhow::Result<KeyValue> {
        let field = |s: &str| {
            if self.null_marker.as_deref() == Some(s) {
                None
            } else {
                Some(s.as_bytes().to_vec())
            }
        };
        if !self.parse_key {
            return Ok((None, field(line)));
        }
        match line.split_once(self.separator.as_str()) {
            Some((k, v)) => Ok((field(k), field(v))),
            None => bail!("No key separator found on line number {number}: '{line}'"),
        }
    }
}

pub async fn run(a: ProduceArgs) -> anyhow::Result<()> {
    let props = parse_key_values(&a.properties, "--property")?;
    let reader = Reader {
        parse_key: prop_bool(&props, "parse.key", false),
        separator: unescape(props.get("key.separator").map_or("\t", String::as_str)),
        null_marker: props.get("null.marker").cloned(),
    };
    let acks = produce::parse_acks(&a.acks).ok_or_else(|| {
        anyhow!(
            "--request-required-acks must be 0, 1, -1 or all, got {}",
            a.acks
        )
    })?;
    let codec = Codec::parse(&a.compression_codec)
        .ok_or_else(|| anyhow!("unknown --compression-codec {}", a.compression_codec))?;
    let timeout = Duration::from_millis(a.request_timeout_ms);
    let client = connect(&a.bootstrap_server, timeout, a.command_config.as_deref()).await?;
    // Brokers with auto.create.topics.enable create the topic here, as for
    // Kafka's console producer.
    let md = client.metadata(Some(&[a.topic.as_str()]), true).await?;
    let partitions = match md.topics.get(&a.topic) {
        Some(t) if t.error.is_none() && !t.partitions.is_empty() => t.partitions.len() as i32,
        Some(t) => {
            let code = t
                .error
                .map(|c| c.to_string())
                .unwrap_or_else(|| "no partitions".into());
            bail!("topic {} is not available: {code}", a.topic)
        }
        None => bail!("topic {} does not exist", a.topic),
    };
    if let Some(p) = a.partition {
        if !(0..partitions).contains(&p) {
            bail!(
                "partition {p} does not exist: topic {} has {partitions}",
                a.topic
            );
        }
    }

    // stdin is read on its own thread; the async side drains what is ready.
    let (tx, mut rx) = mpsc::channel::<std::io::Result<String>>(4096);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });

    let mut sender = Sender {
        client: &client,
        md,
        topic: a.topic.clone(),
        acks,
        timeout_ms: a.request_timeout_ms.min(i32::MAX as u64) as i32,
        in_flight: VecDeque::new(),
    };
    let mut line_no = 0u64;
    let mut sticky = 0i32;
    let mut done = false;
    while !done {
        // Wait for one line, then take whatever else is ready.
        let mut batches: BTreeMap<i32, BatchBuilder> = BTreeMap::new();
        let mut first = true;
        loop {
            let next = if first {
                first = false;
                rx.recv().await
            } else {
                match rx.try_recv() {
                    Ok(l) => Some(l),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => None,
                }
            };
            let Some(line) = next else {
                done = true;
                break;
            };
            let line = line.context("reading stdin")?;
            line_no += 1;
            let (key, value) = reader.parse(&line, line_no)?;
            let partition = match (a.partition, &key) {
                (Some(p), _) => p,
                (None, Some(k)) => partition_for_key(k, partitions),
                (None, None) => sticky,
            };
            let b = batches
                .entry(partition)
                .or_insert_with(|| BatchBuilder::new(codec));
            b.push(now_ms(), key.as_deref(), value.as_deref(), &[]);
            if b.size_in_bytes() >= a.batch_size {
                break;
            }
        }
        if batches.is_empty() {
            continue;
        }
        sticky = (sticky + 1) % partitions;
        for (partition, builder) in batches {
            sender.send(partition, builder.finish()?).await?;
        }
        if a.sync {
            sender.drain().await?;
        }
    }
    sender.drain().await?;
    Ok(())
}

/// Pipelined produce requests to each partition's leader, checked in order.
struct Sender<'a> {
    client: &'a Client,
    /// Leaders as of start-up: a console producer that loses a leader
    /// stops with the broker's error rather than retrying.
    md: ClusterMetadata,
    topic: String,
    acks: i16,
    timeout_ms: i32,
    in_flight: VecDeque<(i32, PendingResponse<ProduceRequest>)>,
}

impl Sender<'_> {
    async fn send(&mut self, partition: i32, batch: bytes::Bytes) -> anyhow::Result<()> {
        if self.in_flight.len() >= MAX_IN_FLIGHT {
            self.settle_one().await?;
        }
        let leader = self
            .md
            .leader(&self.topic, partition)
            .ok_or_else(|| anyhow!("{}-{partition} has no leader", self.topic))?;
        let conn = self.client.node(leader).await?;
        let version = conn.version::<ProduceRequest>(PRODUCE_VERSIONS)?;
        let req = produce::request(
            self.acks,
            self.timeout_ms,
            &self.topic,
            vec![(partition, batch)],
        );
        if self.acks == 0 {
            conn.send_no_reply(&req, version).await?;
        } else {
            self.in_flight
                .push_back((partition, conn.send(&req, version).await?));
        }
        Ok(())
    }

    async fn settle_one(&mut self) -> anyhow::Result<()> {
        if let Some((partition, pending)) = self.in_flight.pop_front() {
            let resp = pending.wait().await?;
            let acks = produce::acks(&resp);
            let ack = acks
                .into_iter()
                .find(|a| a.partition == partition)
                .ok_or_else(|| anyhow!("no answer for {}-{partition}", self.topic))?;
            ack.result.map_err(|e: KafkaError| anyhow!(e))?;
        }
        Ok(())
    }

    async fn drain(&mut self) -> anyhow::Result<()> {
        while !self.in_flight.is_empty() {
            self.settle_one().await?;
        }
        Ok(())
    }
}

use runnel_common::clock::now_ms;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_into_key_and_value() {
        let r = Reader {
            parse_key: true,
            separator: ":".into(),
            null_marker: Some("NULL".into()),
        };
        assert_eq!(
            r.parse("k:v:w", 1).unwrap(),
            (Some(b"k".to_vec()), Some(b"v:w".to_vec()))
        );
        assert_eq!(r.parse("NULL:v", 2).unwrap(), (None, Some(b"v".to_vec())));
        assert!(r.parse("novalue", 3).is_err());
        let plain = Reader {
            parse_key: false,
            separator: "\t".into(),
            null_marker: None,
        };
        assert_eq!(
            plain.parse("a\tb", 1).unwrap(),
            (None, Some(b"a\tb".to_vec()))
        );
    }
}
