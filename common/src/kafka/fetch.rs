//! Fetch and ListOffsets: reading a partition from an offset, and finding
//! the offsets to start from.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{FetchRequest, FetchResponse, ListOffsetsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::client::Client;
use super::error::{ErrorCode, KafkaError};

/// v4 is the first with v2 batches and the high watermark; v13 would need
/// topic ids.
pub const FETCH_VERSIONS: (i16, i16) = (4, 12);
/// v1 is the first with one offset per partition (v0 returned lists).
pub const LIST_OFFSETS_VERSIONS: (i16, i16) = (1, 7);

/// ListOffsets timestamps with a special meaning.
pub const EARLIEST: i64 = -2;
pub const LATEST: i64 = -1;

/// One partition to read and where from.
#[derive(Debug, Clone)]
pub struct FetchPosition {
    pub partition: i32,
    pub offset: i64,
    /// Kafka's `max.partition.fetch.bytes` (1 MiB by default).
    pub max_bytes: i32,
}

/// A full (sessionless) fetch of some partitions of one topic, as a
/// consumer sends it (replica id -1).
pub fn request(
    topic: &str,
    positions: &[FetchPosition],
    max_wait_ms: i32,
    min_bytes: i32,
    max_bytes: i32,
) -> FetchRequest {
    let mut ft = FetchTopic::default();
    ft.topic = TopicName(StrBytes::from_string(topic.to_string()));
    ft.partitions = positions
        .iter()
        .map(|p| {
            let mut fp = FetchPartition::default();
            fp.partition = p.partition;
            fp.fetch_offset = p.offset;
            fp.partition_max_bytes = p.max_bytes;
            fp.current_leader_epoch = -1;
            fp.log_start_offset = -1;
            fp.last_fetched_epoch = -1;
            fp
        })
        .collect();
    let mut req = FetchRequest::default();
    req.replica_id = (-1).into();
    req.max_wait_ms = max_wait_ms;
    req.min_bytes = min_bytes;
    req.max_bytes = max_bytes;
    req.isolation_level = 0;
    req.session_id = 0;
    req.session_epoch = -1; // no fetch session: every fetch is full
    req.topics.push(ft);
    req
}

/// One partition's part of a fetch response.
#[derive(Debug, Clone)]
pub struct FetchedPartition {
    pub topic: String,
    pub partition: i32,
    pub error: Option<ErrorCode>,
    pub high_watermark: i64,
    pub log_start_offset: i64,
    /// Whole batches, perhaps with a cut-off one at the end
    /// (see [`super::batch::Batches`]).
    pub records: Bytes,
}

pub fn partitions(resp: FetchResponse) -> Result<Vec<FetchedPartition>, KafkaError> {
    ErrorCode::check(resp.error_code).map_err(|code| KafkaError::broker("fetch", code, None))?;
    let mut out = Vec::new();
    for t in resp.responses {
        let topic = t.topic.0.to_string();
        for p in t.partitions {
            out.push(FetchedPartition {
                topic: topic.clone(),
                partition: p.partition_index,
                error: ErrorCode::check(p.error_code).err(),
                high_watermark: p.high_watermark,
                log_start_offset: p.log_start_offset,
                records: p.records.unwrap_or_default(),
            });
        }
    }
    Ok(out)
}

impl Client {
    /// One fetch of some partitions of one topic from one broker (their
    /// leader), as a consumer sends it.
    pub async fn fetch(
        &self,
        broker: i32,
        topic: &str,
        positions: &[FetchPosition],
        max_wait_ms: i32,
        max_bytes: i32,
    ) -> Result<Vec<FetchedPartition>, KafkaError> {
        let conn = self.node(broker).await?;
        let version = conn.version::<FetchRequest>(FETCH_VERSIONS)?;
        let req = request(topic, positions, max_wait_ms, 1, max_bytes);
        partitions(conn.call(&req, version).await?)
    }

    /// The offset of each partition at `timestamp` ([`EARLIEST`],
    /// [`LATEST`], or milliseconds since the epoch), asked of each
    /// partition's leader.
    pub async fn list_offsets(
        &self,
        topic: &str,
        partitions: &[i32],
        timestamp: i64,
    ) -> Result<BTreeMap<i32, Result<i64, KafkaError>>, KafkaError> {
        let md = self.metadata(Some(&[topic]), false).await?;
        let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
        let mut out = BTreeMap::new();
        for &p in partitions {
            match md.leader(topic, p) {
                Some(leader) => by_leader.entry(leader).or_default().push(p),
                None => {
                    let code = md
                        .topics
                        .get(topic)
                        .and_then(|t| t.error)
                        .unwrap_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
                    out.insert(
                        p,
                        Err(KafkaError::broker(
                            format!("list offsets of {topic}-{p}"),
                            code,
                            None,
                        )),
                    );
                }
            }
        }
        for (leader, parts) in by_leader {
            let conn = self.node(leader).await?;
            let version = conn.version::<ListOffsetsRequest>(LIST_OFFSETS_VERSIONS)?;
            let mut lt = ListOffsetsTopic::default();
            lt.name = TopicName(StrBytes::from_string(topic.to_string()));
            lt.partitions = parts
                .iter()
                .map(|&p| {
                    let mut lp = ListOffsetsPartition::default();
                    lp.partition_index = p;
                    lp.timestamp = timestamp;
                    lp.current_leader_epoch = -1;
                    lp
                })
                .collect();
            let mut req = ListOffsetsRequest::default();
            req.replica_id = (-1).into();
            req.topics.push(lt);
            let resp = conn.call(&req, version).await?;
            for t in resp.topics {
                for p in t.partitions {
                    let res = match ErrorCode::check(p.error_code) {
                        Ok(()) => Ok(p.offset),
                        Err(code) => Err(KafkaError::broker(
                            format!("list offsets of {topic}-{}", p.partition_index),
                            code,
                            None,
                        )),
                    };
                    out.insert(p.partition_index, res);
                }
            }
        }
        Ok(out)
    }
}
