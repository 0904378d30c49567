//! `runnel delete-records`: kafka-delete-records.sh's flags, file and output.
//!
//! ```text
//! runnel delete-records --bootstrap-server B --offset-json-file FILE
//! ```
//!
//! FILE is Kafka's: `{"partitions": [{"topic": "t", "partition": 0,
//! "offset": 3}], "version": 1}`; offset -1 means the high watermark. Each
//! partition's leader gets one DeleteRecords request for its partitions;
//! the output is kafka-delete-records.sh's, one line per partition with its
//! new low watermark or its error.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context};
use clap::Args;
use kafka_protocol::error::ResponseError::{LeaderNotAvailable, UnknownTopicOrPartition};
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::DeleteRecordsRequest;
use runnel_common::kafka::{topic_name, Client, ErrorCode};
use serde::Deserialize;

use super::connect;

/// How long each leader may take to have its replicas follow (the tool's
/// default in Kafka too).
const TIMEOUT_MS: i32 = 30_000;

/// Broker answers worth another round with fresh metadata: the leader
/// does not know the partition yet (just created), not the leader any more,
/// no leader right now.
const RETRIABLE: [ErrorCode; 3] = [
    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
    ErrorCode::NOT_LEADER_OR_FOLLOWER,
    ErrorCode::LEADER_NOT_AVAILABLE,
];

/// Pause between rounds.
const RETRY_BACKOFF: std::time::Duration = std::time::Duration::from_millis(100);

type TopicPartition = (String, i32);

#[derive(Args, Debug)]
pub struct DeleteRecordsArgs {
    /// host:port of a broker (comma-separated list allowed).
    #[arg(long)]
    pub bootstrap_server: String,
    /// The JSON file of partitions and offsets.
    #[arg(long)]
    pub offset_json_file: String,
    /// A Kafka client properties file with the security settings to connect
    /// with (security.protocol, ssl.*, sasl.*), as kafka-delete-records.sh
    /// takes it.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<String>,
}

#[derive(Deserialize, Debug)]
struct OffsetFile {
    partitions: Vec<Entry>,
    #[serde(default)]
    #[allow(dead_code)]
    version: Option<i32>,
}

#[derive(Deserialize, Debug)]
struct Entry {
    topic: String,
    partition: i32,
    offset: i64,
}

/// Reads and checks the offset file: partitions and their offsets.
fn parse(text: &str) -> anyhow::Result<BTreeMap<(String, i32), i64>> {
    let file: OffsetFile =
        serde_json::from_str(text).context("the offset JSON file is not valid")?;
    let mut out = BTreeMap::new();
    let mut duplicates = BTreeSet::new();
    for e in file.partitions {
        if out
            .insert((e.topic.clone(), e.partition), e.offset)
            .is_some()
        {
            duplicates.insert(format!("{}-{}", e.topic, e.partition));
        }
    }
    if !duplicates.is_empty() {
        bail!(
            "Offset json file contains duplicate topic partitions: {}",
            duplicates.into_iter().collect::<Vec<_>>().join(",")
        );
    }
    Ok(out)
}

pub async fn run(args: DeleteRecordsArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.offset_json_file)
        .with_context(|| format!("cannot read {}", args.offset_json_file))?;
    let wanted = parse(&text)?;
    let client = connect(
        &args.bootstrap_server,
        std::time::Duration::from_millis(TIMEOUT_MS as u64 + 10_000),
        args.command_config.as_deref(),
    )
    .await?;
    let topics: Vec<&str> = wanted
        .keys()
        .map(|(t, _)| t.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    println!("Executing records delete operation");
    let deadline =
        tokio::time::Instant::now() + std::time::Duration::from_millis(TIMEOUT_MS as u64);
    let mut results: BTreeMap<TopicPartition, Result<i64, ErrorCode>> = BTreeMap::new();
    let mut pending: BTreeMap<TopicPartition, i64> = wanted.clone();
    // Rounds, as Kafka's AdminClient: a partition whose leader answered
    // with a retriable error (not yet the leader, leadership moved) is
    // sent again with fresh metadata until the tool's timeout.
    while !pending.is_empty() {
        let md = client.metadata(Some(&topics), false).await?;
        let mut by_leader: BTreeMap<i32, Vec<(TopicPartition, i64)>> = BTreeMap::new();
        for (key, offset) in std::mem::take(&mut pending) {
            let leader = md
                .topics
                .get(&key.0)
                .and_then(|t| t.partitions.iter().find(|p| p.partition == key.1))
                .map(|p| p.leader);
            match leader {
                Some(l) if l >= 0 => by_leader.entry(l).or_default().push((key, offset)),
                Some(_) => {
                    results.insert(key, Err(ErrorCode(LeaderNotAvailable.code())));
                }
                None => {
                    results.insert(key, Err(ErrorCode(UnknownTopicOrPartition.code())));
                }
            }
        }
        for (leader, parts) in by_leader {
            let offsets: BTreeMap<TopicPartition, i64> = parts.iter().cloned().collect();
            for (key, outcome) in delete_on(&client, leader, &parts).await? {
                let retriable = matches!(&outcome, Err(code) if RETRIABLE.contains(code));
                if retriable && tokio::time::Instant::now() < deadline {
                    if let Some(offset) = offsets.get(&key) {
                        pending.insert(key, *offset);
                        continue;
                    }
                }
                results.insert(key, outcome);
            }
        }
        if !pending.is_empty() {
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
    }
    println!("Records delete operation completed:");
    for ((topic, partition), outcome) in results {
        match outcome {
            Ok(low) => println!("partition: {topic}-{partition}\tlow_watermark: {low}"),
            Err(code) => println!("partition: {topic}-{partition}\terror: {code}"),
        }
    }
    Ok(())
}

/// One DeleteRecords request to `leader` for `parts`: each partition's
/// low watermark or error.
async fn delete_on(
    client: &Client,
    leader: i32,
    parts: &[(TopicPartition, i64)],
) -> anyhow::Result<Vec<(TopicPartition, Result<i64, ErrorCode>)>> {
    let mut request_topics: BTreeMap<&str, Vec<DeleteRecordsPartition>> = BTreeMap::new();
    for ((topic, partition), offset) in parts {
        request_topics.entry(topic.as_str()).or_default().push(
            DeleteRecordsPartition::default()
                .with_partition_index(*partition)
                .with_offset(*offset),
        );
    }
    let request = DeleteRecordsRequest::default()
        .with_timeout_ms(TIMEOUT_MS)
        .with_topics(
            request_topics
                .into_iter()
                .map(|(t, ps)| {
                    DeleteRecordsTopic::default()
                        .with_name(topic_name(t))
                        .with_partitions(ps)
                })
                .collect(),
        );
    let conn = client.node(leader).await?;
    let version = conn.version::<DeleteRecordsRequest>((0, 2))?;
    let response = conn
        .call(&request, version)
        .await
        .with_context(|| format!("DeleteRecords to broker {leader}"))?;
    let mut out = Vec::new();
    for t in response.topics {
        for p in t.partitions {
            let key = (t.name.0.to_string(), p.partition_index);
            let outcome = if p.error_code == 0 {
                Ok(p.low_watermark)
            } else {
                Err(ErrorCode(p.error_code))
            };
            out.push((key, outcome));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_file_as_kafka_writes_it() {
        let parsed = parse(
            r#"{"partitions": [{"topic": "t", "partition": 0, "offset": 3},
                {"topic": "t", "partition": 1, "offset": -1}], "version": 1}"#,
        )
        .unwrap();
        assert_eq!(parsed[&("t".to_string(), 0)], 3);
        assert_eq!(parsed[&("t".to_string(), 1)], -1);
        let dup = parse(
            r#"{"partitions": [{"topic": "t", "partition": 0, "offset": 3},
                {"topic": "t", "partition": 0, "offset": 4}]}"#,
        )
        .unwrap_err();
        assert!(dup.to_string().contains("duplicate topic partitions: t-0"));
        assert!(parse("{}").is_err());
    }
}
