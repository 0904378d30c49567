//! The sparse offset index of a segment (`<base>.index`), Kafka's format:
//! 8-byte entries of a 4-byte offset relative to the segment's base and the
//! 4-byte file position of the batch whose last offset that is.
//!
//! Choice (documented in `mod.rs`): index files are not preallocated to
//! `segment.index.bytes` and not memory-mapped. Entries are appended with
//! positional writes and looked up with a binary search of positional reads
//! (about 18 reads of 8 bytes for a full 1 GiB segment, all from the page
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

const ENTRY_SIZE: usize = 8;

/// An offset and the file position of the batch that ends at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffsetPosition {
    /// Absolute offset.
    pub offset: i64,
    /// Byte position in the segment's `.log`.
    pub position: u32,
}

/// One segment's offset index.
#[derive(Debug)]
pub struct OffsetIndex {
    path: PathBuf,
    file: File,
    base_offset: i64,
    max_entries: usize,
    entries: AtomicUsize,
}

impl OffsetIndex {
    /// Opens (creating if absent) the index at `path`. A trailing partial
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
        let entries = len / ENTRY_SIZE;
        if entries * ENTRY_SIZE != len {
            file.set_len((entries * ENTRY_SIZE) as u64)
                .map_err(|e| LogError::io(path, e))?;
        }
        Ok(OffsetIndex {
            path: path.to_path_buf(),
            file,
            base_offset,
            max_entries,
            entries: AtomicUsize::new(entries),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
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

    fn entry(&self, n: usize) -> io::Result<OffsetPosition> {
        let mut b = [0u8; ENTRY_SIZE];
        self.file.read_exact_at(&mut b, (n * ENTRY_SIZE) as u64)?;
        let rel = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let pos = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
        Ok(OffsetPosition {
            offset: self.base_offset + i64::from(rel),
            position: pos,
        })
    }

    /// The last entry, if any.
    pub fn last_entry(&self) -> Result<Option<OffsetPosition>, LogError> {
        match self.entries() {
            0 => Ok(None),
            n => self
                .entry(n - 1)
                .map(Some)
                .map_err(|e| LogError::io(&self.path, e)),
        }
    }

    /// Kafka's sanity check on load: the last entry lies inside the segment
    /// (offset not below the base, position not past the log's size).
    /// A failure means the index is rebuilt from the log.
    pub fn sanity_check(&self, log_size: u64) -> Result<(), String> {
        match self.last_entry() {
            Ok(None) => Ok(()),
            Ok(Some(e)) if e.offset < self.base_offset => Err(format!(
                "last offset {} is below the base offset {}",
                e.offset, self.base_offset
            )),
            Ok(Some(e)) if u64::from(e.position) > log_size => Err(format!(
                "last position {} is past the log size {log_size}",
                e.position
            )),
            Ok(Some(_)) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Appends an entry; `offset` must be above the last entry's and within
    /// `i32` of the base (the segment rolls before that is exceeded).
    pub fn append(&self, offset: i64, position: u32) -> Result<(), LogError> {
        let n = self.entries();
        let rel = offset - self.base_offset;
        if !(0..=i64::from(i32::MAX)).contains(&rel) {
            return Err(LogError::MalformedFile {
                path: self.path.clone(),
                reason: format!(
                    "offset {offset} is not within i32 of base {}",
                    self.base_offset
                ),
            });
        }
        let mut b = [0u8; ENTRY_SIZE];
        b[..4].copy_from_slice(&(rel as i32).to_be_bytes());
        b[4..].copy_from_slice(&position.to_be_bytes());
        self.file
            .write_all_at(&b, (n * ENTRY_SIZE) as u64)
            .map_err(|e| LogError::io(&self.path, e))?;
        self.entries.store(n + 1, Ordering::Release);
        Ok(())
    }

    /// Number of entries whose offset is `<= target` (binary search).
    fn count_at_or_below(&self, target: i64, n: usize) -> io::Result<usize> {
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.entry(mid)?.offset <= target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// The entry with the largest offset `<= target`, or the segment start
    /// `(base, 0)` when there is none. A scan from the returned position
    /// finds the batch holding `target`.
    pub fn lookup(&self, target: i64) -> Result<OffsetPosition, LogError> {
        let start = OffsetPosition {
            offset: self.base_offset,
            position: 0,
        };
        let n = self.entries();
        match self.count_at_or_below(target, n) {
            Ok(0) => Ok(start),
            Ok(k) => match self.entry(k - 1) {
                Ok(e) => Ok(e),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(start),
                Err(e) => Err(LogError::io(&self.path, e)),
            },
            // A concurrent truncation shrank the file under us: scanning
            // from the segment start is always correct, only slower.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(start),
            Err(e) => Err(LogError::io(&self.path, e)),
        }
    }

    /// Removes every entry with an offset `>= offset`.
    pub fn truncate_to(&self, offset: i64) -> Result<(), LogError> {
        let n = self.entries();
        let keep = self
            .count_at_or_below(offset - 1, n)
            .map_err(|e| LogError::io(&self.path, e))?;
        self.truncate_entries(keep)
    }

    /// Removes every entry.
    pub fn reset(&self) -> Result<(), LogError> {
        self.truncate_entries(0)
    }

    fn truncate_entries(&self, keep: usize) -> Result<(), LogError> {
        // Publish the smaller count first so that readers stop looking at
        // entries about to disappear.
        self.entries.store(keep, Ordering::Release);
        self.file
            .set_len((keep * ENTRY_SIZE) as u64)
            .map_err(|e| LogError::io(&self.path, e))
    }

    /// fsync.
    pub fn flush(&self) -> Result<(), LogError> {
        self.file
            .sync_data()
            .map_err(|e| LogError::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_lookup_truncate_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000100.index");
        let idx = OffsetIndex::open(&path, 100, 1000).unwrap();
        assert_eq!(
            idx.lookup(150).unwrap(),
            OffsetPosition {
                offset: 100,
                position: 0
            }
        );
        for i in 1..=10u32 {
            idx.append(100 + i64::from(i) * 10, i * 1000).unwrap();
        }
        assert_eq!(idx.lookup(105).unwrap().position, 0);
        assert_eq!(
            idx.lookup(110).unwrap(),
            OffsetPosition {
                offset: 110,
                position: 1000
            }
        );
        assert_eq!(idx.lookup(119).unwrap().position, 1000);
        assert_eq!(idx.lookup(10_000).unwrap().position, 10_000);
        assert!(idx.append(99, 1).is_err());
        drop(idx);

        let idx = OffsetIndex::open(&path, 100, 1000).unwrap();
        assert_eq!(idx.entries(), 10);
        assert!(idx.sanity_check(10_000).is_ok());
        assert!(idx.sanity_check(9_999).is_err());
        idx.truncate_to(150).unwrap();
        assert_eq!(idx.entries(), 4);
        assert_eq!(idx.last_entry().unwrap().unwrap().offset, 140);
        idx.reset().unwrap();
        assert_eq!(idx.lookup(150).unwrap().position, 0);
    }

    #[test]
    fn torn_entry_is_dropped_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        std::fs::write(&path, [0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0]).unwrap();
        let idx = OffsetIndex::open(&path, 0, 10).unwrap();
        assert_eq!(idx.entries(), 1);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 8);
        assert!(!idx.is_full());
    }
}
