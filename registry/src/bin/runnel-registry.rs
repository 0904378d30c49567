//! `runnel-registry [schema-registry.properties] [--override key=value]...`
//!
//! A Confluent-compatible Schema Registry on a Runnel (or any Kafka)
//! cluster. Logs go to stderr (`RUST_LOG` filters); SIGTERM or Ctrl-C stop
//! it.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use runnel_registry::config::RegistryConfig;
use runnel_registry::service;

#[derive(Parser, Debug)]
#[command(
    name = "runnel-registry",
    version,
    about = "Runnel's Schema Registry (Confluent's REST API v1)"
)]
struct Args {
    /// schema-registry.properties with Confluent's key names.
    config: Option<PathBuf>,
    /// Overrides one key of the file (repeatable).
    #[arg(long = "override", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    runnel_common::logging::init("info");
    let config = RegistryConfig::load(args.config.as_deref(), &args.overrides)
        .context("invalid configuration")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("runnel-registry")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(service::run(config, async {
        let _ = runnel_common::signals::wait_for_stop().await;
    }))
}
