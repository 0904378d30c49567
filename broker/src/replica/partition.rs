//! One hosted partition: its log and its replication state.
//!
//! A partition is either the leader (it takes produce requests, tracks
//! every follower's log end offset and moves the high watermark to the
//! smallest log end offset in the ISR) or a follower (a fetcher copies the
//! leader's batches into its log and passes the leader's high watermark
//! on). Which one it is comes from the partition's `state` znode, applied
//! by the replica manager.
//!
//! Everything that waits on a partition — consumers' long polls, `acks=all`
//! produce requests — watches one [`Progress`] value: the high watermark,
//! the leader epoch and whether this broker still leads. A waiter therefore
//! learns in the same wake-up that its offset became committed or that
//! leadership moved away.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{watch, Notify};

use crate::log::{LogConfig, PartitionLog};
use crate::metrics::TopicCounters;
use crate::topic_config::TopicConfig;

/// Leader, epoch and ISR of a partition as this broker last learnt them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaState {
    /// The leader's broker id, -1 when the partition is offline.
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// Controller epoch of the state's last writer (written back unchanged
    /// when the leader changes the ISR).
    pub controller_epoch: i32,
    /// Version of the `state` znode, for conditional ISR updates.
    pub zk_version: i32,
}

/// Topic settings the request path checks on every append.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionSettings {
    pub min_insync_replicas: i32,
    pub topic: TopicConfig,
    pub log: LogConfig,
}

/// What waiters on a partition watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub high_watermark: i64,
    pub leader_epoch: i32,
    /// Whether this broker leads the partition.
    pub leader: bool,
}

/// What the leader knows of one follower (Kafka's `Replica` state).
#[derive(Debug, Clone, Copy)]
struct FollowerState {
    /// The follower's log end offset (its last fetch offset); -1 until it
    /// fetched from this leader.
    log_end_offset: i64,
    /// Last time the follower had everything the leader had.
    last_caught_up_ms: i64,
    /// Time of the follower's previous fetch and the leader's log end then.
    last_fetch_ms: i64,
    last_fetch_leader_end: i64,
    /// The follower's log start offset as its last fetch gave it; -1
    /// until one did (DeleteRecords waits for it).
    log_start_offset: i64,
}

pub struct Partition {
    pub topic: String,
    pub index: i32,
    /// Which of the broker's log directories holds the log.
    pub dir_index: usize,
    pub log: Arc<PartitionLog>,
    broker_id: i32,
    state: Mutex<ReplicaState>,
    settings: Mutex<PartitionSettings>,
    followers: Mutex<HashMap<i32, FollowerState>>,
    progress: watch::Sender<Progress>,
    /// An ISR change of this leader is being written to coord.
    isr_change_in_flight: AtomicBool,
    /// Woken when a follower reports a new log start offset.
    follower_log_starts: Notify,
    /// Its topic's metrics, bumped once per batch appended or read.
    pub counters: TopicCounters,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Partition {
    /// A partition in neither role yet: the replica manager makes it leader
    /// or follower right after. `high_watermark` is the checkpointed one.
    pub fn new(
        topic: String,
        index: i32,
        dir_index: usize,
        log: Arc<PartitionLog>,
        broker_id: i32,
        high_watermark: i64,
        settings: PartitionSettings,
    ) -> Partition {
        let hw = high_watermark.clamp(log.log_start_offset(), log.log_end_offset());
        let (progress, _) = watch::channel(Progress {
            high_watermark: hw,
            leader_epoch: -1,
            leader: false,
        });
        Partition {
            topic,
            index,
            dir_index,
            log,
            broker_id,
            state: Mutex::new(ReplicaState {
                leader: -1,
                leader_epoch: -1,
                replicas: Vec::new(),
                isr: Vec::new(),
                controller_epoch: -1,
                zk_version: -1,
            }),
            settings: Mutex::new(settings),
            followers: Mutex::new(HashMap::new()),
            progress,
            isr_change_in_flight: AtomicBool::new(false),
            follower_log_starts: Notify::new(),
            counters: TopicCounters::default(),
        }
    }

    /// The partition bumping its topic's metrics.
    pub fn with_counters(mut self, counters: TopicCounters) -> Partition {
        self.counters = counters;
        self
    }

    pub fn state(&self) -> ReplicaState {
        lock(&self.state).clone()
    }

    pub fn settings(&self) -> PartitionSettings {
        lock(&self.settings).clone()
    }

    pub fn set_settings(&self, settings: PartitionSettings) {
        *lock(&self.settings) = settings;
    }

    pub fn leader_epoch(&self) -> i32 {
        lock(&self.state).leader_epoch
    }

    pub fn is_leader(&self) -> bool {
        self.progress.borrow().leader
    }

    /// The offset below which records are committed and visible to consumers.
    pub fn high_watermark(&self) -> i64 {
        self.progress.borrow().high_watermark
    }

    /// High watermark, epoch and role changes (consumer long polls and
    /// `acks=all` waits).
    pub fn subscribe(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    /// Log end offset changes (follower fetches wait on these).
    pub fn subscribe_log_end(&self) -> watch::Receiver<i64> {
        self.log.subscribe()
    }

    /// Makes this broker the leader in `state` (Kafka's `makeLeader`): the
    /// new epoch starts at the log end, every follower is considered caught
    /// up as of now (so a dead one leaves the ISR after the lag time, not at
    /// once), and the high watermark stays where it was until the ISR has
    /// fetched.
    pub fn become_leader(&self, state: ReplicaState, now_ms: i64) {
        let epoch = state.leader_epoch;
        {
            let mut followers = lock(&self.followers);
            followers.clear();
            for r in state.replicas.iter().filter(|r| **r != self.broker_id) {
                followers.insert(
                    *r,
                    FollowerState {
                        log_end_offset: -1,
                        last_caught_up_ms: now_ms,
                        last_fetch_ms: now_ms,
                        last_fetch_leader_end: -1,
                        log_start_offset: -1,
                    },
                );
            }
        }
        *lock(&self.state) = state;
        self.progress.send_modify(|p| {
            p.leader = true;
            p.leader_epoch = epoch;
        });
        self.maybe_advance_high_watermark();
    }

    /// Makes this broker a follower in `state` (leader -1: offline, no one
    /// to fetch from). Waiters on the old leadership wake up and see it gone.
    pub fn become_follower(&self, state: ReplicaState) {
        let epoch = state.leader_epoch;
        lock(&self.followers).clear();
        *lock(&self.state) = state;
        let end = self.log.log_end_offset();
        self.progress.send_modify(|p| {
            p.leader = false;
            p.leader_epoch = epoch;
            p.high_watermark = p.high_watermark.min(end);
        });
    }

    /// A newer version of the state in the same role and epoch (ISR changed
    /// by the controller or by this leader's own write).
    pub fn update_state(&self, state: ReplicaState) {
        *lock(&self.state) = state;
        self.maybe_advance_high_watermark();
    }

    /// A follower's high watermark: the leader's, capped by what it holds.
    pub fn set_follower_high_watermark(&self, leader_hw: i64) {
        let hw = leader_hw.min(self.log.log_end_offset());
        self.progress.send_if_modified(|p| {
            if p.leader || p.high_watermark == hw {
                return false;
            }
            p.high_watermark = hw;
            true
        });
    }

    /// After a truncation: the high watermark cannot exceed the log end.
    pub fn cap_high_watermark(&self) {
        let end = self.log.log_end_offset();
        self.progress.send_if_modified(|p| {
            if p.high_watermark <= end {
                return false;
            }
            p.high_watermark = end;
            true
        });
    }

    /// The leader's high watermark rule: the smallest log end offset in the
    /// ISR (the leader's own included). It never moves back.
    pub fn maybe_advance_high_watermark(&self) {
        let (isr, leader) = {
            let s = lock(&self.state);
            (s.isr.clone(), s.leader)
        };
        if leader != self.broker_id {
            return;
        }
        let mut hw = self.log.log_end_offset();
        {
            let followers = lock(&self.followers);
            for r in isr.iter().filter(|r| **r != self.broker_id) {
                // An ISR member not yet heard from holds the mark back.
                let end = followers.get(r).map_or(-1, |f| f.log_end_offset);
                hw = hw.min(end);
            }
        }
        self.progress.send_if_modified(|p| {
            if !p.leader || hw <= p.high_watermark {
                return false;
            }
            p.high_watermark = hw;
            true
        });
    }

    /// Records a follower's fetch at `fetch_offset` (its log end offset),
    /// following Kafka's rule for "caught up": the fetch reached the
    /// leader's log end now, or reached what the log end was at the
    /// follower's previous fetch. Returns the ISR with the follower added
    /// when it is outside the ISR and has reached the high watermark, with
    /// the state znode version it is based on.
    pub fn record_follower_fetch(
        &self,
        replica: i32,
        fetch_offset: i64,
        now_ms: i64,
    ) -> Option<(Vec<i32>, i32)> {
        let leader_end = self.log.log_end_offset();
        if fetch_offset > leader_end {
            // A follower ahead of the leader has not truncated yet: its
            // offsets say nothing about what it shares with this log (the
            // fetch is answered OFFSET_OUT_OF_RANGE).
            return None;
        }
        {
            let mut followers = lock(&self.followers);
            let f = followers.entry(replica).or_insert(FollowerState {
                log_end_offset: -1,
                last_caught_up_ms: 0,
                last_fetch_ms: now_ms,
                last_fetch_leader_end: -1,
                log_start_offset: -1,
            });
            if fetch_offset >= leader_end {
                f.last_caught_up_ms = now_ms;
            } else if f.last_fetch_leader_end >= 0 && fetch_offset >= f.last_fetch_leader_end {
                f.last_caught_up_ms = f.last_caught_up_ms.max(f.last_fetch_ms);
            }
            f.log_end_offset = fetch_offset;
            f.last_fetch_ms = now_ms;
            f.last_fetch_leader_end = leader_end;
        }
        self.maybe_advance_high_watermark();
        let state = lock(&self.state);
        if state.leader != self.broker_id
            || state.isr.contains(&replica)
            || !state.replicas.contains(&replica)
        {
            return None;
        }
        // Kafka also requires the follower to have reached the start of the
        // current epoch; the high watermark is at or past it once the ISR
        // has fetched in this epoch, so this one check covers both.
        if fetch_offset < self.high_watermark() {
            return None;
        }
        // Appended, as Kafka's expandIsr does.
        let mut isr = state.isr.clone();
        isr.push(replica);
        Some((isr, state.zk_version))
    }

    /// Records a follower's log start offset from its fetch (Fetch v5+;
    /// negative: not given).
    pub fn record_follower_log_start(&self, replica: i32, log_start_offset: i64) {
        if log_start_offset < 0 {
            return;
        }
        let changed = match lock(&self.followers).get_mut(&replica) {
            Some(f) if f.log_start_offset != log_start_offset => {
                f.log_start_offset = log_start_offset;
                true
            }
            _ => false,
        };
        if changed {
            self.follower_log_starts.notify_waiters();
        }
    }

    /// Kafka's low watermark: the lowest log start offset of this leader
    /// and the followers in its ISR (-1 while one of them has not reported
    /// one). Followers outside the ISR are not waited for.
    pub fn low_watermark(&self) -> i64 {
        let isr = lock(&self.state).isr.clone();
        let followers = lock(&self.followers);
        let mut low = self.log.log_start_offset();
        for replica in isr.into_iter().filter(|r| *r != self.broker_id) {
            low = low.min(followers.get(&replica).map_or(-1, |f| f.log_start_offset));
        }
        low
    }

    /// Waits until the low watermark reaches `offset` (Ok) or `deadline`
    /// passes (Err), with the low watermark then.
    pub async fn wait_low_watermark(
        &self,
        offset: i64,
        deadline: tokio::time::Instant,
    ) -> Result<i64, i64> {
        loop {
            let changed = self.follower_log_starts.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let low = self.low_watermark();
            if low >= offset {
                return Ok(low);
            }
            tokio::select! {
                _ = changed => {}
                _ = tokio::time::sleep_until(deadline) => return Err(self.low_watermark()),
            }
        }
    }

    /// ISR members (besides the leader) that have not caught up for longer
    /// than `lag_ms`.
    pub fn lagging_isr_members(&self, now_ms: i64, lag_ms: i64) -> Vec<i32> {
        let state = lock(&self.state);
        if state.leader != self.broker_id {
            return Vec::new();
        }
        let followers = lock(&self.followers);
        state
            .isr
            .iter()
            .filter(|r| **r != self.broker_id)
            .filter(|r| {
                followers
                    .get(r)
                    .is_none_or(|f| now_ms - f.last_caught_up_ms > lag_ms)
            })
            .copied()
            .collect()
    }

    /// Claims the right to write an ISR change; false if one is under way.
    pub fn begin_isr_change(&self) -> bool {
        !self.isr_change_in_flight.swap(true, Ordering::AcqRel)
    }

    /// Ends an ISR change; applies `isr` at `zk_version` when coord took it
    /// and the partition is still led in the epoch the change was made in.
    pub fn finish_isr_change(&self, applied: Option<(Vec<i32>, i32, i32)>) {
        if let Some((isr, epoch, zk_version)) = applied {
            let mut state = lock(&self.state);
            if state.leader == self.broker_id
                && state.leader_epoch == epoch
                && state.zk_version < zk_version
            {
                state.isr = isr;
                state.zk_version = zk_version;
            }
        }
        self.isr_change_in_flight.store(false, Ordering::Release);
        self.maybe_advance_high_watermark();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::LogConfig;

    fn partition(dir: &std::path::Path) -> Partition {
        let log = PartitionLog::open(&dir.join("t-0"), LogConfig::default()).unwrap();
        let settings = PartitionSettings {
            min_insync_replicas: 1,
            topic: TopicConfig::resolve(
                &crate::config::BrokerConfig::from_text(
                    "listeners=PLAINTEXT://127.0.0.1:0\nlog.dirs=/tmp/x\nzookeeper.connect=x:1",
                    &[],
                )
                .unwrap(),
                &Default::default(),
            )
            .unwrap(),
            log: LogConfig::default(),
        };
        Partition::new("t".into(), 0, 0, Arc::new(log), 1, 0, settings)
    }

    fn state(leader: i32, epoch: i32, isr: &[i32]) -> ReplicaState {
        ReplicaState {
            leader,
            leader_epoch: epoch,
            replicas: vec![1, 2, 3],
            isr: isr.to_vec(),
            controller_epoch: 1,
            zk_version: 0,
        }
    }

    fn append(p: &Partition, n: usize) {
        let mut b = runnel_common::kafka::batch::BatchBuilder::new(
            runnel_common::kafka::batch::Codec::None,
        );
        for i in 0..n {
            b.push(0, None, Some(format!("v{i}").as_bytes()), &[]);
        }
        p.log
            .append_as_leader(b.finish().unwrap(), p.leader_epoch())
            .unwrap();
    }

    #[test]
    fn high_watermark_is_the_smallest_isr_log_end() {
        let dir = tempfile::tempdir().unwrap();
        let p = partition(dir.path());
        p.become_leader(state(1, 1, &[1, 2, 3]), 0);
        append(&p, 10);
        p.maybe_advance_high_watermark();
        assert_eq!(p.high_watermark(), 0, "followers not heard from yet");
        p.record_follower_fetch(2, 10, 1);
        assert_eq!(p.high_watermark(), 0);
        p.record_follower_fetch(3, 4, 1);
        assert_eq!(p.high_watermark(), 4);
        p.record_follower_fetch(3, 10, 2);
        assert_eq!(p.high_watermark(), 10);
        // Never backwards, even if a follower reports less after a restart.
        p.record_follower_fetch(3, 2, 3);
        assert_eq!(p.high_watermark(), 10);
    }

    #[test]
    fn a_follower_ahead_of_the_leader_is_not_counted() {
        let dir = tempfile::tempdir().unwrap();
        let p = partition(dir.path());
        p.become_leader(state(1, 1, &[1, 2]), 0);
        append(&p, 5);
        // Not yet truncated: its offsets say nothing about shared records.
        assert_eq!(p.record_follower_fetch(2, 9, 1), None);
        assert_eq!(p.high_watermark(), 0);
        p.record_follower_fetch(2, 5, 2);
        assert_eq!(p.high_watermark(), 5);
    }

    #[test]
    fn leader_alone_in_isr_commits_at_log_end() {
        let dir = tempfile::tempdir().unwrap();
        let p = partition(dir.path());
        p.become_leader(state(1, 1, &[1]), 0);
        append(&p, 3);
        p.maybe_advance_high_watermark();
        assert_eq!(p.high_watermark(), 3);
    }

    #[test]
    fn lagging_followers_and_isr_expansion() {
        let dir = tempfile::tempdir().unwrap();
        let p = partition(dir.path());
        p.become_leader(state(1, 1, &[1, 2]), 1_000);
        append(&p, 5);
        assert!(p.lagging_isr_members(1_500, 1_000).is_empty());
        assert_eq!(p.lagging_isr_members(2_500, 1_000), vec![2]);
        // Follower 2 catches up: no longer lagging.
        assert_eq!(p.record_follower_fetch(2, 5, 2_600), None);
        assert!(p.lagging_isr_members(3_000, 1_000).is_empty());
        // Follower 3 is outside the ISR; reaching the high watermark adds it.
        assert_eq!(p.record_follower_fetch(3, 2, 3_000), None);
        assert_eq!(
            p.record_follower_fetch(3, 5, 3_100),
            Some((vec![1, 2, 3], 0))
        );
        assert!(p.begin_isr_change());
        assert!(!p.begin_isr_change());
        p.finish_isr_change(Some((vec![1, 2, 3], 1, 1)));
        assert_eq!(p.state().isr, vec![1, 2, 3]);
        assert!(p.begin_isr_change());
        p.finish_isr_change(None);
    }

    #[test]
    fn becoming_follower_wakes_waiters_with_leadership_gone() {
        let dir = tempfile::tempdir().unwrap();
        let p = partition(dir.path());
        p.become_leader(state(1, 1, &[1]), 0);
        let mut rx = p.subscribe();
        rx.borrow_and_update();
        p.become_follower(state(2, 2, &[2]));
        assert!(rx.has_changed().unwrap());
        let now = *rx.borrow();
        assert!(!now.leader);
        assert_eq!(now.leader_epoch, 2);
    }
}
