//! The follower's side of a fetch session (KIP-227): after one full fetch
//! opens a session on the leader, each round names only the partitions
//! whose fetch position, log start or leader epoch changed since the last
//! request, and lists those no longer fetched as forgotten. Any doubt — an
//! error, a lost or abandoned response — makes the next round a full fetch
//! that closes the old session and opens a new one.

use std::collections::HashMap;

use crate::api::fetch_session::next_epoch;

/// Topic and partition.
pub type Key = (String, i32);

/// What a request told the leader about one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub fetch_offset: i64,
    pub log_start_offset: i64,
    pub leader_epoch: i32,
}

/// The session with one leader.
#[derive(Debug, Default)]
pub struct FollowerSession {
    /// The leader's session id (0: none).
    id: i32,
    /// The next request's epoch; 0 makes it a full fetch.
    epoch: i32,
    /// What the leader's session holds, as of the last answered request.
    sent: HashMap<Key, Position>,
}

/// One round's request, as the session shapes it.
#[derive(Debug)]
pub struct Round {
    pub session_id: i32,
    pub epoch: i32,
    /// Indexes into the round's partitions of those to send.
    pub send: Vec<usize>,
    /// Partitions to drop from the session.
    pub forget: Vec<Key>,
    /// What the session holds once this round is answered.
    after: HashMap<Key, Position>,
}

impl FollowerSession {
    /// Shapes a round fetching `partitions`.
    pub fn round(&self, partitions: &[(Key, Position)]) -> Round {
        let after: HashMap<Key, Position> = partitions.iter().cloned().collect();
        if self.epoch == 0 {
            return Round {
                session_id: self.id,
                epoch: 0,
                send: (0..partitions.len()).collect(),
                forget: Vec::new(),
                after,
            };
        }
        let send = partitions
            .iter()
            .enumerate()
            .filter(|(_, (k, pos))| self.sent.get(k) != Some(pos))
            .map(|(i, _)| i)
            .collect();
        let forget = self
            .sent
            .keys()
            .filter(|k| !after.contains_key(*k))
            .cloned()
            .collect();
        Round {
            session_id: self.id,
            epoch: self.epoch,
            send,
            forget,
            after,
        }
    }

    /// The leader answered `round` without a top-level error, in session
    /// `session_id` (0: it keeps none for us).
    pub fn answered(&mut self, round: Round, session_id: i32) {
        if session_id == 0 {
            *self = FollowerSession::default();
            return;
        }
        self.epoch = if round.epoch == 0 || session_id != self.id {
            1
        } else {
            next_epoch(round.epoch)
        };
        self.id = session_id;
        self.sent = round.after;
    }

    /// The next round is a full fetch, closing the current session.
    pub fn reset(&mut self) {
        self.epoch = 0;
        self.sent.clear();
    }

    /// Forgets the session altogether (a new connection: the old one's
    /// session is left to expire on the leader).
    pub fn clear(&mut self) {
        *self = FollowerSession::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: &str, p: i32, offset: i64) -> (Key, Position) {
        (
            (t.to_string(), p),
            Position {
                fetch_offset: offset,
                log_start_offset: 0,
                leader_epoch: 1,
            },
        )
    }

    #[test]
    fn full_then_only_changes_then_full_after_a_reset() {
        let mut s = FollowerSession::default();
        let parts = vec![at("a", 0, 0), at("a", 1, 0)];
        let r = s.round(&parts);
        assert_eq!((r.session_id, r.epoch, r.send.len()), (0, 0, 2));
        s.answered(r, 77);

        let r = s.round(&parts);
        assert_eq!((r.session_id, r.epoch), (77, 1));
        assert!(r.send.is_empty() && r.forget.is_empty());
        s.answered(r, 77);

        let parts = vec![at("a", 1, 5)];
        let r = s.round(&parts);
        assert_eq!(r.epoch, 2);
        assert_eq!(r.send, vec![0]);
        assert_eq!(r.forget, vec![("a".to_string(), 0)]);
        s.answered(r, 77);

        s.reset();
        let r = s.round(&parts);
        assert_eq!((r.session_id, r.epoch, r.send.len()), (77, 0, 1));
        s.answered(r, 78);
        assert_eq!(s.round(&parts).session_id, 78);

        // A leader without room: full fetches from then on.
        let r = s.round(&parts);
        s.answered(r, 0);
        let r = s.round(&parts);
        assert_eq!((r.session_id, r.epoch, r.send.len()), (0, 0, 1));
    }
}
