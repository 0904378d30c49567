//! `runnel-registry [schema-registry.properties] [--override key=value]...`
//!
//! A Confluent-compatible Schema Registry on a Runnel (or any Kafka)
//! cluster. Logs go to stderr (`RUST_LOG` filters); SIGTERM or Ctrl-C stop
//! it.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use clap::Parser;
use runnel_registry::config::RegistryConfig;
use runnel_registry::election::{self, Election, ElectionConfig, Identity};
use runnel_registry::registry::Registry;
use runnel_registry::store::{KafkaStore, State};

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
    runtime.block_on(run(config))
}

/// Reads the schemas topic to its end before it listens, so that a
/// client that can connect sees every schema registered before the start
/// (and a script can wait for the port).
async fn run(config: RegistryConfig) -> anyhow::Result<()> {
    let state = Arc::new(RwLock::new(State::default()));
    let store = KafkaStore::open(config.store.clone(), state)
        .await
        .with_context(|| format!("cannot open the schemas topic {}", config.store.topic))?;
    let listener = tokio::net::TcpListener::bind(config.listener)
        .await
        .with_context(|| format!("cannot listen on {}", config.listener))?;
    let registry = Arc::new(Registry::new(store, config.compatibility));
    let addr = listener.local_addr()?;
    let election = config.coord.as_ref().map(|connect| {
        Election::start(
            ElectionConfig {
                connect: connect.clone(),
                namespace: config.zk_namespace.clone(),
                session_timeout: config.coord_session_timeout,
                me: Identity::new(&config.host_name, addr.port(), config.leader_eligibility),
            },
            registry.clone(),
        )
    });
    let leader = election
        .as_ref()
        .map_or_else(election::standalone, Election::leader);
    println!("runnel-registry listening on http://{addr}");
    let served = axum::serve(listener, runnel_registry::http::router(registry, leader))
        .with_graceful_shutdown(async {
            let _ = runnel_common::signals::wait_for_stop().await;
        })
        .await
        .context("serving the REST API");
    if let Some(e) = election {
        e.stop().await;
    }
    served?;
    Ok(())
}
