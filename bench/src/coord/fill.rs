//! The `fill` phase: `--count` nodes in a shallow tree, as fast as the
//! server takes them, to see what a server's memory does with many nodes
//! (`drain` deletes them again, see [`super::cleanup`]).
//!
//! The tree is `root/p{k}/c{j}` with at most [`CHILDREN`] children per
//! parent, so no children list grows large: a million nodes are a thousand
//! parents of a thousand children. Any session takes the next node
//! (parents first), with a window in flight on each.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use zookeeper_client::{Acls, Client, CreateMode};

use super::{window, Plan};
use crate::stats::PhaseResult;

/// Children per parent.
pub const CHILDREN: u64 = 1000;

/// Creates the parents, then `count` children with `--value-size` bytes
/// each. The figures count both.
pub async fn run(clients: &[Client], plan: &Plan, count: u64) -> anyhow::Result<PhaseResult> {
    let start = Instant::now();
    let parents = count.div_ceil(CHILDREN);
    let mut driven = create_all(clients, plan, parents, |root, k| format!("{root}/p{k}")).await?;
    let children = create_all(clients, plan, count, |root, k| {
        format!("{root}/p{}/c{}", k / CHILDREN, k % CHILDREN)
    })
    .await?;
    driven.merge(children);
    Ok(driven.result("fill", clients.len(), start))
}

/// Creates `path(root, k)` for every k in `0..count`.
async fn create_all(
    clients: &[Client],
    plan: &Plan,
    count: u64,
    path: fn(&str, u64) -> String,
) -> anyhow::Result<window::Driven> {
    let next = AtomicU64::new(0);
    let plan = Arc::new(plan.clone());
    let window = plan.outstanding;
    let options = CreateMode::Persistent.with_acls(Acls::anyone_all());
    let job = move |_: usize, client: &Client| {
        let k = next.fetch_add(1, Ordering::Relaxed);
        if k >= count {
            return None;
        }
        let (client, plan, options) = (client.clone(), Arc::clone(&plan), options.clone());
        Some(async move {
            let path = path(&plan.root, k);
            client
                .create(&path, &plan.value, &options)
                .await
                .with_context(|| format!("create {path}"))?;
            Ok(())
        })
    };
    window::run(clients, window, None, job).await
}
