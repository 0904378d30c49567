//! CreateAcls (v1-3; v0, without pattern types, is gone since Kafka 4): new bindings, written to coord in Kafka's layout; every
//! broker's authorizer picks them up from the change notification.
//! Without an authorizer Kafka answers SECURITY_DISABLED.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::{CreateAclsRequest, CreateAclsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::network::frame::Request;
use crate::security::acl::{AclBinding, AclEntry, Operation, ResourcePattern, WireFilter};
use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: CreateAclsRequest,
) -> CreateAclsResponse {
    let error = |code: ResponseError, message: String| {
        AclCreationResult::default()
            .with_error_code(code.code())
            .with_error_message(Some(StrBytes::from_string(message)))
    };
    let n = request.creations.len();
    if let Some((code, message)) = super::acl_admin_refusal(broker, req, Operation::Alter) {
        return CreateAclsResponse::default().with_results(vec![error(code, message); n]);
    }
    // Parse every creation, then write one coord update per pattern.
    let mut results: Vec<Option<AclCreationResult>> = vec![None; n];
    let mut by_pattern: BTreeMap<ResourcePattern, Vec<(usize, AclEntry)>> = BTreeMap::new();
    for (i, c) in request.creations.iter().enumerate() {
        let wire = WireFilter {
            resource_type: c.resource_type,
            name: Some(&c.resource_name),
            pattern_type: c.resource_pattern_type,
            principal: Some(&c.principal),
            host: Some(&c.host),
            operation: c.operation,
            permission: c.permission_type,
        };
        match AclBinding::from_wire(&wire) {
            Ok(b) => by_pattern.entry(b.pattern).or_default().push((i, b.entry)),
            Err(reason) => results[i] = Some(error(ResponseError::InvalidRequest, reason)),
        }
    }
    for (pattern, entries) in by_pattern {
        let list: Vec<AclEntry> = entries.iter().map(|(_, e)| e.clone()).collect();
        let outcome = broker.metadata.add_acls(&pattern, &list).await;
        for (i, _) in entries {
            results[i] = Some(match &outcome {
                Ok(()) => AclCreationResult::default(),
                Err(e) => error(ResponseError::UnknownServerError, e.to_string()),
            });
        }
    }
    CreateAclsResponse::default()
        .with_results(results.into_iter().map(Option::unwrap_or_default).collect())
}
