//! A standalone server's transaction log: plain append-only files, one
//! frame per batch of committed transactions, made durable with one
//! `fdatasync` per append (group commit), as ZooKeeper's `log.<n>` files.
//!
//! Why files and not a sled tree: sled applies a multi-key batch under a
//! process-wide lock, so the per-znode checkpoint of ten thousand znodes held up
//! every log append behind it (a 100–200 ms stall); and an append plus
//! `fdatasync` of one buffer is cheaper than sled's insert and flush. The
//! tree itself is snapshotted behind it (the [`Snapshotter`]); a file is
//! deleted once a snapshot that covers all of it is on disk.
//!
//! Frame: `length u32 BE | crc32c u32 BE | postcard Vec<TxnEntry>`. Only the
//! newest file that holds anything can end in a torn frame (a crash during an append that was
//! never acknowledged): reading stops there and the file is cut back to its
//! last whole frame. A bad frame in an older file is corruption.
//!
//! One writer appends (the commit pipeline); the snapshot thread seals the
//! current file (offering a fresh one, created and synced beforehand) and
//! deletes covered files.
//!
//! [`Snapshotter`]: super::Snapshotter

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::log_file::{self, file_name, parse_seq, FrameError};
use crate::txn::TxnEntry;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("transaction log {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "transaction log {path}: bad frame at byte {offset} ({reason}) before the newest file"
    )]
    Corrupt {
        path: PathBuf,
        offset: usize,
        reason: String,
    },
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("transaction log {path}: an append failed and could not be cut off again; no more writes until a restart")]
    Broken { path: PathBuf },
}

/// One batch of committed transactions, encoded as a frame.
#[derive(Debug)]
pub struct LogRecord {
    /// The zxid of the batch's last transaction.
    pub last_zxid: i64,
    frame: Vec<u8>,
}

impl LogRecord {
    /// Encodes `entries` (in zxid order).
    pub fn encode(entries: &[TxnEntry]) -> Result<LogRecord, LogError> {
        let (frame, _) = log_file::encode_into(entries, Vec::new())?;
        Ok(LogRecord {
            last_zxid: entries.last().map_or(0, |e| e.zxid),
            frame,
        })
    }
}

/// The file being appended to.
struct Current {
    file: File,
    path: PathBuf,
    /// Bytes of whole frames in the file.
    len: u64,
    /// The last zxid appended to it (0: none yet).
    last_zxid: i64,
    /// An append failed and its bytes could not be cut off: appending
    /// after them would hide acknowledged frames behind garbage.
    broken: bool,
}

/// Files that can be deleted once a snapshot covers them.
#[derive(Default)]
struct Sealed {
    /// Path and last zxid of each older file, oldest first.
    files: Vec<(PathBuf, i64)>,
    /// A fresh file for the writer to switch to at its next append.
    next: Option<(File, PathBuf)>,
    /// The sequence number the next fresh file gets.
    next_seq: u64,
}

/// The log directory: the current file and the sealed ones.
pub struct TxnLog {
    dir: PathBuf,
    current: Mutex<Current>,
    sealed: Mutex<Sealed>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> LogError + '_ {
    move |source| LogError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn create_file(dir: &Path, seq: u64) -> Result<(File, PathBuf), LogError> {
    let path = dir.join(file_name(seq));
    let file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)
        .map_err(io_err(&path))?;
    log_file::sync_dir(dir).map_err(io_err(dir))?;
    Ok((file, path))
}

/// Reads the whole frames of `bytes`; returns the entries and the length of
/// the whole frames, or why reading stopped early (and where).
fn read_frames(bytes: &[u8]) -> (Vec<Vec<TxnEntry>>, usize, Option<String>) {
    let log_file::Frames {
        frames,
        whole,
        stopped,
    } = log_file::split(bytes);
    let mut batches = Vec::with_capacity(frames.len());
    for (at, payload) in frames {
        match postcard::from_bytes::<Vec<TxnEntry>>(payload) {
            Ok(entries) => batches.push(entries),
            Err(error) => return (batches, at, Some(format!("undecodable: {error}"))),
        }
    }
    (batches, whole, stopped)
}

impl TxnLog {
    /// Opens the log in `dir` (created if missing) and reads every batch in
    /// it, oldest first; a torn frame at the end of the newest file is cut
    /// off. Appends go to a fresh file.
    pub fn open(dir: &Path) -> Result<(TxnLog, Vec<Vec<TxnEntry>>), LogError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut files: Vec<(u64, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
            let entry = entry.map_err(io_err(dir))?;
            if let Some(seq) = entry.file_name().to_str().and_then(parse_seq) {
                files.push((seq, entry.path()));
            }
        }
        files.sort();
        let mut sizes = Vec::with_capacity(files.len());
        for (_, path) in &files {
            sizes.push(std::fs::metadata(path).map_err(io_err(path))?.len());
        }
        let mut batches = Vec::new();
        let mut sealed = Vec::new();
        for (i, (_, path)) in files.iter().enumerate() {
            let mut bytes = Vec::new();
            File::open(path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(io_err(path))?;
            let (read, whole, stopped) = read_frames(&bytes);
            if let Some(reason) = stopped {
                // Appends go to one file at a time and later files start
                // empty (made ahead of time), so a torn tail is only
                // possible in the last file that holds anything.
                if sizes[i + 1..].iter().any(|&size| size > 0) {
                    return Err(LogError::Corrupt {
                        path: path.clone(),
                        offset: whole,
                        reason,
                    });
                }
                tracing::warn!(path = %path.display(), offset = whole, %reason,
                    "transaction log ends in a torn frame (a crash during an unacknowledged append): cut there");
                OpenOptions::new()
                    .write(true)
                    .open(path)
                    .and_then(|f| {
                        f.set_len(whole as u64)?;
                        f.sync_all()
                    })
                    .map_err(io_err(path))?;
            }
            let last = read.last().and_then(|b| b.last()).map_or(0, |e| e.zxid);
            sealed.push((path.clone(), last));
            batches.extend(read);
        }
        let next_seq = files.last().map_or(1, |(seq, _)| seq + 1);
        let (file, path) = create_file(dir, next_seq)?;
        let log = TxnLog {
            dir: dir.to_path_buf(),
            current: Mutex::new(Current {
                file,
                path,
                len: 0,
                last_zxid: 0,
                broken: false,
            }),
            sealed: Mutex::new(Sealed {
                files: sealed,
                next: None,
                next_seq: next_seq + 1,
            }),
        };
        Ok((log, batches))
    }

    /// Appends `records` in one write and waits until they are on disk.
    /// On failure the file is cut back to its last good length (best
    /// effort) and nothing of `records` may be acknowledged.
    pub fn append(&self, records: &[LogRecord]) -> Result<(), LogError> {
        let Some(last) = records.last() else {
            return Ok(());
        };
        let mut current = lock(&self.current);
        if current.broken {
            return Err(LogError::Broken {
                path: current.path.clone(),
            });
        }
        self.switch_if_offered(&mut current);
        let mut buf;
        let bytes: &[u8] = if records.len() == 1 {
            &last.frame
        } else {
            buf = Vec::with_capacity(records.iter().map(|r| r.frame.len()).sum());
            for record in records {
                buf.extend_from_slice(&record.frame);
            }
            &buf
        };
        let written = current
            .file
            .write_all(bytes)
            .and_then(|()| current.file.sync_data());
        if let Err(source) = written {
            let good = current.len;
            if let Err(error) = current.file.set_len(good) {
                tracing::error!(%error, path = %current.path.display(),
                    "cannot cut a failed append off the transaction log: refusing every write until a restart");
                current.broken = true;
            }
            return Err(LogError::Io {
                path: current.path.clone(),
                source,
            });
        }
        current.len += bytes.len() as u64;
        current.last_zxid = last.last_zxid;
        Ok(())
    }

    /// If a fresh file is offered, seals the current one (when it holds
    /// anything) and continues in the fresh one.
    fn switch_if_offered(&self, current: &mut Current) {
        if current.len == 0 {
            return;
        }
        let mut sealed = lock(&self.sealed);
        let Some((file, path)) = sealed.next.take() else {
            return;
        };
        let old = std::mem::replace(
            current,
            Current {
                file,
                path,
                len: 0,
                last_zxid: 0,
                broken: false,
            },
        );
        sealed.files.push((old.path, old.last_zxid));
    }

    /// A snapshot covering everything up to `zxid` is on disk: deletes
    /// the sealed files it covers, and offers a fresh file so the current
    /// one can be deleted after the next snapshot. (Called by the snapshot
    /// thread; the file work happens outside the writer's lock.)
    pub fn covered(&self, zxid: i64) -> Result<(), LogError> {
        let (doomed, want_next) = {
            let mut sealed = lock(&self.sealed);
            let (doomed, kept): (Vec<_>, Vec<_>) =
                sealed.files.drain(..).partition(|(_, last)| *last <= zxid);
            sealed.files = kept;
            let want_next = sealed.next.is_none().then(|| {
                sealed.next_seq += 1;
                sealed.next_seq - 1
            });
            (doomed, want_next)
        };
        let mut doomed = doomed.into_iter();
        while let Some((path, last)) = doomed.next() {
            if let Err(source) = std::fs::remove_file(&path) {
                // Keep what is left for the next snapshot.
                let mut sealed = lock(&self.sealed);
                sealed.files.push((path.clone(), last));
                sealed.files.extend(doomed);
                sealed.files.sort();
                return Err(LogError::Io { path, source });
            }
        }
        if let Some(seq) = want_next {
            let fresh = create_file(&self.dir, seq)?;
            lock(&self.sealed).next = Some(fresh);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::Txn;

    fn entry(zxid: i64) -> TxnEntry {
        TxnEntry {
            zxid,
            time: zxid,
            session: 1,
            txn: Txn::Delete {
                path: format!("/n{zxid}"),
            },
        }
    }

    fn append_one(log: &TxnLog, zxid: i64) {
        log.append(&[LogRecord::encode(&[entry(zxid)]).unwrap()])
            .unwrap();
    }

    /// Appends `bytes` to `path` as a crash in the middle of an append would.
    fn tear(path: &Path, bytes: &[u8]) {
        let mut file = OpenOptions::new().append(true).open(path).unwrap();
        file.write_all(bytes).unwrap();
    }

    fn zxids(batches: &[Vec<TxnEntry>]) -> Vec<i64> {
        batches.iter().flatten().map(|e| e.zxid).collect()
    }

    #[test]
    fn appended_batches_come_back_in_order_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let (log, found) = TxnLog::open(dir.path()).unwrap();
        assert!(found.is_empty());
        let records = [
            LogRecord::encode(&[entry(1), entry(2)]).unwrap(),
            LogRecord::encode(&[entry(3)]).unwrap(),
        ];
        log.append(&records).unwrap();
        log.covered(0).unwrap(); // offers a fresh file: the next append seals
        append_one(&log, 4);
        drop(log);
        let (_, found) = TxnLog::open(dir.path()).unwrap();
        assert_eq!(zxids(&found), [1, 2, 3, 4]);
    }

    #[test]
    fn covered_files_are_deleted_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = TxnLog::open(dir.path()).unwrap();
        append_one(&log, 1);
        log.covered(0).unwrap();
        append_one(&log, 2);
        log.covered(1).unwrap(); // the file with zxid 1 goes
        append_one(&log, 3);
        drop(log);
        let (_, found) = TxnLog::open(dir.path()).unwrap();
        assert_eq!(zxids(&found), [2, 3]);
    }

    #[test]
    fn a_torn_tail_is_cut_and_older_corruption_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = TxnLog::open(dir.path()).unwrap();
        append_one(&log, 1);
        drop(log);
        let newest = |dir: &Path| {
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            files
        };
        // A crash in the middle of the next append: half a frame.
        let frame = LogRecord::encode(&[entry(2)]).unwrap().frame;
        let with_data = newest(dir.path())[0].clone();
        tear(&with_data, &frame[..frame.len() / 2]);
        assert_eq!(newest(dir.path()).len(), 1);
        let (log, found) = TxnLog::open(dir.path()).unwrap();
        assert_eq!(zxids(&found), [1]);
        append_one(&log, 2);
        drop(log);
        let (_, found) = TxnLog::open(dir.path()).unwrap();
        assert_eq!(zxids(&found), [1, 2]);

        // The same damage in a file followed by another that holds frames
        // is corruption.
        tear(&with_data, &frame[..3]);
        let refused = TxnLog::open(dir.path()).err().map(|e| e.to_string());
        assert!(
            refused.as_deref().is_some_and(|e| e.contains("bad frame")),
            "{refused:?}"
        );
    }

    #[test]
    fn a_torn_tail_before_empty_files_made_ahead_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = TxnLog::open(dir.path()).unwrap();
        append_one(&log, 1);
        log.covered(0).unwrap();
        append_one(&log, 2);
        log.covered(0).unwrap(); // an empty file waits after the current one
        let current = lock(&log.current).path.clone();
        drop(log);
        let frame = LogRecord::encode(&[entry(3)]).unwrap().frame;
        tear(&current, &frame[..frame.len() - 1]);
        let (log, found) = TxnLog::open(dir.path()).unwrap();
        assert_eq!(zxids(&found), [1, 2]);
        append_one(&log, 3);
        drop(log);
        let (_, found) = TxnLog::open(dir.path()).unwrap();
        assert_eq!(zxids(&found), [1, 2, 3]);
    }
}
