//! DescribeAcls: the bindings matching a filter, grouped by resource
//! pattern, read from coord (so a binding just created anywhere is there).

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{DescribeAclsRequest, DescribeAclsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::network::frame::Request;
use crate::security::acl::{AclFilter, Operation, WireFilter};
use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    req: &Request,
    r: DescribeAclsRequest,
) -> DescribeAclsResponse {
    let error = |code: ResponseError, message: String| {
        DescribeAclsResponse::default()
            .with_error_code(code.code())
            .with_error_message(Some(StrBytes::from_string(message)))
    };
    if let Some((code, message)) = super::acl_admin_refusal(broker, req, Operation::Describe) {
        return error(code, message);
    }
    let filter = match AclFilter::from_wire(&WireFilter {
        resource_type: r.resource_type_filter,
        name: r.resource_name_filter.as_deref(),
        pattern_type: r.pattern_type_filter,
        principal: r.principal_filter.as_deref(),
        host: r.host_filter.as_deref(),
        operation: r.operation,
        permission: r.permission_type,
    }) {
        Ok(f) => f,
        Err(reason) => return error(ResponseError::InvalidRequest, reason),
    };
    let bindings = match broker.metadata.read_acls().await {
        Ok(b) => b,
        Err(e) => return error(ResponseError::UnknownServerError, e.to_string()),
    };
    let mut grouped: BTreeMap<_, Vec<AclDescription>> = BTreeMap::new();
    for b in bindings.into_iter().filter(|b| filter.matches(b)) {
        grouped.entry(b.pattern).or_default().push(
            AclDescription::default()
                .with_principal(StrBytes::from_string(b.entry.principal))
                .with_host(StrBytes::from_string(b.entry.host))
                .with_operation(b.entry.operation.code())
                .with_permission_type(b.entry.permission.code()),
        );
    }
    let resources = grouped
        .into_iter()
        .map(|(p, acls)| {
            DescribeAclsResource::default()
                .with_resource_type(p.resource_type.code())
                .with_resource_name(StrBytes::from_string(p.name))
                .with_pattern_type(p.pattern.code())
                .with_acls(acls)
        })
        .collect();
    DescribeAclsResponse::default().with_resources(resources)
}
