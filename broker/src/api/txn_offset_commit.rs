//! TxnOffsetCommit (v0–3): offsets a transactional producer commits for a
//! consumer group; the group coordinator holds them until the
//! transaction's marker (see [`crate::group::txn_offsets`]).
//!
//! Authorization as Kafka: WRITE on the transactional id
//! (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), then READ on the group
//! (GROUP_AUTHORIZATION_FAILED), either refusal answering every partition;
//! then READ on each topic (TOPIC_AUTHORIZATION_FAILED for its partitions).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use super::access::Access;
use super::offset_commit::{check_offsets, error_codes, CommitEntry};
use crate::network::frame::Request;
use crate::security::acl::Operation;
use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let version = req.version();
    let access = Access::of(broker, req);
    let request_allowed = access
        .transactional_id(Operation::Write, &request.transactional_id)
        .and_then(|()| access.group(Operation::Read, &request.group_id));
    let (early, to_commit) = check_offsets(
        broker,
        &access,
        request_allowed,
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
