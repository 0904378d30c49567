//! How far this member's Raft log is on disk, so that a leader can flush
//! its own appends while it replicates them.
//!
//! openraft 0.9 runs a log append inside its Raft task and sends the new
//! entries to the followers only once the append is reported stored: a
//! leader would pay its own `fdatasync` and then a follower's, one after
//! the other, on every write. ZooKeeper's leader writes its log while its
//! proposal travels. So does this one: the log store reports the leader's
//! own appends stored as soon as they are written (its flush thread syncs
//! them meanwhile) and records here what is really synced. Nothing an
//! unsynced entry decides becomes visible before it is synced:
//!
//! * the state machine applies an entry only once it is synced here
//!   ([`Durable::wait_for`]), so no reply, read or watch shows it before;
//! * the commit point the leader sends to followers is cut to what is
//!   synced here ([`Durable::clamp_commit`]), so no follower applies it
//!   before either; once the flush catches up, a heartbeat carries the
//!   rest ([`Durable::held_back`]);
//! * the commit point stored for a restart is cut the same way.
//!
//! openraft may so count the leader in a majority a moment before its
//! flush ends; an entry applied anywhere is still on the disks of the
//! leader and of at least one follower that synced it before answering — a
//! majority of three. A leader that loses power before its flush ends
//! loses only entries nobody applied or was answered for, which a new
//! leader may drop like any uncommitted entry. Followers report their
//! appends only once synced (they count in the leader's majority).

use std::sync::{Mutex, MutexGuard};

use openraft::LogId;
use tokio::sync::Notify;

use super::NodeId;

/// Why an entry cannot be applied: its flush failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the raft log could not be synced: {0}")]
pub struct FlushFailed(pub String);

#[derive(Default)]
struct State {
    /// Bumped by every truncation: a flush of entries appended before it
    /// says nothing about the entries now at those indexes.
    epoch: u64,
    /// The last entry known synced.
    synced: Option<LogId<NodeId>>,
    /// A sync failed: nothing more counts as synced until a restart.
    failed: Option<String>,
    /// A commit point sent to followers was cut short.
    held: bool,
}

/// What of the log is synced; shared by the log store (which records it),
/// the state machine and the network (which wait on it or cut by it).
#[derive(Default)]
pub struct Durable {
    state: Mutex<State>,
    /// Woken whenever `synced` moves or a flush fails.
    advanced: Notify,
    /// Woken when `synced` moves past a commit point that was cut short.
    held_back: Notify,
}

impl Durable {
    /// Everything up to `synced` is on disk already.
    pub fn new(synced: Option<LogId<NodeId>>) -> Durable {
        Durable {
            state: Mutex::new(State {
                synced,
                ..State::default()
            }),
            ..Durable::default()
        }
    }

    /// Everything counts as synced (tests of the state machine alone).
    #[cfg(test)]
    pub fn everything() -> Durable {
        let last = LogId::new(openraft::CommittedLeaderId::new(u64::MAX, 0), u64::MAX);
        Durable::new(Some(last))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The truncation epoch an append is made in.
    pub fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// The flush thread synced the entries up to `last`, appended in
    /// `epoch`.
    pub fn synced(&self, epoch: u64, last: LogId<NodeId>) {
        let release = {
            let mut state = self.lock();
            if state.epoch != epoch || state.failed.is_some() {
                return;
            }
            if state.synced.is_some_and(|s| s.index >= last.index) {
                return;
            }
            state.synced = Some(last);
            std::mem::take(&mut state.held)
        };
        self.advanced.notify_waiters();
        if release {
            self.held_back.notify_one();
        }
    }

    /// A sync failed: entries not yet synced can never be applied here.
    pub fn failed(&self, reason: String) {
        self.lock().failed.get_or_insert(reason);
        self.advanced.notify_waiters();
    }

    /// The log was cut after `last` (`None`: emptied).
    pub fn truncated(&self, last: Option<LogId<NodeId>>) {
        let mut state = self.lock();
        state.epoch += 1;
        if state.synced.map(|s| s.index) > last.map(|l| l.index) {
            state.synced = last;
        }
    }

    /// `commit` cut to the last synced entry; remembers it was cut, so
    /// that [`Durable::held_back`] wakes once the flush passes it.
    pub fn clamp_commit(&self, commit: Option<LogId<NodeId>>) -> Option<LogId<NodeId>> {
        let mut state = self.lock();
        match (commit, state.synced) {
            (Some(c), synced) if synced.is_none_or(|s| s.index < c.index) => {
                state.held = true;
                synced
            }
            _ => commit,
        }
    }

    /// `commit` cut to the last synced entry, without waking anyone later
    /// (for the commit point stored for a restart).
    pub fn cut(&self, commit: Option<LogId<NodeId>>) -> Option<LogId<NodeId>> {
        let synced = self.lock().synced;
        match (commit, synced) {
            (Some(c), Some(s)) if s.index < c.index => Some(s),
            (Some(_), None) => None,
            _ => commit,
        }
    }

    /// Returns once the entry at `index` is synced.
    pub async fn wait_for(&self, index: u64) -> Result<(), FlushFailed> {
        loop {
            let advanced = self.advanced.notified();
            tokio::pin!(advanced);
            advanced.as_mut().enable();
            {
                let state = self.lock();
                if state.synced.is_some_and(|s| s.index >= index) {
                    return Ok(());
                }
                if let Some(reason) = &state.failed {
                    return Err(FlushFailed(reason.clone()));
                }
            }
            advanced.await;
        }
    }

    /// Returns once a commit point cut short by [`Durable::clamp_commit`]
    /// can go out whole.
    pub async fn held_back(&self) {
        self.held_back.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::CommittedLeaderId;

    fn id(index: u64) -> LogId<NodeId> {
        LogId::new(CommittedLeaderId::new(1, 1), index)
    }

    #[tokio::test]
    async fn an_entry_waits_for_its_flush() {
        let durable = std::sync::Arc::new(Durable::new(Some(id(3))));
        assert!(durable.wait_for(3).await.is_ok());
        let waiter = tokio::spawn({
            let durable = durable.clone();
            async move { durable.wait_for(5).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        let epoch = durable.epoch();
        durable.synced(epoch, id(5));
        assert!(waiter.await.is_ok_and(|r| r.is_ok()));
    }

    #[tokio::test]
    async fn a_failed_flush_fails_the_waiters() {
        let durable = Durable::new(None);
        durable.failed("disk".into());
        assert!(durable.wait_for(0).await.is_err());
        durable.synced(0, id(4));
        assert_eq!(durable.cut(Some(id(4))), None);
    }

    #[test]
    fn commit_points_are_cut_to_what_is_synced() {
        let durable = Durable::new(Some(id(2)));
        assert_eq!(durable.clamp_commit(Some(id(1))), Some(id(1)));
        assert_eq!(durable.clamp_commit(None), None);
        assert_eq!(durable.clamp_commit(Some(id(7))), Some(id(2)));
        assert_eq!(durable.cut(Some(id(7))), Some(id(2)));
    }

    #[test]
    fn a_flush_from_before_a_truncation_does_not_count() {
        let durable = Durable::new(Some(id(9)));
        let before = durable.epoch();
        durable.truncated(Some(id(4)));
        assert_eq!(durable.cut(Some(id(9))), Some(id(4)));
        durable.synced(before, id(9));
        assert_eq!(durable.cut(Some(id(9))), Some(id(4)));
        durable.synced(durable.epoch(), id(6));
        assert_eq!(durable.cut(Some(id(9))), Some(id(6)));
    }
}
