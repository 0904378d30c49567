//! DescribeConfigs for topics (overrides, broker synonyms, defaults) and for
//! this broker (its static `server.properties` values and defaults).
//!
//! Authorization, per resource as Kafka: DESCRIBE_CONFIGS on the topic
//! (TOPIC_AUTHORIZATION_FAILED), or on the cluster for a broker or its
//! loggers (CLUSTER_AUTHORIZATION_FAILED).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::StrBytes;

use super::access::{refusal_message, Access};
use crate::config::{ValueType, BROKER_KEYS};
use crate::network::frame::Request;
use crate::security::acl::Operation;
use crate::server::Broker;
use crate::topic_config::{self, Source};

/// Kafka's `ConfigResource.Type` codes.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
pub const RESOURCE_BROKER_LOGGER: i8 = 8;

/// The config APIs' check for one resource: `op` (DESCRIBE_CONFIGS or
/// ALTER_CONFIGS) on the topic, or on the cluster for a broker or its
/// loggers. Other types pass, for the handler to refuse as invalid.
pub(super) fn config_access(
    access: &Access<'_>,
    op: Operation,
    resource_type: i8,
    name: &str,
) -> Result<(), ResponseError> {
    match resource_type {
        RESOURCE_TOPIC => access.topic(op, name),
        RESOURCE_BROKER | RESOURCE_BROKER_LOGGER => access.cluster(op),
        _ => Ok(()),
    }
}

pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let access = Access::of(broker, req);
    let synonyms = request.include_synonyms;
    let results = request
        .resources
        .into_iter()
        .map(|r| {
            let keys: Option<Vec<String>> = r
                .configuration_keys
                .map(|k| k.iter().map(|s| s.to_string()).collect());
            let wanted = |name: &str| keys.as_ref().is_none_or(|k| k.iter().any(|x| x == name));
            let mut result = DescribeConfigsResult::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            let allowed = config_access(
                &access,
                Operation::DescribeConfigs,
                r.resource_type,
                &r.resource_name,
            );
            if let Err(e) = allowed {
                result.error_code = e.code();
                result.error_message = refusal_message(e).map(StrBytes::from_static_str);
                return result;
            }
            match r.resource_type {
                RESOURCE_TOPIC => match broker.metadata.cache().topic(&r.resource_name) {
                    None => {
                        result.error_code = ResponseError::UnknownTopicOrPartition.code();
                        result.error_message =
                            Some(StrBytes::from_string(format!("Topic {} does not exist.", &*r.resource_name)));
                    }
                    Some(t) => {
                        result.configs = topic_config::effective(&broker.config, &t.config)
                            .into_iter()
                            .filter(|e| wanted(e.name))
                            .map(|e| {
                                let mut syn = Vec::new();
                                if synonyms {
                                    if e.source == Source::Topic {
                                        syn.push(synonym(e.name, &e.value, Source::Topic));
                                    }
                                    if let Some(def) = topic_config::topic_key(e.name) {
                                        for (s, _) in def.synonyms {
                                            if let Some(v) = broker.config.explicit.get(*s) {
                                                syn.push(synonym(s, v, Source::StaticBroker));
                                            }
                                        }
                                        syn.push(synonym(e.name, def.default, Source::Default));
                                    }
                                }
                                entry(e.name, Some(e.value), e.source.code(), e.kind, syn)
                            })
                            .collect();
                    }
                },
                RESOURCE_BROKER => {
                    let name = r.resource_name.to_string();
                    if !name.is_empty() && name != broker.id.to_string() {
                        result.error_code = ResponseError::InvalidRequest.code();
                        result.error_message = Some(StrBytes::from_string(format!(
                            "Unexpected broker id, expected {} or empty string, but received {name}",
                            broker.id
                        )));
                    } else {
                        result.configs = BROKER_KEYS
                            .iter()
                            .filter(|k| wanted(k.name))
                            .map(|k| {
                                let explicit = broker.config.is_explicit(k.name);
                                let source = if explicit { Source::StaticBroker } else { Source::Default };
                                let value = if k.kind == ValueType::Password {
                                    None
                                } else {
                                    broker.config.value(k.name)
                                };
                                let syn = if synonyms {
                                    vec![synonym(k.name, value.as_deref().unwrap_or(""), source)]
                                } else {
                                    Vec::new()
                                };
                                entry(k.name, value, source.code(), k.kind, syn)
                            })
                            .collect();
                    }
                }
                other => {
                    result.error_code = ResponseError::InvalidRequest.code();
                    result.error_message =
                        Some(StrBytes::from_string(format!("Unsupported resource type {other}")));
                }
            }
            result
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

fn synonym(name: &str, value: &str, source: Source) -> DescribeConfigsSynonym {
    DescribeConfigsSynonym::default()
        .with_name(StrBytes::from_string(name.to_string()))
        .with_value(Some(StrBytes::from_string(value.to_string())))
        .with_source(source.code())
}

fn entry(
    name: &str,
    value: Option<String>,
    source: i8,
    kind: ValueType,
    synonyms: Vec<DescribeConfigsSynonym>,
) -> DescribeConfigsResourceResult {
    DescribeConfigsResourceResult::default()
        .with_name(StrBytes::from_string(name.to_string()))
        .with_value(value.map(StrBytes::from_string))
        .with_read_only(false)
        .with_config_source(source)
        .with_is_sensitive(kind == ValueType::Password)
        .with_config_type(kind.describe_code())
        .with_synonyms(synonyms)
}
