//! CreatePartitions: grow a topic's partition count. Needs ALTER on the
//! topic (else TOPIC_AUTHORIZATION_FAILED for it, as Kafka). New
//! partitions are charged to `controller_mutation_rate` (strict from v3).

use std::time::Duration;

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use kafka_protocol::protocol::StrBytes;

use super::access::{refusal_message, Access};
use crate::network::frame::Request;
use crate::security::acl::Operation;
use crate::server::Broker;
use crate::topic_admin;

/// The answer, and the throttle the request's partition mutations earned.
pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: CreatePartitionsRequest,
) -> (CreatePartitionsResponse, Duration) {
    let access = Access::of(broker, req);
    let mut quota = super::mutation_quota(broker, req, req.header.request_api_version >= 3);
    let mut results = Vec::with_capacity(request.topics.len());
    for t in request.topics {
        let name = t.name.0.to_string();
        let assignment = t.assignments.map(|a| {
            a.into_iter()
                .map(|x| x.broker_ids.into_iter().map(|b| b.0).collect())
                .collect()
        });
        let mut result = CreatePartitionsTopicResult::default().with_name(t.name);
        if let Err(e) = access.topic(Operation::Alter, &name) {
            result.error_code = e.code();
            result.error_message = refusal_message(e).map(StrBytes::from_static_str);
        } else if let Err(e) = topic_admin::add_partitions(
            broker,
            &name,
            t.count,
            assignment,
            request.validate_only,
            &mut quota,
        )
        .await
        {
            result.error_code = e.code();
            result.error_message = Some(StrBytes::from_string(e.message));
        }
        results.push(result);
    }
    (
        CreatePartitionsResponse::default().with_results(results),
        quota.throttle(),
    )
}
