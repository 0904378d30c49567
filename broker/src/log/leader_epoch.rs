//! The leader epoch cache (Kafka's `LeaderEpochFileCache`): for each leader
//! epoch, the first offset written in it, persisted in the partition's
//! `leader-epoch-checkpoint`. Followers truncate by it after a leader change
//! (OffsetsForLeaderEpoch) instead of by high watermark, which is what keeps
//! a committed record from being lost when leaders flip quickly.

use std::path::{Path, PathBuf};

use super::checkpoint::{self, LEADER_EPOCH_CHECKPOINT};
use super::error::LogError;

/// Kafka's `UNDEFINED_EPOCH`.
pub const UNDEFINED_EPOCH: i32 = -1;
/// Kafka's `UNDEFINED_EPOCH_OFFSET`.
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;

/// A leader epoch and the first offset its leader wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochEntry {
    /// The leader epoch.
    pub epoch: i32,
    /// First offset appended under it.
    pub start_offset: i64,
}

/// The cache and its file. Entries are strictly increasing in both epoch and
/// start offset.
#[derive(Debug)]
pub struct LeaderEpochCache {
    path: PathBuf,
    entries: Vec<EpochEntry>,
}

impl LeaderEpochCache {
    /// Loads `<partition_dir>/leader-epoch-checkpoint` (empty if absent).
    /// Entries that break monotonicity are dropped as Kafka's assign would.
    pub fn load(partition_dir: &Path) -> Result<Self, LogError> {
        let path = partition_dir.join(LEADER_EPOCH_CHECKPOINT);
        let mut cache = LeaderEpochCache {
            entries: Vec::new(),
            path,
        };
        for (epoch, start_offset) in checkpoint::read_epochs(&cache.path)? {
            cache.insert(EpochEntry {
                epoch,
                start_offset,
            });
        }
        Ok(cache)
    }

    /// All entries, oldest first.
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    /// The newest epoch, if any was recorded.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.epoch)
    }

    /// The epoch that wrote `offset`: the last entry starting at or below it.
    pub fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.start_offset <= offset)
            .map(|e| e.epoch)
    }

    fn update_needed(&self, e: &EpochEntry) -> bool {
        match self.entries.last() {
            None => true,
            Some(last) => e.epoch != last.epoch || e.start_offset < last.start_offset,
        }
    }

    /// Inserts without writing; returns whether anything changed.
    fn insert(&mut self, e: EpochEntry) -> bool {
        if e.epoch < 0 || e.start_offset < 0 || !self.update_needed(&e) {
            return false;
        }
        // Later entries that conflict with the new one were written by a
        // leader that has since been superseded: drop them.
        self.entries
            .retain(|x| x.epoch < e.epoch && x.start_offset < e.start_offset);
        self.entries.push(e);
        true
    }

    /// Records that `epoch` starts at `start_offset` (called for each
    /// appended batch; a no-op unless the epoch is new) and persists the
    /// change. Negative values (batches without an epoch) are ignored.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> Result<(), LogError> {
        if self.insert(EpochEntry {
            epoch,
            start_offset,
        }) {
            self.persist()?;
        }
        Ok(())
    }

    /// OffsetsForLeaderEpoch: `(epoch, end offset)` for `requested`, Kafka's
    /// rules. The latest epoch ends at `log_end_offset`; an older epoch ends
    /// where the next known epoch starts, reported with the largest known
    /// epoch `<= requested`; an epoch below every known one gets the first
    /// known start offset; unknown/undefined gives
    /// `(UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)`.
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> (i32, i64) {
        let undefined = (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        if requested == UNDEFINED_EPOCH {
            return undefined;
        }
        if self.latest_epoch() == Some(requested) {
            return (requested, log_end_offset);
        }
        let Some(higher) = self.entries.iter().find(|e| e.epoch > requested) else {
            return undefined;
        };
        match self.entries.iter().rev().find(|e| e.epoch <= requested) {
            None => (requested, higher.start_offset),
            Some(floor) => (floor.epoch, higher.start_offset),
        }
    }

    /// Drops entries starting at or after `end_offset` (the log was
    /// truncated to it).
    pub fn truncate_from_end(&mut self, end_offset: i64) -> Result<(), LogError> {
        let before = self.entries.len();
        self.entries.retain(|e| e.start_offset < end_offset);
        if self.entries.len() != before {
            self.persist()?;
        }
        Ok(())
    }

    /// The log now starts at `start_offset`: entries wholly below it go,
    /// the last one at or below it is kept with its start moved up, so the
    /// epoch of the first remaining offset is still known.
    pub fn truncate_from_start(&mut self, start_offset: i64) -> Result<(), LogError> {
        let below = self
            .entries
            .iter()
            .take_while(|e| e.start_offset <= start_offset)
            .count();
        if below == 0 {
            return Ok(());
        }
        let kept = EpochEntry {
            epoch: self.entries[below - 1].epoch,
            start_offset,
        };
        if below == 1 && self.entries[0] == kept {
            return Ok(());
        }
        self.entries.drain(..below);
        self.entries.insert(0, kept);
        self.persist()
    }

    /// Removes every entry (the log was emptied and restarted elsewhere).
    pub fn clear(&mut self) -> Result<(), LogError> {
        if self.entries.is_empty() {
            return Ok(());
        }
        self.entries.clear();
        self.persist()
    }

    fn persist(&self) -> Result<(), LogError> {
        let pairs: Vec<(i32, i64)> = self
            .entries
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect();
        checkpoint::write_epochs(&self.path, &pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(c: &LeaderEpochCache) -> Vec<(i32, i64)> {
        c.entries()
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect()
    }

    #[test]
    fn assign_and_end_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = LeaderEpochCache::load(dir.path()).unwrap();
        assert_eq!(
            c.end_offset_for(0, 10),
            (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)
        );
        c.assign(1, 0).unwrap();
        c.assign(1, 5).unwrap(); // same epoch, later offset: no change
        c.assign(3, 10).unwrap();
        c.assign(5, 20).unwrap();
        c.assign(-1, 30).unwrap(); // no epoch: ignored
        assert_eq!(pairs(&c), vec![(1, 0), (3, 10), (5, 20)]);
        assert_eq!(c.end_offset_for(5, 25), (5, 25));
        assert_eq!(c.end_offset_for(3, 25), (3, 20));
        assert_eq!(c.end_offset_for(4, 25), (3, 20));
        assert_eq!(c.end_offset_for(0, 25), (0, 0));
        assert_eq!(
            c.end_offset_for(9, 25),
            (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)
        );
        assert_eq!(c.end_offset_for(UNDEFINED_EPOCH, 25), (-1, -1));
        assert_eq!(c.epoch_for_offset(15), Some(3));

        // Reloads from the file.
        let c2 = LeaderEpochCache::load(dir.path()).unwrap();
        assert_eq!(pairs(&c2), pairs(&c));
    }

    #[test]
    fn new_epoch_below_existing_entries_replaces_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = LeaderEpochCache::load(dir.path()).unwrap();
        c.assign(2, 0).unwrap();
        c.assign(4, 10).unwrap();
        c.assign(3, 5).unwrap();
        assert_eq!(pairs(&c), vec![(2, 0), (3, 5)]);
    }

    #[test]
    fn truncation() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = LeaderEpochCache::load(dir.path()).unwrap();
        for (e, o) in [(1, 0), (2, 10), (3, 20), (4, 30)] {
            c.assign(e, o).unwrap();
        }
        c.truncate_from_end(20).unwrap();
        assert_eq!(pairs(&c), vec![(1, 0), (2, 10)]);
        c.truncate_from_start(15).unwrap();
        assert_eq!(pairs(&c), vec![(2, 15)]);
        c.truncate_from_start(15).unwrap();
        assert_eq!(
            pairs(&LeaderEpochCache::load(dir.path()).unwrap()),
            vec![(2, 15)]
        );
        c.clear().unwrap();
        assert!(LeaderEpochCache::load(dir.path())
            .unwrap()
            .entries()
            .is_empty());
    }
}
