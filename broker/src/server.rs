//! Start-up and shutdown of one broker, and [`Broker`], the state every
//! request handler shares.
//!
//! Start-up, in Kafka's order: log directories and `meta.properties`, coord
//! session and cluster id, broker id, listener, cluster metadata, local logs
//! for the partitions this broker leads, registration in `/brokers/ids`,
//! controller election, then serving.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::api::fetch_session::FetchSessions;
use crate::config::{BrokerConfig, Listener};
use crate::controller::Controller;
use crate::group::{GroupConfig, GroupCoordinator};
use crate::metadata::store::broker_registration;
use crate::metadata::{CoordSettings, MetadataError, MetadataStore};
use crate::metrics::collector::{BrokerCollector, LagClient};
use crate::metrics::BrokerMetrics;
use crate::quota::QuotaManager;
use crate::replica::log_cleaner::LogCleaner;
use crate::replica::ReplicaManager;
use crate::security::authorizer::Authorizer;
use crate::security::listener::ListenerRuntime;
use crate::txn::TransactionCoordinator;
use runnel_common::coord_client::CoordClientSecurity;
use runnel_common::metrics::{serve, Prepare, Registry};

/// Why the broker cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    #[error("log directory {path}: {source}")]
    LogDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    MetaProperties { path: PathBuf, reason: String },
    #[error("listener {listener}: {reason}")]
    Security { listener: String, reason: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("broker.id is -1 and broker.id.generation.enable is false")]
    NoBrokerId,
    #[error(transparent)]
    Log(#[from] crate::log::LogError),
    #[error("{0}")]
    Metrics(String),
}

/// What request handlers share.
pub struct Broker {
    pub config: BrokerConfig,
    pub id: i32,
    pub cluster_id: String,
    pub metadata: Arc<MetadataStore>,
    pub replicas: Arc<ReplicaManager>,
    /// The consumer-group coordinator.
    pub groups: Arc<GroupCoordinator>,
    /// The controller role (active only while this broker holds `/controller`).
    pub controller: Arc<Controller>,
    /// Producer ids and the transaction coordinator.
    pub txn: Arc<TransactionCoordinator>,
    /// The advertised endpoint of the inter-broker listener (real port
    /// when configured as 0): where this broker's own clients connect.
    pub advertised: Listener,
    /// Every advertised endpoint, as registered in coord.
    pub advertised_all: Vec<Listener>,
    /// Counters Prometheus scrapes (kept whether or not it does).
    pub metrics: Arc<BrokerMetrics>,
    /// Consumers' and followers' incremental fetch sessions (KIP-227).
    pub fetch_sessions: Arc<FetchSessions>,
    /// Compaction of this broker's compacted logs.
    pub cleaner: Arc<LogCleaner>,
    /// ACLs (everything allowed while `authorizer.class.name` is empty).
    pub authorizer: Arc<Authorizer>,
    /// Client quotas in force and the usage measured against them.
    pub quotas: Arc<QuotaManager>,
    /// Connection counts and rates per address, checked at accept.
    pub connections: Arc<crate::quota::ConnectionQuotas>,
}

impl Broker {
    /// Host and port clients should use for this broker.
    pub fn advertised(&self) -> (String, i32) {
        (
            self.advertised.host.clone(),
            i32::from(self.advertised.port),
        )
    }
}

/// A running broker.
pub struct Server {
    broker: Arc<Broker>,
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// `meta.properties` in a log directory: which cluster and broker own it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct MetaProperties {
    broker_id: Option<i32>,
    cluster_id: Option<String>,
}

fn read_meta(dir: &Path) -> Result<MetaProperties, StartError> {
    let path = dir.join("meta.properties");
    if !path.exists() {
        return Ok(MetaProperties::default());
    }
    let entries =
        runnel_common::properties::read_file(&path).map_err(|e| StartError::MetaProperties {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    let mut meta = MetaProperties::default();
    for e in entries {
        match e.key.as_str() {
            "broker.id" => {
                meta.broker_id = Some(e.value.parse().map_err(|_| StartError::MetaProperties {
                    path: path.clone(),
                    reason: format!("bad broker.id {:?}", e.value),
                })?)
            }
            "cluster.id" => meta.cluster_id = Some(e.value),
            _ => {}
        }
    }
    Ok(meta)
}

fn write_meta(dir: &Path, broker_id: i32, cluster_id: &str) -> Result<(), StartError> {
    let path = dir.join("meta.properties");
    let tmp = dir.join("meta.properties.tmp");
    let text = format!(
        "#\n#{}\nversion=0\nbroker.id={broker_id}\ncluster.id={cluster_id}\n",
        now_ms()
    );
    let io = |source| StartError::LogDir {
        path: path.clone(),
        source,
    };
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(())
}

pub use runnel_common::clock::now_ms;

fn local_hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Opens `metrics.listener` and serves the broker's metrics on it.
async fn serve_metrics(
    broker: &Arc<Broker>,
    addr: &str,
    shutdown: watch::Receiver<bool>,
) -> Result<JoinHandle<()>, StartError> {
    let listener = runnel_common::metrics::bind("metrics.listener", addr)
        .await
        .map_err(|e| StartError::Metrics(e.to_string()))?;
    let mut registry = Registry::default();
    broker.metrics.register(&mut registry);
    let (host, port) = broker.advertised();
    let collector = BrokerCollector::new(
        broker,
        LagClient {
            bootstrap: format!("{host}:{port}"),
            security: broker.config.inter_broker_client.clone(),
        },
    );
    registry.register_collector(Box::new(collector.clone()));
    let prepare: Prepare = Arc::new(move || {
        let c = collector.clone();
        Box::pin(async move { c.refresh_lag().await })
    });
    if let Ok(a) = listener.local_addr() {
        info!("metrics at http://{a}/metrics");
    }
    Ok(tokio::spawn(async move {
        if let Err(e) = serve(listener, Arc::new(registry), Some(prepare), shutdown).await {
            warn!("metrics listener stopped: {e}");
        }
    }))
}

/// The broker's own TLS and SASL to coord, for its metadata session and
/// the Schema Registry it runs.
fn coord_security(config: &BrokerConfig) -> CoordClientSecurity {
    CoordClientSecurity {
        tls: config.zookeeper_tls.clone(),
        sasl: config.zookeeper_sasl.clone(),
    }
}

/// The Schema Registry of `schema.registry.listeners`, run beside the Kafka
/// listener: its store is this cluster (bootstrapped through this broker's
/// inter-broker listener, as the broker's own client),
/// its leader elected in this broker's coord among every broker serving
/// one. It starts in the background (it reads `_schemas` first, which needs
/// the cluster's brokers up) and stops with the broker.
fn serve_schema_registry(
    broker: &Arc<Broker>,
    mut shutdown: watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    let listener = broker.config.schema_registry_listener.clone()?;
    let host = listener
        .strip_prefix("http://")
        .and_then(|hp| hp.rsplit_once(':'))
        .map(|(h, _)| h.to_string())
        .unwrap_or_default();
    let entries: Vec<(String, String)> = [
        ("listeners", listener),
        (
            "kafkastore.bootstrap.servers",
            format!("{}:{}", broker.advertised.host, broker.advertised.port),
        ),
        (
            "kafkastore.connection.url",
            broker.config.zookeeper_connect.clone(),
        ),
        (
            "kafkastore.zk.session.timeout.ms",
            broker
                .config
                .zookeeper_session_timeout
                .as_millis()
                .to_string(),
        ),
        ("host.name", host),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    // The broker's own settings, not the environment's: the registry is
    // part of this broker and reaches the cluster as the broker does.
    let mut config =
        match runnel_registry::config::RegistryConfig::from_entries_and_jvm_opts(&entries, &[]) {
            Ok(c) => c,
            Err(e) => {
                warn!("schema.registry.listeners: {e}");
                return None;
            }
        };
    // Kafka through the inter-broker listener (`advertised` is its
    // endpoint) with the broker's inter-broker credentials, so a SASL_SSL-
    // only broker serves its own registry; coord with the broker's TLS,
    // login and `zookeeper.set.acl`, so its znodes are as protected as the
    // broker's and it may create them under a chroot the broker secured.
    config.store.security = broker.config.inter_broker_client.clone();
    config.coord_security = coord_security(&broker.config);
    config.coord_set_acl = broker.config.zookeeper_set_acl;
    Some(tokio::spawn(async move {
        let stop = async move {
            let _ = shutdown.wait_for(|stopped| *stopped).await;
        };
        if let Err(e) = runnel_registry::service::run(config, stop).await {
            warn!("the schema registry stopped: {e:#}");
        }
    }))
}

impl Server {
    /// Starts the broker; returns once it serves requests.
    pub async fn start(config: BrokerConfig) -> Result<Server, StartError> {
        for key in &config.unknown_keys {
            warn!("unknown configuration key {key} (ignored)");
        }
        // Log directories and what they say about their owner.
        let mut metas = Vec::new();
        for dir in &config.log_dirs {
            std::fs::create_dir_all(dir).map_err(|source| StartError::LogDir {
                path: dir.clone(),
                source,
            })?;
            metas.push(read_meta(dir)?);
        }

        let metadata = MetadataStore::connect(CoordSettings {
            hosts: config.zookeeper_hosts().to_string(),
            chroot: config.zookeeper_chroot().map(str::to_string),
            session_timeout: config.zookeeper_session_timeout,
            connection_timeout: config.zookeeper_connection_timeout,
            inter_broker_listener: config.inter_broker.listener.clone(),
            security: coord_security(&config),
            set_acl: config.zookeeper_set_acl,
        })
        .await?;
        let cluster_id = metadata
            .until_connected("reading the cluster id", || {
                metadata.get_or_create_cluster_id()
            })
            .await?;
        for (dir, meta) in config.log_dirs.iter().zip(&metas) {
            if let Some(c) = &meta.cluster_id {
                if c != &cluster_id {
                    return Err(StartError::MetaProperties {
                        path: dir.join("meta.properties"),
                        reason: format!(
                            "The Cluster ID {cluster_id} doesn't match stored clusterId Some({c}) in meta.properties. \
                             The broker is trying to join the wrong cluster. Configured zookeeper.connect may be wrong."
                        ),
                    });
                }
            }
        }

        // Broker id: configured, else remembered in meta.properties, else generated.
        let stored: Vec<i32> = metas.iter().filter_map(|m| m.broker_id).collect();
        if stored.windows(2).any(|w| w[0] != w[1]) {
            return Err(StartError::MetaProperties {
                path: config.log_dirs[0].join("meta.properties"),
                reason: format!("log directories belong to different brokers: {stored:?}"),
            });
        }
        let id = if config.broker_id >= 0 {
            if let Some(s) = stored.first() {
                if *s != config.broker_id {
                    return Err(StartError::MetaProperties {
                        path: config.log_dirs[0].join("meta.properties"),
                        reason: format!(
                            "Configured broker.id {} doesn't match stored broker.id Some({s}) in meta.properties. \
                             If you moved your data, make sure your configured broker.id matches.",
                            config.broker_id
                        ),
                    });
                }
            }
            config.broker_id
        } else if let Some(s) = stored.first() {
            *s
        } else if config.broker_id_generation_enable {
            metadata
                .until_connected("generating a broker id", || {
                    metadata.generate_broker_id(config.reserved_broker_max_id)
                })
                .await?
        } else {
            return Err(StartError::NoBrokerId);
        };
        for (dir, meta) in config.log_dirs.iter().zip(&metas) {
            if meta.broker_id != Some(id) || meta.cluster_id.as_deref() != Some(cluster_id.as_str())
            {
                write_meta(dir, id, &cluster_id)?;
            }
        }

        // Listeners: each bound, with its TLS built (a bad certificate file
        // stops the start here, naming it).
        let mut bound = Vec::new();
        let mut advertised_all = Vec::new();
        for (listen, security) in config.listeners.iter().zip(&config.listener_security) {
            let runtime = ListenerRuntime::new(security).map_err(|e| StartError::Security {
                listener: listen.name.clone(),
                reason: e.to_string(),
            })?;
            let bind_host = if listen.host.is_empty() {
                "0.0.0.0".to_string()
            } else {
                listen.host.clone()
            };
            let addr = format!("{bind_host}:{}", listen.port);
            let listener = TcpListener::bind(&addr)
                .await
                .map_err(|source| StartError::Bind {
                    addr: addr.clone(),
                    source,
                })?;
            let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
                addr: addr.clone(),
                source,
            })?;
            if let Some(mut advertised) = config
                .advertised_listeners
                .iter()
                .find(|l| l.name == listen.name)
                .cloned()
            {
                if advertised.port == 0 {
                    advertised.port = local_addr.port();
                }
                if advertised.host.is_empty() {
                    advertised.host = local_hostname();
                }
                advertised_all.push(advertised);
            }
            bound.push((listener, local_addr, Arc::new(runtime)));
        }
        let local_addr = bound[0].1;
        let advertised = advertised_all
            .iter()
            .find(|l| l.name == config.inter_broker.listener)
            .cloned()
            .ok_or_else(|| StartError::Security {
                listener: config.inter_broker.listener.clone(),
                reason: "the inter-broker listener must be advertised".into(),
            })?;

        // Metadata and local logs before the broker announces itself.
        metadata
            .until_connected("finishing topic deletions", || {
                metadata.finish_pending_deletes()
            })
            .await?;
        metadata
            .until_connected("reading the metadata", || metadata.reload())
            .await?;
        let metrics = BrokerMetrics::new();
        let replicas = ReplicaManager::new(
            id,
            cluster_id.clone(),
            config.clone(),
            metadata.clone(),
            metrics.clone(),
        )?;
        replicas.startup().await;

        let registration = broker_registration(
            &advertised_all,
            &config.listener_security,
            config.rack.as_deref(),
            now_ms(),
        );
        metadata
            .until_connected("registering the broker", || {
                metadata.register_broker(id, &registration)
            })
            .await?;
        metadata
            .until_connected("the controller election", || metadata.elect_controller(id))
            .await?;
        metadata
            .until_connected("reading the metadata", || metadata.reload())
            .await?;

        let groups = GroupCoordinator::new(id, GroupConfig::from_broker(&config), metadata.clone());
        let controller = Controller::new(id, config.clone(), metadata.clone());
        let txn = TransactionCoordinator::new(
            id,
            config.transactions.clone(),
            config.offsets_topic_num_partitions,
            metadata.clone(),
            config.inter_broker_client.clone(),
        );
        let fetch_sessions = Arc::new(FetchSessions::new(config.fetch_session_cache_slots));
        let cleaner = LogCleaner::new(config.cleaner.clone(), replicas.clone());
        let authorizer = Authorizer::new(config.authorizer.clone());
        let quotas = QuotaManager::new(config.quota_windows, config.controller_quota_windows);
        let connections = crate::quota::ConnectionQuotas::new(
            config.connection_limits.clone(),
            config.quota_windows,
            quotas.clone(),
        );
        let broker = Arc::new(Broker {
            config,
            id,
            cluster_id,
            metadata: metadata.clone(),
            replicas: replicas.clone(),
            groups: groups.clone(),
            controller: controller.clone(),
            txn: txn.clone(),
            advertised,
            advertised_all,
            metrics,
            fetch_sessions,
            cleaner: cleaner.clone(),
            authorizer: authorizer.clone(),
            quotas: quotas.clone(),
            connections,
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let metrics_task = match &broker.config.metrics_listener {
            Some(addr) => Some(serve_metrics(&broker, addr, shutdown_rx.clone()).await?),
            None => None,
        };
        let mut tasks = vec![
            tokio::spawn(metadata.clone().run_watcher(id, shutdown_rx.clone())),
            tokio::spawn(replicas.clone().run(shutdown_rx.clone())),
            tokio::spawn(cleaner.run(shutdown_rx.clone())),
            tokio::spawn(groups.run(shutdown_rx.clone())),
            tokio::spawn(controller.run(shutdown_rx.clone())),
            tokio::spawn(txn.run(shutdown_rx.clone())),
            tokio::spawn(authorizer.run(metadata.clone(), shutdown_rx.clone())),
            tokio::spawn(quotas.run(metadata.clone(), shutdown_rx.clone())),
        ];
        for (listener, _, runtime) in bound {
            tasks.push(tokio::spawn(crate::network::listener::run(
                broker.clone(),
                listener,
                runtime,
                shutdown_rx.clone(),
            )));
        }
        tasks.extend(metrics_task);
        tasks.extend(serve_schema_registry(&broker, shutdown.subscribe()));
        info!(
            broker_id = id,
            cluster_id = %broker.cluster_id,
            "listening on {local_addr} (advertised {})",
            broker
                .advertised_all
                .iter()
                .map(Listener::url)
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(Server {
            broker,
            local_addr,
            shutdown,
            tasks,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// Moves leaderships away (controlled shutdown), stops serving, closes
    /// every log cleanly (checkpoints) and leaves coord.
    pub async fn shutdown(self) {
        info!("shutting down");
        // Followers stop first: the controller is about to take this broker
        // out of every ISR, and one more fetch would let a leader add it back.
        self.broker.replicas.stop_fetching();
        // While still serving, so the new leaders are told and clients
        // asking this broker are redirected.
        self.broker.controller.controlled_shutdown().await;
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        self.broker.replicas.shutdown().await;
        self.broker.metadata.unregister_broker().await;
        info!("shut down cleanly");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_properties_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_meta(dir.path()).unwrap(), MetaProperties::default());
        write_meta(dir.path(), 7, "abc").unwrap();
        let m = read_meta(dir.path()).unwrap();
        assert_eq!(m.broker_id, Some(7));
        assert_eq!(m.cluster_id.as_deref(), Some("abc"));
    }
}
