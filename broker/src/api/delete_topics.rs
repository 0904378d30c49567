//! DeleteTopics: by name (v1–5) or by name or id (v6). A deleted topic's
//! partitions are charged to `controller_mutation_rate` (strict from v5).

use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::network::frame::Request;
use crate::security::acl::{Operation, ResourceType};
use crate::server::Broker;
use crate::topic_admin;

/// The answer, and the throttle the request's partition mutations earned.
pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: DeleteTopicsRequest,
) -> (DeleteTopicsResponse, Duration) {
    let version = req.header.request_api_version;
    let mut quota = super::mutation_quota(broker, req, version >= 5);
    let who = super::session(req);
    // (name if known, id as given)
    let mut targets: Vec<(Option<String>, uuid::Uuid)> = Vec::new();
    if version >= 6 {
        for t in request.topics {
            targets.push((t.name.map(|n| n.0.to_string()), t.topic_id));
        }
    } else {
        for n in request.topic_names {
            targets.push((Some(n.0.to_string()), uuid::Uuid::nil()));
        }
    }
    let mut responses = Vec::with_capacity(targets.len());
    for (name, id) in targets {
        let snapshot = broker.metadata.snapshot();
        let name = name.or_else(|| {
            snapshot
                .topics
                .values()
                .find(|t| !id.is_nil() && t.topic_id == *id.as_bytes())
                .map(|t| t.name.clone())
        });
        let mut result = DeletableTopicResult::default().with_topic_id(id);
        match name {
            None => {
                result.error_code = ResponseError::UnknownTopicId.code();
                result.error_message = Some(StrBytes::from_static_str(
                    "This server does not host this topic ID.",
                ));
            }
            Some(name) => {
                if let Some(t) = snapshot.topics.get(&name) {
                    result.topic_id = uuid::Uuid::from_bytes(t.topic_id);
                }
                result.name = Some(TopicName(StrBytes::from_string(name.clone())));
                if !broker
                    .authorizer
                    .authorize(&who, Operation::Delete, ResourceType::Topic, &name)
                {
                    result.error_code = ResponseError::TopicAuthorizationFailed.code();
                    result.error_message = Some(StrBytes::from_static_str("Authorization failed."));
                } else if let Err(e) = topic_admin::delete_topic(broker, &name, &mut quota).await {
                    result.error_code = e.code();
                    result.error_message = Some(StrBytes::from_string(e.message));
                }
            }
        }
        responses.push(result);
    }
    (
        DeleteTopicsResponse::default().with_responses(responses),
        quota.throttle(),
    )
}
