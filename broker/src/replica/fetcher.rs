//! Follower replication: one fetcher task per source broker, carrying every
//! partition this broker follows from it (Kafka's `ReplicaFetcherThread`).
//!
//! A partition enters a fetcher when this broker becomes its follower (or
//! its leader changes) and is first truncated by leader epoch (KIP-101,
//! KIP-279): the fetcher asks the leader, with OffsetForLeaderEpoch, where
//! the follower's latest epoch ends in the leader's log, and cuts its own
//! log there, never merely at the high watermark. It then fetches from its
//! log end with the ordinary Fetch API (replica id set, current leader
//! epoch given, so a stale leader or a stale follower is refused), appends
//! the batches as they are, and takes the leader's high watermark.
//!
//! Batches stay bytes: the follower checks their framing and CRC and
//! appends them with their offsets and epochs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::{
    BrokerId, FetchRequest, FetchResponse, OffsetForLeaderEpochRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use runnel_common::kafka::connection::{Connection, ConnectionConfig};
use runnel_common::kafka::{topic_name, ClientSecurity};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::fetch_session::{FollowerSession, Position};
use super::partition::Partition;
use crate::config::ReplicationConfig;
use crate::metadata::MetadataStore;

type Key = (String, i32);

/// Fetch v12: replica id, current leader epoch, no topic ids.
const FETCH_VERSION: (i16, i16) = (9, 12);
/// OffsetForLeaderEpoch with replica id and current leader epoch.
const EPOCH_VERSION: (i16, i16) = (3, 4);

/// One followed partition in a fetcher.
#[derive(Clone)]
struct Followed {
    partition: Arc<Partition>,
    /// The leader epoch this broker follows in; responses for another are dropped.
    leader_epoch: i32,
    /// Must truncate by leader epoch before the next fetch.
    truncate: bool,
    /// Not fetched again before this instant (after an error).
    paused_until: Option<tokio::time::Instant>,
}

/// The partitions one fetcher task carries.
struct Source {
    leader: i32,
    partitions: Mutex<BTreeMap<Key, Followed>>,
    changed: Notify,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// A running fetcher task and what it carries.
type Fetcher = (Arc<Source>, JoinHandle<()>);

/// Starts, feeds and stops the fetcher tasks.
pub struct FetcherManager {
    broker_id: i32,
    config: ReplicationConfig,
    /// TLS and SASL towards the leaders' inter-broker listener.
    security: ClientSecurity,
    metadata: Arc<MetadataStore>,
    sources: Mutex<HashMap<i32, Fetcher>>,
    shutdown: watch::Receiver<bool>,
}

impl FetcherManager {
    pub fn new(
        broker_id: i32,
        config: ReplicationConfig,
        security: ClientSecurity,
        metadata: Arc<MetadataStore>,
        shutdown: watch::Receiver<bool>,
    ) -> FetcherManager {
        FetcherManager {
            broker_id,
            config,
            security,
            metadata,
            sources: Mutex::new(HashMap::new()),
            shutdown,
        }
    }

    /// Follows `partition` from `leader` in `leader_epoch`, truncating first.
    pub fn add(&self, key: Key, partition: Arc<Partition>, leader: i32, leader_epoch: i32) {
        self.remove(&key);
        let mut sources = lock(&self.sources);
        let source = match sources.get(&leader) {
            Some((s, task)) if !task.is_finished() => s.clone(),
            _ => {
                let source = Arc::new(Source {
                    leader,
                    partitions: Mutex::new(BTreeMap::new()),
                    changed: Notify::new(),
                });
                let task = tokio::spawn(run(
                    source.clone(),
                    self.broker_id,
                    self.config.clone(),
                    self.security.clone(),
                    self.metadata.clone(),
                    self.shutdown.clone(),
                ));
                sources.insert(leader, (source.clone(), task));
                source
            }
        };
        lock(&source.partitions).insert(
            key,
            Followed {
                partition,
                leader_epoch,
                truncate: true,
                paused_until: None,
            },
        );
        source.changed.notify_one();
    }

    /// Stops following `key` (it became leader, or is gone).
    pub fn remove(&self, key: &Key) {
        let sources = lock(&self.sources);
        for (source, _) in sources.values() {
            if lock(&source.partitions).remove(key).is_some() {
                source.changed.notify_one();
            }
        }
    }

    /// Stops every fetcher task.
    pub fn stop_all(&self) {
        let mut sources = lock(&self.sources);
        for (_, (_, task)) in sources.drain() {
            task.abort();
        }
    }
}

/// What went wrong talking to the leader.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("leader {0} is not a live broker")]
    NoLeaderAddress(i32),
    #[error(transparent)]
    Kafka(#[from] runnel_common::kafka::KafkaError),
}

async fn run(
    source: Arc<Source>,
    broker_id: i32,
    config: ReplicationConfig,
    security: ClientSecurity,
    metadata: Arc<MetadataStore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conn: Option<Arc<Connection>> = None;
    let mut session = FollowerSession::default();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let followed: Vec<(Key, Followed)> = lock(&source.partitions)
            .iter()
            .map(|(k, f)| (k.clone(), f.clone()))
            .collect();
        if followed.is_empty() {
            conn = None;
            tokio::select! {
                _ = source.changed.notified() => {}
                _ = shutdown.changed() => return,
            }
            continue;
        }
        let result = async {
            let c = match &conn {
                Some(c) if !c.is_closed() => c.clone(),
                _ => {
                    session.clear();
                    let c = Arc::new(connect(&metadata, source.leader, &config, &security).await?);
                    conn = Some(c.clone());
                    c
                }
            };
            let now = tokio::time::Instant::now();
            let to_truncate: Vec<&(Key, Followed)> = followed
                .iter()
                .filter(|(_, f)| f.truncate && f.paused_until.is_none_or(|t| t <= now))
                .collect();
            if !to_truncate.is_empty() {
                truncate(&source, &c, broker_id, &config, &to_truncate).await?;
                return Ok(());
            }
            fetch(&source, &c, &mut session, broker_id, &config, &followed).await
        };
        let outcome = tokio::select! {
            r = result => r,
            _ = shutdown.changed() => return,
        };
        if let Err(e) = outcome {
            debug!(leader = source.leader, "replica fetch: {e}");
            conn = None;
            tokio::select! {
                _ = tokio::time::sleep(config.fetch_backoff.min(Duration::from_millis(500))) => {}
                _ = source.changed.notified() => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

async fn connect(
    metadata: &MetadataStore,
    leader: i32,
    config: &ReplicationConfig,
    security: &ClientSecurity,
) -> Result<Connection, FetchError> {
    let snapshot = metadata.snapshot();
    let info = snapshot
        .brokers
        .get(&leader)
        .ok_or(FetchError::NoLeaderAddress(leader))?;
    let addr = format!("{}:{}", info.host, info.port);
    let conn_config = ConnectionConfig {
        client_id: "runnel-replica-fetcher".into(),
        connect_timeout: config.socket_timeout.min(Duration::from_secs(5)),
        request_timeout: config.socket_timeout,
        security: security.clone(),
    };
    Ok(Connection::connect(&addr, &conn_config).await?)
}

/// Sets or clears fields of a followed partition if it is still followed
/// in `epoch`.
fn update(source: &Source, key: &Key, epoch: i32, f: impl FnOnce(&mut Followed)) {
    if let Some(entry) = lock(&source.partitions).get_mut(key) {
        if entry.leader_epoch == epoch {
            f(entry);
        }
    }
}

/// How long a partition waits after its leader refused it because the
/// leader has not yet taken up the leadership the controller just gave it
/// (it answers NOT_LEADER_OR_FOLLOWER or UNKNOWN_LEADER_EPOCH for a moment
/// after a failover): far shorter than `replica.fetch.backoff.ms`, as the
/// ISR — and every acks=all producer — waits on this follower.
const LEADER_CATCH_UP_RETRY: Duration = Duration::from_millis(20);

/// The pause after a refused request: short while the leader catches up
/// with the new state, `replica.fetch.backoff.ms` otherwise (this follower
/// is the stale one and waits for new metadata, which re-adds it at once).
fn backoff_for(code: i16, config: &ReplicationConfig) -> Duration {
    match ResponseError::try_from_code(code) {
        Some(ResponseError::NotLeaderOrFollower)
        | Some(ResponseError::UnknownLeaderEpoch)
        | Some(ResponseError::UnknownTopicOrPartition) => {
            LEADER_CATCH_UP_RETRY.min(config.fetch_backoff)
        }
        _ => config.fetch_backoff,
    }
}

fn pause(source: &Source, key: &Key, epoch: i32, config: &ReplicationConfig) {
    pause_for(source, key, epoch, config.fetch_backoff);
}

fn pause_for(source: &Source, key: &Key, epoch: i32, backoff: Duration) {
    let until = tokio::time::Instant::now() + backoff;
    update(source, key, epoch, |f| f.paused_until = Some(until));
}

/// Truncation by leader epoch (KIP-101 with KIP-279's rule for an epoch the
/// leader does not know): ask the leader where our latest epoch ends there,
/// and cut our log at the smaller of that and our own end of that epoch.
async fn truncate(
    source: &Source,
    conn: &Connection,
    broker_id: i32,
    config: &ReplicationConfig,
    partitions: &[&(Key, Followed)],
) -> Result<(), FetchError> {
    let mut by_topic: BTreeMap<&str, Vec<OffsetForLeaderPartition>> = BTreeMap::new();
    let mut no_epoch = Vec::new();
    for (key, f) in partitions {
        match f.partition.log.latest_epoch() {
            Some(epoch) => by_topic.entry(key.0.as_str()).or_default().push(
                OffsetForLeaderPartition::default()
                    .with_partition(key.1)
                    .with_current_leader_epoch(f.leader_epoch)
                    .with_leader_epoch(epoch),
            ),
            None => no_epoch.push((key, f)),
        }
    }
    // A log without epochs (empty, or written before epochs) keeps what is
    // below its high watermark, as Kafka did before KIP-101.
    for (key, f) in no_epoch {
        let hw = f.partition.high_watermark();
        if let Err(e) = f.partition.log.truncate_to(hw) {
            warn!(topic = %key.0, partition = key.1, "truncating to the high watermark: {e}");
            pause(source, key, f.leader_epoch, config);
            continue;
        }
        update(source, key, f.leader_epoch, |e| e.truncate = false);
    }
    if by_topic.is_empty() {
        return Ok(());
    }
    let version = conn.version::<OffsetForLeaderEpochRequest>(EPOCH_VERSION)?;
    let request = OffsetForLeaderEpochRequest::default()
        .with_replica_id(BrokerId(broker_id))
        .with_topics(
            by_topic
                .into_iter()
                .map(|(t, ps)| {
                    OffsetForLeaderTopic::default()
                        .with_topic(TopicName(StrBytes::from_string(t.to_string())))
                        .with_partitions(ps)
                })
                .collect(),
        );
    let response = conn.call(&request, version).await?;
    for topic in response.topics {
        for r in topic.partitions {
            let key = (topic.topic.0.to_string(), r.partition);
            let Some((_, f)) = partitions.iter().find(|(k, _)| *k == key) else {
                continue;
            };
            if r.error_code != 0 {
                debug!(topic = %key.0, partition = key.1, error = r.error_code,
                       "OffsetForLeaderEpoch refused");
                pause_for(
                    source,
                    &key,
                    f.leader_epoch,
                    backoff_for(r.error_code, config),
                );
                continue;
            }
            let log = &f.partition.log;
            let end = log.log_end_offset();
            let target = if r.end_offset < 0 {
                // The leader knows no such epoch at all: keep what is committed.
                f.partition.high_watermark()
            } else {
                let ours = log.latest_epoch().unwrap_or(-1);
                if r.leader_epoch == ours {
                    r.end_offset.min(end)
                } else {
                    // The leader's answer is for an older epoch: our log may
                    // have diverged from where that epoch ends for us.
                    let (_, our_end) = log.end_offset_for_epoch(r.leader_epoch);
                    r.end_offset.min(if our_end < 0 { end } else { our_end })
                }
            };
            if target < end {
                info!(topic = %key.0, partition = key.1, from = end, to = target,
                      leader_epoch = r.leader_epoch, "truncating by leader epoch");
            }
            match log.truncate_to(target) {
                Ok(()) => {
                    f.partition.cap_high_watermark();
                    update(source, &key, f.leader_epoch, |e| e.truncate = false);
                }
                Err(e) => {
                    warn!(topic = %key.0, partition = key.1, "truncating: {e}");
                    pause(source, &key, f.leader_epoch, config);
                }
            }
        }
    }
    Ok(())
}

/// One fetch round: every partition ready to fetch, from its log end.
async fn fetch(
    source: &Source,
    conn: &Connection,
    session: &mut FollowerSession,
    broker_id: i32,
    config: &ReplicationConfig,
    followed: &[(Key, Followed)],
) -> Result<(), FetchError> {
    let now = tokio::time::Instant::now();
    let ready: Vec<&(Key, Followed)> = followed
        .iter()
        .filter(|(_, f)| !f.truncate && f.paused_until.is_none_or(|t| t <= now))
        .collect();
    if ready.is_empty() {
        // Everything paused: wait for the first pause to end or a change.
        let next = followed
            .iter()
            .filter_map(|(_, f)| f.paused_until)
            .min()
            .unwrap_or(now + config.fetch_backoff);
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = source.changed.notified() => {}
        }
        return Ok(());
    }
    let positions: Vec<(Key, Position)> = ready
        .iter()
        .map(|(key, f)| {
            (
                key.clone(),
                Position {
                    fetch_offset: f.partition.log.log_end_offset(),
                    log_start_offset: f.partition.log.log_start_offset(),
                    leader_epoch: f.leader_epoch,
                },
            )
        })
        .collect();
    let round = session.round(&positions);
    let mut topics: BTreeMap<&str, Vec<FetchPartition>> = BTreeMap::new();
    for &i in &round.send {
        let (key, pos) = &positions[i];
        topics.entry(key.0.as_str()).or_default().push(
            FetchPartition::default()
                .with_partition(key.1)
                .with_current_leader_epoch(pos.leader_epoch)
                .with_fetch_offset(pos.fetch_offset)
                .with_log_start_offset(pos.log_start_offset)
                .with_partition_max_bytes(config.fetch_max_bytes),
        );
    }
    let mut forgotten: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, partition) in &round.forget {
        forgotten
            .entry(topic.as_str())
            .or_default()
            .push(*partition);
    }
    let version = conn.version::<FetchRequest>(FETCH_VERSION)?;
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(broker_id))
        .with_max_wait_ms(config.fetch_wait_max_ms)
        .with_min_bytes(config.fetch_min_bytes)
        .with_max_bytes(config.fetch_response_max_bytes)
        .with_session_id(round.session_id)
        .with_session_epoch(round.epoch)
        .with_topics(
            topics
                .into_iter()
                .map(|(t, ps)| {
                    FetchTopic::default()
                        .with_topic(topic_name(t))
                        .with_partitions(ps)
                })
                .collect(),
        )
        .with_forgotten_topics_data(
            forgotten
                .into_iter()
                .map(|(t, ps)| {
                    ForgottenTopic::default()
                        .with_topic(topic_name(t))
                        .with_partitions(ps)
                })
                .collect(),
        );
    // Until answered, the leader's session may or may not have taken this
    // round: a failure or an abandoned round makes the next one full.
    session.reset();
    let pending = conn.send(&request, version).await?;
    // A change of the followed set (a partition moved to another leader)
    // need not wait for this long poll: its data would be dropped anyway.
    let response: FetchResponse = tokio::select! {
        r = pending.wait() => r?,
        _ = source.changed.notified() => return Ok(()),
    };
    match ResponseError::try_from_code(response.error_code) {
        None => session.answered(round, response.session_id),
        // The leader lost or moved on from our session (restart, eviction):
        // the next round opens a new one at once.
        Some(ResponseError::FetchSessionIdNotFound | ResponseError::InvalidFetchSessionEpoch) => {
            debug!(
                leader = source.leader,
                error = response.error_code,
                "fetch session reset"
            );
            return Ok(());
        }
        Some(_) => {
            return Err(FetchError::Kafka(runnel_common::kafka::KafkaError::broker(
                format!("replica fetch from broker {}", source.leader),
                runnel_common::kafka::ErrorCode(response.error_code),
                None,
            )));
        }
    }
    for topic in response.responses {
        for pd in topic.partitions {
            let key = (topic.topic.0.to_string(), pd.partition_index);
            let Some((_, f)) = ready.iter().find(|(k, _)| *k == key) else {
                continue;
            };
            // Dropped or moved on while the fetch was in flight.
            let current = lock(&source.partitions)
                .get(&key)
                .map(|e| (e.leader_epoch, e.truncate));
            if current != Some((f.leader_epoch, false)) {
                continue;
            }
            apply(source, config, &key, f, pd);
        }
    }
    Ok(())
}

/// Applies one partition's part of a fetch response.
fn apply(
    source: &Source,
    config: &ReplicationConfig,
    key: &Key,
    f: &Followed,
    pd: kafka_protocol::messages::fetch_response::PartitionData,
) {
    let p = &f.partition;
    match ResponseError::try_from_code(pd.error_code) {
        None => {}
        Some(ResponseError::OffsetOutOfRange) => {
            let end = p.log.log_end_offset();
            if pd.log_start_offset > end {
                // The leader deleted what we miss: start over at its log start.
                info!(topic = %key.0, partition = key.1, from = end, to = pd.log_start_offset,
                      "follower behind the leader's log start; restarting the log there");
                if let Err(e) = p.log.truncate_fully_and_start_at(pd.log_start_offset) {
                    warn!(topic = %key.0, partition = key.1, "restarting log: {e}");
                    pause(source, key, f.leader_epoch, config);
                }
                p.cap_high_watermark();
            } else {
                // Ahead of the leader: truncate by epoch again.
                update(source, key, f.leader_epoch, |e| e.truncate = true);
            }
            return;
        }
        Some(e) => {
            debug!(topic = %key.0, partition = key.1, error = ?e, "replica fetch refused");
            pause_for(
                source,
                key,
                f.leader_epoch,
                backoff_for(pd.error_code, config),
            );
            return;
        }
    }
    if let Some(records) = pd.records.filter(|r| !r.is_empty()) {
        if let Err(e) = p.log.append_as_follower(records) {
            warn!(topic = %key.0, partition = key.1, "appending fetched batches: {e}");
            // A batch that does not follow our log end: truncate again.
            update(source, key, f.leader_epoch, |e| e.truncate = true);
            return;
        }
    }
    if pd.log_start_offset > p.log.log_start_offset()
        && pd.log_start_offset <= p.log.log_end_offset()
    {
        if let Err(e) = p.log.increment_log_start_offset(pd.log_start_offset) {
            debug!(topic = %key.0, partition = key.1, "advancing log start: {e}");
        }
    }
    p.set_follower_high_watermark(pd.high_watermark);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leader_catching_up_is_retried_soon_a_stale_follower_waits() {
        let config = crate::config::BrokerConfig::from_text(
            "listeners=PLAINTEXT://127.0.0.1:0\nlog.dirs=/tmp/x\nzookeeper.connect=x:1",
            &[],
        )
        .unwrap()
        .replication;
        let code = |e: ResponseError| e.code();
        assert_eq!(
            backoff_for(code(ResponseError::NotLeaderOrFollower), &config),
            LEADER_CATCH_UP_RETRY
        );
        assert_eq!(
            backoff_for(code(ResponseError::UnknownLeaderEpoch), &config),
            LEADER_CATCH_UP_RETRY
        );
        assert_eq!(
            backoff_for(code(ResponseError::FencedLeaderEpoch), &config),
            Duration::from_millis(1000)
        );
    }
}
