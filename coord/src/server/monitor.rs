//! The server's figures at one moment, read in one place for both `mntr`
//! and the Prometheus endpoint, so the two always agree.
//!
//! Reading takes the tree's read lock, the watch table's lock and the
//! connection table's lock once each, briefly, and no other: every figure
//! is either kept as the server runs (counts in the tree, atomics in
//! [`super::stats`]) or a short count under those locks. Nothing here is
//! done per request.

use std::sync::atomic::Ordering::Relaxed;

use super::Shared;
use crate::raft::RaftFigures;

/// What `mntr` prints and `/metrics` exports (ZooKeeper's names in the
/// field docs).
#[derive(Debug, Clone)]
pub struct Monitor {
    /// zk_server_state: standalone, leader, follower, candidate, ...
    pub server_state: &'static str,
    /// min_latency / avg_latency / max_latency, ms.
    pub min_latency_ms: u64,
    pub avg_latency_ms: f64,
    pub max_latency_ms: u64,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub num_alive_connections: usize,
    /// Requests read and not answered yet, over all connections.
    pub outstanding_requests: u64,
    pub znode_count: usize,
    pub watch_count: usize,
    pub ephemerals_count: usize,
    pub approximate_data_size: usize,
    pub last_zxid: i64,
    pub global_sessions: usize,
    pub uptime_ms: u64,
    /// `None` where the process cannot count them (no /proc).
    pub open_file_descriptor_count: Option<u64>,
    pub max_file_descriptor_count: Option<u64>,
    /// Voting members: 1 for a standalone server.
    pub quorum_size: usize,
    /// An ensemble member's Raft figures.
    pub raft: Option<RaftFigures>,
}

impl Monitor {
    pub fn read(shared: &Shared) -> Monitor {
        let (min, avg, max) = shared.stats.latency();
        let (znode_count, ephemerals_count, approximate_data_size, last_zxid) = {
            let tree = shared.tree();
            (
                tree.node_count(),
                tree.ephemeral_count(),
                tree.data_size(),
                tree.last_zxid(),
            )
        };
        let watch_count = shared.watches().count();
        let (num_alive_connections, outstanding_requests) = shared.connection_totals();
        let raft = shared.ensemble.get().map(|e| e.figures());
        Monitor {
            server_state: shared.mode(),
            min_latency_ms: min,
            avg_latency_ms: avg,
            max_latency_ms: max,
            packets_received: shared.stats.received.load(Relaxed),
            packets_sent: shared.stats.sent.load(Relaxed),
            num_alive_connections,
            outstanding_requests,
            znode_count,
            watch_count,
            ephemerals_count,
            approximate_data_size,
            last_zxid,
            global_sessions: shared.sessions.len(),
            uptime_ms: shared.stats.started.elapsed().as_millis() as u64,
            open_file_descriptor_count: open_fds(),
            max_file_descriptor_count: max_fds(),
            quorum_size: raft.as_ref().map_or(1, |r| r.members),
            raft,
        }
    }

    /// `mntr`'s rows, in ZooKeeper's order and format.
    pub fn mntr_rows(&self, version: &str) -> Vec<(&'static str, String)> {
        let mut rows = vec![
            ("zk_version", format!("{version}, built for Runnel")),
            ("zk_server_state", self.server_state.to_string()),
            ("zk_avg_latency", format!("{:.4}", self.avg_latency_ms)),
            ("zk_max_latency", self.max_latency_ms.to_string()),
            ("zk_min_latency", self.min_latency_ms.to_string()),
            ("zk_packets_received", self.packets_received.to_string()),
            ("zk_packets_sent", self.packets_sent.to_string()),
            (
                "zk_num_alive_connections",
                self.num_alive_connections.to_string(),
            ),
            (
                "zk_outstanding_requests",
                self.outstanding_requests.to_string(),
            ),
            ("zk_znode_count", self.znode_count.to_string()),
            ("zk_watch_count", self.watch_count.to_string()),
            ("zk_ephemerals_count", self.ephemerals_count.to_string()),
            (
                "zk_approximate_data_size",
                self.approximate_data_size.to_string(),
            ),
            ("zk_global_sessions", self.global_sessions.to_string()),
            ("zk_uptime", self.uptime_ms.to_string()),
        ];
        if let Some(n) = self.open_file_descriptor_count {
            rows.push(("zk_open_file_descriptor_count", n.to_string()));
        }
        if let Some(n) = self.max_file_descriptor_count {
            rows.push(("zk_max_file_descriptor_count", n.to_string()));
        }
        if let Some(raft) = &self.raft {
            rows.push(("zk_peers", raft.members.to_string()));
            if let Some((followers, synced)) = raft.followers {
                rows.push(("zk_followers", followers.to_string()));
                rows.push(("zk_synced_followers", synced.to_string()));
            }
        }
        rows
    }
}

/// Open descriptors: the entries of /proc/self/fd (less the one reading it).
fn open_fds() -> Option<u64> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?;
    Some((entries.count() as u64).saturating_sub(1))
}

/// The soft limit on open descriptors (RLIMIT_NOFILE), as ZooKeeper's
/// max_file_descriptor_count reports it.
fn max_fds() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass, which lives for the
    // whole call.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (rc == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}
