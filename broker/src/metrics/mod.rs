//! The broker's Prometheus metrics, named as the Prometheus JMX exporter
//! names Kafka's (`kafka_server_brokertopicmetrics_messagesin_total`, …)
//! and, for consumer lag, as kafka-exporter names it.
//!
//! Counters on the hot paths are bumped once per batch or request, through
//! handles that a partition or the connection already holds: no lookup and
//! no lock per record. Gauges (partition counts, ISR health, log sizes,
//! lag) are read from the broker's own state when Prometheus scrapes, in
//! [`collector`].

pub mod collector;
pub mod requests;

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use runnel_common::metrics::{Registry, TopicLabel};

pub use requests::RequestMetrics;

/// The per-topic counters one partition bumps (clones of the family's
/// members: incrementing them needs no lookup).
#[derive(Clone, Debug, Default)]
pub struct TopicCounters {
    pub messages_in: Counter,
    pub bytes_in: Counter,
    /// Bytes sent to consumers.
    pub bytes_out: Counter,
    /// Bytes sent to follower replicas.
    pub replication_bytes_out: Counter,
}

/// Counters the broker keeps between scrapes.
#[derive(Default)]
pub struct BrokerMetrics {
    messages_in: Family<TopicLabel, Counter>,
    bytes_in: Family<TopicLabel, Counter>,
    bytes_out: Family<TopicLabel, Counter>,
    replication_bytes_out: Family<TopicLabel, Counter>,
    pub isr_shrinks: Counter,
    pub isr_expands: Counter,
    pub requests: RequestMetrics,
    /// Connections closed because their SASL session expired (KIP-368).
    pub expired_sessions_killed: Counter,
    pub reauthentications: Counter,
    pub failed_reauthentications: Counter,
    /// Connections held then closed: their address was over its
    /// `connection_creation_rate` (KIP-612).
    pub ip_connections_throttled: Counter,
    /// Connections closed at once: their address had
    /// `max.connections.per.ip` open.
    pub ip_connections_refused: Counter,
}

impl BrokerMetrics {
    pub fn new() -> Arc<BrokerMetrics> {
        Arc::new(BrokerMetrics::default())
    }

    /// The counters of `topic`, for a partition to keep.
    pub fn topic(&self, topic: &str) -> TopicCounters {
        let label = TopicLabel {
            topic: Arc::from(topic),
        };
        TopicCounters {
            messages_in: self.messages_in.get_or_create(&label).clone(),
            bytes_in: self.bytes_in.get_or_create(&label).clone(),
            bytes_out: self.bytes_out.get_or_create(&label).clone(),
            replication_bytes_out: self.replication_bytes_out.get_or_create(&label).clone(),
        }
    }

    /// Drops a deleted topic's series, as Kafka removes its topic metrics.
    pub fn forget_topic(&self, topic: &str) {
        let label = TopicLabel {
            topic: Arc::from(topic),
        };
        for family in [
            &self.messages_in,
            &self.bytes_in,
            &self.bytes_out,
            &self.replication_bytes_out,
        ] {
            family.remove(&label);
        }
    }

    /// Puts the counters into `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "kafka_server_brokertopicmetrics_messagesin",
            "Records appended by this broker as leader, per topic",
            self.messages_in.clone(),
        );
        registry.register(
            "kafka_server_brokertopicmetrics_bytesin",
            "Record bytes appended by this broker as leader, per topic",
            self.bytes_in.clone(),
        );
        registry.register(
            "kafka_server_brokertopicmetrics_bytesout",
            "Record bytes sent to consumers, per topic",
            self.bytes_out.clone(),
        );
        registry.register(
            "kafka_server_brokertopicmetrics_replicationbytesout",
            "Record bytes sent to follower replicas, per topic",
            self.replication_bytes_out.clone(),
        );
        registry.register(
            "kafka_server_replicamanager_isrshrinks",
            "ISR shrinks of partitions led by this broker",
            self.isr_shrinks.clone(),
        );
        registry.register(
            "kafka_server_replicamanager_isrexpands",
            "ISR expansions of partitions led by this broker",
            self.isr_expands.clone(),
        );
        registry.register(
            "kafka_server_socket_server_metrics_expired_connections_killed_count",
            "Connections closed because their SASL session expired before re-authentication",
            self.expired_sessions_killed.clone(),
        );
        registry.register(
            "kafka_server_socket_server_metrics_successful_reauthentication",
            "SASL re-authentications that succeeded",
            self.reauthentications.clone(),
        );
        registry.register(
            "kafka_server_socket_server_metrics_failed_reauthentication",
            "SASL re-authentications that failed (the connection was closed)",
            self.failed_reauthentications.clone(),
        );
        registry.register(
            "kafka_server_socket_server_metrics_ip_connections_throttled",
            "Connections closed unanswered after a delay: their address was over its connection_creation_rate",
            self.ip_connections_throttled.clone(),
        );
        registry.register(
            "kafka_server_socket_server_metrics_ip_connections_refused",
            "Connections closed at once: their address already had max.connections.per.ip open",
            self.ip_connections_refused.clone(),
        );
        self.requests.register(registry);
    }
}
