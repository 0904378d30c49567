//! `runnel topics`: kafka-topics.sh's flags and output.
//!
//! ```text
//! runnel topics --bootstrap-server B --create --topic t [--partitions N]
//!               [--replication-factor N] [--config k=v]... [--if-not-exists]
//! runnel topics --bootstrap-server B --list
//! runnel topics --bootstrap-server B --describe [--topic t] [--if-exists]
//! runnel topics --bootstrap-server B --alter --topic t [--partitions N] [--config k=v]...
//! runnel topics --bootstrap-server B --delete --topic t [--if-exists]
//! ```
//!
//! Each takes `--command-config FILE`, a client properties file with the
//! security settings (TLS, SASL) to connect with.
//!
//! Errors print as kafka-topics.sh prints them
//! (`Error while executing topic command : …`) and exit with status 1.

use std::time::Duration;

use anyhow::{anyhow, bail};
use clap::{ArgGroup, Args};
use runnel_common::kafka::{Client, ConfigSource, ErrorCode, KafkaError, NewTopic};

use super::{connect, parse_key_values};

/// How long the broker may take to finish a topic change (kafka-topics.sh
/// waits 30 s as well).
const ADMIN_TIMEOUT_MS: i32 = 30_000;

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("action").required(true)
    .args(["create", "list", "describe", "delete", "alter"])))]
pub struct TopicsArgs {
    /// host:port of a broker (comma-separated list allowed).
    #[arg(long)]
    pub bootstrap_server: String,
    #[arg(long)]
    pub create: bool,
    #[arg(long)]
    pub list: bool,
    #[arg(long)]
    pub describe: bool,
    #[arg(long)]
    pub delete: bool,
    #[arg(long)]
    pub alter: bool,
    /// The topic (exact name).
    #[arg(long)]
    pub topic: Option<String>,
    /// Partition count (create; alter grows to it).
    #[arg(long)]
    pub partitions: Option<i32>,
    #[arg(long)]
    pub replication_factor: Option<i16>,
    /// A topic config override KEY=VALUE (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub configs: Vec<String>,
    /// With --create: an existing topic is not an error.
    #[arg(long)]
    pub if_not_exists: bool,
    /// With --delete, --describe or --alter: a missing topic is not an error.
    #[arg(long)]
    pub if_exists: bool,
    /// A Kafka client properties file with the security settings to connect
    /// with (security.protocol, ssl.truststore.location, sasl.mechanism,
    /// sasl.jaas.config, ...), as kafka-topics.sh takes it.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<String>,
}

pub async fn run(args: TopicsArgs) -> anyhow::Result<()> {
    match execute(&args).await {
        Ok(()) => Ok(()),
        Err(e) => {
            eprintln!("Error while executing topic command : {e:#}");
            std::process::exit(1);
        }
    }
}

async fn execute(a: &TopicsArgs) -> anyhow::Result<()> {
    let configs: Vec<(String, String)> = parse_key_values(&a.configs, "--config")?
        .into_iter()
        .collect();
    let need_topic = || {
        a.topic
            .clone()
            .ok_or_else(|| anyhow!("--topic is required with --create, --delete and --alter"))
    };
    let client = connect(
        &a.bootstrap_server,
        Duration::from_secs(60),
        a.command_config.as_deref(),
    )
    .await?;
    if a.create {
        let topic = need_topic()?;
        let new = NewTopic {
            name: topic.clone(),
            partitions: a.partitions,
            replication_factor: a.replication_factor,
            configs,
        };
        for (_, res) in client.create_topics(&[new], ADMIN_TIMEOUT_MS).await? {
            match res {
                Ok(()) => {}
                Err(e) if a.if_not_exists && e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => {
                    return Ok(())
                }
                Err(e) => return Err(e.into()),
            }
        }
        println!("Created topic {topic}.");
    } else if a.list {
        let md = client.metadata(None, false).await?;
        for name in md.topics.keys() {
            println!("{name}");
        }
    } else if a.describe {
        describe(&client, a.topic.as_deref(), a.if_exists).await?;
    } else if a.delete {
        let topic = need_topic()?;
        for (_, res) in client.delete_topics(&[&topic], ADMIN_TIMEOUT_MS).await? {
            match res {
                Ok(()) => {}
                Err(e) if a.if_exists && is_unknown(&e) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    } else if a.alter {
        let topic = need_topic()?;
        if a.partitions.is_none() && configs.is_empty() {
            bail!("--alter needs --partitions (or --config)");
        }
        if let Some(n) = a.partitions {
            match client.create_partitions(&topic, n, ADMIN_TIMEOUT_MS).await {
                Err(e) if a.if_exists && is_unknown(&e) => return Ok(()),
                other => other?,
            }
        }
        if !configs.is_empty() {
            client.alter_topic_configs(&topic, &configs).await?;
        }
    }
    Ok(())
}

fn is_unknown(e: &KafkaError) -> bool {
    e.code() == Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
}

/// kafka-topics.sh's describe layout: a topic line with the configs set on
/// the topic, then one line per partition.
async fn describe(client: &Client, topic: Option<&str>, if_exists: bool) -> anyhow::Result<()> {
    let md = match topic {
        Some(t) => client.metadata(Some(&[t]), false).await?,
        None => client.metadata(None, false).await?,
    };
    let names: Vec<String> = match topic {
        Some(t) => vec![t.to_string()],
        None => md.topics.keys().cloned().collect(),
    };
    for name in names {
        let t = match md.topics.get(&name) {
            Some(t) if t.error.is_none() => t,
            _ if if_exists => continue,
            _ => bail!("Topic '{name}' does not exist as expected"),
        };
        let overrides: Vec<String> = {
            let mut entries = client.describe_topic_configs(&name).await?;
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            entries
                .into_iter()
                .filter(|e| e.source == ConfigSource::DynamicTopic)
                .map(|e| format!("{}={}", e.name, e.value.unwrap_or_default()))
                .collect()
        };
        let rf = t.partitions.first().map_or(0, |p| p.replicas.len());
        println!(
            "Topic: {name}\tPartitionCount: {}\tReplicationFactor: {rf}\tConfigs: {}",
            t.partitions.len(),
            overrides.join(",")
        );
        for p in &t.partitions {
            let leader = if p.leader >= 0 {
                p.leader.to_string()
            } else {
                "none".to_string()
            };
            println!(
                "\tTopic: {name}\tPartition: {}\tLeader: {leader}\tReplicas: {}\tIsr: {}",
                p.partition,
                join(&p.replicas),
                join(&p.isr)
            );
        }
    }
    Ok(())
}

fn join(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}
