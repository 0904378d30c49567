//! Transactions: the committed, ordered changes that make up the server's
//! durable history. A request is turned into a transaction once, by
//! [`crate::tree::prepare`]; applying a transaction
//! ([`crate::tree::DataTree::apply`]) is deterministic, so every copy of the
//! tree that applies the same transactions ends up the same (the basis for
//! replication across an ensemble).

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::proto::records::Acl;

/// One committed transaction with the header every kind shares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnEntry {
    /// Position in the history; grows by one per transaction.
    pub zxid: i64,
    /// Wall-clock time (ms since the epoch) the transaction was prepared:
    /// becomes ctime/mtime, so every replica stores the same times.
    pub time: i64,
    /// The session that asked for it (0 for the server's own housekeeping).
    pub session: i64,
    pub txn: Txn,
}

/// What a transaction changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Txn {
    CreateSession {
        timeout_ms: i32,
        password: [u8; 16],
    },
    /// Ends the entry's session and deletes its ephemeral nodes.
    CloseSession,
    Create {
        path: String,
        data: Option<Bytes>,
        acl: Vec<Acl>,
        /// Session id for ephemerals, [`CONTAINER_OWNER`] for containers,
        /// [`ttl_owner`] for TTL nodes, else 0.
        ephemeral_owner: i64,
        /// The parent's cversion after this create.
        parent_cversion: i32,
    },
    Delete {
        path: String,
    },
    SetData {
        path: String,
        data: Option<Bytes>,
        version: i32,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        aversion: i32,
    },
    /// A version check inside a multi: changes nothing.
    Check {
        path: String,
    },
    /// All of these, atomically.
    Multi(Vec<Txn>),
}

/// `ephemeralOwner` of a container node (ZooKeeper's `Long.MIN_VALUE`).
pub const CONTAINER_OWNER: i64 = i64::MIN;

/// The largest TTL a node may have (ZooKeeper's `EphemeralType.MAX_EXTENDED_...`).
pub const MAX_TTL: i64 = 0x00ff_ffff_ffff;

const TTL_MARK: i64 = 0xff << 56;

/// `ephemeralOwner` of a TTL node: the high byte 0xff marks the TTL kind and
/// the low bytes carry the TTL in ms, as ZooKeeper encodes it.
pub fn ttl_owner(ttl_ms: i64) -> i64 {
    TTL_MARK | ttl_ms
}

/// The kind of node an `ephemeralOwner` value denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Persistent,
    Ephemeral(i64),
    Container,
    Ttl(i64),
}

impl NodeKind {
    pub fn of(ephemeral_owner: i64) -> NodeKind {
        if ephemeral_owner == 0 {
            NodeKind::Persistent
        } else if ephemeral_owner == CONTAINER_OWNER {
            NodeKind::Container
        } else if ephemeral_owner & TTL_MARK == TTL_MARK {
            NodeKind::Ttl(ephemeral_owner & !TTL_MARK)
        } else {
            NodeKind::Ephemeral(ephemeral_owner)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_encodings_are_zookeepers() {
        assert_eq!(NodeKind::of(0), NodeKind::Persistent);
        assert_eq!(NodeKind::of(i64::MIN), NodeKind::Container);
        assert_eq!(NodeKind::of(ttl_owner(5000)), NodeKind::Ttl(5000));
        assert_eq!(
            NodeKind::of(0x0100_0000_0000_0001),
            NodeKind::Ephemeral(0x0100_0000_0000_0001)
        );
        assert_eq!(ttl_owner(1) as u64, 0xff00_0000_0000_0001);
    }

    #[test]
    fn entries_round_trip_through_postcard() {
        let entry = TxnEntry {
            zxid: 7,
            time: 1,
            session: 2,
            txn: Txn::Multi(vec![
                Txn::Create {
                    path: "/a".into(),
                    data: Some(Bytes::from_static(b"x")),
                    acl: vec![Acl::open()],
                    ephemeral_owner: 0,
                    parent_cversion: 1,
                },
                Txn::Delete { path: "/b".into() },
            ]),
        };
        let bytes = postcard::to_stdvec(&entry).unwrap();
        assert_eq!(postcard::from_bytes::<TxnEntry>(&bytes).unwrap(), entry);
    }
}
