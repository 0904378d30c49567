//! CreatePartitions: grow a topic's partition count.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse, RequestHeader};
use kafka_protocol::protocol::StrBytes;

use crate::server::Broker;
use crate::topic_admin;

pub async fn handle(
    broker: &Broker,
    _header: &RequestHeader,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut results = Vec::with_capacity(request.topics.len());
    for t in request.topics {
        let name = t.name.0.to_string();
        let assignment = t.assignments.map(|a| {
            a.into_iter()
                .map(|x| x.broker_ids.into_iter().map(|b| b.0).collect())
                .collect()
        });
        let mut result = CreatePartitionsTopicResult::default().with_name(t.name);
        if let Err(e) =
            topic_admin::add_partitions(broker, &name, t.count, assignment, request.validate_only)
                .await
        {
            result.error_code = e.code();
            result.error_message = Some(StrBytes::from_string(e.message));
        }
        results.push(result);
    }
    CreatePartitionsResponse::default().with_results(results)
}
