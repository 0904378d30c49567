//! DescribeGroups: state, protocol and members (with metadata and
//! assignment once Stable); an unknown group is described as Dead.

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse, RequestHeader};
use kafka_protocol::protocol::StrBytes;

use crate::server::Broker;

/// Kafka's ACL operations on a group: READ (3), DELETE (6), DESCRIBE (8).
const GROUP_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);

pub async fn handle(
    broker: &Broker,
    _header: &RequestHeader,
    request: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let mut groups = Vec::new();
    for id in request.groups {
        let mut d = DescribedGroup::default()
            .with_group_id(id.clone())
            .with_authorized_operations(if request.include_authorized_operations {
                GROUP_OPERATIONS
            } else {
                i32::MIN
            });
        match broker.groups.describe(&id).await {
            Err(e) => {
                d.error_code = e.code();
                d.group_state = StrBytes::from_static_str("");
            }
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
