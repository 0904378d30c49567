//! LeaveGroup: one member (v0–2) or a batch, static members by instance id (v3+).

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse, RequestHeader};
use kafka_protocol::protocol::StrBytes;

use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let version = header.request_api_version;
    let members: Vec<(String, Option<String>)> = if version >= 3 {
        request
            .members
            .iter()
            .map(|m| {
                (
                    m.member_id.to_string(),
                    m.group_instance_id.as_ref().map(|s| s.to_string()),
                )
            })
            .collect()
    } else {
        vec![(request.member_id.to_string(), None)]
    };
    match broker.groups.leave(&request.group_id, &members).await {
        Err(e) => LeaveGroupResponse::default().with_error_code(e.code()),
        Ok(results) => {
            if version < 3 {
                // One member: its error is the response's.
                let code = results
                    .first()
                    .and_then(|r| r.err())
                    .map_or(0, |e| e.code());
                return LeaveGroupResponse::default().with_error_code(code);
            }
            let responses = members
                .into_iter()
                .zip(results)
                .map(|((id, instance), r)| {
                    MemberResponse::default()
                        .with_member_id(StrBytes::from_string(id))
                        .with_group_instance_id(instance.map(StrBytes::from_string))
                        .with_error_code(r.err().map_or(0, |e| e.code()))
                })
                .collect();
            LeaveGroupResponse::default().with_members(responses)
        }
    }
}
