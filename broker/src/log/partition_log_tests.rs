//! Tests of [`PartitionLog`] on real files in temporary directories.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::log::batch::testing::{batch, batch_with, headers};
use crate::log::batch::{crc_is_valid, BatchHeader, HEADER_SIZE, MAGIC_OFFSET};
use crate::log::LogDir;

const NOW: i64 = 1_700_000_000_000;

fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 4096,
        index_interval_bytes: 256,
        retention_ms: None,
        ..LogConfig::default()
    }
}

/// Reads everything from `from` on, one call per segment at most.
fn read_all(log: &PartitionLog, from: i64) -> Vec<BatchHeader> {
    let mut out = Vec::new();
    let mut offset = from;
    while offset < log.log_end_offset() {
        let info = log.read(offset, 1 << 20, None, true).unwrap();
        let hs = headers(&info.records);
        assert!(!hs.is_empty(), "no progress at offset {offset}");
        offset = hs.last().unwrap().last_offset() + 1;
        out.extend(hs);
    }
    out
}

fn log_files(dir: &Path, suffix: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(suffix))
        .collect();
    v.sort();
    v
}

#[test]
fn offsets_are_assigned_across_appends() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
    let a = log.append_as_leader_at(batch(3, 10, NOW), 5, NOW).unwrap();
    let b = log.append_as_leader_at(batch(1, 10, NOW), 5, NOW).unwrap();
    let c = log.append_as_leader_at(batch(5, 10, NOW), 6, NOW).unwrap();
    assert_eq!((a.first_offset, a.last_offset), (0, 2));
    assert_eq!((b.first_offset, b.last_offset), (3, 3));
    assert_eq!((c.first_offset, c.last_offset), (4, 8));
    assert_eq!(a.log_append_time, -1);
    assert_eq!(c.record_count, 5);
    assert_eq!(log.log_end_offset(), 9);

    let info = log.read(0, 1 << 20, None, false).unwrap();
    let hs = headers(&info.records);
    assert_eq!(
        hs.iter().map(|h| h.base_offset).collect::<Vec<_>>(),
        vec![0, 3, 4]
    );
    assert_eq!(
        hs.iter()
            .map(|h| h.partition_leader_epoch)
            .collect::<Vec<_>>(),
        vec![5, 5, 6]
    );
    let mut pos = 0;
    for h in &hs {
        assert!(crc_is_valid(&info.records[pos..pos + h.size()], h));
        pos += h.size();
    }
    assert_eq!(log.latest_epoch(), Some(6));
    assert_eq!(log.end_offset_for_epoch(5), (5, 4));
    assert_eq!(log.end_offset_for_epoch(6), (6, 9));
}

#[test]
fn bad_batches_are_refused_and_leave_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        max_message_bytes: 500,
        ..LogConfig::default()
    };
    let log = PartitionLog::open(dir.path(), config).unwrap();
    let mut bad = batch(2, 10, NOW).to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0x40;
    assert_eq!(
        log.append_as_leader(Bytes::from(bad), 0)
            .unwrap_err()
            .error_code(),
        2
    );
    let mut old = batch(2, 10, NOW).to_vec();
    old[MAGIC_OFFSET] = 1;
    assert_eq!(
        log.append_as_leader(Bytes::from(old), 0)
            .unwrap_err()
            .error_code(),
        87
    );
    assert_eq!(
        log.append_as_leader(batch(1, 600, NOW), 0)
            .unwrap_err()
            .error_code(),
        10
    );
    // A good batch followed by a bad one: nothing is written.
    let mut set = batch(1, 10, NOW).to_vec();
    set.extend_from_slice(&batch(1, 10, NOW)[..30]);
    assert!(log.append_as_leader(Bytes::from(set), 0).is_err());
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.size_in_bytes(), 0);
}

#[test]
fn read_from_the_middle_of_a_batch_returns_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), small_config()).unwrap();
    for _ in 0..20 {
        log.append_as_leader_at(batch(10, 20, NOW), 0, NOW).unwrap();
    }
    for offset in [0, 5, 9, 10, 57, 199] {
        let info = log.read(offset, 1, None, true).unwrap();
        let hs = headers(&info.records);
        assert_eq!(hs.len(), 1);
        assert_eq!(hs[0].base_offset, offset / 10 * 10, "offset {offset}");
    }
}

#[test]
fn max_bytes_min_one_batch_and_high_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
    for _ in 0..4 {
        log.append_as_leader_at(batch(2, 400, NOW), 0, NOW).unwrap();
    }
    let one = log.read(0, 1 << 20, None, false).unwrap().records.len() / 4;
    // max_bytes cuts at a batch boundary, never inside a batch.
    let info = log.read(0, one * 2 + one / 2, None, false).unwrap();
    assert_eq!(info.records.len(), one * 2);
    // Too small for the first batch: empty, unless min_one_batch.
    assert!(log.read(0, 10, None, false).unwrap().records.is_empty());
    assert_eq!(log.read(0, 10, None, true).unwrap().records.len(), one);
    // The high watermark hides uncommitted batches.
    let info = log.read(0, 1 << 20, Some(4), false).unwrap();
    assert_eq!(headers(&info.records).len(), 2);
    assert!(log
        .read(4, 1 << 20, Some(4), true)
        .unwrap()
        .records
        .is_empty());
    // Log end: empty; beyond or below the log: out of range.
    let end = log.read(8, 1 << 20, None, true).unwrap();
    assert!(end.records.is_empty());
    assert_eq!(end.log_end_offset, 8);
    assert_eq!(log.read(9, 100, None, true).unwrap_err().error_code(), 1);
    assert_eq!(log.read(-1, 100, None, true).unwrap_err().error_code(), 1);
}

#[test]
fn segments_roll_by_size_with_kafka_file_names() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), small_config()).unwrap();
    for _ in 0..40 {
        log.append_as_leader_at(batch(5, 100, NOW), 0, NOW).unwrap();
    }
    assert!(log.segment_count() > 3, "{}", log.segment_count());
    let logs = log_files(dir.path(), ".log");
    assert_eq!(logs.len(), log.segment_count());
    assert_eq!(logs[0], "00000000000000000000.log");
    assert!(logs
        .iter()
        .all(|n| n.len() == "00000000000000000000.log".len()));
    assert_eq!(log_files(dir.path(), ".index").len(), logs.len());
    assert_eq!(log_files(dir.path(), ".timeindex").len(), logs.len());
    for name in &logs {
        assert!(fs::metadata(dir.path().join(name)).unwrap().len() <= 4096);
    }
    let all = read_all(&log, 0);
    assert_eq!(all.len(), 40);
    assert!(all
        .windows(2)
        .all(|w| w[1].base_offset == w[0].last_offset() + 1));
    // Every offset finds its batch, across segments.
    for offset in 0..200 {
        let info = log.read(offset, 1, None, true).unwrap();
        assert_eq!(headers(&info.records)[0].base_offset, offset / 5 * 5);
    }
}

#[test]
fn segments_roll_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_ms: 1000,
        ..LogConfig::default()
    };
    let log = PartitionLog::open(dir.path(), config).unwrap();
    log.append_as_leader_at(batch(1, 10, NOW), 0, NOW).unwrap();
    log.append_as_leader_at(batch(1, 10, NOW + 500), 0, NOW + 500)
        .unwrap();
    assert_eq!(log.segment_count(), 1);
    log.append_as_leader_at(batch(1, 10, NOW + 1500), 0, NOW + 1500)
        .unwrap();
    assert_eq!(log.segment_count(), 2);
    assert_eq!(log_files(dir.path(), ".log")[1], "00000000000000000002.log");
    // An idle partition rolls on the periodic check.
    assert!(!log.roll_if_due(NOW + 1600).unwrap());
    assert!(log.roll_if_due(NOW + 3000).unwrap());
    assert_eq!(log.segment_count(), 3);
    assert!(
        !log.roll_if_due(NOW + 9000).unwrap(),
        "empty segment never rolls"
    );
}

#[test]
fn clean_reopen_through_log_dir_keeps_everything_and_indexes() {
    let root = tempfile::tempdir().unwrap();
    let written;
    {
        let dir = LogDir::open(root.path()).unwrap();
        let log = dir.open_partition("t", 0, small_config()).unwrap();
        for i in 0..50 {
            log.append_as_leader_at(batch(1 + i % 4, 50, NOW + i as i64), 3, NOW)
                .unwrap();
        }
        written = read_all(&log, 0);
        log.close().unwrap();
        assert_eq!(log.read(0, 10, None, true).unwrap_err().error_code(), 56);
        dir.checkpoint([("t", 0, &log)]).unwrap();
        dir.mark_clean_shutdown().unwrap();
    }
    let dir = LogDir::open(root.path()).unwrap();
    assert!(dir.had_clean_shutdown());
    assert_eq!(dir.partitions().unwrap(), vec![("t".to_string(), 0)]);
    let index_sizes: Vec<u64> = log_files(&root.path().join("t-0"), ".index")
        .iter()
        .map(|n| fs::metadata(root.path().join("t-0").join(n)).unwrap().len())
        .collect();
    assert!(index_sizes.iter().any(|&s| s > 0));
    let log = dir.open_partition("t", 0, small_config()).unwrap();
    assert_eq!(log.recovery_point(), log.log_end_offset());
    assert_eq!(read_all(&log, 0), written);
    let last = written.last().unwrap();
    assert_eq!(log.log_end_offset(), last.last_offset() + 1);
    for h in &written {
        let info = log.read(h.last_offset(), 1, None, true).unwrap();
        assert_eq!(headers(&info.records)[0], *h);
    }
    assert_eq!(log.latest_epoch(), Some(3));
    // The marker is consumed: a crash from now on is seen as unclean.
    drop(log);
    assert!(!LogDir::open(root.path()).unwrap().had_clean_shutdown());
}

/// Appends `n` batches, then drops the log without closing (a crash).
fn crashed_log(dir: &Path, n: usize) -> Vec<BatchHeader> {
    let log = PartitionLog::open(dir, small_config()).unwrap();
    for _ in 0..n {
        log.append_as_leader_at(batch(3, 100, NOW), 1, NOW).unwrap();
    }
    read_all(&log, 0)
}

fn active_log_file(dir: &Path) -> std::path::PathBuf {
    dir.join(log_files(dir, ".log").last().unwrap())
}

#[test]
fn recovery_cuts_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let written = crashed_log(dir.path(), 30);
    let path = active_log_file(dir.path());
    let len = fs::metadata(&path).unwrap().len();
    // Half of the last batch made it to disk.
    let last = written.last().unwrap();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - last.size() as u64 / 2)
        .unwrap();
    let log = PartitionLog::open(dir.path(), small_config()).unwrap();
    assert_eq!(log.log_end_offset(), last.base_offset);
    assert_eq!(read_all(&log, 0), written[..written.len() - 1].to_vec());
    assert_eq!(
        log.read(last.base_offset + 1, 100, None, true)
            .unwrap_err()
            .error_code(),
        1
    );
    // The log continues where the good data ends.
    let next = log.append_as_leader_at(batch(1, 5, NOW), 2, NOW).unwrap();
    assert_eq!(next.first_offset, last.base_offset);
    assert_eq!(log.end_offset_for_epoch(1), (1, last.base_offset));
}

#[test]
fn recovery_cuts_garbage_and_bit_flips() {
    // Garbage appended after the last batch.
    let dir = tempfile::tempdir().unwrap();
    let written = crashed_log(dir.path(), 30);
    let path = active_log_file(dir.path());
    OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(&[0xAB; 100])
        .unwrap();
    let log = PartitionLog::open(dir.path(), small_config()).unwrap();
    assert_eq!(read_all(&log, 0), written);
    drop(log);

    // A flipped bit inside the last batch's records: the batch is dropped.
    let dir = tempfile::tempdir().unwrap();
    let written = crashed_log(dir.path(), 30);
    let path = active_log_file(dir.path());
    let mut bytes = fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0x04;
    fs::write(&path, &bytes).unwrap();
    let log = PartitionLog::open(dir.path(), small_config()).unwrap();
    let last = written.last().unwrap();
    assert_eq!(log.log_end_offset(), last.base_offset);
    assert_eq!(read_all(&log, 0), written[..written.len() - 1].to_vec());
    let info = log.read(0, 1 << 30, None, true).unwrap();
    assert!(!info.records.is_empty());
    drop(log);

    // A flipped bit in an earlier batch of the active segment: everything
    // from that batch on is cut, and never served.
    let dir = tempfile::tempdir().unwrap();
    let written = crashed_log(dir.path(), 30);
    let path = active_log_file(dir.path());
    let base: i64 = log_files(dir.path(), ".log").last().unwrap()[..20]
        .parse()
        .unwrap();
    let mut bytes = fs::read(&path).unwrap();
    let first_size = written
        .iter()
        .find(|h| h.base_offset == base)
        .unwrap()
        .size();
    bytes[first_size + HEADER_SIZE + 3] ^= 0x80; // the active segment's second batch
    fs::write(&path, &bytes).unwrap();
    let log = PartitionLog::open(dir.path(), small_config()).unwrap();
    let expected: Vec<BatchHeader> = written
        .iter()
        .filter(|h| h.base_offset <= base)
        .copied()
        .collect();
    assert_eq!(read_all(&log, 0), expected);
    assert_eq!(
        log.log_end_offset(),
        expected.last().unwrap().last_offset() + 1
    );
}

#[test]
fn lost_index_is_rebuilt_after_clean_shutdown() {
    let root = tempfile::tempdir().unwrap();
    let written;
    {
        let dir = LogDir::open(root.path()).unwrap();
        let log = dir.open_partition("t", 1, small_config()).unwrap();
        for _ in 0..30 {
            log.append_as_leader_at(batch(2, 100, NOW), 0, NOW).unwrap();
        }
        written = read_all(&log, 0);
        log.close().unwrap();
        dir.checkpoint([("t", 1, &log)]).unwrap();
        dir.mark_clean_shutdown().unwrap();
    }
    let pdir = root.path().join("t-1");
    let first_index = pdir.join(&log_files(&pdir, ".index")[0]);
    fs::remove_file(&first_index).unwrap();
    let dir = LogDir::open(root.path()).unwrap();
    let log = dir.open_partition("t", 1, small_config()).unwrap();
    assert!(fs::metadata(&first_index).unwrap().len() > 0);
    assert_eq!(read_all(&log, 0), written);
}

#[test]
fn retention_by_time_advances_the_log_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_ms: Some(60_000),
        ..small_config()
    };
    let log = PartitionLog::open(dir.path(), config).unwrap();
    for i in 0..30 {
        // Old records first, then recent ones.
        let ts = if i < 20 { NOW - 3_600_000 } else { NOW };
        log.append_as_leader_at(batch(2, 100, ts), 0, NOW).unwrap();
    }
    let segments = log.segment_count();
    let end = log.log_end_offset();
    let deleted = log.apply_retention(NOW, end).unwrap();
    assert!(deleted > 0);
    assert_eq!(log.segment_count(), segments - deleted);
    let start = log.log_start_offset();
    assert!(start > 0 && start <= 40, "{start}");
    assert_eq!(log.read(0, 100, None, true).unwrap_err().error_code(), 1);
    assert_eq!(read_all(&log, start).last().unwrap().last_offset(), end - 1);
    assert_eq!(log_files(dir.path(), ".log").len(), log.segment_count());
    // Not past the high watermark.
    let dir2 = tempfile::tempdir().unwrap();
    let log2 = PartitionLog::open(dir2.path(), log.config().as_ref().clone()).unwrap();
    for _ in 0..30 {
        log2.append_as_leader_at(batch(2, 100, NOW - 3_600_000), 0, NOW)
            .unwrap();
    }
    assert_eq!(log2.apply_retention(NOW, 0).unwrap(), 0);
    // Everything old: the active segment is rolled first, never deleted.
    let end2 = log2.log_end_offset();
    let before = log2.segment_count();
    assert_eq!(log2.apply_retention(NOW, end2).unwrap(), before);
    assert_eq!(log2.segment_count(), 1);
    assert_eq!(
        (log2.log_start_offset(), log2.log_end_offset()),
        (end2, end2)
    );
    assert!(log2.read(end2, 100, None, true).unwrap().records.is_empty());
    let next = log2.append_as_leader_at(batch(1, 1, NOW), 0, NOW).unwrap();
    assert_eq!(next.first_offset, end2);
}

#[test]
fn retention_by_size_keeps_the_newest_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_bytes: Some(10_000),
        ..small_config()
    };
    let log = PartitionLog::open(dir.path(), config).unwrap();
    for _ in 0..100 {
        log.append_as_leader_at(batch(1, 200, NOW), 0, NOW).unwrap();
    }
    assert!(log.size_in_bytes() > 20_000);
    let end = log.log_end_offset();
    let deleted = log.apply_retention(NOW, end).unwrap();
    assert!(deleted > 0);
    let size = log.size_in_bytes();
    // Kafka's rule: whole segments, oldest first, only while the rest
    // stays at or above the limit; so at most one segment over it.
    assert!(size > 10_000 && size < 10_000 + 4096, "{size}");
    assert_eq!(
        read_all(&log, log.log_start_offset())
            .last()
            .unwrap()
            .last_offset(),
        end - 1
    );
    assert_eq!(log.apply_retention(NOW, end).unwrap(), 0);
}

#[test]
fn delete_records_then_retention() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), small_config()).unwrap();
    for _ in 0..40 {
        log.append_as_leader_at(batch(5, 100, NOW), 0, NOW).unwrap();
    }
    log.increment_log_start_offset(101).unwrap();
    assert_eq!(log.log_start_offset(), 101);
    assert_eq!(log.read(100, 10, None, true).unwrap_err().error_code(), 1);
    // The batch holding 101 starts at 100; it is served whole.
    let info = log.read(101, 10, None, true).unwrap();
    assert_eq!(headers(&info.records)[0].base_offset, 100);
    let deleted = log.apply_retention(NOW, log.log_end_offset()).unwrap();
    assert!(deleted > 0);
    assert_eq!(log.log_start_offset(), 101);
    assert!(log.increment_log_start_offset(1000).is_err());
}

#[test]
fn log_append_time_rewrites_timestamps_with_a_valid_crc() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        message_timestamp_type: TimestampType::LogAppendTime,
        ..LogConfig::default()
    };
    let log = PartitionLog::open(dir.path(), config).unwrap();
    let info = log.append_as_leader_at(batch(3, 10, 42), 0, NOW).unwrap();
    assert_eq!(info.log_append_time, NOW);
    assert_eq!(info.max_timestamp, NOW);
    let read = log.read(0, 1 << 20, None, true).unwrap();
    let h = headers(&read.records)[0];
    assert!(h.log_append_time());
    assert_eq!(h.max_timestamp, NOW);
    assert!(crc_is_valid(&read.records, &h));
    let found = log.offset_for_timestamp(NOW).unwrap().unwrap();
    assert_eq!((found.offset, found.timestamp), (0, NOW));
}

#[test]
fn follower_appends_keep_offsets_and_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let leader =
        PartitionLog::open(dir.path().join("leader").as_path(), LogConfig::default()).unwrap();
    leader
        .append_as_leader_at(batch(3, 10, NOW), 4, NOW)
        .unwrap();
    leader
        .append_as_leader_at(batch(2, 10, NOW), 7, NOW)
        .unwrap();
    let fetched = leader.read(0, 1 << 20, None, true).unwrap().records;

    let follower =
        PartitionLog::open(dir.path().join("follower").as_path(), LogConfig::default()).unwrap();
    let info = follower.append_as_follower(fetched.clone()).unwrap();
    assert_eq!((info.first_offset, info.last_offset), (0, 4));
    assert_eq!(
        follower.read(0, 1 << 20, None, true).unwrap().records,
        fetched
    );
    assert_eq!(follower.end_offset_for_epoch(4), (4, 3));
    // Replaying the same batches is out of order.
    let e = follower.append_as_follower(fetched).unwrap_err();
    assert!(matches!(e, LogError::OffsetsOutOfOrder(_)), "{e}");
    // Corruption is still caught on the follower.
    let mut bad = batch_with(5, NOW, &[b"x"]);
    let n = bad.len();
    bad[n - 1] ^= 1;
    assert_eq!(
        follower
            .append_as_follower(Bytes::from(bad))
            .unwrap_err()
            .error_code(),
        2
    );
    // A gap is allowed.
    let gap = follower
        .append_as_follower(Bytes::from(batch_with(10, NOW, &[b"y"])))
        .unwrap();
    assert_eq!(gap.first_offset, 10);
    assert_eq!(follower.log_end_offset(), 11);
}

#[test]
fn truncation_for_replication() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), small_config()).unwrap();
    for i in 0..40 {
        log.append_as_leader_at(batch(5, 100, NOW), i / 10, NOW)
            .unwrap();
    }
    let segments = log.segment_count();
    assert!(segments > 2);
    let mut rx = log.subscribe();
    rx.mark_unchanged();
    log.truncate_to(100).unwrap();
    assert_eq!(log.log_end_offset(), 100);
    assert!(rx.has_changed().unwrap());
    assert_eq!(*rx.borrow_and_update(), 100);
    assert!(log.segment_count() < segments);
    assert_eq!(read_all(&log, 0).last().unwrap().last_offset(), 99);
    assert_eq!(log.latest_epoch(), Some(1));
    // Inside a batch: the whole batch goes.
    log.truncate_to(52).unwrap();
    assert_eq!(log.log_end_offset(), 50);
    // At or past the end: nothing happens.
    log.truncate_to(500).unwrap();
    assert_eq!(log.log_end_offset(), 50);
    let next = log.append_as_leader_at(batch(1, 1, NOW), 9, NOW).unwrap();
    assert_eq!(next.first_offset, 50);
    // Epoch 1 was cut off entirely: it is reported as ending where the
    // next known epoch starts, under the last known epoch below it.
    assert_eq!(log.end_offset_for_epoch(1), (0, 50));
    assert_eq!(log.end_offset_for_epoch(9), (9, 51));
    // Reopening after truncation finds the same log.
    let before = read_all(&log, 0);
    drop(log);
    let log = PartitionLog::open(dir.path(), small_config()).unwrap();
    assert_eq!(read_all(&log, 0), before);
    // Below everything: restart at a new offset.
    log.truncate_fully_and_start_at(1000).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (1000, 1000));
    assert_eq!(log.segment_count(), 1);
    assert_eq!(
        log_files(dir.path(), ".log"),
        vec!["00000000000000001000.log".to_string()]
    );
    assert_eq!(
        log.append_as_leader_at(batch(1, 1, NOW), 9, NOW)
            .unwrap()
            .first_offset,
        1000
    );
}

#[test]
fn offsets_by_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), small_config()).unwrap();
    assert_eq!(log.offset_for_timestamp(MAX_TIMESTAMP).unwrap(), None);
    // Batch i holds offsets 4i..4i+3 with timestamps 1000*i + 0..3.
    for i in 0..50 {
        log.append_as_leader_at(batch(4, 50, 1000 * i), 2, NOW)
            .unwrap();
    }
    let at = |ts| {
        log.offset_for_timestamp(ts)
            .unwrap()
            .map(|f| (f.offset, f.timestamp))
    };
    assert_eq!(at(0), Some((0, 0)));
    assert_eq!(at(2), Some((2, 2)));
    assert_eq!(at(3500), Some((16, 4000)));
    assert_eq!(at(10_001), Some((41, 10_001)));
    assert_eq!(at(49_003), Some((199, 49_003)));
    assert_eq!(at(49_004), None);
    assert_eq!(at(MAX_TIMESTAMP), Some((199, 49_003)));
    let earliest = log
        .offset_for_timestamp(EARLIEST_TIMESTAMP)
        .unwrap()
        .unwrap();
    assert_eq!((earliest.offset, earliest.leader_epoch), (0, Some(2)));
    assert_eq!(
        log.offset_for_timestamp(LATEST_TIMESTAMP)
            .unwrap()
            .unwrap()
            .offset,
        200
    );
    // Still right after a reopen (indexes from disk).
    drop(log);
    let log = PartitionLog::open(dir.path(), small_config()).unwrap();
    let found = log.offset_for_timestamp(10_001).unwrap().unwrap();
    assert_eq!((found.offset, found.leader_epoch), (41, Some(2)));
}

#[test]
fn flush_moves_the_recovery_point() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), small_config()).unwrap();
    for _ in 0..40 {
        log.append_as_leader_at(batch(1, 200, NOW), 0, NOW).unwrap();
    }
    assert_eq!(log.recovery_point(), 0);
    // The periodic call flushes rolled segments only.
    log.maybe_flush(NOW).unwrap();
    let rp = log.recovery_point();
    assert!(rp > 0 && rp < log.log_end_offset(), "{rp}");
    log.flush().unwrap();
    assert_eq!(log.recovery_point(), log.log_end_offset());
    // flush.messages flushes inside append.
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        flush_interval_messages: 3,
        ..small_config()
    };
    let log = PartitionLog::open(dir.path(), config).unwrap();
    log.append_as_leader_at(batch(2, 1, NOW), 0, NOW).unwrap();
    assert_eq!(log.recovery_point(), 0);
    log.append_as_leader_at(batch(2, 1, NOW), 0, NOW).unwrap();
    assert_eq!(log.recovery_point(), 4);
}

#[tokio::test]
async fn subscribers_wake_on_append() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::sync::Arc::new(PartitionLog::open(dir.path(), LogConfig::default()).unwrap());
    let mut rx = log.subscribe();
    let writer = log.clone();
    let task = tokio::task::spawn_blocking(move || writer.append_as_leader(batch(2, 1, NOW), 0));
    rx.changed().await.unwrap();
    assert_eq!(*rx.borrow(), 2);
    task.await.unwrap().unwrap();
}

#[test]
fn delete_removes_the_directory() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("gone-0");
    let log = PartitionLog::open(&dir, LogConfig::default()).unwrap();
    log.append_as_leader(batch(1, 1, NOW), 0).unwrap();
    log.delete().unwrap();
    assert!(!dir.exists());
    assert_eq!(fs::read_dir(root.path()).unwrap().count(), 0);
    assert_eq!(
        log.append_as_leader(batch(1, 1, NOW), 0)
            .unwrap_err()
            .error_code(),
        56
    );
}

/// `(base offset, bytes after the header)` of every batch, read from 0
/// with `max_bytes` per call, checking each CRC.
fn read_back(log: &PartitionLog, max_bytes: usize) -> Vec<(i64, Bytes)> {
    let mut got = Vec::new();
    let mut offset = 0;
    while offset < log.log_end_offset() {
        let info = log.read(offset, max_bytes, None, true).unwrap();
        let mut pos = 0;
        for h in headers(&info.records) {
            assert!(crc_is_valid(&info.records[pos..pos + h.size()], &h));
            got.push((
                h.base_offset,
                info.records.slice(pos + HEADER_SIZE..pos + h.size()),
            ));
            pos += h.size();
            offset = h.last_offset() + 1;
        }
        assert!(pos > 0, "no progress at {offset}");
    }
    got
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random batches in small segments: reading back from offset 0, then
    /// again after a crash-style reopen, gives exactly what was appended.
    #[test]
    fn reads_reconstruct_appends(
        sizes in proptest::collection::vec((1usize..6, 0usize..700), 1..60),
        max_bytes in 1usize..5000,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let log = PartitionLog::open(dir.path(), small_config()).unwrap();
        let mut expected = Vec::new();
        for (i, (n, len)) in sizes.iter().enumerate() {
            let b = batch(*n, *len, NOW + i as i64);
            let info = log.append_as_leader_at(b.clone(), 1, NOW).unwrap();
            expected.push((info.first_offset, b.slice(HEADER_SIZE..)));
        }
        prop_assert_eq!(read_back(&log, max_bytes), expected.clone());
        drop(log); // no close: the reopen recovers
        let log = PartitionLog::open(dir.path(), small_config()).unwrap();
        prop_assert_eq!(read_back(&log, max_bytes), expected);
    }
}
