//! TxnOffsetCommit (v0–3): offsets a transactional producer commits for a
//! consumer group; the group coordinator holds them until the
//! transaction's marker (see [`crate::group::txn_offsets`]).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{RequestHeader, TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use crate::group::coordinator::OffsetToCommit;
use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let version = header.request_api_version;
    let snapshot = broker.metadata.snapshot();
    let max_metadata = broker.groups.config().offset_metadata_max_bytes;
    let mut early: Vec<Vec<Option<ResponseError>>> = Vec::new();
    let mut to_commit = Vec::new();
    for t in &request.topics {
        let topic = snapshot.topics.get(t.name.as_str());
        let mut errors = Vec::new();
        for p in &t.partitions {
            let known = topic.is_some_and(|tp| tp.partitions.contains_key(&p.partition_index));
            let metadata = p
                .committed_metadata
                .as_ref()
                .map(|m| m.to_string())
                .unwrap_or_default();
            if !known {
                errors.push(Some(ResponseError::UnknownTopicOrPartition));
            } else if metadata.len() > max_metadata {
                errors.push(Some(ResponseError::OffsetMetadataTooLarge));
            } else {
                errors.push(None);
                to_commit.push(OffsetToCommit {
                    topic: t.name.to_string(),
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    leader_epoch: if version >= 2 {
                        p.committed_leader_epoch
                    } else {
                        -1
                    },
                    metadata,
                });
            }
        }
        early.push(errors);
    }
    let result = if to_commit.is_empty() {
        Ok(())
    } else {
        broker
            .groups
            .commit_txn_offsets(
                &request.group_id,
                request.producer_id.0,
                request.producer_epoch,
                &request.member_id,
                request.group_instance_id.as_deref(),
                request.generation_id,
                to_commit,
            )
            .await
    };
    // Kafka's offsets-topic append rejects a stale epoch with
    // INVALID_PRODUCER_EPOCH in every version.
    let result = result.map_err(|e| match e {
        ResponseError::ProducerFenced => ResponseError::InvalidProducerEpoch,
        other => other,
    });
    let topics = request
        .topics
        .into_iter()
        .zip(early)
        .map(|(t, errors)| {
            let partitions = t
                .partitions
                .iter()
                .zip(errors)
                .map(|(p, e)| {
                    let code = match e {
                        Some(e) => e.code(),
                        None => result.err().map_or(0, |e| e.code()),
                    };
                    TxnOffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            TxnOffsetCommitResponseTopic::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}
