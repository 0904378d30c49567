//! Loading a partition directory (Kafka's `LogLoader`): clean up leftovers,
//! open every segment, and after an unclean stop re-scan everything from the
//! segment holding the recovery point, cutting the log at the first
//! incomplete or corrupt batch.
//!
//! What is trusted without a scan: segments wholly below the recovery point
//! (they were fsynced, indexes included, before the point was advanced), and
//! every segment after a clean shutdown. Even those are re-scanned if an
//! index is missing or fails Kafka's sanity check, or if the tail after
//! their last index entry does not frame.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::checkpoint;
use super::cleaner::CLEANER_TMP_DIR;
use super::config::LogConfig;
use super::error::LogError;
use super::leader_epoch::LeaderEpochCache;
use super::scan::{Scanned, Scanner, LOOKUP_CHUNK};
use super::segment::{file_path, Segment, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX};

/// What the log directory's checkpoint files say about this partition
/// (see [`super::log_dir::LogDir`]); `Default` means "nothing known",
/// which recovers every segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadHints {
    /// From `recovery-point-offset-checkpoint`: everything below was fsynced.
    pub recovery_point: Option<i64>,
    /// From `log-start-offset-checkpoint`.
    pub log_start_offset: Option<i64>,
    /// The log directory had `.kafka_cleanshutdown`: nothing needs a re-scan.
    pub clean_shutdown: bool,
}

/// The loaded state of a partition directory.
pub(crate) struct Loaded {
    pub segments: Vec<Arc<Segment>>,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
    pub recovery_point: i64,
    pub epochs: LeaderEpochCache,
}

/// Suffixes of files an interrupted operation leaves behind.
const LEFTOVER_SUFFIXES: &[&str] = &[".deleted", ".cleaned", ".swap", ".tmp"];

/// `<dir>/<20-digit base>.<suffix>.swap`: a cleaned segment's file between
/// the cleaner's commit and its final name.
pub(crate) fn swap_path(dir: &Path, base: i64, suffix: &str) -> PathBuf {
    dir.join(format!("{base:020}.{suffix}.swap"))
}

/// Finishes the log cleaner's swaps that a crash interrupted (Kafka's
/// rule): a `<base>.log.swap` is a whole cleaned segment (fsynced before it
/// got that name), so every segment whose base lies in its offset range is
/// one it replaces and goes, then the swap files take their final names
/// (a missing index is rebuilt by the load). The cleaner's staging
/// directory never holds anything committed.
fn complete_swaps(dir: &Path) -> Result<(), LogError> {
    let staging = dir.join(CLEANER_TMP_DIR);
    if staging.is_dir() {
        fs::remove_dir_all(&staging).map_err(|e| LogError::io(&staging, e))?;
    }
    let mut swaps = Vec::new();
    let mut logs = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| LogError::io(dir, e))? {
        let name = entry.map_err(|e| LogError::io(dir, e))?.file_name();
        let name = name.to_string_lossy();
        if let Some(base) = name
            .strip_suffix(".swap")
            .and_then(|n| parse_base(n, LOG_SUFFIX))
        {
            swaps.push(base);
        } else if let Some(base) = parse_base(&name, LOG_SUFFIX) {
            logs.push(base);
        }
    }
    for base in swaps {
        let swap = swap_path(dir, base, LOG_SUFFIX);
        let file = fs::File::open(&swap).map_err(|e| LogError::io(&swap, e))?;
        let len = file.metadata().map_err(|e| LogError::io(&swap, e))?.len();
        let mut next = base;
        let mut scan = Scanner::new(&file, &swap, 0, len, LOOKUP_CHUNK);
        while let Scanned::Batch { header, .. } = scan.next_header()? {
            next = header.last_offset() + 1;
        }
        tracing::info!(swap = %swap.display(), next_offset = next, "finishing an interrupted log cleaner swap");
        for &old in logs
            .iter()
            .filter(|b| (base..next.max(base + 1)).contains(*b))
        {
            for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
                remove(&file_path(dir, old, suffix))?;
            }
        }
        for suffix in [INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX] {
            let from = swap_path(dir, base, suffix);
            if from.exists() {
                fs::rename(&from, file_path(dir, base, suffix))
                    .map_err(|e| LogError::io(&from, e))?;
            }
        }
        checkpoint::sync_dir(dir).map_err(|e| LogError::io(dir, e))?;
    }
    Ok(())
}

fn parse_base(name: &str, suffix: &str) -> Option<i64> {
    let stem = name.strip_suffix(suffix)?.strip_suffix('.')?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// Loads (creating if needed) the partition directory `dir`.
pub(crate) fn load(
    dir: &Path,
    config: &LogConfig,
    hints: LoadHints,
    now_ms: i64,
) -> Result<Loaded, LogError> {
    fs::create_dir_all(dir).map_err(|e| LogError::io(dir, e))?;
    complete_swaps(dir)?;
    let mut bases = BTreeSet::new();
    let mut indexed = BTreeSet::new();
    let mut index_files = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| LogError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LogError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if LEFTOVER_SUFFIXES.iter().any(|s| name.ends_with(s)) {
            tracing::info!(file = %path.display(), "removing leftover file");
            remove(&path)?;
        } else if let Some(base) = parse_base(&name, LOG_SUFFIX) {
            bases.insert(base);
        } else if let Some(base) = parse_base(&name, INDEX_SUFFIX) {
            indexed.insert((base, INDEX_SUFFIX));
            index_files.push((base, path));
        } else if let Some(base) = parse_base(&name, TIME_INDEX_SUFFIX) {
            indexed.insert((base, TIME_INDEX_SUFFIX));
            index_files.push((base, path));
        }
    }
    // An index without its log is an interrupted deletion or roll.
    for (base, path) in index_files {
        if !bases.contains(&base) {
            remove(&path)?;
        }
    }

    let mut epochs = LeaderEpochCache::load(dir)?;
    let recovery_point = hints.recovery_point.unwrap_or(0);
    let bases: Vec<i64> = bases.into_iter().collect();
    let mut segments: Vec<Arc<Segment>> = Vec::with_capacity(bases.len());
    for (i, &base) in bases.iter().enumerate() {
        let segment = Segment::open(dir, base, config, now_ms)?;
        let is_last = i + 1 == bases.len();
        let may_hold_unflushed = is_last || bases[i + 1] > recovery_point;
        let indexes_present =
            indexed.contains(&(base, INDEX_SUFFIX)) && indexed.contains(&(base, TIME_INDEX_SUFFIX));
        let mut recover = !hints.clean_shutdown && may_hold_unflushed;
        if !recover && !indexes_present {
            tracing::warn!(segment = %segment.log_path().display(), "index missing, rebuilding");
            recover = true;
        }
        if !recover {
            if let Err(reason) = segment.indexes_sane() {
                tracing::warn!(segment = %segment.log_path().display(), %reason, "corrupt index, rebuilding");
                recover = true;
            }
        }
        if !recover {
            if let Err(e) = segment.load_state() {
                tracing::warn!(segment = %segment.log_path().display(), error = %e, "segment does not load cleanly, recovering");
                recover = true;
            }
        }
        if recover {
            let truncated = segment.recover(config, &mut epochs)?;
            if truncated > 0 {
                tracing::warn!(
                    segment = %segment.log_path().display(),
                    truncated,
                    "cut invalid bytes from the end of the log"
                );
                segments.push(Arc::new(segment));
                // Everything after a cut is unreachable: Kafka deletes it.
                for &later in &bases[i + 1..] {
                    let s = Segment::open(dir, later, config, now_ms)?;
                    s.delete_files()?;
                }
                break;
            }
            if !is_last {
                // A rebuilt time index of an inactive segment needs its
                // final entry, as a roll would have written.
                segment.on_become_inactive()?;
            }
        }
        segments.push(Arc::new(segment));
    }
    if segments.is_empty() {
        let base = hints.log_start_offset.unwrap_or(0).max(0);
        segments.push(Arc::new(Segment::create(dir, base, config, now_ms)?));
    }
    // A trailing empty segment is normal (a roll just happened); empty
    // segments elsewhere are harmless and left for retention.
    let log_end_offset = segments
        .last()
        .map_or(0, |s| s.next_offset())
        .max(segments.last().map_or(0, |s| s.base_offset()));
    let first_base = segments.first().map_or(0, |s| s.base_offset());
    let log_start_offset = hints
        .log_start_offset
        .unwrap_or(first_base)
        .min(log_end_offset)
        .max(first_base);
    epochs.truncate_from_end(log_end_offset)?;
    epochs.truncate_from_start(log_start_offset)?;
    let recovery_point = if hints.clean_shutdown {
        log_end_offset
    } else {
        recovery_point.min(log_end_offset)
    };
    Ok(Loaded {
        segments,
        log_start_offset,
        log_end_offset,
        recovery_point,
        epochs,
    })
}

fn remove(path: &Path) -> Result<(), LogError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LogError::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_parse_only_when_kafka_shaped() {
        assert_eq!(parse_base("00000000000000000042.log", "log"), Some(42));
        assert_eq!(parse_base("00000000000000000042.index", "index"), Some(42));
        assert_eq!(parse_base("42.log", "log"), None);
        assert_eq!(parse_base("0000000000000000004x.log", "log"), None);
        assert_eq!(parse_base("00000000000000000042.log.deleted", "log"), None);
    }
}
