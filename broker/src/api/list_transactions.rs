//! ListTransactions (v0): the transactional ids this broker coordinates,
//! filtered by state and producer id. Admin clients ask every broker.
//! Only the ids the principal may DESCRIBE are listed (Kafka).

use std::collections::BTreeSet;

use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::{
    ListTransactionsRequest, ListTransactionsResponse, ProducerId, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;

use super::access::Access;
use crate::network::frame::Request;
use crate::security::acl::Operation;
use crate::server::Broker;
use crate::txn::state::TxnState;

pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: ListTransactionsRequest,
) -> ListTransactionsResponse {
    let access = Access::of(broker, req);
    let mut states = BTreeSet::new();
    let mut unknown = Vec::new();
    for name in &request.state_filters {
        match TxnState::from_name(name) {
            Some(s) => {
                states.insert(s);
            }
            None => unknown.push(name.clone()),
        }
    }
    let producer_ids: BTreeSet<i64> = request.producer_id_filters.iter().map(|p| p.0).collect();
    // Only unknown state names: nothing can match.
    let listed = if states.is_empty() && !unknown.is_empty() {
        Vec::new()
    } else {
        broker.txn.list(&states, &producer_ids).await
    };
    let transaction_states = listed
        .into_iter()
        .filter(|m| {
            access
                .transactional_id(Operation::Describe, &m.transactional_id)
                .is_ok()
        })
        .map(|m| {
            TransactionState::default()
                .with_transactional_id(TransactionalId(StrBytes::from_string(
                    m.transactional_id.clone(),
                )))
                .with_producer_id(ProducerId(m.producer_id))
                .with_transaction_state(StrBytes::from_static_str(m.state.name()))
        })
        .collect();
    ListTransactionsResponse::default()
        .with_unknown_state_filters(unknown)
        .with_transaction_states(transaction_states)
}
