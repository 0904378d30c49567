//! A window of requests in flight per session, the way every phase that
//! loads the server runs.
//!
//! Each session gets `window` closed loops: a loop asks its job for the next
//! request, sends it, waits for the reply, records the latency, and asks
//! again. So each session always has `window` requests outstanding (as
//! kazoo's async API, Curator and the broker's own client keep them), and
//! throughput comes from concurrency within and across sessions. The job
//! decides what to send and when a session has no more work; the loops stop
//! at the deadline as well.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use tokio::task::JoinSet;
use zookeeper_client::Client;

use crate::stats::{PhaseResult, Samples};

/// What the loops of one phase did together.
pub struct Driven {
    /// Requests answered.
    pub ops: u64,
    pub samples: Samples,
    /// When the last loop stopped (the phase lasts until then).
    pub finished: Instant,
}

impl Driven {
    /// The phase's figures: requests over the time from `start` until the
    /// last loop stopped.
    pub fn result(&self, phase: &'static str, sessions: usize, start: Instant) -> PhaseResult {
        PhaseResult::new(
            phase,
            sessions,
            self.ops,
            self.finished - start,
            &self.samples,
        )
    }

    /// Adds a later step of the same phase.
    pub fn merge(&mut self, other: Driven) {
        self.ops += other.ops;
        self.samples.merge(other.samples);
        self.finished = self.finished.max(other.finished);
    }
}

/// Runs `window` loops on every session until each loop's job answers
/// `None` or `deadline` passed. `job(session, client)` builds the next
/// request of that session; it is sent when first polled, which is at once.
/// The first failed request fails the phase (the other loops are dropped).
pub async fn run<J, F>(
    clients: &[Client],
    window: u32,
    deadline: Option<Instant>,
    job: J,
) -> anyhow::Result<Driven>
where
    J: Fn(usize, &Client) -> Option<F> + Send + Sync + 'static,
    F: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let job = Arc::new(job);
    let start = Instant::now();
    let mut loops = JoinSet::new();
    for (session, client) in clients.iter().enumerate() {
        for _ in 0..window.max(1) {
            let (client, job) = (client.clone(), Arc::clone(&job));
            loops.spawn(async move {
                let mut samples = Samples::default();
                let mut ops = 0u64;
                while deadline.is_none_or(|d| Instant::now() < d) {
                    let Some(request) = job(session, &client) else {
                        break;
                    };
                    let sent = Instant::now();
                    request.await?;
                    samples.record(sent.elapsed());
                    ops += 1;
                }
                anyhow::Ok((ops, samples, Instant::now()))
            });
        }
    }
    let mut driven = Driven {
        ops: 0,
        samples: Samples::default(),
        finished: start,
    };
    while let Some(joined) = loops.join_next().await {
        let (ops, samples, finished) = joined.context("request loop panicked")??;
        driven.merge(Driven {
            ops,
            samples,
            finished,
        });
    }
    Ok(driven)
}

/// A list of items taken in order by the loops of every session (any
/// session takes the next one): for work that has no owner, such as
/// deleting a tree.
pub struct Queue<T> {
    items: Vec<T>,
    next: AtomicUsize,
}

impl<T> Queue<T> {
    pub fn new(items: Vec<T>) -> Arc<Self> {
        Arc::new(Self {
            items,
            next: AtomicUsize::new(0),
        })
    }

    /// The next item nobody took yet.
    pub fn take(&self) -> Option<&T> {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        self.items.get(k)
    }
}
