//! Checks the chunks of a snapshot a peer streams to this member before
//! openraft writes them.
//!
//! openraft 0.9 writes a chunk at the offset the sender names: it seeks
//! there in the buffer our state machine gave it and fills any gap with
//! zeros. A peer (or anything reaching the peer port without `sslQuorum`)
//! could name an offset of many gigabytes in a few bytes and make this
//! member allocate, abort or be killed for memory. A real leader sends
//! chunks in order and may resend one it got no answer for, so a chunk is
//! accepted only where it starts at or before the end of what was received
//! for the same snapshot; anything else is answered with openraft's
//! `SnapshotMismatch` (naming the offset expected), after which the leader
//! starts the stream again.

use openraft::error::SnapshotMismatch;
use openraft::{SnapshotId, SnapshotSegmentId};

/// The snapshot being received and how many of its bytes arrived.
#[derive(Debug, Default)]
pub struct SnapshotStream {
    current: Option<(SnapshotId, u64)>,
}

impl SnapshotStream {
    /// Accepts a chunk of `len` bytes at `offset` of snapshot `id`, or says
    /// which segment was expected. A chunk at offset 0 starts a stream.
    pub fn accept(
        &mut self,
        id: &SnapshotId,
        offset: u64,
        len: usize,
    ) -> Result<(), SnapshotMismatch> {
        let end = offset.saturating_add(len as u64);
        if offset == 0 {
            self.current = Some((id.clone(), end));
            return Ok(());
        }
        match &mut self.current {
            Some((current, received)) if current == id => {
                if offset > *received {
                    return Err(SnapshotMismatch {
                        expect: SnapshotSegmentId {
                            id: id.clone(),
                            offset: *received,
                        },
                        got: SnapshotSegmentId {
                            id: id.clone(),
                            offset,
                        },
                    });
                }
                *received = (*received).max(end);
                Ok(())
            }
            // Another snapshot's chunk, or none started: openraft answers
            // the mismatch itself without writing anything.
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_in_order_and_resent_ones_pass_gaps_do_not() {
        let mut s = SnapshotStream::default();
        let a: SnapshotId = "a".into();
        assert!(s.accept(&a, 0, 100).is_ok());
        assert!(s.accept(&a, 100, 50).is_ok());
        // A chunk sent again after a lost answer.
        assert!(s.accept(&a, 100, 50).is_ok());
        let gap = s.accept(&a, 1 << 40, 8).unwrap_err();
        assert_eq!(gap.expect.offset, 150);
        assert_eq!(gap.got.offset, 1 << 40);
        assert!(s.accept(&a, 150, 10).is_ok());
        // A new stream starts at 0; the old one's offsets no longer count.
        let b: SnapshotId = "b".into();
        assert!(s.accept(&b, 0, 10).is_ok());
        assert!(s.accept(&b, 100, 10).is_err());
        assert!(s.accept(&b, u64::MAX, usize::MAX).is_err());
    }
}
