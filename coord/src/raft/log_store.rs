//! openraft's log storage: the entries in files ([`EntryLog`]), the vote,
//! the committed id and the last purged id in sled. The vote, and entries
//! appended as a follower, are on disk before openraft is told they are
//! stored; a leader's own appends are reported stored once written and
//! synced while they are replicated (see [`super::durable`] for why that
//! keeps every applied entry on a majority's disks).

use std::fmt::Debug;
use std::fs::File;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{LogId, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};

use super::durable::Durable;
use super::entry_log::{EntryLog, EntryLogError, EntryReader};
use super::log_format::{self, FormatError};
use super::{Entry, NodeId, TypeConfig};

const VOTE: &[u8] = b"vote";
/// Which [`log_format`] the stored entries are in (absent: version 1).
const FORMAT: &[u8] = b"format";
const COMMITTED: &[u8] = b"committed";
const PURGED: &[u8] = b"purged";
/// Where entries were kept in sled before they moved to files.
const SLED_LOG: &str = "raft_log";

/// An append, for the flush thread: the file written, openraft's callback
/// (none if it was called already: a leader's own append), the last entry
/// appended and the truncation epoch it was appended in.
struct Pending {
    file: Arc<File>,
    callback: Option<LogFlushed<TypeConfig>>,
    last: Option<LogId<NodeId>>,
    epoch: u64,
}

/// The entry files plus the vote, the committed id and the last purged id.
pub struct LogStore {
    db: sled::Db,
    meta: sled::Tree,
    log: EntryLog,
    flusher: std::sync::mpsc::Sender<Pending>,
    committed: CommittedIndex,
    durable: Arc<Durable>,
    my_id: NodeId,
    /// The vote as last saved or read.
    vote: Option<Vote<NodeId>>,
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
/// sync: `append` writes the entries (readable at once) and hands over its
/// callback with the file it wrote to; this thread takes every append
/// waiting, syncs each file they name once, records them synced in
/// `durable`, and then reports each append stored, in append order.
fn run_flusher(waiting: std::sync::mpsc::Receiver<Pending>, durable: Arc<Durable>) {
    while let Ok(first) = waiting.recv() {
        let mut pending = vec![first];
        pending.extend(waiting.try_iter());
        let mut synced: Vec<&Arc<File>> = Vec::new();
        let mut result = Ok(());
        for p in &pending {
            if synced.iter().any(|done| Arc::ptr_eq(done, &p.file)) {
                continue;
            }
            synced.push(&p.file);
            if let Err(error) = p.file.sync_data() {
                tracing::error!(%error, "cannot sync the raft log");
                result = Err(error.to_string());
                break;
            }
        }
        match &result {
            Ok(()) => {
                for p in &pending {
                    if let Some(last) = p.last {
                        durable.synced(p.epoch, last);
                    }
                }
            }
            Err(reason) => durable.failed(reason.clone()),
        }
        for p in pending {
            if let Some(callback) = p.callback {
                callback.log_io_completed(result.clone().map_err(std::io::Error::other));
            }
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
    #[error(transparent)]
    Entries(#[from] EntryLogError),
    #[error("cannot start the raft log flush thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("a raft log key has {0} bytes, not 8")]
    Key(usize),
    #[error("raft log format version has {0} bytes, not 4")]
    FormatKey(usize),
    #[error("stored raft metadata {0:?} cannot be read: {1}")]
    Meta(&'static str, #[source] postcard::Error),
    #[error("cannot clear {path} before moving the raft log there: {source}")]
    Clear {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl LogStore {
    /// Opens the log: the entry files in `dir`, the rest in `db`. Entries
    /// that an older version kept in sled (in any older [`log_format`])
    /// move to the files first.
    pub fn open(db: &sled::Db, dir: &Path, my_id: NodeId) -> Result<LogStore, OpenError> {
        let meta = db.open_tree("raft_meta")?;
        let sled_log = db.open_tree(SLED_LOG)?;
        let found = match meta.get(FORMAT)? {
            Some(bytes) => bytes[..]
                .try_into()
                .map(u32::from_be_bytes)
                .map_err(|_| OpenError::FormatKey(bytes.len()))?,
            None if sled_log.is_empty() => log_format::CURRENT,
            None => 1,
        };
        if found > log_format::CURRENT {
            Err(FormatError::Newer { found })?;
        }
        let purged = match meta.get(PURGED)? {
            None => None,
            Some(bytes) => Some(
                postcard::from_bytes::<LogId<NodeId>>(&bytes)
                    .map_err(|e| OpenError::Meta("purged", e))?,
            ),
        };
        let log = if sled_log.is_empty() {
            EntryLog::open(dir, purged.map(|p| p.index))?
        } else {
            move_from_sled(&sled_log, found, dir, purged.map(|p| p.index))?
        };
        meta.insert(FORMAT, &log_format::CURRENT.to_be_bytes()[..])?;
        db.flush()?;
        // A member killed before its last flush left entries that only the
        // page cache holds: synced now, they all count as on disk.
        log.sync_all()?;
        let durable = Arc::new(Durable::new(log.last_log_id()));
        let (flusher, waiting) = std::sync::mpsc::channel();
        let flushed = durable.clone();
        std::thread::Builder::new()
            .name("raft-log-flush".into())
            .spawn(move || run_flusher(waiting, flushed))
            .map_err(OpenError::Thread)?;
        Ok(LogStore {
            db: db.clone(),
            meta,
            log,
            flusher,
            committed: CommittedIndex::default(),
            durable,
            my_id,
            vote: None,
        })
    }

    /// Where the committed index can be read while openraft owns the log.
    pub fn committed_index(&self) -> CommittedIndex {
        self.committed.clone()
    }

    /// How far the log is synced.
    pub fn durable(&self) -> Arc<Durable> {
        self.durable.clone()
    }

    /// Whether entries ending with `last` are this member's own as the
    /// leader of its current, granted vote: only those may be reported
    /// stored before they are synced. A follower's appends never qualify
    /// (their last entry is the leader's, or one of an older term).
    fn leads(&self, last: &LogId<NodeId>) -> bool {
        self.vote.as_ref().is_some_and(|vote| {
            vote.is_committed()
                && vote.leader_id().voted_for() == Some(self.my_id)
                && last.leader_id == *vote.leader_id()
        })
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
}

/// Moves the entries an older version kept in sled (written in format
/// `version`) to files in `dir`: files left there by a move that a crash
/// interrupted are dropped, the entries written and synced, and only then
/// is the sled tree cleared (the caller records the current format).
fn move_from_sled(
    sled_log: &sled::Tree,
    version: u32,
    dir: &Path,
    purged: Option<u64>,
) -> Result<EntryLog, OpenError> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|source| OpenError::Clear {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let mut entries = Vec::new();
    for item in sled_log.iter() {
        let (key, bytes) = item?;
        let index = key[..]
            .try_into()
            .map(u64::from_be_bytes)
            .map_err(|_| OpenError::Key(key.len()))?;
        if purged.is_some_and(|p| index <= p) {
            continue;
        }
        entries.push(log_format::decode(index, version, &bytes)?);
    }
    let count = entries.len();
    let mut log = EntryLog::open(dir, purged)?;
    let file = log.append(entries)?;
    file.sync_data().map_err(|source| EntryLogError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    sled_log.clear()?;
    tracing::info!(
        entries = count,
        from = version,
        to = log_format::CURRENT,
        dir = %dir.display(),
        "raft log moved from sled to its own files"
    );
    Ok(log)
}

fn range_start(range: &impl RangeBounds<u64>) -> u64 {
    match range.start_bound() {
        Bound::Included(i) => *i,
        Bound::Excluded(i) => i.saturating_add(1),
        Bound::Unbounded => 0,
    }
}

fn range_end(range: &impl RangeBounds<u64>) -> u64 {
    match range.end_bound() {
        Bound::Included(i) => i.saturating_add(1),
        Bound::Excluded(i) => *i,
        Bound::Unbounded => u64::MAX,
    }
}

impl RaftLogReader<TypeConfig> for EntryReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError<NodeId>> {
        self.read(range_start(&range), range_end(&range))
            .map_err(io_read)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError<NodeId>> {
        self.log
            .reader()
            .read(range_start(&range), range_end(&range))
            .map_err(io_read)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = EntryReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let purged: Option<LogId<NodeId>> = self.get_meta(PURGED)?;
        let last = self.log.last_log_id().or(purged);
        Ok(LogState {
            last_purged_log_id: purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.log.reader()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.put_meta(VOTE, vote)?;
        self.vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        let vote = self.get_meta(VOTE)?;
        self.vote = vote;
        Ok(vote)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        // Not flushed on its own: it only lets a restart apply sooner. Cut
        // to what is synced (a leader's commit point may run ahead of its
        // own flush), so a restart never finds it beyond its log.
        let stored = self.durable.cut(committed);
        let bytes = postcard::to_stdvec(&stored).map_err(io_write)?;
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
        let entries: Vec<Entry> = entries.into_iter().collect();
        let last = entries.last().map(|e| e.log_id);
        let early = last.as_ref().is_some_and(|last| self.leads(last));
        let file = match self.log.append(entries) {
            Ok(file) => file,
            Err(error) => {
                callback.log_io_completed(Err(std::io::Error::other(error.to_string())));
                return Err(io_write(error));
            }
        };
        let epoch = self.durable.epoch();
        let (callback, pending) = if early {
            // Replicated at once, synced meanwhile (see `durable`).
            let pending = Pending {
                file,
                callback: None,
                last,
                epoch,
            };
            (Some(callback), pending)
        } else {
            let pending = Pending {
                file,
                callback: Some(callback),
                last,
                epoch,
            };
            (None, pending)
        };
        if let Err(std::sync::mpsc::SendError(pending)) = self.flusher.send(pending) {
            // The flush thread is gone (it only ends with the store): sync
            // here rather than never reporting the entries stored.
            let result = pending.file.sync_data();
            match (&result, pending.last) {
                (Ok(()), Some(last)) => self.durable.synced(epoch, last),
                (Ok(()), None) => {}
                (Err(error), _) => self.durable.failed(error.to_string()),
            }
            let failed = result.as_ref().err().map(|e| e.to_string());
            if let Some(callback) = pending.callback.or(callback) {
                callback.log_io_completed(result);
            }
            return match failed {
                Some(reason) => Err(io_write(std::io::Error::other(reason))),
                None => Ok(()),
            };
        }
        if let Some(callback) = callback {
            callback.log_io_completed(Ok(()));
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let result = self.log.truncate(log_id.index).map_err(io_write);
        self.durable.truncated(self.log.last_log_id());
        result
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.put_meta(PURGED, &log_id)?;
        self.log.purge(log_id.index).map_err(io_write)
    }
}
