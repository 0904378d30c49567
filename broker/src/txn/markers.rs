//! Commit and abort markers (Kafka's `TransactionMarkerChannelManager`):
//! WriteTxnMarkers v1 to the current leader of every partition of a
//! transaction, and to the coordinator of every group whose offsets are in
//! it (topic `__consumer_offsets`, one partition per group slot: that broker's group
//! coordinator then makes the offsets visible or drops them).
//!
//! Markers are retried until acknowledged: leaders move, brokers restart,
//! connections drop. Each round re-reads leaders from the metadata cache.
//! A partition whose topic is gone is skipped, as Kafka does. A broker that
//! says the producer epoch or coordinator epoch is stale ends the sending:
//! a newer coordinator or producer has taken over.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{ProducerId, TopicName, WriteTxnMarkersRequest};
use kafka_protocol::protocol::StrBytes;
use runnel_common::kafka::connection::{Connection, ConnectionConfig};
use tracing::{debug, info, warn};

use crate::group::assignment::{coordinator_in, slot_for};
use crate::metadata::{BrokerInfo, MetadataStore, Snapshot};

/// The topic group markers name (Kafka's offsets topic).
pub const GROUP_MARKER_TOPIC: &str = "__consumer_offsets";

/// The one WriteTxnMarkers version the protocol crate has.
const VERSION: i16 = 1;

const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The markers of one finished transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Markers {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub coordinator_epoch: i32,
    pub commit: bool,
    pub partitions: BTreeSet<(String, i32)>,
    pub groups: BTreeSet<String>,
}

/// Why markers stopped before every destination had them.
#[derive(Debug, thiserror::Error)]
pub enum MarkerError {
    #[error("broker {broker} rejected the markers of {id}: {error}")]
    Fenced {
        id: String,
        broker: i32,
        error: ResponseError,
    },
    #[error("this broker no longer coordinates {0}")]
    Cancelled(String),
}

/// Where a round sends what.
#[derive(Debug, Default, PartialEq, Eq)]
struct Round {
    /// Broker → partitions it leads.
    partitions: BTreeMap<i32, BTreeSet<(String, i32)>>,
    /// Broker → groups it coordinates.
    groups: BTreeMap<i32, BTreeSet<String>>,
    /// Partitions whose topic or partition no longer exists.
    gone: Vec<(String, i32)>,
}

/// Sorts the outstanding destinations by broker from one snapshot.
fn plan(
    snapshot: &Snapshot,
    partitions: &BTreeSet<(String, i32)>,
    groups: &BTreeSet<String>,
    group_slots: i32,
) -> Round {
    let mut round = Round::default();
    for (topic, partition) in partitions {
        let info = snapshot
            .topics
            .get(topic)
            .and_then(|t| t.partitions.get(partition));
        match info {
            None => round.gone.push((topic.clone(), *partition)),
            Some(p) if p.leader() >= 0 => {
                round
                    .partitions
                    .entry(p.leader())
                    .or_default()
                    .insert((topic.clone(), *partition));
            }
            // No leader right now: next round.
            Some(_) => {}
        }
    }
    for group in groups {
        if let Some(b) = coordinator_in(snapshot, group, group_slots) {
            round.groups.entry(b).or_default().insert(group.clone());
        }
    }
    round
}

/// One WriteTxnMarkers request for one broker.
fn request(
    m: &Markers,
    partitions: Option<&BTreeSet<(String, i32)>>,
    group_slots: &BTreeSet<i32>,
) -> WriteTxnMarkersRequest {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, partition) in partitions.into_iter().flatten() {
        by_topic.entry(topic).or_default().push(*partition);
    }
    // Kafka's way: one partition of the offsets topic per group slot, so
    // the receiver can tell whether it still coordinates those groups.
    if !group_slots.is_empty() {
        by_topic
            .entry(GROUP_MARKER_TOPIC)
            .or_default()
            .extend(group_slots.iter().copied());
    }
    let topics = by_topic
        .into_iter()
        .map(|(name, mut ps)| {
            ps.dedup();
            WritableTxnMarkerTopic::default()
                .with_name(TopicName(StrBytes::from_string(name.to_string())))
                .with_partition_indexes(ps)
        })
        .collect();
    let marker = WritableTxnMarker::default()
        .with_producer_id(ProducerId(m.producer_id))
        .with_producer_epoch(m.producer_epoch)
        .with_transaction_result(m.commit)
        .with_topics(topics)
        .with_coordinator_epoch(m.coordinator_epoch);
    WriteTxnMarkersRequest::default().with_markers(vec![marker])
}

/// What one partition's answer means for the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    Retry,
    Fenced(ResponseError),
}

fn outcome(code: i16) -> Outcome {
    match ResponseError::try_from_code(code) {
        None => Outcome::Done,
        // The partition's format predates transactions: nothing to mark.
        Some(ResponseError::UnsupportedForMessageFormat) => Outcome::Done,
        Some(e @ ResponseError::InvalidProducerEpoch)
        | Some(e @ ResponseError::TransactionCoordinatorFenced) => Outcome::Fenced(e),
        Some(_) => Outcome::Retry,
    }
}

/// Sends markers; one connection per broker, reused across transactions
/// (requests of many transactions are pipelined on it).
pub struct MarkerSender {
    metadata: Arc<MetadataStore>,
    group_slots: i32,
    config: ConnectionConfig,
    conns: tokio::sync::Mutex<HashMap<i32, Arc<Connection>>>,
}

impl MarkerSender {
    pub fn new(
        broker_id: i32,
        metadata: Arc<MetadataStore>,
        group_slots: i32,
        security: runnel_common::kafka::ClientSecurity,
    ) -> MarkerSender {
        let config = ConnectionConfig {
            client_id: format!("transaction-coordinator-{broker_id}"),
            security,
            ..ConnectionConfig::default()
        };
        MarkerSender {
            metadata,
            group_slots,
            config,
            conns: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    async fn connection(&self, broker: &BrokerInfo) -> Option<Arc<Connection>> {
        let addr = format!("{}:{}", broker.host, broker.port);
        let mut conns = self.conns.lock().await;
        if let Some(c) = conns.get(&broker.id) {
            if !c.is_closed() && c.addr() == addr {
                return Some(c.clone());
            }
        }
        conns.remove(&broker.id);
        match Connection::connect(&addr, &self.config).await {
            Ok(c) => {
                let c = Arc::new(c);
                conns.insert(broker.id, c.clone());
                Some(c)
            }
            Err(e) => {
                debug!(broker = broker.id, "connecting for markers: {e}");
                None
            }
        }
    }

    /// Sends `m` until every partition and group has acknowledged it.
    /// `wanted` is asked before each round: false stops the sending (this
    /// broker stopped coordinating the id, or is shutting down).
    pub async fn send(&self, m: &Markers, wanted: impl Fn() -> bool) -> Result<(), MarkerError> {
        let mut partitions = m.partitions.clone();
        let mut groups = m.groups.clone();
        let mut backoff = FIRST_BACKOFF;
        while !partitions.is_empty() || !groups.is_empty() {
            if !wanted() {
                return Err(MarkerError::Cancelled(m.transactional_id.clone()));
            }
            let snapshot = self.metadata.snapshot();
            let round = plan(&snapshot, &partitions, &groups, self.group_slots);
            for p in &round.gone {
                info!(
                    transactional_id = %m.transactional_id,
                    "{}-{} no longer exists; no marker for it", p.0, p.1
                );
                partitions.remove(p);
            }
            let brokers: BTreeSet<i32> = round
                .partitions
                .keys()
                .chain(round.groups.keys())
                .copied()
                .collect();
            // Send to every broker first, then read the answers, so one slow
            // broker does not hold up the others' requests.
            let mut waiting = Vec::new();
            for b in brokers {
                let Some(info) = snapshot.brokers.get(&b) else {
                    continue;
                };
                let Some(conn) = self.connection(info).await else {
                    continue;
                };
                let group_set = round.groups.get(&b);
                let group_slots: BTreeSet<i32> = group_set
                    .iter()
                    .flat_map(|gs| gs.iter())
                    .map(|g| slot_for(g, self.group_slots))
                    .collect();
                let req = request(m, round.partitions.get(&b), &group_slots);
                match conn.send(&req, VERSION).await {
                    Ok(pending) => waiting.push((b, pending, group_set.cloned())),
                    Err(e) => debug!(broker = b, "sending markers: {e}"),
                }
            }
            for (b, pending, group_set) in waiting {
                let response = match pending.wait().await {
                    Ok(r) => r,
                    Err(e) => {
                        debug!(broker = b, "markers: {e}");
                        continue;
                    }
                };
                for result in response.markers {
                    for topic in result.topics {
                        for p in topic.partitions {
                            match outcome(p.error_code) {
                                Outcome::Done if topic.name.as_str() == GROUP_MARKER_TOPIC => {
                                    for g in group_set.iter().flatten() {
                                        if slot_for(g, self.group_slots) == p.partition_index {
                                            groups.remove(g);
                                        }
                                    }
                                }
                                Outcome::Done => {
                                    partitions.remove(&(topic.name.to_string(), p.partition_index));
                                }
                                Outcome::Retry => debug!(
                                    broker = b,
                                    "marker for {}-{}: error {}",
                                    topic.name.as_str(),
                                    p.partition_index,
                                    p.error_code
                                ),
                                Outcome::Fenced(error) => {
                                    warn!(
                                        transactional_id = %m.transactional_id,
                                        broker = b,
                                        "markers rejected: {error}"
                                    );
                                    return Err(MarkerError::Fenced {
                                        id: m.transactional_id.clone(),
                                        broker: b,
                                        error,
                                    });
                                }
                            }
                        }
                    }
                }
            }
            if !partitions.is_empty() || !groups.is_empty() {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::cache::{LeaderAndIsr, PartitionInfo, TopicInfo};

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::default();
        for id in [1, 2] {
            s.brokers.insert(
                id,
                BrokerInfo {
                    id,
                    host: "h".into(),
                    port: 9000 + id,
                    rack: None,
                    endpoints: Default::default(),
                },
            );
        }
        let part = |leader| PartitionInfo {
            replicas: vec![1, 2],
            state: Some(LeaderAndIsr {
                leader,
                leader_epoch: 0,
                isr: vec![1, 2],
                controller_epoch: 1,
                zk_version: 0,
            }),
        };
        let mut partitions = BTreeMap::new();
        partitions.insert(0, part(1));
        partitions.insert(1, part(2));
        partitions.insert(2, part(-1));
        s.topics.insert(
            "t".into(),
            Arc::new(TopicInfo {
                name: "t".into(),
                topic_id: [0; 16],
                partitions,
                config: BTreeMap::new(),
                deleting: false,
            }),
        );
        s
    }

    #[test]
    fn rounds_go_to_leaders_and_skip_the_gone() {
        let s = snapshot();
        let parts: BTreeSet<(String, i32)> = [("t", 0), ("t", 1), ("t", 2), ("gone", 0)]
            .into_iter()
            .map(|(t, p)| (t.to_string(), p))
            .collect();
        let groups: BTreeSet<String> = ["g".to_string()].into();
        let r = plan(&s, &parts, &groups, 50);
        assert_eq!(r.gone, vec![("gone".to_string(), 0)]);
        assert!(r.partitions[&1].contains(&("t".to_string(), 0)));
        assert!(r.partitions[&2].contains(&("t".to_string(), 1)));
        // No leader: neither sent nor gone.
        assert!(!r
            .partitions
            .values()
            .any(|s| s.contains(&("t".to_string(), 2))));
        assert_eq!(r.groups.values().map(BTreeSet::len).sum::<usize>(), 1);
    }

    #[test]
    fn requests_carry_the_group_topic() {
        let m = Markers {
            transactional_id: "x".into(),
            producer_id: 5,
            producer_epoch: 2,
            coordinator_epoch: 3,
            commit: true,
            partitions: BTreeSet::new(),
            groups: BTreeSet::new(),
        };
        let parts: BTreeSet<(String, i32)> = [("a".to_string(), 1)].into();
        let r = request(&m, Some(&parts), &[7].into());
        let marker = &r.markers[0];
        assert_eq!(marker.producer_id.0, 5);
        assert!(marker.transaction_result);
        assert_eq!(marker.coordinator_epoch, 3);
        let names: Vec<&str> = marker.topics.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, vec![GROUP_MARKER_TOPIC, "a"]);
        assert_eq!(marker.topics[0].partition_indexes, vec![7]);
    }

    #[test]
    fn outcomes() {
        assert_eq!(outcome(0), Outcome::Done);
        assert_eq!(outcome(6), Outcome::Retry);
        assert_eq!(
            outcome(47),
            Outcome::Fenced(ResponseError::InvalidProducerEpoch)
        );
        assert_eq!(outcome(43), Outcome::Done);
    }
}
