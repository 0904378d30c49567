//! Exactly-once: producer ids and the transaction coordinator.
//!
//! # Layout
//!
//! An EndTxn's path: `api/end_txn.rs → txn/coordinator.rs →
//! txn/state.rs` (the decision) `→ metadata/transactions.rs` (coord, before
//! the answer) `→ txn/markers.rs` (WriteTxnMarkers to partition leaders and
//! group coordinators) `→ metadata/transactions.rs` (Complete).
//!
//! * [`producer_id`]: producer ids from blocks claimed in coord.
//! * [`state`]: one transactional id's state machine (Kafka's
//!   `TransactionMetadata`), pure and unit-tested.
//! * [`coordinator`]: finds or loads a transactional id, runs requests
//!   through the state machine, writes the outcome to coord before the
//!   client hears of it, aborts timed-out transactions, expires idle ids,
//!   takes over ids (and their unfinished markers) from dead brokers.
//! * [`markers`]: sends commit/abort markers until every partition and
//!   group has them.
//!
//! What a coordinator decided lives in coord (`/transactions/<id>`), so a
//! coordinator that dies between EndTxn and its last marker leaves a
//! PrepareCommit or PrepareAbort that the next coordinator finishes.

pub mod coordinator;
pub mod markers;
pub mod producer_id;
pub mod state;

pub use coordinator::TransactionCoordinator;
