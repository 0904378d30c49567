//! A partition's durable log, in Kafka's on-disk format.
//!
//! # Layout
//!
//! * [`partition_log`]: [`PartitionLog`], what the broker calls: append as
//!   leader or follower, read, ListOffsets, flush, truncate, retention,
//!   close, delete, and a watch channel of the log end offset for long polls.
//! * [`log_dir`]: [`LogDir`], one `log.dirs` entry: partition directories,
//!   the directory-wide checkpoints, the clean-shutdown marker.
//! * [`batch`]: v2 record batch headers: validation (length, magic, CRC-32C,
//!   produce rules) and the in-place rewrite of base offset, leader epoch and
//!   LogAppendTime. Records are never decoded on the hot path.
//! * [`segment`]: one `<base>.log` with its indexes: append, lookup, read,
//!   truncation, recovery of a single segment.
//! * [`index`], [`time_index`]: the sparse `.index` and `.timeindex` files,
//!   over [`index_file`] (fixed-size entries, positional I/O).
//! * [`scan`]: walking batches in a segment file with chunked positional reads.
//! * [`producer_state`]: idempotent and transactional producers per
//!   partition: sequence and epoch checks, open and aborted transactions,
//!   the last stable offset, `.snapshot` files.
//! * [`recovery`]: loading a partition directory, re-scanning after an
//!   unclean stop.
//! * [`cleaner`]: compaction (`cleanup.policy=compact`): the latest record
//!   per key survives, segments are rewritten and swapped in crash-safely;
//!   [`records`]: the record-level view of a batch it (and produce to a
//!   compacted topic) needs — the only place records are decoded.
//! * [`retention`]: which old segments `retention.ms` / `retention.bytes` /
//!   the log start offset let go.
//! * [`checkpoint`]: Kafka's checkpoint file format;
//!   [`leader_epoch`]: the leader epoch cache built on it.
//! * [`config`]: [`LogConfig`], Kafka's topic-level keys and defaults.
//! * [`error`]: [`LogError`] and its Kafka error codes.
//!
//! # On disk
//!
//! `<log.dir>/<topic>-<partition>/` holds `<20-digit base offset>.log`,
//! `.index` and `.timeindex` per segment and `leader-epoch-checkpoint`;
//! `<log.dir>/` holds `recovery-point-offset-checkpoint`,
//! `log-start-offset-checkpoint`, `replication-offset-checkpoint`,
//! `cleaner-offset-checkpoint` and, while
//! stopped cleanly, `.kafka_cleanshutdown`. All byte-compatible with Kafka.
//! One deliberate difference: index files are not preallocated to
//! `segment.index.bytes` and not memory-mapped; they grow by appended entries
//! and are searched with positional reads (see [`index_file`]), which is what
//! Kafka's files look like after it trims them on roll and close.

pub mod batch;
pub mod checkpoint;
pub mod cleaner;
pub mod config;
pub mod error;
pub mod index;
pub mod index_file;
pub mod leader_epoch;
pub mod log_dir;
pub mod partition_log;
pub mod producer_state;
pub mod records;
pub mod recovery;
pub mod retention;
pub mod scan;
pub mod segment;
pub mod time_index;

pub use config::{LogConfig, TimestampType, LOG_CONFIG_KEYS};
pub use error::LogError;
pub use leader_epoch::EpochEntry;
pub use log_dir::LogDir;
pub use partition_log::{
    now_ms, AppendInfo, PartitionLog, ReadInfo, EARLIEST_LOCAL_TIMESTAMP, EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP, MAX_TIMESTAMP,
};
pub use recovery::LoadHints;
pub use segment::TimestampAndOffset;
