//! The group coordinator: finds (or loads from coord) the group a request
//! names, runs it through the group's state machine under the group's lock,
//! sends the writes the state machine asks for, and drives timers.
//!
//! Locks: the group map and each group are `std::sync::Mutex`es held only
//! for in-memory work; every wait (a parked JoinGroup or SyncGroup, a coord
//! write) happens after the lock is released. Writes are queued while the
//! lock is held, so they reach coord in the order the group made them.
//!
//! Seams for the cluster issue: [`GroupCoordinator::is_coordinator`] decides
//! ownership from the live brokers in the metadata cache; groups that stop
//! being ours are unloaded by [`GroupCoordinator::run`]; a group we start
//! owning is loaded from coord on first use (COORDINATOR_LOAD_IN_PROGRESS
//! for requests that race with the load).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use tokio::sync::{oneshot, watch};
use tracing::{info, warn};

use super::assignment::{coordinator_for_slot, coordinator_in, slot_for};
use super::member::{JoinRequest, JoinResult, SyncResult};
use super::state::{offsets_json, Committed, Group, GroupState, Reply, StoreKind};
use super::GroupConfig;
use crate::metadata::groups::{GroupStore, GroupWrite};
use crate::metadata::MetadataStore;
use crate::server::now_ms;

/// How often timers (sessions, join deadlines) are checked.
const TICK: Duration = Duration::from_millis(50);

/// The APIs whose group id may be empty (Kafka's `isValidGroupId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupApi {
    /// OffsetCommit, OffsetFetch, DescribeGroups, DeleteGroups.
    EmptyIdAllowed,
    /// JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetDelete.
    Membership,
}

enum Slot {
    Loading,
    Ready(Arc<Mutex<Group>>),
}

type Shared = Arc<Mutex<Group>>;

fn lock(g: &Mutex<Group>) -> MutexGuard<'_, Group> {
    match g.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// One offset an OffsetCommit asks to store.
#[derive(Debug, Clone)]
pub struct OffsetToCommit {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
}

impl OffsetToCommit {
    /// The offset as the group keeps it once committed at `now`.
    fn committed(&self, now: i64, expire_timestamp: Option<i64>, seq: u64) -> Committed {
        Committed {
            offset: self.offset,
            leader_epoch: self.leader_epoch,
            metadata: self.metadata.clone(),
            commit_timestamp: now,
            expire_timestamp,
            seq,
        }
    }
}

/// One group in ListGroups.
#[derive(Debug, Clone)]
pub struct GroupOverview {
    pub group_id: String,
    pub protocol_type: String,
    pub state: GroupState,
}

/// One member in DescribeGroups.
#[derive(Debug, Clone)]
pub struct MemberSummary {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

/// DescribeGroups' view of a group.
#[derive(Debug, Clone)]
pub struct GroupSummary {
    pub state: GroupState,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<MemberSummary>,
}

pub struct GroupCoordinator {
    broker_id: i32,
    config: GroupConfig,
    metadata: Arc<MetadataStore>,
    store: Arc<GroupStore>,
    groups: Mutex<HashMap<String, Slot>>,
    /// The start-up load of the groups in coord is running.
    loading: AtomicBool,
}

impl GroupCoordinator {
    pub fn new(broker_id: i32, config: GroupConfig, metadata: Arc<MetadataStore>) -> Arc<Self> {
        let store = GroupStore::new(metadata.clone());
        Arc::new(GroupCoordinator {
            broker_id,
            config,
            metadata,
            store,
            groups: Mutex::new(HashMap::new()),
            loading: AtomicBool::new(true),
        })
    }

    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    fn map(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        match self.groups.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The broker coordinating `group` (None: no live broker known).
    pub fn coordinator_of(&self, group: &str) -> Option<i32> {
        coordinator_in(&self.metadata.snapshot(), group, self.config.slots)
    }

    pub fn is_coordinator(&self, group: &str) -> bool {
        self.coordinator_of(group) == Some(self.broker_id)
    }

    /// Kafka's `validateGroupStatus` plus the group itself, loaded from
    /// coord if this is its first use here.
    pub async fn group(&self, id: &str, api: GroupApi) -> Result<Shared, ResponseError> {
        if api == GroupApi::Membership && id.is_empty() {
            return Err(ResponseError::InvalidGroupId);
        }
        if !self.is_coordinator(id) {
            return Err(ResponseError::NotCoordinator);
        }
        {
            let mut map = self.map();
            match map.get(id) {
                Some(Slot::Ready(g)) => return Ok(g.clone()),
                Some(Slot::Loading) => return Err(ResponseError::CoordinatorLoadInProgress),
                None => {
                    map.insert(id.to_string(), Slot::Loading);
                }
            }
        }
        // Loaded on its own task, so a dropped request cannot leave the slot loading.
        let store = self.store.clone();
        let gid = id.to_string();
        let loaded = tokio::spawn(async move { store.load_group(&gid).await }).await;
        let mut map = self.map();
        match loaded {
            Ok(Ok(stored)) => {
                let group = match stored {
                    Some(s) => {
                        Group::from_stored(id, s, self.config.initial_rebalance_delay, now_ms())
                    }
                    None => Group::new(id, self.config.initial_rebalance_delay, now_ms()),
                };
                let shared = Arc::new(Mutex::new(group));
                map.insert(id.to_string(), Slot::Ready(shared.clone()));
                Ok(shared)
            }
            Ok(Err(e)) => {
                warn!(group = id, "loading group from coord: {e}");
                map.remove(id);
                Err(ResponseError::CoordinatorNotAvailable)
            }
            Err(e) => {
                warn!(group = id, "loading group: {e}");
                map.remove(id);
                Err(ResponseError::CoordinatorNotAvailable)
            }
        }
    }

    /// Sends the writes the group asked for; call with the group locked.
    fn flush_stores(&self, shared: &Shared, group: &mut Group) {
        for (kind, record) in group.take_stores() {
            let weak = Arc::downgrade(shared);
            let id = group.id.clone();
            self.store.submit(
                &group.id,
                GroupWrite::Record(record),
                Box::new(move |result| {
                    if let Err(e) = &result {
                        warn!(group = %id, "storing group record: {e}");
                    }
                    let Some(shared) = weak.upgrade() else { return };
                    let mut g = lock(&shared);
                    match kind {
                        StoreKind::Assignment { generation } => {
                            g.assignment_stored(generation, result.is_ok(), Instant::now())
                        }
                        StoreKind::Record => {
                            if result.is_ok() {
                                g.stored = true;
                            }
                        }
                    }
                }),
            );
        }
    }

    /// JoinGroup.
    pub async fn join(&self, group_id: &str, req: JoinRequest) -> JoinResult {
        let member_id = req.member_id.clone();
        let min = Duration::from_millis(self.config.min_session_timeout_ms.max(0) as u64);
        let max = Duration::from_millis(self.config.max_session_timeout_ms.max(0) as u64);
        if req.session_timeout < min || req.session_timeout > max {
            return JoinResult::error(&member_id, ResponseError::InvalidSessionTimeout);
        }
        let shared = match self.group(group_id, GroupApi::Membership).await {
            Ok(g) => g,
            Err(e) => return JoinResult::error(&member_id, e),
        };
        let reply = {
            let mut g = lock(&shared);
            let r = g.join(req, self.config.max_size, Instant::now());
            self.flush_stores(&shared, &mut g);
            r
        };
        match reply {
            Reply::Now(r) => r,
            Reply::Later(rx) => rx.await.unwrap_or_else(|_| {
                JoinResult::error(&member_id, ResponseError::CoordinatorNotAvailable)
            }),
        }
    }

    /// SyncGroup.
    #[allow(clippy::too_many_arguments)]
    pub async fn sync(
        &self,
        group_id: &str,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        assignments: BTreeMap<String, Bytes>,
    ) -> SyncResult {
        let shared = match self.group(group_id, GroupApi::Membership).await {
            Ok(g) => g,
            // The rebalance state was lost with the load: rejoin (Kafka).
            Err(ResponseError::CoordinatorLoadInProgress) => {
                return SyncResult::error(ResponseError::RebalanceInProgress)
            }
            Err(e) => return SyncResult::error(e),
        };
        let reply = {
            let mut g = lock(&shared);
            if g.is_vacant() {
                Reply::Now(SyncResult::error(ResponseError::UnknownMemberId))
            } else {
                let r = g.sync(
                    member_id,
                    instance,
                    generation,
                    protocol_type,
                    protocol_name,
                    assignments,
                    Instant::now(),
                );
                self.flush_stores(&shared, &mut g);
                r
            }
        };
        match reply {
            Reply::Now(r) => r,
            Reply::Later(rx) => rx
                .await
                .unwrap_or_else(|_| SyncResult::error(ResponseError::CoordinatorNotAvailable)),
        }
    }

    /// Heartbeat.
    pub async fn heartbeat(
        &self,
        group_id: &str,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
    ) -> Result<(), ResponseError> {
        let shared = match self.group(group_id, GroupApi::Membership).await {
            Ok(g) => g,
            // Kafka answers blindly while loading.
            Err(ResponseError::CoordinatorLoadInProgress) => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut g = lock(&shared);
        if g.is_vacant() {
            return Err(ResponseError::UnknownMemberId);
        }
        let r = g.heartbeat(member_id, instance, generation, Instant::now());
        self.flush_stores(&shared, &mut g);
        r
    }

    /// LeaveGroup: a group-level error, or one result per member.
    pub async fn leave(
        &self,
        group_id: &str,
        members: &[(String, Option<String>)],
    ) -> Result<Vec<Result<(), ResponseError>>, ResponseError> {
        let shared = self.group(group_id, GroupApi::Membership).await?;
        let mut g = lock(&shared);
        if g.state() == GroupState::Dead {
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        let now = Instant::now();
        let results = members
            .iter()
            .map(|(id, instance)| {
                if g.is_vacant() {
                    return Err(ResponseError::UnknownMemberId);
                }
                let r = g.leave(id, instance.as_deref(), now);
                if r.is_ok() {
                    info!(group = group_id, member = %id, "member left the group");
                }
                r
            })
            .collect();
        self.flush_stores(&shared, &mut g);
        Ok(results)
    }

    /// OffsetCommit for the partitions that passed the handler's checks:
    /// validated and queued in request order, one coord `multi` for the
    /// whole request; the receiver answers once coord stored it (`None`:
    /// nothing to store).
    pub async fn start_commit_offsets(
        &self,
        group_id: &str,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
        expire_timestamp: Option<i64>,
        offsets: Vec<OffsetToCommit>,
    ) -> Result<Option<oneshot::Receiver<Result<(), ResponseError>>>, ResponseError> {
        let shared = self.group(group_id, GroupApi::EmptyIdAllowed).await?;
        let mut g = lock(&shared);
        g.validate_commit(member_id, instance, generation, Instant::now())?;
        if offsets.is_empty() {
            return Ok(None);
        }
        let seq = g.next_seq();
        let now = now_ms();
        let committed: Vec<((String, i32), Committed)> = offsets
            .into_iter()
            .map(|o| {
                (
                    (o.topic.clone(), o.partition),
                    o.committed(now, expire_timestamp, seq),
                )
            })
            .collect();
        let write = offsets_json(&committed);
        let (tx, rx) = oneshot::channel();
        let weak = Arc::downgrade(&shared);
        let n = g.commit_sent();
        self.store.submit(
            group_id,
            GroupWrite::Offsets(write),
            Box::new(move |result| {
                let ok = match &result {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        warn!("committing offsets: {e}");
                        Err(ResponseError::CoordinatorNotAvailable)
                    }
                };
                if let Some(shared) = weak.upgrade() {
                    let mut g = lock(&shared);
                    if result.is_ok() {
                        g.apply_offsets(committed);
                    }
                    g.commit_answered(n);
                }
                let _ = tx.send(ok);
            }),
        );
        self.flush_stores(&shared, &mut g);
        Ok(Some(rx))
    }

    /// TxnOffsetCommit: offsets held for `producer_id`'s open transaction
    /// until its marker ([`Self::complete_transaction`]); stored in coord
    /// before the answer.
    #[allow(clippy::too_many_arguments)]
    pub async fn commit_txn_offsets(
        &self,
        group_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
        offsets: Vec<OffsetToCommit>,
    ) -> Result<(), ResponseError> {
        let shared = self.group(group_id, GroupApi::EmptyIdAllowed).await?;
        let rx = {
            let mut g = lock(&shared);
            g.validate_txn_commit(member_id, instance, generation)?;
            if offsets.is_empty() {
                return Ok(());
            }
            let now = now_ms();
            let committed = offsets
                .into_iter()
                .map(|o| ((o.topic.clone(), o.partition), o.committed(now, None, 0)))
                .collect();
            // Held in memory at once: the producer ends its transaction
            // only after this answer, so no marker can overtake the write.
            let json = g.pending_txns.add(producer_id, producer_epoch, committed)?;
            g.stored = true;
            let (tx, rx) = oneshot::channel();
            self.store.submit(
                group_id,
                GroupWrite::PendingTxn(json),
                Box::new(move |result| {
                    let _ = tx.send(result.map_err(|e| {
                        warn!("storing transactional offsets: {e}");
                        ResponseError::CoordinatorNotAvailable
                    }));
                }),
            );
            rx
        };
        rx.await
            .unwrap_or(Err(ResponseError::CoordinatorNotAvailable))
    }

    /// A transaction's marker reached this group coordinator (the
    /// WriteTxnMarkers handler calls this for `__consumer_offsets`): the
    /// offsets `producer_id` committed in it, in every group this broker
    /// coordinates, become committed offsets (`commit`) or are dropped.
    /// Returns once coord has stored the outcome; an error means the
    /// marker must be retried.
    pub async fn complete_transaction(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        slot: i32,
    ) -> Result<(), ResponseError> {
        // The marker names a slot of the offsets topic, as in Kafka: a broker
        // that no longer owns it says so and the coordinator asks the new one.
        let live: Vec<i32> = self.metadata.snapshot().brokers.keys().copied().collect();
        if coordinator_for_slot(slot, &live) != Some(self.broker_id) {
            return Err(ResponseError::NotCoordinator);
        }
        // Groups this broker took over may not be loaded yet.
        let ids = self.store.list_groups().await.map_err(|e| {
            warn!("listing groups for a transaction marker: {e}");
            ResponseError::CoordinatorNotAvailable
        })?;
        let mut waits = Vec::new();
        for id in ids
            .iter()
            .filter(|id| slot_for(id, self.config.slots) == slot && self.is_coordinator(id))
        {
            let shared = self.group(id, GroupApi::EmptyIdAllowed).await?;
            let mut g = lock(&shared);
            let Some(pending) = g.pending_txns.get(producer_id).cloned() else {
                continue;
            };
            let seq = g.next_seq();
            let committed: Vec<((String, i32), Committed)> = if commit {
                pending
                    .offsets
                    .into_iter()
                    .map(|(k, c)| (k, Committed { seq, ..c }))
                    .collect()
            } else {
                Vec::new()
            };
            let write = offsets_json(&committed);
            let (tx, rx) = oneshot::channel();
            let weak = Arc::downgrade(&shared);
            self.store.submit(
                id,
                GroupWrite::CompleteTxn {
                    producer_id,
                    commit: write,
                },
                Box::new(move |result| {
                    let ok = match result {
                        Ok(()) => {
                            if let Some(shared) = weak.upgrade() {
                                let mut g = lock(&shared);
                                g.pending_txns.remove(producer_id);
                                g.apply_offsets(committed);
                            }
                            Ok(())
                        }
                        Err(e) => {
                            warn!("completing transactional offsets: {e}");
                            Err(ResponseError::CoordinatorNotAvailable)
                        }
                    };
                    let _ = tx.send(ok);
                }),
            );
            info!(
                group = %id,
                producer_id,
                producer_epoch,
                "transactional offsets {}",
                if commit { "committed" } else { "aborted" }
            );
            waits.push(rx);
        }
        for rx in waits {
            rx.await
                .unwrap_or(Err(ResponseError::CoordinatorNotAvailable))?;
        }
        Ok(())
    }

    /// Partitions of `group_id` with offsets of an open transaction
    /// (OffsetFetch `require_stable`).
    pub async fn unstable_partitions(
        &self,
        group_id: &str,
    ) -> Result<std::collections::BTreeSet<(String, i32)>, ResponseError> {
        let shared = self.group(group_id, GroupApi::EmptyIdAllowed).await?;
        let g = lock(&shared);
        Ok(g.pending_txns.partitions())
    }

    /// OffsetFetch: the committed offsets of `partitions` (None: all).
    #[allow(clippy::type_complexity)]
    pub async fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: Option<Vec<(String, i32)>>,
    ) -> Result<Vec<((String, i32), Option<Committed>)>, ResponseError> {
        let shared = self.group(group_id, GroupApi::EmptyIdAllowed).await?;
        // OffsetCommits are answered asynchronously: read after the ones
        // already sent, so a fetch sees every commit that came before it.
        let settled = lock(&shared).commits_settled();
        if let Some(rx) = settled {
            let _ = rx.await;
        }
        let g = lock(&shared);
        Ok(match partitions {
            Some(list) => list
                .into_iter()
                .map(|k| {
                    let c = g.offsets.get(&k).cloned();
                    (k, c)
                })
                .collect(),
            None => g
                .offsets
                .iter()
                .map(|(k, c)| (k.clone(), Some(c.clone())))
                .collect(),
        })
    }

    /// DescribeGroups for one group.
    pub async fn describe(&self, group_id: &str) -> Result<GroupSummary, ResponseError> {
        let shared = self.group(group_id, GroupApi::EmptyIdAllowed).await?;
        let g = lock(&shared);
        if g.is_vacant() || g.state() == GroupState::Dead {
            return Ok(GroupSummary {
                state: GroupState::Dead,
                protocol_type: String::new(),
                protocol: String::new(),
                members: Vec::new(),
            });
        }
        let stable = g.state() == GroupState::Stable;
        let protocol = g.protocol().unwrap_or_default().to_string();
        Ok(GroupSummary {
            state: g.state(),
            protocol_type: g.protocol_type().unwrap_or_default().to_string(),
            protocol: if stable {
                protocol.clone()
            } else {
                String::new()
            },
            members: g
                .members()
                .map(|m| MemberSummary {
                    member_id: m.id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable {
                        m.metadata(&protocol)
                    } else {
                        Bytes::new()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
        })
    }

    /// The groups loaded here (not those still loading).
    fn ready_groups(&self) -> Vec<Shared> {
        self.map()
            .values()
            .filter_map(|s| match s {
                Slot::Ready(g) => Some(g.clone()),
                Slot::Loading => None,
            })
            .collect()
    }

    /// Every committed offset of the groups this broker coordinates, as
    /// (group, topic, partition, offset): what lag is measured from.
    pub fn committed_offsets(&self) -> Vec<(String, String, i32, i64)> {
        let mut out = Vec::new();
        for g in &self.ready_groups() {
            let g = lock(g);
            for ((topic, partition), c) in &g.offsets {
                out.push((g.id.clone(), topic.clone(), *partition, c.offset));
            }
        }
        out.sort();
        out
    }

    /// ListGroups: the groups this broker coordinates.
    pub fn list(&self) -> Result<Vec<GroupOverview>, ResponseError> {
        let shared = self.ready_groups();
        let mut out: Vec<GroupOverview> = shared
            .iter()
            .filter_map(|g| {
                let g = lock(g);
                (!g.is_vacant() && g.state() != GroupState::Dead).then(|| GroupOverview {
                    group_id: g.id.clone(),
                    protocol_type: g.protocol_type().unwrap_or_default().to_string(),
                    state: g.state(),
                })
            })
            .collect();
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        if self.loading.load(Ordering::Acquire) {
            return Err(ResponseError::CoordinatorLoadInProgress);
        }
        Ok(out)
    }

    /// DeleteGroups for one group.
    pub async fn delete_group(&self, group_id: &str) -> Result<(), ResponseError> {
        let shared = self.group(group_id, GroupApi::EmptyIdAllowed).await?;
        let rx = {
            let mut g = lock(&shared);
            if g.is_vacant() || g.state() == GroupState::Dead {
                return Err(ResponseError::GroupIdNotFound);
            }
            if g.state() != GroupState::Empty {
                return Err(ResponseError::NonEmptyGroup);
            }
            g.mark_dead(ResponseError::CoordinatorNotAvailable);
            g.offsets.clear();
            let (tx, rx) = oneshot::channel();
            self.store.submit(
                group_id,
                GroupWrite::DeleteGroup,
                Box::new(move |r| {
                    let _ = tx.send(r);
                }),
            );
            rx
        };
        self.remove_if_same(group_id, &shared);
        match rx.await {
            Ok(Ok(())) => {
                info!(group = group_id, "deleted group");
                Ok(())
            }
            Ok(Err(e)) => {
                warn!(group = group_id, "deleting group: {e}");
                Err(ResponseError::CoordinatorNotAvailable)
            }
            Err(_) => Err(ResponseError::CoordinatorNotAvailable),
        }
    }

    fn remove_if_same(&self, id: &str, shared: &Shared) {
        let mut map = self.map();
        if matches!(map.get(id), Some(Slot::Ready(g)) if Arc::ptr_eq(g, shared)) {
            map.remove(id);
        }
    }

    /// OffsetDelete: per partition, `Ok` or GROUP_SUBSCRIBED_TO_TOPIC.
    #[allow(clippy::type_complexity)]
    pub async fn delete_offsets(
        &self,
        group_id: &str,
        partitions: Vec<(String, i32)>,
    ) -> Result<Vec<((String, i32), Result<(), ResponseError>)>, ResponseError> {
        let shared = self.group(group_id, GroupApi::Membership).await?;
        let (results, rx) = {
            let mut g = lock(&shared);
            if g.is_vacant() || g.state() == GroupState::Dead {
                return Err(ResponseError::GroupIdNotFound);
            }
            let subscribed = match g.state() {
                GroupState::Empty => None,
                _ => match g.subscribed_topics() {
                    Some(t) => Some(t),
                    None => return Err(ResponseError::NonEmptyGroup),
                },
            };
            let mut results = Vec::new();
            let mut removed = Vec::new();
            for k in partitions {
                if subscribed.as_ref().is_some_and(|s| s.contains(&k.0)) {
                    results.push((k, Err(ResponseError::GroupSubscribedToTopic)));
                } else {
                    if g.offsets.remove(&k).is_some() {
                        removed.push(k.clone());
                    }
                    results.push((k, Ok(())));
                }
            }
            let (tx, rx) = oneshot::channel();
            self.store.submit(
                group_id,
                GroupWrite::DeleteOffsets(removed),
                Box::new(move |r| {
                    let _ = tx.send(r);
                }),
            );
            (results, rx)
        };
        match rx.await {
            Ok(Ok(())) => Ok(results),
            _ => Err(ResponseError::CoordinatorNotAvailable),
        }
    }

    /// Background work until `shutdown`: the start-up load, timers,
    /// offset expiry, unloading groups that moved away, and the coord writer.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let writer = tokio::spawn(self.store.clone().run_writer(shutdown.clone()));
        self.load_all().await;
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_cleanup = Instant::now();
        let mut last_ownership = Instant::now();
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => break,
            }
            let now = Instant::now();
            let groups: Vec<(String, Shared)> = self
                .map()
                .iter()
                .filter_map(|(k, s)| match s {
                    Slot::Ready(g) => Some((k.clone(), g.clone())),
                    Slot::Loading => None,
                })
                .collect();
            for (_, shared) in &groups {
                let mut g = lock(shared);
                g.tick(now);
                self.flush_stores(shared, &mut g);
            }
            // Every tick: a group that moved away must not be served from
            // this copy if it comes back (it reloads from coord then).
            if now.duration_since(last_ownership) >= TICK {
                last_ownership = now;
                for (id, shared) in &groups {
                    if !self.is_coordinator(id) && !self.metadata.snapshot().brokers.is_empty() {
                        info!(group = %id, "no longer the coordinator; unloading the group");
                        lock(shared).mark_dead(ResponseError::NotCoordinator);
                        self.remove_if_same(id, shared);
                    }
                }
            }
            if now.duration_since(last_cleanup) >= self.config.offsets_retention_check_interval {
                last_cleanup = now;
                self.cleanup(&groups);
            }
        }
        let _ = writer.await;
    }

    /// Loads every group in coord that this broker coordinates.
    async fn load_all(&self) {
        let mut backoff = Duration::from_millis(100);
        let ids = loop {
            match self.store.list_groups().await {
                Ok(ids) => break ids,
                Err(e) => {
                    warn!("listing groups in coord: {e}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        };
        let mut loaded = 0;
        for id in ids {
            if self.is_coordinator(&id) && self.group(&id, GroupApi::EmptyIdAllowed).await.is_ok() {
                loaded += 1;
            }
        }
        self.loading.store(false, Ordering::Release);
        info!(groups = loaded, "group coordinator loaded its groups");
    }

    /// Offset expiry and removal of groups with nothing left.
    fn cleanup(&self, groups: &[(String, Shared)]) {
        let now = now_ms();
        let retention = self.config.offsets_retention.as_millis() as i64;
        for (id, shared) in groups {
            let mut g = lock(shared);
            if g.is_vacant() {
                drop(g);
                self.remove_if_same(id, shared);
                continue;
            }
            let expired = g.expire_offsets(now, retention);
            if !expired.is_empty() {
                info!(group = %id, offsets = expired.len(), "expired committed offsets");
            }
            if g.state() == GroupState::Empty && g.offsets.is_empty() && g.pending_txns.is_empty() {
                // Kafka: an empty group without offsets is removed.
                g.mark_dead(ResponseError::CoordinatorNotAvailable);
                self.store
                    .submit(id, GroupWrite::DeleteGroup, Box::new(|_| {}));
                drop(g);
                self.remove_if_same(id, shared);
                info!(group = %id, "removed empty group with no offsets");
            } else if !expired.is_empty() {
                self.store
                    .submit(id, GroupWrite::DeleteOffsets(expired), Box::new(|_| {}));
            }
        }
    }
}
