//! One `log.dirs` entry (the per-directory part of Kafka's `LogManager`):
//! the partition directories in it, the directory-wide checkpoint files, and
//! the clean-shutdown marker that lets the next start skip recovery.
//!
//! Life cycle:
//!
//! 1. start: [`LogDir::open`] reads the checkpoints, notes whether
//!    `.kafka_cleanshutdown` was there and removes it (from now on a crash is
//!    detected as unclean), and finishes interrupted partition deletions;
//!    then [`LogDir::open_partition`] for each of [`LogDir::partitions`] and
//!    for each partition created later.
//! 2. running: [`LogDir::checkpoint`] every `log.flush.offset.checkpoint.interval.ms`
//!    (60 s) so an unclean restart only re-scans recent data;
//!    [`LogDir::write_high_watermarks`] every
//!    `replica.high.watermark.checkpoint.interval.ms` (5 s).
//! 3. stop: `close()` every log, [`LogDir::checkpoint`], high watermarks,
//!    then [`LogDir::mark_clean_shutdown`] last.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::checkpoint::{
    self, TopicPartition, CLEANER_OFFSET_CHECKPOINT, CLEAN_SHUTDOWN_FILE,
    LOG_START_OFFSET_CHECKPOINT, RECOVERY_POINT_CHECKPOINT, REPLICATION_CHECKPOINT,
};
use super::config::LogConfig;
use super::error::LogError;
use super::partition_log::PartitionLog;
use super::recovery::LoadHints;

/// A log directory and what its checkpoints said at start.
#[derive(Debug)]
pub struct LogDir {
    path: PathBuf,
    clean_shutdown: bool,
    recovery_points: BTreeMap<TopicPartition, i64>,
    log_start_offsets: BTreeMap<TopicPartition, i64>,
    /// Serialises checkpoint writes from concurrent tasks.
    write_lock: Mutex<()>,
}

/// `<topic>-<partition>` → `(topic, partition)`; `None` for other names
/// (`-delete`, `-future`, `-stray` directories, files).
pub fn parse_partition_dir_name(name: &str) -> Option<TopicPartition> {
    let (topic, partition) = name.rsplit_once('-')?;
    if topic.is_empty() || partition.is_empty() || !partition.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((topic.to_string(), partition.parse().ok()?))
}

fn read_or_warn(path: &Path) -> BTreeMap<TopicPartition, i64> {
    match checkpoint::read_offsets(path) {
        Ok(m) => m,
        Err(e) => {
            // Kafka: an unreadable checkpoint means "recover from scratch".
            tracing::warn!(file = %path.display(), error = %e, "ignoring unreadable checkpoint");
            BTreeMap::new()
        }
    }
}

impl LogDir {
    /// Opens (creating if absent) the log directory at `path`.
    pub fn open(path: &Path) -> Result<LogDir, LogError> {
        fs::create_dir_all(path).map_err(|e| LogError::io(path, e))?;
        let marker = path.join(CLEAN_SHUTDOWN_FILE);
        let clean_shutdown = marker.exists();
        let recovery_points = read_or_warn(&path.join(RECOVERY_POINT_CHECKPOINT));
        let log_start_offsets = read_or_warn(&path.join(LOG_START_OFFSET_CHECKPOINT));
        if clean_shutdown {
            fs::remove_file(&marker).map_err(|e| LogError::io(&marker, e))?;
            checkpoint::sync_dir(path).map_err(|e| LogError::io(path, e))?;
        }
        let entries = fs::read_dir(path).map_err(|e| LogError::io(path, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| LogError::io(path, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with("-delete") && entry.path().is_dir() {
                tracing::info!(dir = %entry.path().display(), "finishing interrupted partition deletion");
                fs::remove_dir_all(entry.path()).map_err(|e| LogError::io(&entry.path(), e))?;
            }
        }
        Ok(LogDir {
            path: path.to_path_buf(),
            clean_shutdown,
            recovery_points,
            log_start_offsets,
            write_lock: Mutex::new(()),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the previous stop was clean.
    pub fn had_clean_shutdown(&self) -> bool {
        self.clean_shutdown
    }

    /// `<log.dir>/<topic>-<partition>`.
    pub fn partition_dir(&self, topic: &str, partition: i32) -> PathBuf {
        self.path.join(format!("{topic}-{partition}"))
    }

    /// The partitions that have a directory here, sorted.
    pub fn partitions(&self) -> Result<Vec<TopicPartition>, LogError> {
        let mut out = Vec::new();
        let entries = fs::read_dir(&self.path).map_err(|e| LogError::io(&self.path, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| LogError::io(&self.path, e))?;
            if !entry.path().is_dir() {
                continue;
            }
            if let Some(tp) = parse_partition_dir_name(&entry.file_name().to_string_lossy()) {
                out.push(tp);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Opens (creating if absent) a partition's log with this directory's
    /// checkpointed recovery point and log start offset: after a clean
    /// shutdown nothing is re-scanned, after a crash only what follows the
    /// recovery point.
    pub fn open_partition(
        &self,
        topic: &str,
        partition: i32,
        config: LogConfig,
    ) -> Result<PartitionLog, LogError> {
        let key = (topic.to_string(), partition);
        let hints = LoadHints {
            recovery_point: self.recovery_points.get(&key).copied(),
            log_start_offset: self.log_start_offsets.get(&key).copied(),
            clean_shutdown: self.clean_shutdown && self.recovery_points.contains_key(&key),
        };
        PartitionLog::open_with(&self.partition_dir(topic, partition), config, hints)
    }

    /// Writes `recovery-point-offset-checkpoint` and
    /// `log-start-offset-checkpoint` for `logs` (every open log of this
    /// directory: partitions not listed are dropped from the files).
    pub fn checkpoint<'a>(
        &self,
        logs: impl IntoIterator<Item = (&'a str, i32, &'a PartitionLog)>,
    ) -> Result<(), LogError> {
        let mut recovery = BTreeMap::new();
        let mut start = BTreeMap::new();
        for (topic, partition, log) in logs {
            recovery.insert((topic.to_string(), partition), log.recovery_point());
            start.insert((topic.to_string(), partition), log.log_start_offset());
        }
        let _guard = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        checkpoint::write_offsets(&self.path.join(RECOVERY_POINT_CHECKPOINT), &recovery)?;
        checkpoint::write_offsets(&self.path.join(LOG_START_OFFSET_CHECKPOINT), &start)
    }

    /// Reads `cleaner-offset-checkpoint`: each compacted partition's first
    /// dirty offset (missing or unreadable: none, every log starts dirty).
    pub fn read_cleaner_offsets(&self) -> BTreeMap<TopicPartition, i64> {
        read_or_warn(&self.path.join(CLEANER_OFFSET_CHECKPOINT))
    }

    /// Writes `cleaner-offset-checkpoint` with `offset` for one partition
    /// (`None`: forget it), keeping the others.
    pub fn write_cleaner_offset(
        &self,
        partition: &TopicPartition,
        offset: Option<i64>,
    ) -> Result<(), LogError> {
        let _guard = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let path = self.path.join(CLEANER_OFFSET_CHECKPOINT);
        let mut all = read_or_warn(&path);
        match offset {
            Some(o) => all.insert(partition.clone(), o),
            None => all.remove(partition),
        };
        checkpoint::write_offsets(&path, &all)
    }

    /// Reads `replication-offset-checkpoint` (high watermarks).
    pub fn read_high_watermarks(&self) -> Result<BTreeMap<TopicPartition, i64>, LogError> {
        checkpoint::read_offsets(&self.path.join(REPLICATION_CHECKPOINT))
    }

    /// Writes `replication-offset-checkpoint` (high watermarks).
    pub fn write_high_watermarks(
        &self,
        high_watermarks: &BTreeMap<TopicPartition, i64>,
    ) -> Result<(), LogError> {
        let _guard = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        checkpoint::write_offsets(&self.path.join(REPLICATION_CHECKPOINT), high_watermarks)
    }

    /// Leaves `.kafka_cleanshutdown`: call last, after every log is closed
    /// and [`LogDir::checkpoint`] has run, so the next start skips recovery.
    pub fn mark_clean_shutdown(&self) -> Result<(), LogError> {
        let marker = self.path.join(CLEAN_SHUTDOWN_FILE);
        let write = || -> io::Result<()> {
            fs::File::create(&marker)?.sync_all()?;
            checkpoint::sync_dir(&self.path)
        };
        write().map_err(|e| LogError::io(&marker, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_dir_names() {
        assert_eq!(
            parse_partition_dir_name("orders-3"),
            Some(("orders".into(), 3))
        );
        assert_eq!(
            parse_partition_dir_name("my-topic-12"),
            Some(("my-topic".into(), 12))
        );
        assert_eq!(parse_partition_dir_name("orders-3.abc-delete"), None);
        assert_eq!(parse_partition_dir_name("orders"), None);
        assert_eq!(parse_partition_dir_name("-1"), None);
    }
}
