//! `runnel-coord`: run a coordination server member, or open a shell on one.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use runnel_coord::config::Config;
use runnel_coord::server::Server;

/// jemalloc, not glibc's malloc: under write load glibc spent a third of a
/// member's CPU in its own bookkeeping (`_int_malloc`, `unlink_chunk`,
/// `malloc_consolidate` at the top of a profile), and it keeps freed
/// memory in per-thread arenas, so a member stayed at its peak size after
/// znodes were deleted; jemalloc's background thread hands freed pages back
/// to the system after its decay time (10 s). (mimalloc was as fast, but
/// its eagerly committed arenas made an idle member 46 MB instead of 10.)
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "runnel-coord",
    version,
    about = "Runnel's ZooKeeper-protocol coordination server"
)]
struct Cli {
    /// zoo.cfg-style configuration file (tickTime, dataDir, clientPort, ...).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve as a member (the default when only --config is given).
    Serve {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// A zkCli-like shell: interactive, or one command and exit.
    Shell {
        /// host:port[,host:port...]
        #[arg(long, default_value = "127.0.0.1:2181")]
        server: String,
        /// A command to run instead of the interactive prompt, e.g. `ls /`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("runnel-coord: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match (cli.command, cli.config) {
        (Some(Command::Shell { server, command }), _) => {
            runtime.block_on(runnel_common::coord_shell::run(&server, command))
        }
        (Some(Command::Serve { config }), _) | (None, Some(config)) => {
            runtime.block_on(serve(config)).map(|()| ExitCode::SUCCESS)
        }
        (None, None) => {
            eprintln!("runnel-coord: give --config FILE to serve, or `shell` (see --help)");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("runnel-coord: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config_path: PathBuf) -> anyhow::Result<()> {
    runnel_common::logging::init("info,openraft=warn");
    let config = Config::load(&config_path)?;
    let server = Server::start(config).await.context("cannot start")?;
    let show = |a: Option<std::net::SocketAddr>| a.map_or("-".to_string(), |a| a.to_string());
    tracing::info!(
        addr = %show(server.local_addr),
        secure_addr = %show(server.secure_addr),
        version = runnel_coord::server::four_letter::VERSION,
        "serving ZooKeeper clients"
    );
    tokio::select! {
        _ = server.run() => {}
        _ = shutdown_signal() => tracing::info!("shutting down"),
    }
    Ok(())
}

/// SIGTERM or Ctrl-C. Every acknowledged write is already on disk, so
/// stopping needs no flush of its own.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
