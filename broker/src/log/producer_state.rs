//! Per-partition producer state (Kafka's `ProducerStateManager`): what each
//! idempotent or transactional producer last wrote to this partition, the
//! transactions still open in it, and the transactions aborted in it.
//!
//! Everything here is derived from batch headers (producer id, epoch, base
//! sequence, offsets, the transactional and control bits) and from the one
//! record of a control batch, so a follower builds the same state from the
//! batches it fetches and a restarted broker rebuilds it from its log: no
//! extra replication. What a restart must not re-scan from the beginning is
//! kept in snapshot files (`<20-digit offset>.snapshot`, written when a
//! segment rolls and at a clean close): the state as of that offset, from
//! which recovery scans forward to the log end.
//!
//! The leader checks every producer batch before it is written
//! ([`ProducerStateManager::check`]): a retry of one of a producer's last
//! [`BATCHES_RETAINED`] batches is a duplicate (answered with its original
//! offsets, nothing written), an older epoch is refused
//! (INVALID_PRODUCER_EPOCH), a sequence that does not follow the last one
//! is OUT_OF_ORDER_SEQUENCE_NUMBER. As Kafka 3.x, a producer id the
//! partition has never seen may start at any sequence.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::batch::{BatchHeader, HEADER_SIZE};
use super::error::LogError;

/// Batches remembered per producer for duplicate detection: a producer has
/// at most 5 requests in flight per partition (Kafka's limit with
/// idempotence), so a retry is always one of its last 5 batches.
pub const BATCHES_RETAINED: usize = 5;

/// Suffix of producer state snapshot files.
pub const SNAPSHOT_SUFFIX: &str = "snapshot";

/// Snapshots kept besides the newest (Kafka keeps a few, deletes those below
/// the log start offset).
const SNAPSHOTS_KEPT: usize = 2;

/// Version byte at the start of a snapshot file.
const SNAPSHOT_VERSION: u8 = 1;

/// One written batch of a producer, as a retry would repeat it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub timestamp: i64,
}

/// What a partition knows of one producer id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerEntry {
    pub producer_id: i64,
    pub epoch: i16,
    /// Its last batches, oldest first, at most [`BATCHES_RETAINED`].
    pub batches: VecDeque<BatchMetadata>,
    /// Coordinator epoch of the last transaction marker (-1: none yet).
    pub coordinator_epoch: i32,
    /// Timestamp of its last write (batch max timestamp or marker time).
    pub last_timestamp: i64,
    /// First offset of its open transaction in this partition.
    pub current_txn_first_offset: Option<i64>,
}

impl ProducerEntry {
    fn new(producer_id: i64, epoch: i16) -> ProducerEntry {
        ProducerEntry {
            producer_id,
            epoch,
            batches: VecDeque::new(),
            coordinator_epoch: -1,
            last_timestamp: -1,
            current_txn_first_offset: None,
        }
    }

    /// Sequence of the last record written, -1 if none in this epoch.
    pub fn last_seq(&self) -> i32 {
        self.batches.back().map_or(-1, |b| b.last_seq)
    }

    fn push(&mut self, b: BatchMetadata) {
        if self.batches.len() == BATCHES_RETAINED {
            self.batches.pop_front();
        }
        self.batches.push_back(b);
    }

    fn find_duplicate(&self, epoch: i16, first_seq: i32, last_seq: i32) -> Option<BatchMetadata> {
        if epoch != self.epoch {
            return None;
        }
        self.batches
            .iter()
            .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
            .copied()
    }
}

/// A transaction that ended with an abort marker: consumers reading
/// committed data skip its records (Fetch's `aborted_transactions`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    /// Offset of the abort marker.
    pub last_offset: i64,
}

/// A transaction marker: the one record of a control batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Marker {
    pub commit: bool,
    pub coordinator_epoch: i32,
}

/// The sequence number `n` records after `seq`, wrapping at `i32::MAX`
/// as producers do.
pub fn add_seq(seq: i32, n: i32) -> i32 {
    if seq > i32::MAX - n {
        n - (i32::MAX - seq) - 1
    } else {
        seq + n
    }
}

fn in_sequence(last_seq: i32, next_seq: i32) -> bool {
    next_seq == add_seq(last_seq, 1)
}

/// The outcome of checking a leader append against producer state.
#[derive(Debug)]
pub enum Checked {
    /// Write the batches (then [`ProducerStateManager::apply`] each).
    Append,
    /// A retry of a batch already in the log: answer with its offsets.
    Duplicate(BatchMetadata),
}

/// The producer state of one partition. Not synchronised: the log keeps it
/// under its append lock.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerStateManager {
    producers: BTreeMap<i64, ProducerEntry>,
    /// Open transactions: first offset → producer id.
    ongoing: BTreeMap<i64, i64>,
    /// Transactions whose marker is written but maybe not yet replicated:
    /// first offset → marker offset. They hold the last stable offset back
    /// until the high watermark passes the marker.
    completing: BTreeMap<i64, i64>,
    /// Aborted transactions, in marker order.
    aborted: Vec<AbortedTxn>,
    /// The state reflects the log below this offset.
    end_offset: i64,
}

impl ProducerStateManager {
    /// Every known producer, by id.
    pub fn producers(&self) -> impl Iterator<Item = &ProducerEntry> {
        self.producers.values()
    }

    pub fn producer(&self, id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&id)
    }

    /// The offset up to which the state reflects the log.
    pub fn end_offset(&self) -> i64 {
        self.end_offset
    }

    /// The first offset of an open (or not yet replicated) transaction,
    /// if any: the last stable offset cannot pass it.
    pub fn first_unstable_offset(&self, high_watermark: i64) -> Option<i64> {
        let open = self.ongoing.keys().next().copied();
        let completing = self
            .completing
            .iter()
            .filter(|(_, marker)| **marker >= high_watermark)
            .map(|(first, _)| *first)
            .min();
        match (open, completing) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The last stable offset: below it every transaction is decided and
    /// replicated. Never above the high watermark.
    pub fn last_stable_offset(&mut self, high_watermark: i64) -> i64 {
        self.completing
            .retain(|_, marker| *marker >= high_watermark);
        self.first_unstable_offset(high_watermark)
            .map_or(high_watermark, |f| f.min(high_watermark))
    }

    /// Aborted transactions that overlap `[from, to)`. Markers are written
    /// in offset order, so `aborted` is sorted by `last_offset`: a binary
    /// search skips everything a consumer has already read past.
    pub fn aborted_between(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        let start = self.aborted.partition_point(|a| a.last_offset < from);
        self.aborted[start..]
            .iter()
            .filter(|a| a.first_offset < to)
            .copied()
            .collect()
    }

    /// Checks a leader append of `batches` (headers as received, in order)
    /// against the state; see the module doc for the rules.
    pub fn check(&self, batches: &[BatchHeader]) -> Result<Checked, LogError> {
        // Entries as they will be once the earlier batches are written, so
        // that several batches of one request chain their sequences.
        let mut pending: HashMap<i64, ProducerEntry> = HashMap::new();
        for h in batches {
            if h.producer_id < 0 {
                continue;
            }
            let entry = match pending.get(&h.producer_id) {
                Some(e) => e.clone(),
                None => self
                    .producers
                    .get(&h.producer_id)
                    .cloned()
                    .unwrap_or_else(|| ProducerEntry::new(h.producer_id, -1)),
            };
            let first_seq = h.base_sequence;
            let last_seq = add_seq(first_seq, h.last_offset_delta);
            if let Some(dup) = entry.find_duplicate(h.producer_epoch, first_seq, last_seq) {
                return Ok(Checked::Duplicate(dup));
            }
            if h.producer_epoch < entry.epoch {
                return Err(LogError::InvalidProducerEpoch(format!(
                    "epoch {} of producer {} is older than the current epoch {}",
                    h.producer_epoch, h.producer_id, entry.epoch
                )));
            }
            if h.producer_epoch != entry.epoch {
                // A new epoch starts over at 0 (unless the partition never
                // saw this producer: then anything goes, as in Kafka).
                if entry.epoch >= 0 && first_seq != 0 {
                    return Err(LogError::OutOfOrderSequence(format!(
                        "invalid sequence number {first_seq} for new epoch {} of producer {} (expected 0)",
                        h.producer_epoch, h.producer_id
                    )));
                }
            } else if entry.epoch >= 0
                && !entry.batches.is_empty()
                && !in_sequence(entry.last_seq(), first_seq)
            {
                return Err(LogError::OutOfOrderSequence(format!(
                    "out of order sequence number for producer {} at epoch {}: {first_seq} (incoming seq. number), {} (current end sequence number)",
                    h.producer_id,
                    h.producer_epoch,
                    entry.last_seq()
                )));
            }
            if !h.is_transactional() && entry.current_txn_first_offset.is_some() {
                return Err(LogError::InvalidTxnState(format!(
                    "expected a transactional write from producer {}, which has a transaction open",
                    h.producer_id
                )));
            }
            let mut entry = entry;
            if h.producer_epoch != entry.epoch {
                entry.epoch = h.producer_epoch;
                entry.batches.clear();
            }
            // Offsets are filled in when the batches are written.
            entry.push(BatchMetadata {
                first_seq,
                last_seq,
                first_offset: -1,
                last_offset: -1,
                timestamp: h.max_timestamp,
            });
            pending.insert(h.producer_id, entry);
        }
        Ok(Checked::Append)
    }

    /// Applies one batch written to the log (its header with final offsets)
    /// to the state. The leader and followers both call this, in log order;
    /// recovery too. `marker` is the control record of a control batch.
    pub fn apply(&mut self, h: &BatchHeader, marker: Option<Marker>) {
        self.end_offset = self.end_offset.max(h.next_offset());
        if h.producer_id < 0 {
            return;
        }
        let entry = self
            .producers
            .entry(h.producer_id)
            .or_insert_with(|| ProducerEntry::new(h.producer_id, h.producer_epoch));
        if h.producer_epoch > entry.epoch {
            entry.epoch = h.producer_epoch;
            entry.batches.clear();
        }
        entry.last_timestamp = entry.last_timestamp.max(h.max_timestamp);
        if h.is_control() {
            let Some(marker) = marker else { return };
            entry.coordinator_epoch = entry.coordinator_epoch.max(marker.coordinator_epoch);
            if let Some(first) = entry.current_txn_first_offset.take() {
                self.ongoing.remove(&first);
                self.completing.insert(first, h.base_offset);
                if !marker.commit {
                    self.aborted.push(AbortedTxn {
                        producer_id: h.producer_id,
                        first_offset: first,
                        last_offset: h.base_offset,
                    });
                }
            }
            return;
        }
        if h.base_sequence >= 0 {
            entry.push(BatchMetadata {
                first_seq: h.base_sequence,
                last_seq: add_seq(h.base_sequence, h.last_offset_delta),
                first_offset: h.base_offset,
                last_offset: h.last_offset(),
                timestamp: h.max_timestamp,
            });
        }
        if h.is_transactional() && entry.current_txn_first_offset.is_none() {
            entry.current_txn_first_offset = Some(h.base_offset);
            self.ongoing.insert(h.base_offset, h.producer_id);
        }
    }

    /// Checks a transaction marker the leader is about to write.
    pub fn check_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
    ) -> Result<(), LogError> {
        let Some(entry) = self.producers.get(&producer_id) else {
            return Ok(());
        };
        if producer_epoch < entry.epoch {
            return Err(LogError::InvalidProducerEpoch(format!(
                "marker epoch {producer_epoch} of producer {producer_id} is older than the current epoch {}",
                entry.epoch
            )));
        }
        if coordinator_epoch < entry.coordinator_epoch {
            return Err(LogError::CoordinatorFenced(format!(
                "marker of producer {producer_id} from coordinator epoch {coordinator_epoch}, older than {}",
                entry.coordinator_epoch
            )));
        }
        Ok(())
    }

    /// Forgets everything at or above `offset` (truncation) by rebuilding:
    /// the caller reloads a snapshot and re-applies the log tail, so here
    /// only the bookkeeping of a fresh state is needed.
    pub fn reset(&mut self, end_offset: i64) {
        *self = ProducerStateManager {
            end_offset,
            ..Default::default()
        };
    }

    /// Drops what lies wholly below the log start offset.
    pub fn truncate_head(&mut self, log_start_offset: i64) {
        self.aborted.retain(|a| a.last_offset >= log_start_offset);
        self.producers.retain(|_, e| {
            e.current_txn_first_offset.is_some()
                || e.batches
                    .back()
                    .is_none_or(|b| b.last_offset >= log_start_offset)
        });
    }

    /// Removes producers idle for longer than `expiration_ms` (Kafka's
    /// `producer.id.expiration.ms`), except those with an open transaction.
    /// Returns how many were removed.
    pub fn remove_expired(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers.retain(|_, e| {
            e.current_txn_first_offset.is_some() || now_ms - e.last_timestamp < expiration_ms
        });
        before - self.producers.len()
    }

    // ------------------------------------------------------------ snapshots

    /// Writes the state as `<end_offset>.snapshot` in `dir` (write to a
    /// temporary file, fsync, rename) and deletes older snapshots beyond
    /// the few kept.
    pub fn write_snapshot(&self, dir: &Path) -> Result<(), LogError> {
        let path = snapshot_path(dir, self.end_offset);
        let body = postcard::to_allocvec(self).map_err(|e| LogError::MalformedFile {
            path: path.clone(),
            reason: format!("cannot encode producer state: {e}"),
        })?;
        let mut data = Vec::with_capacity(body.len() + 5);
        data.push(SNAPSHOT_VERSION);
        data.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
        data.extend_from_slice(&body);
        let tmp = path.with_extension("snapshot.tmp");
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&data)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        };
        write().map_err(|e| LogError::io(&path, e))?;
        let mut offsets = list_snapshots(dir)?;
        offsets.sort_unstable();
        let excess = offsets.len().saturating_sub(SNAPSHOTS_KEPT + 1);
        for old in &offsets[..excess] {
            remove_snapshot(dir, *old)?;
        }
        Ok(())
    }

    /// The newest readable snapshot at or below `max_offset`, if any;
    /// unreadable ones are deleted with a warning.
    pub fn load_snapshot(dir: &Path, max_offset: i64) -> Result<Option<Self>, LogError> {
        let mut offsets = list_snapshots(dir)?;
        offsets.sort_unstable_by(|a, b| b.cmp(a));
        for offset in offsets {
            if offset > max_offset {
                continue;
            }
            let path = snapshot_path(dir, offset);
            let data = fs::read(&path).map_err(|e| LogError::io(&path, e))?;
            match decode_snapshot(&data) {
                Some(state) if state.end_offset == offset => return Ok(Some(state)),
                _ => {
                    tracing::warn!(file = %path.display(), "unreadable producer state snapshot; deleting it");
                    remove_snapshot(dir, offset)?;
                }
            }
        }
        Ok(None)
    }

    /// Deletes snapshots above `offset` (truncation).
    pub fn delete_snapshots_above(dir: &Path, offset: i64) -> Result<(), LogError> {
        for o in list_snapshots(dir)? {
            if o > offset {
                remove_snapshot(dir, o)?;
            }
        }
        Ok(())
    }
}

fn decode_snapshot(data: &[u8]) -> Option<ProducerStateManager> {
    if data.len() < 5 || data[0] != SNAPSHOT_VERSION {
        return None;
    }
    let crc = u32::from_be_bytes([data[1], data[2], data[3], data[4]]);
    let body = &data[5..];
    if crc32c::crc32c(body) != crc {
        return None;
    }
    postcard::from_bytes(body).ok()
}

/// `<dir>/<20-digit offset>.snapshot`.
pub fn snapshot_path(dir: &Path, offset: i64) -> PathBuf {
    dir.join(format!("{offset:020}.{SNAPSHOT_SUFFIX}"))
}

fn list_snapshots(dir: &Path) -> Result<Vec<i64>, LogError> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(LogError::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| LogError::io(dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Some(stem) = name.strip_suffix(".snapshot") else {
            continue;
        };
        if stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(o) = stem.parse() {
                out.push(o);
            }
        }
    }
    Ok(out)
}

fn remove_snapshot(dir: &Path, offset: i64) -> Result<(), LogError> {
    let path = snapshot_path(dir, offset);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LogError::io(&path, e)),
    }
}

/// Reads the marker of a control batch (`batch` is the whole batch): the
/// key of its one record is `(version i16, type i16)` with type 0 abort, 1
/// commit; its value `(version i16, coordinator epoch i32)`. Control batches
/// are never compressed. `None` if it does not parse.
pub fn parse_marker(batch: &[u8]) -> Option<Marker> {
    let mut pos = HEADER_SIZE;
    let _len = super::batch::read_varlong(batch, &mut pos)?;
    pos += 1; // attributes
    let _ts = super::batch::read_varlong(batch, &mut pos)?;
    let _od = super::batch::read_varlong(batch, &mut pos)?;
    let key_len = super::batch::read_varlong(batch, &mut pos)?;
    if key_len < 4 {
        return None;
    }
    let key = batch.get(pos..pos + key_len as usize)?;
    let kind = i16::from_be_bytes([key[2], key[3]]);
    pos += key_len as usize;
    let value_len = super::batch::read_varlong(batch, &mut pos)?;
    let coordinator_epoch = if value_len >= 6 {
        let v = batch.get(pos..pos + 6)?;
        i32::from_be_bytes([v[2], v[3], v[4], v[5]])
    } else {
        -1
    };
    match kind {
        0 => Some(Marker {
            commit: false,
            coordinator_epoch,
        }),
        1 => Some(Marker {
            commit: true,
            coordinator_epoch,
        }),
        _ => None,
    }
}

/// Builds a control batch carrying one transaction marker (offsets and
/// leader epoch are set when the leader writes it).
pub fn marker_batch(
    producer_id: i64,
    producer_epoch: i16,
    marker: Marker,
    now_ms: i64,
) -> Result<bytes::Bytes, LogError> {
    use runnel_common::kafka::batch::{BatchBuilder, Codec};
    let mut key = [0u8; 4];
    key[2..4].copy_from_slice(&(i16::from(marker.commit)).to_be_bytes());
    let mut value = [0u8; 6];
    value[2..6].copy_from_slice(&marker.coordinator_epoch.to_be_bytes());
    let mut b = BatchBuilder::new(Codec::None)
        .producer(producer_id, producer_epoch, -1)
        .transactional()
        .control();
    b.push(now_ms, Some(&key), Some(&value), &[]);
    b.finish()
        .map_err(|e| LogError::InvalidRecord(format!("cannot build a marker batch: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::TRANSACTIONAL_FLAG;

    fn header(pid: i64, epoch: i16, seq: i32, count: i32, offset: i64) -> BatchHeader {
        BatchHeader {
            base_offset: offset,
            batch_length: 100,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: count - 1,
            base_timestamp: 1,
            max_timestamp: 1,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            records_count: count,
        }
    }

    fn written(s: &mut ProducerStateManager, h: BatchHeader) {
        match s.check(&[h]).unwrap() {
            Checked::Append => s.apply(&h, None),
            Checked::Duplicate(d) => panic!("unexpected duplicate {d:?}"),
        }
    }

    #[test]
    fn sequences_duplicates_and_epochs() {
        let mut s = ProducerStateManager::default();
        // Unknown producer: any first sequence.
        written(&mut s, header(7, 0, 10, 5, 0));
        written(&mut s, header(7, 0, 15, 5, 5));
        // Gap.
        assert!(matches!(
            s.check(&[header(7, 0, 21, 1, 0)]),
            Err(LogError::OutOfOrderSequence(_))
        ));
        // Retry of an earlier batch: its original offsets.
        match s.check(&[header(7, 0, 10, 5, 0)]).unwrap() {
            Checked::Duplicate(d) => assert_eq!((d.first_offset, d.last_offset), (0, 4)),
            Checked::Append => panic!("duplicate not detected"),
        }
        // New epoch must start at 0.
        assert!(matches!(
            s.check(&[header(7, 1, 20, 1, 0)]),
            Err(LogError::OutOfOrderSequence(_))
        ));
        written(&mut s, header(7, 1, 0, 1, 10));
        // Old epoch fenced.
        assert!(matches!(
            s.check(&[header(7, 0, 20, 1, 0)]),
            Err(LogError::InvalidProducerEpoch(_))
        ));
    }

    #[test]
    fn only_the_last_five_batches_are_remembered() {
        let mut s = ProducerStateManager::default();
        for i in 0..7 {
            written(&mut s, header(1, 0, i, 1, i64::from(i)));
        }
        assert!(matches!(
            s.check(&[header(1, 0, 2, 1, 0)]).unwrap(),
            Checked::Duplicate(_)
        ));
        // Seq 1 fell out of the window: it is out of order now.
        assert!(s.check(&[header(1, 0, 1, 1, 0)]).is_err());
    }

    #[test]
    fn sequences_wrap() {
        assert_eq!(add_seq(i32::MAX, 1), 0);
        assert_eq!(add_seq(i32::MAX - 1, 3), 1);
        assert!(in_sequence(i32::MAX, 0));
    }

    #[test]
    fn several_batches_of_one_request_chain() {
        let s = ProducerStateManager::default();
        let a = header(1, 0, 0, 3, 0);
        let b = header(1, 0, 3, 2, 0);
        assert!(matches!(s.check(&[a, b]).unwrap(), Checked::Append));
        let c = header(1, 0, 4, 2, 0);
        assert!(s.check(&[a, c]).is_err());
    }

    #[test]
    fn transactions_move_the_last_stable_offset_and_record_aborts() {
        let mut s = ProducerStateManager::default();
        let mut t = header(5, 0, 0, 2, 10);
        t.attributes = TRANSACTIONAL_FLAG;
        written(&mut s, t);
        assert_eq!(s.last_stable_offset(12), 10);
        let mut m = header(5, 0, -1, 1, 12);
        m.attributes = TRANSACTIONAL_FLAG | crate::log::batch::CONTROL_FLAG;
        s.apply(
            &m,
            Some(Marker {
                commit: false,
                coordinator_epoch: 3,
            }),
        );
        // Marker written, not yet replicated.
        assert_eq!(s.last_stable_offset(12), 10);
        assert_eq!(s.last_stable_offset(13), 13);
        assert_eq!(
            s.aborted_between(0, 100),
            vec![AbortedTxn {
                producer_id: 5,
                first_offset: 10,
                last_offset: 12
            }]
        );
        assert!(s.aborted_between(13, 100).is_empty());
        assert!(matches!(
            s.check_marker(5, 0, 2),
            Err(LogError::CoordinatorFenced(_))
        ));
    }

    #[test]
    fn non_transactional_write_inside_a_transaction_is_refused() {
        let mut s = ProducerStateManager::default();
        let mut t = header(5, 0, 0, 1, 0);
        t.attributes = TRANSACTIONAL_FLAG;
        written(&mut s, t);
        assert!(matches!(
            s.check(&[header(5, 0, 1, 1, 0)]),
            Err(LogError::InvalidTxnState(_))
        ));
    }

    #[test]
    fn marker_batches_round_trip() {
        let m = Marker {
            commit: true,
            coordinator_epoch: 9,
        };
        let b = marker_batch(3, 2, m, 1000).unwrap();
        let h = BatchHeader::parse(&b).unwrap();
        assert!(h.is_control() && h.is_transactional());
        assert_eq!((h.producer_id, h.producer_epoch), (3, 2));
        assert_eq!(parse_marker(&b), Some(m));
    }

    #[test]
    fn snapshots_round_trip_and_bad_ones_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = ProducerStateManager::default();
        written(&mut s, header(1, 0, 0, 3, 0));
        s.write_snapshot(dir.path()).unwrap();
        let loaded = ProducerStateManager::load_snapshot(dir.path(), 100)
            .unwrap()
            .unwrap();
        assert_eq!(loaded, s);
        assert!(ProducerStateManager::load_snapshot(dir.path(), 2)
            .unwrap()
            .is_none());
        fs::write(snapshot_path(dir.path(), 3), b"garbage").unwrap();
        assert!(ProducerStateManager::load_snapshot(dir.path(), 100)
            .unwrap()
            .is_none());
    }
}
