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

/// Key writes made from the tree at one moment, ready to be stored: the
/// CPU work of a commit (encoding) is done apart from the I/O (writing and
/// flushing), so the two can overlap.
#[derive(Debug, Default)]
pub struct WriteSet {
    /// Key and new value; `None` removes the key.
    pub writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

/// Where the data tree lives between runs.
pub trait Store: Send + Sync {
    /// Reads the whole tree, sessions and last zxid back.
    fn load(&self) -> Result<DataTree, StorageError>;

    /// Encodes the current state of every key in `dirty` (as `tree` holds it
    /// now) and the tree's last zxid.
    fn encode(&self, tree: &DataTree, dirty: &Dirty) -> Result<WriteSet, StorageError>;

    /// Stores `sets` in order as one atomic write, then flushes: when this
    /// returns Ok, all of them survive a crash.
    fn commit(&self, sets: &[WriteSet]) -> Result<(), StorageError>;

    /// [`Store::encode`] then [`Store::commit`].
    fn persist(&self, tree: &DataTree, dirty: &Dirty) -> Result<(), StorageError> {
        let set = self.encode(tree, dirty)?;
        self.commit(&[set])
    }
}
