//! The Raft log and vote in sled, as openraft's storage contract asks:
//! appended entries and the vote are flushed before openraft is told they
//! are stored.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{LogId, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};
use sled::Transactional;

use super::log_format::{self, FormatError};
use super::{Entry, NodeId, TypeConfig};

const VOTE: &[u8] = b"vote";
/// Which [`log_format`] the stored entries are in (absent: version 1).
const FORMAT: &[u8] = b"format";
const COMMITTED: &[u8] = b"committed";
const PURGED: &[u8] = b"purged";

/// Log entries by index (big-endian keys keep them in order) plus the vote,
/// the committed id and the last purged id.
#[derive(Clone)]
pub struct LogStore {
    db: sled::Db,
    log: sled::Tree,
    meta: sled::Tree,
    flusher: std::sync::mpsc::Sender<LogFlushed<TypeConfig>>,
    committed: CommittedIndex,
}

/// The index of the last committed entry, as openraft last told the log
/// (`save_committed`, on every member each time the commit point moves).
/// openraft 0.9's metrics do not carry it; this is for monitoring, read
/// without a lock.
#[derive(Clone, Debug, Default)]
pub struct CommittedIndex(Arc<AtomicU64>);

impl CommittedIndex {
    /// `None` before anything was committed.
    pub fn get(&self) -> Option<u64> {
        // Stored as index + 1: Raft's first entry has index 0.
        self.0.load(Relaxed).checked_sub(1)
    }

    fn set(&self, committed: Option<&LogId<NodeId>>) {
        self.0
            .store(committed.map_or(0, |c| c.index.saturating_add(1)), Relaxed);
    }
}

/// Makes appended entries durable off the Raft task, many appends per
/// flush: `append` puts entries into sled (readable at once, so openraft
/// can already send them to followers while they are being flushed here —
/// the leader's disk write overlaps the followers') and hands over its
/// callback; this thread takes every callback waiting, flushes once, and
/// reports each one stored, in append order.
fn run_flusher(db: sled::Db, waiting: std::sync::mpsc::Receiver<LogFlushed<TypeConfig>>) {
    while let Ok(first) = waiting.recv() {
        let mut callbacks = vec![first];
        callbacks.extend(waiting.try_iter());
        let result = db.flush();
        if let Err(error) = &result {
            tracing::error!(%error, "cannot flush the raft log");
        }
        for callback in callbacks {
            callback.log_io_completed(
                result
                    .as_ref()
                    .map(|_| ())
                    .map_err(|e| std::io::Error::other(e.to_string())),
            );
        }
    }
}

fn io_read(e: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageIOError::read_logs(&e).into()
}

fn io_write(e: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageIOError::write_logs(&e).into()
}

/// Why the log could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("raft log storage: {0}")]
    Sled(#[from] sled::Error),
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("cannot start the raft log flush thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("a raft log key has {0} bytes, not 8")]
    Key(usize),
    #[error("raft log format version has {0} bytes, not 4")]
    FormatKey(usize),
}

impl LogStore {
    /// Opens the log, first bringing entries stored in an older
    /// [`log_format`] up to the current one (in one atomic step).
    pub fn open(db: &sled::Db) -> Result<LogStore, OpenError> {
        let (flusher, waiting) = std::sync::mpsc::channel();
        let flush_db = db.clone();
        std::thread::Builder::new()
            .name("raft-log-flush".into())
            .spawn(move || run_flusher(flush_db, waiting))
            .map_err(OpenError::Thread)?;
        let store = LogStore {
            db: db.clone(),
            log: db.open_tree("raft_log")?,
            meta: db.open_tree("raft_meta")?,
            flusher,
            committed: CommittedIndex::default(),
        };
        let found = match store.meta.get(FORMAT)? {
            Some(bytes) => bytes[..]
                .try_into()
                .map(u32::from_be_bytes)
                .map_err(|_| OpenError::FormatKey(bytes.len()))?,
            None if store.log.is_empty() => log_format::CURRENT,
            None => 1,
        };
        match found {
            log_format::CURRENT => {}
            found if found > log_format::CURRENT => Err(FormatError::Newer { found })?,
            found => store.upgrade(found)?,
        }
        store
            .meta
            .insert(FORMAT, &log_format::CURRENT.to_be_bytes()[..])?;
        db.flush()?;
        Ok(store)
    }

    /// Rewrites every stored entry from format `from` to the current one
    /// and records the new format, atomically: a crash leaves either the
    /// old log and no new format key, or the new log and the key.
    /// Where the committed index can be read while openraft owns the log.
    pub fn committed_index(&self) -> CommittedIndex {
        self.committed.clone()
    }

    fn upgrade(&self, from: u32) -> Result<(), OpenError> {
        let mut rewritten = Vec::new();
        for item in self.log.iter() {
            let (key, bytes) = item?;
            let index = key[..]
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| OpenError::Key(key.len()))?;
            let entry = log_format::decode(index, from, &bytes)?;
            let encoded = postcard::to_stdvec(&entry).map_err(|source| FormatError::Decode {
                index,
                version: log_format::CURRENT,
                source,
            })?;
            rewritten.push((key, encoded));
        }
        let count = rewritten.len();
        (&self.log, &self.meta)
            .transaction(|(log, meta)| {
                for (key, bytes) in &rewritten {
                    log.insert(key, bytes.as_slice())?;
                }
                meta.insert(FORMAT, &log_format::CURRENT.to_be_bytes()[..])?;
                Ok(())
            })
            .map_err(|e: sled::transaction::TransactionError<()>| match e {
                sled::transaction::TransactionError::Storage(e) => e,
                sled::transaction::TransactionError::Abort(()) => {
                    sled::Error::Unsupported("raft log upgrade aborted".into())
                }
            })?;
        self.db.flush()?;
        tracing::info!(
            entries = count,
            from,
            to = log_format::CURRENT,
            "raft log upgraded to the current format"
        );
        Ok(())
    }

    fn get_meta<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
    ) -> Result<Option<T>, StorageError<NodeId>> {
        match self.meta.get(key).map_err(io_read)? {
            None => Ok(None),
            Some(bytes) => postcard::from_bytes(&bytes).map(Some).map_err(io_read),
        }
    }

    fn put_meta<T: serde::Serialize>(
        &self,
        key: &[u8],
        value: &T,
    ) -> Result<(), StorageError<NodeId>> {
        let bytes = postcard::to_stdvec(value).map_err(io_write)?;
        self.meta.insert(key, bytes).map_err(io_write)?;
        self.db.flush().map_err(io_write)?;
        Ok(())
    }

    fn last_entry(&self) -> Result<Option<Entry>, StorageError<NodeId>> {
        match self.log.last().map_err(io_read)? {
            None => Ok(None),
            Some((_, bytes)) => postcard::from_bytes(&bytes).map(Some).map_err(io_read),
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError<NodeId>> {
        let start = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let mut entries = Vec::new();
        for item in self.log.range(start.to_be_bytes()..) {
            let (key, bytes) = item.map_err(io_read)?;
            let index = u64::from_be_bytes(key[..].try_into().map_err(io_read)?);
            if !range.contains(&index) {
                break;
            }
            entries.push(postcard::from_bytes(&bytes).map_err(io_read)?);
        }
        Ok(entries)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let purged: Option<LogId<NodeId>> = self.get_meta(PURGED)?;
        let last = self.last_entry()?.map(|e| e.log_id).or(purged);
        Ok(LogState {
            last_purged_log_id: purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.put_meta(VOTE, vote)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        self.get_meta(VOTE)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        // Not flushed on its own: it only lets a restart apply sooner.
        let bytes = postcard::to_stdvec(&committed).map_err(io_write)?;
        self.meta.insert(COMMITTED, bytes).map_err(io_write)?;
        self.committed.set(committed.as_ref());
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        let committed = self.get_meta::<Option<LogId<NodeId>>>(COMMITTED)?.flatten();
        self.committed.set(committed.as_ref());
        Ok(committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = sled::Batch::default();
        for entry in entries {
            let bytes = postcard::to_stdvec(&entry).map_err(io_write)?;
            batch.insert(&entry.log_id.index.to_be_bytes(), bytes);
        }
        if let Err(error) = self.log.apply_batch(batch) {
            callback.log_io_completed(Err(std::io::Error::other(error.to_string())));
            return Err(io_write(error));
        }
        if let Err(std::sync::mpsc::SendError(callback)) = self.flusher.send(callback) {
            // The flush thread is gone (it only ends with the store): flush
            // here rather than never reporting the entries stored.
            let result = self.db.flush().map(|_| ());
            let failed = result.as_ref().err().map(|e| e.to_string());
            callback.log_io_completed(result.map_err(|e| std::io::Error::other(e.to_string())));
            if let Some(reason) = failed {
                return Err(io_write(std::io::Error::other(reason)));
            }
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let mut batch = sled::Batch::default();
        for item in self.log.range(log_id.index.to_be_bytes()..) {
            let (key, _) = item.map_err(io_read)?;
            batch.remove(key);
        }
        self.log.apply_batch(batch).map_err(io_write)?;
        self.db.flush().map_err(io_write)?;
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.put_meta(PURGED, &log_id)?;
        let mut batch = sled::Batch::default();
        for item in self.log.range(..=log_id.index.to_be_bytes()) {
            let (key, _) = item.map_err(io_read)?;
            batch.remove(key);
        }
        self.log.apply_batch(batch).map_err(io_write)?;
        Ok(())
    }
}
