//! Watches: which connection wants to hear about which path, and sending it
//! the event. Kept under one lock with nothing else, taken while the tree's
//! lock is held (tree first, then watches, on both the read and the commit
//! side), so no change can slip between a read and its watch registration.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use tokio::sync::mpsc::UnboundedSender;

use crate::proto::jute::Encode;
use crate::proto::opcode::NOTIFICATION_XID;
use crate::proto::records::{ReplyHeader, WatcherEvent};
use crate::tree::{path, EventType, Trigger};

/// `KeeperState.SyncConnected`: the state carried by every event we send.
const SYNC_CONNECTED: i32 = 3;

/// Something the server pushes to a connection outside request order.
#[derive(Debug)]
pub enum Outbound {
    /// A ready frame (a watch event).
    Frame(Bytes),
    /// Close the connection (session expired, or moved to another connection).
    Close,
}

/// Kinds of watch a connection can hold on a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchKind {
    /// getData / exists: one-shot.
    Data,
    /// getChildren: one-shot.
    Child,
    /// addWatch PERSISTENT: every event at the path, until removed.
    Persistent,
    /// addWatch PERSISTENT_RECURSIVE: created/deleted/changed at or below the path.
    Recursive,
}

/// `WatcherType` of checkWatches / removeWatches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatcherType {
    Children,
    Data,
    Any,
    Persistent,
    PersistentRecursive,
}

impl WatcherType {
    pub fn from_i32(value: i32) -> Option<WatcherType> {
        Some(match value {
            1 => WatcherType::Children,
            2 => WatcherType::Data,
            3 => WatcherType::Any,
            4 => WatcherType::Persistent,
            5 => WatcherType::PersistentRecursive,
            _ => return None,
        })
    }

    fn kinds(self) -> &'static [WatchKind] {
        use WatchKind::*;
        match self {
            WatcherType::Children => &[Child, Persistent],
            WatcherType::Data => &[Data, Persistent, Recursive],
            WatcherType::Any => &[Data, Child, Persistent, Recursive],
            WatcherType::Persistent => &[Persistent],
            WatcherType::PersistentRecursive => &[Recursive],
        }
    }
}

type Table = HashMap<String, HashSet<u64>>;

/// Every watch of every connection, and where to send their events.
#[derive(Default)]
pub struct WatchManager {
    data: Table,
    child: Table,
    persistent: Table,
    recursive: Table,
    conns: HashMap<u64, UnboundedSender<Outbound>>,
}

fn take(table: &mut Table, path: &str, out: &mut Vec<u64>) {
    if let Some(set) = table.remove(path) {
        out.extend(set);
    }
}

fn peek(table: &Table, path: &str, out: &mut Vec<u64>) {
    if let Some(set) = table.get(path) {
        out.extend(set.iter().copied());
    }
}

impl WatchManager {
    fn table(&mut self, kind: WatchKind) -> &mut Table {
        match kind {
            WatchKind::Data => &mut self.data,
            WatchKind::Child => &mut self.child,
            WatchKind::Persistent => &mut self.persistent,
            WatchKind::Recursive => &mut self.recursive,
        }
    }

    /// Registers a connection's event channel.
    pub fn connect(&mut self, conn: u64, tx: UnboundedSender<Outbound>) {
        self.conns.insert(conn, tx);
    }

    /// Forgets a connection and all its watches.
    pub fn disconnect(&mut self, conn: u64) {
        self.conns.remove(&conn);
        for table in [
            &mut self.data,
            &mut self.child,
            &mut self.persistent,
            &mut self.recursive,
        ] {
            table.retain(|_, set| {
                set.remove(&conn);
                !set.is_empty()
            });
        }
    }

    /// Closes every client connection (a member that lost its quorum).
    pub fn close_all(&mut self) {
        for tx in self.conns.values() {
            let _ = tx.send(Outbound::Close);
        }
    }

    /// Sends `Close` to a connection (it will disconnect itself).
    pub fn close(&mut self, conn: u64) {
        if let Some(tx) = self.conns.get(&conn) {
            let _ = tx.send(Outbound::Close);
        }
    }

    pub fn add(&mut self, conn: u64, path: &str, kind: WatchKind) {
        self.table(kind)
            .entry(path.to_string())
            .or_default()
            .insert(conn);
    }

    /// Whether `conn` holds a watch of `kind` on `path`.
    pub fn contains(&mut self, conn: u64, path: &str, kind: WatcherType) -> bool {
        kind.kinds()
            .iter()
            .any(|k| self.table(*k).get(path).is_some_and(|s| s.contains(&conn)))
    }

    /// Removes `conn`'s watches of `kind` on `path`; false when it had none.
    pub fn remove(&mut self, conn: u64, path: &str, kind: WatcherType) -> bool {
        let mut removed = false;
        for k in kind.kinds() {
            let table = self.table(*k);
            if let Some(set) = table.get_mut(path) {
                removed |= set.remove(&conn);
                if set.is_empty() {
                    table.remove(path);
                }
            }
        }
        removed
    }

    /// Number of (connection, path) watch registrations, for `mntr`.
    pub fn count(&self) -> usize {
        [&self.data, &self.child, &self.persistent, &self.recursive]
            .iter()
            .map(|t| t.values().map(HashSet::len).sum::<usize>())
            .sum()
    }

    /// Sends `event` to one connection directly (setWatches catch-up).
    pub fn notify(&self, conn: u64, kind: EventType, path: &str) {
        if let Some(tx) = self.conns.get(&conn) {
            let _ = tx.send(Outbound::Frame(event_frame(kind, path)));
        }
    }

    /// Delivers one change to every watch it concerns, once per connection,
    /// dropping the one-shot watches it fires.
    pub fn trigger(&mut self, trigger: &Trigger) {
        let p = trigger.path.as_str();
        let mut targets = Vec::new();
        match trigger.kind {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                take(&mut self.data, p, &mut targets);
                peek(&self.persistent, p, &mut targets);
                self.recursive_targets(p, &mut targets);
            }
            EventType::NodeDeleted => {
                take(&mut self.data, p, &mut targets);
                take(&mut self.child, p, &mut targets);
                peek(&self.persistent, p, &mut targets);
                self.recursive_targets(p, &mut targets);
            }
            EventType::NodeChildrenChanged => {
                take(&mut self.child, p, &mut targets);
                peek(&self.persistent, p, &mut targets);
            }
        }
        if targets.is_empty() {
            return;
        }
        targets.sort_unstable();
        targets.dedup();
        let frame = event_frame(trigger.kind, p);
        for conn in targets {
            if let Some(tx) = self.conns.get(&conn) {
                let _ = tx.send(Outbound::Frame(frame.clone()));
            }
        }
    }

    fn recursive_targets(&self, p: &str, out: &mut Vec<u64>) {
        if self.recursive.is_empty() {
            return;
        }
        let mut current = Some(p);
        while let Some(at) = current {
            peek(&self.recursive, at, out);
            current = path::parent(at);
        }
    }
}

/// A notification frame: reply header with xid -1, then the event.
pub fn event_frame(kind: EventType, p: &str) -> Bytes {
    let mut body = bytes::BytesMut::with_capacity(32 + p.len());
    body.extend_from_slice(&[0; 4]);
    ReplyHeader {
        xid: NOTIFICATION_XID,
        zxid: -1,
        err: 0,
    }
    .encode(&mut body);
    WatcherEvent {
        kind: kind as i32,
        state: SYNC_CONNECTED,
        path: p.to_string(),
    }
    .encode(&mut body);
    let len = (body.len() - 4) as i32;
    body[..4].copy_from_slice(&len.to_be_bytes());
    body.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc::unbounded_channel;

    fn trig(kind: EventType, path: &str) -> Trigger {
        Trigger {
            kind,
            path: path.into(),
        }
    }

    #[test]
    fn one_shot_fires_once_persistent_stays_recursive_skips_children_events() {
        let mut w = WatchManager::default();
        let (tx, mut rx) = unbounded_channel();
        w.connect(1, tx);
        w.add(1, "/a", WatchKind::Data);
        w.add(1, "/a", WatchKind::Child);
        w.add(1, "/", WatchKind::Recursive);
        w.trigger(&trig(EventType::NodeDeleted, "/a"));
        w.trigger(&trig(EventType::NodeChildrenChanged, "/"));
        w.trigger(&trig(EventType::NodeCreated, "/a"));
        let mut got = 0;
        while rx.try_recv().is_ok() {
            got += 1;
        }
        // NodeDeleted once (data+child+recursive deduplicated), no children
        // event for the recursive watch, NodeCreated through the recursive one.
        assert_eq!(got, 2);
        assert!(!w.contains(1, "/a", WatcherType::Any));
        assert!(w.contains(1, "/", WatcherType::PersistentRecursive));
        w.disconnect(1);
        assert_eq!(w.count(), 0);
    }
}
