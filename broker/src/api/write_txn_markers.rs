//! WriteTxnMarkers (v1, sent by transaction coordinators): write a commit
//! or abort marker for a producer into each listed partition this broker
//! leads, and answer once the ISR has it (Kafka appends markers with
//! `acks=all`). The pseudo-topic `__consumer_offsets` stands for the
//! transaction's consumer-group offsets, one partition per group slot as in
//! Kafka: the group coordinator of that slot makes them visible (commit) or
//! drops them (abort), and any other broker answers NOT_COORDINATOR.
//!
//! Errors are per partition: NOT_LEADER_OR_FOLLOWER (the coordinator finds
//! the new leader and retries), UNKNOWN_TOPIC_OR_PARTITION,
//! INVALID_PRODUCER_EPOCH for a marker older than the producer's epoch,
//! TRANSACTION_COORDINATOR_FENCED for one from an older coordinator.

use std::time::Duration;

use kafka_protocol::messages::write_txn_markers_request::WritableTxnMarker;
use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{RequestHeader, WriteTxnMarkersRequest, WriteTxnMarkersResponse};

use super::produce::{wait_replicated, Refusal};
use crate::log::producer_state::Marker;
use crate::server::Broker;

/// The topic name markers use for a transaction's group offsets.
pub const GROUP_OFFSETS_TOPIC: &str = "__consumer_offsets";

/// How long a marker may wait for its ISR.
const REPLICATION_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn handle(
    broker: &Broker,
    _header: &RequestHeader,
    request: WriteTxnMarkersRequest,
) -> WriteTxnMarkersResponse {
    let mut markers = Vec::with_capacity(request.markers.len());
    for m in request.markers {
        markers.push(write_marker(broker, m).await);
    }
    WriteTxnMarkersResponse::default().with_markers(markers)
}

async fn write_marker(broker: &Broker, m: WritableTxnMarker) -> WritableTxnMarkerResult {
    let marker = Marker {
        commit: m.transaction_result,
        coordinator_epoch: m.coordinator_epoch,
    };
    let deadline = tokio::time::Instant::now() + REPLICATION_TIMEOUT;
    let mut topics = Vec::with_capacity(m.topics.len());
    for t in m.topics {
        let name = t.name.0.to_string();
        let mut partitions = Vec::with_capacity(t.partition_indexes.len());
        for index in t.partition_indexes {
            let result = if name == GROUP_OFFSETS_TOPIC {
                broker
                    .groups
                    .complete_transaction(m.producer_id.0, m.producer_epoch, marker.commit, index)
                    .await
                    .map_err(|e| (e, None))
            } else {
                write_one(
                    broker,
                    &name,
                    index,
                    m.producer_id.0,
                    m.producer_epoch,
                    marker,
                    deadline,
                )
                .await
            };
            let code = match result {
                Ok(()) => 0,
                Err((e, msg)) => {
                    tracing::debug!(topic = %name, partition = index, producer_id = m.producer_id.0,
                        "marker not written: {e:?} {}", msg.unwrap_or_default());
                    e.code()
                }
            };
            partitions.push(
                WritableTxnMarkerPartitionResult::default()
                    .with_partition_index(index)
                    .with_error_code(code),
            );
        }
        topics.push(
            WritableTxnMarkerTopicResult::default()
                .with_name(t.name)
                .with_partitions(partitions),
        );
    }
    WritableTxnMarkerResult::default()
        .with_producer_id(m.producer_id)
        .with_topics(topics)
}

async fn write_one(
    broker: &Broker,
    topic: &str,
    index: i32,
    producer_id: i64,
    producer_epoch: i16,
    marker: Marker,
    deadline: tokio::time::Instant,
) -> Result<(), Refusal> {
    let p = broker
        .replicas
        .leader_partition(topic, index)
        .map_err(|e| (e, None))?;
    let leader_epoch = p.leader_epoch();
    let info = p
        .log
        .append_marker(producer_id, producer_epoch, marker, leader_epoch)
        .map_err(|e| {
            if e.is_storage() {
                tracing::error!(topic, partition = index, "marker append failed: {e}");
            }
            (e.response_error(), Some(e.to_string()))
        })?;
    p.maybe_advance_high_watermark();
    wait_replicated(&p, info.last_offset + 1, leader_epoch, deadline).await
}
