//! OffsetCommit: checks each partition (known topic, metadata size), then
//! the group stores the rest in one coord `multi`.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse, RequestHeader};

use crate::group::coordinator::OffsetToCommit;
use crate::server::{now_ms, Broker};

pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let version = header.request_api_version;
    let snapshot = broker.metadata.snapshot();
    let max_metadata = broker.groups.config().offset_metadata_max_bytes;
    // Per (topic index, partition index): an early error, or None to commit.
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
                    leader_epoch: if version >= 6 {
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
    // v2–4 may ask for an explicit retention time.
    let expire = (version <= 4 && request.retention_time_ms >= 0)
        .then(|| now_ms() + request.retention_time_ms);
    let group_result = if to_commit.is_empty() && !early.iter().flatten().any(Option::is_none) {
        Ok(())
    } else {
        broker
            .groups
            .commit_offsets(
                &request.group_id,
                &request.member_id,
                request.group_instance_id.as_deref(),
                request.generation_id_or_member_epoch,
                expire,
                to_commit,
            )
            .await
    };
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
                        None => group_result.err().map_or(0, |e| e.code()),
                    };
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            OffsetCommitResponseTopic::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}
