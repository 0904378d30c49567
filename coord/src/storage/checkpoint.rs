//! Writing the tree's changed keys behind the write path.
//!
//! A standalone server's: its transaction log is what makes a write
//! durable; the per-key state only saves replaying it on the next start. So
//! the keys changed since the last checkpoint are encoded (under the tree's
//! lock, a consistent picture at one zxid) and handed to this module's
//! thread, which writes them while the write path goes on. A checkpoint
//! starts at most every [`EVERY`] or once [`MAX_DIRTY`] keys changed, and
//! only when the previous one is done, so a busy disk makes checkpoints
//! bigger, never the write path slower. A failed write's keys are kept and
//! written with the next checkpoint.
//!
//! Cost: sled takes 15-20 µs of CPU per key of a batch, and applies a batch
//! under a process-wide lock; [`MAX_DIRTY`] keeps each one short. An
//! ensemble member, where that cost was paid on every member, keeps
//! whole-tree snapshots instead (`raft::state_machine`).

use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{StorageError, Store, TxnLog, WriteSet};
use crate::tree::{DataTree, Dirty};

/// Most time changes wait before a checkpoint writes them.
pub const EVERY: Duration = Duration::from_millis(500);
/// Most changed keys waiting before a checkpoint starts. Encoding them is
/// done on the write path (a few hundred nanoseconds a key), so this bounds
/// that pause too.
pub const MAX_DIRTY: usize = 5_000;

struct Job {
    set: WriteSet,
    keys: Dirty,
    /// How many checkpoints had failed when this one was encoded: a later
    /// failure means it lacks keys the failed one held, so it must not be
    /// written either (its zxid would claim changes sled does not have).
    generation: u64,
    done: Option<Sender<Result<(), StorageError>>>,
}

/// A checkpoint encoded under the tree's lock, to be queued once the lock
/// is released.
pub struct Encoded(Job);

#[derive(Default)]
struct State {
    /// Checkpoints queued or being written.
    queued: usize,
    /// Keys of failed writes, to be written with the next checkpoint.
    failed: Dirty,
    /// How many checkpoint writes failed so far.
    failures: u64,
    /// The thread ended (it panicked): no checkpoint will be written.
    gone: bool,
}

/// Handle to the checkpoint thread.
pub struct Checkpointer {
    store: Arc<dyn Store>,
    jobs: SyncSender<Job>,
    state: Arc<Mutex<State>>,
    /// When the last checkpoint started.
    started: Mutex<Instant>,
}

impl Checkpointer {
    /// Starts the thread that writes checkpoints to `store`; with `log`,
    /// each checkpoint is flushed and then lets the log drop the files it
    /// covers.
    pub fn start(store: Arc<dyn Store>, log: Option<Arc<TxnLog>>) -> std::io::Result<Checkpointer> {
        let (jobs, rx) = mpsc::sync_channel(4);
        let state: Arc<Mutex<State>> = Arc::default();
        let writer = (store.clone(), state.clone());
        std::thread::Builder::new()
            .name("checkpoint".into())
            .spawn(move || run(&*writer.0, log.as_deref(), &writer.1, rx))?;
        Ok(Checkpointer {
            store,
            jobs,
            state,
            started: Mutex::new(Instant::now()),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Whether a checkpoint should start now, with `dirty` keys changed.
    pub fn due(&self, dirty: usize) -> bool {
        let state = self.state();
        if state.queued > 0 || state.gone {
            return false;
        }
        drop(state);
        dirty >= MAX_DIRTY || lock(&self.started).elapsed() >= EVERY
    }

    /// Encodes `keys` (taken from `tree`'s changed keys since the last
    /// checkpoint; those of failed writes are added) as `tree` holds them
    /// now, with `meta`. Queue the result with [`Checkpointer::queue`]
    /// after releasing the tree's lock.
    pub fn encode(
        &self,
        tree: &DataTree,
        mut keys: Dirty,
        meta: &[(&str, Vec<u8>)],
    ) -> Result<Encoded, StorageError> {
        let generation = {
            let mut state = self.state();
            keys.merge(std::mem::take(&mut state.failed));
            state.failures
        };
        match self.store.encode(tree, &keys, meta) {
            Ok(set) => Ok(Encoded(Job {
                set,
                keys,
                generation,
                done: None,
            })),
            Err(error) => {
                self.state().failed.merge(keys);
                Err(error)
            }
        }
    }

    /// Hands an encoded checkpoint to the thread (`wait`: and waits until
    /// it is written, or refused).
    pub fn queue(&self, encoded: Encoded, wait: bool) -> Result<(), StorageError> {
        let mut job = encoded.0;
        let finished = wait.then(|| {
            let (tx, rx) = mpsc::channel();
            job.done = Some(tx);
            rx
        });
        *lock(&self.started) = Instant::now();
        {
            let mut state = self.state();
            if state.gone {
                state.failed.merge(job.keys);
                return Err(StorageError::CheckpointerGone);
            }
            state.queued += 1;
        }
        if let Err(mpsc::SendError(job)) = self.jobs.send(job) {
            let mut state = self.state();
            state.queued -= 1;
            state.failed.merge(job.keys);
            return Err(StorageError::CheckpointerGone);
        }
        match finished {
            Some(rx) => rx.recv().map_err(|_| StorageError::CheckpointerGone)?,
            None => Ok(()),
        }
    }
}

fn write(store: &dyn Store, log: Option<&TxnLog>, set: &WriteSet) -> Result<(), StorageError> {
    if set.writes.is_empty() {
        return Ok(());
    }
    store.write(set)?;
    if let Some(log) = log {
        store.flush()?;
        log.covered(set.zxid)?;
    }
    Ok(())
}

/// Marks the thread gone if it unwinds, so callers stop waiting for it.
struct Exit<'a>(&'a Mutex<State>);

impl Drop for Exit<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!(
                "the checkpoint thread failed; no more checkpoints (the log keeps every write)"
            );
            lock(self.0).gone = true;
        }
    }
}

fn run(store: &dyn Store, log: Option<&TxnLog>, state: &Mutex<State>, jobs: Receiver<Job>) {
    let _exit = Exit(state);
    while let Ok(job) = jobs.recv() {
        let started = Instant::now();
        let stale = lock(state).failures > job.generation;
        let result = if stale {
            Err(StorageError::EarlierCheckpointFailed)
        } else {
            write(store, log, &job.set)
        };
        tracing::debug!(keys = job.set.writes.len(), took = ?started.elapsed(), "checkpoint written");
        {
            let mut state = lock(state);
            if let Err(error) = &result {
                if !stale {
                    tracing::error!(%error, keys = job.keys.len(), "checkpoint failed; its keys wait for the next one");
                    state.failures += 1;
                }
                state.failed.merge(job.keys);
            }
            state.queued -= 1;
        }
        if let Some(done) = job.done {
            let _ = done.send(result);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
