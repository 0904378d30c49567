//! The Kafka-protocol broker.
//!
//! # Layout
//!
//! Nothing yet: the broker is built in its own issue, on top of `runnel-coord`.
