//! The registry as a running service: open the `_schemas` topic, listen,
//! join the leader election, serve until told to stop. The
//! `runnel-registry` program runs it on its own; a broker with
//! `schema.registry.listeners` runs it beside its Kafka listener.

use std::future::Future;
use std::sync::{Arc, RwLock};

use anyhow::Context;

use crate::config::RegistryConfig;
use crate::election::{self, Election, ElectionConfig, Identity};
use crate::registry::Registry;
use crate::store::{KafkaStore, State};

/// Serves the REST API until `stop` completes. Reads the schemas topic to
/// its end before it listens, so that a client that can connect sees every
/// schema registered before the start (and a script can wait for the port).
pub async fn run(
    config: RegistryConfig,
    stop: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
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
                security: config.coord_security.clone(),
                set_acl: config.coord_set_acl,
            },
            registry.clone(),
        )
    });
    let leader = election
        .as_ref()
        .map_or_else(election::standalone, Election::leader);
    tracing::info!("schema registry listening on http://{addr}");
    let served = axum::serve(listener, crate::http::router(registry, leader))
        .with_graceful_shutdown(stop)
        .await
        .context("serving the REST API");
    if let Some(e) = election {
        e.stop().await;
    }
    served
}
