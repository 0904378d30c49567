//! What a segment's offset index and time index share: a file of fixed-size
//! big-endian entries, keyed by offsets relative to the segment's base.
//!
//! Choice (documented in `mod.rs`): index files are not preallocated to
//! `segment.index.bytes` and not memory-mapped. Entries are appended with
//! positional writes and searched with a binary search of positional reads
//! (about 18 reads of one entry for a full 1 GiB segment, all from the page
//! cache), so memory stays flat however many segments a broker holds, a file
//! never carries a zero-filled tail that recovery would have to tell from
//! entries, and nothing needs trimming on roll or close. A Kafka broker reads
//! these files unchanged (they look like Kafka's trimmed indexes).
//!
//! Concurrency: one writer (the partition's append lock) and any number of
//! readers. The writer writes the entry, then publishes the new count; a
//! reader reads the count, then only entries below it.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::error::LogError;

/// An index file of `N`-byte entries.
#[derive(Debug)]
pub struct IndexFile<const N: usize> {
    path: PathBuf,
    file: File,
    base_offset: i64,
    max_entries: usize,
    entries: AtomicUsize,
}

impl<const N: usize> IndexFile<N> {
    /// Opens (creating if absent) the file at `path`. A trailing partial
    /// entry (torn write) is cut off.
    pub fn open(path: &Path, base_offset: i64, max_entries: usize) -> Result<Self, LogError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| LogError::io(path, e))?;
        let len = file.metadata().map_err(|e| LogError::io(path, e))?.len() as usize;
        let entries = len / N;
        if entries * N != len {
            file.set_len((entries * N) as u64)
                .map_err(|e| LogError::io(path, e))?;
        }
        Ok(IndexFile {
            path: path.to_path_buf(),
            file,
            base_offset,
            max_entries,
            entries: AtomicUsize::new(entries),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// Number of entries.
    pub fn entries(&self) -> usize {
        self.entries.load(Ordering::Acquire)
    }

    /// Whether another entry would exceed `segment.index.bytes` (the
    /// segment must roll first).
    pub fn is_full(&self) -> bool {
        self.entries() >= self.max_entries
    }

    /// An I/O error on this file.
    pub fn error(&self, e: io::Error) -> LogError {
        LogError::io(&self.path, e)
    }

    /// The raw bytes of entry `n`.
    pub fn read(&self, n: usize) -> io::Result<[u8; N]> {
        let mut b = [0u8; N];
        self.file.read_exact_at(&mut b, (n * N) as u64)?;
        Ok(b)
    }

    /// `offset` relative to the base, which must fit an `i32` (the segment
    /// rolls before that is exceeded).
    pub fn relative(&self, offset: i64) -> Result<i32, LogError> {
        let rel = offset - self.base_offset;
        i32::try_from(rel)
            .ok()
            .filter(|r| *r >= 0)
            .ok_or_else(|| LogError::MalformedFile {
                path: self.path.clone(),
                reason: format!(
                    "offset {offset} is not within i32 of base {}",
                    self.base_offset
                ),
            })
    }

    /// An absolute offset from a relative one read from the file.
    pub fn absolute(&self, relative: i32) -> i64 {
        self.base_offset + i64::from(relative)
    }

    /// Appends one entry and publishes it.
    pub fn append(&self, entry: [u8; N]) -> Result<(), LogError> {
        let n = self.entries();
        self.file
            .write_all_at(&entry, (n * N) as u64)
            .map_err(|e| self.error(e))?;
        self.entries.store(n + 1, Ordering::Release);
        Ok(())
    }

    /// How many of the first `n` entries satisfy `before` (binary search:
    /// `before` holds for a prefix of the entries and not after it).
    pub fn partition_point(
        &self,
        n: usize,
        before: impl Fn(&[u8; N]) -> bool,
    ) -> io::Result<usize> {
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if before(&self.read(mid)?) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// Keeps the first `keep` entries.
    pub fn truncate_entries(&self, keep: usize) -> Result<(), LogError> {
        // Publish the smaller count first so that readers stop looking at
        // entries about to disappear.
        self.entries.store(keep, Ordering::Release);
        self.file
            .set_len((keep * N) as u64)
            .map_err(|e| self.error(e))
    }

    /// fsync.
    pub fn flush(&self) -> Result<(), LogError> {
        self.file.sync_data().map_err(|e| self.error(e))
    }
}
