//! AddOffsetsToTxn (v0–3): puts a consumer group's offsets into the open
//! transaction, so its commit or abort marker also reaches the group's
//! coordinator (where TxnOffsetCommit left them pending).

use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, RequestHeader};

use crate::server::Broker;
use crate::txn::state::fenced_for_version;

/// The first version that knows PRODUCER_FENCED (KIP-588).
const FENCED_SINCE: i16 = 2;

pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    let version = header.request_api_version;
    let outcome = broker
        .txn
        .add_to_txn(
            &request.transactional_id,
            request.producer_id.0,
            request.producer_epoch,
            &[],
            &[request.group_id.to_string()],
        )
        .await;
    let code = match outcome {
        Ok(()) => 0,
        Err(e) => fenced_for_version(e, version, FENCED_SINCE).code(),
    };
    AddOffsetsToTxnResponse::default().with_error_code(code)
}
