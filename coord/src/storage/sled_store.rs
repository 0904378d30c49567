//! The data tree in sled: one sled tree, keys by prefix —
//! `n<path>` → node (postcard), `s<session id>` → session record,
//! `m:zxid` → the zxid the stored nodes and sessions reflect, `m:<name>` →
//! other metadata. What older versions kept here (every znode under its own
//! key) is read once, to be converted to a snapshot file; an ensemble
//! member keeps its Raft vote and commit point beside it.

use std::path::Path;

use super::{StorageError, Store};
use crate::tree::{DataTree, Node, SessionRecord};

const NODE: u8 = b'n';
const SESSION: u8 = b's';
const ZXID_KEY: &[u8] = b"m:zxid";

/// sled-backed [`Store`].
pub struct SledStore {
    db: sled::Db,
    state: sled::Tree,
    /// sled's data file, synced by [`Store::flush`].
    data_file: std::path::PathBuf,
}

impl SledStore {
    /// Opens (or creates) the store under `dir`.
    pub fn open(dir: &Path) -> Result<SledStore, StorageError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(16 * 1024 * 1024)
            .mode(sled::Mode::LowSpace)
            .open()?;
        let state = db.open_tree("state")?;
        Ok(SledStore {
            db,
            state,
            data_file: dir.join("db"),
        })
    }
}

fn node_key(path: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(path.len() + 1);
    key.push(NODE);
    key.extend_from_slice(path.as_bytes());
    key
}

fn session_key(id: i64) -> Vec<u8> {
    let mut key = vec![SESSION];
    key.extend_from_slice(&id.to_be_bytes());
    key
}

fn meta_key(key: &str) -> Vec<u8> {
    format!("m:{key}").into_bytes()
}

fn corrupt(key: &[u8], reason: impl ToString) -> StorageError {
    StorageError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: reason.to_string(),
    }
}

impl Store for SledStore {
    fn load(&self) -> Result<DataTree, StorageError> {
        let mut tree = DataTree::new();
        for item in self.state.iter() {
            let (key, value) = item?;
            match key.first() {
                Some(&NODE) => {
                    let path = std::str::from_utf8(&key[1..]).map_err(|e| corrupt(&key, e))?;
                    let node: Node = postcard::from_bytes(&value).map_err(|e| corrupt(&key, e))?;
                    tree.insert_loaded(path.to_string(), node);
                }
                Some(&SESSION) => {
                    let id: [u8; 8] = key[1..].try_into().map_err(|e| corrupt(&key, e))?;
                    let record: SessionRecord =
                        postcard::from_bytes(&value).map_err(|e| corrupt(&key, e))?;
                    tree.insert_loaded_session(i64::from_be_bytes(id), record);
                }
                _ if &key[..] == ZXID_KEY => {
                    let zxid: [u8; 8] = value[..].try_into().map_err(|e| corrupt(&key, e))?;
                    tree.set_last_zxid(i64::from_be_bytes(zxid));
                }
                Some(b'm') => {} // other metadata, read with `meta`
                _ => return Err(corrupt(&key, "unknown key")),
            }
        }
        Ok(tree)
    }

    fn replace_all(&self, tree: &DataTree, meta: &[(&str, Vec<u8>)]) -> Result<(), StorageError> {
        self.state.clear()?;
        let mut batch = sled::Batch::default();
        for (path, node) in tree.nodes() {
            batch.insert(node_key(path), postcard::to_stdvec(node)?);
        }
        for (id, record) in tree.sessions() {
            batch.insert(session_key(id), postcard::to_stdvec(record)?);
        }
        batch.insert(ZXID_KEY, &tree.last_zxid().to_be_bytes()[..]);
        for (key, value) in meta {
            batch.insert(meta_key(key), value.as_slice());
        }
        self.state.apply_batch(batch)?;
        self.flush()
    }
}

impl SledStore {
    /// The database, for other trees kept beside the state (the Raft log).
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// Reads a metadata value stored with [`Store::replace_all`] or
    /// [`SledStore::write_meta`].
    pub fn meta(&self, key: &str) -> Result<Option<sled::IVec>, StorageError> {
        Ok(self.state.get(meta_key(key))?)
    }

    /// Makes everything written so far durable (on disk, not only handed
    /// to the kernel).
    pub fn flush(&self) -> Result<(), StorageError> {
        self.db.flush()?;
        // sled's flush waits for its writes with sync_file_range, which
        // neither flushes the drive's cache nor the file's metadata.
        std::fs::File::open(&self.data_file)
            .and_then(|f| f.sync_all())
            .map_err(|source| StorageError::Sync {
                path: self.data_file.display().to_string(),
                source,
            })
    }

    /// Writes one metadata value (not flushed).
    pub fn write_meta(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        self.state.insert(meta_key(key), value)?;
        Ok(())
    }
}
