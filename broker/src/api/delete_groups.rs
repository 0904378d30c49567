//! DeleteGroups: an Empty group and its offsets go; a group with members
//! answers NON_EMPTY_GROUP, an unknown one GROUP_ID_NOT_FOUND. Each group
//! needs DELETE on it (else GROUP_AUTHORIZATION_FAILED for it, as Kafka).

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use super::access::Access;
use crate::network::frame::Request;
use crate::security::acl::Operation;
use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let access = Access::of(broker, req);
    let mut results = Vec::new();
    for id in request.groups_names {
        let allowed = access.group(Operation::Delete, &id);
        let deleted = match allowed {
            Ok(()) => broker.groups.delete_group(&id).await,
            Err(e) => Err(e),
        };
        let code = match deleted {
            Ok(()) => 0,
            Err(e) => e.code(),
        };
        results.push(
            DeletableGroupResult::default()
                .with_group_id(id)
                .with_error_code(code),
        );
    }
    DeleteGroupsResponse::default().with_results(results)
}
