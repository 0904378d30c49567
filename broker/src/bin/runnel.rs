//! `runnel`, the operator's command line: `runnel topics`, `runnel produce`,
//! `runnel consume`, `runnel perf produce|consume` (see `runnel_broker::cli`).
//! Logs go to stderr (`RUST_LOG` filters; warnings by default so the
//! output stays what Kafka's tools print).

use clap::Parser;
use runnel_broker::cli::{self, Cli};

fn main() -> anyhow::Result<()> {
    let args = Cli::parse();
    runnel_common::logging::init("warn");
    cli::run(args)
}
