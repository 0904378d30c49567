//! DescribeProducers (v0): the producers a partition leader knows — id,
//! epoch, last sequence, last write time, coordinator epoch and the first
//! offset of the open transaction (what `kafka-transactions.sh
//! describe-producers` and `find-hanging` print). Needs READ on the topic
//! (else TOPIC_AUTHORIZATION_FAILED for each of its partitions, as Kafka).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};
use kafka_protocol::protocol::StrBytes;

use super::access::{refusal_message, Access};
use crate::network::frame::Request;
use crate::security::acl::Operation;
use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: DescribeProducersRequest,
) -> DescribeProducersResponse {
    let access = Access::of(broker, req);
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let name = t.name.0.to_string();
            let allowed = access.topic(Operation::Read, &name);
            let partitions = t
                .partition_indexes
                .into_iter()
                .map(|index| match allowed {
                    Ok(()) => describe(broker, &name, index),
                    Err(e) => refused(index, e),
                })
                .collect();
            TopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default().with_topics(topics)
}

fn refused(index: i32, e: ResponseError) -> PartitionResponse {
    PartitionResponse::default()
        .with_partition_index(index)
        .with_error_code(e.code())
        .with_error_message(refusal_message(e).map(StrBytes::from_static_str))
}

fn describe(broker: &Broker, topic: &str, index: i32) -> PartitionResponse {
    let r = PartitionResponse::default().with_partition_index(index);
    let p = match broker.replicas.leader_partition(topic, index) {
        Ok(p) => p,
        Err(e) => {
            return r
                .with_error_code(e.code())
                .with_error_message(Some(StrBytes::from_string(e.to_string())))
        }
    };
    let producers = p
        .log
        .producer_entries()
        .into_iter()
        .map(|e| {
            ProducerState::default()
                .with_producer_id(ProducerId(e.producer_id))
                .with_producer_epoch(i32::from(e.epoch))
                .with_last_sequence(e.last_seq())
                .with_last_timestamp(e.last_timestamp)
                .with_coordinator_epoch(e.coordinator_epoch)
                .with_current_txn_start_offset(e.current_txn_first_offset.unwrap_or(-1))
        })
        .collect();
    r.with_active_producers(producers)
}
