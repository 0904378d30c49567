//! The replicated state machine: committed log entries applied to the
//! published data tree (the one reads see), in memory only. As in
//! ZooKeeper (a snapshot plus the transaction log after it), what a member
//! stores of the tree is its last snapshot — the whole tree, postcard-encoded,
//! with the log id it reflects — and the Raft log after it: a restart loads
//! the snapshot and openraft re-applies the log up to the saved commit point.
//! So an apply writes nothing: a write costs its log append alone, where
//! writing each changed znode to sled cost 15-20 µs of CPU a key on every
//! member. A snapshot is taken every [`SNAPSHOT_EVERY`] entries or so (each
//! member its own number, so they do not all snapshot at once) and is
//! flushed before openraft purges the entries it covers.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, SnapshotMeta, StorageError,
    StorageIOError, StoredMembership,
};
use serde::{Deserialize, Serialize};

use super::durable::Durable;
use super::Host;
use super::{Applied, Entry, Node, NodeId, TypeConfig};
use crate::storage::snapshot_file::{self, ENSEMBLE};
use crate::storage::{SledStore, StorageError as StoreError, Store};
use crate::tree::snapshot::{SnapshotBody, TreeSnapshot};
use crate::tree::DataTree;
use crate::txn::TxnEntry;

/// Log entries between two snapshots (openraft's snapshot policy).
pub const SNAPSHOT_EVERY: u64 = 5000;

/// Where versions before the snapshot-only state kept the last applied id
/// and membership, beside per-key state (read once, to convert).
const APPLIED: &str = "raft_applied";
const MEMBERSHIP: &str = "raft_membership";
/// Set in sled once the state is the snapshot file, not per-key records.
const STATE_IN_SNAPSHOT: &str = "raft_state_in_snapshot";

/// The current snapshot as kept in sled. Before the first snapshot openraft
/// takes, it holds the state the member started from (`last_log_id` none:
/// an empty tree, or a former standalone server's), which openraft is not
/// shown since it covers no log entry.
#[derive(Serialize, Deserialize, Clone)]
struct StoredSnapshot {
    meta: SnapshotMeta<NodeId, Node>,
    data: Vec<u8>,
}

fn corrupt(key: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        key: key.into(),
        reason: e.to_string(),
    }
}

fn stored_meta<T: serde::de::DeserializeOwned>(
    store: &SledStore,
    key: &str,
) -> Result<Option<T>, StoreError> {
    match store.meta(key)? {
        None => Ok(None),
        Some(bytes) => postcard::from_bytes(&bytes)
            .map(Some)
            .map_err(|e| corrupt(key, e)),
    }
}

fn file_err(dir: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::File {
        path: dir.display().to_string(),
        source,
    }
}

/// The data tree an ensemble member starts from: its snapshot's (in
/// `snapshot_dir`). Data an older version wrote (per-key state in sled
/// with the last applied id, or a standalone server's state) is turned
/// into a snapshot first; then one atomic sled write drops the per-key
/// records and marks the change (a crash before it converts again).
pub fn load_state(store: &SledStore, snapshot_dir: &Path) -> Result<DataTree, StoreError> {
    if store.meta(STATE_IN_SNAPSHOT)?.is_none() {
        let tree = Store::load(store)?;
        let last_log_id = stored_meta::<Option<LogId<NodeId>>>(store, APPLIED)?.flatten();
        let last_membership = stored_meta(store, MEMBERSHIP)?.unwrap_or_default();
        let snapshot = StoredSnapshot {
            meta: SnapshotMeta {
                last_log_id,
                last_membership,
                snapshot_id: "converted".into(),
            },
            data: tree.snapshot().encode()?,
        };
        snapshot_file::write(snapshot_dir, ENSEMBLE, &snapshot).map_err(file_err(snapshot_dir))?;
        store.replace_all(&DataTree::new(), &[(STATE_IN_SNAPSHOT, vec![1])])?;
        tracing::info!(
            nodes = tree.node_count(),
            "stored state converted to a snapshot"
        );
        return Ok(tree);
    }
    let snapshot: StoredSnapshot = snapshot_file::read(snapshot_dir, ENSEMBLE)
        .map_err(file_err(snapshot_dir))?
        .ok_or_else(|| corrupt(&snapshot_dir.display().to_string(), "no snapshot file"))?;
    let body = SnapshotBody::decode(&snapshot.data)
        .map_err(|e| corrupt(&snapshot_dir.display().to_string(), e))?;
    Ok(body.into_tree())
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
    /// How far the log is synced: nothing is applied before it is.
    durable: Arc<Durable>,
    snapshot_dir: PathBuf,
    last_applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, Node>,
    snapshots_built: u64,
}

fn read_snapshot(dir: &Path) -> Result<Option<StoredSnapshot>, StorageError<NodeId>> {
    snapshot_file::read(dir, ENSEMBLE).map_err(read_err)
}

/// Writes `snapshot` off the async threads; hands it back.
async fn write_snapshot(
    dir: PathBuf,
    snapshot: StoredSnapshot,
) -> Result<StoredSnapshot, StorageError<NodeId>> {
    tokio::task::spawn_blocking(move || {
        snapshot_file::write(&dir, ENSEMBLE, &snapshot).map(|()| snapshot)
    })
    .await
    .map_err(sm_err)?
    .map_err(sm_err)
}

impl StateMachine {
    /// Resumes from the stored snapshot (the published tree was loaded
    /// from it by [`load_state`]).
    pub fn open(
        host: Arc<dyn Host>,
        snapshot_dir: PathBuf,
        durable: Arc<Durable>,
    ) -> Result<StateMachine, StorageError<NodeId>> {
        let meta = read_snapshot(&snapshot_dir)?.map(|s| s.meta);
        Ok(StateMachine {
            host,
            durable,
            snapshot_dir,
            last_applied: meta.as_ref().and_then(|m| m.last_log_id),
            membership: meta.map(|m| m.last_membership).unwrap_or_default(),
            snapshots_built: 0,
        })
    }

    fn stored_snapshot(&self) -> Result<Option<StoredSnapshot>, StorageError<NodeId>> {
        read_snapshot(&self.snapshot_dir)
    }
}

/// Builds a snapshot from a copy taken between two applies (O(1): see
/// `tree::snapshot`), encoded while applies go on.
pub struct SnapshotBuilder {
    snapshot_dir: PathBuf,
    meta: SnapshotMeta<NodeId, Node>,
    tree: TreeSnapshot,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let started = std::time::Instant::now();
        let tree = self.tree.clone();
        let nodes = tree.node_count();
        let data = tokio::task::spawn_blocking(move || tree.encode())
            .await
            .map_err(sm_err)?
            .map_err(sm_err)?;
        let encoded = started.elapsed();
        let stored = StoredSnapshot {
            meta: self.meta.clone(),
            data,
        };
        let bytes = stored.data.len();
        // Durable before openraft purges the log entries it covers.
        let stored = write_snapshot(self.snapshot_dir.clone(), stored).await?;
        tracing::info!(
            nodes,
            bytes,
            ?encoded,
            took = ?started.elapsed(),
            "snapshot written"
        );
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
        let entries: Vec<Entry> = entries.into_iter().collect();
        if let Some(last) = entries.last() {
            // A leader's commit point can run ahead of its own flush (see
            // `durable`): what it applies must be on its disk first.
            self.durable
                .wait_for(last.log_id.index)
                .await
                .map_err(|e| StorageIOError::write_logs(&e))?;
        }
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
        {
            // Every proposal moves the zxid, empty ones too (blank,
            // membership, a refusal's marker).
            let mut tree = self.host.tree_mut();
            if zxid > tree.last_zxid() {
                tree.set_last_zxid(zxid);
            }
        }
        self.host.note_applied(zxid);
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
        let tree = self.host.tree().snapshot();
        let snapshot_id = match self.last_applied {
            Some(id) => format!("{}-{}-{}", id.leader_id, id.index, self.snapshots_built),
            None => format!("--{}", self.snapshots_built),
        };
        SnapshotBuilder {
            snapshot_dir: self.snapshot_dir.clone(),
            meta: SnapshotMeta {
                last_log_id: self.last_applied,
                last_membership: self.membership.clone(),
                snapshot_id,
            },
            tree,
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
        let body = SnapshotBody::decode(&data).map_err(read_err)?;
        let sessions: Vec<(i64, i32)> = body
            .sessions
            .iter()
            .map(|(id, r)| (*id, r.timeout_ms))
            .collect();
        let tree = body.into_tree();
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        write_snapshot(self.snapshot_dir.clone(), stored).await?;
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        for (id, timeout_ms) in sessions {
            self.host.track_session(id, timeout_ms);
        }
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
        Ok(self
            .stored_snapshot()?
            .filter(|s| s.meta.last_log_id.is_some())
            .map(|s| Snapshot {
                meta: s.meta,
                snapshot: Box::new(Cursor::new(s.data)),
            }))
    }
}
