//! What Runnel's broker, coordination server and command line share.
//!
//! # Layout
//!
//! * [`logging`]: one `tracing` set-up for every binary (`RUST_LOG` filters).
//! * [`properties`]: the `key=value` file format of `zoo.cfg` and
//!   `server.properties`, with line numbers for error messages.
//! * [`coord_shell`]: a zkCli-like interactive shell over any ZooKeeper-protocol
//!   server, used by `runnel-coord shell` and later by `runnel coord shell`.
//! * [`record_batch`]: the v2 record batch header, shared by the broker's log
//!   and the client.
//! * [`metrics`]: the Prometheus HTTP listener of brokers and coord members,
//!   and helpers for metrics computed when scraped.
//! * [`tls`]: rustls server and client configurations from PEM files.
//! * [`security`]: SASL mechanisms (SCRAM-SHA-256/512, PLAIN) for both the
//!   broker's and the client's side, and the `sasl.jaas.config` parser.
//! * [`coord_client`]: how every coord client (broker, Schema Registry,
//!   console) secures its session: Kafka's `zookeeper.ssl.*` keys and a
//!   JAAS `Client` section for SASL.
//! * [`kafka`]: the internal Kafka client (connections, metadata, admin,
//!   produce, fetch, record batches) used by the `runnel` CLI.

pub mod clock;
pub mod coord_client;
pub mod coord_shell;
pub mod kafka;
pub mod logging;
pub mod metrics;
pub mod properties;
pub mod record_batch;
pub mod security;
pub mod signals;
pub mod tls;
