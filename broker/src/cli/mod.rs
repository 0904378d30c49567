//! `runnel`, the operator's command line: the commands behind
//! `bin/runnel.rs`, one module each, on the internal Kafka client
//! (`runnel_common::kafka`).
//!
//! Flags and output follow Kafka's tools (`kafka-topics.sh`, `kafka-configs.sh`,
//! `kafka-console-producer.sh`, `kafka-console-consumer.sh`,
//! `kafka-producer-perf-test.sh`, `kafka-consumer-perf-test.sh`) so a Kafka
//! user's habits and scripts carry over.
//!
//! # Layout
//!
//! * [`topics`]: `runnel topics` (create, list, describe, delete, alter).
//! * [`configs`]: `runnel configs` (kafka-configs.sh): topic and broker
//!   configs, users' SCRAM credentials.
//! * [`produce`]: `runnel produce`, the console producer (lines on stdin).
//! * [`consume`]: `runnel consume`, the console consumer.
//! * [`delete_records`]: `runnel delete-records` (kafka-delete-records.sh).
//! * [`log_dirs`]: `runnel log-dirs` (kafka-log-dirs.sh).
//! * [`transactions`]: `runnel transactions` (list, describe,
//!   describe-producers, find-hanging, abort; kafka-transactions.sh).
//! * [`perf`]: `runnel perf produce|consume`, load generators with a
//!   latency histogram.
//! * [`certs`]: `runnel certs`, a development CA and PEM key stores.
//!
//! This is binary code that lives in the library only so it can be tested;
//! it reports errors with `anyhow`, as the binaries do.

pub mod certs;
pub mod configs;
pub mod consume;
pub mod delete_records;
pub mod log_dirs;
pub mod perf;
pub mod produce;
pub mod topics;
pub mod transactions;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::{Parser, Subcommand};
use runnel_common::kafka::client_properties;
use runnel_common::kafka::{
    Client, ClientSecurity, ClusterMetadata, ConnectionConfig, TopicMetadata,
};
use runnel_common::properties;

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
    /// Describe or alter topic and broker configs and users' SCRAM
    /// credentials (kafka-configs.sh).
    Configs(configs::ConfigsArgs),
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
    /// Run a Kafka Connect worker (`runnel connect standalone worker.properties
    /// [connector.properties ...]`): the `runnel-connect` program beside this one.
    #[command(disable_help_flag = true)]
    Connect {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

/// Runs one command to completion on a fresh runtime.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Connect { args } = &cli.command {
        return exec_beside("runnel-connect", args);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("runnel")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match cli.command {
            Command::Topics(a) => topics::run(a).await,
            Command::Configs(a) => configs::run(a).await,
            Command::Produce(a) => produce::run(a).await,
            Command::Consume(a) => consume::run(a).await,
            Command::Perf(p) => perf::run(p).await,
            Command::Transactions(a) => transactions::run(a).await,
            Command::Console(a) => crate::console::run(a).await,
            Command::DeleteRecords(a) => delete_records::run(a).await,
            Command::LogDirs(a) => log_dirs::run(a).await,
            Command::Certs(a) => certs::run(a),
            Command::Connect { .. } => Ok(()),
        }
    })
}

/// Replaces this process with `program` from the directory of the running
/// executable (as cargo and git run their external subcommands), passing
/// `args` through; returns only if that fails.
fn exec_beside(program: &str, args: &[std::ffi::OsString]) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    let me = std::env::current_exe().context("cannot locate the running executable")?;
    let path = me.with_file_name(program);
    if !path.is_file() {
        bail!(
            "{} not found: `runnel connect` runs the {program} program installed beside runnel \
             (build it with `cargo build --release -p runnel-connect`)",
            path.display()
        );
    }
    let err = std::process::Command::new(&path).args(args).exec();
    Err(anyhow!("cannot run {}: {err}", path.display()))
}

/// Connects to the cluster with the CLI's client id and timeouts, secured
/// as the `--command-config` file (if any) says.
pub async fn connect(
    bootstrap: &str,
    request_timeout: Duration,
    command_config: Option<&str>,
) -> anyhow::Result<Client> {
    let security = client_security(command_config, &BTreeMap::new(), "")?;
    connect_with(bootstrap, request_timeout, security).await
}

/// [`connect`] with security settings already read.
pub async fn connect_with(
    bootstrap: &str,
    request_timeout: Duration,
    security: ClientSecurity,
) -> anyhow::Result<Client> {
    let protocol = security.protocol();
    let config = ConnectionConfig {
        client_id: "runnel-cli".to_string(),
        request_timeout,
        security,
        ..ConnectionConfig::default()
    };
    Client::connect(bootstrap, config).await.with_context(|| {
        format!(
            "cannot reach the cluster at {bootstrap} (security.protocol={})",
            protocol.name()
        )
    })
}

/// The security settings of a client properties file (`--command-config`,
/// `--producer.config`, `--consumer.config`), with the `security.*`,
/// `ssl.*` and `sasl.*` keys of `overrides` (a tool's `KEY=VALUE` flag,
/// named `overrides_flag`) taking precedence as Kafka's tools let them;
/// PLAINTEXT when neither sets anything. Keys the file sets that runnel
/// does not use are named on stderr, as Kafka's tools warn about unknown
/// configs, so a setting that does nothing does not go unnoticed.
pub fn client_security(
    command_config: Option<&str>,
    overrides: &BTreeMap<String, String>,
    overrides_flag: &str,
) -> anyhow::Result<ClientSecurity> {
    let is_security =
        |k: &str| k.starts_with("security.") || k.starts_with("ssl.") || k.starts_with("sasl.");
    let overrides: Vec<(&str, &str)> = overrides
        .iter()
        .filter(|(k, _)| is_security(k))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if command_config.is_none() && overrides.is_empty() {
        return Ok(ClientSecurity::default());
    }
    // Errors already name the file and the key; their Display is the whole
    // message, so no context is added on top.
    let entries = match command_config {
        Some(path) => properties::read_file(Path::new(path)).map_err(|e| anyhow!("{e}"))?,
        None => Vec::new(),
    };
    let origin = match (command_config, overrides.is_empty()) {
        (Some(path), true) => path.to_string(),
        (Some(path), false) => format!("{path} with {overrides_flag}"),
        (None, _) => overrides_flag.to_string(),
    };
    let pairs = entries
        .iter()
        .map(|e| (e.key.as_str(), e.value.as_str()))
        .chain(overrides.iter().copied());
    let (security, unknown) =
        client_properties::from_pairs(pairs, &origin).map_err(|e| anyhow!("{e}"))?;
    for key in unknown {
        eprintln!(
            "WARNING: {origin}: the configuration '{key}' was supplied but is not used \
             (runnel reads only the security settings of client properties)"
        );
    }
    Ok(security)
}

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

/// Parses repeated `key=value` flags (`--property`, `--config`,
/// `--producer-props`); a later key wins, as in Kafka's tools.
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
    fn client_config_flags_take_kafkas_names() {
        let config = |argv: &[&str]| match Cli::try_parse_from(argv).map(|c| c.command) {
            Ok(Command::Produce(a)) => a.command_config,
            Ok(Command::Consume(a)) => a.command_config,
            Ok(Command::Perf(perf::PerfCommand::Produce(a))) => a.command_config,
            Ok(Command::Perf(perf::PerfCommand::Consume(a))) => a.command_config,
            Ok(Command::Topics(a)) => a.command_config,
            other => panic!("unexpected {other:?}"),
        };
        let base = ["--bootstrap-server", "b:1", "--topic", "t"];
        for (cmd, flag) in [
            (&["produce"][..], "--producer.config"),
            (&["produce"][..], "--command-config"),
            (&["consume"][..], "--consumer.config"),
            (&["consume"][..], "--command-config"),
            (
                &["perf", "consume", "--messages", "1"][..],
                "--consumer.config",
            ),
            (
                &[
                    "perf",
                    "produce",
                    "--num-records",
                    "1",
                    "--record-size",
                    "1",
                    "--throughput",
                    "-1",
                ][..],
                "--producer.config",
            ),
            (&["topics", "--list"][..], "--command-config"),
        ] {
            let mut argv = vec!["runnel"];
            argv.extend_from_slice(cmd);
            argv.extend_from_slice(&base);
            argv.extend_from_slice(&[flag, "c.properties"]);
            assert_eq!(config(&argv).as_deref(), Some("c.properties"), "{argv:?}");
        }
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
