//! One transactional id's state machine (Kafka's `TransactionMetadata`):
//! pure functions from the current record and a request to the record to
//! write next, or the Kafka error to answer. Nothing here does I/O; the
//! coordinator writes what these return to coord before answering.
//!
//! ```text
//! Empty ──AddPartitions──▶ Ongoing ──EndTxn──▶ PrepareCommit ──markers──▶ CompleteCommit
//!   ▲                        │    └──EndTxn/timeout──▶ PrepareAbort ──markers──▶ CompleteAbort
//!   └──InitProducerId────────┴─(Ongoing: PrepareEpochFence ▶ PrepareAbort)
//! ```

use std::collections::BTreeSet;

use kafka_protocol::error::ResponseError;

use crate::metadata::transactions::{TxnJson, TxnPartitionJson};

/// Kafka's `RecordBatch.NO_PRODUCER_ID`.
pub const NO_PRODUCER_ID: i64 = -1;
/// Kafka's `RecordBatch.NO_PRODUCER_EPOCH`.
pub const NO_PRODUCER_EPOCH: i16 = -1;

/// Kafka's `TransactionMetadata.isEpochExhausted`: the last epoch is kept
/// free so a fence can always bump once more.
pub fn is_epoch_exhausted(epoch: i16) -> bool {
    epoch >= i16::MAX - 1
}

/// Kafka's `TransactionState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TxnState {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
    Dead,
    PrepareEpochFence,
}

impl TxnState {
    pub const ALL: [TxnState; 8] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
        TxnState::Dead,
        TxnState::PrepareEpochFence,
    ];

    /// Kafka's name, as DescribeTransactions and ListTransactions report it.
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    pub fn from_name(name: &str) -> Option<TxnState> {
        TxnState::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Markers still have to be written.
    pub fn is_prepared(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }

    /// No transaction is open: a new one may start.
    pub fn is_idle(self) -> bool {
        matches!(
            self,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        )
    }
}

/// A transactional id's record in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub last_producer_id: i64,
    pub last_producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    pub partitions: BTreeSet<(String, i32)>,
    pub groups: BTreeSet<String>,
    /// When the open transaction started (-1: none).
    pub txn_start_ms: i64,
    pub last_update_ms: i64,
    pub coordinator_epoch: i32,
}

/// A record in coord that does not parse as a state.
#[derive(Debug, thiserror::Error)]
#[error("transactional id {id}: unknown state {state:?}")]
pub struct BadState {
    pub id: String,
    pub state: String,
}

impl TxnMetadata {
    /// A new id with a fresh producer id and no epoch yet.
    pub fn new(id: &str, producer_id: i64, timeout_ms: i32, now: i64) -> TxnMetadata {
        TxnMetadata {
            transactional_id: id.to_string(),
            producer_id,
            producer_epoch: NO_PRODUCER_EPOCH,
            last_producer_id: NO_PRODUCER_ID,
            last_producer_epoch: NO_PRODUCER_EPOCH,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            groups: BTreeSet::new(),
            txn_start_ms: -1,
            last_update_ms: now,
            coordinator_epoch: 0,
        }
    }

    pub fn from_json(id: &str, j: &TxnJson) -> Result<TxnMetadata, BadState> {
        let state = TxnState::from_name(&j.state).ok_or_else(|| BadState {
            id: id.to_string(),
            state: j.state.clone(),
        })?;
        Ok(TxnMetadata {
            transactional_id: id.to_string(),
            producer_id: j.producer_id,
            producer_epoch: j.producer_epoch,
            last_producer_id: j.last_producer_id,
            last_producer_epoch: j.last_producer_epoch,
            timeout_ms: j.timeout_ms,
            state,
            partitions: j
                .partitions
                .iter()
                .map(|p| (p.topic.clone(), p.partition))
                .collect(),
            groups: j.groups.iter().cloned().collect(),
            txn_start_ms: j.txn_start_ms,
            last_update_ms: j.last_update_ms,
            coordinator_epoch: j.coordinator_epoch,
        })
    }

    pub fn to_json(&self) -> TxnJson {
        TxnJson {
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            last_producer_id: self.last_producer_id,
            last_producer_epoch: self.last_producer_epoch,
            timeout_ms: self.timeout_ms,
            state: self.state.name().to_string(),
            partitions: self
                .partitions
                .iter()
                .map(|(topic, partition)| TxnPartitionJson {
                    topic: topic.clone(),
                    partition: *partition,
                })
                .collect(),
            groups: self.groups.iter().cloned().collect(),
            txn_start_ms: self.txn_start_ms,
            last_update_ms: self.last_update_ms,
            coordinator_epoch: self.coordinator_epoch,
        }
    }

    /// The partitions the markers go to (groups become `__consumer_offsets`
    /// at their coordinator).
    pub fn has_markers(&self) -> bool {
        !self.partitions.is_empty() || !self.groups.is_empty()
    }
}

/// What InitProducerId asks for, after the transactional-id checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitPlan {
    /// Write this record and answer with its producer id and epoch.
    Write,
    /// Write this PrepareEpochFence → PrepareAbort record, send abort
    /// markers, and answer CONCURRENT_TRANSACTIONS so the client retries.
    FenceAndAbort,
}

/// Kafka's `prepareInitProducerIdTransit`. `expected`: the producer id and
/// epoch a KIP-360/588 client sends (v3+), if it sent them. `new_id` is
/// called only when the producer id has to change.
pub fn init_producer_id(
    m: &TxnMetadata,
    timeout_ms: i32,
    expected: Option<(i64, i16)>,
    now: i64,
    new_id: &mut dyn FnMut() -> Option<i64>,
) -> Result<(TxnMetadata, InitPlan), ResponseError> {
    if let Some((pid, epoch)) = expected {
        // The caller may be a retry of a bump it never heard the answer to.
        let valid = m.producer_epoch == NO_PRODUCER_EPOCH
            || pid == m.producer_id
            || (pid == m.last_producer_id && is_epoch_exhausted(epoch));
        if !valid {
            return Err(ResponseError::ProducerFenced);
        }
    }
    match m.state {
        TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence => {
            Err(ResponseError::ConcurrentTransactions)
        }
        TxnState::Dead => Err(ResponseError::ConcurrentTransactions),
        TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {
            let mut next = m.clone();
            next.timeout_ms = timeout_ms;
            next.state = TxnState::Empty;
            next.partitions.clear();
            next.groups.clear();
            next.txn_start_ms = -1;
            next.last_update_ms = now;
            if is_epoch_exhausted(m.producer_epoch)
                && expected.is_none_or(|(_, e)| e == m.producer_epoch)
            {
                // Rotate to a new producer id.
                let pid = new_id().ok_or(ResponseError::UnknownServerError)?;
                next.last_producer_id = m.producer_id;
                next.producer_id = pid;
                next.last_producer_epoch = if expected.is_some() {
                    m.producer_epoch
                } else {
                    NO_PRODUCER_EPOCH
                };
                next.producer_epoch = 0;
                return Ok((next, InitPlan::Write));
            }
            let bumped = m.producer_epoch + 1;
            let (epoch, last) = match expected {
                None => (bumped, NO_PRODUCER_EPOCH),
                Some((_, e)) if m.producer_epoch == NO_PRODUCER_EPOCH || e == m.producer_epoch => {
                    (bumped, m.producer_epoch)
                }
                // A retry of the bump we already made: answer it again.
                Some((_, e)) if e == m.last_producer_epoch => {
                    (m.producer_epoch, m.last_producer_epoch)
                }
                Some(_) => return Err(ResponseError::ProducerFenced),
            };
            next.producer_epoch = epoch;
            next.last_producer_epoch = last;
            Ok((next, InitPlan::Write))
        }
        TxnState::Ongoing => {
            // Abort the open transaction under a bumped epoch (never handed
            // to a client); the client's retry bumps once more.
            let next = fence_and_abort(m, now)?;
            Ok((next, InitPlan::FenceAndAbort))
        }
    }
}

/// Kafka's `prepareFenceProducerEpoch` followed by the abort the fence
/// starts, as one record: the epoch is bumped so the fenced producer's
/// requests fail, and the state is PrepareAbort so a new coordinator
/// finishes the abort.
pub fn fence_and_abort(m: &TxnMetadata, now: i64) -> Result<TxnMetadata, ResponseError> {
    if m.state != TxnState::Ongoing {
        return Err(ResponseError::InvalidTxnState);
    }
    let mut next = m.clone();
    if !is_epoch_exhausted(m.producer_epoch) {
        next.producer_epoch = m.producer_epoch + 1;
    }
    next.last_producer_epoch = NO_PRODUCER_EPOCH;
    next.state = TxnState::PrepareAbort;
    next.last_update_ms = now;
    Ok(next)
}

/// Checks a client's producer id and epoch against the record.
fn check_producer(m: &TxnMetadata, producer_id: i64, epoch: i16) -> Result<(), ResponseError> {
    if m.producer_id != producer_id {
        return Err(ResponseError::InvalidProducerIdMapping);
    }
    if m.producer_epoch != epoch {
        return Err(ResponseError::ProducerFenced);
    }
    Ok(())
}

/// Kafka's AddPartitionsToTxn checks and `prepareAddPartitions`. `Ok(None)`:
/// nothing to write (the partitions are already in the transaction).
pub fn add_partitions(
    m: &TxnMetadata,
    producer_id: i64,
    epoch: i16,
    partitions: &[(String, i32)],
    groups: &[String],
    now: i64,
) -> Result<Option<TxnMetadata>, ResponseError> {
    check_producer(m, producer_id, epoch)?;
    match m.state {
        TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence => {
            return Err(ResponseError::ConcurrentTransactions)
        }
        TxnState::Dead => return Err(ResponseError::InvalidTxnState),
        _ => {}
    }
    if m.state == TxnState::Ongoing
        && partitions.iter().all(|p| m.partitions.contains(p))
        && groups.iter().all(|g| m.groups.contains(g))
    {
        return Ok(None);
    }
    let mut next = m.clone();
    if m.state != TxnState::Ongoing {
        next.txn_start_ms = now;
        next.partitions.clear();
        next.groups.clear();
    }
    next.state = TxnState::Ongoing;
    next.partitions.extend(partitions.iter().cloned());
    next.groups.extend(groups.iter().cloned());
    next.last_update_ms = now;
    Ok(Some(next))
}

/// What EndTxn leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndPlan {
    /// Write this Prepare record, answer, then send markers.
    Prepare(TxnMetadata),
    /// Already done (a retry after the answer was lost): answer OK.
    AlreadyDone,
}

/// Kafka's `endTransaction` checks and `prepareAbortOrCommit`.
pub fn end_txn(
    m: &TxnMetadata,
    producer_id: i64,
    epoch: i16,
    commit: bool,
    now: i64,
) -> Result<EndPlan, ResponseError> {
    check_producer(m, producer_id, epoch)?;
    match (m.state, commit) {
        (TxnState::Ongoing, _) => {
            let mut next = m.clone();
            next.state = if commit {
                TxnState::PrepareCommit
            } else {
                TxnState::PrepareAbort
            };
            next.last_update_ms = now;
            Ok(EndPlan::Prepare(next))
        }
        (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => {
            Ok(EndPlan::AlreadyDone)
        }
        (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
            Err(ResponseError::ConcurrentTransactions)
        }
        (TxnState::PrepareEpochFence, _) => Err(ResponseError::ConcurrentTransactions),
        _ => Err(ResponseError::InvalidTxnState),
    }
}

/// Kafka's `prepareComplete`: the markers are all written.
pub fn complete(m: &TxnMetadata, now: i64) -> Option<TxnMetadata> {
    let state = match m.state {
        TxnState::PrepareCommit => TxnState::CompleteCommit,
        TxnState::PrepareAbort => TxnState::CompleteAbort,
        _ => return None,
    };
    let mut next = m.clone();
    next.state = state;
    next.partitions.clear();
    next.groups.clear();
    next.last_update_ms = now;
    Some(next)
}

/// Kafka's `timedOutTransactions`: open longer than its timeout.
pub fn is_timed_out(m: &TxnMetadata, now: i64) -> bool {
    m.state == TxnState::Ongoing
        && m.txn_start_ms >= 0
        && m.txn_start_ms + i64::from(m.timeout_ms) < now
}

/// Kafka's id expiration: idle (no open transaction) for `expiration_ms`.
pub fn is_expired(m: &TxnMetadata, now: i64, expiration_ms: i64) -> bool {
    m.state.is_idle() && m.last_update_ms + expiration_ms <= now
}

/// KIP-588 moved fencing to PRODUCER_FENCED; older request versions get
/// INVALID_PRODUCER_EPOCH, as Kafka's `KafkaApis` maps it. `first_new`: the
/// first version that knows PRODUCER_FENCED.
pub fn fenced_for_version(e: ResponseError, version: i16, first_new: i16) -> ResponseError {
    if e == ResponseError::ProducerFenced && version < first_new {
        ResponseError::InvalidProducerEpoch
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> TxnMetadata {
        TxnMetadata::new("t", 10, 60_000, 0)
    }

    fn no_new_id() -> Option<i64> {
        None
    }

    fn init(m: &TxnMetadata, expected: Option<(i64, i16)>) -> (TxnMetadata, InitPlan) {
        init_producer_id(m, 60_000, expected, 1, &mut no_new_id).unwrap()
    }

    fn ongoing() -> TxnMetadata {
        let (m, _) = init(&fresh(), None);
        add_partitions(&m, 10, 0, &[("a".into(), 0)], &[], 5)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn names_round_trip() {
        for s in TxnState::ALL {
            assert_eq!(TxnState::from_name(s.name()), Some(s));
        }
        assert_eq!(TxnState::from_name("Nope"), None);
    }

    #[test]
    fn first_init_gives_epoch_zero_then_bumps() {
        let (m, plan) = init(&fresh(), None);
        assert_eq!(
            (m.producer_id, m.producer_epoch, plan),
            (10, 0, InitPlan::Write)
        );
        let (m2, _) = init(&m, None);
        assert_eq!(m2.producer_epoch, 1);
        assert_eq!(m2.last_producer_epoch, NO_PRODUCER_EPOCH);
    }

    #[test]
    fn kip588_expected_epoch() {
        let (m, _) = init(&fresh(), None);
        // Matching current: bump, remember the last.
        let (m2, _) = init(&m, Some((10, 0)));
        assert_eq!((m2.producer_epoch, m2.last_producer_epoch), (1, 0));
        // A retry of that bump: same answer, no second bump.
        let (m3, _) = init(&m2, Some((10, 0)));
        assert_eq!((m3.producer_epoch, m3.last_producer_epoch), (1, 0));
        // Anything else is fenced.
        assert_eq!(
            init_producer_id(&m2, 1, Some((10, 7)), 1, &mut no_new_id).unwrap_err(),
            ResponseError::ProducerFenced
        );
        assert_eq!(
            init_producer_id(&m2, 1, Some((99, 1)), 1, &mut no_new_id).unwrap_err(),
            ResponseError::ProducerFenced
        );
    }

    #[test]
    fn exhausted_epoch_rotates_the_producer_id() {
        let mut m = fresh();
        m.producer_epoch = i16::MAX - 1;
        let (next, _) = init_producer_id(&m, 1, None, 1, &mut || Some(77)).unwrap();
        assert_eq!((next.producer_id, next.producer_epoch), (77, 0));
        assert_eq!(next.last_producer_id, 10);
    }

    #[test]
    fn init_while_ongoing_fences_and_aborts() {
        let m = ongoing();
        let (next, plan) = init(&m, None);
        assert_eq!(plan, InitPlan::FenceAndAbort);
        assert_eq!(next.state, TxnState::PrepareAbort);
        assert_eq!(next.producer_epoch, 1);
        assert_eq!(next.partitions.len(), 1);
        // The old producer is fenced now.
        assert_eq!(
            add_partitions(&next, 10, 0, &[], &[], 1).unwrap_err(),
            ResponseError::ProducerFenced
        );
        // While the markers go out, InitProducerId is retried.
        assert_eq!(
            init_producer_id(&next, 1, None, 1, &mut no_new_id).unwrap_err(),
            ResponseError::ConcurrentTransactions
        );
        let done = complete(&next, 9).unwrap();
        assert_eq!(done.state, TxnState::CompleteAbort);
        assert!(done.partitions.is_empty());
        let (again, plan) = init(&done, None);
        assert_eq!((again.producer_epoch, plan), (2, InitPlan::Write));
    }

    #[test]
    fn add_partitions_rules() {
        let (m, _) = init(&fresh(), None);
        assert_eq!(
            add_partitions(&m, 11, 0, &[], &[], 1).unwrap_err(),
            ResponseError::InvalidProducerIdMapping
        );
        let o = ongoing();
        assert_eq!(o.txn_start_ms, 5);
        // Already there: nothing to write.
        assert_eq!(
            add_partitions(&o, 10, 0, &[("a".into(), 0)], &[], 9).unwrap(),
            None
        );
        let more = add_partitions(&o, 10, 0, &[("b".into(), 1)], &["g".into()], 9)
            .unwrap()
            .unwrap();
        assert_eq!(more.partitions.len(), 2);
        assert_eq!(more.txn_start_ms, 5);
        assert!(more.groups.contains("g"));
        let EndPlan::Prepare(p) = end_txn(&more, 10, 0, true, 10).unwrap() else {
            panic!()
        };
        assert_eq!(
            add_partitions(&p, 10, 0, &[], &[], 1).unwrap_err(),
            ResponseError::ConcurrentTransactions
        );
    }

    #[test]
    fn end_txn_rules() {
        let (empty, _) = init(&fresh(), None);
        assert_eq!(
            end_txn(&empty, 10, 0, true, 1).unwrap_err(),
            ResponseError::InvalidTxnState
        );
        let o = ongoing();
        let EndPlan::Prepare(p) = end_txn(&o, 10, 0, true, 1).unwrap() else {
            panic!()
        };
        assert_eq!(p.state, TxnState::PrepareCommit);
        assert_eq!(
            end_txn(&p, 10, 0, true, 1).unwrap_err(),
            ResponseError::ConcurrentTransactions
        );
        assert_eq!(
            end_txn(&p, 10, 0, false, 1).unwrap_err(),
            ResponseError::InvalidTxnState
        );
        let c = complete(&p, 2).unwrap();
        assert_eq!(c.state, TxnState::CompleteCommit);
        assert_eq!(end_txn(&c, 10, 0, true, 3).unwrap(), EndPlan::AlreadyDone);
        assert_eq!(
            end_txn(&c, 10, 0, false, 3).unwrap_err(),
            ResponseError::InvalidTxnState
        );
        assert_eq!(
            end_txn(&o, 10, 1, true, 1).unwrap_err(),
            ResponseError::ProducerFenced
        );
    }

    #[test]
    fn timeouts_and_expiry() {
        let o = ongoing();
        assert!(!is_timed_out(&o, 5 + 60_000));
        assert!(is_timed_out(&o, 5 + 60_001));
        let aborted = fence_and_abort(&o, 70_000).unwrap();
        assert_eq!(aborted.producer_epoch, o.producer_epoch + 1);
        assert!(!is_expired(&o, i64::MAX / 2, 1000));
        let done = complete(&aborted, 100).unwrap();
        assert!(is_expired(&done, 1100, 1000));
        assert!(!is_expired(&done, 1099, 1000));
    }

    #[test]
    fn json_round_trip() {
        let o = add_partitions(&ongoing(), 10, 0, &[], &["g".into()], 7)
            .unwrap()
            .unwrap();
        let back = TxnMetadata::from_json("t", &o.to_json()).unwrap();
        assert_eq!(back, o);
    }

    #[test]
    fn fenced_error_by_version() {
        assert_eq!(
            fenced_for_version(ResponseError::ProducerFenced, 1, 2),
            ResponseError::InvalidProducerEpoch
        );
        assert_eq!(
            fenced_for_version(ResponseError::ProducerFenced, 2, 2),
            ResponseError::ProducerFenced
        );
    }
}
