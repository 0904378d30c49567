//! Durable state behind a small trait, so the server does not care which
//! engine keeps it and tests can pick one.
//!
//! A standalone server keeps what ZooKeeper keeps: a transaction log that
//! makes writes durable ([`TxnLog`], each batch of committed transactions
//! one frame, appended and synced before anything of the batch is
//! answered) and, behind it, a snapshot of the whole tree every `snapCount`
//! transactions ([`standalone`]), after which the log files it covers go.
//! Loading reads the snapshot and replays the log after it. So a write
//! costs one frame and one sync however many znodes it touches, and nothing
//! per znode. (An ensemble member keeps whole-tree snapshots and the Raft
//! log the same way: see `raft::state_machine`.) sled holds what older
//! versions stored per znode, read once to be converted, and an ensemble
//! member's Raft vote and commit point.

pub mod log_file;
pub mod sled_store;
pub mod snapshot_file;
pub mod standalone;
pub mod txn_log;

use crate::tree::DataTree;

pub use sled_store::SledStore;
pub use standalone::Snapshotter;
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
    #[error("the snapshot thread is gone")]
    SnapshotterGone,
}

/// Where the data tree lives between runs, when it is not a snapshot file.
pub trait Store: Send + Sync {
    /// Reads the stored state back.
    fn load(&self) -> Result<DataTree, StorageError>;

    /// Replaces the whole stored state with `tree` and `meta` values, and
    /// makes it durable.
    fn replace_all(&self, tree: &DataTree, meta: &[(&str, Vec<u8>)]) -> Result<(), StorageError>;
}
