//! OffsetCommit: checks each partition (READ on its topic, known topic,
//! metadata size), then the group stores the rest in one coord `multi`.
//!
//! Authorization as Kafka: READ on the group (else every partition answers
//! GROUP_AUTHORIZATION_FAILED) and READ on each topic (else
//! TOPIC_AUTHORIZATION_FAILED for its partitions). TxnOffsetCommit shares
//! these checks.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use super::access::Access;
use crate::group::coordinator::OffsetToCommit;
use crate::network::frame::Request;
use crate::security::acl::Operation;
use crate::server::{now_ms, Broker};

/// One partition of an OffsetCommit or TxnOffsetCommit request.
pub(crate) struct CommitEntry<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    /// -1 where the request version has no leader epoch.
    pub leader_epoch: i32,
    pub metadata: Option<&'a str>,
}

/// Per (topic index, partition index): an early error (the request or the
/// topic refused, unknown partition, metadata over
/// `offset.metadata.max.bytes`) or `None`; and the offsets that passed, to
/// hand to the group coordinator.
pub(crate) type Checked = (Vec<Vec<Option<ResponseError>>>, Vec<OffsetToCommit>);

/// The error code of every partition of a commit request, in request
/// order: its early error if it had one, else the group's result.
pub(crate) fn error_codes(
    early: Vec<Vec<Option<ResponseError>>>,
    result: Result<(), ResponseError>,
) -> impl Iterator<Item = Vec<i16>> {
    let stored = result.err().map_or(0, |e| e.code());
    early.into_iter().map(move |errors| {
        errors
            .into_iter()
            .map(|e| e.map_or(stored, |e| e.code()))
            .collect()
    })
}

/// The checks both commit APIs make before the group stores anything.
/// `request_allowed`: the whole request's authorization (the group, and
/// the transactional id for TxnOffsetCommit); refused, it is every
/// partition's answer.
pub(crate) fn check_offsets<'a, T, P>(
    broker: &Broker,
    access: &Access<'_>,
    request_allowed: Result<(), ResponseError>,
    topics: T,
) -> Checked
where
    T: Iterator<Item = P>,
    P: Iterator<Item = CommitEntry<'a>>,
{
    let snapshot = broker.metadata.snapshot();
    let max_metadata = broker.groups.config().offset_metadata_max_bytes;
    let mut early = Vec::new();
    let mut to_commit = Vec::new();
    for partitions in topics {
        let mut errors = Vec::new();
        // The verdict on the last topic asked about (a topic's partitions come together).
        let mut verdict: Option<(&str, Result<(), ResponseError>)> = None;
        for p in partitions {
            let allowed = match verdict {
                Some((topic, v)) if topic == p.topic => v,
                _ => {
                    let v = request_allowed.and_then(|()| access.topic(Operation::Read, p.topic));
                    verdict = Some((p.topic, v));
                    v
                }
            };
            let known = snapshot
                .topics
                .get(p.topic)
                .is_some_and(|tp| tp.partitions.contains_key(&p.partition));
            let metadata = p.metadata.unwrap_or_default().to_string();
            if let Err(e) = allowed {
                errors.push(Some(e));
            } else if !known {
                errors.push(Some(ResponseError::UnknownTopicOrPartition));
            } else if metadata.len() > max_metadata {
                errors.push(Some(ResponseError::OffsetMetadataTooLarge));
            } else {
                errors.push(None);
                to_commit.push(OffsetToCommit {
                    topic: p.topic.to_string(),
                    partition: p.partition,
                    offset: p.offset,
                    leader_epoch: p.leader_epoch,
                    metadata,
                });
            }
        }
        early.push(errors);
    }
    (early, to_commit)
}

/// Checks the commit and sends it to coord in request order; the returned
/// future answers once coord has stored it (the connection sends that
/// answer in its turn, so a client's pipelined commits share round trips).
pub async fn start(
    broker: &Broker,
    req: &Request,
    request: OffsetCommitRequest,
) -> impl std::future::Future<Output = OffsetCommitResponse> + Send + 'static {
    let version = req.version();
    let access = Access::of(broker, req);
    let (early, to_commit) = check_offsets(
        broker,
        &access,
        access.group(Operation::Read, &request.group_id),
        request.topics.iter().map(|t| {
            t.partitions.iter().map(|p| CommitEntry {
                topic: t.name.as_str(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: if version >= 6 {
                    p.committed_leader_epoch
                } else {
                    -1
                },
                metadata: p.committed_metadata.as_deref(),
            })
        }),
    );
    // v2–4 may ask for an explicit retention time.
    let expire = (version <= 4 && request.retention_time_ms >= 0)
        .then(|| now_ms() + request.retention_time_ms);
    let started = if to_commit.is_empty() && !early.iter().flatten().any(Option::is_none) {
        Ok(None)
    } else {
        broker
            .groups
            .start_commit_offsets(
                &request.group_id,
                &request.member_id,
                request.group_instance_id.as_deref(),
                request.generation_id_or_member_epoch,
                expire,
                to_commit,
            )
            .await
    };
    async move {
        let group_result = match started {
            Ok(Some(rx)) => rx
                .await
                .unwrap_or(Err(ResponseError::CoordinatorNotAvailable)),
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        let topics = request
            .topics
            .into_iter()
            .zip(error_codes(early, group_result))
            .map(|(t, codes)| {
                let partitions = t
                    .partitions
                    .iter()
                    .zip(codes)
                    .map(|(p, code)| {
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
}
