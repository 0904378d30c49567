//! Counters behind `srvr`, `stat`, `mntr`, `cons` and the Prometheus
//! endpoint. Everything a request touches here is an atomic add: no lock on
//! the request path.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// Upper bounds (seconds) of the request latency histogram's buckets.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The request kinds ZooKeeper keeps latency summaries for (its
/// `readlatency` and `updatelatency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Read = 0,
    Update = 1,
}

impl OpKind {
    pub const ALL: [OpKind; 2] = [OpKind::Read, OpKind::Update];

    pub fn label(self) -> &'static str {
        match self {
            OpKind::Read => "read",
            OpKind::Update => "update",
        }
    }
}

/// A latency histogram of atomics: one bucket add and one sum add per
/// request (the count is the buckets' sum).
#[derive(Default)]
pub struct LatencyHistogram {
    /// Per bucket of [`LATENCY_BUCKETS`], and one more for above them all.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_us: AtomicU64,
}

/// A histogram as read: `(upper bound, count in this bucket)` (not
/// cumulative, the last bound infinite), sum in seconds, count.
pub struct HistogramReading {
    pub buckets: Vec<(f64, u64)>,
    pub sum_seconds: f64,
    pub count: u64,
}

impl LatencyHistogram {
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Relaxed);
        self.sum_us
            .fetch_add(elapsed.as_micros().min(u64::MAX as u128) as u64, Relaxed);
    }

    /// The figures now. Buckets and sum are read one after the other, so a
    /// scrape racing a request may see its bucket and not yet its time.
    pub fn read(&self) -> HistogramReading {
        let buckets = LATENCY_BUCKETS
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(&self.buckets)
            .map(|(bound, n)| (bound, n.load(Relaxed)))
            .collect::<Vec<_>>();
        HistogramReading {
            count: buckets.iter().map(|(_, n)| n).sum(),
            buckets,
            sum_seconds: self.sum_us.load(Relaxed) as f64 / 1e6,
        }
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|n| n.load(Relaxed)).sum()
    }
}

/// Request latency and packet counts for the whole server.
pub struct ServerStats {
    pub received: AtomicU64,
    pub sent: AtomicU64,
    latency_min_ms: AtomicU64,
    latency_max_ms: AtomicU64,
    latency_total_ms: AtomicU64,
    latency_count: AtomicU64,
    /// By [`OpKind`].
    pub latency_by_kind: [LatencyHistogram; 2],
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
            latency_by_kind: Default::default(),
            started: Instant::now(),
        }
    }
}

impl ServerStats {
    /// One request answered after `elapsed`: into `mntr`'s min/avg/max
    /// (whole ms, as ZooKeeper keeps them) and, for reads and updates,
    /// into that kind's histogram.
    pub fn record(&self, elapsed: Duration, kind: Option<OpKind>) {
        self.record_latency(elapsed.as_millis().min(u64::MAX as u128) as u64);
        if let Some(kind) = kind {
            self.latency_by_kind[kind as usize].observe(elapsed);
        }
    }

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
    /// Requests read and not answered yet (ZooKeeper's "queued", and the
    /// connection's share of outstanding_requests).
    pub queued: AtomicI64,
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
            queued: AtomicI64::new(0),
        }
    }

    pub fn set_last_op(&self, op: &'static str) {
        *self.last_op.lock().unwrap_or_else(|e| e.into_inner()) = op;
    }

    /// Requests waiting for their answer.
    pub fn queued(&self) -> u64 {
        self.queued.load(Relaxed).max(0) as u64
    }

    /// ZooKeeper's one-line connection summary.
    pub fn describe(&self) -> String {
        let est = self
            .established
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        format!(
            " /{}[1](queued={},recved={},sent={},sid=0x{:x},lop={},est={},to={},lcxid=0x{:x},lzxid=0x{:x})",
            self.remote,
            self.queued(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_by_upper_bound() {
        let h = LatencyHistogram::default();
        h.observe(Duration::from_micros(50));
        h.observe(Duration::from_micros(100));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(60));
        let r = h.read();
        assert_eq!(r.count, 4);
        assert_eq!(h.count(), 4);
        assert_eq!(r.buckets[0], (0.0001, 2));
        assert_eq!(r.buckets[5], (0.005, 1));
        assert_eq!(r.buckets.last(), Some(&(f64::INFINITY, 1)));
        assert!((r.sum_seconds - 60.00315).abs() < 1e-9, "{}", r.sum_seconds);
    }

    #[test]
    fn record_feeds_mntr_figures_and_the_kind_histogram() {
        let s = ServerStats::default();
        s.record(Duration::from_millis(4), Some(OpKind::Update));
        s.record(Duration::from_millis(2), None);
        assert_eq!(s.latency(), (2, 3.0, 4));
        assert_eq!(s.latency_by_kind[OpKind::Update as usize].count(), 1);
        assert_eq!(s.latency_by_kind[OpKind::Read as usize].count(), 0);
    }
}
