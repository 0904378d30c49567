//! Which of the oldest segments retention may delete (Kafka's
//! `deleteOldSegments` predicates). Deleting itself is
//! [`PartitionLog::apply_retention`](super::PartitionLog::apply_retention).
//!
//! Rules shared by every reason: only a prefix of the log goes (the oldest
//! segments, in order, stopping at the first one that must stay); never a
//! segment holding offsets at or above the high watermark (the log start
//! offset must not pass it); never the last segment when it is empty.

use std::sync::Arc;

use super::config::LogConfig;
use super::segment::Segment;

/// Why segments are deleted, in the order Kafka checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Wholly below the log start offset (after DeleteRecords).
    LogStartOffset,
    /// `retention.bytes` exceeded.
    Size,
    /// `retention.ms` passed since the segment's largest timestamp.
    Time,
}

/// The log as retention sees it.
pub struct View<'a> {
    /// All segments, oldest first.
    pub segments: &'a [Arc<Segment>],
    /// The log's next offset.
    pub log_end_offset: i64,
    /// The log's first offset.
    pub log_start_offset: i64,
    /// Offsets at or above this are not committed.
    pub high_watermark: i64,
}

/// How many of the oldest segments may be deleted for `reason`.
pub fn deletable(view: &View<'_>, config: &LogConfig, reason: Reason, now_ms: i64) -> usize {
    // A compacted topic without `delete` in its policy keeps every segment
    // the cleaner leaves (DeleteRecords still moves its start).
    if reason != Reason::LogStartOffset && !config.cleanup_delete {
        return 0;
    }
    let segs = view.segments;
    let mut size_excess = match (reason, config.retention_bytes) {
        (Reason::Size, Some(limit)) => {
            let total: u64 = segs.iter().map(|s| s.size()).sum();
            total as i128 - i128::from(limit)
        }
        (Reason::Size, None) => return 0,
        _ => 0,
    };
    if reason == Reason::Time && config.retention_ms.is_none() {
        return 0;
    }
    let mut n = 0;
    for (i, seg) in segs.iter().enumerate() {
        let next = segs.get(i + 1);
        let upper = next.map_or(view.log_end_offset, |s| s.base_offset());
        if next.is_none() && seg.size() == 0 {
            break;
        }
        if view.high_watermark < upper {
            break;
        }
        let delete = match reason {
            Reason::LogStartOffset => {
                next.is_some_and(|s| s.base_offset() <= view.log_start_offset)
            }
            Reason::Size => {
                let size = i128::from(seg.size());
                if size_excess - size >= 0 {
                    size_excess -= size;
                    true
                } else {
                    false
                }
            }
            Reason::Time => {
                let limit = config.retention_ms.unwrap_or(i64::MAX);
                now_ms.saturating_sub(seg.largest_timestamp()) > limit
            }
        };
        if !delete {
            break;
        }
        n += 1;
    }
    n
}
