//! A write on its way to the tree: what a client's request asks for
//! ([`Proposal`]), how it is checked against the tree as it will be
//! ([`prepare_proposal`]), and how it ended ([`Outcome`]). Shared by both
//! ways a write is made durable — the standalone commit pipeline
//! (`server/commit.rs`) and an ensemble's Raft log (`raft/`) — so neither
//! depends on the other.

use std::sync::Arc;

use tokio::sync::oneshot;

use crate::proto::records::Id;
use crate::proto::request::WriteOp;
use crate::proto::ErrorCode;
use crate::tree::prepare::{prepare, prepare_expiry, prepare_multi, Caller};
use crate::tree::{DataTree, OpResult};
use crate::txn::Txn;

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

pub use runnel_common::clock::now_ms;

/// Prepares one proposal against `tree` (the tree as it will be once every
/// accepted change is applied) into zero or more transactions, or the
/// refusal to send back. Used by the standalone commit thread and by an
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
