//! The controller: the one broker holding `/controller` elects partition
//! leaders, writes their states to coord under its epoch, and tells brokers.
//!
//! * [`election`]: leader election after broker changes (pure functions).
//! * [`shutdown`]: controlled shutdown decisions (pure functions).
//! * [`rebalance`]: preferred-leader rebalance (pure functions).
//! * this file: the [`Controller`] task and its event loop, the writes
//!   with their retries, and the pushes to brokers.
//!
//! # How it runs
//!
//! Every broker runs [`Controller::run`]. It follows the metadata cache and
//! the lease the `/controller` election records (see
//! [`crate::metadata::controller_store`]); while this broker holds the lease
//! in its current coord session and the cache names it controller, it is
//! *in office*. Taking office re-reads all of coord, then runs the election
//! for every partition (so a new controller finishes whatever the dead one
//! left). After that, every cache change (broker registered or gone, topic
//! created or deleted, state changed) runs the election again; it is
//! idempotent, so unchanged partitions are not written.
//!
//! Each write is fenced on `/controller_epoch` and conditional on the state
//! znode's version; a conflict (the leader changed the ISR meanwhile) is
//! re-read and decided again. A fenced write means a newer controller
//! exists: this one leaves office.
//!
//! After writing, the controller applies the new states to its own cache
//! and pushes them: LeaderAndIsr to each live replica (with its partitions)
//! and UpdateMetadata (with all of them) to every other live broker. The
//! watches every broker keeps would deliver the same states a little later;
//! the push is what makes failover fast.
//!
//! # Where it differs from Kafka
//!
//! * Removing dead followers from an ISR does not bump the leader epoch.
//! * A partition with no live ISR member goes offline keeping its whole
//!   last ISR (Kafka shrinks it to the last member).
//! * Controlled shutdown reports partitions that no live replica could take
//!   over apart from those worth a retry (see [`shutdown`]).

pub mod election;
pub mod rebalance;
pub mod shutdown;

#[cfg(test)]
mod test_util;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::config::BrokerConfig;
use crate::control::client::BrokerLinks;
use crate::control::message::{
    Ack, ControlledShutdown, ControlledShutdownResponse, InternalRequest, PartitionState,
    StateUpdate, StopReplica, TopicPartition,
};
use crate::metadata::cache::LeaderAndIsr;
use crate::metadata::controller_store::{
    ControllerLease, ControllerStoreError, PartitionUpdate, WriteOutcome,
};
use crate::metadata::{MetadataStore, Snapshot, TopicInfo};
use crate::topic_config::TopicConfig;
use election::Brokers;

/// Rounds of re-read and re-decide after version conflicts before a
/// partition is left for the next event.
const WRITE_ATTEMPTS: usize = 5;
/// How long a controlled shutdown waits for the new leaders to be told.
const PUSH_WAIT: Duration = Duration::from_secs(2);
/// When elections could not all be written (coord unreachable, repeated
/// conflicts), they are tried again after this even if nothing changes.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// A newer controller exists; this one must leave office.
#[derive(Debug)]
struct Fenced;

/// Work handed to the controller task by request handlers.
enum Command {
    ShutdownBroker {
        broker_id: i32,
        reply: oneshot::Sender<ControlledShutdownResponse>,
    },
}

/// What the controller keeps while in office.
struct Office {
    lease: ControllerLease,
    brokers: Brokers,
    /// Registration czxid of each broker in `brokers.shutting_down`: one
    /// that restarts (new registration) may lead again, even if the
    /// controller never saw it gone.
    shutting_down_since: BTreeMap<i32, i64>,
    /// Topics as last seen, to notice deletions.
    topics: BTreeMap<String, Arc<TopicInfo>>,
    /// Some elections were left undone: run them again after [`RETRY_AFTER`].
    retry: bool,
}

/// Partition states after a commit: written ones and ones left undone.
#[derive(Debug, Default)]
struct Committed {
    written: Vec<PartitionUpdate>,
    failed: Vec<(String, i32)>,
}

/// The controller role of one broker (idle unless it holds `/controller`),
/// and the broker side of the controller's protocol.
pub struct Controller {
    broker_id: i32,
    config: BrokerConfig,
    metadata: Arc<MetadataStore>,
    links: BrokerLinks,
    /// The newest controller epoch seen in a request (STALE_CONTROLLER_EPOCH below it).
    seen_epoch: AtomicI32,
    commands: mpsc::Sender<Command>,
    inbox: Mutex<Option<mpsc::Receiver<Command>>>,
}

impl Controller {
    pub fn new(broker_id: i32, config: BrokerConfig, metadata: Arc<MetadataStore>) -> Arc<Self> {
        let (commands, inbox) = mpsc::channel(16);
        Arc::new(Controller {
            broker_id,
            links: BrokerLinks::new(
                config.controller_socket_timeout,
                config.inter_broker_client.clone(),
            ),
            config,
            metadata,
            seen_epoch: AtomicI32::new(0),
            commands,
            inbox: Mutex::new(Some(inbox)),
        })
    }

    /// Records a request's controller epoch; false if an older controller sent it.
    pub fn observe_epoch(&self, epoch: i32) -> bool {
        self.seen_epoch.fetch_max(epoch, Ordering::AcqRel) <= epoch
    }

    /// Handles a ControlledShutdown request (on the controller's broker).
    pub async fn shutdown_broker(&self, broker_id: i32) -> ControlledShutdownResponse {
        let (reply, answer) = oneshot::channel();
        let not_controller = ControlledShutdownResponse {
            error_code: ResponseError::NotController.code(),
            ..Default::default()
        };
        if self
            .commands
            .send(Command::ShutdownBroker { broker_id, reply })
            .await
            .is_err()
        {
            return not_controller;
        }
        answer.await.unwrap_or(not_controller)
    }

    /// Broker side of controlled shutdown: asks the controller (possibly
    /// this broker) to move this broker's leaderships away, retrying per
    /// `controlled.shutdown.max.retries` / `.retry.backoff.ms`.
    pub async fn controlled_shutdown(&self) {
        if !self.config.controlled_shutdown_enable {
            return;
        }
        let attempts = self.config.controlled_shutdown_max_retries;
        for attempt in 1..=attempts {
            let snapshot = self.metadata.snapshot();
            let controller = snapshot.controller_id;
            let answer = if controller == self.broker_id {
                Ok(self.shutdown_broker(self.broker_id).await)
            } else if let Some(info) = snapshot.brokers.get(&controller) {
                let request = InternalRequest::ControlledShutdown(ControlledShutdown {
                    broker_id: self.broker_id,
                });
                self.links
                    .call::<ControlledShutdownResponse>(info, &request)
                    .await
                    .map_err(|e| e.to_string())
            } else {
                Err("no controller known".to_string())
            };
            match answer {
                Ok(r) if r.error_code == 0 && r.remaining.is_empty() => {
                    if !r.stranded.is_empty() {
                        info!(partitions = ?r.stranded, "no other live replica can lead these");
                    }
                    info!(controller, "controlled shutdown succeeded");
                    return;
                }
                Ok(r) if r.error_code == 0 => {
                    warn!(attempt, partitions = ?r.remaining, "controlled shutdown: partitions still led here")
                }
                Ok(r) => warn!(
                    attempt,
                    controller,
                    error_code = r.error_code,
                    "controlled shutdown refused"
                ),
                Err(e) => warn!(attempt, controller, "controlled shutdown: {e}"),
            }
            if attempt < attempts {
                tokio::time::sleep(self.config.controlled_shutdown_retry_backoff).await;
            }
        }
        warn!("controlled shutdown did not complete; stopping anyway");
    }

    /// The controller task: idle until this broker is in office, then
    /// reacts to cache changes, ControlledShutdown requests and the
    /// rebalance timer until `shutdown`.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let inbox = self.inbox.lock().ok().and_then(|mut i| i.take());
        let Some(mut inbox) = inbox else {
            warn!("controller task started twice");
            return;
        };
        let mut changes = self.metadata.subscribe();
        let mut leases = self.metadata.watch_controller_lease();
        let every = self.config.leader_imbalance_check_interval;
        let mut rebalance = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        rebalance.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut office = None;
        self.refresh(&mut office).await;
        loop {
            tokio::select! {
                r = changes.changed() => {
                    if r.is_err() {
                        return;
                    }
                    self.refresh(&mut office).await;
                }
                r = leases.changed() => {
                    if r.is_err() {
                        return;
                    }
                    self.refresh(&mut office).await;
                }
                Some(command) = inbox.recv() => match command {
                    Command::ShutdownBroker { broker_id, reply } => {
                        self.refresh(&mut office).await;
                        let response = self.on_controlled_shutdown(&mut office, broker_id).await;
                        let _ = reply.send(response);
                    }
                },
                _ = tokio::time::sleep(RETRY_AFTER), if office.as_ref().is_some_and(|o| o.retry) => {
                    self.refresh(&mut office).await;
                }
                _ = rebalance.tick() => {
                    if self.config.auto_leader_rebalance_enable {
                        self.on_rebalance(&mut office).await;
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Enters or leaves office as the lease says, then brings the cluster
    /// in line with the cache: brokers, deleted topics, elections.
    async fn refresh(self: &Arc<Self>, office: &mut Option<Office>) {
        let mut snapshot = self.metadata.snapshot();
        let lease = self.metadata.controller_lease().filter(|l| {
            snapshot.controller_id == self.broker_id && l.session_id == self.metadata.session_id()
        });
        let Some(lease) = lease else {
            if let Some(o) = office.take() {
                info!(controller_epoch = o.lease.epoch, "no longer the controller");
            }
            return;
        };
        let taking_office = office.as_ref().is_none_or(|o| o.lease != lease);
        if taking_office {
            info!(controller_epoch = lease.epoch, "acting as controller");
            self.observe_epoch(lease.epoch);
            // Kafka's onControllerFailover: start from what coord holds now.
            if let Err(e) = self.metadata.reload().await {
                warn!("controller re-reading coord: {e}");
            }
            snapshot = self.metadata.snapshot();
            *office = Some(Office {
                lease,
                brokers: Brokers::default(),
                shutting_down_since: BTreeMap::new(),
                topics: snapshot.topics.clone(),
                retry: false,
            });
        }
        let Some(o) = office.as_mut() else { return };
        let live: BTreeSet<i32> = snapshot.brokers.keys().copied().collect();
        if live != o.brokers.live {
            info!(live = ?live, "live brokers");
            self.links.retain(|id| live.contains(&id));
        }
        o.brokers.live = live;
        self.forget_restarted(o).await;
        self.stop_deleted_topics(o, &snapshot);
        if taking_office {
            // Every broker learns the new controller epoch and all states.
            self.push_all(o, &snapshot);
        }
        match self.elect_all(o, &snapshot).await {
            Ok(complete) => o.retry = !complete,
            Err(Fenced) => self.resign(office),
        }
    }

    /// Drops brokers from `shutting_down` once gone or registered anew.
    async fn forget_restarted(&self, o: &mut Office) {
        let ids: Vec<(i32, i64)> = o
            .shutting_down_since
            .iter()
            .map(|(id, czxid)| (*id, *czxid))
            .collect();
        for (id, czxid) in ids {
            let now = if o.brokers.is_live(id) {
                match self.metadata.registration_czxid(id).await {
                    Ok(now) => now,
                    Err(e) => {
                        debug!("checking broker {id}'s registration: {e}");
                        continue;
                    }
                }
            } else {
                None
            };
            if now != Some(czxid) {
                o.shutting_down_since.remove(&id);
                o.brokers.shutting_down.remove(&id);
            }
        }
    }

    fn resign(&self, office: &mut Option<Office>) {
        if let Some(o) = office.take() {
            warn!(
                controller_epoch = o.lease.epoch,
                "fenced by a newer controller; leaving office"
            );
            self.metadata.drop_controller_lease(o.lease.epoch);
        }
    }

    fn unclean(&self, topic: &TopicInfo) -> bool {
        TopicConfig::resolve(&self.config, &topic.config)
            .map(|c| c.unclean_leader_election_enable)
            .unwrap_or_else(|_| {
                self.config
                    .value("unclean.leader.election.enable")
                    .as_deref()
                    == Some("true")
            })
    }

    /// Runs the election for every partition and writes those that change;
    /// false if some could not be written.
    async fn elect_all(self: &Arc<Self>, o: &Office, snapshot: &Snapshot) -> Result<bool, Fenced> {
        let epoch = o.lease.epoch;
        let mut unclean = BTreeMap::new();
        let mut pending = Vec::new();
        for topic in snapshot.topics.values().filter(|t| !t.deleting) {
            let u = self.unclean(topic);
            unclean.insert(topic.name.clone(), u);
            for (p, info) in &topic.partitions {
                let Some(state) = &info.state else { continue };
                if let Some(new) = election::elect(&info.replicas, state, &o.brokers, u, epoch) {
                    pending.push(update(topic, *p, &info.replicas, new));
                }
            }
        }
        if pending.is_empty() {
            return Ok(true);
        }
        let brokers = o.brokers.clone();
        let committed = self
            .commit(o, pending, move |u, fresh| {
                let unclean = unclean.get(&u.topic).copied().unwrap_or(false);
                election::elect(&u.replicas, fresh, &brokers, unclean, epoch)
            })
            .await?;
        self.push(o, &committed.written).detach_all();
        if !committed.failed.is_empty() {
            warn!(partitions = ?committed.failed, "elections left undone; retrying");
        }
        Ok(committed.failed.is_empty())
    }

    /// Writes `pending`; partitions whose state changed meanwhile are
    /// re-read and passed to `redecide` (with the fresh state), up to
    /// [`WRITE_ATTEMPTS`] rounds. Written states go into this broker's cache.
    async fn commit(
        &self,
        o: &Office,
        pending: Vec<PartitionUpdate>,
        redecide: impl Fn(&PartitionUpdate, &LeaderAndIsr) -> Option<LeaderAndIsr>,
    ) -> Result<Committed, Fenced> {
        let mut out = Committed::default();
        let mut round = pending;
        for _ in 0..WRITE_ATTEMPTS {
            if round.is_empty() {
                break;
            }
            let outcomes = match self.metadata.write_partition_states(&o.lease, &round).await {
                Ok(outcomes) => outcomes,
                Err(ControllerStoreError::Fenced { .. }) => return Err(Fenced),
                Err(ControllerStoreError::Metadata(e)) => {
                    warn!("writing partition states: {e}");
                    break;
                }
            };
            let mut retry = Vec::new();
            for (u, outcome) in round.drain(..).zip(outcomes) {
                match outcome {
                    WriteOutcome::Written(state) => {
                        info!(
                            topic = %u.topic,
                            partition = u.partition,
                            leader = state.leader,
                            leader_epoch = state.leader_epoch,
                            isr = ?state.isr,
                            "partition state written"
                        );
                        out.written.push(PartitionUpdate { state, ..u });
                    }
                    WriteOutcome::Gone => {}
                    WriteOutcome::Conflict => {
                        match self
                            .metadata
                            .read_partition_state(&u.topic, u.partition)
                            .await
                        {
                            Ok(Some(fresh)) => {
                                if let Some(state) = redecide(&u, &fresh) {
                                    retry.push(PartitionUpdate { state, ..u });
                                }
                            }
                            Ok(None) => {}
                            Err(e) => {
                                warn!("re-reading {} {}: {e}", u.topic, u.partition);
                                out.failed.push((u.topic, u.partition));
                            }
                        }
                    }
                }
            }
            round = retry;
        }
        out.failed
            .extend(round.into_iter().map(|u| (u.topic, u.partition)));
        if !out.written.is_empty() {
            self.metadata.apply_partition_updates(&out.written);
        }
        Ok(out)
    }

    /// Sends written states: LeaderAndIsr to each live replica with its
    /// partitions, UpdateMetadata with all of them to every live broker
    /// (skipped where the LeaderAndIsr already carried everything).
    fn push(self: &Arc<Self>, o: &Office, written: &[PartitionUpdate]) -> JoinSet<()> {
        let mut sends = JoinSet::new();
        if written.is_empty() {
            return sends;
        }
        let snapshot = self.metadata.snapshot();
        let states: Vec<PartitionState> = written.iter().map(Into::into).collect();
        for (id, info) in &snapshot.brokers {
            if *id == self.broker_id || !o.brokers.is_live(*id) {
                continue;
            }
            let mine: Vec<PartitionState> = states
                .iter()
                .filter(|s| s.replicas.contains(id))
                .cloned()
                .collect();
            let mut requests = Vec::new();
            let all_mine = mine.len() == states.len();
            if !mine.is_empty() {
                requests.push(InternalRequest::LeaderAndIsr(self.state_update(o, mine)));
            }
            if !all_mine {
                requests.push(InternalRequest::UpdateMetadata(
                    self.state_update(o, states.clone()),
                ));
            }
            let this = self.clone();
            let info = info.clone();
            sends.spawn(async move {
                for request in requests {
                    this.send_ack(&info, &request).await;
                }
            });
        }
        sends
    }

    fn state_update(&self, o: &Office, partitions: Vec<PartitionState>) -> StateUpdate {
        StateUpdate {
            controller_id: self.broker_id,
            controller_epoch: o.lease.epoch,
            partitions,
        }
    }

    async fn send_ack(&self, broker: &crate::metadata::BrokerInfo, request: &InternalRequest) {
        match self.links.call::<Ack>(broker, request).await {
            Ok(Ack { error_code: 0 }) => {}
            Ok(Ack { error_code }) => warn!(
                broker = broker.id,
                error_code,
                "{:?} refused",
                request.key()
            ),
            Err(e) => debug!("{:?} not delivered: {e}", request.key()),
        }
    }

    /// On taking office: UpdateMetadata with every partition to every live broker.
    fn push_all(self: &Arc<Self>, o: &Office, snapshot: &Snapshot) {
        let mut all = Vec::new();
        for topic in snapshot.topics.values() {
            for (p, info) in &topic.partitions {
                if let Some(state) = &info.state {
                    all.push(update(topic, *p, &info.replicas, state.clone()));
                }
            }
        }
        let states: Vec<PartitionState> = all.iter().map(Into::into).collect();
        for (id, info) in &snapshot.brokers {
            if *id == self.broker_id || !o.brokers.is_live(*id) {
                continue;
            }
            let request = InternalRequest::UpdateMetadata(self.state_update(o, states.clone()));
            let this = self.clone();
            let info = info.clone();
            tokio::spawn(async move { this.send_ack(&info, &request).await });
        }
    }

    /// StopReplica (delete) to the live replicas of topics gone since the
    /// last look, so they delete the logs without waiting for their watch.
    fn stop_deleted_topics(self: &Arc<Self>, o: &mut Office, snapshot: &Snapshot) {
        let gone: Vec<Arc<TopicInfo>> = o
            .topics
            .values()
            .filter(|t| {
                snapshot
                    .topics
                    .get(&t.name)
                    .is_none_or(|now| now.topic_id != t.topic_id)
            })
            .cloned()
            .collect();
        o.topics = snapshot.topics.clone();
        let mut per_broker: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
        for t in &gone {
            info!(topic = %t.name, "topic deleted");
            for (p, info) in &t.partitions {
                for r in &info.replicas {
                    per_broker.entry(*r).or_default().push(TopicPartition {
                        topic: t.name.clone(),
                        topic_id: t.topic_id,
                        partition: *p,
                    });
                }
            }
        }
        for (id, partitions) in per_broker {
            let Some(info) = snapshot.brokers.get(&id).cloned() else {
                continue;
            };
            if id == self.broker_id {
                continue;
            }
            let request = InternalRequest::StopReplica(StopReplica {
                controller_id: self.broker_id,
                controller_epoch: o.lease.epoch,
                delete: true,
                partitions,
            });
            let this = self.clone();
            tokio::spawn(async move { this.send_ack(&info, &request).await });
        }
    }

    /// ControlledShutdown of `broker_id`: move its leaderships, take it out
    /// of ISRs, wait (briefly) until the new leaders have been told.
    async fn on_controlled_shutdown(
        self: &Arc<Self>,
        office: &mut Option<Office>,
        broker_id: i32,
    ) -> ControlledShutdownResponse {
        let Some(o) = office.as_mut() else {
            return ControlledShutdownResponse {
                error_code: ResponseError::NotController.code(),
                ..Default::default()
            };
        };
        info!(broker_id, "controlled shutdown requested");
        if o.brokers.is_live(broker_id) {
            match self.metadata.registration_czxid(broker_id).await {
                Ok(Some(czxid)) => {
                    o.brokers.shutting_down.insert(broker_id);
                    o.shutting_down_since.insert(broker_id, czxid);
                }
                Ok(None) => {}
                Err(e) => warn!("reading broker {broker_id}'s registration: {e}"),
            }
        }
        let epoch = o.lease.epoch;
        let snapshot = self.metadata.snapshot();
        let mut pending = Vec::new();
        for topic in snapshot.topics.values().filter(|t| !t.deleting) {
            for (p, info) in &topic.partitions {
                let Some(state) = &info.state else { continue };
                let decision =
                    shutdown::decide(broker_id, &info.replicas, state, &o.brokers, epoch);
                if let shutdown::Decision::Write(new) = decision {
                    pending.push(update(topic, *p, &info.replicas, new));
                }
            }
        }
        let brokers = o.brokers.clone();
        let committed = self
            .commit(o, pending, |u, fresh| {
                match shutdown::decide(broker_id, &u.replicas, fresh, &brokers, epoch) {
                    shutdown::Decision::Write(s) => Some(s),
                    _ => None,
                }
            })
            .await;
        let committed = match committed {
            Ok(c) => c,
            Err(Fenced) => {
                self.resign(office);
                return ControlledShutdownResponse {
                    error_code: ResponseError::NotController.code(),
                    ..Default::default()
                };
            }
        };
        let mut sends = self.push(o, &committed.written);
        let _ = tokio::time::timeout(PUSH_WAIT, async {
            while sends.join_next().await.is_some() {}
        })
        .await;
        sends.detach_all();
        // What is still led by the broker, from the cache the commit updated.
        let mut response = ControlledShutdownResponse::default();
        for topic in self.metadata.snapshot().topics.values() {
            for (p, info) in &topic.partitions {
                let Some(state) = info.state.as_ref().filter(|s| s.leader == broker_id) else {
                    continue;
                };
                let key = (topic.name.clone(), *p);
                match shutdown::decide(broker_id, &info.replicas, state, &o.brokers, epoch) {
                    shutdown::Decision::Stranded => response.stranded.push(key),
                    _ => response.remaining.push(key),
                }
            }
        }
        info!(
            broker_id,
            moved = committed.written.len(),
            remaining = response.remaining.len(),
            stranded = response.stranded.len(),
            "controlled shutdown handled"
        );
        response
    }

    /// The periodic preferred-leader check.
    async fn on_rebalance(self: &Arc<Self>, office: &mut Option<Office>) {
        let Some(o) = office.as_ref() else { return };
        let snapshot = self.metadata.snapshot();
        let mut keyed = Vec::new();
        for topic in snapshot.topics.values().filter(|t| !t.deleting) {
            for (p, info) in &topic.partitions {
                if let Some(state) = &info.state {
                    keyed.push((topic.clone(), *p, info.replicas.as_slice(), state));
                }
            }
        }
        let placements: Vec<rebalance::Placement<'_, usize>> = keyed
            .iter()
            .enumerate()
            .map(|(i, (_, _, replicas, state))| rebalance::Placement {
                key: i,
                replicas,
                state,
            })
            .collect();
        let moves = rebalance::preferred_moves(
            &placements,
            &o.brokers,
            self.config.leader_imbalance_per_broker_percentage,
            o.lease.epoch,
        );
        if moves.is_empty() {
            return;
        }
        info!(
            partitions = moves.len(),
            "moving leadership back to preferred replicas"
        );
        let pending: Vec<PartitionUpdate> = moves
            .into_iter()
            .map(|(i, new)| {
                let (topic, p, replicas, _) = &keyed[i];
                update(topic, *p, replicas, new)
            })
            .collect();
        let brokers = o.brokers.clone();
        let epoch = o.lease.epoch;
        let committed = self
            .commit(o, pending, |u, fresh| {
                let preferred = *u.replicas.first()?;
                (fresh.leader != preferred
                    && brokers.is_eligible(preferred)
                    && fresh.isr.contains(&preferred))
                .then(|| LeaderAndIsr {
                    leader: preferred,
                    leader_epoch: fresh.leader_epoch + 1,
                    controller_epoch: epoch,
                    ..fresh.clone()
                })
            })
            .await;
        match committed {
            Ok(c) => self.push(o, &c.written).detach_all(),
            Err(Fenced) => self.resign(office),
        }
    }
}

fn update(
    topic: &TopicInfo,
    partition: i32,
    replicas: &[i32],
    state: LeaderAndIsr,
) -> PartitionUpdate {
    PartitionUpdate {
        topic: topic.name.clone(),
        topic_id: topic.topic_id,
        partition,
        replicas: replicas.to_vec(),
        state,
    }
}
