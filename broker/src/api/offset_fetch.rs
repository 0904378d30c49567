//! OffsetFetch: committed offsets of one group (v1–7) or several (v8+);
//! `topics` null (v2+) means every partition the group has committed.
//! A partition without a commit answers offset -1 and no error, as Kafka;
//! with `require_stable` (v7+), a partition with an offset of an open
//! transaction answers UNSTABLE_OFFSET_COMMIT (the client retries).

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    GroupId, OffsetFetchRequest, OffsetFetchResponse, RequestHeader, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::group::state::Committed;
use crate::server::Broker;

/// topic → [(partition, committed)] in request (or name) order.
type Fetched = Vec<(String, Vec<(i32, PartitionAnswer)>)>;

/// The answer for one partition: its committed offset, or
/// UNSTABLE_OFFSET_COMMIT when `require_stable` (v7+) asks and an open
/// transaction has committed an offset for it.
type PartitionAnswer = Result<Option<Committed>, ResponseError>;

async fn fetch_group(
    broker: &Broker,
    group: &str,
    topics: Option<Vec<(String, Vec<i32>)>>,
    require_stable: bool,
) -> Result<Fetched, ResponseError> {
    let wanted = topics.as_ref().map(|ts| {
        ts.iter()
            .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))
            .collect::<Vec<_>>()
    });
    let found = broker.groups.fetch_offsets(group, wanted).await?;
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
            .map(|(t, _)| {
                let parts = by_topic.remove(&t).unwrap_or_default();
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

fn unstable_code(c: &PartitionAnswer) -> Option<i16> {
    c.as_ref().err().map(|e| e.code())
}

/// The answer for groups the client may not describe: `error` on every
/// group (v8+) or at the top (v2-7).
pub fn refused(request: &OffsetFetchRequest, version: i16, error: i16) -> OffsetFetchResponse {
    if version >= 8 {
        let groups = request
            .groups
            .iter()
            .map(|g| {
                OffsetFetchResponseGroup::default()
                    .with_group_id(g.group_id.clone())
                    .with_error_code(error)
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    OffsetFetchResponse::default().with_error_code(error)
}

pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: OffsetFetchRequest,
) -> OffsetFetchResponse {
    let version = header.request_api_version;
    if version >= 8 {
        let mut groups = Vec::new();
        for g in request.groups {
            let topics: Option<Vec<(String, Vec<i32>)>> = g.topics.map(|ts| {
                ts.into_iter()
                    .map(|t| (t.name.to_string(), t.partition_indexes))
                    .collect()
            });
            let stable = request.require_stable;
            let (fetched, code) = match fetch_group(broker, &g.group_id, topics, stable).await {
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
                                        .with_error_code(unstable_code(c).unwrap_or(0))
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
        match fetch_group(broker, &request.group_id, topics.clone(), stable).await {
            Ok(f) => (f, None),
            Err(e) => (failed(&topics), Some(e)),
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
                                .with_error_code(unstable_code(c).unwrap_or(partition_error))
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
