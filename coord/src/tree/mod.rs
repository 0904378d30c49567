//! The data tree: every znode, the live sessions and their ephemeral nodes.
//!
//! The tree changes only through [`DataTree::apply`] of a committed
//! [`TxnEntry`]; requests become transactions in [`prepare`]. Applying
//! reports what happened as [`Trigger`]s (for watches) and [`OpResult`]s (for
//! replies), and can record which keys changed so storage writes only those.

pub mod acl;
pub mod path;
pub mod prepare;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::proto::records::{Acl, Stat};
use crate::txn::{NodeKind, Txn, TxnEntry};

/// One znode. `stat.data_length` and `stat.num_children` are filled in when
/// the stat is read ([`DataTree::stat`]), not kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// `None` for null data (a client may set it), distinct from empty.
    pub data: Option<Bytes>,
    pub acl: Vec<Acl>,
    pub stat: Stat,
    /// Rebuilt from the paths when the tree is loaded.
    #[serde(skip)]
    pub children: BTreeSet<String>,
}

/// A live session as the tree records it (so it survives restarts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub timeout_ms: i32,
    pub password: [u8; 16],
}

/// The kinds of change a watch can be told about (`Watcher.Event.EventType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum EventType {
    NodeCreated = 1,
    NodeDeleted = 2,
    NodeDataChanged = 3,
    NodeChildrenChanged = 4,
}

/// A change at a path, to be matched against watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub kind: EventType,
    pub path: String,
}

/// What one (sub-)transaction did, for the reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpResult {
    Created { path: String, stat: Stat },
    Deleted,
    SetData { stat: Stat },
    SetAcl { stat: Stat },
    Checked,
    SessionCreated,
    SessionClosed,
}

/// Keys changed since the last [`DataTree::take_dirty`]: what storage must write.
#[derive(Debug, Default, Clone)]
pub struct Dirty {
    pub nodes: HashSet<String>,
    pub sessions: HashSet<i64>,
}

impl Dirty {
    pub fn len(&self) -> usize {
        self.nodes.len() + self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `other`'s keys to these.
    pub fn merge(&mut self, other: Dirty) {
        self.nodes.extend(other.nodes);
        self.sessions.extend(other.sessions);
    }
}

/// The whole tree in memory.
#[derive(Debug, Clone)]
pub struct DataTree {
    /// A B-tree, not a hash map: a hash map doubles in one step, and at a
    /// few hundred thousand znodes that rehash stalled every write for tens
    /// of milliseconds (twice: the commit pipeline keeps two trees); a
    /// B-tree grows and shrinks a node at a time, so memory also comes back
    /// as znodes go.
    nodes: BTreeMap<String, Node>,
    sessions: BTreeMap<i64, SessionRecord>,
    ephemerals: HashMap<i64, BTreeSet<String>>,
    /// Container and TTL nodes: candidates for automatic removal.
    expirable: BTreeSet<String>,
    /// Znodes owned by a session: the sum of `ephemerals`' sets, kept as
    /// they change so `mntr` and a Prometheus scrape need not add them up.
    ephemeral_nodes: usize,
    /// Bytes of paths and data in `nodes` (ZooKeeper's
    /// approximate_data_size), kept as znodes come, go and change, so
    /// reading it is not a walk over every znode under the tree's lock.
    data_bytes: usize,
    last_zxid: i64,
    dirty: Option<Dirty>,
}

/// Znodes every ZooKeeper tree has.
const SYSTEM_NODES: [&str; 4] = ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"];

impl Default for DataTree {
    fn default() -> Self {
        Self::new()
    }
}

impl DataTree {
    /// An empty tree holding only the root and ZooKeeper's `/zookeeper` nodes.
    pub fn new() -> DataTree {
        let mut tree = DataTree {
            nodes: BTreeMap::new(),
            sessions: BTreeMap::new(),
            ephemerals: HashMap::new(),
            expirable: BTreeSet::new(),
            ephemeral_nodes: 0,
            data_bytes: 0,
            last_zxid: 0,
            dirty: None,
        };
        for path in SYSTEM_NODES {
            tree.insert_loaded(path.to_string(), system_node());
        }
        tree
    }

    /// Starts recording changed keys (the copy of the tree that feeds storage).
    pub fn track_dirty(&mut self) {
        self.dirty = Some(Dirty::default());
    }

    /// Stops recording changed keys.
    pub fn untrack_dirty(&mut self) {
        self.dirty = None;
    }

    /// A copy that records no changes (the ensemble leader's private tree).
    pub fn untracked_clone(&self) -> DataTree {
        let mut copy = self.clone();
        copy.dirty = None;
        copy
    }

    /// How many keys changed since the last [`DataTree::take_dirty`].
    pub fn dirty_len(&self) -> usize {
        self.dirty.as_ref().map_or(0, Dirty::len)
    }

    /// The keys changed since the last call.
    pub fn take_dirty(&mut self) -> Dirty {
        self.dirty.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Puts a node read from storage into the tree, linking it to its parent.
    /// Parents may arrive after their children.
    pub fn insert_loaded(&mut self, path: String, mut node: Node) {
        if let Some(existing) = self.nodes.get_mut(&path) {
            node.children = std::mem::take(&mut existing.children);
            let (replaced_size, replaced_owner) =
                (node_bytes(&path, existing), existing.stat.ephemeral_owner);
            self.data_bytes -= replaced_size;
            self.unindex_kind(&path, replaced_owner);
        }
        if let Some(parent) = path::parent(&path) {
            let name = path::name(&path).to_string();
            let parent = match self.nodes.entry(parent.to_string()) {
                std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => {
                    let placeholder = placeholder_node();
                    self.data_bytes += node_bytes(v.key(), &placeholder);
                    v.insert(placeholder)
                }
            };
            parent.children.insert(name);
        }
        self.index_kind(&path, node.stat.ephemeral_owner);
        self.data_bytes += node_bytes(&path, &node);
        self.nodes.insert(path, node);
    }

    /// Restores a session and the last applied zxid read from storage.
    pub fn insert_loaded_session(&mut self, id: i64, record: SessionRecord) {
        self.sessions.insert(id, record);
    }

    pub fn set_last_zxid(&mut self, zxid: i64) {
        self.last_zxid = zxid;
    }

    /// The zxid of the last applied transaction.
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    pub fn node(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Every node's path.
    pub fn paths(&self) -> impl Iterator<Item = &String> {
        self.nodes.keys()
    }

    /// Every node with its path, in path order.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = (&String, &Node)> {
        self.nodes.iter()
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn session(&self, id: i64) -> Option<&SessionRecord> {
        self.sessions.get(&id)
    }

    pub fn sessions(&self) -> impl ExactSizeIterator<Item = (i64, &SessionRecord)> {
        self.sessions.iter().map(|(id, r)| (*id, r))
    }

    /// The ephemeral paths a session owns, sorted.
    pub fn ephemerals(&self, session: i64) -> impl Iterator<Item = &String> {
        self.ephemerals.get(&session).into_iter().flatten()
    }

    pub fn ephemeral_count(&self) -> usize {
        self.ephemeral_nodes
    }

    /// Container and TTL nodes, the candidates for automatic removal.
    pub fn expirable(&self) -> impl Iterator<Item = &String> {
        self.expirable.iter()
    }

    /// Approximate bytes of node data held (for `mntr`).
    pub fn data_size(&self) -> usize {
        self.data_bytes
    }

    /// A node's stat as clients see it. Two of ZooKeeper's translations
    /// apply: the stored cversion counts creates of children, and clients
    /// see creates plus deletes (`2 × creates − live children`); containers
    /// and TTL nodes show ephemeralOwner 0.
    pub fn stat(node: &Node) -> Stat {
        let num_children = node.children.len() as i32;
        let ephemeral_owner = match NodeKind::of(node.stat.ephemeral_owner) {
            NodeKind::Ephemeral(owner) => owner,
            _ => 0,
        };
        Stat {
            data_length: node.data.as_ref().map_or(0, |d| d.len() as i32),
            num_children,
            cversion: node
                .stat
                .cversion
                .wrapping_mul(2)
                .wrapping_sub(num_children),
            ephemeral_owner,
            ..node.stat.clone()
        }
    }

    /// Number of nodes below `path` (not counting it), for getAllChildrenNumber.
    pub fn descendant_count(&self, path: &str) -> usize {
        let mut count = 0;
        let mut stack = vec![path.to_string()];
        while let Some(p) = stack.pop() {
            if let Some(node) = self.nodes.get(&p) {
                for name in &node.children {
                    count += 1;
                    stack.push(path::child(&p, name));
                }
            }
        }
        count
    }

    fn index_kind(&mut self, path: &str, owner: i64) {
        match NodeKind::of(owner) {
            NodeKind::Persistent => {}
            NodeKind::Container | NodeKind::Ttl(_) => {
                self.expirable.insert(path.to_string());
            }
            NodeKind::Ephemeral(session) => {
                if self
                    .ephemerals
                    .entry(session)
                    .or_default()
                    .insert(path.to_string())
                {
                    self.ephemeral_nodes += 1;
                }
            }
        }
    }

    fn unindex_kind(&mut self, path: &str, owner: i64) {
        match NodeKind::of(owner) {
            NodeKind::Persistent => {}
            NodeKind::Container | NodeKind::Ttl(_) => {
                self.expirable.remove(path);
            }
            NodeKind::Ephemeral(session) => {
                if let Some(set) = self.ephemerals.get_mut(&session) {
                    if set.remove(path) {
                        self.ephemeral_nodes -= 1;
                    }
                    if set.is_empty() {
                        self.ephemerals.remove(&session);
                    }
                }
            }
        }
    }

    fn mark_node(&mut self, path: &str) {
        if let Some(d) = self.dirty.as_mut() {
            d.nodes.insert(path.to_string());
        }
    }

    fn mark_session(&mut self, id: i64) {
        if let Some(d) = self.dirty.as_mut() {
            d.sessions.insert(id);
        }
    }

    /// Applies a committed transaction. The transaction was prepared against
    /// this same state, so it cannot fail; a mismatch (which would mean a bug
    /// or a corrupt history) is skipped with an error log rather than
    /// crashing the server.
    pub fn apply(&mut self, entry: &TxnEntry, triggers: &mut Vec<Trigger>) -> Vec<OpResult> {
        let mut results = Vec::new();
        self.apply_txn(entry, &entry.txn, triggers, &mut results);
        if entry.zxid > self.last_zxid {
            self.last_zxid = entry.zxid;
        }
        results
    }

    fn apply_txn(
        &mut self,
        entry: &TxnEntry,
        txn: &Txn,
        triggers: &mut Vec<Trigger>,
        results: &mut Vec<OpResult>,
    ) {
        match txn {
            Txn::CreateSession {
                timeout_ms,
                password,
            } => {
                self.sessions.insert(
                    entry.session,
                    SessionRecord {
                        timeout_ms: *timeout_ms,
                        password: *password,
                    },
                );
                self.mark_session(entry.session);
                results.push(OpResult::SessionCreated);
            }
            Txn::CloseSession => {
                let paths: Vec<String> = self.ephemerals(entry.session).cloned().collect();
                for path in paths {
                    self.delete_node(&path, entry.zxid, triggers);
                }
                self.sessions.remove(&entry.session);
                self.mark_session(entry.session);
                results.push(OpResult::SessionClosed);
            }
            Txn::Create {
                path,
                data,
                acl,
                ephemeral_owner,
                parent_cversion,
            } => {
                let stat = self.create_node(
                    entry,
                    path,
                    data,
                    acl,
                    *ephemeral_owner,
                    *parent_cversion,
                    triggers,
                );
                results.push(OpResult::Created {
                    path: path.clone(),
                    stat,
                });
            }
            Txn::Delete { path } => {
                self.delete_node(path, entry.zxid, triggers);
                results.push(OpResult::Deleted);
            }
            Txn::SetData {
                path,
                data,
                version,
            } => {
                let Some(node) = self.nodes.get_mut(path) else {
                    tracing::error!(%path, zxid = entry.zxid, "setData of a missing node skipped");
                    return;
                };
                let old = node.data.as_ref().map_or(0, Bytes::len);
                let new = data.as_ref().map_or(0, Bytes::len);
                node.data = data.clone();
                self.data_bytes = self.data_bytes - old + new;
                node.stat.version = *version;
                node.stat.mzxid = entry.zxid;
                node.stat.mtime = entry.time;
                let stat = Self::stat(node);
                self.mark_node(path);
                triggers.push(Trigger {
                    kind: EventType::NodeDataChanged,
                    path: path.clone(),
                });
                results.push(OpResult::SetData { stat });
            }
            Txn::SetAcl {
                path,
                acl,
                aversion,
            } => {
                let Some(node) = self.nodes.get_mut(path) else {
                    tracing::error!(%path, zxid = entry.zxid, "setACL of a missing node skipped");
                    return;
                };
                node.acl = acl.clone();
                node.stat.aversion = *aversion;
                let stat = Self::stat(node);
                self.mark_node(path);
                results.push(OpResult::SetAcl { stat });
            }
            Txn::Check { .. } => results.push(OpResult::Checked),
            Txn::Multi(txns) => {
                for txn in txns {
                    self.apply_txn(entry, txn, triggers, results);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn create_node(
        &mut self,
        entry: &TxnEntry,
        path: &str,
        data: &Option<Bytes>,
        acl: &[Acl],
        ephemeral_owner: i64,
        parent_cversion: i32,
        triggers: &mut Vec<Trigger>,
    ) -> Stat {
        let Some(parent_path) = path::parent(path) else {
            tracing::error!(%path, zxid = entry.zxid, "create without a parent skipped");
            return Stat::default();
        };
        let Some(parent) = self.nodes.get_mut(parent_path) else {
            tracing::error!(%path, zxid = entry.zxid, "create under a missing parent skipped");
            return Stat::default();
        };
        parent.children.insert(path::name(path).to_string());
        if parent_cversion > parent.stat.cversion {
            parent.stat.cversion = parent_cversion;
            parent.stat.pzxid = entry.zxid;
        }
        let parent_path = parent_path.to_string();
        let node = Node {
            data: data.clone(),
            acl: acl.to_vec(),
            stat: Stat {
                czxid: entry.zxid,
                mzxid: entry.zxid,
                ctime: entry.time,
                mtime: entry.time,
                ephemeral_owner,
                pzxid: entry.zxid,
                ..Stat::default()
            },
            children: BTreeSet::new(),
        };
        let stat = Self::stat(&node);
        self.index_kind(path, ephemeral_owner);
        self.data_bytes += node_bytes(path, &node);
        if let Some(replaced) = self.nodes.insert(path.to_string(), node) {
            // Not reached: prepare refuses a create of an existing path.
            self.data_bytes -= node_bytes(path, &replaced);
        }
        self.mark_node(path);
        self.mark_node(&parent_path);
        triggers.push(Trigger {
            kind: EventType::NodeCreated,
            path: path.to_string(),
        });
        triggers.push(Trigger {
            kind: EventType::NodeChildrenChanged,
            path: parent_path,
        });
        stat
    }

    fn delete_node(&mut self, path: &str, zxid: i64, triggers: &mut Vec<Trigger>) {
        let Some(node) = self.nodes.remove(path) else {
            tracing::error!(%path, zxid, "delete of a missing node skipped");
            return;
        };
        self.data_bytes -= node_bytes(path, &node);
        self.unindex_kind(path, node.stat.ephemeral_owner);
        self.mark_node(path);
        let parent_path = path::parent(path).unwrap_or("/").to_string();
        if let Some(parent) = self.nodes.get_mut(&parent_path) {
            parent.children.remove(path::name(path));
            if zxid > parent.stat.pzxid {
                parent.stat.pzxid = zxid;
            }
        }
        self.mark_node(&parent_path);
        triggers.push(Trigger {
            kind: EventType::NodeDeleted,
            path: path.to_string(),
        });
        triggers.push(Trigger {
            kind: EventType::NodeChildrenChanged,
            path: parent_path,
        });
    }
}

/// What a znode adds to approximate_data_size: its path and its data, as
/// ZooKeeper counts them.
fn node_bytes(path: &str, node: &Node) -> usize {
    path.len() + node.data.as_ref().map_or(0, Bytes::len)
}

fn system_node() -> Node {
    Node {
        data: None,
        acl: vec![Acl::open()],
        stat: Stat::default(),
        children: BTreeSet::new(),
    }
}

/// Stands in for a parent not loaded yet; replaced when it is.
fn placeholder_node() -> Node {
    system_node()
}

#[cfg(test)]
mod tests;
