//! DescribeCluster: the brokers, cluster id and controller (Admin clients'
//! `describe_cluster`).

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{
    BrokerId, DescribeClusterRequest, DescribeClusterResponse, RequestHeader,
};
use kafka_protocol::protocol::StrBytes;

use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    _header: &RequestHeader,
    _request: DescribeClusterRequest,
    listener: &str,
) -> DescribeClusterResponse {
    let snapshot = broker.metadata.snapshot();
    let brokers = super::metadata::brokers(broker, &snapshot, listener)
        .into_iter()
        .map(|b| {
            DescribeClusterBroker::default()
                .with_broker_id(b.node_id)
                .with_host(b.host)
                .with_port(b.port)
                .with_rack(b.rack)
        })
        .collect();
    DescribeClusterResponse::default()
        .with_cluster_id(StrBytes::from_string(broker.cluster_id.clone()))
        .with_controller_id(BrokerId(snapshot.controller_id))
        .with_brokers(brokers)
        .with_cluster_authorized_operations(i32::MIN)
}
