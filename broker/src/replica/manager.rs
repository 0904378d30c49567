//! The partitions this broker hosts: which logs are open, and the request
//! path's way in (`get` for a partition this broker leads, with Kafka's
//! error when it does not).
//!
//! [`ReplicaManager::reconcile`] makes the open logs follow the metadata
//! cache: it opens a log for every partition whose state names this broker
//! as leader, applies changed topic configs, and closes and deletes the
//! logs of partitions that disappeared (topic deleted). Background work
//! (retention, time-based flush, checkpoints) runs from [`ReplicaManager::run`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use tokio::sync::{watch, Mutex};
use tracing::{debug, error, info, warn};

use super::fetcher::FetcherManager;
use super::partition::{Partition, PartitionSettings, ReplicaState};
use crate::config::BrokerConfig;
use crate::log::{LogConfig, LogDir, LogError, LOG_CONFIG_KEYS};
use crate::metadata::layout::PartitionStateJson;
use crate::metadata::{MetadataStore, TopicInfo};
use crate::metrics::BrokerMetrics;
use crate::topic_config::{self, TopicConfig};

type Key = (String, i32);

pub struct ReplicaManager {
    broker_id: i32,
    cluster_id: String,
    config: BrokerConfig,
    /// One per `log.dirs` entry.
    log_dirs: Vec<Arc<LogDir>>,
    metadata: Arc<MetadataStore>,
    partitions: RwLock<HashMap<Key, Arc<Partition>>>,
    /// Partitions this broker should lead but whose log failed to open.
    offline: RwLock<HashMap<Key, String>>,
    /// Serialises reconciliations (they open and delete files).
    reconciling: Mutex<()>,
    /// Follower fetcher tasks, one per leader broker.
    fetchers: FetcherManager,
    /// Stops the fetchers (before the logs close).
    stop_fetchers: watch::Sender<bool>,
    metrics: Arc<BrokerMetrics>,
}

/// A log opened for a new partition, with what hosting it needs.
type Opened = (
    Key,
    PartitionSettings,
    ReplicaState,
    usize,
    i64,
    Result<crate::log::PartitionLog, LogError>,
);

/// Settings for a topic: the broker's defaults overlaid with its overrides.
pub fn settings_for(broker: &BrokerConfig, topic: &TopicInfo) -> Result<PartitionSettings, String> {
    let resolved = TopicConfig::resolve(broker, &topic.config).map_err(|e| e.to_string())?;
    let mut log = LogConfig::default();
    for e in topic_config::effective(broker, &topic.config) {
        if LOG_CONFIG_KEYS.contains(&e.name) {
            log.set(e.name, &e.value).map_err(|err| err.to_string())?;
        }
    }
    Ok(PartitionSettings {
        min_insync_replicas: resolved.min_insync_replicas,
        topic: resolved,
        log,
    })
}

impl ReplicaManager {
    /// Opens the log directories (their checkpoints and clean-shutdown
    /// markers); partitions are opened by [`ReplicaManager::startup`].
    pub fn new(
        broker_id: i32,
        cluster_id: String,
        config: BrokerConfig,
        metadata: Arc<MetadataStore>,
        metrics: Arc<BrokerMetrics>,
    ) -> Result<Arc<ReplicaManager>, LogError> {
        let mut log_dirs = Vec::new();
        for d in &config.log_dirs {
            let dir = LogDir::open(d)?;
            if !dir.had_clean_shutdown() && dir.partitions().is_ok_and(|p| !p.is_empty()) {
                info!(dir = %d.display(), "previous shutdown was not clean; logs will be recovered");
            }
            log_dirs.push(Arc::new(dir));
        }
        let (stop_fetchers, fetchers_stopped) = watch::channel(false);
        let fetchers = FetcherManager::new(
            broker_id,
            config.replication.clone(),
            config.inter_broker_client.clone(),
            metadata.clone(),
            fetchers_stopped,
        );
        Ok(Arc::new(ReplicaManager {
            broker_id,
            cluster_id,
            config,
            log_dirs,
            metadata,
            partitions: RwLock::new(HashMap::new()),
            offline: RwLock::new(HashMap::new()),
            reconciling: Mutex::new(()),
            fetchers,
            stop_fetchers,
            metrics,
        }))
    }

    /// Every partition with an open log here (leader or follower).
    pub fn hosted(&self) -> Vec<(Key, Arc<Partition>)> {
        match self.partitions.read() {
            Ok(p) => p.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Err(p) => p
                .into_inner()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// The partition for a request that must go to its leader.
    pub fn leader_partition(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Arc<Partition>, ResponseError> {
        let key = (topic.to_string(), partition);
        let found = match self.partitions.read() {
            Ok(p) => p.get(&key).cloned(),
            Err(p) => p.into_inner().get(&key).cloned(),
        };
        if let Some(p) = found {
            if p.is_leader() {
                return Ok(p);
            }
            return Err(ResponseError::NotLeaderOrFollower);
        }
        let snapshot = self.metadata.snapshot();
        let Some(info) = snapshot
            .topics
            .get(topic)
            .and_then(|t| t.partitions.get(&partition))
        else {
            return Err(ResponseError::UnknownTopicOrPartition);
        };
        if info.leader() != self.broker_id {
            return Err(ResponseError::NotLeaderOrFollower);
        }
        let offline = match self.offline.read() {
            Ok(o) => o.contains_key(&key),
            Err(o) => o.into_inner().contains_key(&key),
        };
        if offline {
            Err(ResponseError::KafkaStorageError)
        } else {
            // Led by us per coord, log not open yet (reconciliation under way).
            Err(ResponseError::NotLeaderOrFollower)
        }
    }

    /// Start-up: remove logs of topics deleted while this broker was away,
    /// then open the partitions this broker leads.
    pub async fn startup(self: &Arc<Self>) {
        let snapshot = self.metadata.snapshot();
        for dir in &self.log_dirs {
            let local = match dir.partitions() {
                Ok(l) => l,
                Err(e) => {
                    error!(dir = %dir.path().display(), "listing partitions: {e}");
                    continue;
                }
            };
            for (topic, p) in local {
                if snapshot.topics.contains_key(&topic) {
                    continue;
                }
                // meta.properties matched this cluster's id (checked at
                // start-up), so a topic missing from coord was deleted while
                // this broker was down, not lost.
                let path = dir.partition_dir(&topic, p);
                warn!(topic = %topic, partition = p, cluster_id = %self.cluster_id,
                      "deleting the log of a deleted topic: {}", path.display());
                let res = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(&path)).await;
                if let Ok(Err(e)) = res {
                    error!(topic = %topic, partition = p, "cannot delete log: {e}");
                }
            }
        }
        self.reconcile().await;
        self.checkpoint().await;
    }

    /// Makes the hosted partitions match the metadata cache: a log for
    /// every partition this broker is a replica of, each in the role its
    /// state gives (leader, or follower fetching from the leader).
    pub async fn reconcile(&self) {
        let _guard = self.reconciling.lock().await;
        let snapshot = self.metadata.snapshot();
        let mut wanted: BTreeMap<Key, (Arc<TopicInfo>, ReplicaState)> = BTreeMap::new();
        for t in snapshot.topics.values() {
            for (p, info) in &t.partitions {
                if !info.replicas.contains(&self.broker_id) {
                    continue;
                }
                // No state yet: the topic is being created.
                let Some(s) = &info.state else { continue };
                let state = ReplicaState {
                    leader: s.leader,
                    leader_epoch: s.leader_epoch,
                    replicas: info.replicas.clone(),
                    isr: s.isr.clone(),
                    controller_epoch: s.controller_epoch,
                    zk_version: s.zk_version,
                };
                wanted.insert((t.name.clone(), *p), (t.clone(), state));
            }
        }

        // Partitions to drop: deleted topics are deleted on disk, partitions
        // this broker no longer replicates are closed.
        for (key, partition) in self.hosted() {
            if wanted.contains_key(&key) {
                continue;
            }
            self.fetchers.remove(&key);
            self.remove(&key);
            partition.become_follower(ReplicaState {
                leader: -1,
                ..partition.state()
            });
            let topic_exists = snapshot.topics.contains_key(&key.0);
            let log = partition.log.clone();
            let dir = self.log_dirs.get(partition.dir_index).cloned();
            let gone = key.clone();
            let res = tokio::task::spawn_blocking(move || {
                if topic_exists {
                    log.close()
                } else {
                    log.delete()?;
                    // A topic of the same name later starts uncleaned.
                    match dir {
                        Some(dir) => dir.write_cleaner_offset(&gone, None),
                        None => Ok(()),
                    }
                }
            })
            .await;
            match res {
                Ok(Ok(())) => {
                    info!(topic = %key.0, partition = key.1,
                          "{} log", if topic_exists { "closed" } else { "deleted" });
                    if !topic_exists {
                        self.metrics.forget_topic(&key.0);
                    }
                }
                Ok(Err(e)) => error!(topic = %key.0, partition = key.1, "closing log: {e}"),
                Err(e) => error!(topic = %key.0, partition = key.1, "closing log: {e}"),
            }
        }
        if let Ok(mut o) = self.offline.write() {
            o.retain(|k, _| wanted.contains_key(k));
        }

        // Partitions to open or update.
        let mut to_open = Vec::new();
        for (key, (topic, state)) in wanted {
            let settings = match settings_for(&self.config, &topic) {
                Ok(s) => s,
                Err(e) => {
                    warn!(topic = %key.0, "bad topic config ({e}); using broker defaults");
                    match settings_for(
                        &self.config,
                        &TopicInfo {
                            config: Default::default(),
                            ..(*topic).clone()
                        },
                    ) {
                        Ok(s) => s,
                        Err(_) => continue,
                    }
                }
            };
            let existing = match self.partitions.read() {
                Ok(p) => p.get(&key).cloned(),
                Err(p) => p.into_inner().get(&key).cloned(),
            };
            if let Some(p) = existing {
                if p.settings() != settings {
                    if let Err(e) = p.log.update_config(settings.log.clone()) {
                        warn!(topic = %key.0, partition = key.1, "applying config: {e}");
                    }
                    p.set_settings(settings);
                }
                self.apply_state(&key, &p, state);
                continue;
            }
            to_open.push((key, settings, state));
        }
        if !to_open.is_empty() {
            self.open_partitions(to_open).await;
        }
    }

    /// Opens the logs of partitions new to this broker, many at a time
    /// (`num.recovery.threads.per.data.dir` per directory, at least one per
    /// core: a start with thousands of partitions, or a CreateTopics of
    /// thousands, is not one file system round after another), and puts
    /// each in its role as soon as its log is open. Each directory's
    /// high-watermark checkpoint is read once for all of them.
    async fn open_partitions(&self, new: Vec<(Key, PartitionSettings, ReplicaState)>) {
        let mut counts = vec![0usize; self.log_dirs.len()];
        for (_, p) in self.hosted() {
            if let Some(c) = counts.get_mut(p.dir_index) {
                *c += 1;
            }
        }
        let dirs = self.log_dirs.clone();
        let high_watermarks: Vec<BTreeMap<Key, i64>> = tokio::task::spawn_blocking(move || {
            dirs.iter()
                .map(|d| d.read_high_watermarks().unwrap_or_default())
                .collect()
        })
        .await
        .unwrap_or_default();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let limit =
            (self.config.num_recovery_threads_per_data_dir * self.log_dirs.len()).max(cores);
        let permits = Arc::new(tokio::sync::Semaphore::new(limit));
        let mut opening = tokio::task::JoinSet::new();
        for (key, settings, state) in new {
            let dir_index = self.choose_dir(&key, &counts);
            if let Some(c) = counts.get_mut(dir_index) {
                *c += 1;
            }
            let dir = self.log_dirs[dir_index].clone();
            let hw = high_watermarks
                .get(dir_index)
                .and_then(|m| m.get(&key).copied())
                .unwrap_or(0);
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            opening.spawn_blocking(move || {
                let _permit = permit;
                let opened = dir.open_partition(&key.0, key.1, settings.log.clone());
                (key, settings, state, dir_index, hw, opened)
            });
            while let Some(done) = opening.try_join_next() {
                self.adopt(done);
            }
        }
        while let Some(done) = opening.join_next().await {
            self.adopt(done);
        }
    }

    /// Hosts a partition whose log was just opened (or records why it
    /// could not be).
    fn adopt(&self, done: Result<Opened, tokio::task::JoinError>) {
        let (key, settings, state, dir_index, hw, opened) = match done {
            Ok(d) => d,
            Err(e) => {
                error!("opening a log: {e}");
                return;
            }
        };
        match opened {
            Ok(log) => {
                info!(topic = %key.0, partition = key.1,
                      log_start_offset = log.log_start_offset(),
                      log_end_offset = log.log_end_offset(), high_watermark = hw, "opened log");
                let partition = Arc::new(
                    Partition::new(
                        key.0.clone(),
                        key.1,
                        dir_index,
                        Arc::new(log),
                        self.broker_id,
                        hw,
                        settings,
                    )
                    .with_counters(self.metrics.topic(&key.0)),
                );
                if let Ok(mut p) = self.partitions.write() {
                    p.insert(key.clone(), partition.clone());
                }
                self.apply_state(&key, &partition, state);
            }
            Err(e) => {
                error!(topic = %key.0, partition = key.1, "cannot open log: {e}");
                if let Ok(mut o) = self.offline.write() {
                    o.insert(key, e.to_string());
                }
            }
        }
    }

    /// Puts a hosted partition in the role `state` gives it. A state older
    /// than the one applied (lower leader epoch, or same epoch and lower
    /// znode version) is ignored: the cache can lag behind this broker's own
    /// ISR writes.
    fn apply_state(&self, key: &Key, p: &Arc<Partition>, state: ReplicaState) {
        let current = p.state();
        if state.leader_epoch < current.leader_epoch {
            return;
        }
        let changed = state.leader_epoch > current.leader_epoch
            || state.leader != current.leader
            || current.leader_epoch < 0;
        if state.leader == self.broker_id
            && p.is_leader()
            && (state.leader_epoch, state.zk_version) > (current.leader_epoch, current.zk_version)
        {
            // The ISR of a partition led here changed under it (the
            // controller took a dead broker out): counted as Kafka's
            // IsrShrinks / IsrExpands, like the leader's own changes.
            if state.isr.len() < current.isr.len() {
                self.metrics.isr_shrinks.inc();
            } else if state.isr.len() > current.isr.len() {
                self.metrics.isr_expands.inc();
            }
        }
        if state.leader == self.broker_id {
            if changed || !p.is_leader() {
                self.fetchers.remove(key);
                // Kafka's makeLeader: the new epoch starts at the log end.
                let epoch = state.leader_epoch;
                if epoch >= 0 && p.log.latest_epoch().is_none_or(|e| e < epoch) {
                    if let Err(e) = p.log.assign_epoch_start_offset(epoch) {
                        error!(topic = %key.0, partition = key.1, "recording leader epoch: {e}");
                    }
                }
                info!(topic = %key.0, partition = key.1, leader_epoch = epoch,
                      isr = ?state.isr, log_end_offset = p.log.log_end_offset(),
                      high_watermark = p.high_watermark(), "became leader");
                p.become_leader(state, crate::server::now_ms());
            } else if state.zk_version > current.zk_version {
                p.update_state(state);
            }
        } else if changed || p.is_leader() {
            let (leader, epoch) = (state.leader, state.leader_epoch);
            p.become_follower(state);
            self.fetchers.remove(key);
            if leader >= 0 {
                info!(topic = %key.0, partition = key.1, leader, leader_epoch = epoch,
                      "became follower");
                self.fetchers.add(key.clone(), p.clone(), leader, epoch);
            } else {
                info!(topic = %key.0, partition = key.1, leader_epoch = epoch,
                      "partition offline (no leader)");
            }
        } else if state.zk_version > current.zk_version {
            p.update_state(state);
        }
    }

    /// Writes a leader's ISR change to coord (conditional on the state
    /// znode's version) and applies it once coord has it. At most one change
    /// per partition is in flight; a refused one is retried by the next
    /// fetch or lag check with fresher state.
    ///
    /// `zk_version` is the state version the new ISR was derived from: a
    /// change computed from a state that has since moved on (the controller
    /// removed a replica, say) is dropped rather than undoing the newer one.
    pub fn change_isr(self: &Arc<Self>, p: Arc<Partition>, isr: Vec<i32>, zk_version: i32) {
        if !p.begin_isr_change() {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let state = p.state();
            if state.leader != this.broker_id || state.zk_version != zk_version {
                p.finish_isr_change(None);
                return;
            }
            let json = PartitionStateJson {
                controller_epoch: state.controller_epoch,
                leader: state.leader,
                version: 1,
                leader_epoch: state.leader_epoch,
                isr: isr.clone(),
            };
            match this
                .metadata
                .update_isr(&p.topic, p.index, &json, state.zk_version)
                .await
            {
                Ok(version) => {
                    info!(topic = %p.topic, partition = p.index, from = ?state.isr, to = ?isr,
                          leader_epoch = state.leader_epoch, "ISR changed");
                    if isr.len() < state.isr.len() {
                        this.metrics.isr_shrinks.inc();
                    } else if isr.len() > state.isr.len() {
                        this.metrics.isr_expands.inc();
                    }
                    p.finish_isr_change(Some((isr, state.leader_epoch, version)));
                }
                Err(e) => {
                    debug!(topic = %p.topic, partition = p.index, "ISR change refused: {e}");
                    p.finish_isr_change(None);
                }
            }
        });
    }

    /// Drops followers that have not caught up within
    /// `replica.lag.time.max.ms` from the ISR of every partition led here.
    fn shrink_lagging_isrs(self: &Arc<Self>) {
        let now = crate::server::now_ms();
        let lag = self.config.replication.lag_time_max.as_millis() as i64;
        for (key, p) in self.hosted() {
            let lagging = p.lagging_isr_members(now, lag);
            if lagging.is_empty() {
                continue;
            }
            let state = p.state();
            let isr: Vec<i32> = state
                .isr
                .into_iter()
                .filter(|r| !lagging.contains(r))
                .collect();
            info!(topic = %key.0, partition = key.1, out_of_sync = ?lagging,
                  "followers lagging more than replica.lag.time.max.ms; shrinking the ISR");
            self.change_isr(p, isr, state.zk_version);
        }
    }

    fn remove(&self, key: &Key) {
        if let Ok(mut p) = self.partitions.write() {
            p.remove(key);
        }
    }

    /// The log directories, in `log.dirs` order (a partition's `dir_index`
    /// points into this).
    pub fn log_dirs(&self) -> &[Arc<LogDir>] {
        &self.log_dirs
    }

    /// Which log directory gets a partition: the one already holding its
    /// directory, else the one with the fewest partitions (`counts`, per
    /// directory; Kafka's placement).
    fn choose_dir(&self, key: &Key, counts: &[usize]) -> usize {
        if self.log_dirs.len() == 1 {
            return 0;
        }
        for (i, d) in self.log_dirs.iter().enumerate() {
            if d.partition_dir(&key.0, key.1).is_dir() {
                return i;
            }
        }
        (0..self.log_dirs.len())
            .min_by_key(|i| counts.get(*i).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Writes each log directory's recovery-point, log-start-offset and
    /// high-watermark checkpoints for the partitions open in it.
    pub async fn checkpoint(&self) {
        let hosted = self.hosted();
        for (i, dir) in self.log_dirs.iter().enumerate() {
            let mine: Vec<Arc<Partition>> = hosted
                .iter()
                .filter(|(_, p)| p.dir_index == i)
                .map(|(_, p)| p.clone())
                .collect();
            let dir = dir.clone();
            let res = tokio::task::spawn_blocking(move || {
                dir.checkpoint(
                    mine.iter()
                        .map(|p| (p.topic.as_str(), p.index, p.log.as_ref())),
                )?;
                let hw: BTreeMap<(String, i32), i64> = mine
                    .iter()
                    .map(|p| ((p.topic.clone(), p.index), p.high_watermark()))
                    .collect();
                dir.write_high_watermarks(&hw)
            })
            .await;
            match res {
                Ok(Ok(())) => {}
                Ok(Err(e)) => error!("writing checkpoints: {e}"),
                Err(e) => error!("writing checkpoints: {e}"),
            }
        }
    }

    /// Follows metadata changes and runs retention and flushes until shutdown.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut changes = self.metadata.subscribe();
        let retention_every = self.config.log_retention_check_interval;
        let mut retention = tokio::time::interval(retention_every);
        retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Time-based flushes (flush.ms) are checked every second at most.
        let flush_every = self
            .config
            .log_flush_scheduler_interval
            .clamp(Duration::from_millis(100), Duration::from_secs(1));
        let mut flush = tokio::time::interval(flush_every);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Recovery points and high watermarks together, at Kafka's
        // replica.high.watermark.checkpoint.interval.ms (5 s): a restarted
        // follower keeps a high watermark close to the leader's.
        let mut checkpoints = tokio::time::interval(self.config.replication.hw_checkpoint_interval);
        checkpoints.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Kafka checks for lagging followers every half lag time.
        let mut isr_check = tokio::time::interval(self.config.replication.lag_time_max / 2);
        isr_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut producer_expiry = tokio::time::interval(
            self.config
                .transactions
                .producer_id_expiration_check_interval,
        );
        producer_expiry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                r = changes.changed() => {
                    if r.is_err() {
                        return;
                    }
                    self.reconcile().await;
                }
                _ = retention.tick() => self.apply_retention().await,
                _ = flush.tick() => self.maybe_flush().await,
                _ = checkpoints.tick() => self.checkpoint().await,
                _ = isr_check.tick() => self.shrink_lagging_isrs(),
                _ = producer_expiry.tick() => self.remove_expired_producers(),
                _ = shutdown.changed() => return,
            }
        }
    }

    async fn apply_retention(&self) {
        for (key, p) in self.hosted() {
            let log = p.log.clone();
            let now = crate::server::now_ms();
            let hw = p.high_watermark();
            match tokio::task::spawn_blocking(move || log.apply_retention(now, hw)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => warn!(topic = %key.0, partition = key.1, "retention: {e}"),
                Err(e) => warn!(topic = %key.0, partition = key.1, "retention: {e}"),
            }
        }
    }

    /// Forgets producers idle for `producer.id.expiration.ms` in every
    /// hosted partition (leaders and followers alike, as Kafka).
    fn remove_expired_producers(&self) {
        let now = crate::server::now_ms();
        let expiration = self.config.transactions.producer_id_expiration.as_millis() as i64;
        for (key, p) in self.hosted() {
            let n = p.log.remove_expired_producers(now, expiration);
            if n > 0 {
                debug!(topic = %key.0, partition = key.1, producers = n, "expired idle producer ids");
            }
        }
    }

    async fn maybe_flush(&self) {
        for (key, p) in self.hosted() {
            if p.settings().log.flush_interval_ms.is_none() {
                continue;
            }
            let log = p.log.clone();
            let now = crate::server::now_ms();
            match tokio::task::spawn_blocking(move || log.maybe_flush(now)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => warn!(topic = %key.0, partition = key.1, "flush: {e}"),
                Err(e) => warn!(topic = %key.0, partition = key.1, "flush: {e}"),
            }
        }
    }

    /// Stops following every leader (a broker about to shut down: its
    /// controlled shutdown takes it out of the ISRs, and a fetch after that
    /// would let a leader add it back).
    pub fn stop_fetching(&self) {
        let _ = self.stop_fetchers.send(true);
        self.fetchers.stop_all();
    }

    /// Closes every log cleanly: fsync, checkpoints, then the clean-shutdown
    /// marker so the next start skips recovery.
    pub async fn shutdown(&self) {
        let _guard = self.reconciling.lock().await;
        self.stop_fetching();
        let all: Vec<Arc<Partition>> = self.hosted().into_iter().map(|(_, p)| p).collect();
        let mut clean = true;
        for p in &all {
            let log = p.log.clone();
            match tokio::task::spawn_blocking(move || log.close()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    clean = false;
                    error!(topic = %p.topic, partition = p.index, "closing log: {e}");
                }
                Err(e) => {
                    clean = false;
                    error!(topic = %p.topic, partition = p.index, "closing log: {e}");
                }
            }
        }
        self.checkpoint().await;
        if let Ok(mut p) = self.partitions.write() {
            p.clear();
        }
        if !clean {
            return;
        }
        for dir in &self.log_dirs {
            let dir = dir.clone();
            match tokio::task::spawn_blocking(move || dir.mark_clean_shutdown()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => error!("marking clean shutdown: {e}"),
                Err(e) => error!("marking clean shutdown: {e}"),
            }
        }
    }
}
