//! One group's state machine (Kafka's classic `GroupMetadata` plus the
//! transitions `GroupCoordinator` drives), free of I/O: every method takes
//! `now`, answers parked requests through their channels, and leaves the
//! writes it needs in [`Group::take_stores`] for the coordinator to send.
//!
//! ```text
//! Empty ──join──▶ PreparingRebalance ──all joined / timeout──▶ CompletingRebalance
//!   ▲                 ▲        │ (no members left)                   │ leader's SyncGroup
//!   └─────────────────┼────────┘                                     ▼ stored
//!                     └──── member joins, leaves, expires ◀──── Stable
//! Dead: deleted or moved to another coordinator.
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use tokio::sync::oneshot;

use super::member::{JoinRequest, JoinResult, JoinedMember, Member, SyncResult};
use super::txn_offsets::PendingTxnOffsets;
use crate::metadata::groups::{GroupRecordJson, MemberRecordJson, OffsetJson, StoredGroup};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    /// Kafka's name (DescribeGroups, ListGroups).
    pub fn as_str(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// An answer now, or one to wait for.
pub enum Reply<T> {
    Now(T),
    Later(oneshot::Receiver<T>),
}

/// A committed offset as the coordinator serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
    /// Explicit expiry (OffsetCommit v2–4 retention time), ms since the epoch.
    pub expire_timestamp: Option<i64>,
    /// Order of the write that set it (writes may be answered out of order).
    pub seq: u64,
}

/// Committed offsets as the rows written to coord, one per partition.
pub fn offsets_json(committed: &[((String, i32), Committed)]) -> Vec<(String, i32, OffsetJson)> {
    committed
        .iter()
        .map(|((t, p), c)| (t.clone(), *p, c.to_json()))
        .collect()
}

impl Committed {
    pub fn to_json(&self) -> OffsetJson {
        OffsetJson {
            version: 1,
            offset: self.offset,
            leader_epoch: self.leader_epoch,
            metadata: self.metadata.clone(),
            commit_timestamp: self.commit_timestamp,
        }
    }
}

/// Why the coordinator must write the group record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// The leader's assignment for this generation; on success the group
    /// becomes Stable ([`Group::assignment_stored`]).
    Assignment { generation: i32 },
    /// The group emptied (or changed otherwise); nothing waits on it.
    Record,
}

/// The join phase's timer.
#[derive(Debug, Clone, Copy)]
struct Rebalance {
    deadline: Instant,
    /// `group.initial.rebalance.delay.ms` phase of a group that was empty:
    /// (delay, remaining rebalance timeout).
    initial: Option<(Duration, Duration)>,
}

pub struct Group {
    pub id: String,
    state: GroupState,
    /// When the group entered its state, ms since the epoch.
    state_timestamp: i64,
    generation: i32,
    protocol_type: Option<String>,
    protocol: Option<String>,
    leader: Option<String>,
    members: BTreeMap<String, Member>,
    /// group.instance.id → member id.
    static_members: HashMap<String, String>,
    /// Members told MEMBER_ID_REQUIRED, until they rejoin or this passes.
    pending: HashMap<String, Instant>,
    rebalance: Option<Rebalance>,
    new_member_added: bool,
    /// The leader's assignment, until it is stored.
    pending_assignment: Option<(i32, BTreeMap<String, Bytes>)>,
    initial_delay: Duration,
    /// Whether coord has a node for the group (record or offsets).
    pub stored: bool,
    pub offsets: BTreeMap<(String, i32), Committed>,
    /// Offsets of open transactions, by producer id.
    pub pending_txns: PendingTxnOffsets,
    next_seq: u64,
    stores: Vec<(StoreKind, GroupRecordJson)>,
    /// OffsetCommits numbered as they are sent to coord; those not yet
    /// answered; OffsetFetches waiting for the commits sent before them.
    commits_sent: u64,
    commits_in_flight: BTreeSet<u64>,
    commit_waiters: Vec<(u64, oneshot::Sender<()>)>,
}

fn new_member_id(prefix: &str) -> String {
    let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    format!("{prefix}-{id}")
}

impl Group {
    pub fn new(id: &str, initial_delay: Duration, now_ms: i64) -> Group {
        Group {
            id: id.to_string(),
            state: GroupState::Empty,
            state_timestamp: now_ms,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            static_members: HashMap::new(),
            pending: HashMap::new(),
            rebalance: None,
            new_member_added: false,
            pending_assignment: None,
            initial_delay,
            stored: false,
            offsets: BTreeMap::new(),
            pending_txns: PendingTxnOffsets::default(),
            next_seq: 0,
            stores: Vec::new(),
            commits_sent: 0,
            commits_in_flight: BTreeSet::new(),
            commit_waiters: Vec::new(),
        }
    }

    /// A group as a new coordinator finds it in coord: Empty, with the
    /// generation and protocol type it had (its members rejoin).
    pub fn from_stored(
        id: &str,
        stored: StoredGroup,
        initial_delay: Duration,
        now_ms: i64,
    ) -> Group {
        let mut g = Group::new(id, initial_delay, now_ms);
        g.stored = true;
        g.pending_txns = PendingTxnOffsets::from_stored(&stored.pending_txns);
        if let Some(r) = stored.record {
            g.generation = r.generation;
            g.protocol_type = r.protocol_type;
            g.state_timestamp = r.current_state_timestamp;
        }
        for ((t, p), o) in stored.offsets {
            g.offsets.insert(
                (t, p),
                Committed {
                    offset: o.offset,
                    leader_epoch: o.leader_epoch,
                    metadata: o.metadata,
                    commit_timestamp: o.commit_timestamp,
                    expire_timestamp: None,
                    seq: 0,
                },
            );
        }
        g
    }

    pub fn state(&self) -> GroupState {
        self.state
    }

    pub fn generation(&self) -> i32 {
        self.generation
    }

    pub fn protocol_type(&self) -> Option<&str> {
        self.protocol_type.as_deref()
    }

    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    pub fn leader(&self) -> Option<&str> {
        self.leader.as_deref()
    }

    pub fn state_timestamp(&self) -> i64 {
        self.state_timestamp
    }

    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    pub fn has_member(&self, id: &str) -> bool {
        self.members.contains_key(id)
    }

    /// Known to nobody: no members, offsets or stored record (a group id
    /// that was only asked about). Kafka would not have it in its cache.
    pub fn is_vacant(&self) -> bool {
        self.members.is_empty()
            && self.pending.is_empty()
            && self.offsets.is_empty()
            && self.pending_txns.is_empty()
            && !self.stored
            && self.generation == 0
            && self.state == GroupState::Empty
    }

    /// The writes the last operations need, in order.
    pub fn take_stores(&mut self) -> Vec<(StoreKind, GroupRecordJson)> {
        std::mem::take(&mut self.stores)
    }

    pub fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    fn transition(&mut self, to: GroupState) {
        self.state = to;
        self.state_timestamp = crate::server::now_ms();
    }

    /// The record coord keeps for the group.
    pub fn record(&self) -> GroupRecordJson {
        GroupRecordJson {
            version: 1,
            protocol_type: self.protocol_type.clone(),
            generation: self.generation,
            protocol: self.protocol.clone(),
            leader: self.leader.clone(),
            current_state_timestamp: self.state_timestamp,
            members: self
                .members
                .values()
                .map(|m| MemberRecordJson {
                    member_id: m.id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    session_timeout_ms: m.session_timeout.as_millis() as i32,
                    rebalance_timeout_ms: m.rebalance_timeout.as_millis() as i32,
                })
                .collect(),
        }
    }

    fn store(&mut self, kind: StoreKind) {
        let record = self.record();
        self.stores.push((kind, record));
    }

    /// Marks the group deleted or moved: every parked request is answered.
    pub fn mark_dead(&mut self, error: ResponseError) {
        for m in self.members.values_mut() {
            let id = m.id.clone();
            m.answer_join(JoinResult::error(&id, error));
            m.answer_sync(SyncResult::error(error));
        }
        self.transition(GroupState::Dead);
    }

    /// The checks SyncGroup and Heartbeat share, in Kafka's order: a dead
    /// group, a fenced static member, an unknown member, a stale generation.
    fn check_member(
        &self,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
    ) -> Result<(), ResponseError> {
        if self.state == GroupState::Dead {
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        if self.is_fenced(member_id, instance) {
            return Err(ResponseError::FencedInstanceId);
        }
        if !self.members.contains_key(member_id) {
            return Err(ResponseError::UnknownMemberId);
        }
        if generation != self.generation {
            return Err(ResponseError::IllegalGeneration);
        }
        Ok(())
    }

    /// A static member whose instance id is held by another member id.
    pub fn is_fenced(&self, member_id: &str, instance: Option<&str>) -> bool {
        match instance.and_then(|i| self.static_members.get(i)) {
            Some(owner) => owner != member_id,
            None => false,
        }
    }

    fn candidate_protocols(&self) -> BTreeSet<String> {
        let mut iter = self.members.values();
        let Some(first) = iter.next() else {
            return BTreeSet::new();
        };
        let mut set: BTreeSet<String> = first.protocols.iter().map(|(n, _)| n.clone()).collect();
        for m in iter {
            set.retain(|p| m.supports(p));
        }
        set
    }

    fn supports_protocols(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.members.is_empty() {
            !protocol_type.is_empty() && !protocols.is_empty()
        } else {
            let candidates = self.candidate_protocols();
            self.protocol_type.as_deref() == Some(protocol_type)
                && protocols.iter().any(|(n, _)| candidates.contains(n))
        }
    }

    /// Every member votes for its most preferred protocol all support.
    fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some((n, _)) = m.protocols.iter().find(|(n, _)| candidates.contains(n)) {
                *votes.entry(n.as_str()).or_default() += 1;
            }
        }
        let best = votes.values().copied().max()?;
        // Ties go to the leader's preference, then by name.
        let leader_pref = self
            .leader
            .as_ref()
            .and_then(|l| self.members.get(l))
            .map(|m| {
                m.protocols
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let tied: Vec<&str> = votes
            .iter()
            .filter(|(_, v)| **v == best)
            .map(|(n, _)| *n)
            .collect();
        leader_pref
            .iter()
            .find(|p| tied.contains(p))
            .or(tied.first())
            .map(|s| s.to_string())
    }

    fn max_rebalance_timeout(&self) -> Duration {
        self.members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default()
    }

    fn current_join_result(&self, member_id: &str) -> JoinResult {
        let is_leader = self.leader.as_deref() == Some(member_id);
        JoinResult {
            error: None,
            member_id: member_id.to_string(),
            generation_id: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            members: if is_leader {
                self.joined_members()
            } else {
                Vec::new()
            },
        }
    }

    fn joined_members(&self) -> Vec<JoinedMember> {
        let protocol = self.protocol.clone().unwrap_or_default();
        self.members
            .values()
            .map(|m| JoinedMember {
                member_id: m.id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                metadata: m.metadata(&protocol),
            })
            .collect()
    }

    /// JoinGroup (Kafka's `handleJoinGroup` → `doUnknownJoinGroup` /
    /// `doCurrentMemberJoinGroup`). `max_size`: `group.max.size`.
    pub fn join(&mut self, req: JoinRequest, max_size: usize, now: Instant) -> Reply<JoinResult> {
        let reply = self.join_inner(req, max_size, now);
        if self.state == GroupState::PreparingRebalance {
            self.try_complete_join(now);
        }
        reply
    }

    fn join_inner(&mut self, req: JoinRequest, max_size: usize, now: Instant) -> Reply<JoinResult> {
        let err = |e| Reply::Now(JoinResult::error(&req.member_id, e));
        if self.state == GroupState::Dead {
            return err(ResponseError::CoordinatorNotAvailable);
        }
        let unknown = req.member_id.is_empty();
        if unknown && self.members.len() + self.pending.len() >= max_size {
            return err(ResponseError::GroupMaxSizeReached);
        }
        if !self.supports_protocols(&req.protocol_type, &req.protocols) {
            return err(ResponseError::InconsistentGroupProtocol);
        }
        if unknown {
            return self.join_unknown(req, now);
        }
        if self.pending.contains_key(&req.member_id) {
            self.pending.remove(&req.member_id);
            let id = req.member_id.clone();
            return self.add_member_and_rebalance(id, &req, now);
        }
        let instance = req.group_instance_id.as_deref();
        if self.is_fenced(&req.member_id, instance) {
            return err(ResponseError::FencedInstanceId);
        }
        if !self.members.contains_key(&req.member_id)
            || instance.is_some_and(|i| !self.static_members.contains_key(i))
        {
            return err(ResponseError::UnknownMemberId);
        }
        let id = req.member_id.clone();
        let is_leader = self.leader.as_deref() == Some(id.as_str());
        let matches = self
            .members
            .get(&id)
            .is_some_and(|m| m.matches(&req.protocols));
        match self.state {
            GroupState::PreparingRebalance => self.update_member_and_rebalance(&id, &req, now),
            GroupState::CompletingRebalance if matches => Reply::Now(self.current_join_result(&id)),
            GroupState::CompletingRebalance => self.update_member_and_rebalance(&id, &req, now),
            GroupState::Stable if is_leader || !matches => {
                self.update_member_and_rebalance(&id, &req, now)
            }
            GroupState::Stable => Reply::Now(self.current_join_result(&id)),
            GroupState::Empty | GroupState::Dead => err(ResponseError::UnknownMemberId),
        }
    }

    fn join_unknown(&mut self, req: JoinRequest, now: Instant) -> Reply<JoinResult> {
        let prefix = req
            .group_instance_id
            .clone()
            .unwrap_or_else(|| req.client_id.clone());
        let new_id = new_member_id(&prefix);
        if let Some(instance) = req.group_instance_id.clone() {
            if let Some(old_id) = self.static_members.get(&instance).cloned() {
                // A static member restarted: it takes over its old identity.
                let previous_leader = self.leader.clone().unwrap_or_default();
                let matches = self
                    .members
                    .get(&old_id)
                    .is_some_and(|m| m.matches(&req.protocols));
                if let Some(mut member) = self.members.remove(&old_id) {
                    member.answer_join(JoinResult::error(&old_id, ResponseError::FencedInstanceId));
                    member.answer_sync(SyncResult::error(ResponseError::FencedInstanceId));
                    member.id = new_id.clone();
                    member.client_id = req.client_id.clone();
                    member.client_host = req.client_host.clone();
                    member.session_timeout = req.session_timeout;
                    member.rebalance_timeout = req.rebalance_timeout;
                    member.heartbeat_deadline = now + req.session_timeout;
                    self.members.insert(new_id.clone(), member);
                }
                self.static_members.insert(instance, new_id.clone());
                if self.leader.as_deref() == Some(old_id.as_str()) {
                    self.leader = Some(new_id.clone());
                }
                return match self.state {
                    GroupState::Stable if matches => {
                        // Same subscription: no rebalance. The old leader id is
                        // returned so a restarted leader does not reassign.
                        let mut r = self.current_join_result(&new_id);
                        r.leader = previous_leader;
                        r.members.clear();
                        Reply::Now(r)
                    }
                    _ => self.update_member_and_rebalance(&new_id, &req, now),
                };
            }
        } else if req.require_known_member_id {
            self.pending
                .insert(new_id.clone(), now + req.session_timeout);
            return Reply::Now(JoinResult::error(&new_id, ResponseError::MemberIdRequired));
        }
        self.add_member_and_rebalance(new_id, &req, now)
    }

    fn add_member_and_rebalance(
        &mut self,
        id: String,
        req: &JoinRequest,
        now: Instant,
    ) -> Reply<JoinResult> {
        let (tx, rx) = oneshot::channel();
        let mut member = Member::new(id.clone(), req, now);
        member.awaiting_join = Some(tx);
        if self.members.is_empty() {
            self.protocol_type = Some(req.protocol_type.clone());
        }
        if let Some(i) = &req.group_instance_id {
            self.static_members.insert(i.clone(), id.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(id.clone());
        }
        self.members.insert(id, member);
        if self.state == GroupState::PreparingRebalance && self.generation == 0 {
            self.new_member_added = true;
        }
        self.maybe_prepare_rebalance(now);
        Reply::Later(rx)
    }

    fn update_member_and_rebalance(
        &mut self,
        id: &str,
        req: &JoinRequest,
        now: Instant,
    ) -> Reply<JoinResult> {
        let (tx, rx) = oneshot::channel();
        if let Some(m) = self.members.get_mut(id) {
            m.protocols = req.protocols.clone();
            m.session_timeout = req.session_timeout;
            m.rebalance_timeout = req.rebalance_timeout;
            m.client_id = req.client_id.clone();
            m.client_host = req.client_host.clone();
            // A repeated JoinGroup replaces the earlier one.
            m.answer_join(JoinResult::error(id, ResponseError::RebalanceInProgress));
            m.awaiting_join = Some(tx);
        }
        self.maybe_prepare_rebalance(now);
        Reply::Later(rx)
    }

    fn maybe_prepare_rebalance(&mut self, now: Instant) {
        if matches!(
            self.state,
            GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty
        ) {
            self.prepare_rebalance(now);
        }
    }

    fn prepare_rebalance(&mut self, now: Instant) {
        if self.state == GroupState::CompletingRebalance {
            for m in self.members.values_mut() {
                m.assignment = Bytes::new();
                m.answer_sync(SyncResult::error(ResponseError::RebalanceInProgress));
            }
        }
        self.pending_assignment = None;
        let timeout = self.max_rebalance_timeout();
        self.rebalance = Some(if self.state == GroupState::Empty {
            let delay = self.initial_delay;
            Rebalance {
                deadline: now + delay,
                initial: Some((delay, timeout.saturating_sub(delay))),
            }
        } else {
            Rebalance {
                deadline: now + timeout,
                initial: None,
            }
        });
        self.transition(GroupState::PreparingRebalance);
        self.try_complete_join(now);
    }

    fn all_members_joined(&self) -> bool {
        self.pending.is_empty() && self.members.values().all(|m| m.awaiting_join.is_some())
    }

    fn try_complete_join(&mut self, now: Instant) {
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        let Some(r) = self.rebalance else { return };
        if r.deadline <= now {
            self.join_deadline_passed(now);
        } else if r.initial.is_none() && self.all_members_joined() {
            self.complete_join(now);
        }
    }

    fn join_deadline_passed(&mut self, now: Instant) {
        let Some(r) = self.rebalance else { return };
        if let Some((_, remaining)) = r.initial {
            if self.new_member_added && !remaining.is_zero() {
                // Members are still arriving: wait another delay.
                self.new_member_added = false;
                let delay = self.initial_delay.min(remaining);
                self.rebalance = Some(Rebalance {
                    deadline: now + delay,
                    initial: Some((delay, remaining.saturating_sub(delay))),
                });
                return;
            }
        }
        self.complete_join(now);
    }

    /// Kafka's `onCompleteJoin`: members that did not rejoin are dropped,
    /// the generation advances, every joined member gets its answer.
    fn complete_join(&mut self, now: Instant) {
        self.rebalance = None;
        self.new_member_added = false;
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in gone {
            self.remove_member(&id);
        }
        self.generation += 1;
        if self.members.is_empty() {
            self.protocol = None;
            self.leader = None;
            self.transition(GroupState::Empty);
            self.store(StoreKind::Record);
            return;
        }
        self.protocol = self.select_protocol();
        if !self
            .leader
            .as_ref()
            .is_some_and(|l| self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        self.transition(GroupState::CompletingRebalance);
        let leader_view = self.joined_members();
        let leader = self.leader.clone().unwrap_or_default();
        let (generation, protocol_type, protocol) = (
            self.generation,
            self.protocol_type.clone(),
            self.protocol.clone(),
        );
        for m in self.members.values_mut() {
            m.is_new = false;
            m.heartbeat_deadline = now + m.session_timeout;
            let result = JoinResult {
                error: None,
                member_id: m.id.clone(),
                generation_id: generation,
                protocol_type: protocol_type.clone(),
                protocol_name: protocol.clone(),
                leader: leader.clone(),
                members: if m.id == leader {
                    leader_view.clone()
                } else {
                    Vec::new()
                },
            };
            m.answer_join(result);
        }
    }

    /// Removes a member without further transitions; parked requests learn
    /// it is unknown.
    fn remove_member(&mut self, id: &str) {
        let Some(mut m) = self.members.remove(id) else {
            return;
        };
        m.answer_join(JoinResult::error(id, ResponseError::UnknownMemberId));
        m.answer_sync(SyncResult::error(ResponseError::UnknownMemberId));
        if let Some(i) = &m.group_instance_id {
            if self.static_members.get(i).map(String::as_str) == Some(id) {
                self.static_members.remove(i);
            }
        }
        if self.leader.as_deref() == Some(id) {
            self.leader = self
                .members
                .values()
                .find(|m| m.awaiting_join.is_some())
                .or_else(|| self.members.values().next())
                .map(|m| m.id.clone());
        }
    }

    /// Kafka's `removeMemberAndUpdateGroup`.
    fn remove_member_and_update(&mut self, id: &str, now: Instant) {
        self.remove_member(id);
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.maybe_prepare_rebalance(now)
            }
            GroupState::PreparingRebalance => self.try_complete_join(now),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    /// SyncGroup.
    #[allow(clippy::too_many_arguments)]
    pub fn sync(
        &mut self,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        assignments: BTreeMap<String, Bytes>,
        now: Instant,
    ) -> Reply<SyncResult> {
        let err = |e| Reply::Now(SyncResult::error(e));
        if let Err(e) = self.check_member(member_id, instance, generation) {
            return err(e);
        }
        if protocol_type.is_some_and(|t| Some(t) != self.protocol_type.as_deref())
            || protocol_name.is_some_and(|n| Some(n) != self.protocol.as_deref())
        {
            return err(ResponseError::InconsistentGroupProtocol);
        }
        match self.state {
            GroupState::Empty => err(ResponseError::UnknownMemberId),
            GroupState::PreparingRebalance => err(ResponseError::RebalanceInProgress),
            GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                if let Some(m) = self.members.get_mut(member_id) {
                    m.answer_sync(SyncResult::error(ResponseError::RebalanceInProgress));
                    m.awaiting_sync = Some(tx);
                }
                if self.leader.as_deref() == Some(member_id) {
                    let mut full = assignments;
                    for id in self.members.keys() {
                        full.entry(id.clone()).or_default();
                    }
                    full.retain(|id, _| self.members.contains_key(id));
                    self.pending_assignment = Some((self.generation, full));
                    self.store(StoreKind::Assignment {
                        generation: self.generation,
                    });
                }
                Reply::Later(rx)
            }
            GroupState::Stable => {
                let result = SyncResult {
                    error: None,
                    assignment: self.members[member_id].assignment.clone(),
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol.clone(),
                };
                if let Some(m) = self.members.get_mut(member_id) {
                    m.heartbeat_deadline = now + m.session_timeout;
                }
                Reply::Now(result)
            }
            GroupState::Dead => err(ResponseError::CoordinatorNotAvailable),
        }
    }

    /// The leader's assignment for `generation` has been written (or not).
    pub fn assignment_stored(&mut self, generation: i32, ok: bool, now: Instant) {
        if self.state != GroupState::CompletingRebalance || generation != self.generation {
            return;
        }
        let Some((g, assignment)) = self.pending_assignment.take() else {
            return;
        };
        if g != generation {
            return;
        }
        if !ok {
            for m in self.members.values_mut() {
                m.assignment = Bytes::new();
                m.answer_sync(SyncResult::error(ResponseError::CoordinatorNotAvailable));
            }
            self.maybe_prepare_rebalance(now);
            return;
        }
        self.stored = true;
        let (pt, pn) = (self.protocol_type.clone(), self.protocol.clone());
        for m in self.members.values_mut() {
            m.assignment = assignment.get(&m.id).cloned().unwrap_or_default();
            m.heartbeat_deadline = now + m.session_timeout;
            let result = SyncResult {
                error: None,
                assignment: m.assignment.clone(),
                protocol_type: pt.clone(),
                protocol_name: pn.clone(),
            };
            m.answer_sync(result);
        }
        self.transition(GroupState::Stable);
    }

    /// Heartbeat.
    pub fn heartbeat(
        &mut self,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
        now: Instant,
    ) -> Result<(), ResponseError> {
        self.check_member(member_id, instance, generation)?;
        match self.state {
            GroupState::Empty => Err(ResponseError::UnknownMemberId),
            GroupState::CompletingRebalance => Err(ResponseError::RebalanceInProgress),
            GroupState::PreparingRebalance | GroupState::Stable => {
                if let Some(m) = self.members.get_mut(member_id) {
                    m.heartbeat_deadline = now + m.session_timeout;
                }
                if self.state == GroupState::Stable {
                    Ok(())
                } else {
                    Err(ResponseError::RebalanceInProgress)
                }
            }
            GroupState::Dead => Err(ResponseError::CoordinatorNotAvailable),
        }
    }

    /// LeaveGroup for one member (`member_id` may be empty for a static
    /// member identified by its instance id).
    pub fn leave(
        &mut self,
        member_id: &str,
        instance: Option<&str>,
        now: Instant,
    ) -> Result<(), ResponseError> {
        if !member_id.is_empty() && self.is_fenced(member_id, instance) {
            return Err(ResponseError::FencedInstanceId);
        }
        if self.pending.remove(member_id).is_some() {
            self.try_complete_join(now);
            return Ok(());
        }
        let by_instance = instance.and_then(|i| self.static_members.get(i)).cloned();
        let id = match by_instance {
            Some(id) => id,
            None if self.members.contains_key(member_id) => member_id.to_string(),
            None => return Err(ResponseError::UnknownMemberId),
        };
        self.remove_member_and_update(&id, now);
        Ok(())
    }

    /// Validates an OffsetCommit against membership (Kafka's
    /// `doCommitOffsets`); `Ok` means the offsets may be stored.
    pub fn validate_commit(
        &mut self,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
        now: Instant,
    ) -> Result<(), ResponseError> {
        if self.state == GroupState::Dead {
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        if self.is_fenced(member_id, instance) {
            return Err(ResponseError::FencedInstanceId);
        }
        if generation < 0 && self.state == GroupState::Empty {
            // Offsets only: the group does not use the coordinator's membership.
            return Ok(());
        }
        if self.is_vacant() {
            return Err(ResponseError::IllegalGeneration);
        }
        if !self.members.contains_key(member_id) {
            return Err(ResponseError::UnknownMemberId);
        }
        if generation != self.generation {
            return Err(ResponseError::IllegalGeneration);
        }
        match self.state {
            GroupState::CompletingRebalance => Err(ResponseError::RebalanceInProgress),
            _ => {
                if let Some(m) = self.members.get_mut(member_id) {
                    m.heartbeat_deadline = now + m.session_timeout;
                }
                Ok(())
            }
        }
    }

    /// Kafka's TxnOffsetCommit checks (`doTxnCommitOffsets`): looser than
    /// OffsetCommit's, since a transactional producer may commit for a
    /// group it is not a member of (no member id, generation -1).
    pub fn validate_txn_commit(
        &self,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
    ) -> Result<(), ResponseError> {
        if self.state == GroupState::Dead {
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        if self.is_fenced(member_id, instance) {
            return Err(ResponseError::FencedInstanceId);
        }
        if !member_id.is_empty() && !self.members.contains_key(member_id) {
            return Err(ResponseError::UnknownMemberId);
        }
        if generation >= 0 && generation != self.generation {
            return Err(ResponseError::IllegalGeneration);
        }
        Ok(())
    }

    /// An OffsetCommit is being sent to coord: its number, for
    /// [`Self::commit_answered`].
    pub fn commit_sent(&mut self) -> u64 {
        self.commits_sent += 1;
        self.commits_in_flight.insert(self.commits_sent);
        self.commits_sent
    }

    /// Coord answered commit `n` (stored or failed); wakes the fetches that
    /// waited for it and every commit before it.
    pub fn commit_answered(&mut self, n: u64) {
        self.commits_in_flight.remove(&n);
        let oldest = self.commits_in_flight.first().copied().unwrap_or(u64::MAX);
        let (ready, waiting) = std::mem::take(&mut self.commit_waiters)
            .into_iter()
            .partition(|(target, _)| *target < oldest);
        self.commit_waiters = waiting;
        for (_, tx) in ready {
            let _ = tx.send(());
        }
    }

    /// For an OffsetFetch: `None` if every commit sent so far is answered,
    /// else a receiver that fires once they are (commits sent later are not
    /// waited for). So a fetch that follows a commit on one connection sees
    /// it, as with Kafka, although the commit is answered asynchronously.
    pub fn commits_settled(&mut self) -> Option<oneshot::Receiver<()>> {
        let oldest = *self.commits_in_flight.first()?;
        let target = self.commits_sent;
        debug_assert!(oldest <= target);
        let (tx, rx) = oneshot::channel();
        self.commit_waiters.push((target, tx));
        Some(rx)
    }

    /// Records offsets whose write has been acknowledged.
    pub fn apply_offsets(&mut self, offsets: Vec<((String, i32), Committed)>) {
        self.stored = true;
        for (k, c) in offsets {
            match self.offsets.get(&k) {
                Some(old) if old.seq > c.seq => {}
                _ => {
                    self.offsets.insert(k, c);
                }
            }
        }
    }

    /// Timers: pending members, session timeouts, the join deadline.
    pub fn tick(&mut self, now: Instant) {
        if self.state == GroupState::Dead {
            return;
        }
        let before = self.pending.len();
        self.pending.retain(|_, deadline| *deadline > now);
        if self.pending.len() != before {
            self.try_complete_join(now);
        }
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| m.is_expired(now))
            .map(|m| m.id.clone())
            .collect();
        for id in expired {
            tracing::info!(group = %self.id, member = %id, "member session expired; removing it");
            self.remove_member_and_update(&id, now);
        }
        if self.state == GroupState::PreparingRebalance
            && self.rebalance.is_some_and(|r| r.deadline <= now)
        {
            self.join_deadline_passed(now);
        }
    }

    /// Subscribed topics of a consumer group's members (for OffsetDelete).
    pub fn subscribed_topics(&self) -> Option<BTreeSet<String>> {
        use kafka_protocol::messages::ConsumerProtocolSubscription;
        use kafka_protocol::protocol::Decodable;
        if self.protocol_type.as_deref() != Some("consumer") {
            return None;
        }
        let protocol = self.protocol.clone()?;
        let mut topics = BTreeSet::new();
        for m in self.members.values() {
            let mut buf = m.metadata(&protocol);
            if buf.len() < 2 {
                continue;
            }
            let version = i16::from_be_bytes([buf[0], buf[1]]);
            bytes::Buf::advance(&mut buf, 2);
            let version = version.clamp(0, 3);
            if let Ok(s) = ConsumerProtocolSubscription::decode(&mut buf, version) {
                topics.extend(s.topics.iter().map(|t| t.to_string()));
            }
        }
        Some(topics)
    }

    /// Removes expired offsets (`offsets.retention.minutes`): all of an
    /// Empty consumer group's once it has been empty that long; one by one
    /// for groups that only store offsets. Returns the partitions removed.
    pub fn expire_offsets(&mut self, now_ms: i64, retention_ms: i64) -> Vec<(String, i32)> {
        let expired: Vec<(String, i32)> = match (self.state, &self.protocol_type) {
            (GroupState::Empty, Some(_)) => {
                if self.state_timestamp + retention_ms <= now_ms {
                    self.offsets.keys().cloned().collect()
                } else {
                    Vec::new()
                }
            }
            (GroupState::Empty, None) => self
                .offsets
                .iter()
                .filter(|(_, c)| {
                    c.expire_timestamp
                        .unwrap_or(c.commit_timestamp + retention_ms)
                        <= now_ms
                })
                .map(|(k, _)| k.clone())
                .collect(),
            _ => Vec::new(),
        };
        for k in &expired {
            self.offsets.remove(k);
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(member: &str, v4: bool) -> JoinRequest {
        JoinRequest {
            member_id: member.into(),
            group_instance_id: None,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(30),
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), Bytes::from_static(b"m"))],
            require_known_member_id: v4,
        }
    }

    fn now_result(r: Reply<JoinResult>) -> JoinResult {
        match r {
            Reply::Now(r) => r,
            Reply::Later(mut rx) => rx.try_recv().expect("answered"),
        }
    }

    #[test]
    fn member_id_required_then_join_completes_after_initial_delay() {
        let t0 = Instant::now();
        let mut g = Group::new("g", Duration::from_millis(100), 0);
        let r = now_result(g.join(req("", true), 100, t0));
        assert_eq!(r.error, Some(ResponseError::MemberIdRequired));
        let id = r.member_id.clone();
        let Reply::Later(mut rx) = g.join(req(&id, true), 100, t0) else {
            panic!("must wait for the initial delay")
        };
        assert_eq!(g.state(), GroupState::PreparingRebalance);
        assert!(rx.try_recv().is_err());
        g.tick(t0 + Duration::from_millis(150));
        let r = rx.try_recv().unwrap();
        assert_eq!(r.error, None);
        assert_eq!(r.generation_id, 1);
        assert_eq!(r.leader, id);
        assert_eq!(r.members.len(), 1);
        assert_eq!(g.state(), GroupState::CompletingRebalance);
    }

    #[test]
    fn full_rebalance_and_errors() {
        let t0 = Instant::now();
        let mut g = Group::new("g", Duration::ZERO, 0);
        let a = now_result(g.join(req("", false), 100, t0));
        assert_eq!(a.generation_id, 1);
        // Leader syncs; the store completes; Stable.
        let mut assign = BTreeMap::new();
        assign.insert(a.member_id.clone(), Bytes::from_static(b"A"));
        let Reply::Later(mut rx) = g.sync(&a.member_id, None, 1, None, None, assign, t0) else {
            panic!()
        };
        let stores = g.take_stores();
        assert!(matches!(
            stores[0].0,
            StoreKind::Assignment { generation: 1 }
        ));
        g.assignment_stored(1, true, t0);
        assert_eq!(rx.try_recv().unwrap().assignment, Bytes::from_static(b"A"));
        assert_eq!(g.state(), GroupState::Stable);
        assert_eq!(g.heartbeat(&a.member_id, None, 1, t0), Ok(()));
        assert_eq!(
            g.heartbeat(&a.member_id, None, 0, t0),
            Err(ResponseError::IllegalGeneration)
        );
        assert_eq!(
            g.heartbeat("nobody", None, 1, t0),
            Err(ResponseError::UnknownMemberId)
        );
        // A second member joins: the first learns of the rebalance.
        let Reply::Later(mut rx_b) = g.join(req("", false), 100, t0) else {
            panic!()
        };
        assert_eq!(g.state(), GroupState::PreparingRebalance);
        assert_eq!(
            g.heartbeat(&a.member_id, None, 1, t0),
            Err(ResponseError::RebalanceInProgress)
        );
        assert_eq!(
            g.validate_commit(&a.member_id, None, 1, t0),
            Ok(()),
            "commits are allowed while preparing"
        );
        let Reply::Later(mut rx_a) = g.join(req(&a.member_id, false), 100, t0) else {
            panic!()
        };
        let ra = rx_a.try_recv().unwrap();
        let rb = rx_b.try_recv().unwrap();
        assert_eq!((ra.generation_id, rb.generation_id), (2, 2));
        assert_eq!(ra.members.len(), 2, "the leader sees every member");
        assert!(rb.members.is_empty());
        assert_eq!(
            g.validate_commit(&a.member_id, None, 2, t0),
            Err(ResponseError::RebalanceInProgress)
        );
        // The leader waits in SyncGroup; b's session expires before it
        // syncs: the leader is told to rejoin, and b is gone.
        let Reply::Later(mut rx_sync) =
            g.sync(&ra.member_id, None, 2, None, None, BTreeMap::new(), t0)
        else {
            panic!()
        };
        g.tick(t0 + Duration::from_secs(11));
        assert_eq!(
            rx_sync.try_recv().unwrap().error,
            Some(ResponseError::RebalanceInProgress)
        );
        assert_eq!(g.state(), GroupState::PreparingRebalance);
        assert!(!g.has_member(&rb.member_id));
    }

    #[test]
    fn static_member_fencing_and_leave() {
        let t0 = Instant::now();
        let mut g = Group::new("g", Duration::ZERO, 0);
        let mut r = req("", true);
        r.group_instance_id = Some("i1".into());
        let a = now_result(g.join(r.clone(), 100, t0));
        assert_eq!(a.error, None, "static members need no member id round trip");
        assert_eq!(
            g.heartbeat("other", Some("i1"), 1, t0),
            Err(ResponseError::FencedInstanceId)
        );
        assert_eq!(g.leave("", Some("i1"), t0), Ok(()));
        assert_eq!(g.state(), GroupState::Empty);
        assert_eq!(g.generation(), 2);
        assert_eq!(g.leave("x", None, t0), Err(ResponseError::UnknownMemberId));
    }

    #[test]
    fn commit_validation_for_unknown_groups() {
        let t0 = Instant::now();
        let mut g = Group::new("g", Duration::ZERO, 0);
        assert_eq!(g.validate_commit("", None, -1, t0), Ok(()));
        assert_eq!(
            g.validate_commit("m", None, 3, t0),
            Err(ResponseError::IllegalGeneration)
        );
    }
}
