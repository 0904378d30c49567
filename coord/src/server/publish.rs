//! Making committed transactions visible — the same step on a standalone
//! server and on every ensemble member: apply to the published tree, fire
//! the watches, and keep the session clocks in step with the sessions the
//! tree holds (closing the connection of a session that ended).

use super::Shared;
use crate::tree::{OpResult, Trigger};
use crate::txn::{Txn, TxnEntry};

/// Applies `entries` (in order) to the published tree; returns each entry's results.
pub fn publish(shared: &Shared, entries: &[TxnEntry]) -> Vec<Vec<OpResult>> {
    let mut tree = shared.tree_mut();
    let mut triggers: Vec<Trigger> = Vec::new();
    let results: Vec<Vec<OpResult>> = entries
        .iter()
        .map(|entry| tree.apply(entry, &mut triggers))
        .collect();
    let mut watches = shared.watches();
    for trigger in &triggers {
        watches.trigger(trigger);
    }
    for entry in entries {
        match &entry.txn {
            Txn::CreateSession { timeout_ms, .. } => {
                shared.sessions.track_if_absent(entry.session, *timeout_ms)
            }
            Txn::CloseSession => {
                if let Some(conn) = shared.sessions.remove(entry.session) {
                    watches.close(conn);
                }
            }
            _ => {}
        }
    }
    shared.note_applied(tree.last_zxid());
    results
}
