//! DescribeTransactions (v0): the state of transactional ids this broker
//! coordinates (NOT_COORDINATOR for the others).
//!
//! Authorization as Kafka: DESCRIBE on each transactional id (else
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED for it), and a transaction's
//! partitions are shown only for topics the principal may DESCRIBE.

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::access::Access;
use crate::network::frame::Request;
use crate::security::acl::Operation;
use crate::server::Broker;
use crate::txn::state::{NO_PRODUCER_EPOCH, NO_PRODUCER_ID};

pub async fn handle(
    broker: &Broker,
    req: &Request,
    request: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let access = Access::of(broker, req);
    let mut states = Vec::new();
    for id in request.transactional_ids {
        let base = TransactionState::default()
            .with_transactional_id(id.clone())
            .with_transaction_state(StrBytes::from_static_str(""))
            .with_producer_id(ProducerId(NO_PRODUCER_ID))
            .with_producer_epoch(NO_PRODUCER_EPOCH)
            .with_transaction_start_time_ms(-1);
        let described = match access.transactional_id(Operation::Describe, &id) {
            Ok(()) => broker.txn.describe(&id).await,
            Err(e) => Err(e),
        };
        let state = match described {
            Err(e) => base.with_error_code(e.code()),
            Ok(m) => {
                let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
                let visible = m
                    .partitions
                    .iter()
                    .filter(|(t, _)| access.topic(Operation::Describe, t).is_ok());
                for (t, p) in visible {
                    by_topic.entry(t.clone()).or_default().push(*p);
                }
                let topics = by_topic
                    .into_iter()
                    .map(|(t, ps)| {
                        TopicData::default()
                            .with_topic(TopicName(StrBytes::from_string(t)))
                            .with_partitions(ps)
                    })
                    .collect();
                base.with_transaction_state(StrBytes::from_static_str(m.state.name()))
                    .with_transaction_timeout_ms(m.timeout_ms)
                    .with_transaction_start_time_ms(m.txn_start_ms)
                    .with_producer_id(ProducerId(m.producer_id))
                    .with_producer_epoch(m.producer_epoch)
                    .with_topics(topics)
            }
        };
        states.push(state);
    }
    DescribeTransactionsResponse::default().with_transaction_states(states)
}
