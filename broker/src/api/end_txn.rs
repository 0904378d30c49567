//! EndTxn (v0–3): commit or abort the open transaction. Answered once the
//! decision is in coord; the markers follow.

use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse, RequestHeader};

use crate::server::Broker;
use crate::txn::state::fenced_for_version;

/// The first version that knows PRODUCER_FENCED (KIP-588).
const FENCED_SINCE: i16 = 2;

pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: EndTxnRequest,
) -> EndTxnResponse {
    let version = header.request_api_version;
    let outcome = broker
        .txn
        .end_txn(
            &request.transactional_id,
            request.producer_id.0,
            request.producer_epoch,
            request.committed,
        )
        .await;
    let code = match outcome {
        Ok(()) => 0,
        Err(e) => fenced_for_version(e, version, FENCED_SINCE).code(),
    };
    EndTxnResponse::default().with_error_code(code)
}
