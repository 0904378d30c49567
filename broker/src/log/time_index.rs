//! The time index of a segment (`<base>.timeindex`), Kafka's format: 12-byte
//! entries of an 8-byte timestamp and the 4-byte relative offset of the batch
//! that holds it. An entry is written next to each offset index entry when
//! the segment's largest timestamp so far has grown, and once more when the
//! segment stops being active, so the last entry is always the segment's
//! largest timestamp (what retention and `segment.ms` read after a restart).
//!
//! Same file handling as [`super::index`]: positional writes, binary search
//! with positional reads, no preallocation.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::error::LogError;

const ENTRY_SIZE: usize = 12;

/// Kafka's "no timestamp" (`RecordBatch.NO_TIMESTAMP`).
pub const NO_TIMESTAMP: i64 = -1;

/// A timestamp and the offset of the batch it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimestampOffset {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// Absolute offset.
    pub offset: i64,
}

/// One segment's time index.
#[derive(Debug)]
pub struct TimeIndex {
    path: PathBuf,
    file: File,
    base_offset: i64,
    max_entries: usize,
    entries: AtomicUsize,
    /// The last entry, or `(NO_TIMESTAMP, base)` when empty; kept so the
    /// writer can compare without a read.
    last: Mutex<TimestampOffset>,
}

impl TimeIndex {
    /// Opens (creating if absent) the time index at `path`, cutting a torn
    /// trailing entry.
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
        let idx = TimeIndex {
            path: path.to_path_buf(),
            file,
            base_offset,
            max_entries,
            entries: AtomicUsize::new(entries),
            last: Mutex::new(TimestampOffset {
                timestamp: NO_TIMESTAMP,
                offset: base_offset,
            }),
        };
        idx.reload_last()?;
        Ok(idx)
    }

    fn reload_last(&self) -> Result<(), LogError> {
        let n = self.entries();
        let last = if n == 0 {
            TimestampOffset {
                timestamp: NO_TIMESTAMP,
                offset: self.base_offset,
            }
        } else {
            self.entry(n - 1).map_err(|e| LogError::io(&self.path, e))?
        };
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = last;
        Ok(())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of entries.
    pub fn entries(&self) -> usize {
        self.entries.load(Ordering::Acquire)
    }

    /// Whether another entry would exceed `segment.index.bytes`.
    pub fn is_full(&self) -> bool {
        self.entries() >= self.max_entries
    }

    /// The last entry, `(NO_TIMESTAMP, base)` when empty: after a roll or a
    /// clean close, the segment's largest timestamp and its offset.
    pub fn last_entry(&self) -> TimestampOffset {
        *self.last.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn entry(&self, n: usize) -> io::Result<TimestampOffset> {
        let mut b = [0u8; ENTRY_SIZE];
        self.file.read_exact_at(&mut b, (n * ENTRY_SIZE) as u64)?;
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[..8]);
        let rel = i32::from_be_bytes([b[8], b[9], b[10], b[11]]);
        Ok(TimestampOffset {
            timestamp: i64::from_be_bytes(ts),
            offset: self.base_offset + i64::from(rel),
        })
    }

    /// Kafka's load-time check: the last entry's offset is not below the base.
    pub fn sanity_check(&self) -> Result<(), String> {
        let last = self.last_entry();
        if self.entries() > 0 && last.offset < self.base_offset {
            return Err(format!(
                "last offset {} is below the base offset {}",
                last.offset, self.base_offset
            ));
        }
        Ok(())
    }

    /// Appends `(timestamp, offset)` if `timestamp` is above the last
    /// entry's (the index only grows in time). `skip_full_check` is for the
    /// final entry written when the segment becomes inactive.
    pub fn maybe_append(
        &self,
        timestamp: i64,
        offset: i64,
        skip_full_check: bool,
    ) -> Result<(), LogError> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if timestamp <= last.timestamp {
            return Ok(());
        }
        let n = self.entries();
        if (!skip_full_check && n >= self.max_entries) || (n > 0 && offset < last.offset) {
            return Ok(());
        }
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
        b[..8].copy_from_slice(&timestamp.to_be_bytes());
        b[8..].copy_from_slice(&(rel as i32).to_be_bytes());
        self.file
            .write_all_at(&b, (n * ENTRY_SIZE) as u64)
            .map_err(|e| LogError::io(&self.path, e))?;
        self.entries.store(n + 1, Ordering::Release);
        *last = TimestampOffset { timestamp, offset };
        Ok(())
    }

    /// The entry with the largest timestamp `<= target`, or
    /// `(NO_TIMESTAMP, base)`: every batch before its offset is older than
    /// `target`, so a search for `target` may start there.
    pub fn lookup(&self, target: i64) -> Result<TimestampOffset, LogError> {
        let none = TimestampOffset {
            timestamp: NO_TIMESTAMP,
            offset: self.base_offset,
        };
        let n = self.entries();
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.entry(mid) {
                Ok(e) if e.timestamp <= target => lo = mid + 1,
                Ok(_) => hi = mid,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(none),
                Err(e) => return Err(LogError::io(&self.path, e)),
            }
        }
        if lo == 0 {
            return Ok(none);
        }
        match self.entry(lo - 1) {
            Ok(e) => Ok(e),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(none),
            Err(e) => Err(LogError::io(&self.path, e)),
        }
    }

    /// Removes every entry with an offset `>= offset`.
    pub fn truncate_to(&self, offset: i64) -> Result<(), LogError> {
        let n = self.entries();
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let e = self.entry(mid).map_err(|e| LogError::io(&self.path, e))?;
            if e.offset < offset {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        self.truncate_entries(lo)
    }

    /// Removes every entry.
    pub fn reset(&self) -> Result<(), LogError> {
        self.truncate_entries(0)
    }

    fn truncate_entries(&self, keep: usize) -> Result<(), LogError> {
        self.entries.store(keep, Ordering::Release);
        self.file
            .set_len((keep * ENTRY_SIZE) as u64)
            .map_err(|e| LogError::io(&self.path, e))?;
        self.reload_last()
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
    fn grows_only_in_time_and_looks_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000050.timeindex");
        let idx = TimeIndex::open(&path, 50, 100).unwrap();
        assert_eq!(
            idx.lookup(5).unwrap(),
            TimestampOffset {
                timestamp: -1,
                offset: 50
            }
        );
        idx.maybe_append(1000, 55, false).unwrap();
        idx.maybe_append(1000, 56, false).unwrap(); // same time: skipped
        idx.maybe_append(900, 57, false).unwrap(); // older: skipped
        idx.maybe_append(2000, 60, false).unwrap();
        assert_eq!(idx.entries(), 2);
        assert_eq!(idx.lookup(999).unwrap().offset, 50);
        assert_eq!(
            idx.lookup(1500).unwrap(),
            TimestampOffset {
                timestamp: 1000,
                offset: 55
            }
        );
        assert_eq!(idx.lookup(5000).unwrap().offset, 60);
        drop(idx);
        let idx = TimeIndex::open(&path, 50, 100).unwrap();
        assert_eq!(
            idx.last_entry(),
            TimestampOffset {
                timestamp: 2000,
                offset: 60
            }
        );
        idx.truncate_to(60).unwrap();
        assert_eq!(
            idx.last_entry(),
            TimestampOffset {
                timestamp: 1000,
                offset: 55
            }
        );
        idx.reset().unwrap();
        assert_eq!(idx.last_entry().timestamp, NO_TIMESTAMP);
    }

    #[test]
    fn full_index_skips_unless_told() {
        let dir = tempfile::tempdir().unwrap();
        let idx = TimeIndex::open(&dir.path().join("0.timeindex"), 0, 1).unwrap();
        idx.maybe_append(1, 1, false).unwrap();
        assert!(idx.is_full());
        idx.maybe_append(2, 2, false).unwrap();
        assert_eq!(idx.entries(), 1);
        idx.maybe_append(2, 2, true).unwrap();
        assert_eq!(idx.entries(), 2);
    }
}
