//! The write and read phases: every session runs closed loops (one request
//! in flight each; `--outstanding` loops per session for writes), so the
//! throughput figure comes from concurrency across and within sessions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::task::JoinSet;
use zookeeper_client::{Acls, Client, CreateMode};

use super::Plan;
use crate::stats::{PhaseResult, Samples};

/// What one session's loop produced.
struct SessionLoad {
    ops: u64,
    samples: Samples,
    /// Nodes created (`n0..n{created}`), for the read phase.
    created: u64,
    finished: Instant,
}

fn node_path(plan: &Plan, session: usize, k: u64) -> String {
    format!("{}/n{k}", plan.session_dir(session))
}

/// Times one request.
async fn timed<T, F>(samples: &mut Samples, request: F) -> Result<T, zookeeper_client::Error>
where
    F: std::future::Future<Output = Result<T, zookeeper_client::Error>>,
{
    let started = Instant::now();
    let reply = request.await;
    samples.record(started.elapsed());
    reply
}

/// Phase 1: create a node, set its data, next node; until the deadline or
/// `max_ops`. Each session runs `outstanding` such loops at once (loop `j`
/// takes nodes `j`, `j + outstanding`, …), so that many requests are in
/// flight on it. Returns the result and how many nodes each session created
/// without a gap (`n0..n{created}`).
pub async fn writes(clients: &[Client], plan: &Plan) -> anyhow::Result<(PhaseResult, Vec<u64>)> {
    let plan = Arc::new(plan.clone());
    let start = Instant::now();
    let deadline = start + plan.deadline_per_phase;
    let window = plan.outstanding.max(1);
    let mut tasks = JoinSet::new();
    for (i, client) in clients.iter().enumerate() {
        let (client, plan) = (client.clone(), Arc::clone(&plan));
        tasks.spawn(async move {
            let options = CreateMode::Persistent.with_acls(Acls::anyone_all());
            let capacity = usize::try_from(plan.max_ops / window)
                .unwrap_or(usize::MAX)
                .min(1 << 20);
            let mut loops = JoinSet::new();
            for j in 0..window {
                let (client, plan, options) = (client.clone(), Arc::clone(&plan), options.clone());
                loops.spawn(async move {
                    let mut load = SessionLoad {
                        ops: 0,
                        samples: Samples::with_capacity(capacity),
                        created: 0,
                        finished: start,
                    };
                    // At least one pair, so the read phase always has a node.
                    loop {
                        let path = node_path(&plan, i, j + load.created * window);
                        timed(
                            &mut load.samples,
                            client.create(&path, &plan.value, &options),
                        )
                        .await
                        .with_context(|| format!("create {path}"))?;
                        load.created += 1;
                        timed(&mut load.samples, client.set_data(&path, &plan.value, None))
                            .await
                            .with_context(|| format!("setData {path}"))?;
                        load.ops += 2;
                        if Instant::now() >= deadline || (load.ops + 2) * window > plan.max_ops {
                            break;
                        }
                    }
                    load.finished = Instant::now();
                    anyhow::Ok(load)
                });
            }
            let mut total = SessionLoad {
                ops: 0,
                samples: Samples::default(),
                created: u64::MAX,
                finished: start,
            };
            while let Some(joined) = loops.join_next().await {
                let load = joined.context("write loop failed")??;
                total.ops += load.ops;
                total.created = total.created.min(load.created);
                total.finished = total.finished.max(load.finished);
                total.samples.merge(load.samples);
            }
            total.created = total.created.saturating_mul(window);
            anyhow::Ok((i, total))
        });
    }
    let (result, created) = collect("writes", clients.len(), start, tasks).await?;
    Ok((result, created))
}

/// Phase 2: getData then exists on the session's own nodes, round robin.
pub async fn reads(
    clients: &[Client],
    plan: &Plan,
    created: &[u64],
) -> anyhow::Result<PhaseResult> {
    let plan = Arc::new(plan.clone());
    let start = Instant::now();
    let deadline = start + plan.deadline_per_phase;
    let mut tasks = JoinSet::new();
    for (i, client) in clients.iter().enumerate() {
        let (client, plan) = (client.clone(), Arc::clone(&plan));
        let nodes = created.get(i).copied().unwrap_or(0).max(1);
        tasks.spawn(async move {
            let capacity = usize::try_from(plan.max_ops)
                .unwrap_or(usize::MAX)
                .min(1 << 20);
            let mut load = SessionLoad {
                ops: 0,
                samples: Samples::with_capacity(capacity),
                created: nodes,
                finished: start,
            };
            let mut k = 0;
            loop {
                let path = node_path(&plan, i, k);
                timed(&mut load.samples, client.get_data(&path))
                    .await
                    .with_context(|| format!("getData {path}"))?;
                let stat = timed(&mut load.samples, client.check_stat(&path))
                    .await
                    .with_context(|| format!("exists {path}"))?;
                anyhow::ensure!(stat.is_some(), "exists {path}: node vanished");
                load.ops += 2;
                k = (k + 1) % nodes;
                if Instant::now() >= deadline || load.ops + 2 > plan.max_ops {
                    break;
                }
            }
            load.finished = Instant::now();
            anyhow::Ok((i, load))
        });
    }
    let (result, _) = collect("reads", clients.len(), start, tasks).await?;
    Ok(result)
}

/// Joins the session loops; the phase lasts until the last one finished.
async fn collect(
    phase: &'static str,
    sessions: usize,
    start: Instant,
    mut tasks: JoinSet<anyhow::Result<(usize, SessionLoad)>>,
) -> anyhow::Result<(PhaseResult, Vec<u64>)> {
    let mut samples = Samples::default();
    let mut ops = 0;
    let mut created = vec![0; sessions];
    let mut last = start;
    while let Some(joined) = tasks.join_next().await {
        let (i, load) = joined
            .with_context(|| format!("{phase}: session task failed"))?
            .with_context(|| format!("{phase}: a session failed"))?;
        ops += load.ops;
        last = last.max(load.finished);
        if let Some(slot) = created.get_mut(i) {
            *slot = load.created;
        }
        samples.merge(load.samples);
    }
    let elapsed: Duration = last - start;
    Ok((
        PhaseResult::new(phase, sessions, ops, elapsed, &samples),
        created,
    ))
}
