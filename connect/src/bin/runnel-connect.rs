//! `runnel-connect standalone worker.properties [connector.properties ...]`
//!
//! A Kafka Connect-compatible worker, as Kafka's `connect-standalone.sh`.
//! Logs go to stderr (`RUST_LOG` filters); SIGTERM or Ctrl-C stop it after
//! its tasks stopped and its source offsets were written.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use runnel_connect::config::{Mode, WorkerConfig};

#[derive(Parser, Debug)]
#[command(
    name = "runnel-connect",
    version,
    about = "Runnel Connect: a Kafka Connect-compatible worker"
)]
struct Args {
    #[command(subcommand)]
    mode: ModeArgs,
}

#[derive(Subcommand, Debug)]
enum ModeArgs {
    /// One worker with a local offsets file (connect-standalone.sh).
    Standalone {
        /// connect-standalone.properties with Kafka's key names.
        worker: PathBuf,
        /// Connector configs to create at start (properties files).
        connectors: Vec<PathBuf>,
    },
    /// Workers sharing connectors through a group (connect-distributed.sh).
    Distributed {
        /// connect-distributed.properties with Kafka's key names.
        worker: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    runnel_common::logging::init("info");
    let (worker, connectors, mode) = match args.mode {
        ModeArgs::Standalone { worker, connectors } => (worker, connectors, Mode::Standalone),
        ModeArgs::Distributed { worker } => (worker, Vec::new(), Mode::Distributed),
    };
    let config = WorkerConfig::load(&worker, mode)
        .with_context(|| format!("invalid worker configuration {}", worker.display()))?;
    if mode == Mode::Distributed {
        anyhow::bail!("distributed mode is not available yet; run `runnel-connect standalone`");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("runnel-connect")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(runnel_connect::standalone::run(
        config,
        &connectors,
        async {
            if let Err(e) = runnel_common::signals::wait_for_stop().await {
                tracing::error!(error = %e, "cannot wait for signals; stopping");
            }
        },
    ))
}
