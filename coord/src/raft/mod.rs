//! The ensemble: runnel-coord members replicating one transaction log with
//! Raft (openraft). Every openraft type stays inside this module.
//!
//! # Layout
//!
//! * [`log_store`]: openraft's log storage — the entries in files
//!   ([`entry_log`]), the vote and committed id in sled; [`log_format`]:
//!   the versioned entry encoding.
//! * [`state_machine`]: committed entries applied to the published tree,
//!   kept in memory; what is stored of it is a whole-tree snapshot
//!   (`storage::snapshot_file`) plus the log after it.
//! * [`peer`]: the member-to-member wire (one multiplexed TCP connection per peer),
//!   carried by [`transport`]: plain TCP, or mutual TLS with `sslQuorum=true`.
//! * [`network`]: openraft's RPCs over those connections.
//! * [`Host`]: what a member needs from its server (the published tree,
//!   publishing committed transactions, sessions, clients).
//!
//! # How a write travels
//!
//! A client's write reaches the member it is connected to as a
//! [`Proposal`]. A follower forwards it to the leader (in order, on one peer
//! connection). The leader checks it against its private copy of the tree
//! (which already includes every proposal it has accepted), appends the
//! resulting transactions to the Raft log, and answers once the entry is
//! committed and applied. Every proposal waiting when the leader appends
//! goes into one entry (one log flush and one replication round trip for
//! all of them); each gets its own zxid when applied. The follower then
//! waits until it has applied that zxid itself before replying, so the
//! client reads its own write there. zxid counts applied proposals (and
//! entries without any): every member applies the same log, so every
//! member gives the same zxids, and they grow across leaders.

// openraft's storage traits return its own (large) StorageError; our helpers
// return the same type rather than boxing and unboxing it at every call.
#![allow(clippy::result_large_err)]

mod durable;
mod entry_log;
mod host;
pub mod log_format;
pub mod log_store;
pub mod network;
pub mod peer;
mod snapshot_stream;
pub mod state_machine;
pub mod transport;

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Cursor;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use openraft::{BasicNode, Raft, ServerState, SnapshotPolicy};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, Notify};

use crate::config::Config;
use crate::proposal::{now_ms, prepare_proposal, Outcome, Proposal, ProposalKind};
use crate::storage::SledStore;
use crate::tree::{DataTree, OpResult};
use crate::txn::{Txn, TxnEntry};
use log_store::LogStore;
use network::NetworkFactory;
use peer::{Forwarded, PeerClient, PeerRequest, PeerResponse};
pub use state_machine::load_state;
use state_machine::StateMachine;

pub use host::Host;

/// What one proposal became: its session and transactions (none for a
/// refusal that must be answered in log order).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Proposed {
    pub session: i64,
    pub txns: Vec<Txn>,
}

/// What the log carries: the proposals the leader had waiting when it
/// appended, in order (group commit: one entry, one flush, one round trip
/// for all of them). Each proposal gets its own zxid when applied.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Command {
    pub time: i64,
    pub proposals: Vec<Proposed>,
}

/// What applying one entry produced: per proposal, its zxid and the
/// per-op results.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Applied {
    pub each: Vec<(i64, Vec<OpResult>)>,
}

openraft::declare_raft_types!(
    /// openraft's type configuration for runnel-coord.
    pub TypeConfig:
        D = Command,
        R = Applied,
        NodeId = u64,
        Node = BasicNode,
);

pub type NodeId = u64;
pub type Node = BasicNode;
pub type Entry = openraft::Entry<TypeConfig>;

/// Why an ensemble member could not start.
#[derive(Debug, thiserror::Error)]
pub enum EnsembleError {
    #[error("storage: {0}")]
    Storage(String),
    #[error("raft: {0}")]
    Raft(String),
    /// `sslQuorum=true` with key or trust store files that cannot be used;
    /// the message names the `ssl.quorum.*` key and the file.
    #[error("{0}")]
    Tls(String),
    #[error("cannot listen for peers on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// Timings derived from `tickTime`.
#[derive(Debug, Clone, Copy)]
struct Timing {
    heartbeat: Duration,
    election_min: Duration,
    election_max: Duration,
    /// How long a member may go without hearing the leader (or, as leader,
    /// a quorum) before it stops serving clients.
    stale_after: Duration,
    /// How long a forwarded write or a read barrier may take.
    request: Duration,
}

impl Timing {
    fn from_tick(tick_ms: u32) -> Timing {
        // openraft makes a follower wait out the leader's lease (the maximum
        // election timeout) plus a random election timeout before it stands,
        // so leader-loss recovery is about 2.5 x the minimum: a fifth of a
        // tick keeps it near one second at ZooKeeper's default tickTime.
        let election_min = Duration::from_millis(u64::from(tick_ms / 5).clamp(250, 300));
        let election_max = election_min * 3 / 2;
        Timing {
            heartbeat: (election_min / 4).max(Duration::from_millis(50)),
            election_min,
            election_max,
            // Longer than an election, so followers keep their clients
            // through a leader change; a cut-off member still lets go of
            // them within a few seconds.
            stale_after: election_max * 4,
            request: election_max * 4,
        }
    }
}

/// One running ensemble member.
pub struct Ensemble {
    raft: Raft<TypeConfig>,
    my_id: NodeId,
    peers: Arc<BTreeMap<NodeId, Arc<PeerClient>>>,
    host: Weak<dyn Host>,
    proposals: mpsc::Sender<Proposal>,
    timing: Timing,
    /// A follower's view of its leader.
    contact: Mutex<Contact>,
    /// What the log store last recorded as committed.
    committed: log_store::CommittedIndex,
    /// The snapshot a leader is streaming to this member, checked chunk by
    /// chunk before openraft writes it.
    snapshot_stream: Mutex<snapshot_stream::SnapshotStream>,
}

/// This member's Raft figures at one moment, for `mntr` and Prometheus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftFigures {
    pub term: u64,
    pub last_log_index: Option<u64>,
    pub commit_index: Option<u64>,
    pub applied_index: Option<u64>,
    pub leader: Option<NodeId>,
    /// Voting members, this one included (ZooKeeper's quorum_size).
    pub members: usize,
    /// On the leader: (followers, followers whose log matches the leader's
    /// last entry) — ZooKeeper's learners and synced_followers.
    pub followers: Option<(usize, usize)>,
}

/// When a follower last heard from the leader, and whether it has caught up
/// with it since (a restarted member does not serve before it has).
#[derive(Default)]
struct Contact {
    at: Option<Instant>,
    /// The leader's zxid as of the last heartbeat answer.
    leader_zxid: i64,
    caught_up: bool,
}

/// The leader's copy of the tree as it will be once every accepted proposal
/// is applied; rebuilt from the published tree after any doubt.
struct LeaderState {
    private: Option<DataTree>,
    term: u64,
    shared: LeaderShared,
}

/// What the leader's completion tasks share with it.
#[derive(Clone, Default)]
struct LeaderShared {
    /// Proposals appended but not answered yet.
    inflight: Arc<AtomicUsize>,
    drained: Arc<Notify>,
    /// Set when a proposal failed: the private tree may hold changes that
    /// never happened and must be rebuilt.
    stale: Arc<AtomicBool>,
}

impl LeaderShared {
    /// Waits until fewer than `most` entries are on their way.
    async fn wait_inflight_below(&self, most: usize) {
        loop {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if self.inflight.load(SeqCst) < most {
                return;
            }
            drained.await;
        }
    }
}

fn answer(reply: Option<oneshot::Sender<Outcome>>, outcome: Outcome) {
    if let Some(reply) = reply {
        let _ = reply.send(outcome);
    }
}

impl Ensemble {
    /// Starts this member: Raft on the stored log, the peer listener, and the
    /// tasks that route proposals and relay session heartbeats.
    /// `proposals` is where this member's proposals arrive (`proposals_rx`
    /// its other end): forwarded proposals join them there.
    pub async fn start(
        host: Arc<dyn Host>,
        config: &Config,
        store: SledStore,
        proposals: mpsc::Sender<Proposal>,
        proposals_rx: mpsc::Receiver<Proposal>,
    ) -> Result<Arc<Ensemble>, EnsembleError> {
        let my_id = config.my_id;
        // First: bad quorum key stores stop the member before it opens its log.
        let transport = transport::Transport::from_config(config).map_err(EnsembleError::Tls)?;
        let timing = Timing::from_tick(config.tick_time_ms);
        let store = Arc::new(store);
        let log_store = LogStore::open(store.db(), &config.raft_log_dir(), my_id)
            .map_err(|e| EnsembleError::Storage(e.to_string()))?;
        let committed = log_store.committed_index();
        let durable = log_store.durable();
        let state_machine =
            StateMachine::open(host.clone(), config.snapshot_dir(), durable.clone())
                .map_err(|e| EnsembleError::Storage(e.to_string()))?;
        let raft_config = openraft::Config {
            cluster_name: "runnel-coord".into(),
            heartbeat_interval: timing.heartbeat.as_millis() as u64,
            election_timeout_min: timing.election_min.as_millis() as u64,
            election_timeout_max: timing.election_max.as_millis() as u64,
            install_snapshot_timeout: 10_000,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(crate::storage::snapshot_file::spread(
                state_machine::SNAPSHOT_EVERY,
            )),
            // An entry holds up to about MAX_ENTRY_BYTES (plus one proposal):
            // keep an AppendEntries frame well under the peer frame limit.
            max_payload_entries: 16,
            max_in_snapshot_log_to_keep: 1000,
            ..Default::default()
        }
        .validate()
        .map_err(|e| EnsembleError::Raft(e.to_string()))?;
        let members: BTreeMap<NodeId, Node> = config
            .servers
            .iter()
            .map(|(id, peer)| {
                (
                    *id,
                    BasicNode::new(format!("{}:{}", peer.host, peer.peer_port)),
                )
            })
            .collect();
        let peers: Arc<BTreeMap<NodeId, Arc<PeerClient>>> = Arc::new(
            members
                .iter()
                .filter(|(id, _)| **id != my_id)
                .map(|(id, node)| {
                    let client = PeerClient::new(node.addr.clone(), transport.clone());
                    (*id, Arc::new(client))
                })
                .collect(),
        );
        let own_addr = members
            .get(&my_id)
            .map(|n| n.addr.clone())
            .ok_or_else(|| EnsembleError::Raft(format!("no server.{my_id} line")))?;
        let listener = tokio::net::TcpListener::bind(&own_addr)
            .await
            .map_err(|source| EnsembleError::Bind {
                addr: own_addr.clone(),
                source,
            })?;
        let raft = Raft::new(
            my_id,
            Arc::new(raft_config),
            NetworkFactory {
                my_id,
                peers: peers.clone(),
                transport: transport.clone(),
                durable: durable.clone(),
            },
            log_store,
            state_machine,
        )
        .await
        .map_err(|e| EnsembleError::Raft(e.to_string()))?;
        let initialized = raft
            .is_initialized()
            .await
            .map_err(|e| EnsembleError::Raft(e.to_string()))?;
        if !initialized {
            // Every member proposes the same first membership entry, so it
            // does not matter which one starts first.
            if let Err(error) = raft.initialize(members.clone()).await {
                tracing::info!(%error, "ensemble already initialised");
            }
        }
        let ensemble = Arc::new(Ensemble {
            raft,
            my_id,
            peers,
            host: Arc::downgrade(&host),
            proposals,
            timing,
            contact: Mutex::new(Contact::default()),
            committed,
            snapshot_stream: Mutex::default(),
        });
        tracing::info!(my_id, peer_addr = %own_addr, members = members.len(),
            ssl_quorum = transport.is_tls(), "ensemble member started");
        tokio::spawn(peer::serve(listener, ensemble.clone(), transport));
        tokio::spawn(ensemble.clone().route(host.clone(), proposals_rx));
        tokio::spawn(ensemble.clone().relay(host));
        tokio::spawn(release_commits(ensemble.raft.clone(), durable));
        Ok(ensemble)
    }

    fn metrics(&self) -> openraft::RaftMetrics<NodeId, Node> {
        self.raft.metrics().borrow().clone()
    }

    /// Leader, and confirmed by a quorum recently (a restarted member may
    /// believe for a moment that it still leads its old term).
    pub fn is_leader(&self) -> bool {
        let m = self.raft.metrics();
        let m = m.borrow();
        m.current_leader == Some(self.my_id)
            && m.millis_since_quorum_ack
                .is_some_and(|ms| Duration::from_millis(ms) < self.timing.stale_after)
    }

    fn contact(&self) -> std::sync::MutexGuard<'_, Contact> {
        self.contact.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Term, log, commit and apply points, leader, members, and (on the
    /// leader) followers and followers fully caught up — `mntr`'s zk_peers,
    /// zk_followers and zk_synced_followers. One read of openraft's
    /// metrics watch (no request to the Raft task) and one atomic load.
    pub fn figures(&self) -> RaftFigures {
        let m = self.raft.metrics();
        let m = m.borrow();
        let followers = m.replication.as_ref().map(|replication| {
            let last = m.last_log_index;
            let synced = replication
                .iter()
                .filter(|(id, matched)| **id != self.my_id && matched.map(|l| l.index) == last)
                .count();
            (replication.len().saturating_sub(1), synced)
        });
        RaftFigures {
            term: m.current_term,
            last_log_index: m.last_log_index,
            commit_index: self.committed.get(),
            applied_index: m.last_applied.map(|l| l.index),
            leader: m.current_leader,
            members: self.peers.len() + 1,
            followers,
        }
    }

    pub fn mode(&self) -> &'static str {
        let m = self.raft.metrics();
        let m = m.borrow();
        match m.state {
            ServerState::Leader => "leader",
            ServerState::Follower => "follower",
            ServerState::Candidate => "candidate",
            ServerState::Learner => "observer",
            ServerState::Shutdown => "shutdown",
        }
    }

    /// Whether clients may be served here: the leader must have heard a
    /// quorum, a follower the leader, recently.
    pub fn serving(&self) -> bool {
        let m = self.raft.metrics();
        let m = m.borrow();
        match m.current_leader {
            Some(leader) if leader == self.my_id => m
                .millis_since_quorum_ack
                .is_some_and(|ms| Duration::from_millis(ms) < self.timing.stale_after),
            Some(_) => {
                let contact = self.contact();
                contact.caught_up
                    && contact
                        .at
                        .is_some_and(|t| t.elapsed() < self.timing.stale_after)
            }
            None => false,
        }
    }

    /// Waits (up to an election) for a known leader.
    async fn leader(&self) -> Option<NodeId> {
        let deadline = Instant::now() + self.timing.election_max * 2;
        let mut metrics = self.raft.metrics();
        loop {
            if let Some(leader) = metrics.borrow().current_leader {
                return Some(leader);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            if tokio::time::timeout(left, metrics.changed()).await.is_err() {
                return None;
            }
        }
    }

    /// `sync`: returns once this member has applied everything committed
    /// before the call, confirmed by a quorum (a read index).
    pub async fn read_barrier(self: Arc<Self>, host: &dyn Host) -> bool {
        match self.leader().await {
            Some(leader) if leader == self.my_id => self.raft.ensure_linearizable().await.is_ok(),
            Some(leader) => {
                let Some(peer) = self.peers.get(&leader) else {
                    return false;
                };
                match peer
                    .call(&PeerRequest::ReadIndex, self.timing.request)
                    .await
                {
                    Ok(PeerResponse::ReadIndex(Some(zxid))) => {
                        host.wait_applied(zxid, self.timing.request).await
                    }
                    _ => false,
                }
            }
            None => false,
        }
    }

    /// Routes every proposal of this member: lead it, or forward it. The
    /// proposals waiting together are led together, as one Raft entry.
    async fn route(self: Arc<Self>, host: Arc<dyn Host>, mut rx: mpsc::Receiver<Proposal>) {
        let mut lead = LeaderState {
            private: None,
            term: 0,
            shared: LeaderShared::default(),
        };
        while let Some(first) = rx.recv().await {
            if self.metrics().current_leader == Some(self.my_id) {
                // While the log is busy with earlier entries, let the
                // proposals gather: they go into the next entry together.
                lead.shared.wait_inflight_below(MAX_INFLIGHT_ENTRIES).await;
            }
            let mut size = proposal_size(&first);
            let mut batch = vec![first];
            while batch.len() < MAX_ENTRY_PROPOSALS && size < MAX_ENTRY_BYTES {
                match rx.try_recv() {
                    Ok(p) => {
                        size += proposal_size(&p);
                        batch.push(p);
                    }
                    Err(_) => break,
                }
            }
            let leading = self.metrics().current_leader == Some(self.my_id);
            if leading {
                self.lead(host.as_ref(), &mut lead, batch).await;
            } else {
                for p in batch {
                    self.dispatch(&host, &mut lead, p).await;
                }
            }
        }
    }

    /// Leads or forwards one proposal. If the leader cannot be reached, waits
    /// for the next one and tries once more, so a failover costs the client
    /// a pause rather than a lost connection.
    async fn dispatch(&self, host: &Arc<dyn Host>, lead: &mut LeaderState, mut p: Proposal) {
        for attempt in 0..2 {
            match self.leader().await {
                Some(leader) if leader == self.my_id => {
                    return self.lead(host.as_ref(), lead, vec![p]).await
                }
                Some(_) if p.forwarded => break,
                Some(leader) => {
                    lead.private = None;
                    match self.forward(host, leader, p).await {
                        Ok(()) => return,
                        Err(back) => p = back,
                    }
                    if attempt == 0 {
                        self.leader_change(leader).await;
                    }
                }
                None => break,
            }
        }
        answer(p.reply, Outcome::Unavailable);
    }

    /// As leader: check each proposal, in order, against the private tree
    /// and append the accepted ones (and the refusals that must wait for
    /// them) as one entry.
    async fn lead(&self, host: &dyn Host, lead: &mut LeaderState, batch: Vec<Proposal>) {
        let term = self.metrics().current_term;
        if lead.private.is_none() || lead.term != term || lead.shared.stale.swap(false, SeqCst) {
            // Let what is in flight settle, then start again from what is
            // committed and applied (ensure_linearizable waits for that).
            while lead.shared.inflight.load(SeqCst) > 0 {
                let _ =
                    tokio::time::timeout(Duration::from_millis(50), lead.shared.drained.notified())
                        .await;
            }
            if self.raft.ensure_linearizable().await.is_err() {
                for p in batch {
                    answer(p.reply, Outcome::Unavailable);
                }
                return;
            }
            lead.private = Some(host.tree().clone());
            lead.term = term;
        }
        let Some(private) = lead.private.as_mut() else {
            for p in batch {
                answer(p.reply, Outcome::Unavailable);
            }
            return;
        };
        let time = now_ms();
        let mut proposals = Vec::with_capacity(batch.len());
        let mut waiting = Vec::with_capacity(batch.len());
        for p in batch {
            let (txns, refused) = match prepare_proposal(private, &p) {
                Ok(txns) => (txns, None),
                Err(refused) => (Vec::new(), Some(refused)),
            };
            if txns.is_empty() && proposals.is_empty() && lead.shared.inflight.load(SeqCst) == 0 {
                // Nothing accepted is still on its way: the private tree is
                // the published one, so the answer can go now.
                let zxid = host.tree().last_zxid();
                let outcome = refused.map_or(
                    Outcome::Done {
                        zxid,
                        results: Vec::new(),
                    },
                    |r| with_zxid(r, zxid),
                );
                answer(p.reply, outcome);
                continue;
            }
            for txn in &txns {
                let entry = TxnEntry {
                    zxid: private.last_zxid() + 1,
                    time,
                    session: p.session,
                    txn: txn.clone(),
                };
                private.apply(&entry, &mut Vec::new());
            }
            // A refusal (or a sweep with nothing to do) while accepted
            // writes are in flight was decided against state not yet
            // applied: it goes through the log without transactions, like
            // ZooKeeper's error transactions, so its answer — and its zxid —
            // come after theirs.
            proposals.push(Proposed {
                session: p.session,
                txns,
            });
            waiting.push((p.reply, refused));
        }
        if proposals.is_empty() {
            return;
        }
        let command = Command { time, proposals };
        match self.raft.client_write_ff(command).await {
            Ok(receiver) => {
                lead.shared.inflight.fetch_add(1, SeqCst);
                tokio::spawn(complete(
                    receiver,
                    waiting,
                    lead.shared.clone(),
                    self.timing.request,
                ));
            }
            Err(error) => {
                tracing::warn!(%error, "raft refused a proposal");
                lead.private = None;
                for (reply, _) in waiting {
                    answer(reply, Outcome::Unavailable);
                }
            }
        }
    }
}

/// Most leader entries appended and not yet applied: more proposals wait
/// for the next entry rather than each paying its own log flush.
const MAX_INFLIGHT_ENTRIES: usize = 2;
/// Most proposals in one Raft entry.
const MAX_ENTRY_PROPOSALS: usize = 1024;
/// Roughly the most bytes of client data in one Raft entry (an entry holds
/// at least one proposal, whatever its size).
const MAX_ENTRY_BYTES: usize = 1 << 20;

/// About how many bytes a proposal adds to a Raft entry.
fn proposal_size(p: &Proposal) -> usize {
    use crate::proto::request::WriteOp;
    fn op_size(op: &WriteOp) -> usize {
        let data = |d: &Option<bytes::Bytes>| d.as_ref().map_or(0, |d| d.len());
        64 + match op {
            WriteOp::Create(c) => c.path.len() + data(&c.data) + 32 * c.acl.len(),
            WriteOp::SetData(r) => r.path.len() + data(&r.data),
            WriteOp::SetAcl(r) => r.path.len() + 32 * r.acl.len(),
            WriteOp::Delete(r) | WriteOp::Check(r) => r.path.len(),
        }
    }
    match &p.kind {
        ProposalKind::Write(op) => op_size(op),
        ProposalKind::Multi(ops) => ops.iter().map(op_size).sum(),
        _ => 64,
    }
}

impl Ensemble {
    /// As follower: hand the proposal to the leader (sent now, so this
    /// member's proposals reach the leader in order), then answer once this
    /// member has applied the result, so a read here sees it. Gives the
    /// proposal back if the leader cannot be reached (nothing was sent, so
    /// it may be retried).
    async fn forward(
        &self,
        host: &Arc<dyn Host>,
        leader: NodeId,
        p: Proposal,
    ) -> Result<(), Proposal> {
        let Some(peer) = self.peers.get(&leader) else {
            return Err(p);
        };
        let request = PeerRequest::Forward(Forwarded {
            session: p.session,
            ids: p.ids.to_vec(),
            kind: p.kind.clone(),
        });
        let pending = match peer.start(&request).await {
            Ok(pending) => pending,
            Err(error) => {
                tracing::debug!(%error, leader, "cannot forward to the leader");
                return Err(p);
            }
        };
        let host = host.clone();
        let wait = self.timing.request;
        let reply = p.reply;
        tokio::spawn(async move {
            let outcome = match tokio::time::timeout(wait, pending).await {
                Ok(Ok(PeerResponse::Forward(outcome))) => outcome,
                _ => Outcome::Unavailable,
            };
            // Whatever the leader answered, this member answers only once it
            // has applied as far: a read here afterwards is no older.
            let outcome = match outcome_zxid(&outcome) {
                Some(zxid) if !host.wait_applied(zxid, wait).await => Outcome::Unavailable,
                _ => outcome,
            };
            answer(reply, outcome);
        });
        Ok(())
    }

    /// Waits (bounded) until someone other than `old` leads.
    async fn leader_change(&self, old: NodeId) {
        let deadline = Instant::now() + self.timing.request;
        let mut metrics = self.raft.metrics();
        loop {
            let leader = metrics.borrow().current_leader;
            if leader.is_some_and(|l| l != old) {
                return;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            if tokio::time::timeout(left, metrics.changed()).await.is_err() {
                return;
            }
        }
    }

    /// Answers one request from another member. The part before the returned
    /// future runs in the connection's arrival order.
    pub(crate) async fn handle_peer(
        self: &Arc<Self>,
        request: PeerRequest,
    ) -> Pin<Box<dyn Future<Output = PeerResponse> + Send>> {
        let raft = self.raft.clone();
        match request {
            PeerRequest::AppendEntries(rpc) => {
                self.contact().at = Some(Instant::now());
                Box::pin(async move { PeerResponse::AppendEntries(raft.append_entries(rpc).await) })
            }
            PeerRequest::Vote(rpc) => {
                Box::pin(async move { PeerResponse::Vote(raft.vote(rpc).await) })
            }
            PeerRequest::InstallSnapshot(rpc) => {
                let checked = self
                    .snapshot_stream
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .accept(&rpc.meta.snapshot_id, rpc.offset, rpc.data.len());
                if let Err(mismatch) = checked {
                    tracing::warn!(%mismatch, "refused a snapshot chunk that would leave a gap");
                    let refused = openraft::error::RaftError::APIError(mismatch.into());
                    return Box::pin(async move { PeerResponse::InstallSnapshot(Err(refused)) });
                }
                Box::pin(
                    async move { PeerResponse::InstallSnapshot(raft.install_snapshot(rpc).await) },
                )
            }
            PeerRequest::Forward(forwarded) => {
                let (tx, rx) = oneshot::channel();
                let proposal = Proposal {
                    forwarded: true,
                    session: forwarded.session,
                    ids: Arc::new(forwarded.ids),
                    kind: forwarded.kind,
                    reply: Some(tx),
                };
                if self.proposals.send(proposal).await.is_err() {
                    return Box::pin(async { PeerResponse::Forward(Outcome::Unavailable) });
                }
                Box::pin(
                    async move { PeerResponse::Forward(rx.await.unwrap_or(Outcome::Unavailable)) },
                )
            }
            PeerRequest::ReadIndex => {
                let host = self.host.clone();
                Box::pin(async move {
                    let zxid = match (raft.ensure_linearizable().await, host.upgrade()) {
                        (Ok(_), Some(host)) => Some(host.tree().last_zxid()),
                        _ => None,
                    };
                    PeerResponse::ReadIndex(zxid)
                })
            }
            PeerRequest::Touch(sessions) => {
                let host = self.host.upgrade();
                if let Some(host) = &host {
                    for session in sessions {
                        host.touch_session(session);
                    }
                }
                let zxid = host.map_or(0, |h| h.tree().last_zxid());
                Box::pin(async move { PeerResponse::Touched(zxid) })
            }
        }
    }

    /// Keeps session clocks and serving state in step with leadership:
    /// followers relay which sessions their clients were heard from; a new
    /// leader gives every session a fresh timeout; a member that lost touch
    /// with the majority drops its clients so they move to another member.
    async fn relay(self: Arc<Self>, host: Arc<dyn Host>) {
        let mut ticker = tokio::time::interval(self.timing.heartbeat);
        let mut was_leader = false;
        let mut was_serving = false;
        loop {
            ticker.tick().await;
            let leader = self.metrics().current_leader;
            let leading = self.is_leader();
            if leading && !was_leader {
                tracing::info!(
                    my_id = self.my_id,
                    "became leader; sessions get a fresh timeout"
                );
                host.refresh_sessions();
            }
            was_leader = leading;
            match leader {
                Some(l) if l != self.my_id => {
                    let touched = host.take_touched_sessions();
                    if let Some(peer) = self.peers.get(&l) {
                        let request = PeerRequest::Touch(touched.clone());
                        let call = peer.call(&request, self.timing.heartbeat * 4);
                        if let Ok(PeerResponse::Touched(leader_zxid)) = call.await {
                            let applied = host.tree().last_zxid();
                            let mut contact = self.contact();
                            contact.at = Some(Instant::now());
                            // Caught up once this member has applied what the
                            // leader had applied one heartbeat ago.
                            contact.caught_up |= contact.leader_zxid > 0
                                && applied >= contact.leader_zxid
                                || applied >= leader_zxid;
                            contact.leader_zxid = leader_zxid;
                        } else {
                            for session in touched {
                                host.touch_session(session);
                            }
                        }
                    }
                }
                _ => {
                    host.take_touched_sessions();
                }
            }
            let serving = self.serving();
            if !serving && !leading {
                let mut contact = self.contact();
                if contact
                    .at
                    .is_none_or(|t| t.elapsed() >= self.timing.stale_after)
                {
                    contact.caught_up = false;
                }
            }
            if was_serving && !serving {
                tracing::warn!(
                    my_id = self.my_id,
                    "lost the majority: dropping client connections"
                );
                host.drop_clients();
            } else if serving && !was_serving {
                tracing::info!(my_id = self.my_id, "serving clients again");
            }
            was_serving = serving;
        }
    }
}

/// Sends followers the commit point the network cut short while the
/// leader's flush was behind it, as soon as the flush catches up (a
/// heartbeat carries it), rather than with the next write or heartbeat.
async fn release_commits(raft: Raft<TypeConfig>, durable: Arc<durable::Durable>) {
    loop {
        durable.held_back().await;
        if raft.trigger().heartbeat().await.is_err() {
            return;
        }
    }
}

/// The zxid an outcome reports, if any.
fn outcome_zxid(outcome: &Outcome) -> Option<i64> {
    match outcome {
        Outcome::Done { zxid, .. }
        | Outcome::Failed { zxid, .. }
        | Outcome::MultiFailed { zxid, .. } => Some(*zxid),
        Outcome::Unavailable => None,
    }
}

/// A refusal answered as of `zxid`.
fn with_zxid(outcome: Outcome, zxid: i64) -> Outcome {
    match outcome {
        Outcome::Failed { code, .. } => Outcome::Failed { zxid, code },
        Outcome::MultiFailed { codes, .. } => Outcome::MultiFailed { zxid, codes },
        other => other,
    }
}

/// Answers the proposals of one leader entry, in order, once it is applied.
/// An entry that is not committed in time (this leader lost its quorum) is
/// answered Unavailable: its clients see a lost connection and do not know
/// whether their writes happened, exactly as with ZooKeeper.
async fn complete(
    receiver: oneshot::Receiver<openraft::raft::ClientWriteResult<TypeConfig>>,
    waiting: Vec<(Option<oneshot::Sender<Outcome>>, Option<Outcome>)>,
    lead: LeaderShared,
    wait: Duration,
) {
    let applied = match tokio::time::timeout(wait, receiver).await {
        Ok(Ok(Ok(response))) => Some(response.data),
        Ok(Ok(Err(error))) => {
            tracing::info!(%error, "proposal not committed");
            None
        }
        _ => None,
    };
    let mut each = match applied {
        Some(applied) if applied.each.len() == waiting.len() => applied.each.into_iter(),
        Some(applied) => {
            tracing::error!(
                applied = applied.each.len(),
                proposed = waiting.len(),
                "an entry applied as a different number of proposals"
            );
            lead.stale.store(true, SeqCst);
            Vec::new().into_iter()
        }
        None => {
            lead.stale.store(true, SeqCst);
            Vec::new().into_iter()
        }
    };
    lead.inflight.fetch_sub(1, SeqCst);
    lead.drained.notify_waiters();
    for (reply, refused) in waiting {
        let outcome = match (each.next(), refused) {
            (Some((zxid, _)), Some(refused)) => with_zxid(refused, zxid),
            (Some((zxid, results)), None) => Outcome::Done { zxid, results },
            (None, _) => Outcome::Unavailable,
        };
        answer(reply, outcome);
    }
}

#[cfg(test)]
mod tests;
