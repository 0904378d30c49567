//! Produce requests: record batches for partitions, and the per-partition
//! answers.

use bytes::Bytes;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::client::Client;
use super::error::{ErrorCode, KafkaError};

/// v3 is the first with v2 record batches; v13 would need topic ids.
pub const PRODUCE_VERSIONS: (i16, i16) = (3, 12);

/// Kafka's `acks`: 0 (no answer), 1 (the leader wrote it), -1 (`all`: the
/// ISR has it).
pub fn parse_acks(s: &str) -> Option<i16> {
    match s {
        "0" => Some(0),
        "1" => Some(1),
        "-1" | "all" => Some(-1),
        _ => None,
    }
}

/// A Produce request with one batch per listed partition of one topic.
pub fn request(
    acks: i16,
    timeout_ms: i32,
    topic: &str,
    batches: Vec<(i32, Bytes)>,
) -> ProduceRequest {
    let mut td = TopicProduceData::default();
    td.name = TopicName(StrBytes::from_string(topic.to_string()));
    td.partition_data = batches
        .into_iter()
        .map(|(index, records)| {
            let mut p = PartitionProduceData::default();
            p.index = index;
            p.records = Some(records);
            p
        })
        .collect();
    let mut req = ProduceRequest::default();
    req.acks = acks;
    req.timeout_ms = timeout_ms;
    req.topic_data.push(td);
    req
}

/// What the leader said about one partition's batch.
#[derive(Debug)]
pub struct PartitionAck {
    pub topic: String,
    pub partition: i32,
    /// The offset the batch's first record got.
    pub result: Result<i64, KafkaError>,
}

pub fn acks(resp: &ProduceResponse) -> Vec<PartitionAck> {
    let mut out = Vec::new();
    for t in &resp.responses {
        let topic = t.name.0.to_string();
        for p in &t.partition_responses {
            let result = match ErrorCode::check(p.error_code) {
                Ok(()) => Ok(p.base_offset),
                Err(code) => Err(KafkaError::broker(
                    format!("produce to {topic}-{}", p.index),
                    code,
                    p.error_message.as_ref().map(|m| m.as_str()),
                )),
            };
            out.push(PartitionAck {
                topic: topic.clone(),
                partition: p.index,
                result,
            });
        }
    }
    out
}

impl Client {
    /// Sends one batch to a partition's leader and waits for the answer:
    /// the base offset, or `None` with `acks=0`.
    pub async fn produce(
        &self,
        topic: &str,
        partition: i32,
        batch: Bytes,
        acks: i16,
        timeout_ms: i32,
    ) -> Result<Option<i64>, KafkaError> {
        let md = self.metadata(Some(&[topic]), false).await?;
        let leader = md.leader(topic, partition).ok_or_else(|| {
            let code = md
                .topics
                .get(topic)
                .and_then(|t| t.error)
                .unwrap_or(ErrorCode::LEADER_NOT_AVAILABLE);
            KafkaError::broker(format!("produce to {topic}-{partition}"), code, None)
        })?;
        let conn = self.node(leader).await?;
        let version = conn.version::<ProduceRequest>(PRODUCE_VERSIONS)?;
        let req = request(acks, timeout_ms, topic, vec![(partition, batch)]);
        if acks == 0 {
            conn.send_no_reply(&req, version).await?;
            return Ok(None);
        }
        let resp = conn.call(&req, version).await?;
        match acks_of(&resp, partition) {
            Some(ack) => ack.result.map(Some),
            None => Err(KafkaError::Invalid(format!(
                "produce response has no answer for {topic}-{partition}"
            ))),
        }
    }
}

fn acks_of(resp: &ProduceResponse, partition: i32) -> Option<PartitionAck> {
    acks(resp).into_iter().find(|a| a.partition == partition)
}
