//! The internal Kafka client: what the `runnel` CLI speaks to brokers
//! with, and what the broker's replica fetcher will reuse.
//!
//! # Layout
//!
//! * [`frame`]: length-prefixed frames, request and response headers,
//!   free of I/O.
//! * [`transport`]: TCP or TLS, then SASL: the stream a connection runs on,
//!   for both the client and the broker's listeners.
//! * [`client_properties`]: a Kafka client properties file
//!   (`--command-config`) read into the [`ClientSecurity`] to connect with.
//! * [`connection`]: one socket to one broker; pipelined requests answered
//!   in order, ApiVersions negotiation.
//! * [`client`]: bootstrap servers, metadata, one connection per broker.
//! * [`metadata`]: brokers, topics, leaders per partition.
//! * [`admin`]: create, delete, grow topics; describe and alter configs.
//! * [`produce`], [`fetch`]: Produce, Fetch and ListOffsets requests and
//!   their per-partition answers.
//! * [`partitioner`]: Kafka's murmur2 partition of a key.
//! * [`batch`]: v2 record batches (CRC-32C, codecs) written and read by the
//!   client; batch headers are readable without decoding records.
//! * [`group`]: membership of a group (join, sync, heartbeat, leave) and
//!   its committed offsets; the `consumer` protocol and range assignment.
//! * [`error`]: the client's errors and Kafka error codes by name.
//!
//! Bodies are kafka-protocol's types; this module only chooses versions,
//! fills fields, and turns error codes into [`KafkaError`]s.

pub mod admin;
pub mod batch;
pub mod client;
pub mod client_properties;
pub mod connection;
pub mod error;
pub mod fetch;
pub mod frame;
pub mod group;
pub mod metadata;
pub mod partitioner;
pub mod produce;
pub mod transport;

pub use admin::{topic_name, ConfigEntry, ConfigSource, NewTopic};
pub use batch::{BatchBuilder, BatchHeader, Batches, Codec, RawBatch, Record};
pub use client::Client;
pub use connection::{Connection, ConnectionConfig, PendingResponse};
pub use error::{BatchError, ErrorCode, FrameError, KafkaError};
pub use group::{GroupConfig, GroupError, GroupMember, Joined};
pub use metadata::{BrokerInfo, ClusterMetadata, PartitionMetadata, TopicMetadata};
pub use transport::{ClientSecurity, SaslCredentials, SaslMechanism, SecurityProtocol};
