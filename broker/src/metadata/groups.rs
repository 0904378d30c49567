//! Consumer groups in coord: each group's generation and protocol, and its
//! committed offsets, under `/consumers/<group>/…`, so that whichever broker
//! coordinates a group next serves the same state.
//!
//! Layout (JSON in every node):
//!
//! * `/consumers/<group>`: [`GroupRecordJson`] (empty until the group first
//!   completes a rebalance or empties).
//! * `/consumers/<group>/offsets/<topic>/<partition>`: [`OffsetJson`].
//! * `/consumers/<group>/pending_txn/<producer_id>`: [`PendingTxnJson`], the
//!   offsets a transactional producer committed (TxnOffsetCommit) that wait
//!   for its transaction's marker: moved to `offsets` at commit, dropped
//!   at abort, in one `multi` either way.
//!
//! Reads ([`GroupStore::list_groups`], [`GroupStore::load_group`]) go
//! straight to coord. Writes go through one writer task
//! ([`GroupStore::run_writer`]): [`GroupStore::submit`] is synchronous and
//! queues the write, so writes reach coord in the order callers submitted
//! them (callers submit under their group's lock); the writer sends them
//! without waiting for earlier replies (coord answers one session's requests
//! in order) and calls each write's completion when its reply arrives. Every
//! OffsetCommit request is one `multi`. The writer remembers which znodes
//! exist, so a write is `create` for a new node and `set` for an old one.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};
use zookeeper_client as zk;

use super::store::{MetadataError, MetadataStore};
use super::znode_acl::ZnodeAcls;

/// Parent of every group's node (Kafka's ZooKeeper-era consumer path).
pub const CONSUMERS: &str = "/consumers";

/// Writes sent to coord and not yet answered, at most.
const MAX_IN_FLIGHT: usize = 512;

pub fn group_path(group: &str) -> String {
    format!("{CONSUMERS}/{group}")
}

pub fn offsets_path(group: &str) -> String {
    format!("{CONSUMERS}/{group}/offsets")
}

pub fn offset_topic_path(group: &str, topic: &str) -> String {
    format!("{CONSUMERS}/{group}/offsets/{topic}")
}

pub fn offset_path(group: &str, topic: &str, partition: i32) -> String {
    format!("{CONSUMERS}/{group}/offsets/{topic}/{partition}")
}

pub fn pending_txns_path(group: &str) -> String {
    format!("{CONSUMERS}/{group}/pending_txn")
}

pub fn pending_txn_path(group: &str, producer_id: i64) -> String {
    format!("{CONSUMERS}/{group}/pending_txn/{producer_id}")
}

/// One member as the group record keeps it (no subscription bytes: a new
/// coordinator makes members rejoin).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MemberRecordJson {
    pub member_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
}

/// `/consumers/<group>`: the group's generation and protocol as of its last
/// completed rebalance (Kafka's `GroupMetadataValue`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GroupRecordJson {
    pub version: i32,
    #[serde(default)]
    pub protocol_type: Option<String>,
    pub generation: i32,
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub leader: Option<String>,
    /// When the group entered its current state (ms since the epoch).
    pub current_state_timestamp: i64,
    #[serde(default)]
    pub members: Vec<MemberRecordJson>,
}

/// `/consumers/<group>/offsets/<topic>/<partition>` (Kafka's `OffsetCommitValue`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OffsetJson {
    pub version: i32,
    pub offset: i64,
    #[serde(default = "no_epoch")]
    pub leader_epoch: i32,
    #[serde(default)]
    pub metadata: String,
    pub commit_timestamp: i64,
}

/// One offset of a [`PendingTxnJson`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingOffsetJson {
    pub topic: String,
    pub partition: i32,
    #[serde(flatten)]
    pub offset: OffsetJson,
}

/// `/consumers/<group>/pending_txn/<producer_id>`: every offset the
/// producer's open transaction committed so far for the group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingTxnJson {
    pub version: i32,
    pub producer_id: i64,
    pub producer_epoch: i16,
    #[serde(default)]
    pub offsets: Vec<PendingOffsetJson>,
}

fn no_epoch() -> i32 {
    -1
}

/// A group as read from coord.
#[derive(Debug, Clone, Default)]
pub struct StoredGroup {
    pub record: Option<GroupRecordJson>,
    pub offsets: BTreeMap<(String, i32), OffsetJson>,
    /// Transactional offsets waiting for their marker, by producer id.
    pub pending_txns: BTreeMap<i64, PendingTxnJson>,
}

/// One write for one group; the writer turns it into a single `multi`.
#[derive(Debug, Clone)]
pub enum GroupWrite {
    /// Replace the group record.
    Record(GroupRecordJson),
    /// Commit offsets (one OffsetCommit request).
    Offsets(Vec<(String, i32, OffsetJson)>),
    /// Remove these partitions' offsets (OffsetDelete, expiry).
    DeleteOffsets(Vec<(String, i32)>),
    /// Remove the group and everything under it (DeleteGroups, expiry).
    DeleteGroup,
    /// Replace a producer's pending transactional offsets (TxnOffsetCommit).
    PendingTxn(PendingTxnJson),
    /// A producer's transaction ended: drop its pending offsets and, at
    /// commit, store these as the group's offsets, atomically.
    CompleteTxn {
        producer_id: i64,
        commit: Vec<(String, i32, OffsetJson)>,
    },
}

/// Called with the write's outcome, on the writer task. Must not block.
pub type WriteDone = Box<dyn FnOnce(Result<(), MetadataError>) + Send>;

struct Queued {
    group: String,
    write: GroupWrite,
    done: WriteDone,
}

/// The group side of coord access.
pub struct GroupStore {
    store: Arc<MetadataStore>,
    queue: mpsc::UnboundedSender<Queued>,
    receiver: std::sync::Mutex<Option<mpsc::UnboundedReceiver<Queued>>>,
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn zkerr<'a>(op: &'static str, path: &'a str) -> impl FnOnce(zk::Error) -> MetadataError + 'a {
    move |source| MetadataError::Zk {
        op,
        path: path.to_string(),
        source,
    }
}

impl GroupStore {
    pub fn new(store: Arc<MetadataStore>) -> Arc<GroupStore> {
        let (queue, receiver) = mpsc::unbounded_channel();
        Arc::new(GroupStore {
            store,
            queue,
            receiver: std::sync::Mutex::new(Some(receiver)),
        })
    }

    /// The group ids that have a node under `/consumers`.
    pub async fn list_groups(&self) -> Result<Vec<String>, MetadataError> {
        match self.store.zk().list_children(CONSUMERS).await {
            Ok(v) => Ok(v),
            Err(zk::Error::NoNode) => Ok(Vec::new()),
            Err(e) => Err(zkerr("children", CONSUMERS)(e)),
        }
    }

    /// Reads one group's record and offsets; `None` if it has no node.
    pub async fn load_group(&self, group: &str) -> Result<Option<StoredGroup>, MetadataError> {
        let client = self.store.zk();
        let path = group_path(group);
        let data = match client.get_data(&path).await {
            Ok((data, _)) => data,
            Err(zk::Error::NoNode) => return Ok(None),
            Err(e) => return Err(zkerr("get", &path)(e)),
        };
        let mut stored = StoredGroup::default();
        if !data.is_empty() {
            match serde_json::from_slice::<GroupRecordJson>(&data) {
                Ok(r) => stored.record = Some(r),
                Err(e) => warn!("bad JSON in {path}: {e}; ignoring the group record"),
            }
        }
        let offsets = offsets_path(group);
        let topics = match client.list_children(&offsets).await {
            Ok(t) => t,
            Err(zk::Error::NoNode) => Vec::new(),
            Err(e) => return Err(zkerr("children", &offsets)(e)),
        };
        for topic in topics {
            let tpath = offset_topic_path(group, &topic);
            let parts = match client.list_children(&tpath).await {
                Ok(p) => p,
                Err(zk::Error::NoNode) => continue,
                Err(e) => return Err(zkerr("children", &tpath)(e)),
            };
            let reads: Vec<_> = parts
                .iter()
                .filter_map(|p| p.parse::<i32>().ok())
                .map(|p| (p, client.get_data(&offset_path(group, &topic, p))))
                .collect();
            for (p, fut) in reads {
                match fut.await {
                    Ok((data, _)) => match serde_json::from_slice::<OffsetJson>(&data) {
                        Ok(o) => {
                            stored.offsets.insert((topic.clone(), p), o);
                        }
                        Err(e) => warn!(
                            "bad JSON in {}: {e}; ignoring",
                            offset_path(group, &topic, p)
                        ),
                    },
                    Err(zk::Error::NoNode) => {}
                    Err(e) => return Err(zkerr("get", &offset_path(group, &topic, p))(e)),
                }
            }
        }
        let pending = pending_txns_path(group);
        let producers = match client.list_children(&pending).await {
            Ok(p) => p,
            Err(zk::Error::NoNode) => Vec::new(),
            Err(e) => return Err(zkerr("children", &pending)(e)),
        };
        for name in producers {
            let Ok(pid) = name.parse::<i64>() else {
                continue;
            };
            let path = pending_txn_path(group, pid);
            match client.get_data(&path).await {
                Ok((data, _)) => match serde_json::from_slice::<PendingTxnJson>(&data) {
                    Ok(p) => {
                        stored.pending_txns.insert(pid, p);
                    }
                    Err(e) => warn!("bad JSON in {path}: {e}; ignoring"),
                },
                Err(zk::Error::NoNode) => {}
                Err(e) => return Err(zkerr("get", &path)(e)),
            }
        }
        Ok(Some(stored))
    }

    /// Queues a write; `done` runs once coord has answered. Writes submitted
    /// one after another reach coord in that order.
    pub fn submit(&self, group: &str, write: GroupWrite, done: WriteDone) {
        let queued = Queued {
            group: group.to_string(),
            write,
            done,
        };
        if let Err(mpsc::error::SendError(q)) = self.queue.send(queued) {
            // Never run `done` inline: the caller may hold a lock it takes.
            tokio::spawn(async move { (q.done)(Err(MetadataError::ShuttingDown)) });
        }
    }

    /// The writer task: runs until `shutdown`, then answers what is queued.
    pub async fn run_writer(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let Some(mut rx) = self.receiver.lock().ok().and_then(|mut r| r.take()) else {
            return;
        };
        // Groups whose existing znodes the writer knows: group → paths.
        let mut known: HashMap<String, HashSet<String>> = HashMap::new();
        type InFlight<'c> = Pin<Box<dyn Future<Output = Result<(), MetadataError>> + Send + 'c>>;
        loop {
            let client = self.store.zk();
            let mut in_flight: VecDeque<(InFlight<'_>, String, WriteDone)> = VecDeque::new();
            loop {
                enum Event {
                    Reply(Result<(), MetadataError>),
                    Next(Option<Queued>),
                    Stop,
                }
                let event = tokio::select! {
                    biased;
                    r = async {
                        match in_flight.front_mut() {
                            Some(f) => f.0.as_mut().await,
                            None => std::future::pending().await,
                        }
                    },
                        if !in_flight.is_empty() => Event::Reply(r),
                    q = rx.recv(), if in_flight.len() < MAX_IN_FLIGHT => Event::Next(q),
                    _ = shutdown.changed() => Event::Stop,
                };
                match event {
                    Event::Reply(result) => {
                        let Some((_, group, done)) = in_flight.pop_front() else {
                            continue;
                        };
                        if result.is_err() {
                            // What exists is uncertain now: re-read on next use.
                            known.remove(&group);
                        }
                        done(result);
                    }
                    Event::Next(None) | Event::Stop => {
                        while let Some((fut, _, done)) = in_flight.pop_front() {
                            done(fut.await);
                        }
                        while let Ok(q) = rx.try_recv() {
                            (q.done)(Err(MetadataError::ShuttingDown));
                        }
                        return;
                    }
                    Event::Next(Some(q)) => {
                        if !known.contains_key(&q.group) {
                            match existing_nodes(&client, &q.group).await {
                                Ok(set) => {
                                    known.insert(q.group.clone(), set);
                                }
                                Err(e) => {
                                    (q.done)(Err(e));
                                    continue;
                                }
                            }
                        }
                        let nodes = known.entry(q.group.clone()).or_default();
                        let fut = write_future(
                            &client,
                            self.store.znode_acls(),
                            &q.group,
                            q.write,
                            nodes,
                        );
                        in_flight.push_back((fut, q.group, q.done));
                    }
                }
                if client.state().is_terminated() && in_flight.is_empty() {
                    // The metadata store opens a new session; pick it up.
                    known.clear();
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    break;
                }
            }
        }
    }
}

/// Which of a group's znodes exist (for create-or-set decisions).
async fn existing_nodes(
    client: &zk::Client,
    group: &str,
) -> Result<HashSet<String>, MetadataError> {
    let mut set = HashSet::new();
    let path = group_path(group);
    match client.check_stat(&path).await {
        Ok(Some(_)) => {
            set.insert(path);
        }
        Ok(None) => return Ok(set),
        Err(e) => return Err(zkerr("exists", &path)(e)),
    }
    let pending = pending_txns_path(group);
    match client.list_children(&pending).await {
        Ok(producers) => {
            for p in producers {
                set.insert(format!("{pending}/{p}"));
            }
            set.insert(pending);
        }
        Err(zk::Error::NoNode) => {}
        Err(e) => return Err(zkerr("children", &pending)(e)),
    }
    let offsets = offsets_path(group);
    let topics = match client.list_children(&offsets).await {
        Ok(t) => t,
        Err(zk::Error::NoNode) => return Ok(set),
        Err(e) => return Err(zkerr("children", &offsets)(e)),
    };
    set.insert(offsets);
    for topic in topics {
        let tpath = offset_topic_path(group, &topic);
        match client.list_children(&tpath).await {
            Ok(parts) => {
                for p in parts {
                    set.insert(format!("{tpath}/{p}"));
                }
                set.insert(tpath);
            }
            Err(zk::Error::NoNode) => {}
            Err(e) => return Err(zkerr("children", &tpath)(e)),
        }
    }
    Ok(set)
}

/// One `multi` being built, with the writer's view of existing nodes.
struct MultiBuilder<'c, 'n> {
    multi: zk::MultiWriter<'c>,
    /// `zookeeper.set.acl`, for the nodes this write creates.
    acls: ZnodeAcls,
    nodes: &'n mut HashSet<String>,
    ops: usize,
    error: Option<MetadataError>,
}

impl MultiBuilder<'_, '_> {
    fn check(&mut self, path: &str, r: Result<(), zk::Error>) {
        self.ops += 1;
        if let Err(e) = r {
            self.error.get_or_insert_with(|| zkerr("multi", path)(e));
        }
    }

    /// `create` for a new node, `set` for a known one.
    fn upsert(&mut self, path: String, data: &[u8]) {
        let r = if self.nodes.contains(&path) {
            self.multi.add_set_data(&path, data, None)
        } else {
            self.multi
                .add_create(&path, data, &self.acls.persistent(&path))
        };
        self.check(&path, r);
        self.nodes.insert(path);
    }

    /// Creates a parent node if it is not known to exist.
    fn ensure(&mut self, path: String) {
        if !self.nodes.contains(&path) {
            self.upsert(path, b"");
        }
    }

    fn delete(&mut self, path: String) {
        if self.nodes.remove(&path) {
            let r = self.multi.add_delete(&path, None);
            self.check(&path, r);
        }
    }
}

/// Builds and sends one write; `nodes` is updated as if it succeeds.
fn write_future<'c>(
    client: &'c zk::Client,
    acls: ZnodeAcls,
    group: &str,
    write: GroupWrite,
    nodes: &mut HashSet<String>,
) -> Pin<Box<dyn Future<Output = Result<(), MetadataError>> + Send + 'c>> {
    let what = format!("group {group}");
    let mut b = MultiBuilder {
        multi: client.new_multi_writer(),
        acls,
        nodes,
        ops: 0,
        error: None,
    };
    match write {
        GroupWrite::DeleteGroup => {
            b.nodes.clear();
            let path = group_path(group);
            return Box::pin(async move { super::store::delete_tree(client, &path).await });
        }
        GroupWrite::Record(r) => b.upsert(group_path(group), &to_json(&r)),
        GroupWrite::Offsets(offsets) => {
            b.ensure(group_path(group));
            b.ensure(offsets_path(group));
            for (topic, partition, json) in &offsets {
                b.ensure(offset_topic_path(group, topic));
                b.upsert(offset_path(group, topic, *partition), &to_json(json));
            }
        }
        GroupWrite::DeleteOffsets(partitions) => {
            for (topic, partition) in partitions {
                b.delete(offset_path(group, &topic, partition));
            }
        }
        GroupWrite::PendingTxn(pending) => {
            b.ensure(group_path(group));
            b.ensure(pending_txns_path(group));
            b.upsert(
                pending_txn_path(group, pending.producer_id),
                &to_json(&pending),
            );
        }
        GroupWrite::CompleteTxn {
            producer_id,
            commit,
        } => {
            if !commit.is_empty() {
                b.ensure(group_path(group));
                b.ensure(offsets_path(group));
            }
            for (topic, partition, json) in &commit {
                b.ensure(offset_topic_path(group, topic));
                b.upsert(offset_path(group, topic, *partition), &to_json(json));
            }
            b.delete(pending_txn_path(group, producer_id));
        }
    }
    if let Some(e) = b.error {
        return Box::pin(async move { Err(e) });
    }
    if b.ops == 0 {
        return Box::pin(async { Ok(()) });
    }
    let ops = b.ops;
    let commit = b.multi.commit();
    debug!(group, ops, "group write sent");
    Box::pin(async move {
        commit
            .await
            .map(|_| ())
            .map_err(|source| MetadataError::Multi { what, source })
    })
}
