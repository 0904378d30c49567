//! Runnel's Schema Registry: Confluent's REST API v1, so Confluent's
//! clients and serializers work unchanged, with its state in a compacted
//! single-partition Kafka topic (`_schemas`, Confluent's record layout).
//!
//! A request's path, by file:
//! * [`http`]: the REST resources (`subjects`, `schemas`, `config`,
//!   `compatibility`), JSON bodies and Confluent's error bodies, and
//!   writes forwarded to the leader ([`election`] says which instance);
//! * [`registry`]: the operations, free of HTTP;
//! * [`schema`]: parsing, canonical text and compatibility per type;
//! * [`store`]: the `_schemas` topic read into memory, and written to.

pub mod config;
pub mod election;
pub mod error;
pub mod http;
pub mod registry;
pub mod schema;
pub mod service;
pub mod store;
pub mod types;
