//! Which instance writes: the instances of one registry elect a leader
//! through coord (`kafkastore.connection.url`), as Confluent's did through
//! ZooKeeper. The leader holds the ephemeral node
//! `/<schema.registry.zk.namespace>/schema_registry_master` with its
//! identity (`{"host","port","master_eligibility","scheme","version"}`);
//! the others read it, watch it, and forward writes to that URL.
//!
//! Only the leader allocates ids and versions, so they are unique: it
//! reads the `_schemas` topic to its end before it announces itself, so
//! everything the previous leader acknowledged is in its state first. An
//! instance that loses its coord connection stops writing until it is
//! back (its node may be gone by then and another instance leader).

use std::sync::Arc;
use std::time::Duration;

use runnel_common::coord_client::{CoordClientSecurity, CoordConnectError};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use zookeeper_client as zk;

use crate::registry::Registry;

/// ZooKeeper's `CREATOR_ALL_ACL` + `READ_ACL_UNSAFE`: what Confluent's
/// registry (through Kafka's `ZkUtils`) gives its znodes when
/// `zookeeper.set.acl=true`. Coord expands `auth` to the session's
/// authenticated ids (`sasl:<user>`, `x509:<subject>`).
static CREATOR_ALL_WORLD_READ: [zk::Acl; 2] = [
    zk::Acl::new_const(zk::Permission::ALL, "auth", ""),
    zk::Acl::new_const(zk::Permission::READ, "world", "anyone"),
];

/// The ACL of every node the election creates.
fn acls(set_acl: bool) -> zk::Acls<'static> {
    if set_acl {
        zk::Acls::new(&CREATOR_ALL_WORLD_READ)
    } else {
        zk::Acls::anyone_all()
    }
}

/// Why one session's worth of the election ended early.
#[derive(Debug, thiserror::Error)]
enum ElectionError {
    #[error(transparent)]
    Coord(#[from] zk::Error),
    #[error("cannot connect to coord: {0}")]
    Connect(#[from] CoordConnectError),
}

/// Who writes, as this instance knows it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leader {
    /// This instance: it serves writes itself.
    Me,
    /// Another instance, at this base URL (`http://host:port`).
    Other(String),
    /// None known (coord unreachable, or no eligible instance runs).
    Unknown,
}

/// What the leader's node holds: Confluent's `SchemaRegistryIdentity`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Identity {
    pub host: String,
    pub port: u16,
    pub master_eligibility: bool,
    pub scheme: String,
    pub version: i32,
}

impl Identity {
    pub fn new(host: &str, port: u16, eligible: bool) -> Identity {
        Identity {
            host: host.to_string(),
            port,
            master_eligibility: eligible,
            scheme: "http".into(),
            version: 1,
        }
    }

    pub fn url(&self) -> String {
        format!("{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// The coord side of the election.
#[derive(Debug, Clone)]
pub struct ElectionConfig {
    /// Coord hosts, optionally with a chroot (`h1:2181,h2:2181/runnel`).
    pub connect: String,
    /// `schema.registry.zk.namespace` (`schema_registry`).
    pub namespace: String,
    pub session_timeout: Duration,
    pub me: Identity,
    /// TLS and SASL to coord (`zookeeper.ssl.*`, a JAAS `Client` section).
    pub security: CoordClientSecurity,
    /// `zookeeper.set.acl`: nodes get creator ALL + world READ.
    pub set_acl: bool,
}

/// The running election: who leads, and how to leave it.
pub struct Election {
    leader: watch::Receiver<Leader>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Election {
    /// Starts the election task.
    pub fn start(config: ElectionConfig, registry: Arc<Registry>) -> Election {
        let (tx, leader) = watch::channel(Leader::Unknown);
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut stopped = stopped;
            while !*stopped.borrow() {
                match campaign(&config, &registry, &tx, &mut stopped).await {
                    Ok(()) => {}
                    Err(e) => tracing::warn!(error = %e, "leader election interrupted; retrying"),
                }
                tx.send_replace(Leader::Unknown);
                if *stopped.borrow() {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stopped.changed() => {}
                }
            }
        });
        Election { leader, stop, task }
    }

    /// Follows who leads.
    pub fn leader(&self) -> watch::Receiver<Leader> {
        self.leader.clone()
    }

    /// Leaves the election: a leader deletes its node, so another instance
    /// (or this one restarted) takes over at once rather than after the
    /// session timeout.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

/// The leader for an instance without coord: itself, always (a
/// receiver keeps the last value after its sender is gone).
pub fn standalone() -> watch::Receiver<Leader> {
    watch::channel(Leader::Me).1
}

/// One coord session's worth of the election: returns when the session
/// ends (expired or closed) or the election is stopped, errs on any other
/// coord failure.
async fn campaign(
    config: &ElectionConfig,
    registry: &Registry,
    tx: &watch::Sender<Leader>,
    stopped: &mut watch::Receiver<bool>,
) -> Result<(), ElectionError> {
    let client = connect(config).await?;
    let dir = format!("/{}", config.namespace.trim_matches('/'));
    let node = format!("{dir}/schema_registry_master");
    let persistent = zk::CreateMode::Persistent.with_acls(acls(config.set_acl));
    let ephemeral = zk::CreateMode::Ephemeral.with_acls(acls(config.set_acl));
    client.mkdir(&dir, &persistent).await.or_else(exists_ok)?;
    let me = serde_json::to_vec(&config.me).unwrap_or_default();
    let mut states = client.state_watcher();
    loop {
        if *stopped.borrow() {
            return Ok(());
        }
        if config.me.master_eligibility {
            match client.create(&node, &me, &ephemeral).await {
                Ok(_) => {
                    lead(registry, tx, &config.me).await;
                    let outcome = hold(&mut states, tx, stopped).await;
                    if *stopped.borrow() {
                        tx.send_replace(Leader::Unknown);
                        match client.delete(&node, None).await {
                            Ok(()) => tracing::info!("left the leadership"),
                            Err(e) => {
                                tracing::warn!(error = %e, "could not delete the leader node")
                            }
                        }
                    }
                    return outcome.map_err(ElectionError::from);
                }
                Err(zk::Error::NodeExists) => {}
                Err(e) => return Err(e.into()),
            }
        }
        match client.get_and_watch_data(&node).await {
            Ok((data, stat, watcher)) => {
                let identity = serde_json::from_slice::<Identity>(&data);
                if identity.as_ref().is_ok_and(|id| *id == config.me)
                    && stat.ephemeral_owner != client.session_id().0
                {
                    // This instance's node from before a crash or restart:
                    // no other process can hold this host and port.
                    tracing::info!("removing this instance's leader node of a previous session");
                    match client.delete(&node, Some(stat.version)).await {
                        Ok(()) | Err(zk::Error::NoNode) | Err(zk::Error::BadVersion) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                let leader = match identity {
                    Ok(id) => Leader::Other(id.url()),
                    Err(e) => {
                        tracing::warn!(error = %e, node = %node, "the leader's identity is not JSON");
                        Leader::Unknown
                    }
                };
                if *tx.borrow() != leader {
                    tracing::info!(?leader, "leader elected");
                }
                tx.send_replace(leader);
                tokio::select! {
                    _ = watcher.changed() => {}
                    _ = stopped.changed() => return Ok(()),
                }
            }
            // Gone between the create and the read: try again.
            Err(zk::Error::NoNode) => {
                tx.send_replace(Leader::Unknown);
                let (_, watcher) = client.check_and_watch_stat(&node).await?;
                tokio::select! {
                    _ = watcher.changed() => {}
                    _ = stopped.changed() => return Ok(()),
                }
            }
            Err(e) => return Err(e.into()),
        }
        if states.peek_state().is_terminated() {
            return Ok(());
        }
    }
}

/// Becomes leader: reads the topic to its end first, so the ids and
/// versions the previous leader allocated are known.
async fn lead(registry: &Registry, tx: &watch::Sender<Leader>, me: &Identity) {
    loop {
        match registry.catch_up().await {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(error = %e, "elected, but cannot read the schemas topic yet");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    tracing::info!(url = %me.url(), "this instance is the leader");
    tx.send_replace(Leader::Me);
}

/// Stays leader while the session lives (or until stopped); writes pause
/// while it is disconnected (the node may expire meanwhile).
async fn hold(
    states: &mut zk::StateWatcher,
    tx: &watch::Sender<Leader>,
    stopped: &mut watch::Receiver<bool>,
) -> Result<(), zk::Error> {
    loop {
        let state = tokio::select! {
            s = states.changed() => s,
            _ = stopped.changed() => return Ok(()),
        };
        match state {
            zk::SessionState::SyncConnected => {
                tx.send_replace(Leader::Me);
            }
            s if s.is_terminated() => {
                tracing::warn!(state = ?s, "leadership lost with the coord session");
                return Ok(());
            }
            s => {
                tracing::warn!(state = ?s, "coord connection lost; writes wait for it");
                tx.send_replace(Leader::Unknown);
            }
        }
    }
}

fn exists_ok(e: zk::Error) -> Result<(), zk::Error> {
    match e {
        zk::Error::NodeExists => Ok(()),
        e => Err(e),
    }
}

/// A session on the hosts, logged in as configured, rooted at the chroot
/// (created when missing, as Kafka does).
async fn connect(config: &ElectionConfig) -> Result<zk::Client, ElectionError> {
    let (hosts, chroot) = match config.connect.find('/') {
        Some(i) => (&config.connect[..i], Some(&config.connect[i..])),
        None => (config.connect.as_str(), None),
    };
    let connector = zk::Client::connector().with_session_timeout(config.session_timeout);
    let client = tokio::time::timeout(
        config.session_timeout * 2,
        config.security.connect(connector, hosts),
    )
    .await
    .map_err(|_| zk::Error::Timeout)??;
    let Some(chroot) = chroot.filter(|c| *c != "/") else {
        return Ok(client);
    };
    let persistent = zk::CreateMode::Persistent.with_acls(acls(config.set_acl));
    client.mkdir(chroot, &persistent).await.or_else(exists_ok)?;
    client
        .chroot(chroot)
        .map_err(|_| zk::Error::BadArguments(&"invalid chroot in kafkastore.connection.url").into())
}
