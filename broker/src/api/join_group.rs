//! JoinGroup: parks until the group's join phase completes, then answers
//! with the generation, the chosen protocol and (to the leader) every
//! member's metadata.

use std::time::Duration;

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse, RequestHeader};
use kafka_protocol::protocol::StrBytes;

use crate::group::member::JoinRequest;
use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: JoinGroupRequest,
    peer: Option<std::net::IpAddr>,
) -> JoinGroupResponse {
    let version = header.request_api_version;
    let session_ms = request.session_timeout_ms.max(0) as u64;
    // v0 has no rebalance timeout: the session timeout serves.
    let rebalance_ms = if version >= 1 {
        request.rebalance_timeout_ms.max(0) as u64
    } else {
        session_ms
    };
    let req = JoinRequest {
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.as_ref().map(|s| s.to_string()),
        client_id: header
            .client_id
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_default(),
        client_host: peer.map(|ip| format!("/{ip}")).unwrap_or_default(),
        session_timeout: Duration::from_millis(session_ms),
        rebalance_timeout: Duration::from_millis(rebalance_ms),
        protocol_type: request.protocol_type.to_string(),
        protocols: request
            .protocols
            .iter()
            .map(|p| (p.name.to_string(), p.metadata.clone()))
            .collect(),
        require_known_member_id: version >= 4 && request.group_instance_id.is_none(),
    };
    let r = broker.groups.join(&request.group_id, req).await;
    let members = r
        .members
        .into_iter()
        .map(|m| {
            JoinGroupResponseMember::default()
                .with_member_id(StrBytes::from_string(m.member_id))
                .with_group_instance_id(m.group_instance_id.map(StrBytes::from_string))
                .with_metadata(m.metadata)
        })
        .collect();
    let mut resp = JoinGroupResponse::default()
        .with_error_code(r.error.map_or(0, |e| e.code()))
        .with_generation_id(r.generation_id)
        .with_leader(StrBytes::from_string(r.leader))
        .with_member_id(StrBytes::from_string(r.member_id))
        .with_members(members);
    // Before v7 the protocol name is a non-null string.
    resp.protocol_name = match (version >= 7, r.protocol_name) {
        (true, n) => n.map(StrBytes::from_string),
        (false, n) => Some(StrBytes::from_string(n.unwrap_or_default())),
    };
    if version >= 7 {
        resp.protocol_type = r.protocol_type.map(StrBytes::from_string);
    }
    resp
}
