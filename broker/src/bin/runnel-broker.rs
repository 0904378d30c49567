//! `runnel-broker --config server.properties [--override key=value]...`
//!
//! One Kafka-protocol broker. Logs go to stderr (`RUST_LOG` filters);
//! SIGTERM or Ctrl-C stop it cleanly (logs closed, checkpoints written).

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use runnel_broker::config::BrokerConfig;
use runnel_broker::server::Server;

/// Survives hostile element counts in requests (see `runnel_broker::alloc`).
#[global_allocator]
static ALLOC: runnel_broker::alloc::LazyLargeAlloc = runnel_broker::alloc::LazyLargeAlloc;

#[derive(Parser, Debug)]
#[command(
    name = "runnel-broker",
    version,
    about = "Runnel's Kafka-protocol broker"
)]
struct Args {
    /// server.properties with Kafka's key names.
    #[arg(long, short = 'c')]
    config: PathBuf,
    /// Overrides one key of the file (repeatable), like Kafka's --override.
    #[arg(long = "override", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    runnel_common::logging::init("info");
    let config = BrokerConfig::load(&args.config, &args.overrides)
        .with_context(|| format!("invalid configuration {}", args.config.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("runnel-broker")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(config))
}

async fn run(config: BrokerConfig) -> anyhow::Result<()> {
    let server = Server::start(config)
        .await
        .context("broker start-up failed")?;
    let addr = server.local_addr();
    let broker = server.broker();
    println!(
        "runnel-broker {} listening on {addr} (advertised {}, cluster {})",
        broker.id,
        broker.advertised.url(),
        broker.cluster_id
    );
    runnel_common::signals::wait_for_stop().await?;
    server.shutdown().await;
    Ok(())
}
