//! What an ensemble member needs from the server it replicates for. The
//! server implements [`Host`]; this module never names the server's types,
//! so the dependency goes one way: `server` → `raft`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use crate::tree::{DataTree, OpResult};
use crate::txn::TxnEntry;

/// The server side of replication: the published tree, applying committed
/// transactions to it, session clocks and client connections.
pub trait Host: Send + Sync + 'static {
    /// The published tree (what reads see).
    fn tree(&self) -> RwLockReadGuard<'_, DataTree>;
    fn tree_mut(&self) -> RwLockWriteGuard<'_, DataTree>;
    /// Applies committed transactions to the published tree: fires their
    /// watches, starts and ends their sessions; one result list per entry.
    fn publish(&self, entries: &[TxnEntry]) -> Vec<Vec<OpResult>>;
    /// Records that the published tree reached `zxid`.
    fn note_applied(&self, zxid: i64);
    /// Waits until the published tree has applied `zxid`; false on timeout.
    fn wait_applied(
        &self,
        zxid: i64,
        timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + '_>>;
    /// A session was heard from (on this member or, relayed, on another).
    fn touch_session(&self, session: i64);
    /// Sessions heard from on this member since the last call.
    fn take_touched_sessions(&self) -> Vec<i64>;
    /// Every session gets a fresh timeout (a new leader's first act).
    fn refresh_sessions(&self);
    /// Starts the expiry clock of a session this member learnt of.
    fn track_session(&self, session: i64, timeout_ms: i32);
    /// Closes every client connection (this member lost the majority).
    fn drop_clients(&self);
}
