//! OffsetFetch: committed offsets of one group (v1–7) or several (v8+);
//! `topics` null (v2+) means every partition the group has committed.
//! A partition without a commit answers offset -1 and no error, as Kafka;
//! with `require_stable` (v7+), a partition with an offset of an open
//! transaction answers UNSTABLE_OFFSET_COMMIT (the client retries).
//!
//! Authorization as Kafka: DESCRIBE on the group, else
//! GROUP_AUTHORIZATION_FAILED for that group (at the top for v2–7, on each
//! requested partition for v0–1, per group for v8+); and DESCRIBE on each
//! topic, else TOPIC_AUTHORIZATION_FAILED for its requested partitions —
//! asked for all committed offsets, such topics are left out.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{GroupId, OffsetFetchRequest, OffsetFetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::access::Access;
use crate::group::state::Committed;
use crate::network::frame::Request;
use crate::security::acl::Operation;
use crate::server::Broker;

/// topic → [(partition, committed)] in request (or name) order.
type Fetched = Vec<(String, Vec<(i32, PartitionAnswer)>)>;

/// The answer for one partition: its committed offset, or
/// TOPIC_AUTHORIZATION_FAILED for a topic the principal may not describe,
/// or UNSTABLE_OFFSET_COMMIT when `require_stable` (v7+) asks and an open
/// transaction has committed an offset for it.
type PartitionAnswer = Result<Option<Committed>, ResponseError>;

/// One group's offsets, once the principal may describe it.
async fn fetch_group(
    broker: &Broker,
    access: &Access<'_>,
    group: &str,
    topics: Option<Vec<(String, Vec<i32>)>>,
    require_stable: bool,
) -> Result<Fetched, ResponseError> {
    access.group(Operation::Describe, group)?;
    let topic_allowed = |t: &str| access.topic(Operation::Describe, t);
    let wanted = topics.as_ref().map(|ts| {
        ts.iter()
            .filter(|(t, _)| topic_allowed(t).is_ok())
            .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))
            .collect::<Vec<_>>()
    });
    let mut found = broker.groups.fetch_offsets(group, wanted).await?;
    if topics.is_none() {
        // All committed offsets: only those of topics the principal may describe.
        found.retain(|((t, _), _)| topic_allowed(t).is_ok());
    }
    let unstable = if require_stable {
        broker.groups.unstable_partitions(group).await?
    } else {
        Default::default()
    };
    let mut by_topic: BTreeMap<String, Vec<(i32, PartitionAnswer)>> = BTreeMap::new();
    for ((t, p), c) in found {
        let answer = if unstable.contains(&(t.clone(), p)) {
            Err(ResponseError::UnstableOffsetCommit)
        } else {
            Ok(c)
        };
        by_topic.entry(t).or_default().push((p, answer));
    }
    Ok(match topics {
        // Keep the request's topic order.
        Some(ts) => ts
            .into_iter()
            .map(|(t, ps)| {
                let parts = match topic_allowed(&t) {
                    Ok(()) => by_topic.remove(&t).unwrap_or_default(),
                    Err(e) => ps.into_iter().map(|p| (p, Err(e))).collect(),
                };
                (t, parts)
            })
            .collect(),
        None => by_topic.into_iter().collect(),
    })
}

/// Offsets for requested partitions when the whole group failed (v1 has no
/// group-level error: every partition carries it).
fn failed(topics: &Option<Vec<(String, Vec<i32>)>>) -> Fetched {
    topics
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(t, ps)| (t, ps.into_iter().map(|p| (p, Ok(None))).collect()))
        .collect()
}

fn parts(c: &PartitionAnswer, version: i16) -> (i64, i32, String) {
    match c {
        Ok(Some(c)) => (
            c.offset,
            if version >= 5 { c.leader_epoch } else { -1 },
            c.metadata.clone(),
        ),
        Ok(None) | Err(_) => (-1, -1, String::new()),
    }
}

fn partition_code(c: &PartitionAnswer) -> Option<i16> {
    c.as_ref().err().map(|e| e.code())
}

pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: OffsetFetchRequest,
) -> OffsetFetchResponse {
    let version = req.version();
    let access = Access::of(broker, req);
    if version >= 8 {
        let mut groups = Vec::new();
        for g in request.groups {
            let topics: Option<Vec<(String, Vec<i32>)>> = g.topics.map(|ts| {
                ts.into_iter()
                    .map(|t| (t.name.to_string(), t.partition_indexes))
                    .collect()
            });
            let stable = request.require_stable;
            let (fetched, code) =
                match fetch_group(broker, &access, &g.group_id, topics, stable).await {
                    Ok(f) => (f, 0),
                    Err(e) => (Vec::new(), e.code()),
                };
            let topics = fetched
                .into_iter()
                .map(|(t, ps)| {
                    OffsetFetchResponseTopics::default()
                        .with_name(TopicName(StrBytes::from_string(t)))
                        .with_partitions(
                            ps.iter()
                                .map(|(p, c)| {
                                    let (offset, epoch, meta) = parts(c, version);
                                    OffsetFetchResponsePartitions::default()
                                        .with_partition_index(*p)
                                        .with_committed_offset(offset)
                                        .with_committed_leader_epoch(epoch)
                                        .with_metadata(Some(StrBytes::from_string(meta)))
                                        .with_error_code(partition_code(c).unwrap_or(0))
                                })
                                .collect(),
                        )
                })
                .collect();
            groups.push(
                OffsetFetchResponseGroup::default()
                    .with_group_id(GroupId(g.group_id.0))
                    .with_topics(topics)
                    .with_error_code(code),
            );
        }
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let topics: Option<Vec<(String, Vec<i32>)>> = request.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name.to_string(), t.partition_indexes))
            .collect()
    });
    let stable = version >= 7 && request.require_stable;
    let (fetched, group_error) =
        match fetch_group(broker, &access, &request.group_id, topics.clone(), stable).await {
            Ok(f) => (f, None),
            // Kafka (OffsetFetchRequest.getErrorResponse): v0–1 carry the
            // error on every requested partition, v2+ only at the top,
            // with no partitions.
            Err(e) if version < 2 => (failed(&topics), Some(e)),
            Err(e) => (Vec::new(), Some(e)),
        };
    let partition_error = if version < 2 {
        group_error.map_or(0, |e| e.code())
    } else {
        0
    };
    let topics = fetched
        .into_iter()
        .map(|(t, ps)| {
            OffsetFetchResponseTopic::default()
                .with_name(TopicName(StrBytes::from_string(t)))
                .with_partitions(
                    ps.iter()
                        .map(|(p, c)| {
                            let (offset, epoch, meta) = parts(c, version);
                            OffsetFetchResponsePartition::default()
                                .with_partition_index(*p)
                                .with_committed_offset(offset)
                                .with_committed_leader_epoch(epoch)
                                .with_metadata(Some(StrBytes::from_string(meta)))
                                .with_error_code(partition_code(c).unwrap_or(partition_error))
                        })
                        .collect(),
                )
        })
        .collect();
    let mut resp = OffsetFetchResponse::default().with_topics(topics);
    if version >= 2 {
        resp.error_code = group_error.map_or(0, |e| e.code());
    }
    resp
}
