//! runnel-coord: a ZooKeeper-protocol coordination server on sled.
//!
//! # Layout
//!
//! * [`proto`]: the wire protocol, I/O-free: jute codec, records, framing.
//! * [`tree`]: the data tree: znodes, sessions' ephemerals, path rules, and
//!   how a request becomes a transaction (`prepare`) and a transaction changes
//!   the tree (`apply`).
//! * [`txn`]: the transactions that make up the durable history.
//! * [`proposal`]: a write on its way: what it asks, how it is checked
//!   against the tree as it will be, how it ended.
//! * [`storage`]: the tree kept in sled, flushed before any reply.
//! * [`server`]: sockets, sessions, watches, the commit pipeline and the
//!   four-letter words.
//! * [`raft`]: the ensemble: Raft replication of the transaction log
//!   across 3 or 5 members (openraft). It sees the server only through
//!   [`raft::Host`], so `server` depends on `raft` and not the reverse.
//! * [`config`]: the `zoo.cfg` file.

pub mod config;
pub mod proposal;
pub mod proto;
pub mod raft;
pub mod server;
pub mod storage;
pub mod tree;
pub mod txn;
