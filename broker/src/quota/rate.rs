//! The rate a quota is measured with: Kafka's sampled `Rate` stat.
//!
//! Usage is summed into `quota.window.num` samples of
//! `quota.window.size.seconds` each; the rate is the total of the live
//! samples over the time they span, but never over less than all windows
//! but one. So a new client may burst up to about (num − 1) windows' worth
//! of its quota before it is throttled, exactly as with Kafka, and the
//! throttle time that brings the rate back to the quota is
//! `(rate − quota) / quota × span`.

use std::collections::VecDeque;

/// How the samples are laid out (Kafka's `quota.window.*` broker keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// `quota.window.num` (Kafka: 11).
    pub samples: u32,
    /// `quota.window.size.seconds` (Kafka: 1), in milliseconds.
    pub window_ms: u64,
}

impl Default for Windows {
    fn default() -> Windows {
        Windows {
            samples: 11,
            window_ms: 1000,
        }
    }
}

impl Windows {
    /// The shortest span a rate is taken over: all windows but one.
    pub fn min_span_ms(&self) -> u64 {
        self.window_ms
            .saturating_mul(u64::from(self.samples.saturating_sub(1)))
            .max(self.window_ms)
    }

    /// The longest throttle handed out: the whole measured span, after
    /// which every sample of the excess has expired.
    pub fn max_throttle_ms(&self) -> u64 {
        self.window_ms.saturating_mul(u64::from(self.samples))
    }
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    start_ms: u64,
    value: f64,
}

/// Usage of one quota entity (or one (user, client id) pair).
#[derive(Debug, Clone)]
pub struct SampledRate {
    windows: Windows,
    samples: VecDeque<Sample>,
}

impl SampledRate {
    pub fn new(windows: Windows) -> SampledRate {
        SampledRate {
            windows,
            samples: VecDeque::with_capacity(windows.samples as usize),
        }
    }

    /// Drops samples that ended more than the whole span ago.
    fn purge(&mut self, now_ms: u64) {
        let span = self.windows.max_throttle_ms();
        while self
            .samples
            .front()
            .is_some_and(|s| s.start_ms + span <= now_ms)
        {
            self.samples.pop_front();
        }
    }

    /// Adds `value` to the current window (a new one if it has ended).
    pub fn record(&mut self, value: f64, now_ms: u64) {
        self.purge(now_ms);
        let fresh = self
            .samples
            .back()
            .is_none_or(|s| now_ms.saturating_sub(s.start_ms) >= self.windows.window_ms);
        if fresh {
            if self.samples.len() >= self.windows.samples as usize {
                self.samples.pop_front();
            }
            self.samples.push_back(Sample {
                start_ms: now_ms,
                value: 0.0,
            });
        }
        if let Some(s) = self.samples.back_mut() {
            s.value += value;
        }
    }

    /// The time the rate is taken over: from the oldest sample's start,
    /// at least all windows but one.
    fn span_ms(&self, now_ms: u64) -> u64 {
        let elapsed = self
            .samples
            .front()
            .map_or(0, |s| now_ms.saturating_sub(s.start_ms));
        let full = elapsed / self.windows.window_ms;
        let min_full = u64::from(self.windows.samples.saturating_sub(1));
        if full < min_full {
            elapsed + (min_full - full) * self.windows.window_ms
        } else {
            elapsed
        }
    }

    /// Usage per second.
    pub fn rate(&mut self, now_ms: u64) -> f64 {
        let total = self.total(now_ms);
        let span = self.span_ms(now_ms).max(1);
        total * 1000.0 / span as f64
    }

    /// Usage in the live samples.
    pub fn total(&mut self, now_ms: u64) -> f64 {
        self.purge(now_ms);
        self.samples.iter().map(|s| s.value).sum()
    }

    /// How long the client must wait, in milliseconds, for its rate to come
    /// back to `limit` (at most `cap_ms`); 0 when it is within it.
    pub fn throttle_ms(&mut self, limit: f64, now_ms: u64, cap_ms: u64) -> u64 {
        let rate = self.rate(now_ms);
        if limit <= 0.0 || rate <= limit {
            return 0;
        }
        let span = self.span_ms(now_ms) as f64;
        let ms = ((rate - limit) / limit * span).round() as u64;
        ms.min(cap_ms)
    }

    /// When usage was last recorded (for dropping idle sensors).
    pub fn last_ms(&self) -> Option<u64> {
        self.samples.back().map(|s| s.start_ms)
    }
}

/// Kafka's `TokenBucket` stat (KIP-599), for `controller_mutation_rate`:
/// a budget of `(samples − 1) × window × quota` mutations that refills at
/// the quota. A request may take the bucket below zero (a topic of 1 000
/// partitions is never refused for its size); the next one then waits
/// until the deficit is paid back.
#[derive(Debug, Clone, Default)]
pub struct TokenBucket {
    tokens: f64,
    /// Last refill; `None` until first used (the bucket starts full).
    last_ms: Option<u64>,
}

impl TokenBucket {
    fn burst(windows: Windows, quota: f64) -> f64 {
        f64::from(windows.samples.saturating_sub(1)) * windows.window_ms as f64 / 1000.0 * quota
    }

    fn refill(&mut self, quota: f64, windows: Windows, now_ms: u64) {
        let burst = Self::burst(windows, quota);
        self.tokens = match self.last_ms {
            None => burst,
            Some(last) => {
                let elapsed = now_ms.saturating_sub(last) as f64 / 1000.0;
                (self.tokens + quota * elapsed).min(burst)
            }
        };
        self.last_ms = Some(now_ms);
    }

    /// The tokens left (negative: a deficit), after refilling.
    pub fn tokens(&mut self, quota: f64, windows: Windows, now_ms: u64) -> f64 {
        self.refill(quota, windows, now_ms);
        self.tokens
    }

    /// Takes `value` tokens, going below zero if need be.
    pub fn take(&mut self, value: f64, quota: f64, windows: Windows, now_ms: u64) {
        self.refill(quota, windows, now_ms);
        self.tokens -= value;
    }

    /// How long until a deficit is paid back, in milliseconds (0 without one).
    pub fn deficit_ms(&mut self, quota: f64, windows: Windows, now_ms: u64) -> u64 {
        let tokens = self.tokens(quota, windows, now_ms);
        if tokens >= 0.0 || quota <= 0.0 {
            return 0;
        }
        (-tokens / quota * 1000.0).ceil() as u64
    }

    /// When the bucket was last used (for dropping idle sensors).
    pub fn last_ms(&self) -> Option<u64> {
        self.last_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: u64 = 11_000;

    #[test]
    fn a_burst_is_spread_over_all_windows_but_one() {
        let mut r = SampledRate::new(Windows::default());
        r.record(10_000.0, 0);
        // 10 000 over the 10 s minimum span.
        assert_eq!(r.rate(0), 1000.0);
        assert_eq!(r.throttle_ms(1000.0, 0, CAP), 0);
        r.record(10_000.0, 500);
        // 20 000 over 10.5 s against 1000/s: 9.5 s more until it is back
        // to 1000/s, i.e. (rate - quota) / quota × span.
        assert_eq!(r.throttle_ms(1000.0, 500, CAP), 9_500);
    }

    #[test]
    fn steady_usage_at_the_quota_is_not_throttled() {
        let mut r = SampledRate::new(Windows::default());
        let mut now = 0;
        for _ in 0..100 {
            r.record(100.0, now);
            now += 100;
        }
        // 1000/s for 10 s.
        assert!(r.throttle_ms(1000.0, now, CAP) == 0, "{}", r.rate(now));
        assert!(r.throttle_ms(500.0, now, CAP) > 0);
    }

    #[test]
    fn old_samples_expire_and_throttles_are_capped() {
        let w = Windows::default();
        let mut r = SampledRate::new(w);
        r.record(1e9, 0);
        assert_eq!(
            r.throttle_ms(1.0, 0, w.max_throttle_ms()),
            w.max_throttle_ms()
        );
        assert_eq!(r.rate(w.max_throttle_ms()), 0.0);
        assert_eq!(
            r.throttle_ms(1.0, w.max_throttle_ms(), w.max_throttle_ms()),
            0
        );
    }

    #[test]
    fn the_token_bucket_allows_a_burst_then_charges_the_deficit() {
        let w = Windows::default();
        let mut b = TokenBucket::default();
        // Quota 2/s: a burst of 20 is free, 30 leaves a deficit of 10,
        // paid back in 5 s.
        assert_eq!(b.tokens(2.0, w, 1_000), 20.0);
        b.take(30.0, 2.0, w, 1_000);
        assert_eq!(b.deficit_ms(2.0, w, 1_000), 5_000);
        assert_eq!(b.deficit_ms(2.0, w, 3_000), 3_000);
        assert_eq!(b.deficit_ms(2.0, w, 6_000), 0);
        // Refills up to the burst, no further.
        assert_eq!(b.tokens(2.0, w, 100_000), 20.0);
    }
}
