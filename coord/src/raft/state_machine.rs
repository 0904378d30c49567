//! The replicated state machine: committed log entries applied to the
//! published data tree (the one reads see), whose changed keys the
//! [`Checkpointer`] writes to sled from time to time, with the last applied
//! log id in the same atomic batch. No flush is needed here and no apply
//! waits for a write: the Raft log itself is durable, and a restart
//! re-applies it from the stored last-applied id. A key changed many times
//! between two checkpoints — an offset, an ISR — is written once. Before a
//! snapshot lets openraft purge log entries, everything applied is written,
//! so the stored tree never needs a purged entry. Snapshots are the whole
//! tree, postcard-encoded.

use std::io::Cursor;
use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, SnapshotMeta, StorageError,
    StorageIOError, StoredMembership,
};
use serde::{Deserialize, Serialize};

use super::Host;
use super::{Applied, Entry, Node, NodeId, TypeConfig};
use crate::storage::{Checkpointer, SledStore, Store};
use crate::tree::{DataTree, SessionRecord};
use crate::txn::TxnEntry;

const APPLIED: &str = "raft_applied";
const MEMBERSHIP: &str = "raft_membership";
const SNAPSHOT: &str = "raft_snapshot";

/// A snapshot's contents: every node and session.
#[derive(Serialize, Deserialize)]
struct SnapshotBody {
    last_zxid: i64,
    nodes: Vec<(String, crate::tree::Node)>,
    sessions: Vec<(i64, SessionRecord)>,
}

/// The current snapshot as kept in sled.
#[derive(Serialize, Deserialize, Clone)]
struct StoredSnapshot {
    meta: SnapshotMeta<NodeId, Node>,
    data: Vec<u8>,
}

fn sm_err(e: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageIOError::write_state_machine(&e).into()
}

fn read_err(e: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageIOError::read_state_machine(&e).into()
}

/// The data tree as openraft's state machine.
pub struct StateMachine {
    host: Arc<dyn Host>,
    store: Arc<SledStore>,
    last_applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, Node>,
    snapshots_built: u64,
    checkpointer: Checkpointer,
}

fn decode_meta<T: serde::de::DeserializeOwned>(
    store: &SledStore,
    key: &str,
) -> Result<Option<T>, StorageError<NodeId>> {
    match store.meta(key).map_err(read_err)? {
        None => Ok(None),
        Some(bytes) => postcard::from_bytes(&bytes).map(Some).map_err(read_err),
    }
}

impl StateMachine {
    /// Resumes from what sled holds (the published tree was loaded from it).
    pub fn open(
        host: Arc<dyn Host>,
        store: Arc<SledStore>,
    ) -> Result<StateMachine, StorageError<NodeId>> {
        let last_applied = decode_meta::<Option<LogId<NodeId>>>(&store, APPLIED)?.flatten();
        let membership = decode_meta(&store, MEMBERSHIP)?.unwrap_or_default();
        let checkpointer = Checkpointer::start(store.clone(), None).map_err(sm_err)?;
        Ok(StateMachine {
            host,
            store,
            last_applied,
            membership,
            snapshots_built: 0,
            checkpointer,
        })
    }

    fn meta_entries(&self) -> Result<Vec<(&'static str, Vec<u8>)>, StorageError<NodeId>> {
        Ok(vec![
            (
                APPLIED,
                postcard::to_stdvec(&self.last_applied).map_err(sm_err)?,
            ),
            (
                MEMBERSHIP,
                postcard::to_stdvec(&self.membership).map_err(sm_err)?,
            ),
        ])
    }

    /// Hands every change applied so far, with the last applied id, to
    /// the checkpoint thread (`wait`: and waits until it is written).
    fn store_applied(&mut self, wait: bool) -> Result<(), StorageError<NodeId>> {
        let meta = self.meta_entries()?;
        let keys = self.host.tree_mut().take_dirty();
        let encoded = self
            .checkpointer
            .encode(&self.host.tree(), keys, &meta)
            .map_err(sm_err)?;
        self.checkpointer.queue(encoded, wait).map_err(sm_err)
    }

    fn stored_snapshot(&self) -> Result<Option<StoredSnapshot>, StorageError<NodeId>> {
        decode_meta(&self.store, SNAPSHOT)
    }
}

/// Builds a snapshot from a copy taken between two applies.
pub struct SnapshotBuilder {
    store: Arc<SledStore>,
    meta: SnapshotMeta<NodeId, Node>,
    data: Vec<u8>,
    /// Why the applied changes could not be written first, if they could
    /// not: then no snapshot is built, so no log entry is purged.
    unstored: Option<String>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        if let Some(reason) = &self.unstored {
            return Err(sm_err(std::io::Error::other(format!(
                "applied changes not written before the snapshot: {reason}"
            ))));
        }
        let stored = StoredSnapshot {
            meta: self.meta.clone(),
            data: std::mem::take(&mut self.data),
        };
        let bytes = postcard::to_stdvec(&stored).map_err(sm_err)?;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            store.write_meta(SNAPSHOT, bytes)?;
            Store::flush(&*store)
        })
        .await
        .map_err(sm_err)?
        .map_err(sm_err)?;
        Ok(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, Node>), StorageError<NodeId>> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut txn_entries = Vec::new();
        // zxids count proposals: each proposal of an entry takes the next
        // one (its transactions share it), an entry without proposals
        // (blank, membership) takes one too. Every member applies the same
        // log from the same state, so every member gives the same zxids.
        let mut zxid = self.host.tree().last_zxid();
        // For each log entry: per proposal, its zxid and how many
        // transactions it holds.
        let mut shape: Vec<Vec<(i64, usize)>> = Vec::new();
        for entry in entries {
            self.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => {
                    zxid += 1;
                    shape.push(Vec::new());
                }
                EntryPayload::Membership(membership) => {
                    zxid += 1;
                    self.membership = StoredMembership::new(Some(entry.log_id), membership);
                    shape.push(Vec::new());
                }
                EntryPayload::Normal(command) => {
                    if command.proposals.is_empty() {
                        zxid += 1;
                    }
                    let mut each = Vec::with_capacity(command.proposals.len());
                    for proposed in command.proposals {
                        zxid += 1;
                        each.push((zxid, proposed.txns.len()));
                        for txn in proposed.txns {
                            txn_entries.push(TxnEntry {
                                zxid,
                                time: command.time,
                                session: proposed.session,
                                txn,
                            });
                        }
                    }
                    shape.push(each);
                }
            }
        }
        let mut results = self.host.publish(&txn_entries).into_iter();
        let dirty = {
            // Every proposal moves the zxid, empty ones too (blank,
            // membership, a refusal's marker).
            let mut tree = self.host.tree_mut();
            if zxid > tree.last_zxid() {
                tree.set_last_zxid(zxid);
            }
            tree.dirty_len()
        };
        self.host.note_applied(zxid);
        if self.checkpointer.due(dirty) {
            self.store_applied(false)?;
        }
        Ok(shape
            .into_iter()
            .map(|each| Applied {
                each: each
                    .into_iter()
                    .map(|(zxid, count)| (zxid, results.by_ref().take(count).flatten().collect()))
                    .collect(),
            })
            .collect())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.snapshots_built += 1;
        // The snapshot lets openraft purge the log up to it: the stored
        // tree must not need those entries on a restart.
        let stored = self.store_applied(true).map_err(|e| e.to_string());
        let tree = self.host.tree();
        let body = SnapshotBody {
            last_zxid: tree.last_zxid(),
            nodes: tree
                .paths()
                .filter_map(|p| tree.node(p).map(|n| (p.clone(), n.clone())))
                .collect(),
            sessions: tree.sessions().map(|(id, r)| (id, *r)).collect(),
        };
        drop(tree);
        let snapshot_id = match self.last_applied {
            Some(id) => format!("{}-{}-{}", id.leader_id, id.index, self.snapshots_built),
            None => format!("--{}", self.snapshots_built),
        };
        SnapshotBuilder {
            store: self.store.clone(),
            meta: SnapshotMeta {
                last_log_id: self.last_applied,
                last_membership: self.membership.clone(),
                snapshot_id,
            },
            // An encoding failure leaves the data empty; installing it then
            // fails loudly instead of silently wiping a follower.
            data: postcard::to_stdvec(&body).unwrap_or_default(),
            unstored: stored.err(),
        }
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, Node>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let data = snapshot.into_inner();
        let body: SnapshotBody = postcard::from_bytes(&data).map_err(read_err)?;
        let mut tree = DataTree::new();
        for (path, node) in body.nodes {
            tree.insert_loaded(path, node);
        }
        for (id, record) in &body.sessions {
            tree.insert_loaded_session(*id, *record);
        }
        tree.set_last_zxid(body.last_zxid);
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        let mut meta_entries = self.meta_entries()?;
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        meta_entries.push((SNAPSHOT, postcard::to_stdvec(&stored).map_err(sm_err)?));
        // A checkpoint of the old tree must not land on top of the new one.
        self.checkpointer
            .settle_and_forget_failures()
            .map_err(sm_err)?;
        self.store
            .replace_all(&tree, &meta_entries)
            .map_err(sm_err)?;
        for (id, record) in &body.sessions {
            self.host.track_session(*id, record.timeout_ms);
        }
        tree.track_dirty();
        let zxid = tree.last_zxid();
        *self.host.tree_mut() = tree;
        self.host.note_applied(zxid);
        tracing::info!(
            zxid = format_args!("0x{zxid:x}"),
            "installed a snapshot from the leader"
        );
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        Ok(self.stored_snapshot()?.map(|s| Snapshot {
            meta: s.meta,
            snapshot: Box::new(Cursor::new(s.data)),
        }))
    }
}
