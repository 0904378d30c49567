//! Writing the tree's changed keys behind the write path.
//!
//! The log (standalone) or the Raft log (ensemble) is what makes a write
//! durable; the per-key state only saves replaying it on the next start. So
//! the keys changed since the last checkpoint are encoded (under the tree's
//! lock, a consistent picture at one zxid) and handed to this module's
//! thread, which writes them while the write path goes on. A checkpoint
//! starts at most every [`EVERY`] or once [`MAX_DIRTY`] keys changed, and
//! only when the previous one is done, so a busy disk makes checkpoints
//! bigger, never the write path slower. A failed write's keys are kept and
//! written with the next checkpoint.

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
    done: Option<Sender<Result<(), StorageError>>>,
}

#[derive(Default)]
struct State {
    /// A checkpoint is queued or being written.
    busy: bool,
    /// Keys of a failed write, to be written with the next checkpoint.
    failed: Dirty,
}

/// Handle to the checkpoint thread (cheap to share: clone the `Arc`).
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
        let (jobs, rx) = mpsc::sync_channel(2);
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
        if self.state().busy {
            return false;
        }
        dirty >= MAX_DIRTY || lock(&self.started).elapsed() >= EVERY
    }

    /// Encodes `keys` (taken from `tree`'s changed keys since the last
    /// checkpoint; those of a failed write are added) as `tree` holds them
    /// now, with `meta`, and queues them for the thread (`wait`: and waits
    /// until they are written).
    pub fn checkpoint(
        &self,
        tree: &DataTree,
        mut keys: Dirty,
        meta: &[(&str, Vec<u8>)],
        wait: bool,
    ) -> Result<(), StorageError> {
        keys.merge(std::mem::take(&mut self.state().failed));
        let set = match self.store.encode(tree, &keys, meta) {
            Ok(set) => set,
            Err(error) => {
                self.state().failed.merge(keys);
                return Err(error);
            }
        };
        *lock(&self.started) = Instant::now();
        self.state().busy = true;
        let (done, finished) = if wait {
            let (tx, rx) = mpsc::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        self.jobs
            .send(Job { set, keys, done })
            .map_err(|_| StorageError::CheckpointerGone)?;
        match finished {
            Some(rx) => rx.recv().map_err(|_| StorageError::CheckpointerGone)?,
            None => Ok(()),
        }
    }

    /// Waits until every queued checkpoint is written, and forgets the keys
    /// of failed ones (the caller is about to replace the whole state).
    pub fn settle_and_forget_failures(&self) -> Result<(), StorageError> {
        let (tx, rx) = mpsc::channel();
        let job = Job {
            set: WriteSet::default(),
            keys: Dirty::default(),
            done: Some(tx),
        };
        self.jobs
            .send(job)
            .map_err(|_| StorageError::CheckpointerGone)?;
        rx.recv().map_err(|_| StorageError::CheckpointerGone)??;
        self.state().failed = Dirty::default();
        Ok(())
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

fn run(store: &dyn Store, log: Option<&TxnLog>, state: &Mutex<State>, jobs: Receiver<Job>) {
    while let Ok(job) = jobs.recv() {
        let started = Instant::now();
        let result = write(store, log, &job.set);
        tracing::debug!(keys = job.set.writes.len(), took = ?started.elapsed(), "checkpoint written");
        {
            let mut state = lock(state);
            if let Err(error) = &result {
                tracing::error!(%error, keys = job.keys.len(), "checkpoint failed; its keys wait for the next one");
                state.failed.merge(job.keys);
            }
            state.busy = false;
        }
        if let Some(done) = job.done {
            let _ = done.send(result);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
