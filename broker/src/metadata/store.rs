//! The broker's link to coord: the session and the cluster metadata (every
//! `zookeeper-client` call outside [`super::groups`] lives here).
//!
//! Writes follow Kafka's ZooKeeper mode (`AdminZkClient`, `KafkaZkClient`);
//! until the controller lands (multi-broker issue) the broker that creates
//! or deletes a topic also does the controller's share: it writes the
//! initial partition states and removes the znodes of a deleted topic.
//!
//! Reads rebuild [`Snapshot`]s; [`MetadataStore::run_watcher`] keeps the
//! cache current from one-shot watches and survives session expiry by
//! reconnecting and registering the broker again.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use runnel_common::coord_client::CoordConnectError;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};
use zookeeper_client as zk;

use super::cache::{
    BrokerInfo, LeaderAndIsr, MetadataCache, OpenRead, PartitionInfo, Snapshot, TopicInfo,
};
use super::controller_store::ControllerLease;
use super::layout::*;
use super::znode_acl::ZnodeAcls;

/// A failed coord operation.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("coord {op} {path}: {source}")]
    Zk {
        op: &'static str,
        path: String,
        #[source]
        source: zk::Error,
    },
    #[error("coord multi-write for {what}: {source}")]
    Multi {
        what: String,
        #[source]
        source: zk::MultiWriteError,
    },
    #[error("bad JSON in {path}: {source}")]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("Topic '{0}' already exists.")]
    TopicExists(String),
    #[error("Topic '{0}' does not exist.")]
    NoTopic(String),
    #[error("{path} changed concurrently; retry")]
    Conflict { path: String },
    #[error("cannot connect to coord at {connect}: {source}")]
    Connect {
        connect: String,
        #[source]
        source: zk::Error,
    },
    /// `zookeeper.ssl.*` files that cannot be used (the message names key and file).
    #[error("TLS to coord: {0}")]
    CoordTls(#[from] runnel_common::coord_client::CoordTlsError),
    #[error("broker id {id} is registered by another live session (another broker with the same broker.id?)")]
    BrokerIdInUse { id: i32 },
    #[error("the broker is shutting down")]
    ShuttingDown,
}

type Result<T, E = MetadataError> = std::result::Result<T, E>;

impl MetadataError {
    /// The connection to the coord member dropped before the reply came
    /// (the member lost its leader, or died): the request may or may not
    /// have been applied, and the session lives on while the client
    /// reconnects to another member.
    pub fn is_connection_loss(&self) -> bool {
        use zk::MultiWriteError::{OperationFailed, RequestFailed};
        matches!(
            self,
            MetadataError::Zk {
                source: zk::Error::ConnectionLoss,
                ..
            } | MetadataError::Multi {
                source: RequestFailed {
                    source: zk::Error::ConnectionLoss
                } | OperationFailed {
                    source: zk::Error::ConnectionLoss,
                    ..
                },
                ..
            }
        )
    }
}

pub(super) fn zkerr<'a>(
    op: &'static str,
    path: &'a str,
) -> impl FnOnce(zk::Error) -> MetadataError + 'a {
    move |source| MetadataError::Zk {
        op,
        path: path.to_string(),
        source,
    }
}

fn parse<T: serde::de::DeserializeOwned>(path: &str, data: &[u8]) -> Result<T> {
    serde_json::from_slice(data).map_err(|source| MetadataError::Json {
        path: path.to_string(),
        source,
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    // Serialising our own plain structs cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

/// How to reach coord.
#[derive(Debug, Clone)]
pub struct CoordSettings {
    /// Hosts without chroot.
    pub hosts: String,
    pub chroot: Option<String>,
    pub session_timeout: Duration,
    pub connection_timeout: Duration,
    /// `inter.broker.listener.name`: whose endpoint a broker is reached at.
    pub inter_broker_listener: String,
    /// TLS (`hosts` then name coord's secure client ports) and SASL
    /// login to coord.
    pub security: runnel_common::coord_client::CoordClientSecurity,
    /// `zookeeper.set.acl`: create znodes with Kafka's secure default ACLs
    /// (see [`super::znode_acl`]) instead of `world:anyone` ALL.
    pub set_acl: bool,
}

/// A new topic's partitions, each with replicas and initial leader/ISR.
#[derive(Debug, Clone)]
pub struct NewTopic {
    pub name: String,
    pub assignment: BTreeMap<i32, Vec<i32>>,
    pub config: BTreeMap<String, String>,
}

pub struct MetadataStore {
    settings: CoordSettings,
    client: RwLock<zk::Client>,
    cache: MetadataCache,
    /// Bumped after every cache rebuild; the replica manager follows it.
    changes: watch::Sender<u64>,
    /// The registration to restore after a session expiry.
    registration: RwLock<Option<(i32, Vec<u8>)>>,
    /// The controller epoch this broker won, if it holds `/controller`
    /// (see [`super::controller_store`]).
    lease: watch::Sender<Option<ControllerLease>>,
}

impl MetadataStore {
    /// Connects, creates the chroot and Kafka's top-level paths.
    pub async fn connect(settings: CoordSettings) -> Result<Arc<MetadataStore>> {
        let client = Self::open_session(&settings).await?;
        let (changes, _) = watch::channel(0);
        let store = MetadataStore {
            settings,
            client: RwLock::new(client),
            cache: MetadataCache::default(),
            changes,
            registration: RwLock::new(None),
            lease: watch::Sender::new(None),
        };
        for path in TOP_LEVEL {
            store.mkdirs(path).await?;
        }
        Ok(Arc::new(store))
    }

    async fn open_session(settings: &CoordSettings) -> Result<zk::Client> {
        let connect_err = |source| MetadataError::Connect {
            connect: match &settings.chroot {
                Some(c) => format!("{}{}", settings.hosts, c),
                None => settings.hosts.clone(),
            },
            source,
        };
        let connector = zk::Client::connector()
            .with_session_timeout(settings.session_timeout)
            .with_connection_timeout(settings.connection_timeout);
        let connecting = settings.security.connect(connector, &settings.hosts);
        let client = tokio::time::timeout(
            settings.connection_timeout + settings.session_timeout,
            connecting,
        )
        .await
        .map_err(|_| connect_err(zk::Error::Timeout))?
        .map_err(|e| match e {
            CoordConnectError::Tls(e) => MetadataError::CoordTls(e),
            CoordConnectError::Zk(e) => connect_err(e),
        })?;
        let Some(chroot) = &settings.chroot else {
            return Ok(client);
        };
        // Kafka creates a missing chroot before using it.
        ZnodeAcls::new(settings.set_acl)
            .mkdirs(&client, chroot)
            .await
            .map_err(zkerr("create", chroot))?;
        client
            .chroot(chroot.as_str())
            .map_err(|_| connect_err(zk::Error::BadArguments(&"bad chroot path")))
    }

    fn client(&self) -> zk::Client {
        match self.client.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The current session, for the other coord users in this module.
    pub(super) fn zk(&self) -> zk::Client {
        self.client()
    }

    pub fn cache(&self) -> &MetadataCache {
        &self.cache
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.cache.snapshot()
    }

    /// A receiver that changes after every cache rebuild.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Tells subscribers the cache changed (after an in-place update).
    pub(super) fn notify_changed(&self) {
        self.changes.send_modify(|v| *v += 1);
    }

    pub(super) fn lease_sender(&self) -> &watch::Sender<Option<ControllerLease>> {
        &self.lease
    }

    /// Runs `step` again while it fails on a lost connection, until
    /// `zookeeper.connection.timeout.ms` has passed, as Kafka's
    /// ZooKeeperClient resends its requests once reconnected: a coord
    /// member that loses its leader (an election right after the ensemble
    /// formed, a member killed) drops its clients' connections. `step` must
    /// be safe to repeat after a reply was lost.
    pub async fn until_connected<T, F, Fut>(&self, what: &str, mut step: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let deadline = tokio::time::Instant::now() + self.settings.connection_timeout;
        loop {
            match step().await {
                Err(e) if e.is_connection_loss() && tokio::time::Instant::now() < deadline => {
                    warn!("{what}: {e}; trying again once reconnected");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => return other,
            }
        }
    }

    /// How new znodes are protected (`zookeeper.set.acl`): every create in
    /// this module asks it for its `CreateOptions`.
    pub(super) fn znode_acls(&self) -> ZnodeAcls {
        ZnodeAcls::new(self.settings.set_acl)
    }

    async fn mkdirs(&self, path: &str) -> Result<()> {
        self.znode_acls()
            .mkdirs(&self.client(), path)
            .await
            .map_err(zkerr("create", path))
    }

    /// Reads `/cluster/id`, creating it with a fresh id if absent.
    pub async fn get_or_create_cluster_id(&self) -> Result<String> {
        let client = self.client();
        loop {
            match client.get_data(CLUSTER_ID).await {
                Ok((data, _)) => {
                    let json: ClusterIdJson = parse(CLUSTER_ID, &data)?;
                    return Ok(json.id);
                }
                Err(zk::Error::NoNode) => {
                    let json = ClusterIdJson {
                        version: "1".into(),
                        id: random_id(),
                    };
                    match client
                        .create(
                            CLUSTER_ID,
                            &to_json(&json),
                            &self.znode_acls().persistent(CLUSTER_ID),
                        )
                        .await
                    {
                        Ok(_) => {
                            info!(cluster_id = %json.id, "created cluster id");
                            return Ok(json.id);
                        }
                        Err(zk::Error::NodeExists) => continue,
                        Err(e) => return Err(zkerr("create", CLUSTER_ID)(e)),
                    }
                }
                Err(e) => return Err(zkerr("get", CLUSTER_ID)(e)),
            }
        }
    }

    /// Kafka's generated broker id: the new version of `/brokers/seqid`
    /// plus `reserved.broker.max.id`.
    pub async fn generate_broker_id(&self, reserved_max: i32) -> Result<i32> {
        let stat = self
            .client()
            .set_data(BROKER_SEQID, b"", None)
            .await
            .map_err(zkerr("set", BROKER_SEQID))?;
        Ok(stat.version + reserved_max)
    }

    /// Registers this broker in `/brokers/ids/<id>` (ephemeral).
    ///
    /// A node left by this broker's previous, not yet expired session (after
    /// a crash) is waited out for up to one session timeout, as its owner
    /// can only be gone once coord expires it.
    pub async fn register_broker(&self, id: i32, json: &BrokerJson) -> Result<()> {
        let data = to_json(json);
        if let Ok(mut r) = self.registration.write() {
            *r = Some((id, data.clone()));
        }
        self.register_with(&self.client(), id, &data).await
    }

    async fn register_with(&self, client: &zk::Client, id: i32, data: &[u8]) -> Result<()> {
        let path = broker_path(id);
        let deadline = tokio::time::Instant::now() + self.settings.session_timeout * 2;
        loop {
            match client
                .create(&path, data, &self.znode_acls().ephemeral(&path))
                .await
            {
                Ok(_) => {
                    info!(broker_id = id, "registered in {path}");
                    return Ok(());
                }
                Err(zk::Error::NodeExists) => {
                    match client.get_data(&path).await {
                        Ok((_, stat)) if stat.ephemeral_owner == client.session_id().0 => {
                            return Ok(());
                        }
                        Ok(_) | Err(zk::Error::NoNode) => {}
                        Err(e) => return Err(zkerr("get", &path)(e)),
                    }
                    if tokio::time::Instant::now() >= deadline {
                        return Err(MetadataError::BrokerIdInUse { id });
                    }
                    info!(
                        broker_id = id,
                        "{path} still held by an older session; waiting for it to expire"
                    );
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(zkerr("create", &path)(e)),
            }
        }
    }

    /// Removes this broker's registration (clean shutdown).
    pub async fn unregister_broker(&self) {
        let reg = self.registration.write().ok().and_then(|mut r| r.take());
        if let Some((id, _)) = reg {
            let path = broker_path(id);
            if let Err(e) = self.client().delete(&path, None).await {
                debug!("deleting {path}: {e}");
            }
            // Give up the controller role now rather than when the session
            // expires, so another broker can take it at once (Kafka closes
            // its session on shutdown for the same reason).
            if let Ok((data, stat)) = self.client().get_data(CONTROLLER).await {
                let holder = serde_json::from_slice::<serde_json::Value>(&data)
                    .ok()
                    .and_then(|v| v.get("brokerid").and_then(serde_json::Value::as_i64));
                if holder == Some(i64::from(id)) {
                    if let Err(e) = self.client().delete(CONTROLLER, Some(stat.version)).await {
                        debug!("releasing {CONTROLLER}: {e}");
                    }
                }
            }
        }
    }

    fn live_brokers(&self) -> std::collections::BTreeSet<i32> {
        self.cache.snapshot().brokers.keys().copied().collect()
    }

    /// Rebuilds the whole snapshot from coord (no watches).
    pub async fn reload(&self) -> Result<()> {
        loop {
            let read = self.cache.begin_read();
            let snapshot = self.read_snapshot(&self.client(), None).await?;
            if !self.publish(read, snapshot) {
                return Ok(());
            }
        }
    }

    /// Installs a full read (with this broker's own edits made meanwhile
    /// on top); returns whether such edits were replayed, so the caller
    /// reads again to settle them.
    fn publish(&self, read: OpenRead<'_>, snapshot: Snapshot) -> bool {
        let replayed = self.cache.replace(read, snapshot);
        self.changes.send_modify(|v| *v += 1);
        replayed
    }

    /// Reads everything, registering one-shot watches into `watches` if given.
    async fn read_snapshot(
        &self,
        client: &zk::Client,
        mut watches: Option<&mut JoinSet<()>>,
    ) -> Result<Snapshot> {
        let mut snap = Snapshot {
            controller_id: -1,
            ..Snapshot::default()
        };

        // Brokers.
        let ids = match watches.as_deref_mut() {
            Some(set) => {
                let (ids, _, w) = client
                    .get_and_watch_children(BROKER_IDS)
                    .await
                    .map_err(zkerr("children", BROKER_IDS))?;
                set.spawn(async move {
                    w.changed().await;
                });
                ids
            }
            None => client
                .list_children(BROKER_IDS)
                .await
                .map_err(zkerr("children", BROKER_IDS))?,
        };
        let reads: Vec<_> = ids
            .iter()
            .map(|id| (id.clone(), client.get_data(&broker_path_str(id))))
            .collect();
        for (id, fut) in reads {
            let Ok(num) = id.parse::<i32>() else { continue };
            match fut.await {
                Ok((data, _)) => {
                    let json: BrokerJson = match parse(&broker_path_str(&id), &data) {
                        Ok(j) => j,
                        Err(e) => {
                            warn!("{e}");
                            continue;
                        }
                    };
                    snap.brokers.insert(
                        num,
                        broker_info(num, &json, &self.settings.inter_broker_listener),
                    );
                }
                Err(zk::Error::NoNode) => {}
                Err(e) => return Err(zkerr("get", &broker_path_str(&id))(e)),
            }
        }

        // Controller (watched so that a new one is elected when it goes).
        if let Some(set) = watches.as_deref_mut() {
            let (_, w) = client
                .check_and_watch_stat(CONTROLLER)
                .await
                .map_err(zkerr("exists", CONTROLLER))?;
            set.spawn(async move {
                w.changed().await;
            });
        }
        match client.get_data(CONTROLLER).await {
            Ok((data, _)) => {
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&data) {
                    snap.controller_id =
                        v.get("brokerid").and_then(|b| b.as_i64()).unwrap_or(-1) as i32;
                }
            }
            Err(zk::Error::NoNode) => {}
            Err(e) => return Err(zkerr("get", CONTROLLER)(e)),
        }

        // Topics marked for deletion.
        let deleting = client
            .list_children(DELETE_TOPICS)
            .await
            .map_err(zkerr("children", DELETE_TOPICS))?;

        // Config change notifications: watched only to trigger a reload.
        if let Some(set) = watches.as_deref_mut() {
            let (_, _, w) = client
                .get_and_watch_children(CONFIG_CHANGES)
                .await
                .map_err(zkerr("children", CONFIG_CHANGES))?;
            set.spawn(async move {
                w.changed().await;
            });
        }

        // Topics.
        let names = match watches.as_deref_mut() {
            Some(set) => {
                let (names, _, w) = client
                    .get_and_watch_children(BROKER_TOPICS)
                    .await
                    .map_err(zkerr("children", BROKER_TOPICS))?;
                set.spawn(async move {
                    w.changed().await;
                });
                names
            }
            None => client
                .list_children(BROKER_TOPICS)
                .await
                .map_err(zkerr("children", BROKER_TOPICS))?,
        };
        for name in names {
            let watch_set = watches.as_deref_mut();
            if let Some(mut topic) = self.read_topic(client, &name, watch_set).await? {
                topic.deleting = deleting.contains(&name);
                snap.topics.insert(name, Arc::new(topic));
            }
        }
        Ok(snap)
    }

    async fn read_topic(
        &self,
        client: &zk::Client,
        name: &str,
        mut watches: Option<&mut JoinSet<()>>,
    ) -> Result<Option<TopicInfo>> {
        let path = topic_path(name);
        let data = match watches.as_deref_mut() {
            Some(set) => match client.get_and_watch_data(&path).await {
                Ok((data, _, w)) => {
                    set.spawn(async move {
                        w.changed().await;
                    });
                    data
                }
                Err(zk::Error::NoNode) => return Ok(None),
                Err(e) => return Err(zkerr("get", &path)(e)),
            },
            None => match client.get_data(&path).await {
                Ok((data, _)) => data,
                Err(zk::Error::NoNode) => return Ok(None),
                Err(e) => return Err(zkerr("get", &path)(e)),
            },
        };
        let json: TopicJson = match parse(&path, &data) {
            Ok(j) => j,
            Err(e) => {
                warn!("{e}; ignoring topic {name}");
                return Ok(None);
            }
        };
        let assignment = json.assignment();
        // Pipelined: every read is sent before the first reply is awaited.
        // The watcher also watches every partition's state, so leader and
        // ISR changes (the controller's and the leaders') reach every broker.
        let mut plain_reads = Vec::new();
        let mut watched_reads = Vec::new();
        for p in assignment.keys() {
            let sp = partition_state_path(name, *p);
            if watches.is_some() {
                watched_reads.push((*p, client.get_and_watch_data(&sp)));
            } else {
                plain_reads.push((*p, client.get_data(&sp)));
            }
        }
        let config_path = topic_config_path(name);
        let config_read = client.get_data(&config_path);
        let mut state_reads = Vec::new();
        for (p, fut) in plain_reads {
            state_reads.push((p, fut.await));
        }
        for (p, fut) in watched_reads {
            let read = fut.await.map(|(data, stat, w)| {
                if let Some(set) = watches.as_deref_mut() {
                    set.spawn(async move {
                        w.changed().await;
                    });
                }
                (data, stat)
            });
            state_reads.push((p, read));
        }
        let mut partitions = BTreeMap::new();
        for (p, read) in state_reads {
            let state = match read {
                Ok((data, stat)) => {
                    let s: PartitionStateJson = parse(&partition_state_path(name, p), &data)?;
                    Some(LeaderAndIsr {
                        leader: s.leader,
                        leader_epoch: s.leader_epoch,
                        isr: s.isr,
                        controller_epoch: s.controller_epoch,
                        zk_version: stat.version,
                    })
                }
                Err(zk::Error::NoNode) => None,
                Err(e) => return Err(zkerr("get", &partition_state_path(name, p))(e)),
            };
            partitions.insert(
                p,
                PartitionInfo {
                    replicas: assignment.get(&p).cloned().unwrap_or_default(),
                    state,
                },
            );
        }
        let config = match config_read.await {
            Ok((data, _)) if !data.is_empty() => parse::<ConfigJson>(&config_path, &data)?.config,
            Ok(_) | Err(zk::Error::NoNode) => BTreeMap::new(),
            Err(e) => return Err(zkerr("get", &config_path)(e)),
        };
        let topic_id = json
            .topic_id
            .as_deref()
            .and_then(decode_id)
            .unwrap_or([0; 16]);
        Ok(Some(TopicInfo {
            name: name.to_string(),
            topic_id,
            partitions,
            config,
            deleting: false,
        }))
    }

    /// Re-reads one topic into the cache (after this broker changed it).
    pub async fn reload_topic(&self, name: &str) -> Result<()> {
        let topic = self
            .read_topic(&self.client(), name, None)
            .await?
            .map(Arc::new);
        let name = name.to_string();
        self.cache.edit(move |s| match &topic {
            Some(t) => {
                let merged = match s.topics.get(&name) {
                    Some(cur) => t.keeping_newer_states(cur),
                    None => t.clone(),
                };
                s.topics.insert(name.clone(), merged);
                1
            }
            None => usize::from(s.topics.remove(&name).is_some()),
        });
        self.changes.send_modify(|v| *v += 1);
        Ok(())
    }

    /// Creates a topic: its config, then assignment and partition states in
    /// one transaction (the controller's part until there is a controller).
    pub async fn create_topic(&self, topic: &NewTopic) -> Result<()> {
        let client = self.client();
        let path = topic_path(&topic.name);
        if client
            .check_stat(&path)
            .await
            .map_err(zkerr("exists", &path))?
            .is_some()
        {
            return Err(MetadataError::TopicExists(topic.name.clone()));
        }
        // Like AdminZkClient: the config first, so the topic never exists without it.
        self.write_entity_config(
            &client,
            &format!("topics/{}", topic.name),
            &topic.config,
            false,
        )
        .await?;
        let topic_json = TopicJson::new(&topic.assignment, &random_id());
        let live = self.live_brokers();
        let mut multi = client.new_multi_writer();
        let acls = self.znode_acls();
        let add = |m: &mut zk::MultiWriter<'_>, p: &str, d: &[u8]| {
            m.add_create(p, d, &acls.persistent(p))
                .map_err(zkerr("create", p))
        };
        add(&mut multi, &path, &to_json(&topic_json))?;
        add(&mut multi, &partitions_path(&topic.name), b"")?;
        for (p, replicas) in &topic.assignment {
            add(&mut multi, &partition_path(&topic.name, *p), b"")?;
            let state = initial_state(replicas, &live);
            add(
                &mut multi,
                &partition_state_path(&topic.name, *p),
                &to_json(&state),
            )?;
        }
        match multi.commit().await {
            Ok(_) => Ok(()),
            Err(zk::MultiWriteError::OperationFailed {
                index: 0,
                source: zk::Error::NodeExists,
            }) => Err(MetadataError::TopicExists(topic.name.clone())),
            Err(source) => Err(MetadataError::Multi {
                what: format!("topic {}", topic.name),
                source,
            }),
        }
    }

    /// Adds partitions (`added`: new partition → replicas) to a topic,
    /// conditional on the assignment not having changed meanwhile.
    pub async fn add_partitions(&self, name: &str, added: &BTreeMap<i32, Vec<i32>>) -> Result<()> {
        let client = self.client();
        let path = topic_path(name);
        let (data, stat) = match client.get_data(&path).await {
            Ok(v) => v,
            Err(zk::Error::NoNode) => return Err(MetadataError::NoTopic(name.to_string())),
            Err(e) => return Err(zkerr("get", &path)(e)),
        };
        let mut json: TopicJson = parse(&path, &data)?;
        for (p, r) in added {
            json.partitions.insert(p.to_string(), r.clone());
        }
        if json.version < 3 && json.topic_id.is_some() {
            json.version = 3;
        }
        let live = self.live_brokers();
        let acls = self.znode_acls();
        let mut multi = client.new_multi_writer();
        multi
            .add_set_data(&path, &to_json(&json), Some(stat.version))
            .map_err(zkerr("set", &path))?;
        for (p, replicas) in added {
            let pp = partition_path(name, *p);
            multi
                .add_create(&pp, b"", &acls.persistent(&pp))
                .map_err(zkerr("create", &pp))?;
            let sp = partition_state_path(name, *p);
            multi
                .add_create(
                    &sp,
                    &to_json(&initial_state(replicas, &live)),
                    &acls.persistent(&sp),
                )
                .map_err(zkerr("create", &sp))?;
        }
        match multi.commit().await {
            Ok(_) => Ok(()),
            Err(zk::MultiWriteError::OperationFailed {
                index: 0,
                source: zk::Error::BadVersion,
            }) => Err(MetadataError::Conflict { path }),
            Err(source) => Err(MetadataError::Multi {
                what: format!("partitions of {name}"),
                source,
            }),
        }
    }

    /// A leader's ISR change (Kafka's `Partition.shrinkIsr/expandIsr` in
    /// ZooKeeper mode): the partition's state with a new ISR, written only
    /// if the znode is still at `zk_version`, so a leader that lost its
    /// leadership (a newer state exists) cannot change the ISR. Returns the
    /// new znode version.
    pub async fn update_isr(
        &self,
        topic: &str,
        partition: i32,
        state: &PartitionStateJson,
        zk_version: i32,
    ) -> Result<i32> {
        let path = partition_state_path(topic, partition);
        match self
            .client()
            .set_data(&path, &to_json(state), Some(zk_version))
            .await
        {
            Ok(stat) => Ok(stat.version),
            Err(zk::Error::BadVersion) | Err(zk::Error::NoNode) => {
                Err(MetadataError::Conflict { path })
            }
            Err(e) => Err(zkerr("set", &path)(e)),
        }
    }

    /// Deletes a topic the way Kafka's ZooKeeper mode does it: mark it in
    /// `/admin/delete_topics`, remove its znodes, then the mark. Brokers
    /// hosting its partitions delete their logs when they see it gone.
    pub async fn delete_topic(&self, name: &str) -> Result<()> {
        let client = self.client();
        let path = topic_path(name);
        if client
            .check_stat(&path)
            .await
            .map_err(zkerr("exists", &path))?
            .is_none()
        {
            return Err(MetadataError::NoTopic(name.to_string()));
        }
        let mark = delete_topic_path(name);
        match client
            .create(&mark, b"", &self.znode_acls().persistent(&mark))
            .await
        {
            Ok(_) | Err(zk::Error::NodeExists) => {}
            Err(e) => return Err(zkerr("create", &mark)(e)),
        }
        self.finish_delete(&client, name).await
    }

    async fn finish_delete(&self, client: &zk::Client, name: &str) -> Result<()> {
        delete_recursive(client, &topic_path(name)).await?;
        delete_recursive(client, &topic_config_path(name)).await?;
        delete_recursive(client, &delete_topic_path(name)).await?;
        info!(topic = name, "deleted topic");
        Ok(())
    }

    /// Completes deletions interrupted by a crash (marks left in `/admin/delete_topics`).
    pub async fn finish_pending_deletes(&self) -> Result<()> {
        let client = self.client();
        let marks = client
            .list_children(DELETE_TOPICS)
            .await
            .map_err(zkerr("children", DELETE_TOPICS))?;
        for name in marks {
            self.finish_delete(&client, &name).await?;
        }
        Ok(())
    }

    /// Replaces a topic's overrides and notifies every broker
    /// (`/config/changes/config_change_<seq>`, as Kafka).
    pub async fn set_topic_config(
        &self,
        name: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<()> {
        let client = self.client();
        if client
            .check_stat(&topic_path(name))
            .await
            .map_err(zkerr("exists", &topic_path(name)))?
            .is_none()
        {
            return Err(MetadataError::NoTopic(name.to_string()));
        }
        self.write_entity_config(&client, &format!("topics/{name}"), config, true)
            .await
    }

    /// The config of an entity (`users`, `clients`, …) under
    /// `/config/<entity_type>/<name>`; `None` if it has none.
    pub async fn entity_config(
        &self,
        entity_type: &str,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>> {
        let node = sanitize(name);
        let found = self.config_at(&format!("{entity_type}/{node}")).await?;
        if found.is_none() && node != name {
            // Written unescaped by a Runnel before names were escaped.
            return self.config_at(&format!("{entity_type}/{name}")).await;
        }
        Ok(found)
    }

    /// The config in `/config/<entity_path>`; `None` if the znode is
    /// absent, empty if it has no data (a parent created on the way to a
    /// user's client-id entity).
    pub(super) async fn config_at(
        &self,
        entity_path: &str,
    ) -> Result<Option<BTreeMap<String, String>>> {
        let path = format!("/config/{entity_path}");
        match self.client().get_data(&path).await {
            Ok((data, _)) if data.is_empty() => Ok(Some(BTreeMap::new())),
            Ok((data, _)) => {
                let json: ConfigJson = serde_json::from_slice(&data)
                    .map_err(|source| MetadataError::Json { path, source })?;
                Ok(Some(json.config))
            }
            Err(zk::Error::NoNode) => Ok(None),
            Err(e) => Err(zkerr("get", &path)(e)),
        }
    }

    /// The names under `/config/<entity_type>`.
    pub async fn entity_names(&self, entity_type: &str) -> Result<Vec<String>> {
        let mut names: Vec<String> = self
            .children_at(entity_type)
            .await?
            .iter()
            .map(|n| desanitize(n))
            .collect();
        names.sort();
        Ok(names)
    }

    /// The znode names under `/config/<entity_path>` (none if it is absent).
    pub(super) async fn children_at(&self, entity_path: &str) -> Result<Vec<String>> {
        let path = format!("/config/{entity_path}");
        match self.client().list_children(&path).await {
            Ok(names) => Ok(names),
            Err(zk::Error::NoNode) => Ok(Vec::new()),
            Err(e) => Err(zkerr("children", &path)(e)),
        }
    }

    /// Replaces an entity's config and notifies every broker.
    pub async fn set_entity_config(
        &self,
        entity_type: &str,
        name: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<()> {
        self.write_config_at(&format!("{entity_type}/{}", sanitize(name)), config)
            .await
    }

    /// Replaces the config in `/config/<entity_path>`, creating the znodes
    /// on the way (empty, as Kafka does), and notifies every broker.
    pub(super) async fn write_config_at(
        &self,
        entity_path: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<()> {
        let client = self.client();
        let mut parent = String::from("/config");
        let segments: Vec<&str> = entity_path.split('/').collect();
        for segment in &segments[..segments.len().saturating_sub(1)] {
            parent = format!("{parent}/{segment}");
            match client
                .create(&parent, &[], &self.znode_acls().persistent(&parent))
                .await
            {
                Ok(_) | Err(zk::Error::NodeExists) => {}
                Err(e) => return Err(zkerr("create", &parent)(e)),
            }
        }
        self.write_entity_config(&client, entity_path, config, true)
            .await
    }

    /// Writes `/config/<entity_path>` (Kafka's layout) and, with `notify`,
    /// a `/config/changes/config_change_<seq>` naming it.
    async fn write_entity_config(
        &self,
        client: &zk::Client,
        entity_path: &str,
        config: &BTreeMap<String, String>,
        notify: bool,
    ) -> Result<()> {
        let path = format!("/config/{entity_path}");
        let json = to_json(&ConfigJson {
            version: 1,
            config: config.clone(),
        });
        match client.set_data(&path, &json, None).await {
            Ok(_) => {}
            Err(zk::Error::NoNode) => match client
                .create(&path, &json, &self.znode_acls().persistent(&path))
                .await
            {
                Ok(_) => {}
                Err(zk::Error::NodeExists) => {
                    client
                        .set_data(&path, &json, None)
                        .await
                        .map_err(zkerr("set", &path))?;
                }
                Err(e) => return Err(zkerr("create", &path)(e)),
            },
            Err(e) => return Err(zkerr("set", &path)(e)),
        }
        if notify {
            let change = to_json(&ConfigChangeJson {
                version: 2,
                entity_path: entity_path.to_string(),
            });
            let prefix = format!("{CONFIG_CHANGES}/{CONFIG_CHANGE_PREFIX}");
            client
                .create(&prefix, &change, &self.znode_acls().sequential(&prefix))
                .await
                .map_err(zkerr("create", &prefix))?;
        }
        Ok(())
    }

    /// Keeps the cache current until `shutdown` turns true: a reload with
    /// fresh watches after any watched node changes, a new session (and
    /// registration) after the old one expires.
    pub async fn run_watcher(self: Arc<Self>, broker_id: i32, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(100);
        let mut settle;
        loop {
            if *shutdown.borrow() {
                return;
            }
            let client = self.client();
            let mut state = client.state_watcher();
            let mut watches = JoinSet::new();
            let read = self.cache.begin_read();
            match self.read_snapshot(&client, Some(&mut watches)).await {
                Ok(snapshot) => {
                    let leaderless = snapshot.controller_id < 0;
                    // Own edits replayed on a read that missed them are
                    // settled by reading again at once.
                    settle = self.publish(read, snapshot);
                    backoff = Duration::from_millis(100);
                    if leaderless {
                        match self.elect_controller(broker_id).await {
                            Ok(true) => {
                                watches.abort_all();
                                continue;
                            }
                            Ok(false) => {}
                            Err(e) => warn!("controller election: {e}"),
                        }
                    }
                }
                Err(e) => {
                    drop(read);
                    warn!("reading cluster metadata from coord: {e}");
                    watches.abort_all();
                    if client.state().is_terminated() {
                        self.renew_session().await;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            }
            let expired = loop {
                if settle {
                    break false;
                }
                tokio::select! {
                    _ = watches.join_next() => break false,
                    s = state.changed() => {
                        if s.is_terminated() {
                            break true;
                        }
                    }
                    _ = shutdown.changed() => return,
                }
            };
            watches.abort_all();
            if expired {
                warn!("coord session ended; opening a new one");
                self.renew_session().await;
            } else {
                // Coalesce bursts of changes (a topic creation touches many nodes).
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    /// Opens a new session and restores the broker registration; retries until it works.
    async fn renew_session(&self) {
        let mut backoff = Duration::from_millis(200);
        loop {
            match Self::open_session(&self.settings).await {
                Ok(client) => {
                    let reg = self.registration.read().ok().and_then(|r| r.clone());
                    if let Some((id, data)) = reg {
                        if let Err(e) = self.register_with(&client, id, &data).await {
                            warn!("re-registering broker {id}: {e}");
                            tokio::time::sleep(backoff).await;
                            continue;
                        }
                    }
                    if let Ok(mut c) = self.client.write() {
                        *c = client;
                    }
                    info!("new coord session established");
                    return;
                }
                Err(e) => {
                    warn!("reconnecting to coord: {e}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

fn broker_path_str(id: &str) -> String {
    format!("{BROKER_IDS}/{id}")
}

/// The initial leader and ISR of a new partition (Kafka's): the first live
/// replica leads, every live replica is in the ISR (an empty log is in sync).
fn initial_state(replicas: &[i32], live: &std::collections::BTreeSet<i32>) -> PartitionStateJson {
    let (leader, isr) = crate::controller::election::initial(replicas, live);
    PartitionStateJson {
        controller_epoch: 1,
        leader,
        version: 1,
        leader_epoch: 0,
        isr,
    }
}

fn broker_info(id: i32, json: &BrokerJson, inter_broker_listener: &str) -> BrokerInfo {
    let endpoints: BTreeMap<String, (String, i32)> = json
        .endpoints
        .iter()
        .filter_map(|e| crate::config::Listener::parse(e).ok())
        .map(|l| (l.name, (l.host, i32::from(l.port))))
        .collect();
    // The inter-broker endpoint; else the legacy host/port fields.
    let (host, port) = endpoints
        .get(inter_broker_listener)
        .cloned()
        .unwrap_or_else(|| (json.host.clone().unwrap_or_default(), json.port));
    BrokerInfo {
        id,
        host,
        port,
        rack: json.rack.clone(),
        endpoints,
    }
}

/// Deletes `path` and everything under it (absent is fine).
pub(super) async fn delete_tree(client: &zk::Client, path: &str) -> Result<()> {
    delete_recursive(client, path).await
}

async fn delete_recursive(client: &zk::Client, path: &str) -> Result<()> {
    // Depth-first, iteratively: children before parents.
    let mut stack = vec![(path.to_string(), false)];
    while let Some((p, visited)) = stack.pop() {
        if visited {
            match client.delete(&p, None).await {
                Ok(()) | Err(zk::Error::NoNode) => {}
                Err(zk::Error::NotEmpty) => stack.push((p, false)),
                Err(e) => return Err(zkerr("delete", &p)(e)),
            }
            continue;
        }
        let children = match client.list_children(&p).await {
            Ok(c) => c,
            Err(zk::Error::NoNode) => continue,
            Err(e) => return Err(zkerr("children", &p)(e)),
        };
        stack.push((p.clone(), true));
        for c in children {
            stack.push((format!("{p}/{c}"), false));
        }
    }
    Ok(())
}

/// The registration JSON Kafka 3.x writes (version 5).
pub fn broker_registration(
    listeners: &[crate::config::Listener],
    security: &[crate::security::settings::ListenerSecurity],
    rack: Option<&str>,
    now_ms: i64,
) -> BrokerJson {
    // Kafka fills the legacy host/port from the PLAINTEXT endpoint only.
    let plaintext = listeners.iter().find(|l| {
        security.iter().any(|s| {
            s.name == l.name && s.protocol == runnel_common::kafka::SecurityProtocol::Plaintext
        })
    });
    BrokerJson {
        listener_security_protocol_map: security
            .iter()
            .map(|s| (s.name.clone(), s.protocol.name().to_string()))
            .collect(),
        endpoints: listeners.iter().map(|l| l.url()).collect(),
        jmx_port: -1,
        rack: rack.map(str::to_string),
        features: BTreeMap::new(),
        host: plaintext.map(|l| l.host.clone()),
        timestamp: Some(now_ms.to_string()),
        port: plaintext.map_or(-1, |l| i32::from(l.port)),
        version: 5,
    }
}
