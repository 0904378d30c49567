//! A standalone server's state between runs, as ZooKeeper keeps it: its
//! last snapshot of the whole tree (`<dataDir>/snapshot/standalone`) plus
//! the transaction log after it.
//!
//! Every `snapCount` transactions or so the storage thread takes a snapshot
//! of the published tree (O(1) under the tree's lock: see
//! `tree::snapshot`) and hands it to this module's thread, which encodes
//! and writes it while writes go on, then lets the log delete the files it
//! covers. A snapshot starts only once the previous one is done, so a slow
//! disk makes snapshots rarer, never the write path slower; a failed one
//! keeps every log file, and the next is tried after as many transactions
//! again.
//!
//! Why not every changed znode into sled behind the log, as before: sled
//! took 15–20 µs of CPU per key, most of a core at 45 000 writes a second,
//! where a snapshot costs about a microsecond per znode once per
//! `snapCount` transactions.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;

use super::snapshot_file::{self, spread, STANDALONE};
use super::{SledStore, StorageError, Store, TxnLog};
use crate::tree::snapshot::{SnapshotBody, TreeSnapshot};
use crate::tree::DataTree;
use crate::txn::TxnEntry;

/// Handle to the snapshot thread.
pub struct Snapshotter {
    jobs: SyncSender<TreeSnapshot>,
    /// A snapshot is being written (or the thread is gone).
    busy: Arc<AtomicBool>,
    /// Transactions published since the last snapshot started.
    since: AtomicU64,
    /// Transactions between two snapshots, this time (ZooKeeper's: between
    /// half of `snapCount` and all of it, so the servers of a fleet do not
    /// all snapshot at once).
    next_after: AtomicU64,
    snap_count: u64,
}

impl Snapshotter {
    /// Starts the thread that writes snapshots into `dir` and then lets
    /// `log` drop the files they cover.
    pub fn start(dir: PathBuf, log: Arc<TxnLog>, snap_count: u64) -> std::io::Result<Snapshotter> {
        let (jobs, rx) = mpsc::sync_channel(1);
        let busy = Arc::new(AtomicBool::new(false));
        let thread_busy = busy.clone();
        std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || run(&dir, &log, &thread_busy, rx))?;
        Ok(Snapshotter {
            jobs,
            busy,
            since: AtomicU64::new(0),
            next_after: AtomicU64::new(spread(snap_count)),
            snap_count,
        })
    }

    /// Counts `txns` more published transactions; whether a snapshot
    /// should be taken now.
    pub fn due(&self, txns: usize) -> bool {
        let since = self.since.fetch_add(txns as u64, SeqCst) + txns as u64;
        since >= self.next_after.load(SeqCst) && !self.busy.load(SeqCst)
    }

    /// Hands `snapshot` to the thread.
    pub fn take(&self, snapshot: TreeSnapshot) -> Result<(), StorageError> {
        if self.busy.swap(true, SeqCst) {
            return Ok(());
        }
        self.since.store(0, SeqCst);
        self.next_after.store(spread(self.snap_count), SeqCst);
        self.jobs
            .try_send(snapshot)
            .map_err(|_| StorageError::SnapshotterGone)
    }
}

/// Marks the thread busy for good if it unwinds, so no snapshot is handed
/// to it any more (the log keeps every write).
struct Exit<'a>(&'a AtomicBool);

impl Drop for Exit<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!(
                "the snapshot thread failed; no more snapshots (the log keeps every write)"
            );
            self.0.store(true, SeqCst);
        }
    }
}

fn run(dir: &Path, log: &TxnLog, busy: &AtomicBool, jobs: Receiver<TreeSnapshot>) {
    let _exit = Exit(busy);
    while let Ok(snapshot) = jobs.recv() {
        let started = std::time::Instant::now();
        let zxid = snapshot.last_zxid();
        let nodes = snapshot.node_count();
        match snapshot_file::write(dir, STANDALONE, &snapshot) {
            Ok(()) => {
                drop(snapshot);
                tracing::info!(nodes, zxid = format_args!("0x{zxid:x}"), took = ?started.elapsed(), "snapshot written");
                if let Err(error) = log.covered(zxid) {
                    tracing::error!(%error, "cannot delete the log files the snapshot covers");
                }
            }
            Err(error) => {
                tracing::error!(%error, dir = %dir.display(), "cannot write a snapshot; the log keeps every write");
            }
        }
        busy.store(false, SeqCst);
    }
}

/// A standalone server's start: the last snapshot (or, the first time,
/// the per-znode state an older version kept in sled) with every logged
/// transaction after it applied. When anything was replayed or converted,
/// a new snapshot is written at once and the log files it covers go, so
/// the next start does not replay them again.
pub fn recover(
    store: &SledStore,
    dir: &Path,
    log: &TxnLog,
    logged: Vec<Vec<TxnEntry>>,
) -> Result<DataTree, StorageError> {
    let file_err = |source| StorageError::File {
        path: dir.join(STANDALONE).display().to_string(),
        source,
    };
    let snapshot: Option<SnapshotBody> = snapshot_file::read(dir, STANDALONE).map_err(file_err)?;
    let converting = snapshot.is_none();
    let mut tree = match snapshot {
        Some(body) => body.into_tree(),
        None => store.load()?,
    };
    let stored = tree.last_zxid();
    let mut replayed = 0usize;
    for entry in logged.iter().flatten().filter(|e| e.zxid > stored) {
        // A standalone server's zxids have no gaps: a jump means a lost log
        // file or a stale frame, and applying past it would be wrong.
        if entry.zxid != tree.last_zxid() + 1 {
            return Err(StorageError::Corrupt {
                key: "transaction log".into(),
                reason: format!(
                    "zxid 0x{:x} follows 0x{:x} (snapshot at 0x{stored:x})",
                    entry.zxid,
                    tree.last_zxid()
                ),
            });
        }
        tree.apply(entry, &mut Vec::new());
        replayed += 1;
    }
    if replayed > 0 {
        tracing::info!(
            transactions = replayed,
            zxid = format_args!("0x{:x}", tree.last_zxid()),
            "replayed the transaction log"
        );
    }
    if replayed > 0 || converting {
        snapshot_file::write(dir, STANDALONE, &tree.snapshot()).map_err(file_err)?;
    }
    if converting {
        // The snapshot holds it all now: the per-znode records go, so a
        // later start cannot mistake them for the current state.
        store.replace_all(&DataTree::new(), &[])?;
    }
    log.covered(tree.last_zxid())?;
    Ok(tree)
}

/// Removes what a standalone server kept in `dir` (its data now belongs
/// to an ensemble member).
pub fn remove_snapshot(dir: &Path) -> Result<(), StorageError> {
    snapshot_file::remove(dir, STANDALONE).map_err(|source| StorageError::File {
        path: dir.join(STANDALONE).display().to_string(),
        source,
    })
}
