//! `runnel`, the operator's command line: the commands behind
//! `bin/runnel.rs`, one module each, on the internal Kafka client
//! (`runnel_common::kafka`).
//!
//! Flags and output follow Kafka's tools (`kafka-topics.sh`,
//! `kafka-console-producer.sh`, `kafka-console-consumer.sh`,
//! `kafka-producer-perf-test.sh`, `kafka-consumer-perf-test.sh`) so a Kafka
//! user's habits and scripts carry over.
//!
//! # Layout
//!
//! * [`topics`]: `runnel topics` (create, list, describe, delete, alter).
//! * [`produce`]: `runnel produce`, the console producer (lines on stdin).
//! * [`consume`]: `runnel consume`, the console consumer.
//! * [`delete_records`]: `runnel delete-records` (kafka-delete-records.sh).
//! * [`log_dirs`]: `runnel log-dirs` (kafka-log-dirs.sh).
//! * [`transactions`]: `runnel transactions` (list, describe,
//!   describe-producers, find-hanging, abort; kafka-transactions.sh).
//! * [`perf`]: `runnel perf produce|consume`, load generators with a
//!   latency histogram.
//! * [`certs`]: `runnel certs`, a development CA and PEM key stores.
//! * [`partitioner`]: Kafka's murmur2 key partitioner.
//!
//! This is binary code that lives in the library only so it can be tested;
//! it reports errors with `anyhow`, as the binaries do.

pub mod certs;
pub mod consume;
pub mod delete_records;
pub mod log_dirs;
pub mod partitioner;
pub mod perf;
pub mod produce;
pub mod topics;
pub mod transactions;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use runnel_common::kafka::{Client, ClusterMetadata, ConnectionConfig, TopicMetadata};

#[derive(Parser, Debug)]
#[command(
    name = "runnel",
    version,
    about = "Runnel's command line: topics, console clients, perf, transactions"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create, list, describe, delete or alter topics (kafka-topics.sh).
    Topics(topics::TopicsArgs),
    /// Send lines of stdin as records (kafka-console-producer.sh).
    Produce(produce::ProduceArgs),
    /// Print records of a topic (kafka-console-consumer.sh).
    Consume(consume::ConsumeArgs),
    /// Load generators (kafka-producer-perf-test.sh, kafka-consumer-perf-test.sh).
    #[command(subcommand)]
    Perf(perf::PerfCommand),
    /// List, describe and abort transactions (kafka-transactions.sh).
    Transactions(transactions::TransactionsArgs),
    /// Delete records below given offsets (kafka-delete-records.sh).
    DeleteRecords(delete_records::DeleteRecordsArgs),
    /// Log directories and partition sizes per broker (kafka-log-dirs.sh).
    LogDirs(log_dirs::LogDirsArgs),
    /// Make a development CA and PEM certificates for TLS listeners and clients.
    Certs(certs::CertsArgs),
    /// Serve the web console (overview, topics, records, groups, coord tree, timeline).
    Console(crate::console::ConsoleArgs),
}

/// Runs one command to completion on a fresh runtime.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("runnel")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match cli.command {
            Command::Topics(a) => topics::run(a).await,
            Command::Produce(a) => produce::run(a).await,
            Command::Consume(a) => consume::run(a).await,
            Command::Perf(p) => perf::run(p).await,
            Command::Transactions(a) => transactions::run(a).await,
            Command::Console(a) => crate::console::run(a).await,
            Command::DeleteRecords(a) => delete_records::run(a).await,
            Command::LogDirs(a) => log_dirs::run(a).await,
            Command::Certs(a) => certs::run(a),
        }
    })
}

/// Connects to the cluster with the CLI's client id and timeouts.
pub async fn connect(bootstrap: &str, request_timeout: Duration) -> anyhow::Result<Client> {
    let config = ConnectionConfig {
        client_id: "runnel-cli".to_string(),
        request_timeout,
        ..ConnectionConfig::default()
    };
    Client::connect(bootstrap, config)
        .await
        .with_context(|| format!("cannot reach the cluster at {bootstrap}"))
}

/// Parses repeated `key=value` flags (`--property`, `--config`,
/// `--producer-props`); a later key wins, as in Kafka's tools.
/// Cluster metadata and that of an existing topic, or an error naming what
/// is wrong with the topic (the consumers start with this).
pub async fn existing_topic(
    client: &Client,
    topic: &str,
) -> anyhow::Result<(ClusterMetadata, TopicMetadata)> {
    let md = client.metadata(Some(&[topic]), false).await?;
    let t = md
        .topics
        .get(topic)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("topic {topic} does not exist"))?;
    if let Some(code) = t.error {
        bail!("topic {topic}: {code}");
    }
    Ok((md, t))
}

pub fn parse_key_values(items: &[String], flag: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in items {
        let Some((k, v)) = item.split_once('=') else {
            bail!("{flag} expects KEY=VALUE, got {item:?}");
        };
        let k = k.trim();
        if k.is_empty() {
            bail!("{flag} expects KEY=VALUE, got {item:?}");
        }
        out.insert(k.to_string(), v.trim().to_string());
    }
    Ok(out)
}

/// Kafka's tools take separators as Java string literals: `\t` and `\n`
/// written out on the command line mean a tab and a newline.
pub fn unescape(s: &str) -> String {
    s.replace("\\t", "\t")
        .replace("\\n", "\n")
        .replace("\\r", "\r")
}

/// A boolean `--property` value, Java style (`true`, case-insensitive).
pub fn prop_bool(props: &BTreeMap<String, String>, key: &str, default: bool) -> bool {
    props
        .get(key)
        .map(|v| v.eq_ignore_ascii_case("true"))
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_parse_and_reject() {
        let got =
            parse_key_values(&["a=1".into(), "b = x=y".into(), "a=2".into()], "--config").unwrap();
        assert_eq!(got.get("a").map(String::as_str), Some("2"));
        assert_eq!(got.get("b").map(String::as_str), Some("x=y"));
        assert!(parse_key_values(&["novalue".into()], "--config").is_err());
        assert!(parse_key_values(&["=1".into()], "--config").is_err());
    }

    #[test]
    fn separators_unescape() {
        assert_eq!(unescape("\\t"), "\t");
        assert_eq!(unescape(":"), ":");
    }

    #[test]
    fn cli_parses_kafka_style_flags() {
        let cli = Cli::try_parse_from([
            "runnel",
            "consume",
            "--bootstrap-server",
            "b:1",
            "--topic",
            "t",
            "--from-beginning",
            "--property",
            "print.key=true",
            "--max-messages",
            "3",
        ])
        .unwrap();
        assert!(matches!(cli.command, Command::Consume(_)));
        let cli = Cli::try_parse_from([
            "runnel",
            "perf",
            "produce",
            "--bootstrap-server",
            "b:1",
            "--topic",
            "t",
            "--num-records",
            "10",
            "--record-size",
            "100",
            "--throughput",
            "-1",
            "--acks",
            "all",
        ])
        .unwrap();
        assert!(matches!(cli.command, Command::Perf(_)));
        assert!(Cli::try_parse_from([
            "runnel",
            "topics",
            "--bootstrap-server",
            "b",
            "--create",
            "--list"
        ])
        .is_err());
    }
}
