//! FindCoordinator: which broker coordinates a group (v0–3: one key;
//! v4+: a batch of keys), and which coordinates a transactional id.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{
    BrokerId, FindCoordinatorRequest, FindCoordinatorResponse, RequestHeader,
};
use kafka_protocol::protocol::StrBytes;

use crate::security::acl::{Operation, ResourceType};
use crate::security::authorizer::Session;
use crate::server::Broker;

const GROUP: i8 = 0;
const TRANSACTION: i8 = 1;

pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: FindCoordinatorRequest,
    listener: &str,
    session: &Session,
) -> FindCoordinatorResponse {
    let version = header.request_api_version;
    if version >= 4 {
        let coordinators = request
            .coordinator_keys
            .iter()
            .map(|k| lookup(broker, k, request.key_type, listener, session))
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let c = lookup(broker, &request.key, request.key_type, listener, session);
    FindCoordinatorResponse::default()
        .with_error_code(c.error_code)
        .with_error_message(if version >= 1 { c.error_message } else { None })
        .with_node_id(c.node_id)
        .with_host(c.host)
        .with_port(c.port)
}

fn lookup(
    broker: &Broker,
    key: &StrBytes,
    key_type: i8,
    listener: &str,
    session: &Session,
) -> Coordinator {
    // Kafka: Describe on the group or transactional id.
    let may = |t: ResourceType| {
        broker
            .authorizer
            .authorize(session, Operation::Describe, t, key)
    };
    let found = match key_type {
        GROUP if !may(ResourceType::Group) => Err(ResponseError::GroupAuthorizationFailed),
        TRANSACTION if !may(ResourceType::TransactionalId) => {
            Err(ResponseError::TransactionalIdAuthorizationFailed)
        }
        GROUP => broker
            .groups
            .coordinator_of(key)
            .and_then(|id| broker.metadata.snapshot().brokers.get(&id).cloned())
            .ok_or(ResponseError::CoordinatorNotAvailable),
        TRANSACTION => broker
            .txn
            .coordinator_of(key)
            .and_then(|id| broker.metadata.snapshot().brokers.get(&id).cloned())
            .ok_or(ResponseError::CoordinatorNotAvailable),
        _ => Err(ResponseError::InvalidRequest),
    };
    let c = Coordinator::default().with_key(key.clone());
    match found {
        Ok(b) => match b.endpoint(listener) {
            Some((host, port)) => c
                .with_node_id(BrokerId(b.id))
                .with_host(StrBytes::from_string(host.to_string()))
                .with_port(port),
            None => c
                .with_node_id(BrokerId(-1))
                .with_error_code(ResponseError::CoordinatorNotAvailable.code()),
        },
        Err(e) => c
            .with_node_id(BrokerId(-1))
            .with_host(StrBytes::from_static_str(""))
            .with_port(-1)
            .with_error_code(e.code())
            .with_error_message(Some(StrBytes::from_string(e.to_string()))),
    }
}
