//! The Kafka-protocol broker.
//!
//! # Layout
//!
//! A produce request's path, file by file:
//! `network/listener.rs → network/connection.rs → network/frame.rs →
//! api/mod.rs → api/produce.rs → replica/manager.rs → replica/partition.rs →
//! log/…`.
//!
//! * [`config`]: `server.properties` with Kafka's keys and defaults.
//! * [`topic_config`]: topic-level keys, their broker synonyms, validation.
//! * [`network`]: accept loop, framing, in-order responses per connection.
//! * [`api`]: one handler per Kafka API and the dispatcher.
//! * [`group`]: the consumer-group coordinator (classic protocol); offsets
//!   and group records in coord through [`metadata::groups`].
//! * [`controller`]: the controller role: leader elections, controlled
//!   shutdown, preferred-leader rebalance, fenced writes to coord.
//! * [`control`]: the controller's requests to brokers (LeaderAndIsr,
//!   UpdateMetadata, StopReplica, ControlledShutdown) on the listener.
//! * [`topic_admin`]: create / delete / grow topics, change their configs.
//! * [`metadata`]: Kafka's ZooKeeper layout in coord, and the cached view.
//! * [`replica`]: the partitions this broker hosts and their leader state.
//! * [`log`]: a partition's durable log: segments, indexes, recovery,
//!   retention. Record batches are validated by header and CRC and kept as
//!   the client sent them.
//! * [`txn`]: exactly-once: producer ids and the transaction coordinator
//!   (state in coord through [`metadata::transactions`]).
//! * [`server`]: start-up, shutdown, and the state handlers share.

pub mod alloc;
pub mod api;
pub mod cli;
pub mod config;
pub mod console;
pub mod control;
pub mod controller;
pub mod group;
pub mod log;
pub mod metadata;
pub mod metrics;
pub mod network;
pub mod quota;
pub mod replica;
pub mod security;
pub mod server;
pub mod topic_admin;
pub mod topic_config;
pub mod txn;
