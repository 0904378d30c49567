//! Phase 3, watch fan-out: how long one change takes to reach every watcher.
//!
//! Each round, all N sessions set a one-shot data watch on the same node,
//! the admin session (not a watcher) sets the node's data, and we time from
//! just before that setData until the last of the N events arrived. The
//! round's latency is that time; throughput is events delivered per second
//! of notification time (N × rounds over the sum of round times).

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use tokio::task::JoinSet;
use zookeeper_client::{Acls, Client, CreateMode, EventType};

use super::Plan;
use crate::stats::{PhaseResult, Samples};

/// A round whose events do not all arrive within this time is an error: a
/// lost notification is a bug to report, not a slow figure.
const ROUND_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(admin: &Client, clients: &[Client], plan: &Plan) -> anyhow::Result<PhaseResult> {
    let node = format!("{}/fanout", plan.root);
    admin
        .create(
            &node,
            &plan.value,
            &CreateMode::Persistent.with_acls(Acls::anyone_all()),
        )
        .await
        .with_context(|| format!("create {node}"))?;
    // Another session may be on a member that has not applied the create
    // yet (ZooKeeper promises each session its own order, not others'):
    // sync, as a client reading another's write does.
    for (i, client) in clients.iter().enumerate() {
        client
            .sync(&node)
            .await
            .with_context(|| format!("session {i}: sync {node}"))?;
    }
    let phase_start = Instant::now();
    let mut samples = Samples::with_capacity(plan.fanout_rounds as usize);
    let mut notifying = Duration::ZERO;
    let mut rounds = 0u64;
    while rounds < u64::from(plan.fanout_rounds) && phase_start.elapsed() < plan.deadline_per_phase
    {
        // Every watch is registered (its reply received) before the change.
        let mut waiting = JoinSet::new();
        for (i, client) in clients.iter().enumerate() {
            let (_, _, watcher) = client
                .get_and_watch_data(&node)
                .await
                .with_context(|| format!("session {i}: getData -w {node}"))?;
            waiting.spawn(async move {
                let event = watcher.changed().await;
                (i, event.event_type, Instant::now())
            });
        }
        let changed = Instant::now();
        admin
            .set_data(&node, &plan.value, None)
            .await
            .with_context(|| format!("setData {node}"))?;
        let mut last = changed;
        let mut seen = 0;
        let all = async {
            while let Some(joined) = waiting.join_next().await {
                let (i, kind, at) = joined.context("watch task failed")?;
                if kind != EventType::NodeDataChanged {
                    bail!("session {i}: expected NodeDataChanged, got {kind:?}");
                }
                last = last.max(at);
                seen += 1;
            }
            anyhow::Ok(())
        };
        match tokio::time::timeout(ROUND_TIMEOUT, all).await {
            Ok(result) => result?,
            Err(_) => bail!(
                "fan-out round {rounds}: only {seen} of {} sessions got the event within {ROUND_TIMEOUT:?}",
                clients.len()
            ),
        }
        let took = last - changed;
        samples.record(took);
        notifying += took;
        rounds += 1;
    }
    let events = rounds * clients.len() as u64;
    Ok(PhaseResult::new(
        "fanout",
        clients.len(),
        events,
        notifying,
        &samples,
    ))
}
