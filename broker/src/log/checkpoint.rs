//! Kafka's checkpoint files: a version line, a count line, then one entry per
//! line. Written to a temporary file, fsynced, renamed over the old one and
//! the directory fsynced, so a crash leaves either the old or the new file.
//!
//! Files (Kafka's names and places):
//!
//! * per log directory, entries `topic partition offset`:
//!   [`RECOVERY_POINT_CHECKPOINT`] (offset below which the log is fsynced),
//!   [`LOG_START_OFFSET_CHECKPOINT`], [`REPLICATION_CHECKPOINT`] (high
//!   watermarks, owned by the replica manager);
//! * per partition directory, entries `epoch start_offset`:
//!   [`LEADER_EPOCH_CHECKPOINT`] (see [`super::leader_epoch`]).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::error::LogError;

/// `<log.dir>/recovery-point-offset-checkpoint`.
pub const RECOVERY_POINT_CHECKPOINT: &str = "recovery-point-offset-checkpoint";
/// `<log.dir>/replication-offset-checkpoint` (high watermarks).
pub const REPLICATION_CHECKPOINT: &str = "replication-offset-checkpoint";
/// `<log.dir>/log-start-offset-checkpoint`.
pub const LOG_START_OFFSET_CHECKPOINT: &str = "log-start-offset-checkpoint";
/// Per log directory: each compacted partition's first dirty offset.
pub const CLEANER_OFFSET_CHECKPOINT: &str = "cleaner-offset-checkpoint";
/// `<log.dir>/<topic>-<p>/leader-epoch-checkpoint`.
pub const LEADER_EPOCH_CHECKPOINT: &str = "leader-epoch-checkpoint";
/// `<log.dir>/.kafka_cleanshutdown`: present only while the broker is
/// stopped after a clean shutdown.
pub const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";

/// The format version Kafka writes for all of these files.
pub const CHECKPOINT_VERSION: u32 = 0;

/// A partition of a topic, as checkpoint files key it.
pub type TopicPartition = (String, i32);

/// Reads a checkpoint file's entry lines; `Ok(None)` if the file does not
/// exist. A wrong version, a count that does not match, or an entry that
/// `parse` rejects is [`LogError::MalformedFile`].
pub fn read_lines<T>(
    path: &Path,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<Vec<T>>, LogError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LogError::io(path, e)),
    };
    let malformed = |reason: String| LogError::MalformedFile {
        path: path.to_path_buf(),
        reason,
    };
    let mut lines = text.lines();
    let version = lines.next().map(str::trim);
    if version != Some(&CHECKPOINT_VERSION.to_string()) {
        return Err(malformed(format!("unrecognised version {version:?}")));
    }
    let count: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| malformed("missing or bad entry count".into()))?;
    let mut out = Vec::with_capacity(count);
    for line in lines {
        if line.trim().is_empty() {
            continue;
        }
        let entry = parse(line.trim()).ok_or_else(|| malformed(format!("bad entry {line:?}")))?;
        out.push(entry);
    }
    if out.len() != count {
        return Err(malformed(format!(
            "expected {count} entries, found {}",
            out.len()
        )));
    }
    Ok(Some(out))
}

/// Atomically replaces `path` with a checkpoint of `entries` (each already
/// formatted as a line without its newline).
pub fn write_lines(path: &Path, entries: &[String]) -> Result<(), LogError> {
    let mut text = format!("{CHECKPOINT_VERSION}\n{}\n", entries.len());
    for e in entries {
        text.push_str(e);
        text.push('\n');
    }
    let tmp = tmp_path(path);
    let write = || -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            sync_dir(dir)?;
        }
        Ok(())
    };
    write().map_err(|e| LogError::io(path, e))
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// fsyncs a directory so that a rename or a new file in it survives a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Reads a per-log-directory offset checkpoint (`topic partition offset`
/// lines) such as [`RECOVERY_POINT_CHECKPOINT`]; empty if the file is absent.
pub fn read_offsets(path: &Path) -> Result<BTreeMap<TopicPartition, i64>, LogError> {
    let parse = |line: &str| {
        let mut parts = line.split(' ');
        let topic = parts.next()?;
        let partition = parts.next()?.parse().ok()?;
        let offset = parts.next()?.parse().ok()?;
        if parts.next().is_some() || topic.is_empty() {
            return None;
        }
        Some(((topic.to_string(), partition), offset))
    };
    Ok(read_lines(path, parse)?
        .map(|v| v.into_iter().collect())
        .unwrap_or_default())
}

/// Writes a per-log-directory offset checkpoint atomically.
pub fn write_offsets(path: &Path, offsets: &BTreeMap<TopicPartition, i64>) -> Result<(), LogError> {
    let lines: Vec<String> = offsets
        .iter()
        .map(|((t, p), o)| format!("{t} {p} {o}"))
        .collect();
    write_lines(path, &lines)
}

/// Reads a leader epoch checkpoint (`epoch start_offset` lines); empty if
/// the file is absent.
pub fn read_epochs(path: &Path) -> Result<Vec<(i32, i64)>, LogError> {
    let parse = |line: &str| {
        let mut parts = line.split(' ');
        let epoch = parts.next()?.parse().ok()?;
        let offset = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some((epoch, offset))
    };
    Ok(read_lines(path, parse)?.unwrap_or_default())
}

/// Writes a leader epoch checkpoint atomically.
pub fn write_epochs(path: &Path, epochs: &[(i32, i64)]) -> Result<(), LogError> {
    let lines: Vec<String> = epochs.iter().map(|(e, o)| format!("{e} {o}")).collect();
    write_lines(path, &lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_in_kafka_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RECOVERY_POINT_CHECKPOINT);
        assert!(read_offsets(&path).unwrap().is_empty());
        let mut m = BTreeMap::new();
        m.insert(("orders".to_string(), 0), 42);
        m.insert(("my-topic".to_string(), 11), 7);
        write_offsets(&path, &m).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text, "0\n2\nmy-topic 11 7\norders 0 42\n");
        assert_eq!(read_offsets(&path).unwrap(), m);
        assert!(!tmp_path(&path).exists());
    }

    #[test]
    fn epochs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LEADER_EPOCH_CHECKPOINT);
        assert!(read_epochs(&path).unwrap().is_empty());
        write_epochs(&path, &[(0, 0), (3, 120)]).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "0\n2\n0 0\n3 120\n");
        assert_eq!(read_epochs(&path).unwrap(), vec![(0, 0), (3, 120)]);
    }

    #[test]
    fn malformed_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        for bad in ["1\n0\n", "0\n2\n1 1\n", "0\n1\nnot numbers\n", ""] {
            fs::write(&path, bad).unwrap();
            let e = read_epochs(&path).unwrap_err();
            assert!(matches!(e, LogError::MalformedFile { .. }), "{bad:?}: {e}");
        }
    }
}
