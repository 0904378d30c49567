//! The standalone worker as a service (Kafka's `connect-standalone.sh`):
//! connectors from properties files at start and from the REST API, source
//! offsets in the local offsets file, flushed every
//! `offset.flush.interval.ms` and once more when the worker stops.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use runnel_common::kafka::{Client, ConnectionConfig};

use crate::config::{read_properties, WorkerConfig};
use crate::herder::Herder;
use crate::offsets::OffsetStore;
use crate::rest::{self, RestState};
use crate::runtime::Worker;

/// Runs until `stop` completes, then stops every task and writes the
/// offsets.
pub async fn run(
    config: WorkerConfig,
    connector_files: &[PathBuf],
    stop: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let offsets_path = config
        .offsets_file
        .clone()
        .context("offset.storage.file.filename is required in standalone mode")?;
    let offsets = Arc::new(OffsetStore::open(&offsets_path)?);
    let connect = ConnectionConfig {
        client_id: config.client_id.clone(),
        security: config.security.clone(),
        ..ConnectionConfig::default()
    };
    let client = Client::connect(&config.bootstrap, connect)
        .await
        .with_context(|| {
            format!(
                "cannot reach the cluster at {} (bootstrap.servers)",
                config.bootstrap
            )
        })?;
    let cluster_id = client.metadata(Some(&[]), false).await?.cluster_id;
    tracing::info!(cluster_id = ?cluster_id, bootstrap = %config.bootstrap, "connected to the Kafka cluster");
    let listener = tokio::net::TcpListener::bind(config.listener)
        .await
        .with_context(|| format!("cannot listen on {} (listeners)", config.listener))?;
    let flush_every = config.offset_flush_interval;
    let worker = Arc::new(Worker {
        client: Arc::new(client),
        config,
        offsets: offsets.clone(),
    });
    let herder = Arc::new(Herder::new(worker));
    for path in connector_files {
        let props = read_properties(path)?;
        let name = props.get("name").cloned().with_context(|| {
            format!(
                "{}: Missing required configuration \"name\" which has no default value.",
                path.display()
            )
        })?;
        herder
            .put(&name, props, false)
            .await
            .with_context(|| format!("cannot create connector {name} from {}", path.display()))?;
    }
    let flusher = {
        let offsets = offsets.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(flush_every);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = offsets.flush() {
                    tracing::error!(error = %e, "cannot write source offsets");
                }
            }
        })
    };
    let addr = listener.local_addr()?;
    tracing::info!("Kafka Connect REST API listening on http://{addr}");
    let state = Arc::new(RestState {
        herder: herder.clone(),
        cluster_id,
    });
    let served = axum::serve(listener, rest::router(state))
        .with_graceful_shutdown(stop)
        .await
        .context("serving the REST API");
    tracing::info!("stopping the worker");
    herder.stop_all().await;
    flusher.abort();
    offsets.flush()?;
    tracing::info!("worker stopped; source offsets written");
    served
}
