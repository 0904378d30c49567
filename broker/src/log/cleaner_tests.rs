//! The cleaner on real partition directories: latest value per key,
//! unchanged offsets, tombstones and their horizon, key-less records, and
//! a swap interrupted by a crash finished on the next load.

use std::fs;
use std::path::Path;

use bytes::Bytes;
use kafka_protocol::records::{Compression, RecordBatchDecoder};

use super::*;
use crate::log::batch::testing::keyed_batch;
use crate::log::recovery::swap_path;
use crate::log::segment::{file_path, LOG_SUFFIX};
use crate::log::LogConfig;

const NOW: i64 = 1_700_000_000_000;

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 128,
        retention_ms: None,
        cleanup_compact: true,
        cleanup_delete: false,
        delete_retention_ms: 1_000,
        ..LogConfig::default()
    }
}

const LIMITS: CleanLimits = CleanLimits {
    dedupe_buffer_bytes: 1 << 20,
    io_max_bytes_per_second: f64::INFINITY,
};

/// A producer's batch of `(key, value)` records (`None` value: tombstone).
fn keyed(records: &[(Option<&str>, Option<&str>)], compression: Compression) -> Bytes {
    keyed_batch(0, -1, -1, NOW, records, compression)
}

/// Every record from the log start: (offset, key, value).
fn contents(log: &PartitionLog) -> Vec<(i64, Option<String>, Option<String>)> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let info = log.read(offset, 1 << 20, None, true).unwrap();
        let mut buf = info.records.clone();
        if buf.is_empty() {
            break;
        }
        let mut next = offset;
        for set in RecordBatchDecoder::decode_all(&mut buf).unwrap() {
            for r in set.records {
                let s = |b: Option<Bytes>| b.map(|b| String::from_utf8_lossy(&b).into_owned());
                next = next.max(r.offset + 1);
                out.push((r.offset, s(r.key), s(r.value)));
            }
        }
        // Empty batches advance by their header.
        let hs = crate::log::batch::testing::headers(&info.records);
        next = next.max(hs.last().map_or(next, |h| h.last_offset() + 1));
        offset = next;
    }
    out
}

/// 30 rounds of keys k0..k4 (value = round), each batch its own append,
/// then a roll so everything is cleanable.
fn filled(dir: &Path, compression: Compression) -> PartitionLog {
    let log = PartitionLog::open(dir, config()).unwrap();
    for round in 0..30 {
        let recs: Vec<(String, String)> = (0..5)
            .map(|k| (format!("k{k}"), format!("v{round}")))
            .collect();
        let refs: Vec<(Option<&str>, Option<&str>)> = recs
            .iter()
            .map(|(k, v)| (Some(k.as_str()), Some(v.as_str())))
            .collect();
        log.append_as_leader_at(keyed(&refs, compression), 0, NOW)
            .unwrap();
    }
    log.roll_if_due(i64::MAX / 2).unwrap();
    log
}

fn clean_now(log: &PartitionLog, checkpoint: Option<i64>, now: i64) -> CleanStats {
    let end = log.log_end_offset();
    let d = dirtiness(log, checkpoint, end, now).expect("something to clean");
    clean(log, &d, &LIMITS, now).unwrap()
}

#[test]
fn the_latest_value_per_key_survives_at_its_offset() {
    for compression in [Compression::None, Compression::Zstd, Compression::Gzip] {
        let tmp = tempfile::tempdir().unwrap();
        let log = filled(tmp.path(), compression);
        let before_segments = log.segment_count();
        assert!(before_segments > 3, "{before_segments}");
        let d = dirtiness(&log, None, log.log_end_offset(), NOW).unwrap();
        assert_eq!(d.first_dirty, 0);
        assert_eq!(d.clean_bytes, 0);
        assert!((d.ratio() - 1.0).abs() < f64::EPSILON);
        let stats = clean(&log, &d, &LIMITS, NOW).unwrap();
        assert_eq!(stats.next_dirty, 150);
        assert_eq!(stats.records_removed, 145);
        assert_eq!(stats.keys, 5);
        assert!(stats.bytes_after < stats.bytes_before / 10, "{stats:?}");
        let want: Vec<_> = (0..5)
            .map(|k| (145 + k, Some(format!("k{k}")), Some("v29".to_string())))
            .collect();
        assert_eq!(contents(&log), want, "{compression:?}");
        assert_eq!(log.log_end_offset(), 150);
        assert!(log.segment_count() < before_segments);

        // New writes, a second clean: the old survivors give way to them
        // and the checkpoint moves on.
        log.append_as_leader_at(keyed(&[(Some("k0"), Some("new"))], compression), 0, NOW)
            .unwrap();
        log.roll_if_due(i64::MAX / 2).unwrap();
        let d = dirtiness(&log, Some(150), log.log_end_offset(), NOW).unwrap();
        assert_eq!(d.first_dirty, 150);
        assert!(d.clean_bytes > 0 && d.dirty_bytes > 0);
        clean(&log, &d, &LIMITS, NOW).unwrap();
        let got = contents(&log);
        assert_eq!(got.len(), 5);
        assert_eq!(got[4], (150, Some("k0".into()), Some("new".into())));

        // Reopened, the cleaned log reads the same (indexes were written).
        drop(log);
        let log = PartitionLog::open(tmp.path(), config()).unwrap();
        assert_eq!(contents(&log), got);
    }
}

#[test]
fn tombstones_stay_for_delete_retention_after_the_clean_that_reached_them() {
    let tmp = tempfile::tempdir().unwrap();
    let log = filled(tmp.path(), Compression::None);
    let mixed = keyed(
        &[(Some("k1"), None), (None, Some("keyless"))],
        Compression::None,
    );
    // A leader refuses a key-less record on a compacted topic...
    let err = log.append_as_leader_at(mixed.clone(), 0, NOW).unwrap_err();
    assert!(err.to_string().contains("without key"), "{err}");
    // ...but one written before the topic became compacted is still there.
    log.update_config(LogConfig {
        cleanup_compact: false,
        ..config()
    })
    .unwrap();
    log.append_as_leader_at(mixed, 0, NOW).unwrap();
    log.update_config(config()).unwrap();
    log.roll_if_due(i64::MAX / 2).unwrap();
    let stats = clean_now(&log, None, NOW);
    assert_eq!(stats.next_horizon, Some(NOW + 1_000));
    let got = contents(&log);
    assert!(got.contains(&(150, Some("k1".into()), None)), "{got:?}");
    assert!(!got
        .iter()
        .any(|r| r.1.as_deref() == Some("k1") && r.0 < 150));
    assert!(
        !got.iter().any(|r| r.1.is_none()),
        "key-less record kept: {got:?}"
    );

    // Before the horizon a clean keeps it; after, it goes.
    let end = log.log_end_offset();
    let d = dirtiness(&log, Some(stats.next_dirty), end, NOW + 500).unwrap();
    clean(&log, &d, &LIMITS, NOW + 500).unwrap();
    assert!(contents(&log).contains(&(150, Some("k1".into()), None)));
    let d = dirtiness(&log, Some(stats.next_dirty), end, NOW + 1_001).unwrap();
    let s = clean(&log, &d, &LIMITS, NOW + 1_001).unwrap();
    assert_eq!(s.tombstones_removed, 1);
    assert_eq!(s.next_horizon, None);
    let keys: Vec<_> = contents(&log).into_iter().map(|r| r.1.unwrap()).collect();
    assert_eq!(keys, ["k0", "k2", "k3", "k4"]);
}

#[test]
fn nothing_at_or_above_the_last_stable_offset_or_in_the_active_segment_is_cleaned() {
    let tmp = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(tmp.path(), config()).unwrap();
    for round in 0..3 {
        let v = format!("v{round}");
        log.append_as_leader_at(keyed(&[(Some("a"), Some(&v))], Compression::None), 0, NOW)
            .unwrap();
    }
    // One segment, the active one: nothing to clean.
    assert_eq!(dirtiness(&log, None, 3, NOW), None);
    log.roll_if_due(i64::MAX / 2).unwrap();
    // Cleanable only up to the last stable offset's segment.
    assert_eq!(dirtiness(&log, None, 2, NOW), None);
    assert!(dirtiness(&log, None, 3, NOW).is_some());
    // min.compaction.lag.ms keeps young segments out.
    let mut c = config();
    c.min_compaction_lag_ms = 60_000;
    log.update_config(c).unwrap();
    assert_eq!(dirtiness(&log, None, 3, NOW + 1_000), None);
    assert!(dirtiness(&log, None, 3, NOW + 61_000).is_some());
}

/// A crash after the cleaned segment became `<base>.log.swap`: the next
/// load replaces the old segments of its range with it, whether or not
/// their files were already gone.
#[test]
fn an_interrupted_swap_is_finished_on_load() {
    for old_files_gone in [false, true] {
        let cleaned_dir = tempfile::tempdir().unwrap();
        let crashed_dir = tempfile::tempdir().unwrap();
        drop(filled(crashed_dir.path(), Compression::None));
        let log = filled(cleaned_dir.path(), Compression::None);
        // One group for the whole log, so the output is `<0>.log`.
        log.update_config(LogConfig {
            segment_bytes: 1 << 20,
            ..config()
        })
        .unwrap();
        clean_now(&log, None, NOW);
        let want = contents(&log);
        drop(log);
        let mut bases: Vec<i64> = fs::read_dir(crashed_dir.path())
            .unwrap()
            .filter_map(|e| {
                let n = e.unwrap().file_name().to_string_lossy().into_owned();
                n.strip_suffix(".log")?.parse().ok()
            })
            .collect();
        bases.sort();
        // The cleaner's output for base 0 as a committed swap file.
        fs::copy(
            file_path(cleaned_dir.path(), 0, LOG_SUFFIX),
            swap_path(crashed_dir.path(), 0, LOG_SUFFIX),
        )
        .unwrap();
        if old_files_gone {
            for b in &bases[..bases.len() / 2] {
                fs::remove_file(file_path(crashed_dir.path(), *b, LOG_SUFFIX)).unwrap();
            }
        }
        fs::create_dir_all(crashed_dir.path().join(CLEANER_TMP_DIR)).unwrap();
        let log = PartitionLog::open(crashed_dir.path(), config()).unwrap();
        assert_eq!(contents(&log), want, "old files gone: {old_files_gone}");
        assert_eq!(log.log_end_offset(), 150);
        assert!(!crashed_dir.path().join(CLEANER_TMP_DIR).exists());
        assert!(!swap_path(crashed_dir.path(), 0, LOG_SUFFIX).exists());
    }
}

/// A truncation between the cleaner's read and its swap voids the swap:
/// the segment it read may hold other records by then.
#[test]
fn a_truncation_voids_the_swap() {
    let tmp = tempfile::tempdir().unwrap();
    let log = filled(tmp.path(), Compression::None);
    let before = log.truncations();
    let segs = log.snapshot();
    log.truncate_to(149).unwrap();
    assert!(!log.swap_cleaned(&segs[..1], None, before).unwrap());
    assert_eq!(contents(&log).first().map(|r| r.0), Some(0));
    // With the current count the same swap (nothing survived) goes ahead.
    let segs = log.snapshot();
    assert!(log
        .swap_cleaned(&segs[..1], None, log.truncations())
        .unwrap());
    assert!(contents(&log).first().map(|r| r.0) > Some(0));
}

/// A transactional producer's batch of `(key, value)` records.
fn txn_batch(records: &[(Option<&str>, Option<&str>)], base_sequence: i32) -> Bytes {
    let mut b = keyed_batch(0, 5, base_sequence, NOW, records, Compression::None).to_vec();
    b[crate::log::batch::ATTRIBUTES_OFFSET + 1] |= crate::log::batch::TRANSACTIONAL_FLAG as u8;
    crate::log::batch::testing::fix_crc(&mut b);
    Bytes::from(b)
}

fn markers(log: &PartitionLog) -> Vec<i64> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let info = log.read(offset, 1 << 20, None, true).unwrap();
        let hs = crate::log::batch::testing::headers(&info.records);
        let Some(last) = hs.last() else { break };
        out.extend(hs.iter().filter(|h| h.is_control()).map(|h| h.base_offset));
        offset = last.last_offset() + 1;
    }
    out
}

/// A commit marker outlives its transaction's records by delete.retention.ms
/// and then goes; the marker of a transaction with records left stays.
#[test]
fn a_transaction_marker_goes_after_its_records_and_the_horizon() {
    use crate::log::producer_state::Marker;
    let tmp = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(tmp.path(), config()).unwrap();
    let commit = Marker {
        commit: true,
        coordinator_epoch: 0,
    };
    log.append_as_leader_at(
        txn_batch(&[(Some("k1"), Some("a1")), (Some("k2"), Some("a2"))], 0),
        0,
        NOW,
    )
    .unwrap();
    log.append_marker(5, 0, commit, 0).unwrap(); // offset 2
    log.append_as_leader_at(
        txn_batch(&[(Some("k1"), Some("b1")), (Some("k2"), Some("b2"))], 2),
        0,
        NOW,
    )
    .unwrap();
    log.append_marker(5, 0, commit, 0).unwrap(); // offset 5
    log.roll_if_due(i64::MAX / 2).unwrap();
    assert_eq!(markers(&log), [2, 5]);

    let s = clean_now(&log, None, NOW);
    assert_eq!(s.next_horizon, Some(NOW + 1_000));
    assert_eq!(
        markers(&log),
        [2, 5],
        "the first clean only stamps the empty transaction's marker"
    );
    let end = log.log_end_offset();
    let d = dirtiness(&log, Some(s.next_dirty), end, NOW + 1_001).unwrap();
    let s = clean(&log, &d, &LIMITS, NOW + 1_001).unwrap();
    assert_eq!(s.markers_removed, 1);
    assert_eq!(markers(&log), [5]);
    let values: Vec<_> = contents(&log)
        .into_iter()
        .filter_map(|r| r.2.filter(|v| v.len() == 2))
        .collect();
    assert_eq!(values, ["b1", "b2"]);
}
