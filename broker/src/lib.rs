//! The Kafka-protocol broker.
//!
//! # Layout
//!
//! * [`log`]: a partition's durable log: segments, indexes, recovery,
//!   retention. Record batches are validated by header and CRC and kept as
//!   the client sent them.

pub mod log;
