//! One segment: `<base>.log` with its `.index` and `.timeindex` (Kafka's
//! `LogSegment`). The base offset is at most the first offset in the segment
//! and above every offset of the previous segment.
//!
//! Concurrency contract: every mutating method (`append`, `truncate_to`,
//! `recover`, `on_become_inactive`) is called by one thread at a time — the
//! owning [`PartitionLog`](super::PartitionLog)'s append lock guarantees it.
//! Readers need no lock: they read the committed `size` first and never look
//! past it, and the writer publishes `size` only after the bytes and index
//! entries are written.

use std::fs::{self, File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use bytes::{Bytes, BytesMut};

use super::batch::{self, frame, BatchHeader, Frame, HEADER_SIZE};
use super::config::LogConfig;
use super::error::LogError;
use super::index::OffsetIndex;
use super::leader_epoch::LeaderEpochCache;
use super::scan::{
    read_appending_at, read_fully_at, Scanned, Scanner, LOOKUP_CHUNK, RECOVERY_CHUNK,
};
use super::time_index::{TimeIndex, TimestampOffset, NO_TIMESTAMP};

/// Suffix of the batches file.
pub const LOG_SUFFIX: &str = "log";
/// Suffix of the offset index.
pub const INDEX_SUFFIX: &str = "index";
/// Suffix of the time index.
pub const TIME_INDEX_SUFFIX: &str = "timeindex";

/// `<dir>/<20-digit base offset>.<suffix>`, Kafka's file name.
pub fn file_path(dir: &Path, base_offset: i64, suffix: &str) -> PathBuf {
    dir.join(format!("{base_offset:020}.{suffix}"))
}

/// One batch as the log writes it: a (possibly rewritten) header and the
/// untouched rest of the batch, borrowed from the request's bytes.
pub struct OutBatch<'a> {
    /// The 61-byte header to write.
    pub header: [u8; HEADER_SIZE],
    /// Everything after the header.
    pub body: &'a [u8],
    /// Its first offset.
    pub base_offset: i64,
    /// Its last offset.
    pub last_offset: i64,
    /// Its max timestamp as written.
    pub max_timestamp: i64,
}

impl OutBatch<'_> {
    fn size(&self) -> usize {
        HEADER_SIZE + self.body.len()
    }
}

/// A failed append. `rolled_back` says whether the segment is as it was
/// before the call (if not, the log must go offline until recovered).
#[derive(Debug)]
pub struct WriteFailure {
    /// What failed.
    pub error: LogError,
    /// Whether the partial write was cut off again.
    pub rolled_back: bool,
}

/// A timestamp search result (ListOffsets by time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimestampAndOffset {
    /// The found record's timestamp (the batch's max timestamp when the
    /// batch is compressed).
    pub timestamp: i64,
    /// Its offset (the batch's base offset when compressed).
    pub offset: i64,
    /// The leader epoch of its batch, if it has one.
    pub leader_epoch: Option<i32>,
}

/// A segment and its indexes.
pub struct Segment {
    base_offset: i64,
    dir: PathBuf,
    log_path: PathBuf,
    log: File,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    /// Committed bytes: readers never look past this.
    size: AtomicU64,
    /// One past the last offset in the segment (`base_offset` if empty).
    next_offset: AtomicI64,
    /// Largest timestamp so far and the last offset of its batch.
    max_timestamp: Mutex<TimestampOffset>,
    /// Max timestamp of the first append, what `segment.ms` measures from.
    rolling_timestamp: AtomicI64,
    /// Wall-clock creation (or load) time, used when batches carry no time.
    created_ms: AtomicI64,
    roll_jitter_ms: u64,
    bytes_since_last_index_entry: AtomicUsize,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("base_offset", &self.base_offset)
            .field("size", &self.size())
            .field("next_offset", &self.next_offset())
            .finish()
    }
}

fn open_log(path: &Path, create_new: bool) -> Result<File, LogError> {
    // O_APPEND: every write lands at the end, and after a truncation the
    // next write follows the new end without any seek bookkeeping.
    let mut o = OpenOptions::new();
    o.read(true).append(true);
    if create_new {
        o.create(true);
    }
    o.open(path).map_err(|e| LogError::io(path, e))
}

impl Segment {
    fn new(
        dir: &Path,
        base_offset: i64,
        log: File,
        config: &LogConfig,
        now_ms: i64,
    ) -> Result<Segment, LogError> {
        let log_path = file_path(dir, base_offset, LOG_SUFFIX);
        let size = log
            .metadata()
            .map_err(|e| LogError::io(&log_path, e))?
            .len();
        let offset_index = OffsetIndex::open(
            &file_path(dir, base_offset, INDEX_SUFFIX),
            base_offset,
            config.max_offset_index_entries(),
        )?;
        let time_index = TimeIndex::open(
            &file_path(dir, base_offset, TIME_INDEX_SUFFIX),
            base_offset,
            config.max_time_index_entries(),
        )?;
        let roll_jitter_ms = if config.segment_jitter_ms > 0 {
            rand::random::<u64>() % config.segment_jitter_ms
        } else {
            0
        };
        Ok(Segment {
            base_offset,
            dir: dir.to_path_buf(),
            log_path,
            log,
            offset_index,
            time_index,
            size: AtomicU64::new(size),
            next_offset: AtomicI64::new(base_offset),
            max_timestamp: Mutex::new(TimestampOffset {
                timestamp: NO_TIMESTAMP,
                offset: base_offset,
            }),
            rolling_timestamp: AtomicI64::new(NO_TIMESTAMP),
            created_ms: AtomicI64::new(now_ms),
            roll_jitter_ms,
            bytes_since_last_index_entry: AtomicUsize::new(0),
        })
    }

    /// Creates a new, empty segment at `base_offset`, replacing any stale
    /// files of that name (only ever left by an interrupted deletion).
    pub fn create(
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        now_ms: i64,
    ) -> Result<Segment, LogError> {
        for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
            remove_if_exists(&file_path(dir, base_offset, suffix))?;
        }
        let log = open_log(&file_path(dir, base_offset, LOG_SUFFIX), true)?;
        Segment::new(dir, base_offset, log, config, now_ms)
    }

    /// Opens an existing segment. Its state (next offset, max timestamp) is
    /// not known until [`Segment::load_state`] or [`Segment::recover`].
    pub fn open(
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        now_ms: i64,
    ) -> Result<Segment, LogError> {
        let log = open_log(&file_path(dir, base_offset, LOG_SUFFIX), false)?;
        Segment::new(dir, base_offset, log, config, now_ms)
    }

    /// The first offset the segment may hold.
    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// Committed size in bytes.
    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    /// One past the segment's last offset.
    pub fn next_offset(&self) -> i64 {
        self.next_offset.load(Ordering::Acquire)
    }

    /// The `.log` file's path.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Largest timestamp so far and its batch's last offset.
    pub fn max_timestamp(&self) -> TimestampOffset {
        *self.max_timestamp.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Kafka's `largestTimestamp` for retention: the max timestamp, or the
    /// file's modification time when batches carry none.
    pub fn largest_timestamp(&self) -> i64 {
        let ts = self.max_timestamp().timestamp;
        if ts >= 0 {
            return ts;
        }
        fs::metadata(&self.log_path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .unwrap_or(NO_TIMESTAMP)
    }

    /// The max timestamp of the segment's first append (what `segment.ms`
    /// and `max.compaction.lag.ms` measure from); negative if unknown.
    pub fn first_batch_timestamp(&self) -> i64 {
        self.rolling_timestamp.load(Ordering::Acquire)
    }

    /// Calls `f` with every whole batch of the segment (header and bytes),
    /// in order, reading in large chunks: the log cleaner's scan. A batch
    /// that does not frame is an error (the segment is below the high
    /// watermark and was validated when written).
    pub fn for_each_batch(
        &self,
        mut f: impl FnMut(&BatchHeader, &[u8]) -> Result<(), LogError>,
    ) -> Result<(), LogError> {
        let mut scan = Scanner::new(&self.log, &self.log_path, 0, self.size(), RECOVERY_CHUNK);
        loop {
            match scan.next_batch()? {
                Scanned::Batch {
                    header,
                    bytes: Some(bytes),
                    ..
                } => f(&header, bytes)?,
                Scanned::End => return Ok(()),
                Scanned::Batch { position, .. }
                | Scanned::Incomplete { position }
                | Scanned::Corrupt { position, .. } => {
                    return Err(LogError::MalformedFile {
                        path: self.log_path.clone(),
                        reason: format!("no whole batch at position {position}"),
                    })
                }
            }
        }
    }

    /// Indexes pass Kafka's load-time checks.
    pub fn indexes_sane(&self) -> Result<(), String> {
        self.offset_index.sanity_check(self.size())?;
        self.time_index.sanity_check()
    }

    /// Loads next offset, max timestamp and the first batch's timestamp of
    /// a segment trusted to be intact (below the recovery point or after a
    /// clean shutdown): reads from the last index entry to the end only.
    /// An error means the segment is not intact and must be recovered.
    pub fn load_state(&self) -> Result<(), LogError> {
        let size = self.size();
        let start = self
            .offset_index
            .last_entry()?
            .map(|e| u64::from(e.position))
            .unwrap_or(0);
        let mut next = self
            .offset_index
            .last_entry()?
            .map(|e| e.offset + 1)
            .unwrap_or(self.base_offset);
        let mut scan = Scanner::new(&self.log, &self.log_path, start, size, LOOKUP_CHUNK);
        loop {
            match scan.next_header()? {
                Scanned::Batch { header, .. } => next = header.last_offset() + 1,
                Scanned::End => break,
                Scanned::Incomplete { position } | Scanned::Corrupt { position, .. } => {
                    return Err(LogError::MalformedFile {
                        path: self.log_path.clone(),
                        reason: format!("no whole batch at position {position}"),
                    })
                }
            }
        }
        self.next_offset.store(next, Ordering::Release);
        let last = self.time_index.last_entry();
        *self.max_timestamp.lock().unwrap_or_else(|p| p.into_inner()) = last;
        if size > 0 {
            let mut first = [0u8; HEADER_SIZE];
            let got = read_fully_at(&self.log, &mut first, 0)
                .map_err(|e| LogError::io(&self.log_path, e))?;
            if let Some(h) = BatchHeader::parse(&first[..got]) {
                self.rolling_timestamp
                    .store(h.max_timestamp, Ordering::Release);
            }
        }
        Ok(())
    }

    /// Kafka's `LogSegment.recover`: rebuilds both indexes from the log,
    /// validating every batch (framing, magic 2, CRC, offsets increasing);
    /// cuts the log at the first batch that fails and returns how many
    /// bytes were cut. Epochs seen are recorded in `epochs`.
    pub fn recover(
        &self,
        config: &LogConfig,
        epochs: &mut LeaderEpochCache,
    ) -> Result<u64, LogError> {
        self.offset_index.reset()?;
        self.time_index.reset()?;
        let file_len = self
            .log
            .metadata()
            .map_err(|e| LogError::io(&self.log_path, e))?
            .len();
        let mut scan = Scanner::new(&self.log, &self.log_path, 0, file_len, RECOVERY_CHUNK);
        let mut valid = 0u64;
        let mut next = self.base_offset;
        let mut max = TimestampOffset {
            timestamp: NO_TIMESTAMP,
            offset: self.base_offset,
        };
        let mut since_index = 0usize;
        let mut rolling = NO_TIMESTAMP;
        loop {
            let (position, header, bytes) = match scan.next_batch()? {
                Scanned::Batch {
                    position,
                    header,
                    bytes: Some(bytes),
                } => (position, header, bytes),
                Scanned::End => break,
                Scanned::Incomplete { position } => {
                    tracing::warn!(log = %self.log_path.display(), position, "incomplete batch at the end of the segment");
                    break;
                }
                Scanned::Corrupt { position, reason } => {
                    tracing::warn!(log = %self.log_path.display(), position, %reason, "corrupt batch, truncating");
                    break;
                }
                // `next_batch` always returns the bytes.
                Scanned::Batch { bytes: None, .. } => break,
            };
            let problem = if header.magic != batch::MAGIC_V2 {
                Some(format!("magic {}", header.magic))
            } else if !batch::crc_is_valid(bytes, &header) {
                Some("CRC mismatch".to_string())
            } else if header.base_offset < next || header.last_offset() < header.base_offset {
                Some(format!(
                    "offsets {}..={} do not follow {}",
                    header.base_offset,
                    header.last_offset(),
                    next - 1
                ))
            } else if header.last_offset() - self.base_offset > i64::from(i32::MAX) {
                Some("offset beyond the segment's relative range".to_string())
            } else {
                None
            };
            if let Some(problem) = problem {
                tracing::warn!(log = %self.log_path.display(), position, %problem, "invalid batch, truncating");
                break;
            }
            if rolling == NO_TIMESTAMP {
                rolling = header.max_timestamp;
            }
            if header.max_timestamp > max.timestamp {
                max = TimestampOffset {
                    timestamp: header.max_timestamp,
                    offset: header.last_offset(),
                };
            }
            if since_index > config.index_interval_bytes {
                self.offset_index
                    .append(header.last_offset(), position as u32)?;
                self.time_index
                    .maybe_append(max.timestamp, max.offset, true)?;
                since_index = 0;
            }
            since_index += header.size();
            epochs.assign(header.partition_leader_epoch, header.base_offset)?;
            valid = position + header.size() as u64;
            next = header.last_offset() + 1;
        }
        let truncated = file_len - valid;
        if truncated > 0 {
            self.log
                .set_len(valid)
                .map_err(|e| LogError::io(&self.log_path, e))?;
        }
        self.size.store(valid, Ordering::Release);
        self.next_offset.store(next, Ordering::Release);
        *self.max_timestamp.lock().unwrap_or_else(|p| p.into_inner()) = max;
        self.rolling_timestamp.store(rolling, Ordering::Release);
        self.bytes_since_last_index_entry
            .store(since_index, Ordering::Release);
        Ok(truncated)
    }

    /// Writes `batches` at the end of the segment in one vectored write,
    /// adds index entries every `index.interval.bytes`, then publishes the
    /// new size. On failure the log and indexes are cut back to where they
    /// were, so no reader ever sees part of this append.
    pub fn append(&self, batches: &[OutBatch<'_>], config: &LogConfig) -> Result<(), WriteFailure> {
        let start = self.size();
        let Some(first) = batches.first() else {
            return Ok(());
        };
        let first_offset = first.base_offset;
        let fail = |error: LogError| {
            let rolled_back = self.rollback(start, first_offset).is_ok();
            WriteFailure { error, rolled_back }
        };
        let mut slices = Vec::with_capacity(batches.len() * 2);
        for b in batches {
            slices.push(IoSlice::new(&b.header));
            slices.push(IoSlice::new(b.body));
        }
        write_all_vectored(&self.log, &mut slices)
            .map_err(|e| fail(LogError::io(&self.log_path, e)))?;

        let mut max = self.max_timestamp();
        let mut since = self.bytes_since_last_index_entry.load(Ordering::Acquire);
        let mut position = start;
        for b in batches {
            if b.max_timestamp > max.timestamp {
                max = TimestampOffset {
                    timestamp: b.max_timestamp,
                    offset: b.last_offset,
                };
            }
            if since > config.index_interval_bytes {
                self.offset_index
                    .append(b.last_offset, position as u32)
                    .map_err(fail)?;
                self.time_index
                    .maybe_append(max.timestamp, max.offset, false)
                    .map_err(fail)?;
                since = 0;
            }
            since += b.size();
            position += b.size() as u64;
        }
        if start == 0 {
            let rolling = batches
                .iter()
                .map(|b| b.max_timestamp)
                .max()
                .unwrap_or(NO_TIMESTAMP);
            self.rolling_timestamp.store(rolling, Ordering::Release);
        }
        *self.max_timestamp.lock().unwrap_or_else(|p| p.into_inner()) = max;
        self.bytes_since_last_index_entry
            .store(since, Ordering::Release);
        let last = batches.last().map_or(first.last_offset, |b| b.last_offset);
        self.size.store(position, Ordering::Release);
        self.next_offset.store(last + 1, Ordering::Release);
        Ok(())
    }

    /// Cuts the log back to `size` and drops index entries from `offset`.
    fn rollback(&self, size: u64, offset: i64) -> Result<(), LogError> {
        self.log
            .set_len(size)
            .map_err(|e| LogError::io(&self.log_path, e))?;
        self.offset_index.truncate_to(offset)?;
        self.time_index.truncate_to(offset)
    }

    /// The first batch whose last offset is `>= offset`, and its position,
    /// within the first `size` bytes: index lookup, then a header scan.
    pub fn find_batch(
        &self,
        offset: i64,
        size: u64,
    ) -> Result<Option<(u64, BatchHeader)>, LogError> {
        let start = u64::from(self.offset_index.lookup(offset)?.position).min(size);
        let mut scan = Scanner::new(&self.log, &self.log_path, start, size, LOOKUP_CHUNK);
        loop {
            match scan.next_header()? {
                Scanned::Batch {
                    position, header, ..
                } => {
                    if header.last_offset() >= offset {
                        return Ok(Some((position, header)));
                    }
                }
                // Committed bytes are whole batches; anything else is the
                // file shrinking under a concurrent truncation.
                Scanned::End | Scanned::Incomplete { .. } => return Ok(None),
                Scanned::Corrupt { position, reason } => {
                    return Err(LogError::MalformedFile {
                        path: self.log_path.clone(),
                        reason: format!("at position {position}: {reason}"),
                    })
                }
            }
        }
    }

    /// Whole batches from the one holding `offset`, at most `max_bytes`
    /// (but the first batch whole if `min_one_batch`), none whose last
    /// offset is `>= limit_offset`. `None` if no batch at or after `offset`
    /// is in this segment. The bytes come straight from the file.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        limit_offset: i64,
        min_one_batch: bool,
    ) -> Result<Option<Bytes>, LogError> {
        let size = self.size();
        let Some((position, first)) = self.find_batch(offset, size)? else {
            return Ok(None);
        };
        if first.last_offset() >= limit_offset {
            return Ok(Some(Bytes::new()));
        }
        let available = (size - position) as usize;
        let mut want = max_bytes.min(available);
        if min_one_batch && first.size() > want {
            want = first.size().min(available);
        }
        if want < first.size() {
            return Ok(Some(Bytes::new()));
        }
        let mut buf = BytesMut::with_capacity(want);
        read_appending_at(&self.log, &mut buf, want, position)
            .map_err(|e| LogError::io(&self.log_path, e))?;
        let mut cut = 0;
        while let Frame::Complete(h) = frame(&buf[cut..]) {
            if h.last_offset() >= limit_offset {
                break;
            }
            cut += h.size();
        }
        buf.truncate(cut);
        Ok(Some(buf.freeze()))
    }

    /// The first record at or after `starting_offset` with a timestamp
    /// `>= target` (Kafka's `findOffsetByTimestamp`): time index, offset
    /// index, then a scan. Records of uncompressed batches are looked at one
    /// by one; a compressed batch answers with its base offset and max
    /// timestamp (the log carries no codecs), which is never later than the
    /// exact answer, so a consumer seeking there misses nothing.
    pub fn find_offset_by_timestamp(
        &self,
        target: i64,
        starting_offset: i64,
    ) -> Result<Option<TimestampAndOffset>, LogError> {
        let size = self.size();
        let from = self.time_index.lookup(target)?.offset.max(starting_offset);
        let start = u64::from(self.offset_index.lookup(from)?.position).min(size);
        let mut scan = Scanner::new(&self.log, &self.log_path, start, size, LOOKUP_CHUNK);
        loop {
            let (header, bytes) = match scan.next_batch()? {
                Scanned::Batch {
                    header,
                    bytes: Some(bytes),
                    ..
                } => (header, bytes),
                Scanned::Corrupt { position, reason } => {
                    return Err(LogError::MalformedFile {
                        path: self.log_path.clone(),
                        reason: format!("at position {position}: {reason}"),
                    })
                }
                _ => return Ok(None),
            };
            if header.max_timestamp < target || header.last_offset() < starting_offset {
                continue;
            }
            let leader_epoch =
                (header.partition_leader_epoch >= 0).then_some(header.partition_leader_epoch);
            match batch::record_timestamps(bytes, &header) {
                Some(records) => {
                    if let Some(&(offset, timestamp)) = records
                        .iter()
                        .find(|(o, t)| *t >= target && *o >= starting_offset)
                    {
                        return Ok(Some(TimestampAndOffset {
                            timestamp,
                            offset,
                            leader_epoch,
                        }));
                    }
                }
                None => {
                    return Ok(Some(TimestampAndOffset {
                        timestamp: header.max_timestamp,
                        offset: header.base_offset.max(starting_offset),
                        leader_epoch,
                    }))
                }
            }
        }
    }

    /// Removes the batch holding `offset` and everything after it; returns
    /// the bytes removed. Next offset becomes that batch's base offset.
    pub fn truncate_to(&self, offset: i64, now_ms: i64) -> Result<u64, LogError> {
        let size = self.size();
        let Some((position, header)) = self.find_batch(offset, size)? else {
            return Ok(0);
        };
        self.offset_index.truncate_to(offset)?;
        self.time_index.truncate_to(offset)?;
        // Publish the smaller size before cutting the file so that no new
        // reader goes past it.
        self.size.store(position, Ordering::Release);
        self.next_offset
            .store(header.base_offset.max(self.base_offset), Ordering::Release);
        self.log
            .set_len(position)
            .map_err(|e| LogError::io(&self.log_path, e))?;
        // Kafka's approximation: the largest timestamp the time index still
        // knows (exact for every batch up to its last entry).
        *self.max_timestamp.lock().unwrap_or_else(|p| p.into_inner()) =
            self.time_index.last_entry();
        self.bytes_since_last_index_entry
            .store(0, Ordering::Release);
        if position == 0 {
            self.created_ms.store(now_ms, Ordering::Release);
            self.rolling_timestamp
                .store(NO_TIMESTAMP, Ordering::Release);
        }
        Ok(size - position)
    }

    /// Kafka's `shouldRoll`: the append of `incoming_bytes` would exceed
    /// `segment.bytes`, `segment.ms` has passed since the first batch (by
    /// the incoming batches' timestamp, or the wall clock when batches carry
    /// none), an index is full, or `max_offset` is out of the segment's
    /// 32-bit relative range. An empty segment only rolls for the offset
    /// range (rolling it for size would just recreate it).
    pub fn should_roll(
        &self,
        config: &LogConfig,
        incoming_bytes: u64,
        max_timestamp_in_batches: i64,
        max_offset: i64,
        now_ms: i64,
    ) -> bool {
        let size = self.size();
        let offset_overflow = max_offset - self.base_offset > i64::from(i32::MAX);
        if size == 0 {
            return offset_overflow;
        }
        size + incoming_bytes > config.segment_bytes
            || self.time_waited_for_roll(now_ms, max_timestamp_in_batches)
                > config.segment_ms.saturating_sub(self.roll_jitter_ms) as i64
            || self.offset_index.is_full()
            || self.time_index.is_full()
            || offset_overflow
    }

    fn time_waited_for_roll(&self, now_ms: i64, message_timestamp: i64) -> i64 {
        let rolling = self.rolling_timestamp.load(Ordering::Acquire);
        if rolling >= 0 && message_timestamp >= 0 {
            message_timestamp - rolling
        } else {
            now_ms - self.created_ms.load(Ordering::Acquire)
        }
    }

    /// Called when the segment stops being the active one (roll, close):
    /// writes the final time index entry so that the segment's largest
    /// timestamp survives a restart.
    pub fn on_become_inactive(&self) -> Result<(), LogError> {
        let max = self.max_timestamp();
        self.time_index
            .maybe_append(max.timestamp, max.offset, true)
    }

    /// fsyncs the log and both indexes.
    pub fn flush(&self) -> Result<(), LogError> {
        self.log
            .sync_data()
            .map_err(|e| LogError::io(&self.log_path, e))?;
        self.offset_index.flush()?;
        self.time_index.flush()
    }

    /// Removes the segment's files. Readers holding the segment keep
    /// reading from their open handle until they drop it.
    pub fn delete_files(&self) -> Result<(), LogError> {
        for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
            remove_if_exists(&file_path(&self.dir, self.base_offset, suffix))?;
        }
        Ok(())
    }
}

fn remove_if_exists(path: &Path) -> Result<(), LogError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LogError::io(path, e)),
    }
}

/// `write_all` for vectored writes (std's is unstable): loops over partial
/// writes, so a record set becomes one `writev` in the common case.
fn write_all_vectored(mut file: &File, mut slices: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
