//! Compaction of one partition log (Kafka's `Cleaner`): keep the latest
//! record per key in every segment below the cleanable limit.
//!
//! The log, as the cleaner sees it:
//!
//! ```text
//! | clean ........ | dirty ................ | uncleanable ......... |
//! log start     first dirty       first uncleanable           log end
//! ```
//!
//! * first dirty: where the previous clean stopped (the directory's
//!   `cleaner-offset-checkpoint`), at least the log start;
//! * first uncleanable: the active segment's base, the last stable offset
//!   (nothing undecided or uncommitted is touched) and the first segment
//!   younger than `min.compaction.lag.ms`, whichever is lowest; only whole
//!   segments below it are cleaned.
//!
//! A clean (1) maps every key of the dirty part to its latest offset
//! (at most `log.cleaner.dedupe.buffer.size` of keys; the rest waits for
//! the next clean), then (2) rewrites every segment from the log start up
//! to the end of the mapped part, in groups that fit one segment, keeping
//! a record when no later record has its key. Offsets never change (gaps
//! appear); batches keep their base offset and producer (see
//! [`records::rebuild`]).
//!
//! What else goes: records without a key; records of aborted transactions;
//! tombstones (null values) once their batch's delete horizon has passed —
//! the first clean that keeps a tombstone stamps its batch with a horizon of
//! `now + delete.retention.ms` (KIP-534), so a consumer reading from the
//! start within that time still sees the delete. A transaction marker goes
//! the same way once no record of its transaction is left. A batch emptied of records stays as an empty batch when it is its
//! producer's last, so the producer's sequence survives a reload.
//!
//! Each group is written in [`CLEANER_TMP_DIR`] as an ordinary segment,
//! fsynced, and swapped in by [`PartitionLog::swap_cleaned`] (crash-safe,
//! see there). Appends, reads and fetches go on meanwhile: they never touch
//! the segments being cleaned except through their own snapshots.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::batch::{BatchHeader, HEADER_SIZE};
use super::error::LogError;
use super::partition_log::PartitionLog;
use super::producer_state::AbortedTxn;
use super::records::{self, delete_horizon};
use super::segment::{OutBatch, Segment};

/// The directory, inside a partition's, where a clean writes its new
/// segment before the swap. Anything in it at load time is discarded.
pub const CLEANER_TMP_DIR: &str = "cleaner-tmp";

/// Bytes a key map entry costs besides the key (offset, hash table slot).
const MAP_ENTRY_OVERHEAD: usize = 48;

/// Batches are written to the new segment in runs of about this size.
const WRITE_RUN_BYTES: usize = 1 << 20;

/// Broker-wide cleaner limits for one clean.
#[derive(Clone, Copy, Debug)]
pub struct CleanLimits {
    /// Memory for the key map (`log.cleaner.dedupe.buffer.size` shared by
    /// the cleaner threads).
    pub dedupe_buffer_bytes: usize,
    /// `log.cleaner.io.max.bytes.per.second`: read and write rate cap.
    pub io_max_bytes_per_second: f64,
}

/// How much of a log is dirty (Kafka's `LogToClean`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dirtiness {
    /// First offset not yet cleaned.
    pub first_dirty: i64,
    /// The base of the first segment that may not be cleaned.
    pub first_uncleanable: i64,
    /// Bytes of cleanable segments wholly below `first_dirty`.
    pub clean_bytes: u64,
    /// Bytes of cleanable segments from `first_dirty` on.
    pub dirty_bytes: u64,
    /// The oldest dirty segment's first batch is older than
    /// `max.compaction.lag.ms`: clean whatever the ratio.
    pub overdue: bool,
}

impl Dirtiness {
    /// Dirty bytes over all cleanable bytes.
    pub fn ratio(&self) -> f64 {
        let total = self.clean_bytes + self.dirty_bytes;
        if total == 0 {
            0.0
        } else {
            self.dirty_bytes as f64 / total as f64
        }
    }
}

/// What one clean did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CleanStats {
    /// Where the next clean's dirty part starts.
    pub next_dirty: i64,
    /// Segments rewritten, and how many there are instead.
    pub segments_before: usize,
    pub segments_after: usize,
    /// Bytes of the rewritten segments before and after.
    pub bytes_before: u64,
    pub bytes_after: u64,
    /// Records dropped (superseded, key-less, aborted, expired tombstones).
    pub records_removed: u64,
    /// Of those, tombstones whose delete horizon had passed.
    pub tombstones_removed: u64,
    /// Transaction markers removed (their transaction had no records left
    /// and their horizon had passed).
    pub markers_removed: u64,
    /// Keys in the map.
    pub keys: usize,
    /// The earliest delete horizon of a tombstone still in the log: a clean
    /// after it removes that tombstone even if nothing new is dirty.
    pub next_horizon: Option<i64>,
}

/// The cleanable state of `log`: `checkpoint` is the first dirty offset
/// recorded by the previous clean (if any), `last_stable_offset` the
/// partition's (nothing at or above it is cleaned). `None` when no whole
/// segment is cleanable.
pub fn dirtiness(
    log: &PartitionLog,
    checkpoint: Option<i64>,
    last_stable_offset: i64,
    now_ms: i64,
) -> Option<Dirtiness> {
    let config = log.config();
    let segs = log.snapshot();
    let active = segs.last()?;
    let mut uncleanable = active.base_offset().min(last_stable_offset);
    if config.min_compaction_lag_ms > 0 {
        let young = now_ms.saturating_sub(config.min_compaction_lag_ms);
        if let Some(s) = segs.iter().find(|s| s.largest_timestamp() > young) {
            uncleanable = uncleanable.min(s.base_offset());
        }
    }
    let n = cleanable_count(&segs, uncleanable);
    if n == 0 {
        return None;
    }
    let first_uncleanable = segs[n].base_offset();
    let log_start = log.log_start_offset();
    let first_dirty = match checkpoint {
        // A checkpoint past the log end belongs to an older incarnation of
        // the log (truncated, or the topic re-created): start over.
        Some(c) if c <= log.log_end_offset() => c.max(log_start),
        _ => log_start,
    }
    .min(first_uncleanable);
    let mut d = Dirtiness {
        first_dirty,
        first_uncleanable,
        clean_bytes: 0,
        dirty_bytes: 0,
        overdue: false,
    };
    let mut oldest_dirty = None;
    for (i, s) in segs[..n].iter().enumerate() {
        if segs[i + 1].base_offset() <= first_dirty {
            d.clean_bytes += s.size();
        } else {
            d.dirty_bytes += s.size();
            oldest_dirty.get_or_insert(s.first_batch_timestamp());
        }
    }
    if let Some(ts) = oldest_dirty.filter(|ts| *ts >= 0) {
        d.overdue = config.max_compaction_lag_ms < i64::MAX
            && now_ms.saturating_sub(ts) > config.max_compaction_lag_ms;
    }
    Some(d)
}

/// How many of the oldest segments lie wholly below `limit` (never the
/// active one).
fn cleanable_count(segs: &[Arc<Segment>], limit: i64) -> usize {
    segs.windows(2)
        .take_while(|w| w[1].base_offset() <= limit)
        .count()
}

/// Latest offset per key over the dirty part.
struct KeyMap {
    latest: HashMap<Vec<u8>, i64>,
    bytes: usize,
}

impl KeyMap {
    /// Whether the record at `offset` with `key` is the latest of its key
    /// (or its key is not in the map: nothing later supersedes it).
    fn is_latest(&self, key: &[u8], offset: i64) -> bool {
        self.latest.get(key).is_none_or(|latest| offset >= *latest)
    }
}

fn is_aborted(aborted: &[AbortedTxn], h: &BatchHeader) -> bool {
    h.is_transactional()
        && aborted.iter().any(|a| {
            a.producer_id == h.producer_id
                && a.first_offset <= h.base_offset
                && h.last_offset() < a.last_offset
        })
}

/// Cleans `log` as `d` (from [`dirtiness`]) describes; the caller records
/// [`CleanStats::next_dirty`] as the log's new checkpoint.
pub fn clean(
    log: &PartitionLog,
    d: &Dirtiness,
    limits: &CleanLimits,
    now_ms: i64,
) -> Result<CleanStats, LogError> {
    let config = log.config();
    // Read before the segments: a truncation after this point voids the
    // clean (a cut segment may have been refilled with other records).
    let truncations = log.truncations();
    let segs = log.snapshot();
    let n = cleanable_count(&segs, d.first_uncleanable);
    let aborted = log.aborted_transactions(log.log_start_offset(), d.first_uncleanable);
    let throttle = Throttle::new(limits.io_max_bytes_per_second);

    // 1. The key map over the dirty segments, whole segments only.
    let mut map = KeyMap {
        latest: HashMap::new(),
        bytes: 0,
    };
    let mut mapped_end = d.first_dirty;
    for i in 0..n {
        let next_base = segs[i + 1].base_offset();
        if next_base <= d.first_dirty {
            continue;
        }
        segs[i].for_each_batch(|h, bytes| {
            if h.last_offset() < d.first_dirty || h.is_control() || is_aborted(&aborted, h) {
                return Ok(());
            }
            let section = records::section(bytes, h)?;
            for r in records::parse(&section, h)? {
                let Some(key) = r.key.filter(|_| r.offset >= d.first_dirty) else {
                    continue;
                };
                match map.latest.get_mut(key) {
                    Some(latest) => *latest = r.offset,
                    None => {
                        map.bytes += key.len() + MAP_ENTRY_OVERHEAD;
                        map.latest.insert(key.to_vec(), r.offset);
                    }
                }
            }
            Ok(())
        })?;
        throttle.account(segs[i].size());
        mapped_end = next_base;
        if map.bytes >= limits.dedupe_buffer_bytes {
            break;
        }
    }

    // 2. Rewrite every segment below the mapped end, in groups.
    let m = cleanable_count(&segs[..n + 1], mapped_end);
    let producer_last: HashMap<i64, i64> = log
        .producer_entries()
        .iter()
        .filter_map(|p| Some((p.producer_id, p.batches.back()?.last_offset)))
        .collect();
    let mut stats = CleanStats {
        next_dirty: mapped_end,
        keys: map.latest.len(),
        ..CleanStats::default()
    };
    let mut filter = BatchFilter {
        map: &map,
        aborted: &aborted,
        producer_last: &producer_last,
        now_ms,
        delete_retention_ms: config.delete_retention_ms,
        txn_with_data: HashSet::new(),
    };
    let staging = log.dir().join(CLEANER_TMP_DIR);
    for group in groups(&segs[..m], &segs[m], &config) {
        if fs::metadata(&staging).is_ok() {
            fs::remove_dir_all(&staging).map_err(|e| LogError::io(&staging, e))?;
        }
        // Not create_dir_all: a partition deleted meanwhile must stay gone.
        fs::create_dir(&staging).map_err(|e| LogError::io(&staging, e))?;
        let cleaned = Segment::create(&staging, group[0].base_offset(), &config, now_ms)?;
        let mut run: Vec<Vec<u8>> = Vec::new();
        let mut run_bytes = 0;
        for seg in group {
            stats.bytes_before += seg.size();
            seg.for_each_batch(|h, bytes| {
                if let Some(out) = filter.apply(h, bytes, &mut stats)? {
                    run_bytes += out.len();
                    run.push(out);
                }
                if run_bytes >= WRITE_RUN_BYTES {
                    write_run(&cleaned, &mut run, &config)?;
                    run_bytes = 0;
                }
                Ok(())
            })?;
            throttle.account(seg.size());
        }
        write_run(&cleaned, &mut run, &config)?;
        cleaned.on_become_inactive()?;
        cleaned.flush()?;
        stats.segments_before += group.len();
        stats.bytes_after += cleaned.size();
        throttle.account(cleaned.size());
        let staged = (cleaned.size() > 0).then_some(staging.as_path());
        drop(cleaned);
        if !log.swap_cleaned(group, staged, truncations)? {
            // The log changed under us (truncated or trimmed): the next
            // round starts from a fresh look.
            stats.next_dirty = d.first_dirty;
            break;
        }
        stats.segments_after += usize::from(staged.is_some());
    }
    if fs::metadata(&staging).is_ok() {
        fs::remove_dir_all(&staging).map_err(|e| LogError::io(&staging, e))?;
    }
    Ok(stats)
}

/// Consecutive runs of `segs` that fit one segment together: at most
/// `segment.bytes` and index capacity, and offsets within `i32` of the
/// first base (index entries are 32-bit relative offsets). `after` is the
/// segment following the last of `segs`.
fn groups<'a>(
    segs: &'a [Arc<Segment>],
    after: &Arc<Segment>,
    config: &super::LogConfig,
) -> Vec<&'a [Arc<Segment>]> {
    let index_bytes = (config
        .max_offset_index_entries()
        .min(config.max_time_index_entries()) as u64)
        .saturating_sub(2)
        .saturating_mul(config.index_interval_bytes.max(1) as u64);
    let limit = config.segment_bytes.min(index_bytes.max(1));
    let mut out = Vec::new();
    let mut start = 0;
    while start < segs.len() {
        let base = segs[start].base_offset();
        let mut size = segs[start].size();
        let mut end = start + 1;
        while end < segs.len() {
            let next_end = segs.get(end + 1).unwrap_or(after).base_offset();
            let s = segs[end].size();
            if size + s > limit || next_end - 1 - base > i64::from(i32::MAX) {
                break;
            }
            size += s;
            end += 1;
        }
        out.push(&segs[start..end]);
        start = end;
    }
    out
}

fn write_run(
    seg: &Segment,
    run: &mut Vec<Vec<u8>>,
    config: &super::LogConfig,
) -> Result<(), LogError> {
    if run.is_empty() {
        return Ok(());
    }
    let mut out = Vec::with_capacity(run.len());
    for b in run.iter() {
        let h = BatchHeader::parse(b)
            .ok_or_else(|| LogError::CorruptRecord("cleaned batch has no header".into()))?;
        let mut header = [0u8; HEADER_SIZE];
        header.copy_from_slice(&b[..HEADER_SIZE]);
        out.push(OutBatch {
            header,
            body: &b[HEADER_SIZE..],
            base_offset: h.base_offset,
            last_offset: h.last_offset(),
            max_timestamp: h.max_timestamp,
        });
    }
    seg.append(&out, config).map_err(|f| f.error)?;
    run.clear();
    Ok(())
}

/// The per-batch decision of a clean.
struct BatchFilter<'a> {
    map: &'a KeyMap,
    aborted: &'a [AbortedTxn],
    producer_last: &'a HashMap<i64, i64>,
    now_ms: i64,
    delete_retention_ms: i64,
    /// Producers whose current transaction still has records in the
    /// cleaned output (batches come in offset order, its marker after them).
    txn_with_data: HashSet<i64>,
}

impl BatchFilter<'_> {
    /// The batch as it goes into the cleaned segment, or `None` if nothing
    /// of it stays.
    fn apply(
        &mut self,
        h: &BatchHeader,
        bytes: &[u8],
        stats: &mut CleanStats,
    ) -> Result<Option<Vec<u8>>, LogError> {
        if h.is_control() {
            return self.marker(h, bytes, stats);
        }
        if is_aborted(self.aborted, h) {
            stats.records_removed += h.records_count.max(0) as u64;
            return Ok(None);
        }
        let section = records::section(bytes, h)?;
        let recs = records::parse(&section, h)?;
        let horizon = delete_horizon(h);
        let expired = horizon.is_some_and(|t| self.now_ms > t);
        let mut kept = Vec::with_capacity(recs.len());
        for r in &recs {
            let latest = r.key.is_some_and(|k| self.map.is_latest(k, r.offset));
            let expired_tombstone = latest && r.tombstone && expired;
            if latest && !expired_tombstone {
                kept.push(*r);
            } else {
                stats.records_removed += 1;
                stats.tombstones_removed += u64::from(expired_tombstone);
            }
        }
        let needs_horizon = horizon.is_none() && kept.iter().any(|r| r.tombstone);
        let new_horizon =
            needs_horizon.then(|| self.now_ms.saturating_add(self.delete_retention_ms));
        if kept.iter().any(|r| r.tombstone) {
            if let Some(t) = new_horizon.or(horizon) {
                stats.next_horizon = Some(stats.next_horizon.map_or(t, |n| n.min(t)));
            }
        }
        if h.is_transactional() && !kept.is_empty() {
            self.txn_with_data.insert(h.producer_id);
        }
        if kept.len() == recs.len() && !needs_horizon {
            return Ok(Some(bytes.to_vec()));
        }
        if kept.is_empty() {
            let producers_last = h.producer_id >= 0
                && self.producer_last.get(&h.producer_id) == Some(&h.last_offset());
            if !producers_last {
                return Ok(None);
            }
        }
        records::rebuild(bytes, h, &kept, new_horizon).map(Some)
    }

    /// A transaction marker stays while records of its transaction do.
    /// Once none are left, the first clean that sees that stamps it with a
    /// delete horizon, and a clean after the horizon removes it (Kafka's
    /// rule: a consumer reading from the start within delete.retention.ms
    /// still sees how the transaction ended).
    fn marker(
        &mut self,
        h: &BatchHeader,
        bytes: &[u8],
        stats: &mut CleanStats,
    ) -> Result<Option<Vec<u8>>, LogError> {
        if self.txn_with_data.remove(&h.producer_id) {
            return Ok(Some(bytes.to_vec()));
        }
        let horizon = match delete_horizon(h) {
            Some(t) if self.now_ms > t => {
                stats.records_removed += h.records_count.max(0) as u64;
                stats.markers_removed += 1;
                return Ok(None);
            }
            Some(t) => t,
            None => self.now_ms.saturating_add(self.delete_retention_ms),
        };
        stats.next_horizon = Some(stats.next_horizon.map_or(horizon, |n| n.min(horizon)));
        if delete_horizon(h).is_some() {
            return Ok(Some(bytes.to_vec()));
        }
        let section = records::section(bytes, h)?;
        let recs = records::parse(&section, h)?;
        records::rebuild(bytes, h, &recs, Some(horizon)).map(Some)
    }
}

/// `log.cleaner.io.max.bytes.per.second`: sleeps when the clean ran ahead
/// of the allowed rate.
struct Throttle {
    rate: f64,
    start: Instant,
    bytes: std::cell::Cell<u64>,
}

impl Throttle {
    fn new(rate: f64) -> Throttle {
        Throttle {
            rate,
            start: Instant::now(),
            bytes: std::cell::Cell::new(0),
        }
    }

    fn account(&self, bytes: u64) {
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return;
        }
        let total = self.bytes.get() + bytes;
        self.bytes.set(total);
        let due = Duration::from_secs_f64(total as f64 / self.rate);
        if let Some(wait) = due.checked_sub(self.start.elapsed()) {
            std::thread::sleep(wait.min(Duration::from_secs(60)));
        }
    }
}

#[cfg(test)]
#[path = "cleaner_tests.rs"]
mod tests;
