//! `runnel log-dirs`: kafka-log-dirs.sh's flags and output.
//!
//! ```text
//! runnel log-dirs --bootstrap-server B --describe [--broker-list 1,2] [--topic-list t1,t2]
//! ```
//!
//! Asks every broker (or those listed) for its log directories with
//! DescribeLogDirs and prints Kafka's two lines and JSON document: each
//! broker's directories and, per partition, its size in bytes (so a
//! compacted partition's size can be followed before and after cleaning).

use std::collections::BTreeSet;

use anyhow::{bail, Context};
use clap::Args;
use kafka_protocol::messages::DescribeLogDirsRequest;
use runnel_common::kafka::ErrorCode;
use serde::Serialize;

use super::connect;

#[derive(Args, Debug)]
pub struct LogDirsArgs {
    /// host:port of a broker (comma-separated list allowed).
    #[arg(long)]
    pub bootstrap_server: String,
    /// Describe the log directories (the only action, as in Kafka's tool).
    #[arg(long)]
    pub describe: bool,
    /// Brokers to ask, comma-separated ids (default: all).
    #[arg(long)]
    pub broker_list: Option<String>,
    /// Topics to show, comma-separated (default: all).
    #[arg(long)]
    pub topic_list: Option<String>,
    /// A Kafka client properties file with the security settings to connect
    /// with (security.protocol, ssl.*, sasl.*), as kafka-log-dirs.sh takes it.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<String>,
}

/// Kafka's JSON document, keys in its order.
#[derive(Serialize, Debug, PartialEq)]
struct Document {
    version: i32,
    brokers: Vec<BrokerDirs>,
}

#[derive(Serialize, Debug, PartialEq)]
struct BrokerDirs {
    broker: i32,
    #[serde(rename = "logDirs")]
    log_dirs: Vec<LogDir>,
}

#[derive(Serialize, Debug, PartialEq)]
struct LogDir {
    #[serde(rename = "logDir")]
    log_dir: String,
    error: Option<String>,
    partitions: Vec<PartitionDir>,
}

#[derive(Serialize, Debug, PartialEq)]
struct PartitionDir {
    partition: String,
    size: i64,
    #[serde(rename = "offsetLag")]
    offset_lag: i64,
    #[serde(rename = "isFuture")]
    is_future: bool,
}

fn list(s: &Option<String>) -> Option<BTreeSet<String>> {
    s.as_ref().map(|l| {
        l.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(String::from)
            .collect()
    })
}

pub async fn run(args: LogDirsArgs) -> anyhow::Result<()> {
    if !args.describe {
        bail!("Command must include exactly one action: --describe");
    }
    let client = connect(
        &args.bootstrap_server,
        std::time::Duration::from_secs(30),
        args.command_config.as_deref(),
    )
    .await?;
    let md = client.metadata(Some(&[]), false).await?;
    let brokers: Vec<i32> = match list(&args.broker_list) {
        None => md.brokers.keys().copied().collect(),
        Some(ids) => ids
            .iter()
            .map(|i| {
                i.parse::<i32>()
                    .with_context(|| format!("not a broker id: {i}"))
            })
            .collect::<anyhow::Result<_>>()?,
    };
    let topics = list(&args.topic_list);
    println!("Querying brokers for log directories information");
    let mut doc = Document {
        version: 1,
        brokers: Vec::new(),
    };
    for id in &brokers {
        let conn = client.node(*id).await?;
        let version = conn.version::<DescribeLogDirsRequest>((1, 4))?;
        let response = conn
            .call(
                &DescribeLogDirsRequest::default().with_topics(None),
                version,
            )
            .await
            .with_context(|| format!("DescribeLogDirs to broker {id}"))?;
        let mut dirs = Vec::new();
        for r in response.results {
            let mut partitions = Vec::new();
            for t in r.topics {
                let name = t.name.0.to_string();
                if topics.as_ref().is_some_and(|w| !w.contains(&name)) {
                    continue;
                }
                for p in t.partitions {
                    partitions.push(PartitionDir {
                        partition: format!("{name}-{}", p.partition_index),
                        size: p.partition_size,
                        offset_lag: p.offset_lag,
                        is_future: p.is_future_key,
                    });
                }
            }
            dirs.push(LogDir {
                log_dir: r.log_dir.to_string(),
                error: (r.error_code != 0).then(|| ErrorCode(r.error_code).name().to_string()),
                partitions,
            });
        }
        doc.brokers.push(BrokerDirs {
            broker: *id,
            log_dirs: dirs,
        });
    }
    let ids: Vec<String> = brokers.iter().map(i32::to_string).collect();
    println!(
        "Received log directory information from brokers {}",
        ids.join(",")
    );
    println!("{}", serde_json::to_string(&doc)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_as_kafka_prints_it() {
        let doc = Document {
            version: 1,
            brokers: vec![BrokerDirs {
                broker: 1,
                log_dirs: vec![LogDir {
                    log_dir: "/data".into(),
                    error: None,
                    partitions: vec![PartitionDir {
                        partition: "t-0".into(),
                        size: 42,
                        offset_lag: 0,
                        is_future: false,
                    }],
                }],
            }],
        };
        assert_eq!(
            serde_json::to_string(&doc).unwrap(),
            r#"{"version":1,"brokers":[{"broker":1,"logDirs":[{"logDir":"/data","error":null,"partitions":[{"partition":"t-0","size":42,"offsetLag":0,"isFuture":false}]}]}]}"#
        );
    }
}
