//! One hosted partition: its log, and the replication state the leader
//! keeps about it (leader epoch, replicas, ISR, high watermark).
//!
//! Today every partition is led by this broker and its ISR is the leader
//! alone, so the high watermark is the log end offset. The multi-broker
//! issue adds follower state here (each follower's log end offset, last
//! caught-up time); the high watermark then becomes the smallest log end
//! offset in the ISR.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::log::{LogConfig, PartitionLog};
use crate::topic_config::TopicConfig;

/// Leader-side replication state of a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaState {
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

/// Topic settings the request path checks on every append.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionSettings {
    pub min_insync_replicas: i32,
    pub topic: TopicConfig,
    pub log: LogConfig,
}

pub struct Partition {
    pub topic: String,
    pub index: i32,
    /// Which of the broker's log directories holds the log.
    pub dir_index: usize,
    pub log: Arc<PartitionLog>,
    state: Mutex<ReplicaState>,
    settings: Mutex<PartitionSettings>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Partition {
    pub fn new(
        topic: String,
        index: i32,
        dir_index: usize,
        log: Arc<PartitionLog>,
        state: ReplicaState,
        settings: PartitionSettings,
    ) -> Partition {
        Partition {
            topic,
            index,
            dir_index,
            log,
            state: Mutex::new(state),
            settings: Mutex::new(settings),
        }
    }

    pub fn state(&self) -> ReplicaState {
        lock(&self.state).clone()
    }

    pub fn set_state(&self, state: ReplicaState) {
        *lock(&self.state) = state;
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

    /// The offset below which records are committed and visible to consumers.
    /// With the leader as the only ISR member this is the log end offset.
    pub fn high_watermark(&self) -> i64 {
        self.log.log_end_offset()
    }

    /// Changes of the log end offset (long-poll fetches wait on it).
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.log.subscribe()
    }
}
