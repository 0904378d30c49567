//! `runnel-bench coord`: the same client workload against any
//! ZooKeeper-protocol server, so runnel-coord and Apache ZooKeeper can be
//! compared on one machine.
//!
//! Phases (`--phases`), always run in this order, each printing its own
//! figures:
//! * `fill` ([`fill::run`]): `--count` nodes in a shallow tree, for memory.
//! * `create` ([`load::create`]): every session creates nodes under its own
//!   parent, until `--duration` or `--max-ops`.
//! * `setdata` ([`load::set_data`]): every session sets its nodes' data.
//! * `reads` ([`load::reads`]): every session reads its nodes (getData,
//!   exists).
//! * `fanout` ([`fanout::run`]): all sessions set a data watch on one node,
//!   another session sets it, and we time until every watcher has the event.
//! * `drain` ([`cleanup::delete_tree`], timed): deletes the whole root.
//!
//! Every session keeps `--outstanding` requests in flight ([`window`]).
//! Everything lives under one root node (named after our pid unless
//! `--root`), deleted at the end (also after an error or Ctrl-C) unless
//! `--keep`.

mod cleanup;
mod fanout;
mod fill;
mod load;
mod target;
mod window;

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};
use zookeeper_client::{Acls, Client, CreateMode, Error};

use crate::stats::PhaseResult;

pub use target::check_loopback;

/// A part of the workload; `--phases` picks some, run in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Phase {
    Fill,
    Create,
    Setdata,
    Reads,
    Fanout,
    Drain,
}

/// Options of `runnel-bench coord`.
#[derive(Debug, Clone, clap::Args)]
pub struct CoordArgs {
    /// Connect string; only loopback hosts are accepted (a benchmark must not
    /// load a shared server by mistake).
    #[arg(long, default_value = "127.0.0.1:2181")]
    pub server: String,
    /// Phases to run, comma-separated; they always run in the order
    /// fill, create, setdata, reads, fanout, drain. Without create, setdata
    /// and reads work on one node per in-flight request, made beforehand.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "create,setdata,reads,fanout"
    )]
    pub phases: Vec<Phase>,
    /// Concurrent sessions.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub sessions: u32,
    /// Requests each session keeps in flight (pipelined on the session, as
    /// kazoo's async API, Curator and the broker's client do).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub outstanding: u32,
    /// Seconds per phase (create, setdata, reads; fan-out stops earlier when
    /// its rounds are done; fill and drain run until done).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub duration: u64,
    /// Bytes of data per node.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub value_size: u32,
    /// Upper bound of operations per session per phase, so a fast server
    /// cannot fill memory. Create makes up to max_ops children under one
    /// node; at most 150000 keeps that child list (about 10 bytes a name)
    /// under ZooKeeper's 1 MiB jute.maxbuffer, so cleanup can still list it.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(2..=150_000))]
    pub max_ops: u64,
    /// Nodes the fill phase writes (1000 children per parent).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub count: u64,
    /// Fan-out rounds (each: N watches, one setData, N events).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub fanout_rounds: u32,
    /// Root node of the run (default /runnel-bench-PID); its name must begin
    /// with /runnel-bench, since the run deletes it. A drain on its own
    /// names the root that a fill with --keep left.
    #[arg(long)]
    pub root: Option<String>,
    /// Leave the root and its nodes in place at the end (for a later drain).
    #[arg(long)]
    pub keep: bool,
    /// Session timeout asked of the server, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub session_timeout_ms: u64,
}

/// Where one run keeps its nodes, and the settings every phase needs.
#[derive(Debug, Clone)]
struct Plan {
    root: String,
    phases: Vec<Phase>,
    deadline_per_phase: Duration,
    max_ops: u64,
    value: Vec<u8>,
    fanout_rounds: u32,
    outstanding: u32,
    count: u64,
}

impl Plan {
    fn session_dir(&self, session: usize) -> String {
        format!("{}/s{session}", self.root)
    }

    fn has(&self, phase: Phase) -> bool {
        self.phases.contains(&phase)
    }
}

/// Checks `--root` (or makes the default one) and the phases given.
fn plan(args: &CoordArgs) -> anyhow::Result<Plan> {
    let mut phases = args.phases.clone();
    phases.sort_unstable();
    phases.dedup();
    ensure!(!phases.is_empty(), "--phases: nothing to run");
    let root = match &args.root {
        Some(root) => {
            let name = root.strip_prefix('/').unwrap_or_default();
            ensure!(
                name.starts_with("runnel-bench") && !name.contains('/'),
                "--root {root:?}: must be a top-level node whose name begins with runnel-bench"
            );
            root.clone()
        }
        None => {
            ensure!(
                phases != [Phase::Drain],
                "--phases drain on its own needs --root (the root a fill with --keep left)"
            );
            format!("/runnel-bench-{}", std::process::id())
        }
    };
    Ok(Plan {
        root,
        phases,
        deadline_per_phase: Duration::from_secs(args.duration),
        max_ops: args.max_ops,
        value: vec![b'v'; args.value_size as usize],
        fanout_rounds: args.fanout_rounds,
        outstanding: args.outstanding,
        count: args.count,
    })
}

/// Runs the phases and prints one human line and one `RESULT` line each.
pub async fn run(args: CoordArgs) -> anyhow::Result<()> {
    target::check_loopback(&args.server)?;
    let plan = plan(&args)?;
    let timeout = Duration::from_millis(args.session_timeout_ms);
    let names: Vec<String> = plan
        .phases
        .iter()
        .filter_map(clap::ValueEnum::to_possible_value)
        .map(|v| v.get_name().to_string())
        .collect();
    println!(
        "runnel-bench coord: server={} phases={} sessions={} outstanding={} duration={}s value_size={} max_ops={} count={} fanout_rounds={} root={}",
        args.server,
        names.join(","),
        args.sessions,
        args.outstanding,
        args.duration,
        args.value_size,
        args.max_ops,
        args.count,
        args.fanout_rounds,
        plan.root,
    );

    let admin = connect(&args.server, timeout).await?;
    let clients = connect_all(&args.server, timeout, args.sessions as usize).await?;
    let outcome = tokio::select! {
        outcome = phases(&admin, &clients, &plan) => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    // Clean up whatever happened, then report the first error. After an
    // error the load sessions may be the broken ones: the admin session
    // cleans up alone.
    if !args.keep {
        let cleaners = if outcome.is_ok() {
            &clients[..]
        } else {
            std::slice::from_ref(&admin)
        };
        let started = Instant::now();
        let window = cleanup::window_for(cleaners.len());
        match cleanup::delete_tree(cleaners, &plan.root, window).await {
            Ok((removed, _)) => {
                let secs = started.elapsed().as_secs_f64();
                tracing::info!(removed, root = %plan.root, secs, "cleaned up");
            }
            Err(e) if outcome.is_ok() => return Err(e.context("cleanup failed")),
            Err(e) => tracing::warn!(root = %plan.root, "cleanup failed too: {e:#}"),
        }
    }
    let results = outcome?;
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
    if plan.phases != [Phase::Drain] {
        // A root given with --root may be there already (a fill, then more).
        match admin.create(&plan.root, b"", &persistent).await {
            Ok(_) | Err(Error::NodeExists) => {}
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", plan.root)),
        }
    }
    let per_session = [Phase::Create, Phase::Setdata, Phase::Reads, Phase::Fanout];
    if per_session.iter().any(|&p| plan.has(p)) {
        for i in 0..clients.len() {
            admin
                .create(&plan.session_dir(i), b"", &persistent)
                .await
                .with_context(|| format!("cannot create {}", plan.session_dir(i)))?;
        }
    }

    let mut results = Vec::new();
    let mut report = |result: PhaseResult| {
        println!("{}", result.human_line());
        results.push(result);
    };
    if plan.has(Phase::Fill) {
        report(fill::run(clients, plan, plan.count).await?);
    }
    let mut nodes = None;
    if plan.has(Phase::Create) {
        let (result, created) = load::create(clients, plan).await?;
        report(result);
        nodes = Some(created);
    }
    if plan.has(Phase::Setdata) || plan.has(Phase::Reads) {
        let nodes = match nodes {
            Some(nodes) => nodes,
            None => load::prepare(clients, plan).await?,
        };
        if plan.has(Phase::Setdata) {
            report(load::set_data(clients, plan, &nodes).await?);
        }
        if plan.has(Phase::Reads) {
            report(load::reads(clients, plan, &nodes).await?);
        }
    }
    if plan.has(Phase::Fanout) {
        report(fanout::run(admin, clients, plan).await?);
    }
    if plan.has(Phase::Drain) {
        let start = Instant::now();
        let (removed, driven) = cleanup::delete_tree(clients, &plan.root, plan.outstanding).await?;
        let mut result = driven.result("drain", clients.len(), start);
        // Throughput in nodes deleted (the listing requests are timed too).
        result.ops = removed;
        report(result);
    }
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

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: CoordArgs,
    }

    fn plan_of(argv: &[&str]) -> anyhow::Result<Plan> {
        let cli = Cli::try_parse_from(std::iter::once("coord").chain(argv.iter().copied()))?;
        plan(&cli.args)
    }

    #[test]
    fn phases_run_in_their_order() {
        let plan = plan_of(&["--phases", "reads,create,create,drain,fill"]).unwrap();
        assert_eq!(
            plan.phases,
            [Phase::Fill, Phase::Create, Phase::Reads, Phase::Drain]
        );
        let plan = plan_of(&[]).unwrap();
        assert_eq!(
            plan.phases,
            [Phase::Create, Phase::Setdata, Phase::Reads, Phase::Fanout]
        );
        assert_eq!(plan.outstanding, 8);
        assert!(plan.root.starts_with("/runnel-bench-"));
    }

    #[test]
    fn root_must_be_ours() {
        assert!(plan_of(&["--root", "/runnel-bench-fill"]).is_ok());
        assert!(plan_of(&["--root", "/kafka"]).is_err());
        assert!(plan_of(&["--root", "/runnel-bench/x"]).is_err());
        assert!(plan_of(&["--root", "runnel-bench"]).is_err());
        // A drain alone has nothing to drain without a root.
        assert!(plan_of(&["--phases", "drain"]).is_err());
        assert!(plan_of(&["--phases", "drain", "--root", "/runnel-bench-fill"]).is_ok());
    }
}
