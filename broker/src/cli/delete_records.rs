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
use runnel_common::kafka::{topic_name, ErrorCode};
use serde::Deserialize;

use super::connect;

/// How long each leader may take to have its replicas follow (the tool's
/// default in Kafka too).
const TIMEOUT_MS: i32 = 30_000;

type TopicPartition = (String, i32);

#[derive(Args, Debug)]
pub struct DeleteRecordsArgs {
    /// host:port of a broker (comma-separated list allowed).
    #[arg(long)]
    pub bootstrap_server: String,
    /// The JSON file of partitions and offsets.
    #[arg(long)]
    pub offset_json_file: String,
    /// Accepted for kafka-delete-records.sh compatibility; ignored (no security settings).
    #[arg(long)]
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
    )
    .await?;
    let topics: Vec<&str> = wanted
        .keys()
        .map(|(t, _)| t.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let md = client.metadata(Some(&topics), false).await?;
    println!("Executing records delete operation");
    let mut results: BTreeMap<(String, i32), Result<i64, ErrorCode>> = BTreeMap::new();
    let mut by_leader: BTreeMap<i32, Vec<(&TopicPartition, i64)>> = BTreeMap::new();
    for (key, offset) in &wanted {
        let leader = md
            .topics
            .get(&key.0)
            .and_then(|t| t.partitions.iter().find(|p| p.partition == key.1))
            .map(|p| p.leader);
        match leader {
            Some(l) if l >= 0 => by_leader.entry(l).or_default().push((key, *offset)),
            Some(_) => {
                results.insert(key.clone(), Err(ErrorCode(LeaderNotAvailable.code())));
            }
            None => {
                results.insert(key.clone(), Err(ErrorCode(UnknownTopicOrPartition.code())));
            }
        }
    }
    for (leader, parts) in by_leader {
        let mut request_topics: BTreeMap<&str, Vec<DeleteRecordsPartition>> = BTreeMap::new();
        for ((topic, partition), offset) in &parts {
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
        for t in response.topics {
            for p in t.partitions {
                let key = (t.name.0.to_string(), p.partition_index);
                let outcome = if p.error_code == 0 {
                    Ok(p.low_watermark)
                } else {
                    Err(ErrorCode(p.error_code))
                };
                results.insert(key, outcome);
            }
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
