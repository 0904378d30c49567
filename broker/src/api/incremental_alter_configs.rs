//! IncrementalAlterConfigs for topics: SET, DELETE, APPEND, SUBTRACT on the
//! overrides in `/config/topics/<topic>`. Dynamic broker configs are not
//! supported yet (INVALID_REQUEST).
//!
//! Authorization, per resource as Kafka: ALTER_CONFIGS on the topic
//! (TOPIC_AUTHORIZATION_FAILED), or on the cluster for a broker or its
//! loggers (CLUSTER_AUTHORIZATION_FAILED).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};
use kafka_protocol::protocol::StrBytes;

use super::access::{refusal_message, Access};
use super::describe_configs::{config_access, RESOURCE_BROKER, RESOURCE_TOPIC};
use crate::config::ValueType;
use crate::network::frame::Request;
use crate::security::acl::Operation;
use crate::server::Broker;
use crate::topic_admin;
use crate::topic_config;

const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let access = Access::of(broker, req);
    let mut responses = Vec::new();
    for r in request.resources {
        let mut resp = AlterConfigsResourceResponse::default()
            .with_resource_type(r.resource_type)
            .with_resource_name(r.resource_name.clone());
        let allowed = config_access(
            &access,
            Operation::AlterConfigs,
            r.resource_type,
            &r.resource_name,
        );
        let outcome = match allowed {
            Err(e) => Err(refused(e)),
            Ok(()) if r.resource_type == RESOURCE_TOPIC => {
                alter_topic(broker, &r.resource_name, &r.configs, request.validate_only).await
            }
            Ok(()) => Err(not_a_topic(r.resource_type)),
        };
        if let Err((e, m)) = outcome {
            resp.error_code = e.code();
            resp.error_message = Some(StrBytes::from_string(m));
        }
        responses.push(resp);
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

/// The answer for a resource the principal may not alter (an
/// authorization error from [`config_access`]), with Kafka's message.
pub(super) fn refused(e: ResponseError) -> (ResponseError, String) {
    (e, refusal_message(e).unwrap_or_default().to_string())
}

/// The answer for a resource other than a topic: dynamic broker configs
/// are not supported yet.
pub(super) fn not_a_topic(resource_type: i8) -> (ResponseError, String) {
    let message = if resource_type == RESOURCE_BROKER {
        "Dynamic broker configs are not supported by this broker".to_string()
    } else {
        format!("Unsupported resource type {resource_type}")
    };
    (ResponseError::InvalidRequest, message)
}

/// The definition of topic key `key`, or INVALID_CONFIG naming it as Kafka
/// does.
pub(super) fn known_topic_key(
    key: &str,
) -> Result<&'static topic_config::TopicKeyDef, (ResponseError, String)> {
    topic_config::topic_key(key).ok_or_else(|| {
        (
            ResponseError::InvalidConfig,
            format!("Unknown topic config name: {key}"),
        )
    })
}

async fn alter_topic(
    broker: &Broker,
    name: &str,
    ops: &[kafka_protocol::messages::incremental_alter_configs_request::AlterableConfig],
    validate_only: bool,
) -> Result<(), (ResponseError, String)> {
    let Some(topic) = broker.metadata.cache().topic(name) else {
        return Err((
            ResponseError::UnknownTopicOrPartition,
            format!("Topic {name} does not exist."),
        ));
    };
    let mut config = topic.config.clone();
    let effective = topic_config::effective(&broker.config, &topic.config);
    for op in ops {
        let key = op.name.to_string();
        let def = known_topic_key(&key)?;
        let value = op.value.as_ref().map(|v| v.to_string());
        match op.config_operation {
            OP_SET => {
                let Some(v) = value else {
                    return Err((
                        ResponseError::InvalidRequest,
                        format!("Null value not supported for : {key}"),
                    ));
                };
                config.insert(key, v);
            }
            OP_DELETE => {
                config.remove(&key);
            }
            OP_APPEND | OP_SUBTRACT => {
                if def.kind != ValueType::List {
                    return Err((
                        ResponseError::InvalidConfig,
                        format!("Config value append is not allowed for config key: {key}"),
                    ));
                }
                let current = config.get(&key).cloned().unwrap_or_else(|| {
                    effective
                        .iter()
                        .find(|e| e.name == key)
                        .map(|e| e.value.clone())
                        .unwrap_or_default()
                });
                let mut items: Vec<String> = current
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                for v in value
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                {
                    if op.config_operation == OP_APPEND {
                        if !items.iter().any(|i| i == v) {
                            items.push(v.to_string());
                        }
                    } else {
                        items.retain(|i| i != v);
                    }
                }
                config.insert(key, items.join(","));
            }
            other => {
                return Err((
                    ResponseError::InvalidRequest,
                    format!("Unknown config operation {other}"),
                ))
            }
        }
    }
    topic_admin::set_topic_config(broker, name, config, validate_only)
        .await
        .map_err(|e| (e.error, e.message))
}
