//! OffsetDelete: removes committed offsets of partitions the group is not
//! consuming (GROUP_SUBSCRIBED_TO_TOPIC for topics its members subscribe to).
//!
//! Authorization as Kafka: DELETE on the group (else the whole answer is
//! GROUP_AUTHORIZATION_FAILED), and READ on each topic (else
//! TOPIC_AUTHORIZATION_FAILED for its partitions).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use super::access::Access;
use crate::network::frame::Request;
use crate::security::acl::Operation;
use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    let access = Access::of(broker, req);
    if let Err(e) = access.group(Operation::Delete, &request.group_id) {
        return OffsetDeleteResponse::default().with_error_code(e.code());
    }
    let snapshot = broker.metadata.snapshot();
    // Per request topic: READ on it, or the error for all its partitions.
    let allowed: Vec<Result<(), ResponseError>> = request
        .topics
        .iter()
        .map(|t| access.topic(Operation::Read, &t.name))
        .collect();
    let mut wanted = Vec::new();
    for (t, allowed) in request.topics.iter().zip(&allowed) {
        let topic = snapshot.topics.get(t.name.as_str());
        for p in &t.partitions {
            if allowed.is_ok()
                && topic.is_some_and(|tp| tp.partitions.contains_key(&p.partition_index))
            {
                wanted.push((t.name.to_string(), p.partition_index));
            }
        }
    }
    let outcome = broker
        .groups
        .delete_offsets(&request.group_id, wanted)
        .await;
    let results = match outcome {
        Err(e) => return OffsetDeleteResponse::default().with_error_code(e.code()),
        Ok(r) => r,
    };
    let topics = request
        .topics
        .into_iter()
        .zip(allowed)
        .map(|(t, allowed)| {
            let name = t.name.to_string();
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let found = || {
                        results
                            .iter()
                            .find(|((rt, rp), _)| *rt == name && *rp == p.partition_index)
                            .map_or(Err(ResponseError::UnknownTopicOrPartition), |(_, r)| *r)
                    };
                    let code = allowed.and_then(|()| found()).err().map_or(0, |e| e.code());
                    OffsetDeleteResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            OffsetDeleteResponseTopic::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    OffsetDeleteResponse::default().with_topics(topics)
}
