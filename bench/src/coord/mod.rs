//! `runnel-bench coord`: the same client workload against any
//! ZooKeeper-protocol server, so runnel-coord and Apache ZooKeeper can be
//! compared on one machine.
//!
//! Phases, each bounded by time (`--duration`) and by count:
//! 1. [`load::writes`]: every session creates nodes under its own parent and
//!    sets each one's data once (create + setData pairs).
//! 2. [`load::reads`]: every session reads its own nodes (getData + exists).
//! 3. [`fanout::run`]: all sessions set a data watch on one node, another
//!    session sets it, and we time until every watcher has the event.
//!
//! Everything lives under one root node named after our pid, deleted at the
//! end (also after an error or Ctrl-C).

mod cleanup;
mod fanout;
mod load;
mod target;

use std::time::Duration;

use anyhow::{bail, Context as _};
use zookeeper_client::{Acls, Client, CreateMode};

use crate::stats::PhaseResult;

pub use target::check_loopback;

/// Options of `runnel-bench coord`.
#[derive(Debug, Clone, clap::Args)]
pub struct CoordArgs {
    /// Connect string; only loopback hosts are accepted (a benchmark must not
    /// load a shared server by mistake).
    #[arg(long, default_value = "127.0.0.1:2181")]
    pub server: String,
    /// Concurrent sessions.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub sessions: u32,
    /// Write requests each session keeps in flight (pipelined on the
    /// session, as kazoo's async API, Curator and the broker's client do).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub outstanding: u32,
    /// Seconds per phase (writes, reads; fan-out stops earlier when its rounds are done).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub duration: u64,
    /// Bytes of data per node.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub value_size: u32,
    /// Upper bound of operations per session per phase, so a fast server
    /// cannot fill memory. Writes create max_ops/2 children under one node;
    /// at most 150000 keeps that child list (about 10 bytes a name) under
    /// ZooKeeper's 1 MiB jute.maxbuffer, so cleanup can still list it.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(2..=150_000))]
    pub max_ops: u64,
    /// Fan-out rounds (each: N watches, one setData, N events).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub fanout_rounds: u32,
    /// Session timeout asked of the server, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub session_timeout_ms: u64,
}

/// Where one run keeps its nodes, and the settings every phase needs.
#[derive(Debug, Clone)]
struct Plan {
    root: String,
    deadline_per_phase: Duration,
    max_ops: u64,
    value: Vec<u8>,
    fanout_rounds: u32,
    outstanding: u64,
}

impl Plan {
    fn session_dir(&self, session: usize) -> String {
        format!("{}/s{session}", self.root)
    }
}

/// Runs every phase and prints one human line and one `RESULT` line each.
pub async fn run(args: CoordArgs) -> anyhow::Result<()> {
    target::check_loopback(&args.server)?;
    let plan = Plan {
        root: format!("/runnel-bench-{}", std::process::id()),
        deadline_per_phase: Duration::from_secs(args.duration),
        max_ops: args.max_ops,
        value: vec![b'v'; args.value_size as usize],
        fanout_rounds: args.fanout_rounds,
        outstanding: u64::from(args.outstanding),
    };
    let timeout = Duration::from_millis(args.session_timeout_ms);
    println!(
        "runnel-bench coord: server={} sessions={} outstanding={} duration={}s value_size={} max_ops={} fanout_rounds={}",
        args.server,
        args.sessions,
        args.outstanding,
        args.duration,
        args.value_size,
        args.max_ops,
        args.fanout_rounds
    );

    let admin = connect(&args.server, timeout).await?;
    let clients = connect_all(&args.server, timeout, args.sessions as usize).await?;
    let outcome = tokio::select! {
        outcome = phases(&admin, &clients, &plan) => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    // Clean up whatever happened, then report the first error.
    let cleaned = cleanup::delete_tree(&admin, &plan.root).await;
    let results = outcome?;
    let removed = cleaned.context("cleanup failed")?;
    tracing::info!(removed, root = %plan.root, "cleaned up");
    for result in &results {
        println!("{}", result.result_line());
    }
    Ok(())
}

async fn phases(
    admin: &Client,
    clients: &[Client],
    plan: &Plan,
) -> anyhow::Result<Vec<PhaseResult>> {
    let persistent = CreateMode::Persistent.with_acls(Acls::anyone_all());
    admin
        .create(&plan.root, b"", &persistent)
        .await
        .with_context(|| format!("cannot create {}", plan.root))?;
    for i in 0..clients.len() {
        admin
            .create(&plan.session_dir(i), b"", &persistent)
            .await
            .with_context(|| format!("cannot create {}", plan.session_dir(i)))?;
    }

    let mut results = Vec::new();
    let (writes, created) = load::writes(clients, plan).await?;
    println!("{}", writes.human_line());
    results.push(writes);

    let reads = load::reads(clients, plan, &created).await?;
    println!("{}", reads.human_line());
    results.push(reads);

    let fanout = fanout::run(admin, clients, plan).await?;
    println!("{}", fanout.human_line());
    results.push(fanout);
    Ok(results)
}

async fn connect(server: &str, timeout: Duration) -> anyhow::Result<Client> {
    Client::connector()
        .with_session_timeout(timeout)
        .with_fail_eagerly()
        .connect(server)
        .await
        .with_context(|| format!("cannot connect to {server}"))
}

/// Opens `n` sessions concurrently (a server may be slow to accept many).
async fn connect_all(server: &str, timeout: Duration, n: usize) -> anyhow::Result<Vec<Client>> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let server = server.to_string();
        tasks.spawn(async move { (i, connect(&server, timeout).await) });
    }
    let mut clients: Vec<Option<Client>> = vec![None; n];
    while let Some(joined) = tasks.join_next().await {
        let (i, client) = joined.context("connect task failed")?;
        clients[i] = Some(client.with_context(|| format!("session {i}"))?);
    }
    let clients: Vec<Client> = clients.into_iter().flatten().collect();
    if clients.len() != n {
        bail!("only {} of {n} sessions connected", clients.len());
    }
    Ok(clients)
}
