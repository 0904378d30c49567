//! Runnel Connect: a worker compatible with Kafka Connect, so the same
//! connector configs, REST calls and converters work against it.
//!
//! # Layout
//!
//! A connector's path, by file:
//! * [`config`]: the worker's properties (`connect-standalone.properties`
//!   keys), checked once at start.
//! * [`rest`]: the REST API v1 (`/connectors`, `/connector-plugins`) with
//!   Kafka's JSON shapes, status codes and error bodies.
//! * [`herder`]: the connectors of this worker: their configs, target
//!   states (started, paused, stopped), tasks and statuses.
//! * [`plugins`]: the built-in connectors, their config definitions and
//!   validation (Kafka's `ConfigInfos`), and their task configs.
//! * [`runtime`]: a running task: a source task polled and its records
//!   produced, or a sink task fed by a consumer group.
//! * [`convert`] and [`data`]: Connect's schemas and values, and the
//!   String, ByteArray and Json converters between them and bytes.
//! * [`transforms`]: Single Message Transforms and predicates
//!   (`transforms=…`, `predicates=…`), run between a task and the
//!   converters.
//! * [`offsets`]: source offsets in the standalone offsets file.
//! * [`standalone`]: the standalone worker as one running service.

pub mod config;
pub mod convert;
pub mod data;
pub mod error;
pub mod herder;
pub mod offsets;
pub mod plugins;
pub mod rest;
pub mod runtime;
pub mod standalone;
pub mod transforms;

/// The Kafka Connect version whose REST API and behaviour this worker
/// follows; `GET /` and `/connector-plugins` report it, since tools
/// compare it to decide what a worker can do (offsets need 3.6).
pub const KAFKA_VERSION: &str = "3.7.0";
