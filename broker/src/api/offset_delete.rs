//! OffsetDelete: removes committed offsets of partitions the group is not
//! consuming (GROUP_SUBSCRIBED_TO_TOPIC for topics its members subscribe to).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse, RequestHeader};

use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    _header: &RequestHeader,
    request: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    let snapshot = broker.metadata.snapshot();
    let mut wanted = Vec::new();
    for t in &request.topics {
        let topic = snapshot.topics.get(t.name.as_str());
        for p in &t.partitions {
            if topic.is_some_and(|tp| tp.partitions.contains_key(&p.partition_index)) {
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
        .map(|t| {
            let name = t.name.to_string();
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let code = results
                        .iter()
                        .find(|((rt, rp), _)| *rt == name && *rp == p.partition_index)
                        .map_or(ResponseError::UnknownTopicOrPartition.code(), |(_, r)| {
                            r.err().map_or(0, |e| e.code())
                        });
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
