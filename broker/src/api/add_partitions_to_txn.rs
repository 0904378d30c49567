//! AddPartitionsToTxn (v0–3, the producer's form): adds partitions to the
//! open transaction of a transactional id, starting it if none is open.
//! v4+ is the brokers' verification form (KIP-890) and is not advertised.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, RequestHeader,
};

use crate::server::Broker;
use crate::txn::state::fenced_for_version;

/// The first version that knows PRODUCER_FENCED (KIP-588).
const FENCED_SINCE: i16 = 2;

pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    let version = header.request_api_version;
    let snapshot = broker.metadata.snapshot();
    let exists = |topic: &str, p: i32| {
        snapshot
            .topics
            .get(topic)
            .is_some_and(|t| !t.deleting && t.partitions.contains_key(&p))
    };
    let mut wanted = Vec::new();
    let mut any_missing = false;
    for t in &request.v3_and_below_topics {
        for p in &t.partitions {
            any_missing |= !exists(t.name.as_str(), *p);
            wanted.push((t.name.to_string(), *p));
        }
    }
    // As Kafka: if any partition is unknown, nothing is added; the others
    // are OPERATION_NOT_ATTEMPTED.
    let outcome = if any_missing {
        Err(ResponseError::OperationNotAttempted)
    } else {
        broker
            .txn
            .add_to_txn(
                &request.v3_and_below_transactional_id,
                request.v3_and_below_producer_id.0,
                request.v3_and_below_producer_epoch,
                &wanted,
                &[],
            )
            .await
    };
    let code_for = |topic: &str, p: i32| -> i16 {
        if any_missing && !exists(topic, p) {
            return ResponseError::UnknownTopicOrPartition.code();
        }
        match outcome {
            Ok(()) => 0,
            Err(e) => fenced_for_version(e, version, FENCED_SINCE).code(),
        }
    };
    let results = request
        .v3_and_below_topics
        .iter()
        .map(|t| {
            AddPartitionsToTxnTopicResult::default()
                .with_name(t.name.clone())
                .with_results_by_partition(
                    t.partitions
                        .iter()
                        .map(|p| {
                            AddPartitionsToTxnPartitionResult::default()
                                .with_partition_index(*p)
                                .with_partition_error_code(code_for(t.name.as_str(), *p))
                        })
                        .collect(),
                )
        })
        .collect();
    AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results)
}
