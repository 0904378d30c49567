//! Errors of the internal Kafka client.
//!
//! Two kinds are kept apart, as raft-rs keeps its wire codes apart from its
//! own failures: [`ErrorCode`] is a Kafka error code a broker sent (shown by
//! Kafka's own name, `UNKNOWN_TOPIC_OR_PARTITION`, so an operator can look it
//! up), and [`KafkaError`] is everything that can go wrong in this client,
//! one of which is "the broker answered with an error code".

use std::fmt;
use std::time::Duration;

use kafka_protocol::error::ResponseError;

/// A Kafka protocol error code as a broker sent it (never 0: 0 is "no error").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub i16);

impl ErrorCode {
    pub const UNKNOWN_TOPIC_OR_PARTITION: ErrorCode = ErrorCode(3);
    pub const LEADER_NOT_AVAILABLE: ErrorCode = ErrorCode(5);
    pub const NOT_LEADER_OR_FOLLOWER: ErrorCode = ErrorCode(6);
    pub const UNSUPPORTED_VERSION: ErrorCode = ErrorCode(35);
    pub const TOPIC_ALREADY_EXISTS: ErrorCode = ErrorCode(36);
    pub const INVALID_REPLICATION_FACTOR: ErrorCode = ErrorCode(38);
    pub const SASL_AUTHENTICATION_FAILED: ErrorCode = ErrorCode(58);

    /// `Ok` for 0, else the code as an error: the one check every response
    /// field goes through.
    pub fn check(code: i16) -> Result<(), ErrorCode> {
        if code == 0 {
            Ok(())
        } else {
            Err(ErrorCode(code))
        }
    }

    /// Kafka's name for the code (`NOT_LEADER_OR_FOLLOWER`), or
    /// `UNKNOWN_ERROR_CODE_<n>` for a code this client does not know.
    pub fn name(&self) -> String {
        match ResponseError::try_from_code(self.0) {
            None => "NONE".to_string(),
            Some(ResponseError::Unknown(code)) => format!("UNKNOWN_ERROR_CODE_{code}"),
            Some(known) => screaming_snake(&known.to_string()),
        }
    }

    /// Whether Kafka calls the error retriable (a leader moving, a timeout).
    pub fn is_retriable(&self) -> bool {
        ResponseError::try_from_code(self.0).is_some_and(|e| e.is_retriable())
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// `UnknownTopicOrPartition` → `UNKNOWN_TOPIC_OR_PARTITION`: kafka-protocol
/// names its variants in Rust style, operators know Kafka's names.
fn screaming_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// A frame length that cannot be right: the stream is out of step and the
/// connection has to go.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("negative frame length {0}")]
    Negative(i32),
    #[error("frame of {len} bytes is over the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
}

/// A record batch this client cannot build or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("record batch truncated: {0}")]
    Truncated(&'static str),
    #[error("record batch magic {0} is not supported (only v2 batches)")]
    UnsupportedMagic(i8),
    #[error("record batch CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Crc { stored: u32, computed: u32 },
    #[error("unknown compression codec {0} in batch attributes")]
    UnknownCodec(i16),
    #[error("{codec} (de)compression failed: {message}")]
    Codec {
        codec: &'static str,
        message: String,
    },
    #[error("record batch is malformed: {0}")]
    Malformed(String),
}

/// Everything the internal Kafka client can fail with.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("I/O error on the connection to {addr}: {source}")]
    Io {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("connection to {addr} closed: {reason}")]
    Closed { addr: String, reason: String },
    #[error("TLS with {addr} failed: {reason}")]
    Tls { addr: String, reason: String },
    #[error("{what} timed out after {after:?}")]
    Timeout { what: String, after: Duration },
    #[error("bad frame from {addr}: {source}")]
    Frame {
        addr: String,
        #[source]
        source: FrameError,
    },
    #[error("cannot encode {api} v{version}: {message}")]
    Encode {
        api: String,
        version: i16,
        message: String,
    },
    #[error("cannot decode {api} v{version} response from {addr}: {message}")]
    Decode {
        addr: String,
        api: String,
        version: i16,
        message: String,
    },
    #[error("response from {addr} has correlation id {got}, expected {expected}")]
    CorrelationMismatch {
        addr: String,
        expected: i32,
        got: i32,
    },
    #[error(
        "{addr} supports {api} v{broker_min}..={broker_max}, this client v{our_min}..={our_max}"
    )]
    UnsupportedVersion {
        addr: String,
        api: String,
        broker_min: i16,
        broker_max: i16,
        our_min: i16,
        our_max: i16,
    },
    /// The broker answered, with an error code.
    #[error("{context}: {code}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Broker {
        context: String,
        code: ErrorCode,
        message: Option<String>,
    },
    #[error("no bootstrap server could be reached ({tried}): {last}")]
    NoBroker {
        tried: String,
        last: Box<KafkaError>,
    },
    #[error("broker {0} is not in the cluster metadata")]
    UnknownBroker(i32),
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error("{0}")]
    Invalid(String),
}

impl KafkaError {
    /// The Kafka error code, when the broker sent one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            KafkaError::Broker { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Builds a [`KafkaError::Broker`] from a response's code and message.
    pub fn broker(context: impl Into<String>, code: ErrorCode, message: Option<&str>) -> Self {
        KafkaError::Broker {
            context: context.into(),
            code,
            message: message.filter(|m| !m.is_empty()).map(str::to_string),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_carry_kafka_names() {
        assert_eq!(ErrorCode(3).name(), "UNKNOWN_TOPIC_OR_PARTITION");
        assert_eq!(ErrorCode(6).name(), "NOT_LEADER_OR_FOLLOWER");
        assert_eq!(ErrorCode(56).name(), "KAFKA_STORAGE_ERROR");
        assert_eq!(ErrorCode(-1).name(), "UNKNOWN_SERVER_ERROR");
        assert_eq!(ErrorCode(9999).name(), "UNKNOWN_ERROR_CODE_9999");
        assert_eq!(ErrorCode(36).to_string(), "TOPIC_ALREADY_EXISTS (36)");
        assert!(ErrorCode::check(0).is_ok());
        assert_eq!(ErrorCode::check(2), Err(ErrorCode(2)));
        assert!(ErrorCode(6).is_retriable());
        assert!(!ErrorCode(36).is_retriable());
    }

    #[test]
    fn broker_error_mentions_code_and_message() {
        let e = KafkaError::broker(
            "create topic t",
            ErrorCode(36),
            Some("Topic 't' already exists."),
        );
        assert_eq!(
            e.to_string(),
            "create topic t: TOPIC_ALREADY_EXISTS (36): Topic 't' already exists."
        );
        assert_eq!(e.code(), Some(ErrorCode(36)));
    }
}
