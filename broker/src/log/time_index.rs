//! The time index of a segment (`<base>.timeindex`), Kafka's format: 12-byte
//! entries of an 8-byte timestamp and the 4-byte relative offset of the batch
//! that holds it. An entry is written next to each offset index entry when
//! the segment's largest timestamp so far has grown, and once more when the
//! segment stops being active, so the last entry is always the segment's
//! largest timestamp (what retention and `segment.ms` read after a restart).
//!
//! The file handling is [`super::index_file`]'s, as for the offset index.

use std::io;
use std::path::Path;
use std::sync::Mutex;

use super::error::LogError;
use super::index_file::IndexFile;

const ENTRY_SIZE: usize = 12;

/// Kafka's "no timestamp" (`RecordBatch.NO_TIMESTAMP`).
pub const NO_TIMESTAMP: i64 = -1;

/// A timestamp and the offset of the batch it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimestampOffset {
    pub timestamp: i64,
    pub offset: i64,
}

/// One segment's time index.
#[derive(Debug)]
pub struct TimeIndex {
    file: IndexFile<ENTRY_SIZE>,
    /// The last entry (or none: NO_TIMESTAMP at the base), kept in memory
    /// because every append compares with it.
    last: Mutex<TimestampOffset>,
}

impl TimeIndex {
    /// Opens (creating if absent) the time index at `path`, cutting a torn
    /// trailing entry.
    pub fn open(path: &Path, base_offset: i64, max_entries: usize) -> Result<Self, LogError> {
        let idx = TimeIndex {
            file: IndexFile::open(path, base_offset, max_entries)?,
            last: Mutex::new(TimestampOffset {
                timestamp: NO_TIMESTAMP,
                offset: base_offset,
            }),
        };
        idx.reload_last()?;
        Ok(idx)
    }

    fn none(&self) -> TimestampOffset {
        TimestampOffset {
            timestamp: NO_TIMESTAMP,
            offset: self.file.base_offset(),
        }
    }

    fn reload_last(&self) -> Result<(), LogError> {
        let last = match self.entries() {
            0 => self.none(),
            n => self.entry(n - 1).map_err(|e| self.file.error(e))?,
        };
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = last;
        Ok(())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Number of entries.
    pub fn entries(&self) -> usize {
        self.file.entries()
    }

    /// Whether another entry would exceed `segment.index.bytes`.
    pub fn is_full(&self) -> bool {
        self.file.is_full()
    }

    /// The last entry, `(NO_TIMESTAMP, base)` when empty: after a roll or a
    /// clean close, the segment's largest timestamp and its offset.
    pub fn last_entry(&self) -> TimestampOffset {
        *self.last.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn decode(&self, b: &[u8; ENTRY_SIZE]) -> TimestampOffset {
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[..8]);
        TimestampOffset {
            timestamp: i64::from_be_bytes(ts),
            offset: self
                .file
                .absolute(i32::from_be_bytes([b[8], b[9], b[10], b[11]])),
        }
    }

    fn entry(&self, n: usize) -> io::Result<TimestampOffset> {
        Ok(self.decode(&self.file.read(n)?))
    }

    /// Kafka's load-time check: the last entry's offset is not below the base.
    pub fn sanity_check(&self) -> Result<(), String> {
        let last = self.last_entry();
        let base = self.file.base_offset();
        if self.entries() > 0 && last.offset < base {
            return Err(format!(
                "last offset {} is below the base offset {base}",
                last.offset
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
        if (!skip_full_check && self.is_full()) || (n > 0 && offset < last.offset) {
            return Ok(());
        }
        let rel = self.file.relative(offset)?;
        let mut b = [0u8; ENTRY_SIZE];
        b[..8].copy_from_slice(&timestamp.to_be_bytes());
        b[8..].copy_from_slice(&rel.to_be_bytes());
        self.file.append(b)?;
        *last = TimestampOffset { timestamp, offset };
        Ok(())
    }

    /// The entry with the largest timestamp `<= target`, or
    /// `(NO_TIMESTAMP, base)`: every batch before its offset is older than
    /// `target`, so a search for `target` may start there.
    pub fn lookup(&self, target: i64) -> Result<TimestampOffset, LogError> {
        let n = self.entries();
        let found = self
            .file
            .partition_point(n, |b| self.decode(b).timestamp <= target)
            .and_then(|k| match k {
                0 => Ok(self.none()),
                k => self.entry(k - 1),
            });
        match found {
            Ok(e) => Ok(e),
            // A concurrent truncation shrank the file under us.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(self.none()),
            Err(e) => Err(self.file.error(e)),
        }
    }

    /// Removes every entry with an offset `>= offset`.
    pub fn truncate_to(&self, offset: i64) -> Result<(), LogError> {
        let n = self.entries();
        let keep = self
            .file
            .partition_point(n, |b| self.decode(b).offset < offset)
            .map_err(|e| self.file.error(e))?;
        self.truncate_entries(keep)
    }

    /// Removes every entry.
    pub fn reset(&self) -> Result<(), LogError> {
        self.truncate_entries(0)
    }

    fn truncate_entries(&self, keep: usize) -> Result<(), LogError> {
        self.file.truncate_entries(keep)?;
        self.reload_last()
    }

    /// fsync.
    pub fn flush(&self) -> Result<(), LogError> {
        self.file.flush()
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
