//! DescribeClientQuotas (KIP-546): the quotas of the entities a filter
//! matches, read from coord so an AlterClientQuotas on any broker is seen
//! at once. Needs DescribeConfigs on the cluster.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_client_quotas_response::{EntityData, EntryData, ValueData};
use kafka_protocol::messages::{DescribeClientQuotasRequest, DescribeClientQuotasResponse};
use kafka_protocol::protocol::StrBytes;

use crate::network::frame::Request;
use crate::quota::entity::QuotaConfigs;
use crate::quota::Filter;
use crate::security::acl::Operation;
use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: DescribeClientQuotasRequest,
) -> DescribeClientQuotasResponse {
    let refuse = |code: ResponseError, message: String| {
        DescribeClientQuotasResponse::default()
            .with_error_code(code.code())
            .with_error_message(Some(StrBytes::from_string(message)))
    };
    if !super::cluster_allowed(broker, req, Operation::DescribeConfigs) {
        return refuse(
            ResponseError::ClusterAuthorizationFailed,
            "Cluster authorization failed.".into(),
        );
    }
    let components = request
        .components
        .iter()
        .map(|c| (c.entity_type.as_str(), c.match_type, c._match.as_deref()));
    let filter = match Filter::from_components(components, request.strict) {
        Ok(f) => f,
        Err(message) => return refuse(ResponseError::InvalidRequest, message),
    };
    let configs = match broker.metadata.read_quota_configs().await {
        Ok(stored) => QuotaConfigs::from_stored(stored),
        Err(e) => return refuse(ResponseError::UnknownServerError, e.to_string()),
    };
    let mut matched: Vec<_> = configs.iter().filter(|(e, _)| filter.matches(e)).collect();
    matched.sort_by(|a, b| a.0.cmp(b.0));
    let entries = matched
        .into_iter()
        .map(|(entity, quotas)| {
            EntryData::default()
                .with_entity(
                    entity
                        .components()
                        .into_iter()
                        .map(|(t, name)| {
                            EntityData::default()
                                .with_entity_type(StrBytes::from_static_str(t))
                                .with_entity_name(name.map(|n| StrBytes::from_string(n.into())))
                        })
                        .collect(),
                )
                .with_values(
                    quotas
                        .iter()
                        .map(|(kind, value)| {
                            ValueData::default()
                                .with_key(StrBytes::from_static_str(kind.key()))
                                .with_value(*value)
                        })
                        .collect(),
                )
        })
        .collect();
    DescribeClientQuotasResponse::default().with_entries(Some(entries))
}
