//! CreateTopics: validation with Kafka's error codes, then the coord write
//! (see [`crate::topic_admin`]); v5+ results carry the effective configs.
//! Partitions created are charged to the sender's
//! `controller_mutation_rate`: from v6 a topic is refused with
//! THROTTLING_QUOTA_EXCEEDED while the budget is in deficit (KIP-599).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::network::frame::Request;
use crate::security::acl::{Operation, ResourceType, CLUSTER_NAME};
use crate::server::Broker;
use crate::topic_admin::{self, CreateSpec};
use crate::topic_config;

/// The answer, and the throttle the request's partition mutations earned.
pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: CreateTopicsRequest,
) -> (CreateTopicsResponse, Duration) {
    let header = &req.header;
    let version = header.request_api_version;
    let mut quota = super::mutation_quota(broker, req, version >= 6);
    // Kafka: Create on the cluster, or on the topic itself.
    let who = super::session(req);
    let may_create = |topic: &str| {
        broker
            .authorizer
            .authorize(&who, Operation::Create, ResourceType::Cluster, CLUSTER_NAME)
            || broker
                .authorizer
                .authorize(&who, Operation::Create, ResourceType::Topic, topic)
    };
    let mut counts: HashMap<String, usize> = HashMap::new();
    for t in &request.topics {
        *counts.entry(t.name.0.to_string()).or_default() += 1;
    }
    let mut results = Vec::with_capacity(request.topics.len());
    for t in request.topics {
        let name = t.name.0.to_string();
        let mut result = CreatableTopicResult::default().with_name(t.name.clone());
        if counts.get(&name).copied().unwrap_or(0) > 1 {
            // Kafka: every copy of a duplicated name fails.
            result.error_code = ResponseError::InvalidRequest.code();
            result.error_message = Some(StrBytes::from_string(format!(
                "Create topics request from client `{}` contains multiple entries for the following topics: {name}",
                header.client_id.as_deref().unwrap_or("")
            )));
            results.push(result);
            continue;
        }
        if !may_create(&name) {
            result.error_code = ResponseError::TopicAuthorizationFailed.code();
            result.error_message = Some(StrBytes::from_static_str("Authorization failed."));
            results.push(result);
            continue;
        }
        let assignment = if t.assignments.is_empty() {
            None
        } else {
            Some(
                t.assignments
                    .iter()
                    .map(|a| {
                        (
                            a.partition_index,
                            a.broker_ids.iter().map(|b| b.0).collect(),
                        )
                    })
                    .collect::<BTreeMap<i32, Vec<i32>>>(),
            )
        };
        let mut configs = BTreeMap::new();
        for c in &t.configs {
            if let Some(v) = &c.value {
                configs.insert(c.name.to_string(), v.to_string());
            }
        }
        let spec = CreateSpec {
            name,
            num_partitions: t.num_partitions,
            replication_factor: t.replication_factor,
            assignment,
            configs: configs.clone(),
        };
        match topic_admin::create_topic(broker, &spec, request.validate_only, &mut quota).await {
            Ok(created) => {
                result.num_partitions = created.num_partitions;
                result.replication_factor = created.replication_factor;
                if version >= 5 {
                    let effective = topic_config::effective(&broker.config, &configs);
                    result.configs = Some(
                        effective
                            .into_iter()
                            .map(|e| {
                                CreatableTopicConfigs::default()
                                    .with_name(StrBytes::from_static_str(e.name))
                                    .with_value(Some(StrBytes::from_string(e.value)))
                                    .with_config_source(e.source.code())
                            })
                            .collect(),
                    );
                }
                if let Some(info) = broker.metadata.cache().topic(&spec.name) {
                    result.topic_id = uuid::Uuid::from_bytes(info.topic_id);
                }
            }
            Err(e) => {
                result.error_code = e.code();
                result.error_message = Some(StrBytes::from_string(e.message));
                result.num_partitions = -1;
                result.replication_factor = -1;
            }
        }
        results.push(result);
    }
    (
        CreateTopicsResponse::default().with_topics(results),
        quota.throttle(),
    )
}
