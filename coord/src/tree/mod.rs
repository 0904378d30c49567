//! The data tree: every znode, the live sessions and their ephemeral nodes.
//!
//! The tree changes only through [`DataTree::apply`] of a committed
//! [`TxnEntry`]; requests become transactions in [`prepare`]. Applying
//! reports what happened as [`Trigger`]s (for watches) and [`OpResult`]s (for
//! replies). What storage keeps of it is a [`snapshot`] now and then.

pub mod acl;
pub mod path;
pub mod prepare;
pub mod snapshot;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;
use imbl::{OrdMap, OrdSet};
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
    /// Rebuilt from the paths when the tree is loaded. A persistent set,
    /// so copying a node (a snapshot shares the tree with the writes that
    /// follow it) costs the same whatever its number of children.
    #[serde(skip)]
    pub children: OrdSet<String>,
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

/// The whole tree in memory.
#[derive(Debug, Clone)]
pub struct DataTree {
    /// A persistent B-tree (imbl): copying it is O(1) and the copy shares
    /// every chunk until one side changes it, so a snapshot is taken under
    /// the tree's lock in constant time and encoded after the lock is
    /// released, and a new leader's private copy costs nothing. A B-tree,
    /// not a hash map: a hash map doubles in one step, and at a few hundred
    /// thousand znodes that rehash stalled every write for tens of
    /// milliseconds; a B-tree grows and shrinks a node at a time, so memory
    /// also comes back as znodes go.
    nodes: OrdMap<String, Node>,
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
            nodes: OrdMap::new(),
            sessions: BTreeMap::new(),
            ephemerals: HashMap::new(),
            expirable: BTreeSet::new(),
            ephemeral_nodes: 0,
            data_bytes: 0,
            last_zxid: 0,
        };
        for path in SYSTEM_NODES {
            tree.insert_loaded(path.to_string(), system_node());
        }
        tree
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
            if !self.nodes.contains_key(parent) {
                let placeholder = placeholder_node();
                self.data_bytes += node_bytes(parent, &placeholder);
                self.nodes.insert(parent.to_string(), placeholder);
            }
            if let Some(parent) = self.nodes.get_mut(parent) {
                parent.children.insert(name);
            }
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
                results.push(OpResult::SessionCreated);
            }
            Txn::CloseSession => {
                let paths: Vec<String> = self.ephemerals(entry.session).cloned().collect();
                for path in paths {
                    self.delete_node(&path, entry.zxid, triggers);
                }
                self.sessions.remove(&entry.session);
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
            children: OrdSet::new(),
        };
        let stat = Self::stat(&node);
        self.index_kind(path, ephemeral_owner);
        self.data_bytes += node_bytes(path, &node);
        if let Some(replaced) = self.nodes.insert(path.to_string(), node) {
            // Not reached: prepare refuses a create of an existing path.
            self.data_bytes -= node_bytes(path, &replaced);
        }
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
        let parent_path = path::parent(path).unwrap_or("/").to_string();
        if let Some(parent) = self.nodes.get_mut(&parent_path) {
            parent.children.remove(path::name(path));
            if zxid > parent.stat.pzxid {
                parent.stat.pzxid = zxid;
            }
        }
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
        children: OrdSet::new(),
    }
}

/// Stands in for a parent not loaded yet; replaced when it is.
fn placeholder_node() -> Node {
    system_node()
}

#[cfg(test)]
mod tests;
