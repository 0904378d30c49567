//! OffsetForLeaderEpoch (KIP-101, KIP-279, KIP-320): where a leader epoch
//! ends in the leader's log. Followers ask it before fetching from a new
//! leader, to truncate what diverged; consumers ask it to validate their
//! position after a leader change.
//!
//! The answer for epoch E is the largest epoch ≤ E the log knows and the
//! start offset of the next epoch after it (the log end offset for the
//! current one); UNDEFINED (-1, -1) when the log has no such epoch.
//! `current_leader_epoch` is checked as in Fetch (FENCED_LEADER_EPOCH /
//! UNKNOWN_LEADER_EPOCH).

use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, RequestHeader,
};

use super::fetch::epoch_error;
use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    _header: &RequestHeader,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let name = topic.topic.0.as_str();
            let partitions = topic
                .partitions
                .iter()
                .map(|rp| {
                    let out = EpochEndOffset::default()
                        .with_partition(rp.partition)
                        .with_leader_epoch(-1)
                        .with_end_offset(-1);
                    let p = match broker.replicas.leader_partition(name, rp.partition) {
                        Ok(p) => p,
                        Err(e) => return out.with_error_code(e.code()),
                    };
                    if let Some(e) = epoch_error(rp.current_leader_epoch, p.leader_epoch()) {
                        return out.with_error_code(e.code());
                    }
                    let (epoch, end) = p.log.end_offset_for_epoch(rp.leader_epoch);
                    out.with_leader_epoch(epoch).with_end_offset(end)
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(topic.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
