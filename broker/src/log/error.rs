//! The log's error type, and the Kafka error code each variant becomes.
//!
//! Request handlers turn a [`LogError`] into a per-partition error code with
//! [`LogError::error_code`]; the connection and the other partitions keep going.

use std::io;
use std::path::{Path, PathBuf};

use kafka_protocol::ResponseError;

/// Everything a partition log can fail with.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A read, write, fsync, rename or delete failed (full disk, I/O error,
    /// missing permission). Kafka answers KAFKA_STORAGE_ERROR; the log itself
    /// is left consistent (a failed append is cut back before returning).
    #[error("storage error on {path}: {source}")]
    Storage {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// An earlier storage error could not be cleaned up (for example the
    /// truncation after a failed write failed too), so the log refuses to
    /// serve until it is reopened and recovered. KAFKA_STORAGE_ERROR.
    #[error("log {0} is offline after a storage error; reopen it to recover")]
    Offline(PathBuf),

    /// The log was closed or deleted; a handler still holding it lost a race
    /// with StopReplica or topic deletion. KAFKA_STORAGE_ERROR (Kafka answers
    /// the same for a log whose directory went away).
    #[error("log {0} is closed")]
    Closed(PathBuf),

    /// A record batch failed its CRC or its framing is broken (length below
    /// the minimum, unknown magic, size beyond the buffer). CORRUPT_MESSAGE.
    #[error("corrupt record batch: {0}")]
    CorruptRecord(String),

    /// A batch is larger than `max.message.bytes`. MESSAGE_TOO_LARGE.
    #[error("record batch of {size} bytes exceeds max.message.bytes ({max})")]
    RecordTooLarge {
        /// The batch's size, log overhead included.
        size: usize,
        /// The configured limit.
        max: usize,
    },

    /// The batch is well framed but breaks a rule of the produce API (magic
    /// other than 2, non-zero base offset from a client, record count not
    /// matching the offset delta, control batch from a client). INVALID_RECORD.
    #[error("invalid record batch: {0}")]
    InvalidRecord(String),

    /// A fetch or truncation asked for an offset outside the log.
    /// OFFSET_OUT_OF_RANGE.
    #[error("offset {offset} is out of range [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        /// The offset asked for.
        offset: i64,
        /// The log's first offset.
        log_start_offset: i64,
        /// The log's next offset.
        log_end_offset: i64,
    },

    /// A follower's batches do not continue the log (offset going backwards
    /// or starting below the log end). Kafka's UnexpectedAppendOffset /
    /// OffsetsOutOfOrder; UNKNOWN_SERVER_ERROR on the wire because the
    /// follower, not the client, is at fault.
    #[error("out-of-order append: {0}")]
    OffsetsOutOfOrder(String),

    /// A configuration value is out of its valid range. INVALID_CONFIG.
    #[error("invalid log configuration {key}={value}: {reason}")]
    InvalidConfig {
        /// Kafka's name of the key, e.g. `segment.bytes`.
        key: &'static str,
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A producer batch or marker carries an epoch older than the one the
    /// partition knows for its producer id. INVALID_PRODUCER_EPOCH.
    #[error("invalid producer epoch: {0}")]
    InvalidProducerEpoch(String),

    /// A producer batch's first sequence does not follow the producer's
    /// last one (a lost batch). OUT_OF_ORDER_SEQUENCE_NUMBER.
    #[error("{0}")]
    OutOfOrderSequence(String),

    /// A write that contradicts the producer's transaction state (a plain
    /// write while its transaction is open). INVALID_TXN_STATE.
    #[error("invalid transaction state: {0}")]
    InvalidTxnState(String),

    /// A transaction marker from a coordinator older than the last one
    /// seen for the producer. TRANSACTION_COORDINATOR_FENCED.
    #[error("{0}")]
    CoordinatorFenced(String),

    /// A file the log owns (checkpoint, index) does not parse. The log
    /// recovers from this where it can (indexes are rebuilt); it is only
    /// returned when it cannot. KAFKA_STORAGE_ERROR.
    #[error("malformed file {path}: {reason}")]
    MalformedFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl LogError {
    /// Wraps an I/O error with the path it happened on.
    pub(crate) fn io(path: &Path, source: io::Error) -> LogError {
        LogError::Storage {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The Kafka error this becomes in a per-partition response.
    pub fn response_error(&self) -> ResponseError {
        match self {
            LogError::Storage { .. }
            | LogError::Offline(_)
            | LogError::Closed(_)
            | LogError::MalformedFile { .. } => ResponseError::KafkaStorageError,
            LogError::CorruptRecord(_) => ResponseError::CorruptMessage,
            LogError::RecordTooLarge { .. } => ResponseError::MessageTooLarge,
            LogError::InvalidRecord(_) => ResponseError::InvalidRecord,
            LogError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
            LogError::OffsetsOutOfOrder(_) => ResponseError::UnknownServerError,
            LogError::InvalidConfig { .. } => ResponseError::InvalidConfig,
            LogError::InvalidProducerEpoch(_) => ResponseError::InvalidProducerEpoch,
            LogError::OutOfOrderSequence(_) => ResponseError::OutOfOrderSequenceNumber,
            LogError::InvalidTxnState(_) => ResponseError::InvalidTxnState,
            LogError::CoordinatorFenced(_) => ResponseError::TransactionCoordinatorFenced,
        }
    }

    /// The numeric Kafka error code of [`LogError::response_error`].
    pub fn error_code(&self) -> i16 {
        self.response_error().code()
    }

    /// Whether this is a storage failure (the partition should be reported
    /// offline, not the request rejected).
    pub fn is_storage(&self) -> bool {
        self.response_error() == ResponseError::KafkaStorageError
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_kafka() {
        let io = LogError::io(Path::new("/x"), io::Error::other("disk full"));
        assert_eq!(io.error_code(), 56);
        assert!(io.is_storage());
        assert_eq!(LogError::CorruptRecord("crc".into()).error_code(), 2);
        let big = LogError::RecordTooLarge { size: 2, max: 1 };
        assert_eq!(big.error_code(), 10);
        assert_eq!(LogError::InvalidRecord("magic".into()).error_code(), 87);
        let oor = LogError::OffsetOutOfRange {
            offset: 9,
            log_start_offset: 0,
            log_end_offset: 1,
        };
        assert_eq!(oor.error_code(), 1);
    }
}
