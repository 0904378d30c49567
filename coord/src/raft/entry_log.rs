//! An ensemble member's Raft entries in plain append-only files, as a
//! standalone server keeps its transaction log: `log.<first index>` files
//! (16 hex digits) in the member's `raftlog/` folder, one frame
//! ([`log_file`]) per entry, the payload the entry in postcard.
//!
//! Why files and not a sled tree (as before): an entry put into sled cost
//! an insert into its page cache, its IO thread's write and a `flush` of
//! everything sled had pending; openraft then read each entry back from
//! sled and decoded it once per follower. Here an append is one `pwrite`
//! of the entries' frames, made durable by one `fdatasync` on the flush
//! thread of [`LogStore`] for every append waiting, and the newest entries
//! stay decoded in memory, so replicating them to followers reads no file.
//!
//! Only this member's Raft task writes (`&mut self`); readers (openraft's
//! replication tasks) share the [`Index`] under a mutex held for lookups
//! only: a read of older entries copies their locations and reads the file
//! after letting go. A file is deleted only when every entry in it is
//! purged or truncated; a reader still holding it keeps reading the
//! unlinked file.
//!
//! Crash safety: a crash during an append can leave a torn last frame in
//! the newest file, which opening cuts off (the entries were never reported
//! stored). Truncation deletes whole newer files first, newest first, then
//! cuts the file holding the first removed entry and syncs it, so a crash
//! in between leaves a shorter log, never a gap. Entries at or below the
//! purged index (kept by [`LogStore`]) are skipped when opening.
//!
//! [`LogStore`]: super::log_store::LogStore
//! [`log_file`]: crate::storage::log_file

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::LogId;

use super::{Entry, NodeId};
use crate::storage::log_file::{self, file_name, parse_seq, FrameError, HEADER};

/// How big files get and how many entries stay decoded in memory.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// A file is closed for appends once it holds this many bytes.
    pub file_bytes: u64,
    /// The newest entries are kept decoded up to this many encoded bytes...
    pub recent_bytes: usize,
    /// ...and this many entries.
    pub recent_entries: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            file_bytes: 32 << 20,
            // Enough for a follower a second or two behind under full write
            // load (an entry holds every proposal waiting when it was made);
            // one further behind reads the files. Held for good, so it is
            // most of an idle member's memory once a large tree is gone.
            recent_bytes: 4 << 20,
            recent_entries: 2048,
        }
    }
}

/// Why the entry log failed.
#[derive(Debug, thiserror::Error)]
pub enum EntryLogError {
    #[error("raft log {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("raft log {path}: bad frame at byte {offset} ({reason})")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("raft log {path}: entry {found} where entry {expected} belongs")]
    Gap {
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("raft log entry {index} cannot be decoded: {source}")]
    Decode {
        index: u64,
        #[source]
        source: postcard::Error,
    },
    #[error("raft log {path}: an append failed and could not be cut off again; no more appends until a restart")]
    Broken { path: PathBuf },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> EntryLogError + '_ {
    move |source| EntryLogError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn lock(index: &Mutex<Index>) -> MutexGuard<'_, Index> {
    index.lock().unwrap_or_else(|e| e.into_inner())
}

/// One file of the log.
struct Segment {
    /// The index of the first entry appended to it (its name).
    first: u64,
    path: PathBuf,
    file: Arc<File>,
    /// Bytes of whole frames in it.
    len: u64,
}

/// Where one entry's frame is.
#[derive(Clone)]
struct Location {
    log_id: LogId<NodeId>,
    file: Arc<File>,
    path: Arc<Path>,
    offset: u64,
    /// The whole frame's length.
    len: u32,
}

/// What readers share with the writer.
struct Index {
    /// The index of `locations[0]` (when empty: of the next entry).
    first: u64,
    locations: VecDeque<Location>,
    /// Decoded copies of the newest entries, in order, the last one being
    /// the log's last; their encoded bytes in `recent_bytes`.
    recent: VecDeque<Entry>,
    recent_bytes: usize,
    limits: Limits,
}

impl Index {
    fn end(&self) -> u64 {
        self.first + self.locations.len() as u64
    }

    fn recent_first(&self) -> u64 {
        self.end() - self.recent.len() as u64
    }

    /// Drops entries from the front of the decoded copies until both
    /// bounds hold.
    fn trim_recent(&mut self) {
        while self.recent.len() > self.limits.recent_entries
            || self.recent_bytes > self.limits.recent_bytes
        {
            let at = (self.recent_first() - self.first) as usize;
            if let Some(location) = self.locations.get(at) {
                self.recent_bytes -= location.len as usize;
            }
            self.recent.pop_front();
        }
    }
}

/// Reads entries of an [`EntryLog`]; cheap to clone.
#[derive(Clone)]
pub struct EntryReader {
    index: Arc<Mutex<Index>>,
}

/// The writer's side: the files and the shared index.
pub struct EntryLog {
    dir: PathBuf,
    /// Oldest first; appends go to the last one.
    segments: Vec<Segment>,
    index: Arc<Mutex<Index>>,
    /// An append failed and its bytes could not be cut off.
    broken: Option<PathBuf>,
    limits: Limits,
}

impl EntryLog {
    /// Opens the log in `dir` (created if missing), skipping entries at or
    /// below `purged`, and cuts a torn frame off the end of the newest file.
    pub fn open(dir: &Path, purged: Option<u64>) -> Result<EntryLog, EntryLogError> {
        EntryLog::open_with(dir, purged, Limits::default())
    }

    /// [`EntryLog::open`] with other limits (tests use small ones).
    pub fn open_with(
        dir: &Path,
        purged: Option<u64>,
        limits: Limits,
    ) -> Result<EntryLog, EntryLogError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut names: Vec<(u64, PathBuf)> = Vec::new();
        for item in std::fs::read_dir(dir).map_err(io_err(dir))? {
            let item = item.map_err(io_err(dir))?;
            if let Some(first) = item.file_name().to_str().and_then(parse_seq) {
                names.push((first, item.path()));
            }
        }
        names.sort();
        let next_after_purge = purged.map_or(0, |p| p + 1);
        let mut index = Index {
            first: next_after_purge,
            locations: VecDeque::new(),
            recent: VecDeque::new(),
            recent_bytes: 0,
            limits,
        };
        let mut segments = Vec::with_capacity(names.len());
        let count = names.len();
        for (i, (first, path)) in names.into_iter().enumerate() {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(io_err(&path))?;
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut &file, &mut bytes).map_err(io_err(&path))?;
            let log_file::Frames {
                frames,
                whole,
                stopped,
            } = log_file::split(&bytes);
            if let Some(reason) = stopped {
                if i + 1 < count {
                    return Err(EntryLogError::Corrupt {
                        path,
                        offset: whole as u64,
                        reason,
                    });
                }
                tracing::warn!(path = %path.display(), offset = whole, %reason,
                    "raft log ends in a torn frame (a crash during an append never reported stored): cut there");
                file.set_len(whole as u64)
                    .and_then(|()| file.sync_all())
                    .map_err(io_err(&path))?;
            }
            let file = Arc::new(file);
            let shared_path: Arc<Path> = Arc::from(path.as_path());
            for (offset, payload) in frames {
                let entry: Entry =
                    postcard::from_bytes(payload).map_err(|_| EntryLogError::Corrupt {
                        path: path.clone(),
                        offset: offset as u64,
                        reason: "undecodable entry".into(),
                    })?;
                let at = entry.log_id.index;
                if at < next_after_purge {
                    continue;
                }
                if index.locations.is_empty() && purged.is_none() {
                    index.first = at;
                }
                if at != index.end() {
                    return Err(EntryLogError::Gap {
                        path,
                        expected: index.end(),
                        found: at,
                    });
                }
                index.locations.push_back(Location {
                    log_id: entry.log_id,
                    file: file.clone(),
                    path: shared_path.clone(),
                    offset: offset as u64,
                    len: (HEADER + payload.len()) as u32,
                });
            }
            segments.push(Segment {
                first,
                path,
                file,
                len: whole as u64,
            });
        }
        Ok(EntryLog {
            dir: dir.to_path_buf(),
            segments,
            index: Arc::new(Mutex::new(index)),
            broken: None,
            limits,
        })
    }

    /// A reader of this log's entries.
    pub fn reader(&self) -> EntryReader {
        EntryReader {
            index: self.index.clone(),
        }
    }

    /// Syncs every file, so that all the entries kept count as on disk.
    pub fn sync_all(&self) -> Result<(), EntryLogError> {
        for segment in &self.segments {
            segment.file.sync_data().map_err(io_err(&segment.path))?;
        }
        Ok(())
    }

    /// The id of the last entry, if any is kept.
    pub fn last_log_id(&self) -> Option<LogId<NodeId>> {
        lock(&self.index).locations.back().map(|l| l.log_id)
    }

    /// Writes `entries` (which follow the last one) to the current file
    /// and returns that file, which must be synced before they count as
    /// stored. They are readable at once.
    pub fn append(&mut self, entries: Vec<Entry>) -> Result<Arc<File>, EntryLogError> {
        if let Some(path) = &self.broken {
            return Err(EntryLogError::Broken { path: path.clone() });
        }
        let Some(first) = entries.first().map(|e| e.log_id.index) else {
            return self.current_file();
        };
        {
            let index = lock(&self.index);
            if !index.locations.is_empty() && first != index.end() {
                return Err(EntryLogError::Gap {
                    path: self.dir.clone(),
                    expected: index.end(),
                    found: first,
                });
            }
        }
        if self
            .segments
            .last()
            .is_none_or(|s| s.len >= self.limits.file_bytes)
        {
            self.start_file(first)?;
        }
        let Some(segment) = self.segments.last_mut() else {
            return Err(EntryLogError::Broken {
                path: self.dir.clone(),
            });
        };
        let mut buf = Vec::new();
        let mut frames = Vec::with_capacity(entries.len());
        for entry in &entries {
            let (next, len) = log_file::encode_into(entry, buf)?;
            buf = next;
            frames.push((segment.len + (buf.len() - len) as u64, len as u32));
        }
        if let Err(source) = segment.file.write_all_at(&buf, segment.len) {
            if let Err(error) = segment.file.set_len(segment.len) {
                tracing::error!(%error, path = %segment.path.display(),
                    "cannot cut a failed append off the raft log: refusing appends until a restart");
                self.broken = Some(segment.path.clone());
            }
            return Err(EntryLogError::Io {
                path: segment.path.clone(),
                source,
            });
        }
        segment.len += buf.len() as u64;
        let shared_path: Arc<Path> = Arc::from(segment.path.as_path());
        let mut index = lock(&self.index);
        if index.locations.is_empty() {
            index.first = first;
        }
        for (entry, (offset, len)) in entries.into_iter().zip(frames) {
            index.locations.push_back(Location {
                log_id: entry.log_id,
                file: segment.file.clone(),
                path: shared_path.clone(),
                offset,
                len,
            });
            index.recent_bytes += len as usize;
            index.recent.push_back(entry);
        }
        index.trim_recent();
        Ok(segment.file.clone())
    }

    /// The file appends go to (created when there is none yet).
    fn current_file(&mut self) -> Result<Arc<File>, EntryLogError> {
        if self.segments.is_empty() {
            let next = lock(&self.index).end();
            self.start_file(next)?;
        }
        match self.segments.last() {
            Some(s) => Ok(s.file.clone()),
            None => Err(EntryLogError::Broken {
                path: self.dir.clone(),
            }),
        }
    }

    /// Starts a new file for entries from `first` on. The file before it
    /// is synced by the flushes of the appends made to it.
    fn start_file(&mut self, first: u64) -> Result<(), EntryLogError> {
        let path = self.dir.join(file_name(first));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(io_err(&path))?;
        log_file::sync_dir(&self.dir).map_err(io_err(&self.dir))?;
        self.segments.push(Segment {
            first,
            path,
            file: Arc::new(file),
            len: 0,
        });
        Ok(())
    }

    /// Removes the entries from index `from` on, durably.
    pub fn truncate(&mut self, from: u64) -> Result<(), EntryLogError> {
        let cut = {
            let mut index = lock(&self.index);
            if from >= index.end() {
                return Ok(());
            }
            let keep = from.saturating_sub(index.first) as usize;
            let cut = index.locations.get(keep).map(|l| l.offset);
            let recent_first = index.recent_first();
            index.locations.truncate(keep);
            let recent_keep = from.saturating_sub(recent_first) as usize;
            index.recent.truncate(recent_keep);
            let first_recent = (index.recent_first() - index.first) as usize;
            index.recent_bytes = index
                .locations
                .range(first_recent..)
                .map(|l| l.len as usize)
                .sum();
            cut
        };
        while let Some(last) = self.segments.last() {
            if last.first < from {
                break;
            }
            std::fs::remove_file(&last.path).map_err(io_err(&last.path))?;
            self.segments.pop();
        }
        if let (Some(segment), Some(offset)) = (self.segments.last_mut(), cut) {
            if offset < segment.len {
                segment
                    .file
                    .set_len(offset)
                    .and_then(|()| segment.file.sync_data())
                    .map_err(io_err(&segment.path))?;
                segment.len = offset;
            }
        }
        log_file::sync_dir(&self.dir).map_err(io_err(&self.dir))?;
        self.broken = None;
        Ok(())
    }

    /// Forgets the entries up to and including `upto` and deletes every
    /// file that holds nothing else. (The purged index itself is recorded
    /// by the caller first.)
    pub fn purge(&mut self, upto: u64) -> Result<(), EntryLogError> {
        let end = {
            let mut index = lock(&self.index);
            let drop = (upto + 1).saturating_sub(index.first) as usize;
            let drop = drop.min(index.locations.len());
            let recent_first = index.recent_first();
            let recent_drop =
                ((upto + 1).saturating_sub(recent_first) as usize).min(index.recent.len());
            let from = (recent_first - index.first) as usize;
            let dropped_bytes: usize = index
                .locations
                .range(from..from + recent_drop)
                .map(|l| l.len as usize)
                .sum();
            index.recent.drain(..recent_drop);
            index.recent_bytes -= dropped_bytes;
            index.locations.drain(..drop);
            index.first = index.first.max(upto + 1);
            index.end()
        };
        let mut removed = false;
        while let Some(oldest) = self.segments.first() {
            // The entries of the oldest file end where the next one starts,
            // or at the log's end for the last file.
            let next_first = self.segments.get(1).map_or(end, |s| s.first);
            if next_first > upto + 1 {
                break;
            }
            std::fs::remove_file(&oldest.path).map_err(io_err(&oldest.path))?;
            self.segments.remove(0);
            removed = true;
        }
        if removed {
            log_file::sync_dir(&self.dir).map_err(io_err(&self.dir))?;
        }
        Ok(())
    }
}

impl EntryReader {
    /// The entries with indexes in `start..end` that are kept, in order.
    pub fn read(&self, start: u64, end: u64) -> Result<Vec<Entry>, EntryLogError> {
        let (older, newer) = {
            let index = lock(&self.index);
            let start = start.max(index.first);
            let end = end.min(index.end());
            if start >= end {
                return Ok(Vec::new());
            }
            let recent_first = index.recent_first();
            let older: Vec<Location> = (start..end.min(recent_first))
                .filter_map(|i| index.locations.get((i - index.first) as usize).cloned())
                .collect();
            let newer: Vec<Entry> = (start.max(recent_first)..end)
                .filter_map(|i| index.recent.get((i - recent_first) as usize).cloned())
                .collect();
            (older, newer)
        };
        let mut entries = Vec::with_capacity(older.len() + newer.len());
        let mut at = 0;
        while at < older.len() {
            // Frames next to each other in one file come in one read.
            let mut upto = at + 1;
            while upto < older.len()
                && Arc::ptr_eq(&older[upto].file, &older[at].file)
                && older[upto].offset == older[upto - 1].offset + older[upto - 1].len as u64
            {
                upto += 1;
            }
            let run = &older[at..upto];
            let start = run[0].offset;
            let len = run.iter().map(|l| l.len as usize).sum();
            let mut bytes = vec![0; len];
            run[0]
                .file
                .read_exact_at(&mut bytes, start)
                .map_err(io_err(&run[0].path))?;
            let mut pos = 0;
            for location in run {
                let frame = &bytes[pos..pos + location.len as usize];
                let payload =
                    log_file::payload(frame).map_err(|reason| EntryLogError::Corrupt {
                        path: location.path.to_path_buf(),
                        offset: location.offset,
                        reason,
                    })?;
                let entry =
                    postcard::from_bytes(payload).map_err(|source| EntryLogError::Decode {
                        index: location.log_id.index,
                        source,
                    })?;
                entries.push(entry);
                pos += location.len as usize;
            }
            at = upto;
        }
        entries.extend(newer);
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, EntryPayload};

    /// Small files (a few entries each) and a decoded copy of only the
    /// last two entries, so reads go to the files.
    const SMALL: Limits = Limits {
        file_bytes: 64,
        recent_bytes: 1 << 20,
        recent_entries: 2,
    };

    fn entries(term: u64, indexes: std::ops::Range<u64>) -> Vec<Entry> {
        indexes
            .map(|index| Entry {
                log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
                payload: EntryPayload::Blank,
            })
            .collect()
    }

    /// Appends each entry on its own, as separate Raft appends would, so
    /// that files rotate between them.
    fn append_each(
        log: &mut EntryLog,
        term: u64,
        indexes: std::ops::Range<u64>,
    ) -> Result<(), EntryLogError> {
        for entry in entries(term, indexes) {
            log.append(vec![entry])?;
        }
        Ok(())
    }

    /// (term, index) of each entry `start..end` read back.
    fn ids(log: &EntryLog, start: u64, end: u64) -> Vec<(u64, u64)> {
        log.reader()
            .read(start, end)
            .expect("read")
            .iter()
            .map(|e| (e.log_id.leader_id.term, e.log_id.index))
            .collect()
    }

    fn expected(term: u64, indexes: std::ops::Range<u64>) -> Vec<(u64, u64)> {
        indexes.map(|i| (term, i)).collect()
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn appends_span_files_and_read_back_after_reopening() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let mut log = EntryLog::open_with(dir.path(), None, SMALL)?;
        for chunk in [0..3, 3..4, 4..10] {
            log.append(entries(1, chunk))?;
        }
        append_each(&mut log, 1, 10..30)?;
        assert!(files(dir.path()).len() > 3, "{:?}", files(dir.path()));
        assert_eq!(ids(&log, 0, 30), expected(1, 0..30));
        assert_eq!(ids(&log, 5, 12), expected(1, 5..12));
        assert_eq!(ids(&log, 28, 100), expected(1, 28..30));
        drop(log);
        let log = EntryLog::open_with(dir.path(), None, SMALL)?;
        assert_eq!(log.last_log_id().map(|l| l.index), Some(29));
        assert_eq!(ids(&log, 0, u64::MAX), expected(1, 0..30));
        Ok(())
    }

    #[test]
    fn an_append_that_leaves_a_gap_is_refused() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let mut log = EntryLog::open_with(dir.path(), None, SMALL)?;
        log.append(entries(1, 0..5))?;
        let refused = log.append(entries(1, 6..7));
        assert!(matches!(
            refused,
            Err(EntryLogError::Gap {
                expected: 5,
                found: 6,
                ..
            })
        ));
        assert_eq!(ids(&log, 0, 10), expected(1, 0..5));
        Ok(())
    }

    #[test]
    fn truncation_across_files_survives_reopening() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let mut log = EntryLog::open_with(dir.path(), None, SMALL)?;
        log.append(entries(1, 0..8))?;
        append_each(&mut log, 1, 8..40)?;
        let before = files(dir.path()).len();
        log.truncate(12)?;
        assert!(files(dir.path()).len() < before);
        assert_eq!(log.last_log_id().map(|l| l.index), Some(11));
        assert_eq!(ids(&log, 0, 100), expected(1, 0..12));
        // A new leader's entries take the truncated places.
        log.append(entries(2, 12..20))?;
        let mut want = expected(1, 0..12);
        want.extend(expected(2, 12..20));
        assert_eq!(ids(&log, 0, 100), want);
        drop(log);
        let log = EntryLog::open_with(dir.path(), None, SMALL)?;
        assert_eq!(ids(&log, 0, 100), want);
        Ok(())
    }

    #[test]
    fn purging_deletes_files_that_hold_only_purged_entries() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let mut log = EntryLog::open_with(dir.path(), None, SMALL)?;
        append_each(&mut log, 1, 0..40)?;
        let all = files(dir.path());
        log.purge(15)?;
        let left = files(dir.path());
        assert!(left.len() < all.len(), "{all:?} -> {left:?}");
        // The oldest file left still holds entry 16.
        let oldest = left.first().and_then(|n| parse_seq(n));
        assert!(oldest.is_some_and(|first| first <= 16), "{left:?}");
        assert_eq!(ids(&log, 0, 100), expected(1, 16..40));
        drop(log);
        let mut log = EntryLog::open_with(dir.path(), Some(15), SMALL)?;
        assert_eq!(ids(&log, 0, 100), expected(1, 16..40));
        // Everything purged: the log is empty and goes on from there.
        log.purge(39)?;
        assert_eq!(ids(&log, 0, 100), Vec::new());
        log.append(entries(1, 40..42))?;
        assert_eq!(ids(&log, 0, 100), expected(1, 40..42));
        Ok(())
    }

    #[test]
    fn a_torn_last_frame_is_cut_off_when_opening() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let mut log = EntryLog::open_with(dir.path(), None, Limits::default())?;
        let file = log.append(entries(1, 0..5))?;
        // Half a frame of the next append, as a crash could leave it.
        let len = file.metadata()?.len();
        file.write_all_at(&[0, 0, 0, 9, 1, 2], len)?;
        drop((log, file));
        let mut log = EntryLog::open_with(dir.path(), None, Limits::default())?;
        assert_eq!(ids(&log, 0, 100), expected(1, 0..5));
        log.append(entries(1, 5..7))?;
        drop(log);
        let log = EntryLog::open_with(dir.path(), None, Limits::default())?;
        assert_eq!(ids(&log, 0, 100), expected(1, 0..7));
        Ok(())
    }

    #[test]
    fn damage_before_the_last_file_is_an_error() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let mut log = EntryLog::open_with(dir.path(), None, SMALL)?;
        append_each(&mut log, 1, 0..20)?;
        drop(log);
        let first = dir.path().join(&files(dir.path())[0]);
        let mut bytes = std::fs::read(&first)?;
        bytes[HEADER] ^= 0xff;
        std::fs::write(&first, bytes)?;
        let refused = EntryLog::open_with(dir.path(), None, SMALL).err();
        assert!(
            matches!(refused, Some(EntryLogError::Corrupt { .. })),
            "{refused:?}"
        );
        Ok(())
    }
}
