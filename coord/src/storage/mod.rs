//! Durable state behind a small trait, so the server does not care which
//! engine keeps it and tests can pick one.
//!
//! The contract: [`Store::persist`] returns only once everything it was
//! given is on stable storage (flushed), because the server replies to a
//! write only after that.

pub mod sled_store;

use crate::tree::{DataTree, Dirty};

pub use sled_store::SledStore;

/// Why the store failed. A failed persist means nothing in that call may be
/// acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage engine: {0}")]
    Engine(#[from] sled::Error),
    #[error("corrupt record under key {key:?}: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("cannot encode record: {0}")]
    Encode(#[from] postcard::Error),
}

/// Where the data tree lives between runs.
pub trait Store: Send {
    /// Reads the whole tree, sessions and last zxid back.
    fn load(&self) -> Result<DataTree, StorageError>;

    /// Writes the current state of every key in `dirty` (as `tree` holds it
    /// now) and the tree's last zxid in one atomic batch, then flushes.
    fn persist(&self, tree: &DataTree, dirty: &Dirty) -> Result<(), StorageError>;
}
