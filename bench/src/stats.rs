//! Latency samples and the figures printed for each phase.
//!
//! Samples are kept whole (one `u32` of microseconds per operation) rather
//! than in a histogram: phases are bounded in count, so memory stays small and
//! percentiles are exact.

use std::time::Duration;

/// Latencies of one phase, in microseconds.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    micros: Vec<u32>,
}

impl Samples {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            micros: Vec::with_capacity(n),
        }
    }

    pub fn record(&mut self, latency: Duration) {
        // Saturate: over an hour per operation is "very slow" all the same.
        self.micros
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
    }

    pub fn merge(&mut self, other: Samples) {
        self.micros.extend(other.micros);
    }

    /// Sorted copy used for percentiles.
    fn sorted(&self) -> Vec<u32> {
        let mut sorted = self.micros.clone();
        sorted.sort_unstable();
        sorted
    }
}

/// Nearest-rank percentile (`p` in 0..=100, to a tenth of a percent) of
/// sorted samples; 0 when empty. The rank is computed in whole tenths so
/// that float rounding cannot move it (99.9 % of 1000 samples is rank 999).
pub fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let tenths = (p * 10.0).round().clamp(0.0, 1000.0) as u64;
    let rank = (tenths * sorted.len() as u64).div_ceil(1000) as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The figures of one phase.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseResult {
    pub phase: &'static str,
    pub sessions: usize,
    /// Operations (or, for fan-out, delivered events) counted for throughput.
    pub ops: u64,
    pub elapsed: Duration,
    pub p50_us: u32,
    pub p99_us: u32,
    pub p999_us: u32,
}

impl PhaseResult {
    /// `ops` over `elapsed`, with latencies from `samples`.
    pub fn new(
        phase: &'static str,
        sessions: usize,
        ops: u64,
        elapsed: Duration,
        samples: &Samples,
    ) -> Self {
        let sorted = samples.sorted();
        Self {
            phase,
            sessions,
            ops,
            elapsed,
            p50_us: percentile(&sorted, 50.0),
            p99_us: percentile(&sorted, 99.0),
            p999_us: percentile(&sorted, 99.9),
        }
    }

    pub fn ops_per_s(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ops as f64 / secs
        } else {
            0.0
        }
    }

    /// A line for people.
    pub fn human_line(&self) -> String {
        format!(
            "{:<8} {:>10.0} ops/s   p50 {:>7} us   p99 {:>7} us   p99.9 {:>7} us   ({} ops in {:.2}s, {} sessions)",
            self.phase,
            self.ops_per_s(),
            self.p50_us,
            self.p99_us,
            self.p999_us,
            self.ops,
            self.elapsed.as_secs_f64(),
            self.sessions
        )
    }

    /// The stable machine-readable line scripts parse: `RESULT key=value…`,
    /// keys never renamed, new keys only appended.
    pub fn result_line(&self) -> String {
        format!(
            "RESULT phase={} ops_per_s={:.0} p50_us={} p99_us={} ops={} secs={:.3} sessions={} p999_us={}",
            self.phase,
            self.ops_per_s(),
            self.p50_us,
            self.p99_us,
            self.ops,
            self.elapsed.as_secs_f64(),
            self.sessions,
            self.p999_us
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 50.0), 50);
        assert_eq!(percentile(&sorted, 99.0), 99);
        assert_eq!(percentile(&sorted, 99.9), 100);
        assert_eq!(percentile(&sorted, 100.0), 100);
        assert_eq!(percentile(&sorted, 0.0), 1);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
        let thousand: Vec<u32> = (1..=1000).collect();
        assert_eq!(percentile(&thousand, 99.9), 999);
        assert_eq!(percentile(&thousand, 99.0), 990);
        assert_eq!(percentile(&thousand[..10], 99.9), 10);
    }

    #[test]
    fn result_line_is_stable() {
        let mut samples = Samples::with_capacity(4);
        for us in [100, 200, 300, 4000] {
            samples.record(Duration::from_micros(us));
        }
        let result = PhaseResult::new("writes", 4, 2000, Duration::from_secs(2), &samples);
        assert_eq!(
            result.result_line(),
            "RESULT phase=writes ops_per_s=1000 p50_us=200 p99_us=4000 ops=2000 secs=2.000 sessions=4 p999_us=4000"
        );
        assert!(result.human_line().starts_with("writes         1000 ops/s"));
    }

    #[test]
    fn zero_elapsed_is_zero_rate() {
        let result = PhaseResult::new("reads", 1, 5, Duration::ZERO, &Samples::default());
        assert_eq!(result.ops_per_s(), 0.0);
    }
}
