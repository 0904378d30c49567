//! Durable state behind a small trait, so the server does not care which
//! engine keeps it and tests can pick one.
//!
//! A standalone server keeps two kinds of record, as ZooKeeper keeps a
//! transaction log beside its snapshots: a *log* that makes writes durable
//! ([`TxnLog`], each batch of committed transactions one frame, appended and
//! synced before anything of the batch is answered) and the *state* in sled
//! (every znode and session under its own key, plus the zxid it reflects),
//! written behind the write path by the [`Checkpointer`], a batch of changed
//! keys at a time. Loading reads the state and replays the log after it. So
//! a write costs one frame and one sync however many znodes it touches, and
//! a key changed many times between two checkpoints (an offset, an ISR) is
//! written once. (An ensemble member keeps whole-tree snapshots and the Raft
//! log instead: see `raft::state_machine`; it reads the per-key state only
//! once, to convert data an older version or a standalone server wrote.)

pub mod checkpoint;
pub mod log_file;
pub mod sled_store;
pub mod txn_log;

use crate::tree::{DataTree, Dirty};

pub use checkpoint::Checkpointer;
pub use sled_store::SledStore;
pub use txn_log::{LogRecord, TxnLog};

/// Why the store failed. A failed append means nothing in that call may be
/// acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage engine: {0}")]
    Engine(#[from] sled::Error),
    #[error("corrupt record under key {key:?}: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("cannot encode record: {0}")]
    Encode(#[from] postcard::Error),
    #[error(transparent)]
    Log(#[from] txn_log::LogError),
    #[error("cannot sync {path}: {source}")]
    Sync {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("an earlier checkpoint failed; this one waits for its keys")]
    EarlierCheckpointFailed,
    #[error("the checkpoint thread is gone")]
    CheckpointerGone,
}

/// Key writes made from the tree at one moment (its zxid), ready to be
/// stored: the CPU work (encoding, under the tree's lock) is done apart
/// from the I/O (writing, on the checkpoint thread).
#[derive(Debug, Default)]
pub struct WriteSet {
    /// Key and new value; `None` removes the key.
    pub writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// The zxid of the tree the values were read from: log records up to
    /// it are covered once the set is written and flushed.
    pub zxid: i64,
}

/// Where the data tree lives between runs.
pub trait Store: Send + Sync {
    /// Reads the stored state back.
    fn load(&self) -> Result<DataTree, StorageError>;

    /// Encodes the current value of every key in `dirty` (as `tree` holds
    /// it now), the tree's last zxid, and `meta` values.
    fn encode(
        &self,
        tree: &DataTree,
        dirty: &Dirty,
        meta: &[(&str, Vec<u8>)],
    ) -> Result<WriteSet, StorageError>;

    /// Writes `set` as one atomic write, without flushing.
    fn write(&self, set: &WriteSet) -> Result<(), StorageError>;

    /// Makes everything written so far durable (on disk, not only handed
    /// to the kernel).
    fn flush(&self) -> Result<(), StorageError>;
}

/// A standalone server's start: the stored state with every logged
/// transaction after it applied (a crash came before their checkpoint),
/// folded into the stored state and flushed, so the log's old files go.
pub fn recover(
    store: &dyn Store,
    log: &TxnLog,
    logged: Vec<Vec<crate::txn::TxnEntry>>,
) -> Result<DataTree, StorageError> {
    let mut tree = store.load()?;
    let stored = tree.last_zxid();
    tree.track_dirty();
    let mut replayed = 0usize;
    for entry in logged.iter().flatten().filter(|e| e.zxid > stored) {
        // A standalone server's zxids have no gaps: a jump means a lost log
        // file or a stale frame, and applying past it would be wrong.
        if entry.zxid != tree.last_zxid() + 1 {
            return Err(StorageError::Corrupt {
                key: "transaction log".into(),
                reason: format!(
                    "zxid 0x{:x} follows 0x{:x} (state stored up to 0x{stored:x})",
                    entry.zxid,
                    tree.last_zxid()
                ),
            });
        }
        tree.apply(entry, &mut Vec::new());
        replayed += 1;
    }
    let dirty = tree.take_dirty();
    tree.untrack_dirty();
    if replayed > 0 {
        tracing::info!(
            transactions = replayed,
            zxid = format_args!("0x{:x}", tree.last_zxid()),
            "replayed the transaction log"
        );
        store.write(&store.encode(&tree, &dirty, &[])?)?;
        store.flush()?;
    }
    log.covered(tree.last_zxid())?;
    Ok(tree)
}
