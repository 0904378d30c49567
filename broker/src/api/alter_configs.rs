//! AlterConfigs (API 33, the one before IncrementalAlterConfigs, still used
//! by librdkafka's `AlterConfigs` and older tools) for topics, with Kafka's
//! replace-all semantics: the resource's overrides become exactly the
//! entries given (entries with a null value are dropped, as Kafka drops
//! them); every key not named goes back to its default. `validate_only`
//! checks without writing. Dynamic broker configs are not supported yet
//! (INVALID_REQUEST), as for IncrementalAlterConfigs.
//!
//! Authorization, per resource as Kafka: ALTER_CONFIGS on the topic
//! (TOPIC_AUTHORIZATION_FAILED) or, for a broker, on the cluster
//! (CLUSTER_AUTHORIZATION_FAILED). Broker loggers are not alterable here
//! at all (INVALID_REQUEST), whoever asks.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};
use kafka_protocol::protocol::StrBytes;

use super::access::Access;
use super::describe_configs::{config_access, RESOURCE_BROKER_LOGGER, RESOURCE_TOPIC};
use super::incremental_alter_configs::{known_topic_key, not_a_topic, refused};
use crate::network::frame::Request;
use crate::security::acl::Operation;
use crate::server::Broker;
use crate::topic_admin;

pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let access = Access::of(broker, req);
    let mut responses = Vec::with_capacity(request.resources.len());
    for r in request.resources {
        let mut resp = AlterConfigsResourceResponse::default()
            .with_resource_type(r.resource_type)
            .with_resource_name(r.resource_name.clone());
        // Broker loggers are refused below whoever asks (Kafka: INVALID_REQUEST).
        let allowed = match r.resource_type {
            RESOURCE_BROKER_LOGGER => Ok(()),
            t => config_access(&access, Operation::AlterConfigs, t, &r.resource_name),
        };
        let outcome = match allowed {
            Err(e) => Err(refused(e)),
            Ok(()) if r.resource_type == RESOURCE_TOPIC => {
                replace_topic_config(broker, &r.resource_name, &r.configs, request.validate_only)
                    .await
            }
            Ok(()) => Err(not_a_topic(r.resource_type)),
        };
        if let Err((e, m)) = outcome {
            broker
                .metrics
                .requests
                .kafka_error(kafka_protocol::messages::ApiKey::AlterConfigs, e.code());
            resp.error_code = e.code();
            resp.error_message = Some(StrBytes::from_string(m));
        }
        responses.push(resp);
    }
    AlterConfigsResponse::default().with_responses(responses)
}

async fn replace_topic_config(
    broker: &Broker,
    name: &str,
    entries: &[kafka_protocol::messages::alter_configs_request::AlterableConfig],
    validate_only: bool,
) -> Result<(), (ResponseError, String)> {
    let mut config = BTreeMap::new();
    for entry in entries {
        let key = entry.name.to_string();
        known_topic_key(&key)?;
        if let Some(value) = &entry.value {
            config.insert(key, value.to_string());
        }
    }
    topic_admin::set_topic_config(broker, name, config, validate_only)
        .await
        .map_err(|e| (e.error, e.message))
}
