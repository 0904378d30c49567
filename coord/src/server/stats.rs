//! Counters behind `srvr`, `stat`, `mntr` and `cons`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

/// Request latency and packet counts for the whole server.
pub struct ServerStats {
    pub received: AtomicU64,
    pub sent: AtomicU64,
    latency_min_ms: AtomicU64,
    latency_max_ms: AtomicU64,
    latency_total_ms: AtomicU64,
    latency_count: AtomicU64,
    pub started: Instant,
}

impl Default for ServerStats {
    fn default() -> Self {
        ServerStats {
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            latency_min_ms: AtomicU64::new(u64::MAX),
            latency_max_ms: AtomicU64::new(0),
            latency_total_ms: AtomicU64::new(0),
            latency_count: AtomicU64::new(0),
            started: Instant::now(),
        }
    }
}

impl ServerStats {
    pub fn record_latency(&self, ms: u64) {
        self.latency_min_ms.fetch_min(ms, Relaxed);
        self.latency_max_ms.fetch_max(ms, Relaxed);
        self.latency_total_ms.fetch_add(ms, Relaxed);
        self.latency_count.fetch_add(1, Relaxed);
    }

    /// (min, avg, max) in ms, as ZooKeeper prints them.
    pub fn latency(&self) -> (u64, f64, u64) {
        let count = self.latency_count.load(Relaxed);
        if count == 0 {
            return (0, 0.0, 0);
        }
        (
            self.latency_min_ms.load(Relaxed),
            self.latency_total_ms.load(Relaxed) as f64 / count as f64,
            self.latency_max_ms.load(Relaxed),
        )
    }
}

/// One client connection, for `cons` and `stat`.
pub struct ConnStats {
    pub remote: SocketAddr,
    pub established: SystemTime,
    pub session: AtomicI64,
    pub timeout_ms: AtomicI64,
    pub received: AtomicU64,
    pub sent: AtomicU64,
    pub last_xid: AtomicI64,
    pub last_zxid: AtomicI64,
    pub last_op: Mutex<&'static str>,
}

impl ConnStats {
    pub fn new(remote: SocketAddr) -> ConnStats {
        ConnStats {
            remote,
            established: SystemTime::now(),
            session: AtomicI64::new(0),
            timeout_ms: AtomicI64::new(0),
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            last_xid: AtomicI64::new(-1),
            last_zxid: AtomicI64::new(-1),
            last_op: Mutex::new("NA"),
        }
    }

    pub fn set_last_op(&self, op: &'static str) {
        *self.last_op.lock().unwrap_or_else(|e| e.into_inner()) = op;
    }

    /// ZooKeeper's one-line connection summary.
    pub fn describe(&self) -> String {
        let est = self
            .established
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        format!(
            " /{}[1](queued=0,recved={},sent={},sid=0x{:x},lop={},est={},to={},lcxid=0x{:x},lzxid=0x{:x})",
            self.remote,
            self.received.load(Relaxed),
            self.sent.load(Relaxed),
            self.session.load(Relaxed),
            self.last_op.lock().map(|g| *g).unwrap_or("NA"),
            est,
            self.timeout_ms.load(Relaxed),
            self.last_xid.load(Relaxed),
            self.last_zxid.load(Relaxed),
        )
    }
}
