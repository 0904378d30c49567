//! The on-disk format of the Raft log, and the upgrade of logs written in an
//! older one. A member's stored entries are read back by every restart and
//! sent to peers, so their encoding carries a version (`raft_meta/format`):
//!
//! * 1 (no `format` key): an entry's command is one proposal
//!   (`time, session, txns`), and its zxid was its log index.
//! * 2: an entry's command is the proposals the leader had waiting when it
//!   appended ([`Command`]); each takes the next zxid when applied.
//!
//! A version-1 entry reads as a version-2 command with one proposal, which
//! takes exactly one zxid when applied — the zxid it had before — so an
//! upgraded member answers with the same zxids as before. Members exchange
//! entries in the current format only: upgrade every member of an ensemble
//! before starting any of them again (README, "Upgrading runnel-coord").

use std::io::Cursor;

use openraft::EntryPayload;
use serde::{Deserialize, Serialize};

use super::{Command, Entry, Proposed};
use crate::txn::Txn;

/// The format this build writes.
pub const CURRENT: u32 = 2;

/// A version-1 command: one proposal per entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommandV1 {
    pub time: i64,
    pub session: i64,
    pub txns: Vec<Txn>,
}

openraft::declare_raft_types!(
    /// Only for decoding version-1 entries.
    pub V1Config:
        D = CommandV1,
        R = (),
        NodeId = u64,
        Node = openraft::BasicNode,
);

/// Why a stored entry could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("raft log entry {index} is not valid format-{version} data: {source}")]
    Decode {
        index: u64,
        version: u32,
        #[source]
        source: postcard::Error,
    },
    #[error(
        "the raft log was written in format {found} by a newer runnel-coord; this one reads up to {CURRENT}"
    )]
    Newer { found: u32 },
}

/// Decodes one stored entry of `version` into the current form.
pub fn decode(index: u64, version: u32, bytes: &[u8]) -> Result<Entry, FormatError> {
    let error = |source| FormatError::Decode {
        index,
        version,
        source,
    };
    match version {
        1 => {
            let old: openraft::Entry<V1Config> = postcard::from_bytes(bytes).map_err(error)?;
            let payload = match old.payload {
                EntryPayload::Blank => EntryPayload::Blank,
                EntryPayload::Membership(m) => EntryPayload::Membership(m),
                EntryPayload::Normal(c) => EntryPayload::Normal(Command {
                    time: c.time,
                    proposals: vec![Proposed {
                        session: c.session,
                        txns: c.txns,
                    }],
                }),
            };
            Ok(Entry {
                log_id: old.log_id,
                payload,
            })
        }
        CURRENT => postcard::from_bytes(bytes).map_err(error),
        found => Err(FormatError::Newer { found }),
    }
}
