//! `runnel-bench`: load generators that print figures (never assertions).
//!
//! # Layout
//!
//! * [`coord`]: `runnel-bench coord`, a ZooKeeper-protocol workload (writes,
//!   reads, watch fan-out) for runnel-coord and Apache ZooKeeper alike.
//! * [`writer`]: `runnel-bench coord-writer`, one session writing in a loop
//!   and timing how long writes stop after a member is killed (failover).
//! * [`offsets`]: `runnel-bench offset-commit`, OffsetCommit requests per
//!   second on the brokers coordinating a set of groups (offsets in coord).
//! * [`registry`]: `runnel-bench registry`, Schema Registry register and
//!   get-by-id requests per second over keep-alive connections.
//! * [`stats`]: latency samples, percentiles, and the `RESULT` lines that
//!   `scripts/bench/*.sh` parse.

mod coord;
mod offsets;
mod registry;
mod stats;
mod writer;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "runnel-bench", about = "Runnel benchmark load generators")]
struct Cli {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// Writes, reads and watch fan-out against a ZooKeeper-protocol server.
    Coord(coord::CoordArgs),
    /// One session writing in a loop; measures recovery after marks on stdin.
    CoordWriter(writer::WriterArgs),
    /// OffsetCommit requests/s: several connections, several requests in
    /// flight each; verified with OffsetFetch.
    OffsetCommit(offsets::OffsetCommitArgs),
    /// Schema Registry: registrations and GET /schemas/ids/{id} per second.
    Registry(registry::RegistryArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    runnel_common::logging::init("warn");
    let result = match Cli::parse().command {
        Bench::Coord(args) => coord::run(args).await,
        Bench::CoordWriter(args) => writer::run(args).await,
        Bench::OffsetCommit(args) => offsets::run(args).await,
        Bench::Registry(args) => registry::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the context chain on one line, no backtrace.
            eprintln!("runnel-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}
