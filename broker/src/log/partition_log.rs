//! One partition's log (Kafka's `UnifiedLog` + `LocalLog`): the directory
//! `<log.dir>/<topic>-<partition>/`, its segments, offsets and epochs.
//!
//! Locking, so that fetches never wait behind produces:
//!
//! * `append` (a mutex) serialises everything that changes the log: appends,
//!   rolls, truncation, retention, close. Batches are validated before it is
//!   taken; under it there is one `writev` and a few index writes.
//! * `segments` (an `RwLock<Arc<Vec<..>>>`) is only held long enough to clone
//!   the `Arc`; a reader then works on its snapshot with positional reads and
//!   no lock at all. A segment deleted meanwhile stays readable through the
//!   snapshot's open file handle.
//! * Publication order: segment bytes and indexes, then the segment's
//!   committed size, then the log end offset (atomic, then the watch
//!   channel). A reader loads the log end offset first, so everything below
//!   it is readable.
//! * fsync (`flush`) runs under its own lock, never under `append`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use bytes::Bytes;
use tokio::sync::watch;

use super::batch::{self, Origin, HEADER_SIZE};
use super::checkpoint;
use super::config::{LogConfig, TimestampType};
use super::error::LogError;
use super::leader_epoch::{EpochEntry, LeaderEpochCache};
use super::producer_state::{
    self, AbortedTxn, Checked, Marker, ProducerEntry, ProducerStateManager,
};
use super::records;
use super::recovery::{self, LoadHints};
use super::retention::{self, Reason};
use super::segment::{
    file_path, OutBatch, Segment, TimestampAndOffset, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX,
};

/// ListOffsets' "latest" timestamp (`ListOffsetsRequest.LATEST_TIMESTAMP`).
pub const LATEST_TIMESTAMP: i64 = -1;
/// ListOffsets' "earliest" timestamp.
pub const EARLIEST_TIMESTAMP: i64 = -2;
/// ListOffsets' "max timestamp" (KIP-734, ListOffsets v7).
pub const MAX_TIMESTAMP: i64 = -3;
/// ListOffsets' "earliest local" timestamp (tiered storage; here = earliest).
pub const EARLIEST_LOCAL_TIMESTAMP: i64 = -4;

#[cfg(test)]
#[path = "partition_log_tests.rs"]
mod tests;

/// The result of an append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset of the first record appended (ProduceResponse's `base_offset`).
    pub first_offset: i64,
    /// Offset of the last record appended.
    pub last_offset: i64,
    /// The broker time stamped on the batches under LogAppendTime, else -1
    /// (what ProduceResponse's `log_append_time_ms` carries).
    pub log_append_time: i64,
    /// The log start offset after the append (ProduceResponse v5+).
    pub log_start_offset: i64,
    /// Largest timestamp among the appended batches, as written.
    pub max_timestamp: i64,
    /// Number of batches appended.
    pub batch_count: usize,
    /// Number of records appended (from the batch headers).
    pub record_count: u64,
    /// Bytes appended.
    pub size_in_bytes: usize,
}

/// The result of a read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadInfo {
    /// Whole batches as stored (empty, not null, when there is nothing).
    pub records: Bytes,
    /// The log start offset when the read began.
    pub log_start_offset: i64,
    /// The log end offset when the read began.
    pub log_end_offset: i64,
}

const OPEN: u8 = 0;
const OFFLINE: u8 = 1;
const CLOSED: u8 = 2;

/// A partition's log. `Send + Sync`: share it as `Arc<PartitionLog>`.
///
/// Methods block on file I/O; from async code wrap the long ones (`open`,
/// `flush`, `apply_retention`, `close`, `delete`, large `read`s) in
/// `tokio::task::spawn_blocking`. `append_*` and small reads are short
/// (a write to the page cache) and may be called directly.
#[derive(Debug)]
pub struct PartitionLog {
    dir: PathBuf,
    config: RwLock<Arc<LogConfig>>,
    /// Serialises every change to the log.
    append: Mutex<()>,
    segments: RwLock<Arc<Vec<Arc<Segment>>>>,
    epochs: Mutex<LeaderEpochCache>,
    /// Idempotent and transactional producers; changed only under `append`.
    producers: Mutex<ProducerStateManager>,
    flush_lock: Mutex<()>,
    log_start_offset: AtomicI64,
    log_end_offset: AtomicI64,
    recovery_point: AtomicI64,
    last_flush_ms: AtomicI64,
    unflushed: AtomicU64,
    state: AtomicU8,
    end_tx: watch::Sender<i64>,
    /// Counts truncations, so the cleaner can tell that segments it read
    /// were cut (and maybe refilled) before its swap.
    truncations: AtomicU64,
}

pub use runnel_common::clock::now_ms;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves plain data behind, still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl PartitionLog {
    /// Opens the partition directory `dir` (created if absent) knowing
    /// nothing about how the broker stopped: every segment is re-scanned.
    /// Prefer [`LogDir::open_partition`](super::LogDir::open_partition),
    /// which passes the directory's checkpoints so a clean restart is fast.
    pub fn open(dir: &Path, config: LogConfig) -> Result<PartitionLog, LogError> {
        PartitionLog::open_with(dir, config, LoadHints::default())
    }

    /// Opens `dir` with what the log directory's checkpoints say about it.
    pub fn open_with(
        dir: &Path,
        config: LogConfig,
        hints: LoadHints,
    ) -> Result<PartitionLog, LogError> {
        config.validate()?;
        let now = now_ms();
        let loaded = recovery::load(dir, &config, hints, now)?;
        let (end_tx, _) = watch::channel(loaded.log_end_offset);
        tracing::debug!(
            dir = %dir.display(),
            segments = loaded.segments.len(),
            log_start_offset = loaded.log_start_offset,
            log_end_offset = loaded.log_end_offset,
            "opened partition log"
        );
        let log = PartitionLog {
            dir: dir.to_path_buf(),
            config: RwLock::new(Arc::new(config)),
            append: Mutex::new(()),
            segments: RwLock::new(Arc::new(loaded.segments)),
            epochs: Mutex::new(loaded.epochs),
            producers: Mutex::new(ProducerStateManager::default()),
            flush_lock: Mutex::new(()),
            log_start_offset: AtomicI64::new(loaded.log_start_offset),
            log_end_offset: AtomicI64::new(loaded.log_end_offset),
            recovery_point: AtomicI64::new(loaded.recovery_point),
            last_flush_ms: AtomicI64::new(now),
            unflushed: AtomicU64::new(0),
            state: AtomicU8::new(OPEN),
            end_tx,
            truncations: AtomicU64::new(0),
        };
        {
            let _state = lock(&log.append);
            log.rebuild_producer_state_locked()?;
        }
        Ok(log)
    }

    /// Rebuilds the producer state for the whole log: the newest snapshot
    /// at or below the log end, then every batch after it. Caller holds the
    /// append lock.
    fn rebuild_producer_state_locked(&self) -> Result<(), LogError> {
        let start = self.log_start_offset();
        let end = self.log_end_offset();
        producer_state::ProducerStateManager::delete_snapshots_above(&self.dir, end)?;
        let mut state = match ProducerStateManager::load_snapshot(&self.dir, end)? {
            Some(s) if s.end_offset() >= start => s,
            _ => {
                let mut s = ProducerStateManager::default();
                s.reset(start);
                s
            }
        };
        let mut offset = state.end_offset();
        let mut scanned = 0usize;
        while offset < end {
            let read = self.read(offset, 4 << 20, None, true)?;
            if read.records.is_empty() {
                break;
            }
            let mut pos = 0;
            while let batch::Frame::Complete(h) = batch::frame(&read.records[pos..]) {
                let bytes = &read.records[pos..pos + h.size()];
                let marker = if h.is_control() {
                    producer_state::parse_marker(bytes)
                } else {
                    None
                };
                state.apply(&h, marker);
                offset = h.next_offset();
                pos += h.size();
                scanned += 1;
            }
            if pos == 0 {
                break;
            }
        }
        state.truncate_head(start);
        if scanned > 0 {
            tracing::debug!(dir = %self.dir.display(), batches = scanned, "rebuilt producer state from the log");
        }
        *lock(&self.producers) = state;
        Ok(())
    }

    /// Writes a producer state snapshot at the current log end. Caller
    /// holds the append lock.
    fn snapshot_producers_locked(&self) -> Result<(), LogError> {
        let producers = lock(&self.producers);
        producers.write_snapshot(&self.dir)
    }

    /// The last stable offset given the partition's high watermark: below
    /// it every transaction is decided (read_committed consumers stop here).
    pub fn last_stable_offset(&self, high_watermark: i64) -> i64 {
        lock(&self.producers).last_stable_offset(high_watermark)
    }

    /// Aborted transactions overlapping `[from, to)` (Fetch's
    /// `aborted_transactions` for read_committed consumers).
    pub fn aborted_transactions(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        lock(&self.producers).aborted_between(from, to)
    }

    /// Every producer this partition knows (DescribeProducers).
    pub fn producer_entries(&self) -> Vec<ProducerEntry> {
        lock(&self.producers).producers().cloned().collect()
    }

    /// Forgets producers idle for `expiration_ms` (`producer.id.expiration.ms`).
    pub fn remove_expired_producers(&self, now_ms: i64, expiration_ms: i64) -> usize {
        let _state = lock(&self.append);
        lock(&self.producers).remove_expired(now_ms, expiration_ms)
    }

    /// Writes a transaction marker (a control batch) as the leader in
    /// `leader_epoch`, after checking it against the producer's epoch and
    /// the coordinator epoch of its last marker.
    pub fn append_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        marker: Marker,
        leader_epoch: i32,
    ) -> Result<AppendInfo, LogError> {
        self.check_open()?;
        let now = now_ms();
        let records = producer_state::marker_batch(producer_id, producer_epoch, marker, now)?;
        let config = self.config();
        let valid = batch::validate_batches(&records, usize::MAX, Origin::Replication, false)?;
        let state = lock(&self.append);
        self.check_open()?;
        lock(&self.producers).check_marker(
            producer_id,
            producer_epoch,
            marker.coordinator_epoch,
        )?;
        let base = self.log_end_offset();
        let out: Vec<OutBatch<'_>> = valid
            .iter()
            .map(|v| OutBatch {
                header: batch::leader_header(
                    &records,
                    v,
                    base,
                    leader_epoch,
                    TimestampType::CreateTime,
                    now,
                ),
                body: &records[v.position + HEADER_SIZE..v.position + v.header.size()],
                base_offset: base,
                last_offset: base,
                max_timestamp: v.header.max_timestamp,
            })
            .collect();
        if leader_epoch >= 0 {
            lock(&self.epochs).assign(leader_epoch, base)?;
        }
        let mut info = self.append_locked(&config, &out, now)?;
        if let Some(h) = out
            .first()
            .and_then(|b| batch::BatchHeader::parse(&b.header))
        {
            lock(&self.producers).apply(&h, Some(marker));
        }
        drop(state);
        info.record_count = 1;
        self.after_append(&config, 1)?;
        Ok(info)
    }

    /// The partition directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The current configuration.
    pub fn config(&self) -> Arc<LogConfig> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the configuration (IncrementalAlterConfigs); applies from
    /// the next append / retention run.
    pub fn update_config(&self, config: LogConfig) -> Result<(), LogError> {
        config.validate()?;
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
        Ok(())
    }

    pub(super) fn snapshot(&self) -> Arc<Vec<Arc<Segment>>> {
        self.segments
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_segments(&self, segments: Vec<Arc<Segment>>) {
        *self.segments.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(segments);
    }

    fn check_open(&self) -> Result<(), LogError> {
        match self.state.load(Ordering::Acquire) {
            OPEN => Ok(()),
            OFFLINE => Err(LogError::Offline(self.dir.clone())),
            _ => Err(LogError::Closed(self.dir.clone())),
        }
    }

    /// The first offset still in the log.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset.load(Ordering::Acquire)
    }

    /// The offset the next record will get.
    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset.load(Ordering::Acquire)
    }

    /// Everything below this offset is known to be fsynced.
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point.load(Ordering::Acquire)
    }

    /// Total bytes of all segments.
    pub fn size_in_bytes(&self) -> u64 {
        self.snapshot().iter().map(|s| s.size()).sum()
    }

    /// Number of segments (the active one included).
    pub fn segment_count(&self) -> usize {
        self.snapshot().len()
    }

    /// A channel whose value is the log end offset, updated after every
    /// append and truncation: a long-poll fetch waits on `changed()`.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.end_tx.subscribe()
    }

    fn publish_end(&self, end: i64) {
        self.log_end_offset.store(end, Ordering::Release);
        self.end_tx.send_replace(end);
    }

    /// Appends a produce request's record set as the leader in
    /// `leader_epoch`, stamping with the system clock. See
    /// [`PartitionLog::append_as_leader_at`].
    pub fn append_as_leader(
        &self,
        records: Bytes,
        leader_epoch: i32,
    ) -> Result<AppendInfo, LogError> {
        self.append_as_leader_at(records, leader_epoch, now_ms())
    }

    /// Appends a produce request's record set (one or more v2 batches, as
    /// received) as the leader: validates every batch header and CRC
    /// (see [`batch::validate_batches`] for the rules and error codes),
    /// assigns offsets from the log end by rewriting each batch's base offset
    /// and leader epoch, stamps `now_ms` under LogAppendTime, and writes the
    /// batches (records untouched, compressed ones still compressed). Rolls
    /// first if the active segment is due. All or nothing: on an error
    /// nothing of `records` is readable.
    pub fn append_as_leader_at(
        &self,
        records: Bytes,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.check_open()?;
        let config = self.config();
        let log_append = config.message_timestamp_type == TimestampType::LogAppendTime;
        let valid = batch::validate_batches(
            &records,
            config.max_message_bytes,
            Origin::Client,
            log_append,
        )?;
        if config.cleanup_compact {
            self.check_keys(&records, &valid)?;
        }
        let state = lock(&self.append);
        self.check_open()?;
        if valid.iter().any(|v| v.header.producer_id >= 0) {
            let headers: Vec<batch::BatchHeader> = valid.iter().map(|v| v.header).collect();
            if let Checked::Duplicate(d) = lock(&self.producers).check(&headers)? {
                // A retry of a batch already written: its original offsets,
                // nothing appended (Kafka's duplicate handling).
                drop(state);
                return Ok(AppendInfo {
                    first_offset: d.first_offset,
                    last_offset: d.last_offset,
                    log_append_time: -1,
                    log_start_offset: self.log_start_offset(),
                    max_timestamp: d.timestamp,
                    batch_count: 0,
                    record_count: 0,
                    size_in_bytes: 0,
                });
            }
        }
        let mut next = self.log_end_offset();
        let mut out = Vec::with_capacity(valid.len());
        for v in &valid {
            let header = batch::leader_header(
                &records,
                v,
                next,
                leader_epoch,
                config.message_timestamp_type,
                now_ms,
            );
            let last = next + i64::from(v.header.last_offset_delta);
            out.push(OutBatch {
                header,
                body: &records[v.position + HEADER_SIZE..v.position + v.header.size()],
                base_offset: next,
                last_offset: last,
                max_timestamp: if log_append {
                    now_ms
                } else {
                    v.header.max_timestamp
                },
            });
            next = last + 1;
        }
        if leader_epoch >= 0 {
            if let Some(first) = out.first() {
                lock(&self.epochs).assign(leader_epoch, first.base_offset)?;
            }
        }
        let mut info = self.append_locked(&config, &out, now_ms)?;
        self.apply_producer_batches(&out, |_| None);
        drop(state);
        info.log_append_time = if log_append { now_ms } else { -1 };
        info.record_count = valid
            .iter()
            .map(|v| v.header.records_count.max(0) as u64)
            .sum();
        self.after_append(&config, info.record_count)?;
        Ok(info)
    }

    /// Kafka's rule for a compacted topic: every record has a key (the
    /// cleaner could never supersede one without). The only produce path
    /// that decodes records; only compacted topics take it.
    fn check_keys(&self, records: &[u8], valid: &[batch::ValidBatch]) -> Result<(), LogError> {
        for v in valid {
            let bytes = &records[v.position..v.position + v.header.size()];
            if records::first_keyless(bytes, &v.header)?.is_some() {
                let name = self
                    .dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                return Err(LogError::InvalidRecord(format!(
                    "Compacted topic cannot accept message without key in topic partition {name}."
                )));
            }
        }
        Ok(())
    }

    /// Appends batches fetched from the leader, keeping their offsets and
    /// epochs: framing and CRC are checked, `max.message.bytes` is not (the
    /// leader already accepted them), and the first offset must not be below
    /// the log end, offsets must increase ([`LogError::OffsetsOutOfOrder`]).
    /// Gaps are allowed, as in Kafka.
    pub fn append_as_follower(&self, records: Bytes) -> Result<AppendInfo, LogError> {
        self.check_open()?;
        let config = self.config();
        let valid = batch::validate_batches(&records, usize::MAX, Origin::Replication, false)?;
        let state = lock(&self.append);
        self.check_open()?;
        let mut expected = self.log_end_offset();
        let mut out = Vec::with_capacity(valid.len());
        for v in &valid {
            let h = &v.header;
            if h.base_offset < expected {
                return Err(LogError::OffsetsOutOfOrder(format!(
                    "batch at offset {} does not follow offset {}",
                    h.base_offset,
                    expected - 1
                )));
            }
            let mut header = [0u8; HEADER_SIZE];
            header.copy_from_slice(&records[v.position..v.position + HEADER_SIZE]);
            out.push(OutBatch {
                header,
                body: &records[v.position + HEADER_SIZE..v.position + h.size()],
                base_offset: h.base_offset,
                last_offset: h.last_offset(),
                max_timestamp: h.max_timestamp,
            });
            expected = h.last_offset() + 1;
        }
        {
            let mut epochs = lock(&self.epochs);
            for v in &valid {
                epochs.assign(v.header.partition_leader_epoch, v.header.base_offset)?;
            }
        }
        let now = now_ms();
        let mut info = self.append_locked(&config, &out, now)?;
        self.apply_producer_batches(&out, |i| {
            let v = &valid[i];
            if v.header.is_control() {
                producer_state::parse_marker(&records[v.position..v.position + v.header.size()])
            } else {
                None
            }
        });
        drop(state);
        info.record_count = valid
            .iter()
            .map(|v| v.header.records_count.max(0) as u64)
            .sum();
        self.after_append(&config, info.record_count)?;
        Ok(info)
    }

    /// Applies written batches to the producer state (`marker(i)`: the
    /// marker of the i-th batch if it is a control batch). Caller holds the
    /// append lock.
    fn apply_producer_batches(
        &self,
        out: &[OutBatch<'_>],
        marker: impl Fn(usize) -> Option<Marker>,
    ) {
        let mut producers = lock(&self.producers);
        for (i, b) in out.iter().enumerate() {
            if let Some(h) = batch::BatchHeader::parse(&b.header) {
                producers.apply(&h, if h.is_control() { marker(i) } else { None });
            }
        }
    }

    /// Rolls if due, writes, publishes. Caller holds the append lock.
    fn append_locked(
        &self,
        config: &LogConfig,
        out: &[OutBatch<'_>],
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        let (Some(first), Some(last)) = (out.first(), out.last()) else {
            return Err(LogError::InvalidRecord("no record batch to append".into()));
        };
        let bytes: usize = out.iter().map(|b| HEADER_SIZE + b.body.len()).sum();
        let max_timestamp = out.iter().map(|b| b.max_timestamp).max().unwrap_or(-1);
        let mut active = self.active()?;
        if active.should_roll(
            config,
            bytes as u64,
            max_timestamp,
            last.last_offset,
            now_ms,
        ) || first.base_offset - active.base_offset() > i64::from(i32::MAX)
        {
            active = self.roll_locked(first.base_offset, config, now_ms)?;
        }
        if let Err(failure) = active.append(out, config) {
            if !failure.rolled_back {
                tracing::error!(dir = %self.dir.display(), error = %failure.error, "append failed and could not be undone; log offline");
                self.state.store(OFFLINE, Ordering::Release);
            }
            return Err(failure.error);
        }
        self.publish_end(last.last_offset + 1);
        Ok(AppendInfo {
            first_offset: first.base_offset,
            last_offset: last.last_offset,
            log_append_time: -1,
            log_start_offset: self.log_start_offset(),
            max_timestamp,
            batch_count: out.len(),
            record_count: 0,
            size_in_bytes: bytes,
        })
    }

    /// Applies `flush.messages` after an append, outside the append lock.
    fn after_append(&self, config: &LogConfig, records: u64) -> Result<(), LogError> {
        let unflushed = self.unflushed.fetch_add(records, Ordering::AcqRel) + records;
        if unflushed >= config.flush_interval_messages {
            self.flush()?;
        }
        Ok(())
    }

    fn active(&self) -> Result<Arc<Segment>, LogError> {
        self.snapshot()
            .last()
            .cloned()
            .ok_or_else(|| LogError::Offline(self.dir.clone()))
    }

    /// Starts a new active segment at `base` (the next offset to be
    /// written). Caller holds the append lock.
    fn roll_locked(
        &self,
        base: i64,
        config: &LogConfig,
        now_ms: i64,
    ) -> Result<Arc<Segment>, LogError> {
        let segs = self.snapshot();
        let mut list: Vec<Arc<Segment>> = segs.as_ref().clone();
        if let Some(active) = list.last() {
            if active.size() == 0 {
                if active.base_offset() == base {
                    return Ok(active.clone());
                }
                // An empty active segment at another base (a follower
                // jumping over a gap): replace it.
                let stale = list.pop();
                if let Some(stale) = stale {
                    stale.delete_files()?;
                }
            } else {
                active.on_become_inactive()?;
                // The state as of the new segment's base: recovery after a
                // crash scans only from here.
                if self.log_end_offset() == base {
                    self.snapshot_producers_locked()?;
                }
            }
        }
        let segment = Arc::new(Segment::create(&self.dir, base, config, now_ms)?);
        list.push(segment.clone());
        self.set_segments(list);
        tracing::debug!(dir = %self.dir.display(), base, "rolled new segment");
        Ok(segment)
    }

    /// Rolls the active segment if `segment.ms` has passed since its first
    /// batch (by the wall clock `now_ms`), even without an append, so that an
    /// idle partition's data becomes eligible for retention. Returns whether
    /// it rolled.
    pub fn roll_if_due(&self, now_ms: i64) -> Result<bool, LogError> {
        self.check_open()?;
        let config = self.config();
        let _state = lock(&self.append);
        let active = self.active()?;
        if !active.should_roll(&config, 0, now_ms, active.next_offset(), now_ms) {
            return Ok(false);
        }
        let end = self.log_end_offset();
        self.roll_locked(end, &config, now_ms)?;
        Ok(true)
    }

    /// Reads whole batches starting with the one that holds `offset`: at
    /// most `max_bytes`, except that with `min_one_batch` the first batch is
    /// returned whole even if larger (Kafka's rule, so a consumer never gets
    /// stuck), and nothing at or above `max_offset` (the high watermark for
    /// consumers; `None` reads to the log end, for followers). At most one
    /// segment is read per call. `offset == log end` (or `>= max_offset`)
    /// gives empty `records`; outside `[log start, log end]` is
    /// [`LogError::OffsetOutOfRange`].
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        max_offset: Option<i64>,
        min_one_batch: bool,
    ) -> Result<ReadInfo, LogError> {
        self.check_open()?;
        let log_end_offset = self.log_end_offset();
        let log_start_offset = self.log_start_offset();
        if offset < log_start_offset || offset > log_end_offset {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start_offset,
                log_end_offset,
            });
        }
        let mut info = ReadInfo {
            records: Bytes::new(),
            log_start_offset,
            log_end_offset,
        };
        let limit = max_offset.map_or(log_end_offset, |m| m.min(log_end_offset));
        if offset >= limit {
            return Ok(info);
        }
        let segs = self.snapshot();
        let first = segs
            .partition_point(|s| s.base_offset() <= offset)
            .saturating_sub(1);
        for seg in &segs[first..] {
            if let Some(records) = seg.read(offset, max_bytes, limit, min_one_batch)? {
                info.records = records;
                return Ok(info);
            }
        }
        Ok(info)
    }

    /// ListOffsets. `timestamp >= 0`: the first record whose timestamp is
    /// at or after it, at or above the log start offset, or `None` if there
    /// is none (answer offset -1). Special values: [`EARLIEST_TIMESTAMP`]
    /// (-2) and [`EARLIEST_LOCAL_TIMESTAMP`] (-4) give the log start offset,
    /// [`LATEST_TIMESTAMP`] (-1) the log end offset — a leader answering a
    /// consumer must use the high watermark instead, which only it knows —
    /// and [`MAX_TIMESTAMP`] (-3) the record with the largest timestamp.
    /// Timestamps of special answers are -1, as Kafka's.
    pub fn offset_for_timestamp(
        &self,
        timestamp: i64,
    ) -> Result<Option<TimestampAndOffset>, LogError> {
        self.check_open()?;
        let special = |offset: i64| {
            let leader_epoch = lock(&self.epochs).epoch_for_offset(offset);
            Ok(Some(TimestampAndOffset {
                timestamp: -1,
                offset,
                leader_epoch,
            }))
        };
        match timestamp {
            EARLIEST_TIMESTAMP | EARLIEST_LOCAL_TIMESTAMP => {
                return special(self.log_start_offset())
            }
            LATEST_TIMESTAMP => return special(self.log_end_offset()),
            _ => {}
        }
        let segs = self.snapshot();
        let start = self.log_start_offset();
        if timestamp == MAX_TIMESTAMP {
            let Some(seg) = segs.iter().max_by_key(|s| s.max_timestamp().timestamp) else {
                return Ok(None);
            };
            let max = seg.max_timestamp().timestamp;
            if max < 0 {
                return Ok(None);
            }
            return seg.find_offset_by_timestamp(max, start);
        }
        if timestamp < 0 {
            return Ok(None);
        }
        for seg in segs.iter() {
            if seg.max_timestamp().timestamp >= timestamp {
                if let Some(found) = seg.find_offset_by_timestamp(timestamp, start)? {
                    return Ok(Some(found));
                }
            }
        }
        Ok(None)
    }

    /// fsyncs everything up to the log end offset (log and indexes) and
    /// moves the recovery point there. Does not hold the append lock, so
    /// produces continue meanwhile.
    pub fn flush(&self) -> Result<(), LogError> {
        self.check_open()?;
        let end = self.log_end_offset();
        let unflushed = self.unflushed.load(Ordering::Acquire);
        self.flush_up_to(end)?;
        self.unflushed.fetch_sub(unflushed, Ordering::AcqRel);
        Ok(())
    }

    fn flush_up_to(&self, offset: i64) -> Result<(), LogError> {
        let _guard = lock(&self.flush_lock);
        let from = self.recovery_point();
        if offset <= from {
            return Ok(());
        }
        let segs = self.snapshot();
        for (i, seg) in segs.iter().enumerate() {
            let upper = segs.get(i + 1).map_or(i64::MAX, |s| s.base_offset());
            if upper > from && seg.base_offset() < offset {
                seg.flush()?;
            }
        }
        self.recovery_point.fetch_max(offset, Ordering::AcqRel);
        self.last_flush_ms.store(now_ms(), Ordering::Release);
        Ok(())
    }

    /// The periodic flush (call every second or so from a background
    /// task, in `spawn_blocking`): fsyncs segments that were rolled since the
    /// last flush (Kafka flushes a segment once it stops being active, which
    /// is what advances the recovery point by default), and everything when
    /// `flush.ms` has passed since the last flush.
    pub fn maybe_flush(&self, now_ms: i64) -> Result<(), LogError> {
        self.check_open()?;
        let config = self.config();
        if let Some(interval) = config.flush_interval_ms {
            let due = now_ms - self.last_flush_ms.load(Ordering::Acquire) >= interval as i64;
            if due && self.recovery_point() < self.log_end_offset() {
                return self.flush();
            }
        }
        let active_base = self.active()?.base_offset();
        if self.recovery_point() < active_base {
            self.flush_up_to(active_base)?;
        }
        Ok(())
    }

    /// Removes every record at or above `offset` (follower truncation after
    /// OffsetsForLeaderEpoch). A no-op at or beyond the log end. The batch
    /// holding `offset` goes whole, so the new log end may be below
    /// `offset` if it fell inside a batch. Below the first segment, the log
    /// is emptied and restarted at `offset`.
    pub fn truncate_to(&self, offset: i64) -> Result<(), LogError> {
        self.check_open()?;
        let config = self.config();
        let _state = lock(&self.append);
        if offset >= self.log_end_offset() {
            return Ok(());
        }
        self.truncations.fetch_add(1, Ordering::AcqRel);
        if offset < 0 {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start_offset: self.log_start_offset(),
                log_end_offset: self.log_end_offset(),
            });
        }
        let segs = self.snapshot();
        if segs.first().is_none_or(|s| offset < s.base_offset()) {
            return self.truncate_fully_locked(offset, &config);
        }
        let (keep, remove): (Vec<_>, Vec<_>) = segs
            .iter()
            .cloned()
            .partition(|s| s.base_offset() <= offset);
        let Some(active) = keep.last().cloned() else {
            return self.truncate_fully_locked(offset, &config);
        };
        self.set_segments(keep);
        let now = now_ms();
        let result = (|| {
            for seg in &remove {
                seg.delete_files()?;
            }
            active.truncate_to(offset, now)
        })();
        let end = active.next_offset();
        self.publish_end(end);
        self.recovery_point.fetch_min(end, Ordering::AcqRel);
        self.log_start_offset.fetch_min(end, Ordering::AcqRel);
        if let Err(e) = result {
            self.state.store(OFFLINE, Ordering::Release);
            return Err(e);
        }
        lock(&self.epochs).truncate_from_end(end)?;
        self.rebuild_producer_state_locked()
    }

    /// Empties the log and restarts it at `offset` (a follower whose log
    /// ends below the leader's start).
    pub fn truncate_fully_and_start_at(&self, offset: i64) -> Result<(), LogError> {
        self.check_open()?;
        let config = self.config();
        let _state = lock(&self.append);
        self.truncate_fully_locked(offset, &config)
    }

    fn truncate_fully_locked(&self, offset: i64, config: &LogConfig) -> Result<(), LogError> {
        self.truncations.fetch_add(1, Ordering::AcqRel);
        let old = self.snapshot();
        let segment = Segment::create(&self.dir, offset.max(0), config, now_ms());
        let segment = match segment {
            Ok(s) => Arc::new(s),
            Err(e) => return Err(e),
        };
        // A segment at `offset` was just recreated empty; the others go.
        for seg in old
            .iter()
            .filter(|s| s.base_offset() != segment.base_offset())
        {
            seg.delete_files()?;
        }
        self.set_segments(vec![segment]);
        self.log_start_offset.store(offset, Ordering::Release);
        self.recovery_point.store(offset, Ordering::Release);
        self.publish_end(offset);
        ProducerStateManager::delete_snapshots_above(&self.dir, -1)?;
        lock(&self.producers).reset(offset);
        lock(&self.epochs).clear()
    }

    /// Retention (call every `log.retention.check.interval.ms`, 5 min by
    /// default, in `spawn_blocking`): deletes the oldest segments that are
    /// wholly below the log start offset, then those over `retention.bytes`,
    /// then those older than `retention.ms` by their largest timestamp —
    /// never a segment holding offsets at or above `high_watermark` (pass
    /// the log end offset when there is no replication). If every segment is
    /// to go, a new empty active segment is rolled first, so the active
    /// segment itself is never deleted. Advances the log start offset;
    /// returns the number of segments deleted.
    pub fn apply_retention(&self, now_ms: i64, high_watermark: i64) -> Result<usize, LogError> {
        self.check_open()?;
        let config = self.config();
        let _state = lock(&self.append);
        let mut deleted = 0;
        for reason in [Reason::LogStartOffset, Reason::Size, Reason::Time] {
            let segs = self.snapshot();
            let view = retention::View {
                segments: &segs,
                log_end_offset: self.log_end_offset(),
                log_start_offset: self.log_start_offset(),
                high_watermark,
            };
            let n = retention::deletable(&view, &config, reason, now_ms);
            if n == 0 {
                continue;
            }
            if n == segs.len() {
                self.roll_locked(self.log_end_offset(), &config, now_ms)?;
            }
            self.delete_oldest_locked(n)?;
            deleted += n;
            tracing::info!(dir = %self.dir.display(), ?reason, segments = n, "deleted segments by retention");
        }
        Ok(deleted)
    }

    fn delete_oldest_locked(&self, n: usize) -> Result<(), LogError> {
        let segs = self.snapshot();
        let n = n.min(segs.len().saturating_sub(1));
        let (gone, keep) = segs.split_at(n);
        let Some(first) = keep.first() else {
            return Ok(());
        };
        let new_start = self.log_start_offset().max(first.base_offset());
        self.set_segments(keep.to_vec());
        self.log_start_offset.store(new_start, Ordering::Release);
        lock(&self.epochs).truncate_from_start(new_start)?;
        lock(&self.producers).truncate_head(new_start);
        for seg in gone {
            seg.delete_files()?;
        }
        Ok(())
    }

    /// How many truncations the log has had since it was opened.
    pub(super) fn truncations(&self) -> u64 {
        self.truncations.load(Ordering::Acquire)
    }

    /// The log cleaner's swap: replaces `old` (consecutive segments) by the
    /// cleaned segment whose files were written in `staged` (a directory
    /// holding `<base>.log` and its indexes for `old[0]`'s base), or just
    /// removes them when `staged` is `None` (nothing survived). Returns
    /// `false`, changing nothing, when `old` is no longer in the log or the
    /// log was truncated since the cleaner read `truncations` (retention or
    /// a truncation got there first).
    ///
    /// Crash safety as Kafka's: the staged files become `<base>.*.swap`
    /// (the log file last: from then on the clean counts as done), the old
    /// segments' files go, the swap files take the final names. Loading a
    /// partition finishes a swap that was interrupted at any point (see
    /// [`recovery`]).
    pub(super) fn swap_cleaned(
        &self,
        old: &[Arc<Segment>],
        staged: Option<&Path>,
        truncations: u64,
    ) -> Result<bool, LogError> {
        self.check_open()?;
        let config = self.config();
        let _state = lock(&self.append);
        self.check_open()?;
        if self.truncations() != truncations {
            return Ok(false);
        }
        let segs = self.snapshot();
        let (Some(first), Some(last)) = (old.first(), old.last()) else {
            return Ok(false);
        };
        let Some(at) = segs.iter().position(|s| Arc::ptr_eq(s, first)) else {
            return Ok(false);
        };
        let still_there = segs.len() > at + old.len()
            && segs[at..at + old.len()]
                .iter()
                .zip(old)
                .all(|(a, b)| Arc::ptr_eq(a, b));
        if !still_there || Arc::ptr_eq(last, &segs[segs.len() - 1]) {
            return Ok(false);
        }
        let base = first.base_offset();
        let dir_err = |e| LogError::io(&self.dir, e);
        if let Some(staged) = staged {
            for suffix in [INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX] {
                let to = recovery::swap_path(&self.dir, base, suffix);
                let from = file_path(staged, base, suffix);
                fs::rename(&from, &to).map_err(|e| LogError::io(&from, e))?;
            }
            checkpoint::sync_dir(&self.dir).map_err(dir_err)?;
        }
        for seg in old {
            seg.delete_files()?;
        }
        let mut replacement = Vec::new();
        if staged.is_some() {
            for suffix in [INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX] {
                let from = recovery::swap_path(&self.dir, base, suffix);
                fs::rename(&from, file_path(&self.dir, base, suffix))
                    .map_err(|e| LogError::io(&from, e))?;
            }
            let seg = Segment::open(&self.dir, base, &config, now_ms())?;
            seg.load_state()?;
            replacement.push(Arc::new(seg));
        }
        checkpoint::sync_dir(&self.dir).map_err(dir_err)?;
        let mut list: Vec<Arc<Segment>> = segs[..at].to_vec();
        list.extend(replacement);
        list.extend_from_slice(&segs[at + old.len()..]);
        self.set_segments(list);
        Ok(true)
    }

    /// DeleteRecords: moves the log start offset up to `offset` (the caller
    /// checks it is not above the high watermark). Segments wholly below
    /// are deleted by the next [`PartitionLog::apply_retention`].
    pub fn increment_log_start_offset(&self, offset: i64) -> Result<(), LogError> {
        self.check_open()?;
        let _state = lock(&self.append);
        let end = self.log_end_offset();
        if offset > end {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start_offset: self.log_start_offset(),
                log_end_offset: end,
            });
        }
        if offset > self.log_start_offset() {
            self.log_start_offset.store(offset, Ordering::Release);
            lock(&self.epochs).truncate_from_start(offset)?;
        }
        Ok(())
    }

    /// Records that `epoch` starts at the current log end (a replica
    /// becoming leader, as Kafka's `Partition.makeLeader`).
    pub fn assign_epoch_start_offset(&self, epoch: i32) -> Result<(), LogError> {
        let _state = lock(&self.append);
        let end = self.log_end_offset();
        lock(&self.epochs).assign(epoch, end)
    }

    /// OffsetsForLeaderEpoch: `(epoch, end offset)` by Kafka's rules (see
    /// [`LeaderEpochCache::end_offset_for`]); `(-1, -1)` if unknown.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        let end = self.log_end_offset();
        lock(&self.epochs).end_offset_for(epoch, end)
    }

    /// The newest leader epoch in the log, if any.
    pub fn latest_epoch(&self) -> Option<i32> {
        lock(&self.epochs).latest_epoch()
    }

    /// The leader epoch cache's entries, oldest first.
    pub fn epoch_entries(&self) -> Vec<EpochEntry> {
        lock(&self.epochs).entries().to_vec()
    }

    /// Clean shutdown of this log: writes the active segment's final time
    /// index entry, fsyncs everything and refuses further use (reads and
    /// appends return [`LogError::Closed`]). The caller then records the
    /// recovery point ([`PartitionLog::recovery_point`]) in the directory's
    /// checkpoint — [`LogDir::close`](super::LogDir) does both.
    pub fn close(&self) -> Result<(), LogError> {
        let _state = lock(&self.append);
        if self.state.load(Ordering::Acquire) == CLOSED {
            return Ok(());
        }
        self.check_open()?;
        self.active()?.on_become_inactive()?;
        let end = self.log_end_offset();
        self.flush_up_to(end)?;
        self.snapshot_producers_locked()?;
        self.state.store(CLOSED, Ordering::Release);
        Ok(())
    }

    /// Deletes the partition (topic deletion, StopReplica with delete):
    /// renames the directory to `<name>.<id>-delete` as Kafka does (so an
    /// interrupted deletion is finished on the next start, see
    /// [`LogDir`](super::LogDir)), then removes it.
    pub fn delete(&self) -> Result<(), LogError> {
        let _state = lock(&self.append);
        self.state.store(CLOSED, Ordering::Release);
        let name = self
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let doomed = self
            .dir
            .with_file_name(format!("{name}.{:032x}-delete", rand::random::<u128>()));
        fs::rename(&self.dir, &doomed).map_err(|e| LogError::io(&self.dir, e))?;
        if let Some(parent) = doomed.parent() {
            checkpoint::sync_dir(parent).map_err(|e| LogError::io(parent, e))?;
        }
        fs::remove_dir_all(&doomed).map_err(|e| LogError::io(&doomed, e))
    }
}
