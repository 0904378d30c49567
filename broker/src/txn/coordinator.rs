//! The transaction coordinator: finds or loads a transactional id, runs a
//! request through [`super::state`], writes the outcome to coord and only
//! then answers, and sends markers for what it decided.
//!
//! Ownership: the coordinator of an id is [`coordinator_in`] over the live
//! brokers, as for groups. Each id has one async lock held across its coord
//! write, so one id's requests are decided one at a time and in order.
//! Loading an id (first use here, or [`TransactionCoordinator::run`]
//! noticing that this broker now owns it) bumps its `coordinator_epoch` with
//! a write conditional on the version read: from then on a previous
//! coordinator's conditional writes fail (it answers NOT_COORDINATOR), and
//! markers carry the new epoch. A loaded PrepareCommit or PrepareAbort has
//! its markers sent again and is completed as decided.
//!
//! A request whose future is dropped mid-write leaves its id unloaded, so
//! the next request reads coord again instead of trusting memory.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use kafka_protocol::error::ResponseError;
use tokio::sync::{watch, OwnedMutexGuard};
use tracing::{debug, info, warn};

use super::markers::{MarkerError, MarkerSender, Markers};
use super::producer_id::ProducerIdManager;
use super::state::{self, is_epoch_exhausted, EndPlan, InitPlan, TxnMetadata, TxnState};
use crate::config::TransactionConfig;
use crate::group::assignment::coordinator_in;
use crate::metadata::transactions::{TxnStore, TxnStoreError};
use crate::metadata::MetadataStore;
use crate::server::now_ms;

/// An id's record as this coordinator knows it.
enum Known {
    /// Not read from coord yet (or a write's outcome is unknown).
    Unloaded,
    /// Coord has no record.
    Absent,
    /// The record and the znode version it is at.
    Present { meta: TxnMetadata, version: i32 },
}

type Slot = Arc<tokio::sync::Mutex<Known>>;
type Locked = OwnedMutexGuard<Known>;

pub struct TransactionCoordinator {
    broker_id: i32,
    config: TransactionConfig,
    /// `offsets.topic.num.partitions`: where group markers go.
    metadata: Arc<MetadataStore>,
    store: Arc<TxnStore>,
    producer_ids: ProducerIdManager,
    markers: MarkerSender,
    ids: Mutex<HashMap<String, Slot>>,
    /// Ids being read from coord: requests for them meanwhile get
    /// COORDINATOR_LOAD_IN_PROGRESS, as Kafka answers while it loads.
    loading: Arc<Mutex<HashSet<String>>>,
    stopping: AtomicBool,
}

/// Marks an id as loading until dropped (also when the loading request's
/// future is dropped).
struct LoadingMark {
    set: Arc<Mutex<HashSet<String>>>,
    id: String,
}

impl Drop for LoadingMark {
    fn drop(&mut self) {
        match self.set.lock() {
            Ok(mut s) => s.remove(&self.id),
            Err(p) => p.into_inner().remove(&self.id),
        };
    }
}

fn coord_error(id: &str, e: TxnStoreError) -> ResponseError {
    match e {
        TxnStoreError::Fenced { .. } => {
            info!(
                transactional_id = id,
                "another coordinator wrote the id: {e}"
            );
            ResponseError::NotCoordinator
        }
        other => {
            warn!(transactional_id = id, "coord: {other}");
            ResponseError::CoordinatorNotAvailable
        }
    }
}

impl TransactionCoordinator {
    pub fn new(
        broker_id: i32,
        config: TransactionConfig,
        group_slots: i32,
        metadata: Arc<MetadataStore>,
        security: runnel_common::kafka::ClientSecurity,
    ) -> Arc<TransactionCoordinator> {
        let store = Arc::new(TxnStore::new(metadata.clone()));
        Arc::new(TransactionCoordinator {
            broker_id,
            config,
            markers: MarkerSender::new(broker_id, metadata.clone(), group_slots, security),
            metadata,
            producer_ids: ProducerIdManager::new(broker_id, store.clone()),
            store,
            ids: Mutex::new(HashMap::new()),
            loading: Arc::new(Mutex::new(HashSet::new())),
            stopping: AtomicBool::new(false),
        })
    }

    pub fn config(&self) -> &TransactionConfig {
        &self.config
    }

    fn map(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        match self.ids.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        }
    }

    /// The broker coordinating `transactional_id` (None: no live broker).
    pub fn coordinator_of(&self, transactional_id: &str) -> Option<i32> {
        coordinator_in(
            &self.metadata.snapshot(),
            transactional_id,
            self.config.slots,
        )
    }

    pub fn is_coordinator(&self, transactional_id: &str) -> bool {
        self.coordinator_of(transactional_id) == Some(self.broker_id)
    }

    async fn new_producer_id(&self) -> Result<i64, ResponseError> {
        self.producer_ids.next_id().await.map_err(|e| {
            warn!("allocating a producer id: {e}");
            ResponseError::CoordinatorNotAvailable
        })
    }

    /// InitProducerId without a transactional id: always a new producer id
    /// at epoch 0, as Kafka's coordinator answers — also for a KIP-360
    /// client that sends its old id and epoch after losing its state. An
    /// idempotent id has no record here to check a bump against, so handing
    /// the same id back would let any client take over (and fence) any
    /// producer id, transactional ones included.
    pub async fn init_idempotent(&self) -> Result<(i64, i16), ResponseError> {
        Ok((self.new_producer_id().await?, 0))
    }

    /// The id's lock, with its record loaded. NOT_COORDINATOR if another
    /// broker owns it.
    async fn lock(self: &Arc<Self>, id: &str) -> Result<Locked, ResponseError> {
        if !self.is_coordinator(id) {
            return Err(ResponseError::NotCoordinator);
        }
        if self.is_loading(id) {
            return Err(ResponseError::CoordinatorLoadInProgress);
        }
        let slot = self
            .map()
            .entry(id.to_string())
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(Known::Unloaded)))
            .clone();
        let mut guard = slot.lock_owned().await;
        if matches!(*guard, Known::Unloaded) {
            let _mark = self.mark_loading(id);
            self.load(id, &mut guard).await?;
        }
        Ok(guard)
    }

    fn is_loading(&self, id: &str) -> bool {
        match self.loading.lock() {
            Ok(s) => s.contains(id),
            Err(p) => p.into_inner().contains(id),
        }
    }

    fn mark_loading(&self, id: &str) -> LoadingMark {
        match self.loading.lock() {
            Ok(mut s) => s.insert(id.to_string()),
            Err(p) => p.into_inner().insert(id.to_string()),
        };
        LoadingMark {
            set: self.loading.clone(),
            id: id.to_string(),
        }
    }

    /// Reads the id from coord and claims it with a new coordinator epoch;
    /// an unfinished EndTxn gets its markers sent.
    async fn load(self: &Arc<Self>, id: &str, guard: &mut Locked) -> Result<(), ResponseError> {
        let stored = self.store.load(id).await.map_err(|e| coord_error(id, e))?;
        let Some(stored) = stored else {
            **guard = Known::Absent;
            return Ok(());
        };
        let mut meta = TxnMetadata::from_json(id, &stored.record).map_err(|e| {
            warn!("{e}");
            ResponseError::CoordinatorNotAvailable
        })?;
        meta.coordinator_epoch = meta.coordinator_epoch.saturating_add(1);
        let version = self
            .store
            .write(id, &meta.to_json(), Some(stored.version))
            .await
            .map_err(|e| coord_error(id, e))?;
        info!(
            transactional_id = id,
            state = meta.state.name(),
            coordinator_epoch = meta.coordinator_epoch,
            "loaded transactional id"
        );
        if meta.state.is_prepared() {
            self.spawn_markers(meta.clone());
        }
        **guard = Known::Present { meta, version };
        Ok(())
    }

    /// Writes `next` to coord (conditional on the version held) and, once
    /// coord acknowledged it, makes it the id's state.
    async fn persist(
        &self,
        id: &str,
        guard: &mut Locked,
        next: TxnMetadata,
    ) -> Result<(), ResponseError> {
        let expected = match &**guard {
            Known::Present { version, .. } => Some(*version),
            _ => None,
        };
        // Until the write is known to have happened, memory says nothing.
        **guard = Known::Unloaded;
        let version = self
            .store
            .write(id, &next.to_json(), expected)
            .await
            .map_err(|e| coord_error(id, e))?;
        **guard = Known::Present {
            meta: next,
            version,
        };
        Ok(())
    }

    /// InitProducerId with a transactional id (Kafka's
    /// `handleInitProducerId`): a new id gets a producer id at epoch 0, a
    /// known one its epoch bumped, fencing older producers; an open
    /// transaction is aborted first (CONCURRENT_TRANSACTIONS meanwhile).
    pub async fn init_transactional(
        self: &Arc<Self>,
        id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<(i64, i16), ResponseError> {
        if id.is_empty() {
            return Err(ResponseError::InvalidRequest);
        }
        if timeout_ms <= 0 || timeout_ms > self.config.max_timeout_ms {
            return Err(ResponseError::InvalidTransactionTimeout);
        }
        let mut guard = self.lock(id).await?;
        let now = now_ms();
        let current = match &*guard {
            Known::Present { meta, .. } => meta.clone(),
            _ => TxnMetadata::new(id, self.new_producer_id().await?, timeout_ms, now),
        };
        let mut spare = if is_epoch_exhausted(current.producer_epoch) {
            Some(self.new_producer_id().await?)
        } else {
            None
        };
        let (next, plan) =
            state::init_producer_id(&current, timeout_ms, expected, now, &mut || spare.take())?;
        self.persist(id, &mut guard, next.clone()).await?;
        match plan {
            InitPlan::Write => {
                info!(
                    transactional_id = id,
                    producer_id = next.producer_id,
                    producer_epoch = next.producer_epoch,
                    "initialized transactional id"
                );
                Ok((next.producer_id, next.producer_epoch))
            }
            InitPlan::FenceAndAbort => {
                info!(
                    transactional_id = id,
                    "fencing producer epoch {} and aborting its transaction",
                    current.producer_epoch
                );
                self.spawn_markers(next);
                Err(ResponseError::ConcurrentTransactions)
            }
        }
    }

    /// AddPartitionsToTxn (and AddOffsetsToTxn, whose group is a marker
    /// destination of its own).
    pub async fn add_to_txn(
        self: &Arc<Self>,
        id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[(String, i32)],
        groups: &[String],
    ) -> Result<(), ResponseError> {
        if id.is_empty() {
            return Err(ResponseError::InvalidRequest);
        }
        let mut guard = self.lock(id).await?;
        let Known::Present { meta, .. } = &*guard else {
            return Err(ResponseError::InvalidProducerIdMapping);
        };
        let next = state::add_partitions(
            meta,
            producer_id,
            producer_epoch,
            partitions,
            groups,
            now_ms(),
        )?;
        match next {
            None => Ok(()),
            Some(next) => self.persist(id, &mut guard, next).await,
        }
    }

    /// EndTxn: PrepareCommit / PrepareAbort to coord, answer, then markers.
    pub async fn end_txn(
        self: &Arc<Self>,
        id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    ) -> Result<(), ResponseError> {
        if id.is_empty() {
            return Err(ResponseError::InvalidRequest);
        }
        let mut guard = self.lock(id).await?;
        let Known::Present { meta, .. } = &*guard else {
            return Err(ResponseError::InvalidProducerIdMapping);
        };
        match state::end_txn(meta, producer_id, producer_epoch, commit, now_ms())? {
            EndPlan::AlreadyDone => Ok(()),
            EndPlan::Prepare(next) => {
                self.persist(id, &mut guard, next.clone()).await?;
                drop(guard);
                self.spawn_markers(next);
                Ok(())
            }
        }
    }

    /// DescribeTransactions for one id.
    pub async fn describe(self: &Arc<Self>, id: &str) -> Result<TxnMetadata, ResponseError> {
        if id.is_empty() {
            return Err(ResponseError::InvalidRequest);
        }
        let guard = self.lock(id).await?;
        match &*guard {
            Known::Present { meta, .. } if meta.state != TxnState::Dead => Ok(meta.clone()),
            _ => Err(ResponseError::TransactionalIdNotFound),
        }
    }

    /// ListTransactions: the ids this broker coordinates, filtered by state
    /// names and producer ids (empty filter: all).
    pub async fn list(
        self: &Arc<Self>,
        states: &BTreeSet<TxnState>,
        producer_ids: &BTreeSet<i64>,
    ) -> Vec<TxnMetadata> {
        self.take_over().await;
        let slots: Vec<Slot> = self.map().values().cloned().collect();
        let mut out = Vec::new();
        for slot in slots {
            let guard = slot.lock().await;
            if let Known::Present { meta, .. } = &*guard {
                if (states.is_empty() || states.contains(&meta.state))
                    && (producer_ids.is_empty() || producer_ids.contains(&meta.producer_id))
                {
                    out.push(meta.clone());
                }
            }
        }
        out.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        out
    }

    /// Sends the markers of a Prepare record on a task of their own, then
    /// writes Complete — if the id is still in that state, at that epoch,
    /// under this coordinator.
    fn spawn_markers(self: &Arc<Self>, decided: TxnMetadata) {
        let this = self.clone();
        tokio::spawn(async move { this.finish(decided).await });
    }

    async fn finish(self: Arc<Self>, decided: TxnMetadata) {
        let id = decided.transactional_id.clone();
        let markers = Markers {
            transactional_id: id.clone(),
            producer_id: decided.producer_id,
            producer_epoch: decided.producer_epoch,
            coordinator_epoch: decided.coordinator_epoch,
            commit: decided.state == TxnState::PrepareCommit,
            partitions: decided.partitions.clone(),
            groups: decided.groups.clone(),
        };
        let wanted = || !self.stopping.load(Ordering::Acquire) && self.is_coordinator(&id);
        match self.markers.send(&markers, wanted).await {
            Ok(()) => {}
            Err(e @ MarkerError::Cancelled(_)) => {
                debug!("{e}");
                return;
            }
            Err(e) => {
                warn!("{e}");
                return;
            }
        }
        let Ok(mut guard) = self.lock(&id).await else {
            return;
        };
        let Known::Present { meta, .. } = &*guard else {
            return;
        };
        let same = meta.state == decided.state
            && meta.producer_id == decided.producer_id
            && meta.producer_epoch == decided.producer_epoch
            && meta.coordinator_epoch == decided.coordinator_epoch;
        if !same {
            // Reloaded or changed meanwhile: whoever did that finishes it.
            return;
        }
        let Some(next) = state::complete(meta, now_ms()) else {
            return;
        };
        let state = next.state;
        match self.persist(&id, &mut guard, next).await {
            Ok(()) => info!(transactional_id = %id, "transaction {}", state.name()),
            Err(e) => warn!(transactional_id = %id, "completing the transaction: {e}"),
        }
    }

    /// Loads every id in coord this broker now coordinates (finishing their
    /// unfinished transactions) and forgets ids it no longer does.
    async fn take_over(self: &Arc<Self>) {
        let ids = match self.store.list().await {
            Ok(ids) => ids,
            Err(e) => {
                debug!("listing transactional ids: {e}");
                return;
            }
        };
        self.map().retain(|id, _| self.is_coordinator(id));
        for id in ids {
            if !self.is_coordinator(&id) {
                continue;
            }
            let loaded = matches!(self.map().get(&id), Some(s) if s.try_lock().is_ok_and(|g| !matches!(*g, Known::Unloaded)));
            if !loaded {
                if let Err(e) = self.lock(&id).await {
                    debug!(transactional_id = %id, "loading: {e}");
                }
            }
        }
    }

    /// Every id this coordinator knows, with its slot (a copy, so the map
    /// is not held while a slot is worked on).
    fn slots(&self) -> Vec<(String, Slot)> {
        self.map()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Kafka's `abortTimedOutTransactions`: an open transaction past its
    /// timeout is aborted under a bumped epoch, so the producer that opened
    /// it is fenced.
    async fn abort_timed_out(self: &Arc<Self>) {
        let now = now_ms();
        let slots = self.slots();
        for (id, slot) in slots {
            let Ok(mut guard) = slot.try_lock_owned() else {
                continue;
            };
            let Known::Present { meta, .. } = &*guard else {
                continue;
            };
            if !state::is_timed_out(meta, now) {
                continue;
            }
            let Ok(next) = state::fence_and_abort(meta, now) else {
                continue;
            };
            info!(
                transactional_id = %id,
                producer_id = meta.producer_id,
                "aborting a transaction open longer than {} ms", meta.timeout_ms
            );
            if self.persist(&id, &mut guard, next.clone()).await.is_ok() {
                drop(guard);
                self.spawn_markers(next);
            }
        }
    }

    /// Removes ids idle longer than `transactional.id.expiration.ms`.
    async fn expire_ids(self: &Arc<Self>) {
        let now = now_ms();
        let expiration = self.config.id_expiration.as_millis() as i64;
        let slots = self.slots();
        for (id, slot) in slots {
            let Ok(mut guard) = slot.try_lock_owned() else {
                continue;
            };
            let Known::Present { meta, version } = &*guard else {
                continue;
            };
            if !state::is_expired(meta, now, expiration) {
                continue;
            }
            match self.store.delete(&id, *version).await {
                Ok(()) => {
                    info!(transactional_id = %id, "expired idle transactional id");
                    *guard = Known::Absent;
                }
                Err(e) => {
                    debug!(transactional_id = %id, "expiring: {e}");
                    *guard = Known::Unloaded;
                }
            }
        }
    }

    /// Background work until `shutdown`: take over ids when the live
    /// brokers change, abort timed-out transactions, expire idle ids.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut changes = self.metadata.subscribe();
        let mut abort_tick = tokio::time::interval(self.config.abort_timed_out_interval);
        let mut expire_tick = tokio::time::interval(self.config.remove_expired_interval);
        abort_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        expire_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut live: BTreeSet<i32> = BTreeSet::new();
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                r = changes.changed() => {
                    if r.is_err() {
                        break;
                    }
                    let now: BTreeSet<i32> =
                        self.metadata.snapshot().brokers.keys().copied().collect();
                    if now != live {
                        live = now;
                        self.take_over().await;
                    }
                }
                _ = abort_tick.tick() => {
                    // Also catches ids written while this broker was not
                    // looking (a take-over that failed on a coord error).
                    self.take_over().await;
                    self.abort_timed_out().await;
                }
                _ = expire_tick.tick() => self.expire_ids().await,
            }
        }
        self.stopping.store(true, Ordering::Release);
    }
}
