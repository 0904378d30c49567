//! TxnOffsetCommit (v0–3): offsets a transactional producer commits for a
//! consumer group; the group coordinator holds them until the
//! transaction's marker (see [`crate::group::txn_offsets`]).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{RequestHeader, TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use super::offset_commit::{check_offsets, error_codes, CommitEntry};
use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let version = header.request_api_version;
    let (early, to_commit) = check_offsets(
        broker,
        request.topics.iter().map(|t| {
            t.partitions.iter().map(|p| CommitEntry {
                topic: t.name.as_str(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: if version >= 2 {
                    p.committed_leader_epoch
                } else {
                    -1
                },
                metadata: p.committed_metadata.as_deref(),
            })
        }),
    );
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
        .zip(error_codes(early, result))
        .map(|(t, codes)| {
            let partitions = t
                .partitions
                .iter()
                .zip(codes)
                .map(|(p, code)| {
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
