//! A partition log's settings: Kafka's topic-level keys, names and defaults.
//!
//! The broker builds one [`LogConfig`] per topic from the broker defaults
//! (`log.segment.bytes`, `log.retention.ms`, ...) overlaid with the topic's
//! overrides (`segment.bytes`, `retention.ms`, ...); [`LogConfig::set`] takes
//! the topic-level names so DescribeConfigs / IncrementalAlterConfigs can
//! pass them through unchanged.

use super::error::LogError;

/// Which timestamp a batch carries in the log (`message.timestamp.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TimestampType {
    /// The producer's timestamps are kept (Kafka's default).
    #[default]
    CreateTime,
    /// The broker stamps each batch with its own clock when appending.
    LogAppendTime,
}

impl TimestampType {
    /// Kafka's spelling of the value.
    pub fn as_str(self) -> &'static str {
        match self {
            TimestampType::CreateTime => "CreateTime",
            TimestampType::LogAppendTime => "LogAppendTime",
        }
    }
}

/// Settings of one partition log. `Default` is Kafka's default for each key.
#[derive(Clone, Debug, PartialEq)]
pub struct LogConfig {
    /// `segment.bytes`: roll to a new segment before the active one would
    /// exceed this. At most `i32::MAX` because index positions are 32-bit.
    pub segment_bytes: u64,
    /// `segment.ms`: roll once the active segment's first batch is this old
    /// (by record timestamp, as Kafka), even if it is not full.
    pub segment_ms: u64,
    /// `segment.jitter.ms`: a random amount up to this is subtracted from
    /// `segment_ms` per segment so that many partitions do not roll at once.
    pub segment_jitter_ms: u64,
    /// `segment.index.bytes`: the largest offset index (and, scaled by entry
    /// size, time index) a segment may have; a full index rolls the segment.
    pub segment_index_bytes: usize,
    /// `retention.ms`: delete segments whose newest timestamp is older than
    /// this. `None` is Kafka's `-1` (keep forever).
    pub retention_ms: Option<i64>,
    /// `retention.bytes`: delete the oldest segments while the log is larger
    /// than this. `None` is Kafka's `-1` (no limit, the default).
    pub retention_bytes: Option<u64>,
    /// `max.message.bytes`: the largest record batch accepted, log overhead
    /// included (Kafka's default 1048588 = 1 MiB + 12).
    pub max_message_bytes: usize,
    /// `index.interval.bytes`: how many log bytes between two offset index
    /// entries (the index is sparse; a lookup scans at most this far).
    pub index_interval_bytes: usize,
    /// `flush.messages`: fsync after this many records. Kafka's default
    /// (`Long.MAX_VALUE`) leaves durability to replication and the OS.
    pub flush_interval_messages: u64,
    /// `flush.ms`: fsync when the last flush is older than this, checked by
    /// [`PartitionLog::maybe_flush`](super::PartitionLog::maybe_flush).
    /// `None` is Kafka's default (`Long.MAX_VALUE`, never).
    pub flush_interval_ms: Option<u64>,
    /// `message.timestamp.type`.
    pub message_timestamp_type: TimestampType,
    /// `cleanup.policy` has `delete`: `retention.ms` / `retention.bytes`
    /// delete old segments.
    pub cleanup_delete: bool,
    /// `cleanup.policy` has `compact`: the log cleaner keeps the latest
    /// record per key, and every record needs a key.
    pub cleanup_compact: bool,
    /// `delete.retention.ms`: how long a tombstone survives after the clean
    /// that first reached it.
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio`: clean once this share of the cleanable
    /// bytes has not been cleaned yet.
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms`: records younger than this stay uncompacted.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: a record older than this is compacted even
    /// below the dirty ratio.
    pub max_compaction_lag_ms: i64,
}

/// Kafka's default `segment.bytes` (1 GiB).
pub const DEFAULT_SEGMENT_BYTES: u64 = 1 << 30;
/// Kafka's default `segment.ms` and `retention.ms` (7 days).
pub const SEVEN_DAYS_MS: u64 = 7 * 24 * 60 * 60 * 1000;
/// Kafka's default `max.message.bytes` (1 MiB plus the 12-byte log overhead).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1_048_588;

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            segment_ms: SEVEN_DAYS_MS,
            segment_jitter_ms: 0,
            segment_index_bytes: 10 * 1024 * 1024,
            retention_ms: Some(SEVEN_DAYS_MS as i64),
            retention_bytes: None,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            index_interval_bytes: 4096,
            flush_interval_messages: i64::MAX as u64,
            flush_interval_ms: None,
            message_timestamp_type: TimestampType::CreateTime,
            cleanup_delete: true,
            cleanup_compact: false,
            delete_retention_ms: 86_400_000,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
        }
    }
}

/// The topic-level keys [`LogConfig::set`] understands, in Kafka's spelling.
pub const LOG_CONFIG_KEYS: &[&str] = &[
    "segment.bytes",
    "segment.ms",
    "segment.jitter.ms",
    "segment.index.bytes",
    "retention.ms",
    "retention.bytes",
    "max.message.bytes",
    "index.interval.bytes",
    "flush.messages",
    "flush.ms",
    "message.timestamp.type",
    "cleanup.policy",
    "delete.retention.ms",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "max.compaction.lag.ms",
];

impl LogConfig {
    /// Checks the ranges Kafka enforces; called by `PartitionLog::open` and
    /// `update_config`, so a bad value is reported with its key up front.
    pub fn validate(&self) -> Result<(), LogError> {
        // Kafka: segment.bytes >= LegacyRecord.RECORD_OVERHEAD_V0 (14), an int.
        if self.segment_bytes < 14 || self.segment_bytes > i32::MAX as u64 {
            return Err(bad(
                "segment.bytes",
                self.segment_bytes,
                "must be between 14 and 2147483647",
            ));
        }
        if self.segment_ms < 1 {
            return Err(bad("segment.ms", self.segment_ms, "must be at least 1"));
        }
        // Kafka: segment.index.bytes >= 4 (one entry fits in anything larger
        // than an entry; smaller would roll on every append).
        if self.segment_index_bytes < 4 || self.segment_index_bytes > i32::MAX as usize {
            return Err(bad(
                "segment.index.bytes",
                self.segment_index_bytes,
                "must be between 4 and 2147483647",
            ));
        }
        if self.max_message_bytes > i32::MAX as usize {
            return Err(bad(
                "max.message.bytes",
                self.max_message_bytes,
                "must be at most 2147483647",
            ));
        }
        if self.index_interval_bytes > i32::MAX as usize {
            return Err(bad(
                "index.interval.bytes",
                self.index_interval_bytes,
                "must be at most 2147483647",
            ));
        }
        if self.flush_interval_messages < 1 {
            return Err(bad(
                "flush.messages",
                self.flush_interval_messages,
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// Sets one topic-level key from its string value, as Kafka parses it
    /// (`-1` means "none" for `retention.ms` / `retention.bytes`,
    /// `Long.MAX_VALUE` means "never" for `flush.ms`). Unknown keys are an
    /// error naming the key; the caller decides whether to ignore them.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), LogError> {
        let v = value.trim();
        match key {
            "segment.bytes" => self.segment_bytes = parse_u64(key_name(key), v)?,
            "segment.ms" => self.segment_ms = parse_u64(key_name(key), v)?,
            "segment.jitter.ms" => self.segment_jitter_ms = parse_u64(key_name(key), v)?,
            "segment.index.bytes" => {
                self.segment_index_bytes = parse_u64(key_name(key), v)? as usize
            }
            "retention.ms" => {
                let n = parse_i64(key_name(key), v)?;
                if n < -1 {
                    return Err(bad("retention.ms", v, "must be -1 or at least 0"));
                }
                self.retention_ms = (n >= 0).then_some(n);
            }
            "retention.bytes" => {
                let n = parse_i64(key_name(key), v)?;
                self.retention_bytes = (n >= 0).then_some(n as u64);
            }
            "max.message.bytes" => self.max_message_bytes = parse_u64(key_name(key), v)? as usize,
            "index.interval.bytes" => {
                self.index_interval_bytes = parse_u64(key_name(key), v)? as usize
            }
            "flush.messages" => self.flush_interval_messages = parse_u64(key_name(key), v)?,
            "flush.ms" => {
                let n = parse_u64(key_name(key), v)?;
                self.flush_interval_ms = (n < i64::MAX as u64).then_some(n);
            }
            "message.timestamp.type" => {
                self.message_timestamp_type = match v {
                    "CreateTime" => TimestampType::CreateTime,
                    "LogAppendTime" => TimestampType::LogAppendTime,
                    _ => {
                        return Err(bad(
                            "message.timestamp.type",
                            v,
                            "must be CreateTime or LogAppendTime",
                        ))
                    }
                }
            }
            "cleanup.policy" => {
                let mut delete = false;
                let mut compact = false;
                for p in v.split(',').map(str::trim) {
                    match p {
                        "delete" => delete = true,
                        "compact" => compact = true,
                        _ => {
                            return Err(bad(
                                "cleanup.policy",
                                v,
                                "must be a list of compact and delete",
                            ))
                        }
                    }
                }
                self.cleanup_delete = delete;
                self.cleanup_compact = compact;
            }
            "delete.retention.ms" => {
                self.delete_retention_ms = parse_u64(key_name(key), v)?.min(i64::MAX as u64) as i64
            }
            "min.cleanable.dirty.ratio" => {
                self.min_cleanable_dirty_ratio = v
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(|| bad("min.cleanable.dirty.ratio", v, "must be between 0 and 1"))?
            }
            "min.compaction.lag.ms" => {
                self.min_compaction_lag_ms =
                    parse_u64(key_name(key), v)?.min(i64::MAX as u64) as i64
            }
            "max.compaction.lag.ms" => {
                self.max_compaction_lag_ms =
                    parse_u64(key_name(key), v)?.min(i64::MAX as u64) as i64
            }
            _ => {
                return Err(LogError::InvalidConfig {
                    key: "(unknown)",
                    value: format!("{key}={value}"),
                    reason: "not a log configuration key".into(),
                })
            }
        }
        Ok(())
    }

    /// Every key of [`LOG_CONFIG_KEYS`] with its current value as Kafka
    /// prints it (for DescribeConfigs).
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        let opt_i64 = |o: Option<i64>| o.unwrap_or(-1).to_string();
        vec![
            ("segment.bytes", self.segment_bytes.to_string()),
            ("segment.ms", self.segment_ms.to_string()),
            ("segment.jitter.ms", self.segment_jitter_ms.to_string()),
            ("segment.index.bytes", self.segment_index_bytes.to_string()),
            ("retention.ms", opt_i64(self.retention_ms)),
            (
                "retention.bytes",
                opt_i64(self.retention_bytes.map(|b| b.min(i64::MAX as u64) as i64)),
            ),
            ("max.message.bytes", self.max_message_bytes.to_string()),
            (
                "index.interval.bytes",
                self.index_interval_bytes.to_string(),
            ),
            ("flush.messages", self.flush_interval_messages.to_string()),
            (
                "flush.ms",
                self.flush_interval_ms
                    .unwrap_or(i64::MAX as u64)
                    .to_string(),
            ),
            (
                "message.timestamp.type",
                self.message_timestamp_type.as_str().to_string(),
            ),
            ("cleanup.policy", self.cleanup_policy()),
            ("delete.retention.ms", self.delete_retention_ms.to_string()),
            (
                "min.cleanable.dirty.ratio",
                self.min_cleanable_dirty_ratio.to_string(),
            ),
            (
                "min.compaction.lag.ms",
                self.min_compaction_lag_ms.to_string(),
            ),
            (
                "max.compaction.lag.ms",
                self.max_compaction_lag_ms.to_string(),
            ),
        ]
    }

    /// `cleanup.policy` as Kafka prints it.
    pub fn cleanup_policy(&self) -> String {
        match (self.cleanup_compact, self.cleanup_delete) {
            (true, true) => "compact,delete".into(),
            (true, false) => "compact".into(),
            (false, true) => "delete".into(),
            (false, false) => String::new(),
        }
    }

    /// The most entries the offset index may hold (8 bytes each).
    pub(crate) fn max_offset_index_entries(&self) -> usize {
        (self.segment_index_bytes / 8).max(1)
    }

    /// The most entries the time index may hold (12 bytes each).
    pub(crate) fn max_time_index_entries(&self) -> usize {
        (self.segment_index_bytes / 12).max(1)
    }
}

/// Maps a runtime key to the `'static` name stored in the error.
fn key_name(key: &str) -> &'static str {
    LOG_CONFIG_KEYS
        .iter()
        .find(|k| **k == key)
        .copied()
        .unwrap_or("(unknown)")
}

fn bad(key: &'static str, value: impl ToString, reason: &str) -> LogError {
    LogError::InvalidConfig {
        key,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn parse_u64(key: &'static str, v: &str) -> Result<u64, LogError> {
    v.parse::<u64>()
        .map_err(|_| bad(key, v, "must be a non-negative integer"))
}

fn parse_i64(key: &'static str, v: &str) -> Result<i64, LogError> {
    v.parse::<i64>()
        .map_err(|_| bad(key, v, "must be an integer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kafkas_and_valid() {
        let c = LogConfig::default();
        assert_eq!(c.segment_bytes, 1_073_741_824);
        assert_eq!(c.retention_ms, Some(604_800_000));
        assert_eq!(c.max_message_bytes, 1_048_588);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn set_parses_kafka_values() {
        let mut c = LogConfig::default();
        c.set("retention.ms", "-1").unwrap();
        assert_eq!(c.retention_ms, None);
        c.set("retention.bytes", "1000").unwrap();
        assert_eq!(c.retention_bytes, Some(1000));
        c.set("message.timestamp.type", "LogAppendTime").unwrap();
        assert_eq!(c.message_timestamp_type, TimestampType::LogAppendTime);
        c.set("flush.ms", &i64::MAX.to_string()).unwrap();
        c.set("cleanup.policy", "compact").unwrap();
        assert!(c.cleanup_compact && !c.cleanup_delete);
        c.set("cleanup.policy", "delete, compact").unwrap();
        assert_eq!(c.cleanup_policy(), "compact,delete");
        assert!(c.set("cleanup.policy", "shred").is_err());
        c.set("min.cleanable.dirty.ratio", "0.01").unwrap();
        assert_eq!(c.min_cleanable_dirty_ratio, 0.01);
        assert!(c.set("min.cleanable.dirty.ratio", "2").is_err());
        assert_eq!(c.flush_interval_ms, None);
        let err = c.set("segment.bytes", "lots").unwrap_err();
        assert!(err.to_string().contains("segment.bytes"), "{err}");
        assert!(c.set("no.such.key", "1").is_err());
        c.segment_bytes = 10;
        assert!(c.validate().is_err());
        let entries = LogConfig::default().entries();
        assert_eq!(entries.len(), LOG_CONFIG_KEYS.len());
    }
}
