//! The sparse offset index of a segment (`<base>.index`), Kafka's format:
//! 8-byte entries of a 4-byte offset relative to the segment's base and the
//! 4-byte file position of the batch whose last offset that is. The file
//! handling (positional reads and writes, no preallocation, one writer and
//! lock-free readers) is [`super::index_file`]'s.

use std::io;
use std::path::Path;

use super::error::LogError;
use super::index_file::IndexFile;

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
    file: IndexFile<ENTRY_SIZE>,
}

impl OffsetIndex {
    /// Opens (creating if absent) the index at `path`. A trailing partial
    /// entry (torn write) is cut off.
    pub fn open(path: &Path, base_offset: i64, max_entries: usize) -> Result<Self, LogError> {
        Ok(OffsetIndex {
            file: IndexFile::open(path, base_offset, max_entries)?,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Number of entries.
    pub fn entries(&self) -> usize {
        self.file.entries()
    }

    /// Whether another entry would exceed `segment.index.bytes` (the
    /// segment must roll first).
    pub fn is_full(&self) -> bool {
        self.file.is_full()
    }

    fn decode(&self, b: &[u8; ENTRY_SIZE]) -> OffsetPosition {
        OffsetPosition {
            offset: self
                .file
                .absolute(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            position: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    fn entry(&self, n: usize) -> io::Result<OffsetPosition> {
        Ok(self.decode(&self.file.read(n)?))
    }

    /// The last entry, if any.
    pub fn last_entry(&self) -> Result<Option<OffsetPosition>, LogError> {
        match self.entries() {
            0 => Ok(None),
            n => self.entry(n - 1).map(Some).map_err(|e| self.file.error(e)),
        }
    }

    /// Kafka's sanity check on load: the last entry lies inside the segment
    /// (offset not below the base, position not past the log's size).
    /// A failure means the index is rebuilt from the log.
    pub fn sanity_check(&self, log_size: u64) -> Result<(), String> {
        let base = self.file.base_offset();
        match self.last_entry() {
            Ok(None) => Ok(()),
            Ok(Some(e)) if e.offset < base => Err(format!(
                "last offset {} is below the base offset {base}",
                e.offset
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
        let rel = self.file.relative(offset)?;
        let mut b = [0u8; ENTRY_SIZE];
        b[..4].copy_from_slice(&rel.to_be_bytes());
        b[4..].copy_from_slice(&position.to_be_bytes());
        self.file.append(b)
    }

    /// Number of entries whose offset is `<= target`.
    fn count_at_or_below(&self, target: i64, n: usize) -> io::Result<usize> {
        self.file
            .partition_point(n, |b| self.decode(b).offset <= target)
    }

    /// The entry with the largest offset `<= target`, or the segment start
    /// `(base, 0)` when there is none. A scan from the returned position
    /// finds the batch holding `target`.
    pub fn lookup(&self, target: i64) -> Result<OffsetPosition, LogError> {
        let start = OffsetPosition {
            offset: self.file.base_offset(),
            position: 0,
        };
        let n = self.entries();
        match self.count_at_or_below(target, n) {
            Ok(0) => Ok(start),
            Ok(k) => match self.entry(k - 1) {
                Ok(e) => Ok(e),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(start),
                Err(e) => Err(self.file.error(e)),
            },
            // A concurrent truncation shrank the file under us: scanning
            // from the segment start is always correct, only slower.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(start),
            Err(e) => Err(self.file.error(e)),
        }
    }

    /// Removes every entry with an offset `>= offset`.
    pub fn truncate_to(&self, offset: i64) -> Result<(), LogError> {
        let n = self.entries();
        let keep = self
            .count_at_or_below(offset - 1, n)
            .map_err(|e| self.file.error(e))?;
        self.file.truncate_entries(keep)
    }

    /// Removes every entry.
    pub fn reset(&self) -> Result<(), LogError> {
        self.file.truncate_entries(0)
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
