//! The broker's in-memory picture of the cluster, rebuilt from coord.
//!
//! Readers take an `Arc<Snapshot>` and never hold the lock while they work,
//! so request handlers never wait on a coord round trip.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// A live broker, from `/brokers/ids/<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    pub id: i32,
    /// The endpoint of the inter-broker listener: where other brokers (and
    /// this broker's own clients) reach it.
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
    /// Every advertised endpoint by listener name: a client is told the
    /// brokers' endpoints on the listener it came in on, as in Kafka.
    pub endpoints: BTreeMap<String, (String, i32)>,
}

impl BrokerInfo {
    /// Host and port on `listener`, if the broker has it.
    pub fn endpoint(&self, listener: &str) -> Option<(&str, i32)> {
        self.endpoints.get(listener).map(|(h, p)| (h.as_str(), *p))
    }
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

impl TopicInfo {
    /// This topic as freshly read, but with the partition states of `other`
    /// (the same topic as the cache had it) where those are newer: states
    /// the controller pushed can be ahead of what a read brought.
    pub fn keeping_newer_states(self: &Arc<Self>, other: &TopicInfo) -> Arc<TopicInfo> {
        if other.topic_id != self.topic_id {
            return self.clone();
        }
        let mut merged = self.clone();
        for (p, theirs) in &other.partitions {
            let Some(state) = &theirs.state else { continue };
            let ours = self.partitions.get(p).and_then(|i| i.state.as_ref());
            if self.partitions.contains_key(p) && is_newer(ours, state) {
                Arc::make_mut(&mut merged)
                    .partitions
                    .insert(*p, theirs.clone());
            }
        }
        merged
    }
}

/// Whether `new` is later in the state znode's history than `current`:
/// leader epochs never go back and every write bumps the znode version.
pub fn is_newer(current: Option<&LeaderAndIsr>, new: &LeaderAndIsr) -> bool {
    current.is_none_or(|c| (new.leader_epoch, new.zk_version) > (c.leader_epoch, c.zk_version))
}

/// One consistent view of the cluster.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub brokers: BTreeMap<i32, BrokerInfo>,
    pub topics: BTreeMap<String, Arc<TopicInfo>>,
    /// The broker in `/controller`, or -1.
    pub controller_id: i32,
}

/// A change this broker makes to its own picture between two full reads
/// from coord (a topic it just created, states the controller wrote). It
/// returns how many things it changed.
pub type Edit = Arc<dyn Fn(&mut Snapshot) -> usize + Send + Sync>;

/// The shared, swappable snapshot.
///
/// A full read from coord takes many round trips, so it can finish after
/// an edit that it partly missed (it listed the topics before a topic was
/// created and read back). Installing it as it is would take the edit back
/// until the next watch fires: a topic that a client has just seen led
/// would vanish again. So edits made while a full read is open are kept and
/// replayed on top of what the read brings; the reader then reads again,
/// which settles anything the replay got wrong.
#[derive(Default)]
pub struct MetadataCache {
    current: RwLock<Arc<Snapshot>>,
    writes: Mutex<Edits>,
}

impl std::fmt::Debug for MetadataCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataCache")
            .field("current", &self.snapshot())
            .finish_non_exhaustive()
    }
}

/// The edits made while full reads are open, in order.
#[derive(Default)]
struct Edits {
    /// Sequence number of the last edit.
    seq: u64,
    /// Open full reads, by the sequence number they started at.
    open_reads: BTreeMap<u64, usize>,
    log: VecDeque<(u64, Edit)>,
}

/// A full read from coord in progress; see [`MetadataCache::begin_read`].
pub struct OpenRead<'a> {
    cache: &'a MetadataCache,
    started_at: u64,
}

impl Drop for OpenRead<'_> {
    fn drop(&mut self) {
        let mut w = self.cache.lock_writes();
        if let Some(n) = w.open_reads.get_mut(&self.started_at) {
            *n -= 1;
            if *n == 0 {
                w.open_reads.remove(&self.started_at);
            }
        }
        // Edits older than every open read will never be replayed.
        let oldest = w.open_reads.keys().next().copied().unwrap_or(u64::MAX);
        while w.log.front().is_some_and(|(seq, _)| *seq <= oldest) {
            w.log.pop_front();
        }
    }
}

impl MetadataCache {
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn lock_writes(&self) -> MutexGuard<'_, Edits> {
        self.writes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn install(&self, next: Snapshot) {
        let mut guard = match self.current.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(next);
    }

    /// Applies `edit` to a copy of the snapshot and publishes the result;
    /// returns what the edit returned.
    pub fn edit(&self, edit: impl Fn(&mut Snapshot) -> usize + Send + Sync + 'static) -> usize {
        let mut w = self.lock_writes();
        let mut next = (*self.snapshot()).clone();
        let changed = edit(&mut next);
        self.install(next);
        w.seq += 1;
        if !w.open_reads.is_empty() {
            let seq = w.seq;
            w.log.push_back((seq, Arc::new(edit)));
        }
        changed
    }

    /// Marks the start of a full read from coord; hand its result to
    /// [`MetadataCache::replace`].
    pub fn begin_read(&self) -> OpenRead<'_> {
        let mut w = self.lock_writes();
        let started_at = w.seq;
        *w.open_reads.entry(started_at).or_default() += 1;
        OpenRead {
            cache: self,
            started_at,
        }
    }

    /// Publishes what a full read brought, with the edits made since it
    /// began replayed on top. Returns whether any were (then the caller
    /// should read again soon rather than wait for a watch).
    pub fn replace(&self, read: OpenRead<'_>, mut next: Snapshot) -> bool {
        let replayed = {
            let w = self.lock_writes();
            let mut replayed = false;
            for (_, edit) in w.log.iter().filter(|(seq, _)| *seq > read.started_at) {
                edit(&mut next);
                replayed = true;
            }
            self.install(next);
            replayed
        };
        drop(read);
        replayed
    }

    pub fn topic(&self, name: &str) -> Option<Arc<TopicInfo>> {
        self.snapshot().topics.get(name).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str, id: u8, states: &[(i32, i32)]) -> Arc<TopicInfo> {
        let partitions = states
            .iter()
            .enumerate()
            .map(|(p, &(leader_epoch, zk_version))| {
                let state = LeaderAndIsr {
                    leader: 1,
                    leader_epoch,
                    isr: vec![1],
                    controller_epoch: 1,
                    zk_version,
                };
                let info = PartitionInfo {
                    replicas: vec![1],
                    state: Some(state),
                };
                (p as i32, info)
            })
            .collect();
        Arc::new(TopicInfo {
            name: name.into(),
            topic_id: [id; 16],
            partitions,
            config: BTreeMap::new(),
            deleting: false,
        })
    }

    fn insert(t: Arc<TopicInfo>) -> impl Fn(&mut Snapshot) -> usize + Send + Sync {
        move |s| {
            s.topics.insert(t.name.clone(), t.clone());
            1
        }
    }

    #[test]
    fn a_read_that_missed_an_edit_does_not_take_it_back() {
        let cache = MetadataCache::default();
        let read = cache.begin_read();
        cache.edit(insert(topic("new", 1, &[(0, 0)])));
        // The read listed the topics before "new" existed.
        let mut stale = Snapshot::default();
        stale
            .topics
            .insert("old".into(), topic("old", 2, &[(0, 0)]));
        assert!(cache.replace(read, stale), "the edit was replayed");
        let now = cache.snapshot();
        assert!(now.topics.contains_key("new") && now.topics.contains_key("old"));
        // With no read open, edits are not kept and a read replays nothing.
        cache.edit(insert(topic("later", 3, &[(0, 0)])));
        let read = cache.begin_read();
        assert!(!cache.replace(read, Snapshot::default()));
        assert!(
            cache.snapshot().topics.is_empty(),
            "a read after every edit is the truth"
        );
    }

    #[test]
    fn a_failed_read_releases_its_edits() {
        let cache = MetadataCache::default();
        let read = cache.begin_read();
        cache.edit(insert(topic("a", 1, &[(0, 0)])));
        drop(read);
        assert!(cache.lock_writes().log.is_empty());
        let read = cache.begin_read();
        assert!(!cache.replace(read, Snapshot::default()));
    }

    #[test]
    fn a_fresh_read_of_a_topic_keeps_newer_pushed_states() {
        let read = topic("t", 1, &[(1, 3), (2, 7)]);
        let cached = topic("t", 1, &[(1, 4), (2, 6)]);
        let merged = read.keeping_newer_states(&cached);
        assert_eq!(
            merged.partitions[&0].state.as_ref().map(|s| s.zk_version),
            Some(4)
        );
        assert_eq!(
            merged.partitions[&1].state.as_ref().map(|s| s.zk_version),
            Some(7)
        );
        // Another incarnation of the topic: the read wins whole.
        let other = topic("t", 9, &[(5, 9), (5, 9)]);
        assert!(Arc::ptr_eq(&read.keeping_newer_states(&other), &read));
    }
}
