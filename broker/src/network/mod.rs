//! The socket side: accept loop, per-connection framing and ordering.
//!
//! * [`frame`]: I/O-free framing and request header parsing.
//! * [`listener`]: the accept loop with a connection limit.
//! * [`connection`]: one connection's read-ahead and in-order responses.

pub mod connection;
pub mod frame;
pub mod listener;
