//! OffsetForLeaderEpoch (KIP-101, KIP-279, KIP-320): where a leader epoch
//! ends in the leader's log. Followers ask it before fetching from a new
//! leader, to truncate what diverged; consumers ask it to validate their
//! position after a leader change.
//!
//! The answer for epoch E is the largest epoch ≤ E the log knows and the
//! start offset of the next epoch after it (the log end offset for the
//! current one); UNDEFINED (-1, -1) when the log has no such epoch.
//! `current_leader_epoch` is checked as in Fetch (FENCED_LEADER_EPOCH /
//! UNKNOWN_LEADER_EPOCH). v2–4 go through the protocol crate, v0–1 are
//! coded here.
//!
//! Authorization as Kafka (KIP-320): a broker (CLUSTER_ACTION on the
//! cluster) may ask about any partition; anyone else needs DESCRIBE on the
//! topic, else TOPIC_AUTHORIZATION_FAILED for each of its partitions.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::access::Access;
use super::fetch::epoch_error;
use super::Reply;
use crate::network::frame::Request;
use crate::security::acl::Operation;
use crate::server::Broker;

/// Whether the sender may ask about `topic`'s partitions.
fn topic_access(access: &Access<'_>, from_broker: bool, topic: &str) -> Result<(), ResponseError> {
    if from_broker {
        Ok(())
    } else {
        access.topic(Operation::Describe, topic)
    }
}

pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let access = Access::of(broker, req);
    let from_broker = access.cluster(Operation::ClusterAction).is_ok();
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let name = topic.topic.0.as_str();
            let allowed = topic_access(&access, from_broker, name);
            let partitions = topic
                .partitions
                .iter()
                .map(|rp| match allowed {
                    Ok(()) => end_offset(
                        broker,
                        name,
                        rp.partition,
                        rp.current_leader_epoch,
                        rp.leader_epoch,
                    ),
                    Err(e) => undefined(rp.partition).with_error_code(e.code()),
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(topic.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}

/// A partition's answer without an end offset (UNDEFINED), before its error.
fn undefined(partition: i32) -> EpochEndOffset {
    EpochEndOffset::default()
        .with_partition(partition)
        .with_leader_epoch(-1)
        .with_end_offset(-1)
}

/// One partition's answer (`current_leader_epoch` -1: not checked).
fn end_offset(
    broker: &Broker,
    topic: &str,
    partition: i32,
    current_leader_epoch: i32,
    leader_epoch: i32,
) -> EpochEndOffset {
    let out = undefined(partition);
    let p = match broker.replicas.leader_partition(topic, partition) {
        Ok(p) => p,
        Err(e) => return out.with_error_code(e.code()),
    };
    if let Some(e) = epoch_error(current_leader_epoch, p.leader_epoch()) {
        return out.with_error_code(e.code());
    }
    let (epoch, end) = p.log.end_offset_for_epoch(leader_epoch);
    out.with_leader_epoch(epoch).with_end_offset(end)
}

/// v0–1 predate the protocol crate's range, so they are read and written
/// here: request `[topic [partition leader_epoch]]`, response
/// `[topic [error_code partition (v1: leader_epoch) end_offset]]`, header v1
/// in and v0 out, no throttle time.
pub fn is_legacy(version: i16) -> bool {
    (0..=1).contains(&version)
}

/// Answers an OffsetForLeaderEpoch v0–1 request; an undecodable body closes
/// the connection, as for any version.
pub fn handle_legacy(broker: &Broker, req: &Request) -> Reply {
    let version = req.version();
    let Some(topics) = parse_legacy(req.body.clone()) else {
        return Reply::Close(format!("undecodable OffsetForLeaderEpoch v{version}"));
    };
    let access = Access::of(broker, req);
    let from_broker = access.cluster(Operation::ClusterAction).is_ok();
    let mut body = BytesMut::new();
    body.put_i32(req.header.correlation_id);
    body.put_i32(topics.len() as i32);
    for (name, partitions) in &topics {
        body.put_i16(name.len() as i16);
        body.put_slice(name.as_bytes());
        body.put_i32(partitions.len() as i32);
        let allowed = topic_access(&access, from_broker, name);
        for (partition, leader_epoch) in partitions {
            let r = match allowed {
                Ok(()) => end_offset(broker, name, *partition, -1, *leader_epoch),
                Err(e) => undefined(*partition).with_error_code(e.code()),
            };
            body.put_i16(r.error_code);
            body.put_i32(r.partition);
            if version >= 1 {
                body.put_i32(r.leader_epoch);
            }
            body.put_i64(r.end_offset);
        }
    }
    let mut frame = BytesMut::with_capacity(4 + body.len());
    frame.put_i32(body.len() as i32);
    frame.put_slice(&body);
    Reply::Send(frame.freeze())
}

pub(crate) type LegacyTopics = Vec<(String, Vec<(i32, i32)>)>;

/// Parses a v0–1 body; `None` if it is truncated, has trailing bytes or a
/// topic name that is not UTF-8.
pub(crate) fn parse_legacy(mut b: Bytes) -> Option<LegacyTopics> {
    fn need(b: &Bytes, n: usize) -> Option<()> {
        (b.remaining() >= n).then_some(())
    }
    need(&b, 4)?;
    let topic_count = b.get_i32();
    let mut topics = Vec::new();
    for _ in 0..topic_count.max(0) {
        need(&b, 2)?;
        let len = usize::try_from(b.get_i16()).ok()?;
        need(&b, len)?;
        let name = String::from_utf8(b.split_to(len).to_vec()).ok()?;
        need(&b, 4)?;
        let n = b.get_i32();
        let mut partitions = Vec::new();
        for _ in 0..n.max(0) {
            need(&b, 8)?;
            partitions.push((b.get_i32(), b.get_i32()));
        }
        topics.push((name, partitions));
    }
    b.is_empty().then_some(topics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_body_parses_and_rejects_bad_bytes() {
        let mut b = BytesMut::new();
        b.put_i32(1);
        b.put_i16(3);
        b.put_slice(b"abc");
        b.put_i32(2);
        b.put_i32(0);
        b.put_i32(5);
        b.put_i32(1);
        b.put_i32(-1);
        let whole = b.freeze();
        let topics = parse_legacy(whole.clone()).unwrap();
        assert_eq!(topics, vec![("abc".to_string(), vec![(0, 5), (1, -1)])]);
        for cut in 0..whole.len() {
            assert!(parse_legacy(whole.slice(..cut)).is_none(), "cut at {cut}");
        }
        let mut trailing = BytesMut::from(&whole[..]);
        trailing.put_u8(0);
        assert!(parse_legacy(trailing.freeze()).is_none());
        // A hostile count fails on the missing bytes, without allocating for it.
        let mut huge = BytesMut::new();
        huge.put_i32(i32::MAX);
        assert!(parse_legacy(huge.freeze()).is_none());
    }
}
