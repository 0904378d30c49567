//! DeleteRecords: move a partition's log start offset forward, as Kafka's
//! `kafka-delete-records.sh` and `AdminClient.deleteRecords` do. Sent to
//! each partition's leader. The offset is where the log starts afterwards
//! (-1: the high watermark); one above the high watermark is
//! OFFSET_OUT_OF_RANGE. Records below it are no longer served
//! (OFFSET_OUT_OF_RANGE, so consumers reset) and their segments go with the
//! next retention check. The answer waits, up to `timeout_ms`, until every
//! ISR follower has moved its own log start there (it learns the new start
//! from its next fetch), and reports that low watermark; past the timeout it
//! is REQUEST_TIMED_OUT with the low watermark reached so far.
//!
//! A topic whose `cleanup.policy` lacks `delete` refuses with
//! POLICY_VIOLATION, as Kafka: deleting by offset would fight compaction.
//! Deleting needs DELETE on the topic (else TOPIC_AUTHORIZATION_FAILED for
//! each of its partitions).

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use super::access::Access;
use crate::network::frame::Request;
use crate::replica::Partition;
use crate::security::acl::Operation;
use crate::server::Broker;

/// The offset meaning "up to the high watermark".
const HIGH_WATERMARK: i64 = -1;

pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let access = Access::of(broker, req);
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(request.timeout_ms.max(0) as u64);
    // Every partition's start moves first; then the waits run together.
    let mut topics = Vec::with_capacity(request.topics.len());
    let mut waits = Vec::new();
    for topic in request.topics {
        let name = topic.name.0.to_string();
        let allowed = access.topic(Operation::Delete, &name);
        let mut results = Vec::with_capacity(topic.partitions.len());
        for p in topic.partitions {
            let result = DeleteRecordsPartitionResult::default()
                .with_partition_index(p.partition_index)
                .with_low_watermark(-1);
            match allowed.and_then(|()| delete(broker, &name, p.partition_index, p.offset)) {
                Ok((partition, offset)) => {
                    waits.push((topics.len(), results.len(), partition, offset));
                    results.push(result);
                }
                Err(e) => {
                    broker
                        .metrics
                        .requests
                        .kafka_error(kafka_protocol::messages::ApiKey::DeleteRecords, e.code());
                    results.push(result.with_error_code(e.code()));
                }
            }
        }
        topics.push(
            DeleteRecordsTopicResult::default()
                .with_name(topic.name)
                .with_partitions(results),
        );
    }
    // One after the other against the same deadline: the whole wait is
    // that of the slowest partition.
    for (t, i, partition, offset) in waits {
        let outcome = partition.wait_low_watermark(offset, deadline).await;
        let result = &mut topics[t].partitions[i];
        match outcome {
            Ok(low) => result.low_watermark = low,
            Err(low) => {
                result.low_watermark = low;
                result.error_code = ResponseError::RequestTimedOut.code();
            }
        }
    }
    DeleteRecordsResponse::default().with_topics(topics)
}

/// Moves the leader's log start to `offset`; the partition and the offset
/// its replicas must reach.
fn delete(
    broker: &Broker,
    topic: &str,
    index: i32,
    offset: i64,
) -> Result<(Arc<Partition>, i64), ResponseError> {
    let partition = broker.replicas.leader_partition(topic, index)?;
    if !partition
        .settings()
        .topic
        .cleanup_policy
        .split(',')
        .any(|p| p.trim() == "delete")
    {
        return Err(ResponseError::PolicyViolation);
    }
    let hw = partition.high_watermark();
    let offset = if offset == HIGH_WATERMARK { hw } else { offset };
    if offset < 0 || offset > hw {
        return Err(ResponseError::OffsetOutOfRange);
    }
    if let Err(e) = partition.log.increment_log_start_offset(offset) {
        if e.is_storage() {
            tracing::error!(topic, partition = index, "DeleteRecords: {e}");
        }
        return Err(e.response_error());
    }
    tracing::info!(
        topic,
        partition = index,
        log_start_offset = partition.log.log_start_offset(),
        "records deleted below the new log start offset"
    );
    Ok((partition, offset))
}
