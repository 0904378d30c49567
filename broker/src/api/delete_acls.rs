//! DeleteAcls: every binding matching each filter is removed from coord
//! and reported back per filter.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::{DeleteAclsRequest, DeleteAclsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::network::frame::Request;
use crate::security::acl::{AclEntry, AclFilter, Operation, ResourcePattern, WireFilter};
use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: DeleteAclsRequest,
) -> DeleteAclsResponse {
    let error = |code: ResponseError, message: String| {
        DeleteAclsFilterResult::default()
            .with_error_code(code.code())
            .with_error_message(Some(StrBytes::from_string(message)))
    };
    let n = request.filters.len();
    if let Some((code, message)) = super::acl_admin_refusal(broker, req, Operation::Alter) {
        return DeleteAclsResponse::default().with_filter_results(vec![error(code, message); n]);
    }
    let bindings = match broker.metadata.read_acls().await {
        Ok(b) => b,
        Err(e) => {
            let r = error(ResponseError::UnknownServerError, e.to_string());
            return DeleteAclsResponse::default().with_filter_results(vec![r; n]);
        }
    };
    let mut results = Vec::with_capacity(n);
    for f in &request.filters {
        let filter = match AclFilter::from_wire(&WireFilter {
            resource_type: f.resource_type_filter,
            name: f.resource_name_filter.as_deref(),
            pattern_type: f.pattern_type_filter,
            principal: f.principal_filter.as_deref(),
            host: f.host_filter.as_deref(),
            operation: f.operation,
            permission: f.permission_type,
        }) {
            Ok(f) => f,
            Err(reason) => {
                results.push(error(ResponseError::InvalidRequest, reason));
                continue;
            }
        };
        let mut by_pattern: BTreeMap<ResourcePattern, Vec<AclEntry>> = BTreeMap::new();
        for b in bindings.iter().filter(|b| filter.matches(b)) {
            by_pattern
                .entry(b.pattern.clone())
                .or_default()
                .push(b.entry.clone());
        }
        let mut matching = Vec::new();
        let mut failure = None;
        for (pattern, entries) in by_pattern {
            if let Err(e) = broker.metadata.remove_acls(&pattern, &entries).await {
                failure = Some(e.to_string());
                continue;
            }
            matching.extend(entries.into_iter().map(|e| {
                DeleteAclsMatchingAcl::default()
                    .with_resource_type(pattern.resource_type.code())
                    .with_resource_name(StrBytes::from_string(pattern.name.clone()))
                    .with_pattern_type(pattern.pattern.code())
                    .with_principal(StrBytes::from_string(e.principal))
                    .with_host(StrBytes::from_string(e.host))
                    .with_operation(e.operation.code())
                    .with_permission_type(e.permission.code())
            }));
        }
        results.push(match failure {
            Some(m) => error(ResponseError::UnknownServerError, m).with_matching_acls(matching),
            None => DeleteAclsFilterResult::default().with_matching_acls(matching),
        });
    }
    DeleteAclsResponse::default().with_filter_results(results)
}
