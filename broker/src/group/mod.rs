//! Consumer groups: Kafka's classic group protocol.
//!
//! A JoinGroup's path: `api/join_group.rs → group/coordinator.rs →
//! group/state.rs` (the state machine) `→ metadata/groups.rs` (coord).
//!
//! * [`assignment`]: which broker coordinates a group.
//! * [`coordinator`]: finds or loads groups, runs requests through their
//!   state machine, sends coord writes, drives timers and offset expiry.
//! * [`state`]: one group: Empty → PreparingRebalance → CompletingRebalance
//!   → Stable (and Dead), generations, the leader, committed offsets.
//! * [`member`]: one member and the requests it has parked.
//! * [`txn_offsets`]: offsets committed inside transactions, pending until
//!   the transaction's marker.
//!
//! Membership lives in memory on the coordinator; each group's generation
//! and protocol, and its committed offsets, live in coord under
//! `/consumers/<group>` ([`crate::metadata::groups`]).

pub mod assignment;
pub mod coordinator;
pub mod member;
pub mod state;
pub mod txn_offsets;

use std::time::Duration;

pub use coordinator::{GroupApi, GroupCoordinator};

use crate::config::BrokerConfig;

/// The coordinator's settings, from the broker configuration.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms`.
    pub initial_rebalance_delay: Duration,
    /// `group.min.session.timeout.ms`.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub max_session_timeout_ms: i32,
    /// `group.max.size`.
    pub max_size: usize,
    /// `offsets.retention.minutes`.
    pub offsets_retention: Duration,
    /// `offsets.retention.check.interval.ms`.
    pub offsets_retention_check_interval: Duration,
    /// `offset.metadata.max.bytes`.
    pub offset_metadata_max_bytes: usize,
    /// `offsets.topic.num.partitions`: the hash slots groups map to.
    pub slots: i32,
}

impl GroupConfig {
    pub fn from_broker(c: &BrokerConfig) -> GroupConfig {
        GroupConfig {
            initial_rebalance_delay: c.group_initial_rebalance_delay,
            min_session_timeout_ms: c.group_min_session_timeout_ms,
            max_session_timeout_ms: c.group_max_session_timeout_ms,
            max_size: c.group_max_size,
            offsets_retention: c.offsets_retention,
            offsets_retention_check_interval: c.offsets_retention_check_interval,
            offset_metadata_max_bytes: c.offset_metadata_max_bytes,
            slots: c.offsets_topic_num_partitions,
        }
    }
}
