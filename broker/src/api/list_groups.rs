//! ListGroups: the groups this broker coordinates, filtered by state (v4+)
//! and type (v5+; every group here is "classic").
//!
//! DESCRIBE on the cluster lists every group; without it, only the groups
//! the principal may DESCRIBE are listed, and that is no error (Kafka).

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};
use kafka_protocol::protocol::StrBytes;

use super::access::Access;
use crate::network::frame::Request;
use crate::security::acl::Operation;
use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: ListGroupsRequest,
) -> ListGroupsResponse {
    let access = Access::of(broker, req);
    let everything = access.cluster(Operation::Describe).is_ok();
    let (code, groups) = match broker.groups.list() {
        Ok(g) => (0, g),
        Err(e) => (e.code(), Vec::new()),
    };
    let states: Vec<String> = request
        .states_filter
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let types: Vec<String> = request
        .types_filter
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let listed = groups
        .into_iter()
        .filter(|g| states.is_empty() || states.contains(&g.state.as_str().to_ascii_lowercase()))
        .filter(|_| types.is_empty() || types.iter().any(|t| t == "classic"))
        .filter(|g| everything || access.group(Operation::Describe, &g.group_id).is_ok())
        .map(|g| {
            ListedGroup::default()
                .with_group_id(GroupId(StrBytes::from_string(g.group_id)))
                .with_protocol_type(StrBytes::from_string(g.protocol_type))
                .with_group_state(StrBytes::from_static_str(g.state.as_str()))
                .with_group_type(StrBytes::from_static_str("classic"))
        })
        .collect();
    ListGroupsResponse::default()
        .with_error_code(code)
        .with_groups(listed)
}
