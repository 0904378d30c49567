//! The commit pipeline: the one place the tree changes.
//!
//! A dedicated thread takes proposals in arrival order, checks each against a
//! private copy of the tree that already includes every accepted change
//! ([`prepare`]), and applies it there. When no more proposals are waiting
//! (or a batch is full) it writes everything the batch changed to storage in
//! one atomic batch and one flush (group commit), then applies the same
//! transactions to the published tree that reads see, fires the watches, and
//! only then answers. So a reply, an event, or a read never shows anything
//! that a crash could take back.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};

use super::publish::publish;
use super::Shared;
use crate::proto::records::Id;
use crate::proto::request::WriteOp;
use crate::proto::ErrorCode;
use crate::storage::Store;
use crate::tree::prepare::{prepare, prepare_expiry, prepare_multi, Caller};
use crate::tree::{DataTree, OpResult};
use crate::txn::{Txn, TxnEntry};

/// Most proposals written in one flush.
const MAX_BATCH: usize = 1024;

/// What a proposal asks for.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum ProposalKind {
    Write(WriteOp),
    Multi(Vec<WriteOp>),
    CreateSession {
        timeout_ms: i32,
        password: [u8; 16],
    },
    CloseSession,
    /// Remove empty containers and expired TTL nodes (server housekeeping).
    SweepExpirable,
}

/// A change asked of the commit thread, with where to send the outcome.
pub struct Proposal {
    /// Sent by another ensemble member: never forwarded again.
    pub forwarded: bool,
    pub session: i64,
    pub ids: Arc<Vec<Id>>,
    pub kind: ProposalKind,
    pub reply: Option<oneshot::Sender<Outcome>>,
}

/// How a proposal ended.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Outcome {
    /// Committed as `zxid`, with one result per (sub-)operation.
    Done { zxid: i64, results: Vec<OpResult> },
    /// Refused; nothing changed.
    Failed { zxid: i64, code: ErrorCode },
    /// A multi refused, with ZooKeeper's per-op codes.
    MultiFailed { zxid: i64, codes: Vec<ErrorCode> },
    /// No quorum can be reached from here: the client must try another
    /// member (its connection is closed, which it sees as connection loss).
    Unavailable,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// The state only the commit thread touches.
pub struct Committer {
    shared: Arc<Shared>,
    private: DataTree,
    store: Box<dyn Store>,
}

/// Prepares one proposal against `tree` (the tree as it will be once every
/// accepted change is applied) into zero or more transactions, or the
/// refusal to send back. Shared by the standalone commit thread and an
/// ensemble leader.
pub fn prepare_proposal(tree: &DataTree, p: &Proposal) -> Result<Vec<Txn>, Outcome> {
    let caller = Caller {
        session: p.session,
        ids: &p.ids,
    };
    let zxid = tree.last_zxid();
    let needs_session = matches!(p.kind, ProposalKind::Write(_) | ProposalKind::Multi(_));
    if needs_session && tree.session(p.session).is_none() {
        // The session expired while this request was on its way.
        return Err(Outcome::Failed {
            zxid,
            code: ErrorCode::SessionExpired,
        });
    }
    match &p.kind {
        ProposalKind::Write(op) => prepare(tree, &caller, op)
            .map(|t| vec![t])
            .map_err(|code| Outcome::Failed { zxid, code }),
        ProposalKind::Multi(ops) => prepare_multi(tree, &caller, ops)
            .map(|t| vec![t])
            .map_err(|codes| Outcome::MultiFailed { zxid, codes }),
        ProposalKind::CreateSession {
            timeout_ms,
            password,
        } => Ok(vec![Txn::CreateSession {
            timeout_ms: *timeout_ms,
            password: *password,
        }]),
        ProposalKind::CloseSession => {
            if tree.session(p.session).is_some() {
                Ok(vec![Txn::CloseSession])
            } else {
                Err(Outcome::Failed {
                    zxid,
                    code: ErrorCode::SessionExpired,
                })
            }
        }
        ProposalKind::SweepExpirable => {
            let now = now_ms();
            Ok(tree
                .expirable()
                .filter_map(|path| prepare_expiry(tree, path, now))
                .collect())
        }
    }
}

impl Committer {
    /// `private` must equal the published tree; it starts recording changes here.
    pub fn new(shared: Arc<Shared>, mut private: DataTree, store: Box<dyn Store>) -> Committer {
        private.track_dirty();
        Committer {
            shared,
            private,
            store,
        }
    }

    /// Runs until every sender of `rx` is gone.
    pub fn run(mut self, mut rx: mpsc::Receiver<Proposal>) {
        while let Some(first) = rx.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(p) => batch.push(p),
                    Err(_) => break,
                }
            }
            self.commit_batch(batch);
        }
        tracing::info!("commit thread stopped");
    }

    fn entry(&self, session: i64, txn: Txn) -> TxnEntry {
        TxnEntry {
            zxid: self.private.last_zxid() + 1,
            time: now_ms(),
            session,
            txn,
        }
    }

    fn prepare(&self, p: &Proposal) -> Result<Vec<Txn>, Outcome> {
        prepare_proposal(&self.private, p)
    }

    fn commit_batch(&mut self, batch: Vec<Proposal>) {
        let mut entries = Vec::new();
        let mut answers = Vec::with_capacity(batch.len());
        for p in batch {
            let outcome = match self.prepare(&p) {
                Ok(txns) => {
                    let mut results = Vec::new();
                    for txn in txns {
                        let entry = self.entry(p.session, txn);
                        results.extend(self.private.apply(&entry, &mut Vec::new()));
                        entries.push(entry);
                    }
                    Outcome::Done {
                        zxid: self.private.last_zxid(),
                        results,
                    }
                }
                Err(refused) => refused,
            };
            answers.push((outcome, p.reply));
        }
        if !entries.is_empty() {
            let dirty = self.private.take_dirty();
            if let Err(error) = self.store.persist(&self.private, &dirty) {
                self.abandon(&dirty, &error, answers);
                return;
            }
            publish(&self.shared, &entries);
        }
        for (outcome, reply) in answers {
            if let Some(reply) = reply {
                let _ = reply.send(outcome);
            }
        }
    }

    /// Storage failed: nothing of this batch may be acknowledged or seen.
    /// The private tree goes back to the published one, and storage is
    /// rewritten from it for the keys the batch touched (best effort: sled
    /// may already hold the batch in memory even though the flush failed).
    fn abandon(
        &mut self,
        dirty: &crate::tree::Dirty,
        error: &crate::storage::StorageError,
        answers: Vec<(Outcome, Option<oneshot::Sender<Outcome>>)>,
    ) {
        tracing::error!(%error, "storage failed: refusing this batch of writes");
        let published = self.shared.tree().clone();
        if let Err(error) = self.store.persist(&published, dirty) {
            tracing::error!(%error, "storage still failing while restoring the last good state");
        }
        let zxid = published.last_zxid();
        self.private = published;
        self.private.track_dirty();
        for (_, reply) in answers {
            if let Some(reply) = reply {
                let _ = reply.send(Outcome::Failed {
                    zxid,
                    code: ErrorCode::SystemError,
                });
            }
        }
    }
}
