//! DescribeGroups: state, protocol and members (with metadata and
//! assignment once Stable); an unknown group is described as Dead.
//!
//! Each group needs DESCRIBE on it; the others are answered with
//! GROUP_AUTHORIZATION_FAILED and nothing else, as Kafka. Asked for, a
//! described group carries the operations the principal may do on it.

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};
use kafka_protocol::protocol::StrBytes;

use super::access::Access;
use crate::network::frame::Request;
use crate::security::acl::{Operation, ResourceType};
use crate::server::Broker;

/// The ACL operations a group has (Kafka's `ResourceType.GROUP`).
const GROUP_OPERATIONS: [Operation; 3] = [Operation::Read, Operation::Delete, Operation::Describe];

/// Kafka's "authorized operations omitted".
const OPERATIONS_OMITTED: i32 = i32::MIN;

pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let access = Access::of(broker, req);
    let mut groups = Vec::new();
    for id in request.groups {
        let mut d = DescribedGroup::default()
            .with_group_id(id.clone())
            .with_group_state(StrBytes::from_static_str(""))
            .with_authorized_operations(OPERATIONS_OMITTED);
        if let Err(e) = access.group(Operation::Describe, &id) {
            groups.push(d.with_error_code(e.code()));
            continue;
        }
        if request.include_authorized_operations {
            d.authorized_operations = GROUP_OPERATIONS
                .iter()
                .filter(|op| access.allows(**op, ResourceType::Group, &id))
                .fold(0, |bits, op| bits | 1 << op.code());
        }
        match broker.groups.describe(&id).await {
            Err(e) => d.error_code = e.code(),
            Ok(s) => {
                d.group_state = StrBytes::from_static_str(s.state.as_str());
                d.protocol_type = StrBytes::from_string(s.protocol_type);
                d.protocol_data = StrBytes::from_string(s.protocol);
                d.members = s
                    .members
                    .into_iter()
                    .map(|m| {
                        DescribedGroupMember::default()
                            .with_member_id(StrBytes::from_string(m.member_id))
                            .with_group_instance_id(m.group_instance_id.map(StrBytes::from_string))
                            .with_client_id(StrBytes::from_string(m.client_id))
                            .with_client_host(StrBytes::from_string(m.client_host))
                            .with_member_metadata(m.metadata)
                            .with_member_assignment(m.assignment)
                    })
                    .collect();
            }
        }
        groups.push(d);
    }
    DescribeGroupsResponse::default().with_groups(groups)
}
