//! The broker's in-memory picture of the cluster, rebuilt from coord.
//!
//! Readers take an `Arc<Snapshot>` and never hold the lock while they work,
//! so request handlers never wait on a coord round trip.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// A live broker, from `/brokers/ids/<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    pub id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

/// Leader and ISR of a partition, from its `state` znode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderAndIsr {
    pub leader: i32,
    pub leader_epoch: i32,
    pub isr: Vec<i32>,
    pub controller_epoch: i32,
    /// The znode version, for conditional updates.
    pub zk_version: i32,
}

/// One partition: its assigned replicas and (once elected) leader and ISR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    pub replicas: Vec<i32>,
    pub state: Option<LeaderAndIsr>,
}

impl PartitionInfo {
    /// The leader, or -1 when none is known.
    pub fn leader(&self) -> i32 {
        self.state.as_ref().map_or(-1, |s| s.leader)
    }

    pub fn leader_epoch(&self) -> i32 {
        self.state.as_ref().map_or(-1, |s| s.leader_epoch)
    }

    pub fn isr(&self) -> &[i32] {
        self.state.as_ref().map_or(&[], |s| s.isr.as_slice())
    }
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    /// Kafka's topic id (zero for topics written without one).
    pub topic_id: [u8; 16],
    pub partitions: BTreeMap<i32, PartitionInfo>,
    /// Overrides from `/config/topics/<topic>`.
    pub config: BTreeMap<String, String>,
    /// Marked for deletion (`/admin/delete_topics/<topic>`).
    pub deleting: bool,
}

/// One consistent view of the cluster.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub brokers: BTreeMap<i32, BrokerInfo>,
    pub topics: BTreeMap<String, Arc<TopicInfo>>,
    /// The broker in `/controller`, or -1.
    pub controller_id: i32,
}

/// The shared, swappable snapshot.
#[derive(Debug, Default)]
pub struct MetadataCache {
    current: RwLock<Arc<Snapshot>>,
}

impl MetadataCache {
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Applies `f` to a copy of the snapshot and publishes the result.
    pub fn update(&self, f: impl FnOnce(&mut Snapshot)) {
        let mut guard = match self.current.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut next = (**guard).clone();
        f(&mut next);
        *guard = Arc::new(next);
    }

    pub fn topic(&self, name: &str) -> Option<Arc<TopicInfo>> {
        self.snapshot().topics.get(name).cloned()
    }
}
