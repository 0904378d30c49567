//! The server as an ensemble member's [`Host`]: what Raft replication reads
//! and changes on this server.

use std::future::Future;
use std::pin::Pin;
use std::sync::{RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use super::publish::publish;
use super::Shared;
use crate::raft::Host;
use crate::tree::{DataTree, OpResult};
use crate::txn::TxnEntry;

impl Host for Shared {
    fn tree(&self) -> RwLockReadGuard<'_, DataTree> {
        Shared::tree(self)
    }

    fn tree_mut(&self) -> RwLockWriteGuard<'_, DataTree> {
        Shared::tree_mut(self)
    }

    fn publish(&self, entries: &[TxnEntry]) -> Vec<Vec<OpResult>> {
        publish(self, entries)
    }

    fn note_applied(&self, zxid: i64) {
        Shared::note_applied(self, zxid)
    }

    fn wait_applied(
        &self,
        zxid: i64,
        timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
        Box::pin(Shared::wait_applied(self, zxid, timeout))
    }

    fn touch_session(&self, session: i64) {
        self.sessions.touch(session)
    }

    fn take_touched_sessions(&self) -> Vec<i64> {
        self.sessions.take_touched()
    }

    fn refresh_sessions(&self) {
        self.sessions.refresh_all()
    }

    fn track_session(&self, session: i64, timeout_ms: i32) {
        self.sessions.track_if_absent(session, timeout_ms)
    }

    fn drop_clients(&self) {
        self.watches().close_all()
    }
}
