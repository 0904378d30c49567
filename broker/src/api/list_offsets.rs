//! ListOffsets: earliest (-2), latest (-1), max timestamp (-3) or the first
//! offset whose timestamp is at least the one given. With `isolation_level`
//! 1 (read_committed) "latest" is the last stable offset and nothing at or
//! above it is visible, as in Kafka. Needs DESCRIBE on the topic (else
//! TOPIC_AUTHORIZATION_FAILED for each of its partitions).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use super::access::Access;
use super::fetch::epoch_error;
use crate::network::frame::Request;
use crate::security::acl::Operation;
use crate::server::Broker;

pub const EARLIEST: i64 = -2;
pub const LATEST: i64 = -1;
pub const MAX_TIMESTAMP: i64 = -3;

pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let version = req.version();
    let access = Access::of(broker, req);
    let read_committed = request.isolation_level == 1;
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let name = t.name.0.to_string();
            let allowed = access.topic(Operation::Describe, &name);
            let partitions = t
                .partitions
                .into_iter()
                .map(|lp| {
                    let mut r = ListOffsetsPartitionResponse::default()
                        .with_partition_index(lp.partition_index)
                        .with_timestamp(-1)
                        .with_offset(-1)
                        .with_leader_epoch(-1);
                    let found = allowed.and_then(|()| {
                        lookup(
                            broker,
                            &name,
                            lp.partition_index,
                            lp.timestamp,
                            lp.current_leader_epoch,
                            version,
                            read_committed,
                        )
                    });
                    match found {
                        Ok((ts, offset, epoch)) => {
                            r.timestamp = ts;
                            r.offset = offset;
                            if version >= 4 {
                                r.leader_epoch = epoch;
                            }
                        }
                        Err(e) => r.error_code = e.code(),
                    }
                    r
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

/// (timestamp, offset, leader epoch) for one partition.
fn lookup(
    broker: &Broker,
    topic: &str,
    partition: i32,
    timestamp: i64,
    current_leader_epoch: i32,
    version: i16,
    read_committed: bool,
) -> Result<(i64, i64, i32), ResponseError> {
    let p = broker.replicas.leader_partition(topic, partition)?;
    let epoch = p.leader_epoch();
    if let Some(e) = epoch_error(current_leader_epoch, epoch) {
        return Err(e);
    }
    let hw = p.high_watermark();
    // The highest offset a consumer of this isolation level may see.
    let hw = if read_committed {
        p.log.last_stable_offset(hw)
    } else {
        hw
    };
    match timestamp {
        LATEST => Ok((-1, hw, epoch)),
        MAX_TIMESTAMP if version < 7 => Err(ResponseError::UnsupportedVersion),
        ts if ts < 0 && ts != EARLIEST && ts != MAX_TIMESTAMP => Err(ResponseError::InvalidRequest),
        ts => match p.log.offset_for_timestamp(ts) {
            // Only committed records are visible to consumers.
            Ok(Some(found)) if found.offset < hw || ts == EARLIEST => Ok((
                found.timestamp,
                found.offset,
                found.leader_epoch.unwrap_or(-1),
            )),
            Ok(_) => Ok((-1, -1, -1)),
            Err(e) => Err(e.response_error()),
        },
    }
}
