//! When and which logs get compacted (Kafka's `LogCleanerManager` and
//! cleaner threads). The compaction itself is [`crate::log::cleaner`].
//!
//! Every compacted partition this broker hosts is a candidate, leader or
//! follower: each replica cleans its own log, as in Kafka. A round measures
//! them all; a log is due when its dirty share of the cleanable bytes is at
//! least `min.cleanable.dirty.ratio`, when its oldest dirty record passed
//! `max.compaction.lag.ms`, or when a tombstone's delete horizon has come.
//! The dirtiest due logs are cleaned on blocking threads, at most
//! `log.cleaner.threads` at a time, each with its share of
//! `log.cleaner.dedupe.buffer.size`; the next round starts at once after
//! progress, else after `log.cleaner.backoff.ms`. Where a clean stopped is
//! kept in its log directory's `cleaner-offset-checkpoint`, so a restart
//! does not clean everything again.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};

use super::manager::ReplicaManager;
use super::partition::Partition;
use crate::config::CleanerConfig;
use crate::log::cleaner::{self, CleanLimits, CleanStats, Dirtiness};
use crate::log::PartitionLog;

type Key = (String, i32);

/// What the cleaner remembers of one partition between rounds.
#[derive(Clone, Debug, Default)]
struct Progress {
    /// Where the next clean's dirty part starts (as checkpointed).
    next_dirty: Option<i64>,
    /// Earliest delete horizon of a tombstone left in the log.
    next_horizon: Option<i64>,
    /// The log this was measured on (`None`: read from the checkpoint at
    /// start): a topic deleted and created again under the same name has
    /// a new log, which starts uncleaned.
    log: Option<Weak<PartitionLog>>,
}

impl Progress {
    /// This progress if it belongs to `log`, else none.
    fn of(self, log: &Arc<PartitionLog>) -> Progress {
        match &self.log {
            Some(w) if !std::ptr::eq(w.as_ptr(), Arc::as_ptr(log)) => Progress::default(),
            _ => self,
        }
    }
}

/// What the cleaner reports to metrics (Kafka's `LogCleaner` and
/// `LogCleanerManager` MBeans).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CleanerStats {
    /// Largest dirty share of a compacted log at the last round, percent.
    pub max_dirty_percent: f64,
    /// Partitions whose last clean failed.
    pub uncleanable_partitions: usize,
    /// Since the last round (0 before the first).
    pub time_since_last_run_ms: f64,
    /// Bytes written over bytes read by the last round's cleans, percent.
    pub recopy_percent: f64,
    /// The longest clean of the last round.
    pub max_clean_time_secs: f64,
    /// Records removed since start.
    pub records_removed: u64,
}

/// The broker's log cleaner.
pub struct LogCleaner {
    config: CleanerConfig,
    replicas: Arc<ReplicaManager>,
    progress: Mutex<HashMap<Key, Progress>>,
    stats: Mutex<(CleanerStats, Option<Instant>)>,
    failed: Mutex<HashSet<Key>>,
}

impl LogCleaner {
    /// A cleaner over `replicas`' logs; the checkpoints of every log
    /// directory are read now.
    pub fn new(config: CleanerConfig, replicas: Arc<ReplicaManager>) -> Arc<LogCleaner> {
        let mut progress = HashMap::new();
        for dir in replicas.log_dirs() {
            for (key, offset) in dir.read_cleaner_offsets() {
                progress.insert(
                    key,
                    Progress {
                        next_dirty: Some(offset),
                        ..Progress::default()
                    },
                );
            }
        }
        Arc::new(LogCleaner {
            config,
            replicas,
            progress: Mutex::new(progress),
            stats: Mutex::new((CleanerStats::default(), None)),
            failed: Mutex::new(HashSet::new()),
        })
    }

    /// The figures for metrics.
    pub fn stats(&self) -> CleanerStats {
        let (mut stats, last_run) = *self.stats.lock().unwrap_or_else(|p| p.into_inner());
        stats.time_since_last_run_ms = last_run.map_or(0.0, |t| t.elapsed().as_secs_f64() * 1000.0);
        stats.uncleanable_partitions = self.failed.lock().unwrap_or_else(|p| p.into_inner()).len();
        stats
    }

    /// Cleans until shutdown (returns at once with `log.cleaner.enable=false`
    /// or no threads).
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        if !self.config.enable || self.config.threads == 0 {
            info!("log cleaner disabled");
            return;
        }
        loop {
            let progressed = self.round().await;
            if *shutdown.borrow() {
                return;
            }
            if !progressed {
                tokio::select! {
                    _ = tokio::time::sleep(self.config.backoff) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    }

    fn progress(&self, key: &Key) -> Progress {
        self.progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
            .unwrap_or_default()
    }

    /// The due logs, dirtiest first (overdue ones before all others).
    fn due(&self, now_ms: i64) -> Vec<(Key, Arc<Partition>, Dirtiness)> {
        let mut due = Vec::new();
        let mut max_dirty = 0.0f64;
        for (key, p) in self.replicas.hosted() {
            let config = p.log.config();
            if !config.cleanup_compact {
                continue;
            }
            let progress = self.progress(&key).of(&p.log);
            let lso = p.log.last_stable_offset(p.high_watermark());
            let Some(d) = cleaner::dirtiness(&p.log, progress.next_dirty, lso, now_ms) else {
                continue;
            };
            max_dirty = max_dirty.max(d.ratio() * 100.0);
            let dirty =
                d.dirty_bytes > 0 && (d.ratio() >= config.min_cleanable_dirty_ratio || d.overdue);
            let horizon_passed = progress.next_horizon.is_some_and(|h| now_ms > h);
            if dirty || horizon_passed {
                due.push((key, p, d));
            }
        }
        due.sort_by(|a, b| {
            b.2.overdue
                .cmp(&a.2.overdue)
                .then(b.2.ratio().total_cmp(&a.2.ratio()))
        });
        due.truncate(self.config.threads);
        let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        stats.0.max_dirty_percent = max_dirty;
        stats.1 = Some(Instant::now());
        due
    }

    /// One round: cleans the due logs; whether any made progress.
    async fn round(&self) -> bool {
        let now = crate::server::now_ms();
        let due = self.due(now);
        if due.is_empty() {
            return false;
        }
        let limits = CleanLimits {
            dedupe_buffer_bytes: self.config.dedupe_buffer_size / self.config.threads.max(1),
            io_max_bytes_per_second: self.config.io_max_bytes_per_second,
        };
        let mut running = JoinSet::new();
        for (key, p, d) in due {
            running.spawn_blocking(move || {
                let started = Instant::now();
                let outcome = cleaner::clean(&p.log, &d, &limits, now);
                (key, p, d, outcome, started.elapsed())
            });
        }
        let mut progressed = false;
        let (mut read, mut written, mut longest) = (0u64, 0u64, Duration::ZERO);
        while let Some(joined) = running.join_next().await {
            let Ok((key, p, d, outcome, took)) = joined else {
                continue;
            };
            longest = longest.max(took);
            match outcome {
                Ok(stats) => {
                    progressed |= stats.next_dirty > d.first_dirty
                        || stats.tombstones_removed > 0
                        || stats.markers_removed > 0;
                    read += stats.bytes_before;
                    written += stats.bytes_after;
                    self.failed
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&key);
                    self.stats
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                        .records_removed += stats.records_removed;
                    self.record(&key, &p, &d, stats).await;
                }
                Err(e) => {
                    warn!(topic = %key.0, partition = key.1, "log cleaner: {e}");
                    self.failed
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(key);
                }
            }
        }
        let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        stats.0.max_clean_time_secs = longest.as_secs_f64();
        if read > 0 {
            stats.0.recopy_percent = written as f64 * 100.0 / read as f64;
        }
        drop(stats);
        progressed
    }

    /// Remembers and checkpoints where `key`'s next clean starts.
    async fn record(&self, key: &Key, p: &Arc<Partition>, d: &Dirtiness, stats: CleanStats) {
        info!(
            topic = %key.0,
            partition = key.1,
            first_dirty = d.first_dirty,
            next_dirty = stats.next_dirty,
            dirty_ratio = format!("{:.2}", d.ratio()),
            segments_before = stats.segments_before,
            segments_after = stats.segments_after,
            bytes_before = stats.bytes_before,
            bytes_after = stats.bytes_after,
            records_removed = stats.records_removed,
            tombstones_removed = stats.tombstones_removed,
            markers_removed = stats.markers_removed,
            keys = stats.keys,
            "cleaned log"
        );
        self.progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                key.clone(),
                Progress {
                    next_dirty: Some(stats.next_dirty),
                    next_horizon: stats.next_horizon,
                    log: Some(Arc::downgrade(&p.log)),
                },
            );
        let Some(dir) = self.replicas.log_dirs().get(p.dir_index).cloned() else {
            return;
        };
        let key = key.clone();
        let written = tokio::task::spawn_blocking(move || {
            dir.write_cleaner_offset(&key, Some(stats.next_dirty))
        })
        .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!("writing cleaner-offset-checkpoint: {e}"),
            Err(e) => warn!("writing cleaner-offset-checkpoint: {e}"),
        }
    }
}
