//! The commit pipeline: the one place the tree changes.
//!
//! A dedicated thread takes proposals in arrival order, checks each against a
//! private copy of the tree that already includes every accepted change
//! ([`prepare`]), and applies it there. When no more proposals are waiting
//! (or a batch is full) it encodes the batch's transactions as one log
//! record; the storage thread appends every record waiting with one flush
//! (group commit), then applies the same transactions to the published tree
//! that reads see, fires the watches, and only then answers. So a reply, an
//! event, or a read never shows anything that a crash could take back. Every
//! `snapCount` transactions or so it hands a snapshot of the published tree
//! to the [`Snapshotter`], which writes it behind.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::publish::publish;
use super::Shared;
use crate::proposal::{now_ms, prepare_proposal, Outcome, Proposal};
use crate::proto::ErrorCode;
use crate::storage::{LogRecord, Snapshotter, StorageError, TxnLog};
use crate::tree::DataTree;
use crate::txn::{Txn, TxnEntry};

/// Most proposals written in one flush.
const MAX_BATCH: usize = 1024;

/// Most batches waiting for the storage thread before the commit thread
/// waits too (backpressure).
const MAX_QUEUED_BATCHES: usize = 8;

type Answer = (Outcome, Option<oneshot::Sender<Outcome>>);

/// One batch on its way from the commit thread to the storage thread.
struct Encoded {
    /// The storage epoch the batch was prepared in (see [`Flusher`]).
    epoch: u64,
    entries: Vec<TxnEntry>,
    /// The entries encoded for the log (`None` when there are none).
    log: Option<LogRecord>,
    answers: Vec<Answer>,
}

/// Shared between the two threads: the storage epoch, bumped when storage
/// fails (every batch prepared before is refused and the commit thread
/// starts again from the published tree), and the batches in flight.
#[derive(Default)]
struct PipelineState {
    epoch: AtomicU64,
    in_flight: AtomicUsize,
}

/// The commit thread's state: prepares and encodes batches.
pub struct Committer {
    shared: Arc<Shared>,
    private: DataTree,
    log: Arc<TxnLog>,
    snapshotter: Arc<Snapshotter>,
    pipeline: Arc<PipelineState>,
    epoch: u64,
}

/// The storage thread's state: writes, flushes, publishes, answers.
#[derive(Clone)]
struct Flusher {
    shared: Arc<Shared>,
    log: Arc<TxnLog>,
    snapshotter: Arc<Snapshotter>,
    pipeline: Arc<PipelineState>,
}

impl Committer {
    /// `private` must equal the published tree.
    pub fn new(
        shared: Arc<Shared>,
        private: DataTree,
        log: Arc<TxnLog>,
        snapshotter: Arc<Snapshotter>,
    ) -> Committer {
        Committer {
            shared,
            private,
            log,
            snapshotter,
            pipeline: Arc::default(),
            epoch: 0,
        }
    }

    /// Runs the pipeline until every sender of `rx` is gone: this thread
    /// prepares and encodes batch N+1 while the storage thread flushes
    /// batch N, and the storage thread flushes everything queued in one go.
    pub fn run(mut self, mut rx: mpsc::Receiver<Proposal>) {
        let (to_flusher, from_committer) = std::sync::mpsc::sync_channel(MAX_QUEUED_BATCHES);
        let flusher = Flusher {
            shared: self.shared.clone(),
            log: self.log.clone(),
            snapshotter: self.snapshotter.clone(),
            pipeline: self.pipeline.clone(),
        };
        let inline = flusher.clone();
        let storage = std::thread::Builder::new()
            .name("storage".into())
            .spawn(move || flusher.run(from_committer));
        if let Err(error) = storage {
            tracing::error!(%error, "cannot start the storage thread");
            return;
        }
        while let Some(first) = rx.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(p) => batch.push(p),
                    Err(_) => break,
                }
            }
            self.resync_after_failure();
            let encoded = self.prepare_batch(batch);
            if self.pipeline.in_flight.load(SeqCst) == 0 && rx.is_empty() {
                // Nothing else to prepare and the storage thread is idle:
                // store this batch here, saving two thread hand-offs on a
                // lightly loaded server. When more proposals wait, the batch
                // goes to the storage thread and this one prepares the next.
                inline.store_and_publish(vec![encoded]);
                continue;
            }
            self.pipeline.in_flight.fetch_add(1, SeqCst);
            if to_flusher.send(encoded).is_err() {
                break;
            }
        }
        tracing::info!("commit thread stopped");
    }

    /// After a storage failure: wait until nothing is in flight, then start
    /// again from the published tree (which holds only stored changes).
    fn resync_after_failure(&mut self) {
        let epoch = self.pipeline.epoch.load(SeqCst);
        if epoch == self.epoch {
            return;
        }
        while self.pipeline.in_flight.load(SeqCst) > 0 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        self.private = self.shared.tree().clone();
        self.epoch = epoch;
    }

    fn entry(&self, session: i64, txn: Txn) -> TxnEntry {
        TxnEntry {
            zxid: self.private.last_zxid() + 1,
            time: now_ms(),
            session,
            txn,
        }
    }

    /// Prepares each proposal against the private tree and applies it
    /// there, then encodes the batch's transactions for the log.
    fn prepare_batch(&mut self, batch: Vec<Proposal>) -> Encoded {
        let mut entries = Vec::new();
        let mut answers = Vec::with_capacity(batch.len());
        for p in batch {
            let outcome = match prepare_proposal(&self.private, &p) {
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
        let log = if entries.is_empty() {
            None
        } else {
            match LogRecord::encode(&entries) {
                Ok(record) => Some(record),
                Err(error) => {
                    // Cannot happen with postcard and in-memory values;
                    // treated like a storage failure so nothing of the
                    // batch is acknowledged.
                    tracing::error!(%error, "cannot encode a batch");
                    self.pipeline.epoch.fetch_add(1, SeqCst);
                    None
                }
            }
        };
        Encoded {
            epoch: self.epoch,
            entries,
            log,
            answers,
        }
    }
}

impl Flusher {
    fn run(self, rx: std::sync::mpsc::Receiver<Encoded>) {
        while let Ok(first) = rx.recv() {
            let mut batches = vec![first];
            while let Ok(more) = rx.try_recv() {
                batches.push(more);
            }
            let count = batches.len();
            self.store_and_publish(batches);
            self.pipeline.in_flight.fetch_sub(count, SeqCst);
        }
    }

    fn store_and_publish(&self, batches: Vec<Encoded>) {
        let epoch = self.pipeline.epoch.load(SeqCst);
        let (mut current, stale): (Vec<Encoded>, Vec<Encoded>) =
            batches.into_iter().partition(|b| b.epoch == epoch);
        for batch in stale {
            refuse(batch.answers, self.shared.tree().last_zxid());
        }
        if current.is_empty() {
            return;
        }
        let records: Vec<LogRecord> = current.iter_mut().filter_map(|b| b.log.take()).collect();
        if !records.is_empty() {
            if let Err(error) = self.log.append(&records) {
                self.abandon(current, &error.into());
                return;
            }
        }
        let entries: Vec<TxnEntry> = current
            .iter_mut()
            .flat_map(|b| std::mem::take(&mut b.entries))
            .collect();
        if !entries.is_empty() {
            publish(&self.shared, &entries);
        }
        for batch in current {
            for (outcome, reply) in batch.answers {
                if let Some(reply) = reply {
                    let _ = reply.send(outcome);
                }
            }
        }
        if self.snapshotter.due(entries.len()) {
            // Everything published is in the log already.
            let snapshot = self.shared.tree().snapshot();
            if let Err(error) = self.snapshotter.take(snapshot) {
                tracing::error!(%error, "cannot start a snapshot");
            }
        }
    }

    /// Appending failed: nothing of these batches may be acknowledged or
    /// seen. Every batch prepared so far is refused (the epoch moves on, so
    /// the commit thread starts again from the published tree).
    fn abandon(&self, batches: Vec<Encoded>, error: &StorageError) {
        tracing::error!(%error, "storage failed: refusing the pending writes");
        self.pipeline.epoch.fetch_add(1, SeqCst);
        let zxid = self.shared.tree().last_zxid();
        for batch in batches {
            refuse(batch.answers, zxid);
        }
    }
}

fn refuse(answers: Vec<Answer>, zxid: i64) {
    for (_, reply) in answers {
        if let Some(reply) = reply {
            let _ = reply.send(Outcome::Failed {
                zxid,
                code: ErrorCode::SystemError,
            });
        }
    }
}
