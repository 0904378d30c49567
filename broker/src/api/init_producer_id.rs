//! InitProducerId (v0–4): a producer id and epoch for an idempotent
//! producer, or for a transactional id (which also fences that id's older
//! producers and aborts their open transaction).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    InitProducerIdRequest, InitProducerIdResponse, ProducerId, RequestHeader,
};

use crate::server::Broker;
use crate::txn::state::{fenced_for_version, NO_PRODUCER_EPOCH, NO_PRODUCER_ID};

/// The first version that knows PRODUCER_FENCED (KIP-588).
const FENCED_SINCE: i16 = 4;

pub async fn handle(
    broker: &Broker,
    header: &RequestHeader,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let version = header.request_api_version;
    let outcome = init(broker, request).await;
    let response = InitProducerIdResponse::default();
    match outcome {
        Ok((pid, epoch)) => response
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch),
        Err(e) => response
            .with_error_code(fenced_for_version(e, version, FENCED_SINCE).code())
            .with_producer_id(ProducerId(NO_PRODUCER_ID))
            .with_producer_epoch(NO_PRODUCER_EPOCH),
    }
}

async fn init(broker: &Broker, r: InitProducerIdRequest) -> Result<(i64, i16), ResponseError> {
    // v3+ (KIP-360): the id and epoch the producer had, both or neither.
    let pid = r.producer_id.0;
    let epoch = r.producer_epoch;
    let expected = match (pid, epoch) {
        (NO_PRODUCER_ID, NO_PRODUCER_EPOCH) => None,
        (p, e) if p >= 0 && e >= 0 => Some((p, e)),
        _ => return Err(ResponseError::InvalidRequest),
    };
    match r.transactional_id {
        None => broker.txn.init_idempotent().await,
        Some(id) => {
            broker
                .txn
                .init_transactional(&id, r.transaction_timeout_ms, expected)
                .await
        }
    }
}
