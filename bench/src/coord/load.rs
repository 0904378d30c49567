//! The create, setData and read phases. Each session works under its own
//! parent (`s{i}`) with a window of requests in flight ([`window::run`]);
//! each phase is its own figure, so a server's create and setData paths are
//! measured apart.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{ensure, Context as _};
use zookeeper_client::{Acls, Client, CreateMode};

use super::{window, Plan};
use crate::stats::PhaseResult;

/// How many nodes each session holds, `s{i}/n0..n{count}`, for the
/// setData and read phases.
pub type Nodes = Arc<Vec<u64>>;

fn node_path(plan: &Plan, session: usize, k: u64) -> String {
    format!("{}/n{k}", plan.session_dir(session))
}

/// One counter per session: the next request number of that session.
fn counters(sessions: usize) -> Arc<Vec<AtomicU64>> {
    Arc::new((0..sessions).map(|_| AtomicU64::new(0)).collect())
}

/// Creates `n0, n1, …` under each session's parent, up to `limit` per
/// session or until `deadline`; returns what was done and how many nodes
/// each session now has (every node it claimed was created: a failure
/// fails the phase).
async fn create_nodes(
    clients: &[Client],
    plan: &Plan,
    limit: u64,
    deadline: Option<Instant>,
) -> anyhow::Result<(window::Driven, Nodes)> {
    let claimed = counters(clients.len());
    let job = {
        let (claimed, plan) = (Arc::clone(&claimed), Arc::new(plan.clone()));
        let options = CreateMode::Persistent.with_acls(Acls::anyone_all());
        move |session: usize, client: &Client| {
            let k = claimed[session].fetch_add(1, Ordering::Relaxed);
            if k >= limit {
                return None;
            }
            let (client, plan, options) = (client.clone(), Arc::clone(&plan), options.clone());
            Some(async move {
                let path = node_path(&plan, session, k);
                client
                    .create(&path, &plan.value, &options)
                    .await
                    .with_context(|| format!("create {path}"))?;
                Ok(())
            })
        }
    };
    let driven = window::run(clients, plan.outstanding, deadline, job).await?;
    let nodes = claimed
        .iter()
        .map(|c| c.load(Ordering::Relaxed).min(limit))
        .collect();
    Ok((driven, Arc::new(nodes)))
}

/// Phase `create`: new nodes with `--value-size` bytes each, until the
/// deadline or `max_ops` per session.
pub async fn create(clients: &[Client], plan: &Plan) -> anyhow::Result<(PhaseResult, Nodes)> {
    let start = Instant::now();
    let deadline = start + plan.deadline_per_phase;
    let (driven, nodes) = create_nodes(clients, plan, plan.max_ops, Some(deadline)).await?;
    Ok((driven.result("create", clients.len(), start), nodes))
}

/// Nodes for a setData or read phase run without `create`: one per loop of
/// each session, created untimed.
pub async fn prepare(clients: &[Client], plan: &Plan) -> anyhow::Result<Nodes> {
    let (_, nodes) = create_nodes(clients, plan, u64::from(plan.outstanding), None).await?;
    Ok(nodes)
}

/// Phase `setdata`: each session sets its own nodes' data round robin
/// (unconditionally, as most writers do), until the deadline or `max_ops`.
pub async fn set_data(
    clients: &[Client],
    plan: &Plan,
    nodes: &Nodes,
) -> anyhow::Result<PhaseResult> {
    let start = Instant::now();
    let next = counters(clients.len());
    let job = {
        let (plan, nodes) = (Arc::new(plan.clone()), Arc::clone(nodes));
        move |session: usize, client: &Client| {
            let k = next[session].fetch_add(1, Ordering::Relaxed);
            let count = nodes.get(session).copied().unwrap_or(0);
            if k >= plan.max_ops || count == 0 {
                return None;
            }
            let (client, plan) = (client.clone(), Arc::clone(&plan));
            Some(async move {
                let path = node_path(&plan, session, k % count);
                client
                    .set_data(&path, &plan.value, None)
                    .await
                    .with_context(|| format!("setData {path}"))?;
                Ok(())
            })
        }
    };
    let deadline = start + plan.deadline_per_phase;
    let driven = window::run(clients, plan.outstanding, Some(deadline), job).await?;
    Ok(driven.result("setdata", clients.len(), start))
}

/// Phase `reads`: each session reads its own nodes round robin, getData and
/// exists in turn, until the deadline or `max_ops`.
pub async fn reads(clients: &[Client], plan: &Plan, nodes: &Nodes) -> anyhow::Result<PhaseResult> {
    let start = Instant::now();
    let next = counters(clients.len());
    let job = {
        let (plan, nodes) = (Arc::new(plan.clone()), Arc::clone(nodes));
        move |session: usize, client: &Client| {
            let k = next[session].fetch_add(1, Ordering::Relaxed);
            let count = nodes.get(session).copied().unwrap_or(0);
            if k >= plan.max_ops || count == 0 {
                return None;
            }
            let (client, plan) = (client.clone(), Arc::clone(&plan));
            Some(async move {
                let path = node_path(&plan, session, (k / 2) % count);
                // Even requests getData, odd ones exists, on the same node.
                match k % 2 {
                    0 => {
                        client
                            .get_data(&path)
                            .await
                            .with_context(|| format!("getData {path}"))?;
                    }
                    _ => {
                        let stat = client
                            .check_stat(&path)
                            .await
                            .with_context(|| format!("exists {path}"))?;
                        ensure!(stat.is_some(), "exists {path}: node vanished");
                    }
                }
                Ok(())
            })
        }
    };
    let deadline = start + plan.deadline_per_phase;
    let driven = window::run(clients, plan.outstanding, Some(deadline), job).await?;
    Ok(driven.result("reads", clients.len(), start))
}
