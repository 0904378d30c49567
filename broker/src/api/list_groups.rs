//! ListGroups: the groups this broker coordinates, filtered by state (v4+)
//! and type (v5+; every group here is "classic").

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse, RequestHeader};
use kafka_protocol::protocol::StrBytes;

use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    _header: &RequestHeader,
    request: ListGroupsRequest,
) -> ListGroupsResponse {
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
