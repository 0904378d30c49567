//! Session liveness: when each session was last heard from, which connection
//! carries it, and which have expired. The sessions themselves (id, password,
//! timeout) are part of the committed state in the tree; this is only the
//! clock, which is why a restart gives every session a fresh timeout.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One live session's clock.
struct Live {
    timeout: Duration,
    deadline: Instant,
    conn: Option<u64>,
    closing: bool,
}

/// The session is not live: expired, or being closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotLive;

/// All live sessions' clocks.
#[derive(Default)]
pub struct SessionTracker {
    live: Mutex<HashMap<i64, Live>>,
    /// Sessions heard from since the last [`SessionTracker::take_touched`]:
    /// what an ensemble follower relays to the leader.
    touched: Mutex<HashSet<i64>>,
}

impl SessionTracker {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Live>> {
        // A panic elsewhere must not take session tracking down with it.
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the clock of a session unless it is already tracked.
    pub fn track_if_absent(&self, id: i64, timeout_ms: i32) {
        if !self.lock().contains_key(&id) {
            self.track(id, timeout_ms);
        }
    }

    /// Gives every session a fresh timeout: a new leader does this, since it
    /// cannot know when followers last heard from their clients.
    pub fn refresh_all(&self) {
        let now = Instant::now();
        for session in self.lock().values_mut() {
            session.deadline = now + session.timeout;
        }
    }

    /// Sessions heard from since the last call.
    pub fn take_touched(&self) -> Vec<i64> {
        let mut touched = self.touched.lock().unwrap_or_else(|e| e.into_inner());
        touched.drain().collect()
    }

    /// Starts (or restarts) the clock of a session.
    pub fn track(&self, id: i64, timeout_ms: i32) {
        let timeout = Duration::from_millis(timeout_ms.max(0) as u64);
        self.lock().insert(
            id,
            Live {
                timeout,
                deadline: Instant::now() + timeout,
                conn: None,
                closing: false,
            },
        );
    }

    /// Binds a session to a connection with a (re)negotiated timeout.
    /// Returns the connection that carried it before, which must be closed;
    /// `Err(NotLive)` if the session has expired or is closing.
    pub fn attach(&self, id: i64, timeout_ms: i32, conn: u64) -> Result<Option<u64>, NotLive> {
        let mut live = self.lock();
        let session = live.get_mut(&id).filter(|s| !s.closing).ok_or(NotLive)?;
        session.timeout = Duration::from_millis(timeout_ms.max(0) as u64);
        session.deadline = Instant::now() + session.timeout;
        Ok(session.conn.replace(conn).filter(|c| *c != conn))
    }

    /// The connection went away; the session lives on until its timeout.
    pub fn detach(&self, id: i64, conn: u64) {
        if let Some(session) = self.lock().get_mut(&id) {
            if session.conn == Some(conn) {
                session.conn = None;
            }
        }
    }

    /// Any packet from the client keeps its session alive.
    pub fn touch(&self, id: i64) {
        if let Some(session) = self.lock().get_mut(&id) {
            if !session.closing {
                session.deadline = Instant::now() + session.timeout;
            }
        }
        self.touched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id);
    }

    /// Marks a session as closing at its client's request and detaches its
    /// connection (which closes itself after the reply); false if it was
    /// already closing or gone.
    pub fn begin_close(&self, id: i64) -> bool {
        match self.lock().get_mut(&id) {
            Some(session) if !session.closing => {
                session.closing = true;
                session.conn = None;
                true
            }
            _ => false,
        }
    }

    /// A close that could not be committed (no quorum): the session lives
    /// on and will expire normally.
    pub fn abort_close(&self, id: i64) {
        if let Some(session) = self.lock().get_mut(&id) {
            session.closing = false;
            session.deadline = Instant::now() + session.timeout;
        }
    }

    /// Forgets a session; returns its connection.
    pub fn remove(&self, id: i64) -> Option<u64> {
        self.lock().remove(&id).and_then(|s| s.conn)
    }

    /// Sessions past their deadline, now marked closing.
    pub fn take_expired(&self, now: Instant) -> Vec<i64> {
        let mut live = self.lock();
        let mut expired = Vec::new();
        for (id, session) in live.iter_mut() {
            if !session.closing && session.deadline <= now {
                session.closing = true;
                expired.push(*id);
            }
        }
        expired
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_only_silent_sessions_once() {
        let t = SessionTracker::default();
        t.track(1, 0);
        t.track(2, 60_000);
        let later = Instant::now() + Duration::from_millis(5);
        assert_eq!(t.take_expired(later), vec![1]);
        assert!(t.take_expired(later).is_empty());
        assert_eq!(t.attach(1, 1000, 7), Err(NotLive));
        assert_eq!(t.attach(2, 1000, 7), Ok(None));
        assert_eq!(t.attach(2, 1000, 8), Ok(Some(7)));
        assert_eq!(t.remove(2), Some(8));
    }
}
