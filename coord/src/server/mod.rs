//! The running server: shared state, the accept loop, and the housekeeping
//! tasks (session expiry, container/TTL sweep).
//!
//! A request's path: [`connection`] (frames, handshake, ordering) →
//! [`reads`] for reads, or for writes a [`crate::proposal::Proposal`] made
//! durable by one of two replication paths — standalone, [`commit`]
//! (prepare → store and flush → publish); in an ensemble, [`crate::raft`]
//! (prepare on the leader → Raft log on a majority → publish on every
//! member, through this server's `raft::Host` implementation in `host.rs`)
//! — then [`publish`] applies to the published tree and fires [`watches`]
//! → [`reply`] encodes the answer.
//!
//! Clients arrive on `clientPort` (plaintext), on `secureClientPort` (TLS,
//! see [`tls`]), or both; after the handshake both kinds are the same
//! connection code.

pub mod commit;
pub mod connection;
pub mod four_letter;
mod host;
pub mod metrics;
pub mod monitor;
pub mod publish;
pub mod reads;
pub mod reply;
pub mod sasl;
pub mod sessions;
pub mod stats;
pub mod tls;
pub mod watches;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::proposal::{Outcome, Proposal, ProposalKind};
use crate::raft::Ensemble;
use crate::storage::{standalone, SledStore, Snapshotter, StorageError, Store, TxnLog};
use crate::tree::DataTree;
use commit::Committer;
use sessions::SessionTracker;
use stats::{ConnStats, ServerStats};
use watches::WatchManager;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the data store in {path}: {source}")]
    Store {
        path: String,
        #[source]
        source: StorageError,
    },
    #[error("ensemble: {0}")]
    Ensemble(#[from] crate::raft::EnsembleError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The secure client port's TLS cannot be set up; the message names
    /// the zoo.cfg key (`ssl.keyStore.location`, ...) and file.
    #[error("secureClientPort: {0}")]
    Tls(String),
    /// The Prometheus endpoint cannot listen; the message names the
    /// zoo.cfg key (`metricsProvider.httpHost` or `metricsProvider.httpPort`).
    #[error("metrics endpoint: {0}")]
    Metrics(String),
}

/// State every connection and task shares.
pub struct Shared {
    pub config: Config,
    tree: RwLock<DataTree>,
    watches: Mutex<WatchManager>,
    pub sessions: SessionTracker,
    pub commit_tx: mpsc::Sender<Proposal>,
    pub stats: ServerStats,
    conns: Mutex<HashMap<u64, Arc<ConnStats>>>,
    next_session: AtomicI64,
    /// The zxid of the last transaction applied to the published tree.
    applied: tokio::sync::watch::Sender<i64>,
    /// Set when this server is an ensemble member.
    pub ensemble: std::sync::OnceLock<Arc<crate::raft::Ensemble>>,
}

impl Shared {
    /// State for a server whose stored tree is `tree`; every stored session
    /// gets a fresh timeout. Returns where proposals arrive.
    pub(crate) fn new(config: Config, tree: &DataTree) -> (Arc<Shared>, mpsc::Receiver<Proposal>) {
        let (commit_tx, commit_rx) = mpsc::channel(4096);
        let sessions = SessionTracker::default();
        for (id, record) in tree.sessions() {
            sessions.track(id, record.timeout_ms);
        }
        let shared = Arc::new(Shared {
            next_session: AtomicI64::new(initial_session_id(config.my_id, tree)),
            config,
            tree: RwLock::new(tree.clone()),
            watches: Mutex::new(WatchManager::default()),
            sessions,
            commit_tx,
            stats: ServerStats::default(),
            conns: Mutex::new(HashMap::new()),
            applied: tokio::sync::watch::Sender::new(tree.last_zxid()),
            ensemble: std::sync::OnceLock::new(),
        });
        (shared, commit_rx)
    }

    /// The published tree: what reads see (only committed, stored changes).
    pub fn tree(&self) -> RwLockReadGuard<'_, DataTree> {
        self.tree.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that the published tree reached `zxid`.
    pub fn note_applied(&self, zxid: i64) {
        self.applied.send_if_modified(|current| {
            let newer = zxid > *current;
            if newer {
                *current = zxid;
            }
            newer
        });
    }

    /// Waits until the published tree has applied `zxid`; false on timeout.
    pub async fn wait_applied(&self, zxid: i64, timeout: Duration) -> bool {
        let mut rx = self.applied.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|applied| *applied >= zxid))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Whether this member may serve clients now (an ensemble member cut off
    /// from the majority may not).
    pub fn serving(&self) -> bool {
        self.ensemble.get().is_none_or(|e| e.serving())
    }

    /// Whether this server runs the housekeeping (session expiry, container
    /// sweep): a standalone server, or the ensemble's leader.
    pub fn leads(&self) -> bool {
        self.ensemble.get().is_none_or(|e| e.is_leader())
    }

    /// "standalone", "leader" or "follower", for `srvr` and `mntr`.
    pub fn mode(&self) -> &'static str {
        self.ensemble.get().map_or("standalone", |e| e.mode())
    }

    /// `sync`: returns once this member has applied everything committed
    /// before the call (a no-op on a standalone server); false if that
    /// cannot be established (no leader reachable).
    pub async fn sync(&self) -> bool {
        match self.ensemble.get() {
            None => true,
            Some(ensemble) => ensemble.clone().read_barrier(self).await,
        }
    }

    pub(crate) fn tree_mut(&self) -> RwLockWriteGuard<'_, DataTree> {
        self.tree.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The watch table. Take it after the tree lock when holding both.
    pub fn watches(&self) -> MutexGuard<'_, WatchManager> {
        self.watches.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn conns(&self) -> MutexGuard<'_, HashMap<u64, Arc<ConnStats>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn register_conn(&self, id: u64, stats: Arc<ConnStats>) {
        self.conns().insert(id, stats);
    }

    pub fn unregister_conn(&self, id: u64) {
        self.conns().remove(&id);
    }

    pub fn connections(&self) -> Vec<Arc<ConnStats>> {
        self.conns().values().cloned().collect()
    }

    /// Client connections, and their requests not answered yet.
    pub fn connection_totals(&self) -> (usize, u64) {
        let conns = self.conns();
        (conns.len(), conns.values().map(|c| c.queued()).sum())
    }

    fn connections_from(&self, ip: IpAddr) -> usize {
        self.conns()
            .values()
            .filter(|c| c.remote.ip() == ip)
            .count()
    }

    /// A fresh session id: ZooKeeper's layout, server id in the top byte and
    /// a time-seeded counter below.
    pub fn next_session_id(&self) -> i64 {
        self.next_session.fetch_add(1, Relaxed)
    }
}

/// Opens a standalone server's transaction log and recovers the tree:
/// its last snapshot plus every logged write after it.
fn open_txn_log(store: &SledStore, config: &Config) -> Result<(TxnLog, DataTree), ServerError> {
    let dir = config.txn_log_dir();
    let failed = |source: StorageError| ServerError::Store {
        path: dir.display().to_string(),
        source,
    };
    let (log, logged) = TxnLog::open(&dir).map_err(|e| failed(e.into()))?;
    let tree = standalone::recover(store, &config.snapshot_dir(), &log, logged).map_err(failed)?;
    Ok((log, tree))
}

fn initial_session_id(my_id: u64, tree: &DataTree) -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    let seeded = (((now << 24) >> 8) | (my_id << 56)) as i64;
    let highest = tree.sessions().map(|(id, _)| id).max().unwrap_or(0);
    seeded.max(highest + 1)
}

/// A started server.
pub struct Server {
    pub shared: Arc<Shared>,
    /// Where plaintext clients connect (`clientPort`), if anywhere.
    pub local_addr: Option<SocketAddr>,
    /// Where TLS clients connect (`secureClientPort`), if anywhere.
    pub secure_addr: Option<SocketAddr>,
    listener: Option<TcpListener>,
    /// The secure port's listener and its acceptor, built once at start.
    secure: Option<(TcpListener, TlsAcceptor)>,
    /// The Prometheus endpoint's listener, when zoo.cfg asks for one.
    metrics: Option<TcpListener>,
    /// Where the endpoint is listening.
    pub metrics_addr: Option<SocketAddr>,
}

/// Binds the Prometheus endpoint's listener: an unknown host names
/// `metricsProvider.httpHost`, a port in use `metricsProvider.httpPort`.
async fn bind_metrics(m: &crate::config::MetricsConfig) -> Result<TcpListener, ServerError> {
    if let Err(e) = tokio::net::lookup_host((m.http_host.as_str(), m.http_port)).await {
        let key = metrics::HOST_KEY;
        return Err(ServerError::Metrics(format!("{key}={}: {e}", m.http_host)));
    }
    runnel_common::metrics::bind(metrics::PORT_KEY, &m.listen_addr())
        .await
        .map_err(|e| ServerError::Metrics(format!("{e:#}")))
}

impl Server {
    /// Opens the store, restores the tree and sessions, and binds the client port.
    pub async fn start(config: Config) -> Result<Server, ServerError> {
        // First: a bad key store should stop the server before it touches
        // its data.
        let acceptor = match &config.secure_client {
            Some(secure) => Some(tls::acceptor(secure).map_err(ServerError::Tls)?),
            None => None,
        };
        std::fs::create_dir_all(&config.data_dir).map_err(|source| ServerError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
        let store_dir = config.data_dir.join("store");
        let store_err = |source| ServerError::Store {
            path: store_dir.display().to_string(),
            source,
        };
        let store = SledStore::open(&store_dir).map_err(store_err)?;
        let standalone = config.servers.is_empty();
        let (tree, log) = if standalone {
            let (log, tree) = open_txn_log(&store, &config)?;
            (tree, Some(Arc::new(log)))
        } else {
            let log_dir = config.txn_log_dir();
            if log_dir.exists() {
                // This data was a standalone server's (a snapshot and the
                // log after it): the ensemble takes its tree over from the
                // per-znode state, converted as an older version's is.
                let (_, tree) = open_txn_log(&store, &config)?;
                store.replace_all(&tree, &[]).map_err(store_err)?;
                std::fs::remove_dir_all(&log_dir).map_err(|source| ServerError::DataDir {
                    path: log_dir.display().to_string(),
                    source,
                })?;
            }
            standalone::remove_snapshot(&config.snapshot_dir()).map_err(store_err)?;
            (
                crate::raft::load_state(&store, &config.snapshot_dir()).map_err(store_err)?,
                None,
            )
        };
        let listener = match config.client_port {
            Some(port) => Some(bind(SocketAddr::new(config.client_port_address, port)).await?),
            None => None,
        };
        let secure = match (&config.secure_client, acceptor) {
            (Some(s), Some(acceptor)) => {
                Some((bind(SocketAddr::new(s.address, s.port)).await?, acceptor))
            }
            _ => None,
        };
        let local_addr = listener.as_ref().and_then(|l| l.local_addr().ok());
        let secure_addr = secure.as_ref().and_then(|(l, _)| l.local_addr().ok());
        let metrics = match &config.metrics {
            Some(m) => Some(bind_metrics(m).await?),
            None => None,
        };
        let metrics_addr = metrics.as_ref().and_then(|l| l.local_addr().ok());
        tracing::info!(
            nodes = tree.node_count(),
            sessions = tree.sessions().count(),
            zxid = format_args!("0x{:x}", tree.last_zxid()),
            "data tree loaded"
        );
        let (shared, commit_rx) = Shared::new(config, &tree);
        if let Some(log) = log {
            let snapshotter = Snapshotter::start(
                shared.config.snapshot_dir(),
                log.clone(),
                shared.config.snap_count,
            )
            .map_err(|source| ServerError::DataDir {
                path: "snapshot thread".into(),
                source,
            })?;
            drop(store);
            let committer = Committer::new(shared.clone(), tree, log, Arc::new(snapshotter));
            std::thread::Builder::new()
                .name("commit".into())
                .spawn(move || committer.run(commit_rx))
                .map_err(|source| ServerError::DataDir {
                    path: "commit thread".into(),
                    source,
                })?;
        } else {
            let host: Arc<dyn crate::raft::Host> = shared.clone();
            let ensemble = Ensemble::start(
                host,
                &shared.config,
                store,
                shared.commit_tx.clone(),
                commit_rx,
            )
            .await?;
            let _ = shared.ensemble.set(ensemble);
        }
        Ok(Server {
            shared,
            local_addr,
            secure_addr,
            listener,
            secure,
            metrics,
            metrics_addr,
        })
    }

    /// Serves clients until the process ends, or until this future is
    /// dropped: the Prometheus endpoint stops with it.
    pub async fn run(mut self) {
        // Dropped with this future, which tells the endpoint to stop.
        let (_stop_metrics, stopped) = tokio::sync::watch::channel(false);
        if let Some(listener) = self.metrics.take() {
            let registry = Arc::new(metrics::registry(self.shared.clone()));
            tokio::spawn(async move {
                if let Err(error) =
                    runnel_common::metrics::serve(listener, registry, None, stopped).await
                {
                    tracing::error!(%error, "Prometheus endpoint failed");
                }
            });
        }
        tokio::spawn(expire_sessions(self.shared.clone()));
        tokio::spawn(sweep_expirable(self.shared.clone()));
        let next_conn = Arc::new(AtomicU64::new(1));
        let plain = self
            .listener
            .take()
            .map(|l| accept_loop(self.shared.clone(), l, None, next_conn.clone()));
        let secure = self
            .secure
            .take()
            .map(|(l, a)| accept_loop(self.shared.clone(), l, Some(a), next_conn.clone()));
        match (plain, secure) {
            (Some(plain), Some(secure)) => {
                tokio::join!(plain, secure);
            }
            (Some(one), None) | (None, Some(one)) => one.await,
            // The configuration requires one of the ports.
            (None, None) => std::future::pending().await,
        }
    }
}

/// Binds a client port.
async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

/// Accepts clients on one port forever: plaintext, or TLS when `tls` is
/// given (the handshake runs in the connection's own task, so a slow
/// client does not hold up the others).
async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    next_conn: Arc<AtomicU64>,
) {
    let mut backoff = Duration::from_millis(5);
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => {
                backoff = Duration::from_millis(5);
                accepted
            }
            Err(error) => {
                // Out of file descriptors and the like: wait, don't spin.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let limit = shared.config.max_client_cnxns as usize;
        if limit > 0 && shared.connections_from(remote.ip()) >= limit {
            tracing::warn!(%remote, limit, "too many connections from this address; closing");
            continue;
        }
        let conn = next_conn.fetch_add(1, Relaxed);
        let shared = shared.clone();
        match &tls {
            None => {
                tokio::spawn(connection::serve(shared, stream, remote, conn));
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    match tls::handshake(&acceptor, stream).await {
                        Ok(stream) => connection::serve_stream(shared, stream, remote, conn).await,
                        Err(error) => tracing::info!(%remote, %error, "secure client port"),
                    }
                });
            }
        }
    }
}

/// Sends a housekeeping proposal and waits for it to be committed.
async fn propose(shared: &Shared, session: i64, kind: ProposalKind) -> Option<Outcome> {
    let (tx, rx) = oneshot::channel();
    let proposal = Proposal {
        forwarded: false,
        session,
        ids: Arc::new(Vec::new()),
        kind,
        reply: Some(tx),
    };
    shared.commit_tx.send(proposal).await.ok()?;
    rx.await.ok()
}

/// Expires sessions not heard from within their timeout: one committed
/// CloseSession each, which deletes their ephemerals and fires the watches.
///
/// Checked every 100 ms (or half a tick if shorter), where ZooKeeper rounds
/// expiry up to the next tick: a dead broker's ephemeral node goes within
/// 0.1 s of its session timeout instead of up to 2 s later, and that is
/// when its partitions fail over. The check is a scan of the live sessions.
async fn expire_sessions(shared: Arc<Shared>) {
    let period = Duration::from_millis((shared.config.tick_time_ms / 2).clamp(10, 100) as u64);
    let mut ticker = tokio::time::interval(period);
    loop {
        ticker.tick().await;
        if !shared.leads() {
            continue;
        }
        for session in shared.sessions.take_expired(Instant::now()) {
            tracing::info!(session = format_args!("0x{session:x}"), "session expired");
            match propose(&shared, session, ProposalKind::CloseSession).await {
                Some(Outcome::Done { .. }) => {}
                _ => shared.sessions.abort_close(session),
            }
        }
    }
}

/// Removes empty containers and expired TTL nodes, like ZooKeeper's
/// ContainerManager (but checking every second rather than every minute).
async fn sweep_expirable(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticker.tick().await;
        if shared.leads() && shared.tree().expirable().next().is_some() {
            propose(&shared, 0, ProposalKind::SweepExpirable).await;
        }
    }
}
