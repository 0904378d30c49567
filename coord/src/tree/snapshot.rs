//! The tree's contents at one zxid, as a snapshot file holds them — the
//! same encoding for a standalone server's snapshot and an ensemble
//! member's (whose snapshot is also what a lagging follower is sent).
//!
//! Taking one ([`DataTree::snapshot`]) is O(1) for the znodes (a persistent
//! map shares its chunks with the live tree until either side changes
//! them) plus a copy of the session table, so the tree's lock is held for
//! microseconds; encoding and writing happen after it is released, while
//! writes go on. Before, the whole tree was encoded under the lock: a
//! 250–700 ms pause of every write at about 200 000 znodes.

use std::cell::Cell;

use imbl::OrdMap;
use serde::{Deserialize, Serialize};

use super::{DataTree, Node, SessionRecord};

/// A consistent copy of the tree at [`TreeSnapshot::last_zxid`], to encode.
#[derive(Clone)]
pub struct TreeSnapshot {
    last_zxid: i64,
    nodes: OrdMap<String, Node>,
    sessions: Vec<(i64, SessionRecord)>,
}

/// A decoded snapshot: every node and session (the encoding of
/// [`TreeSnapshot`]).
#[derive(Serialize, Deserialize)]
pub struct SnapshotBody {
    pub last_zxid: i64,
    pub nodes: Vec<(String, Node)>,
    pub sessions: Vec<(i64, SessionRecord)>,
}

impl DataTree {
    /// This tree's contents now, to be encoded later (see the module
    /// documentation for why this is cheap).
    pub fn snapshot(&self) -> TreeSnapshot {
        TreeSnapshot {
            last_zxid: self.last_zxid,
            nodes: self.nodes.clone(),
            sessions: self.sessions().map(|(id, r)| (id, *r)).collect(),
        }
    }
}

impl TreeSnapshot {
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Encodes it as a [`SnapshotBody`] (postcard).
    pub fn encode(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_stdvec(self)
    }
}

/// A sequence encoded from an iterator of known length (postcard writes
/// the length first), once.
struct Seq<I>(Cell<Option<I>>);

impl<I: ExactSizeIterator<Item = T>, T: Serialize> Serialize for Seq<I> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.take() {
            Some(items) => s.collect_seq(items),
            None => Err(serde::ser::Error::custom("sequence encoded twice")),
        }
    }
}

/// Encoded as [`SnapshotBody`] straight from the persistent map, without
/// collecting it into a vector first.
impl Serialize for TreeSnapshot {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut body = s.serialize_struct("SnapshotBody", 3)?;
        body.serialize_field("last_zxid", &self.last_zxid)?;
        body.serialize_field("nodes", &Seq(Cell::new(Some(self.nodes.iter()))))?;
        body.serialize_field("sessions", &self.sessions)?;
        body.end()
    }
}

impl SnapshotBody {
    pub fn decode(bytes: &[u8]) -> Result<SnapshotBody, postcard::Error> {
        postcard::from_bytes(bytes)
    }

    /// The tree it describes (children links and indexes rebuilt).
    pub fn into_tree(self) -> DataTree {
        let mut tree = DataTree::new();
        for (path, node) in self.nodes {
            tree.insert_loaded(path, node);
        }
        for (id, record) in self.sessions {
            tree.insert_loaded_session(id, record);
        }
        tree.set_last_zxid(self.last_zxid);
        tree
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::records::Acl;
    use crate::txn::{Txn, TxnEntry};

    fn create(tree: &mut DataTree, path: &str, data: &[u8]) {
        let zxid = tree.last_zxid() + 1;
        tree.apply(
            &TxnEntry {
                zxid,
                time: zxid,
                session: 0,
                txn: Txn::Create {
                    path: path.into(),
                    data: Some(bytes::Bytes::copy_from_slice(data)),
                    acl: vec![Acl::open()],
                    ephemeral_owner: 0,
                    parent_cversion: 1,
                },
            },
            &mut Vec::new(),
        );
    }

    /// A snapshot is the tree as it was when taken, whatever changed after.
    #[test]
    fn a_snapshot_keeps_the_moment_it_was_taken() {
        let mut tree = DataTree::new();
        create(&mut tree, "/a", b"1");
        let as_taken = tree.clone();
        let snapshot = tree.snapshot();
        create(&mut tree, "/a/b", b"2");
        create(&mut tree, "/c", b"3");
        let loaded = SnapshotBody::decode(&snapshot.encode().unwrap())
            .unwrap()
            .into_tree();
        assert_eq!(loaded.last_zxid(), as_taken.last_zxid());
        assert_eq!(loaded.node("/a"), as_taken.node("/a"));
        assert_ne!(tree.node("/a"), as_taken.node("/a"));
        assert!(loaded.node("/a/b").is_none() && loaded.node("/c").is_none());
        assert_eq!(loaded.node_count(), snapshot.node_count());
    }
}
