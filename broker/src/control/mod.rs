//! Controller ↔ broker requests: LeaderAndIsr, StopReplica, UpdateMetadata
//! and ControlledShutdown, carried on the broker's ordinary listener under
//! Kafka's API keys (4–7) with our own postcard bodies.
//!
//! * [`message`]: the wire format (I/O free, round-trip tested).
//! * [`handler`]: what a broker does when one arrives.
//! * [`client`]: cached connections from the controller (or a broker
//!   shutting down) to other brokers.
//!
//! These keys are not advertised in ApiVersions: only Runnel brokers send
//! them, and they know the one version there is.

pub mod client;
pub mod handler;
pub mod message;

pub use message::InternalKey;
