//! SyncGroup: the leader hands in the assignment; every member waits for
//! its share once the coordinator has stored it.

use std::collections::BTreeMap;

use kafka_protocol::messages::{RequestHeader, SyncGroupRequest, SyncGroupResponse};
use kafka_protocol::protocol::StrBytes;

use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: SyncGroupRequest,
) -> SyncGroupResponse {
    let version = header.request_api_version;
    let assignments: BTreeMap<String, bytes::Bytes> = request
        .assignments
        .iter()
        .map(|a| (a.member_id.to_string(), a.assignment.clone()))
        .collect();
    let r = broker
        .groups
        .sync(
            &request.group_id,
            &request.member_id,
            request.group_instance_id.as_deref(),
            request.generation_id,
            request.protocol_type.as_deref(),
            request.protocol_name.as_deref(),
            assignments,
        )
        .await;
    let mut resp = SyncGroupResponse::default()
        .with_error_code(r.error.map_or(0, |e| e.code()))
        .with_assignment(r.assignment);
    if version >= 5 {
        resp.protocol_type = r.protocol_type.map(StrBytes::from_string);
        resp.protocol_name = r.protocol_name.map(StrBytes::from_string);
    }
    resp
}
