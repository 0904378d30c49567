//! Fetch sessions (KIP-227): the broker remembers, per session, which
//! partitions a consumer or follower fetches and what it last told it about
//! each, so later requests name only the partitions whose fetch position
//! changed and responses carry only the partitions with news (records, an
//! error, a moved high watermark, last stable offset or log start). A
//! follower of thousands of partitions then sends and receives a few bytes
//! per idle round instead of every partition every time.
//!
//! The request's `session_epoch` says what it is, as in Kafka:
//! * `-1` (final): a sessionless full fetch; a named session is closed.
//! * `0` (initial): a full fetch that opens a new session (closing a named
//!   one); the response carries its id, or 0 when the cache has no room.
//! * `n > 0`: an incremental fetch in session `session_id`, which must be
//!   that session's next epoch (FETCH_SESSION_ID_NOT_FOUND for an unknown
//!   id, INVALID_FETCH_SESSION_EPOCH for a wrong epoch). Its partitions are
//!   added or updated, `forgotten_topics_data` removed.
//!
//! The cache holds `max.incremental.fetch.session.cache.slots` sessions.
//! When it is full a new session evicts, as Kafka's cache does, a session
//! idle for longer than [`EVICTION_IDLE`]; failing that, the least
//! valuable one — consumers' before followers', then the fewest partitions —
//! provided it is worth less than the new one; otherwise the new fetch
//! simply goes without a session.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::FetchRequest;

/// A session unused for this long may be evicted by a new one (Kafka's
/// fetch session eviction time).
pub const EVICTION_IDLE: Duration = Duration::from_secs(120);

/// The epoch of a sessionless fetch, or of the request closing a session.
const FINAL_EPOCH: i32 = -1;
/// The epoch of a full fetch that opens a session.
const INITIAL_EPOCH: i32 = 0;

/// Topic and partition.
pub type Key = (String, i32);

/// What the fetcher asked for one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub fetch_offset: i64,
    /// A follower's log start offset (-1 from consumers).
    pub log_start_offset: i64,
    pub partition_max_bytes: i32,
    pub current_leader_epoch: i32,
}

/// What a response told the fetcher about a partition: an incremental
/// response repeats a partition only when one of these changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Told {
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
}

/// One partition of a session.
#[derive(Debug, Clone)]
struct Cached {
    wanted: Wanted,
    /// `None` until a response carried the partition.
    told: Option<Told>,
}

#[derive(Debug)]
struct Session {
    /// The epoch the next incremental request must carry.
    next_epoch: i32,
    /// A follower's session: kept over consumers' when the cache is full.
    privileged: bool,
    /// Partitions in the order they are read: those that returned records
    /// move to the back, so a small `max_bytes` serves all in turn.
    order: Vec<Key>,
    partitions: HashMap<Key, Cached>,
    last_used: Instant,
}

impl Session {
    /// How much a session is worth keeping, compared when the cache is full.
    fn worth(&self) -> (bool, usize) {
        (self.privileged, self.partitions.len())
    }
}

#[derive(Debug, Default)]
struct Cache {
    sessions: HashMap<i32, Session>,
    evictions: u64,
}

/// What one fetch reads, decided from its request and its session.
#[derive(Debug)]
pub struct Plan {
    /// The session id to answer with (0: none).
    pub session_id: i32,
    /// Whether the response lists only partitions with news.
    pub incremental: bool,
    /// Every partition to read, in order.
    pub partitions: Vec<(Key, Wanted)>,
}

/// One partition's outcome, to decide whether an incremental response
/// carries it.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub told: Told,
    pub has_records: bool,
    pub has_error: bool,
}

/// Gauges of the cache, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub sessions: usize,
    pub partitions: usize,
    pub evictions: u64,
}

/// The broker's fetch sessions.
#[derive(Debug)]
pub struct FetchSessions {
    slots: usize,
    cache: Mutex<Cache>,
}

impl FetchSessions {
    /// A cache of at most `slots` sessions (0: never keep one).
    pub fn new(slots: usize) -> FetchSessions {
        FetchSessions {
            slots,
            cache: Mutex::new(Cache::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decides what `request` reads: opens, closes, checks and updates its
    /// session. `privileged` is a follower's fetch.
    pub fn plan(&self, request: &FetchRequest, privileged: bool) -> Result<Plan, ResponseError> {
        let requested = requested_partitions(request);
        let epoch = request.session_epoch;
        let id = request.session_id;
        let now = Instant::now();
        let mut cache = self.lock();
        if epoch == FINAL_EPOCH || epoch == INITIAL_EPOCH {
            if id != 0 {
                cache.sessions.remove(&id);
            }
            let session_id = if epoch == INITIAL_EPOCH {
                self.open(&mut cache, &requested, privileged, now)
            } else {
                0
            };
            return Ok(Plan {
                session_id,
                incremental: false,
                partitions: requested,
            });
        }
        if epoch < FINAL_EPOCH {
            return Err(ResponseError::InvalidFetchSessionEpoch);
        }
        let session = cache
            .sessions
            .get_mut(&id)
            .ok_or(ResponseError::FetchSessionIdNotFound)?;
        if session.next_epoch != epoch {
            return Err(ResponseError::InvalidFetchSessionEpoch);
        }
        session.next_epoch = next_epoch(epoch);
        session.last_used = now;
        for (key, wanted) in requested {
            match session.partitions.get_mut(&key) {
                Some(c) => c.wanted = wanted,
                None => {
                    session.order.push(key.clone());
                    session
                        .partitions
                        .insert(key, Cached { wanted, told: None });
                }
            }
        }
        // Forgetting comes last, as in Kafka: a partition both named and
        // forgotten leaves.
        for forgotten in &request.forgotten_topics_data {
            for p in &forgotten.partitions {
                session
                    .partitions
                    .remove(&(forgotten.topic.0.to_string(), *p));
            }
        }
        let Session {
            order, partitions, ..
        } = session;
        order.retain(|k| partitions.contains_key(k));
        Ok(Plan {
            session_id: id,
            incremental: true,
            partitions: order
                .iter()
                .map(|k| (k.clone(), partitions[k].wanted.clone()))
                .collect(),
        })
    }

    /// Records what the response to `plan` says about each partition
    /// (`outcomes` in the plan's order) and returns which ones it carries.
    pub fn respond(&self, plan: &Plan, outcomes: &[Outcome]) -> Vec<bool> {
        let carried = self.carried(plan, outcomes);
        self.record(plan, outcomes);
        carried
    }

    /// Which partitions the response to `plan` carries: all of a full
    /// fetch's, an incremental fetch's with news (records, an error, or
    /// offsets the client was not told yet). Changes nothing, so a
    /// response that is not sent after all (a throttled consumer's,
    /// answered empty) leaves the news for the next one.
    pub fn carried(&self, plan: &Plan, outcomes: &[Outcome]) -> Vec<bool> {
        if plan.session_id == 0 || !plan.incremental {
            return vec![true; outcomes.len()];
        }
        let cache = self.lock();
        let Some(session) = cache.sessions.get(&plan.session_id) else {
            // Closed or evicted meanwhile: the client finds out next time.
            return vec![true; outcomes.len()];
        };
        plan.partitions
            .iter()
            .zip(outcomes)
            .map(|((key, _), outcome)| match session.partitions.get(key) {
                None => false,
                Some(cached) => {
                    outcome.has_records || outcome.has_error || cached.told != Some(outcome.told)
                }
            })
            .collect()
    }

    /// Drops the session a full fetch opened whose answer is not sent
    /// after all (a throttled consumer is answered empty and sessionless,
    /// as Kafka does, and starts over with a full fetch).
    pub fn close(&self, session_id: i32) {
        if session_id != 0 {
            self.lock().sessions.remove(&session_id);
        }
    }

    /// Records that the response to `plan` was sent: what it told of each
    /// partition, and partitions that returned records go to the back of
    /// the session's order (so others come first next time).
    pub fn record(&self, plan: &Plan, outcomes: &[Outcome]) {
        if plan.session_id == 0 {
            return;
        }
        let mut cache = self.lock();
        let Some(session) = cache.sessions.get_mut(&plan.session_id) else {
            return;
        };
        let mut moved = std::collections::HashSet::new();
        for ((key, _), outcome) in plan.partitions.iter().zip(outcomes) {
            let Some(cached) = session.partitions.get_mut(key) else {
                continue;
            };
            cached.told = Some(outcome.told);
            if outcome.has_records {
                moved.insert(key.clone());
            }
        }
        if !moved.is_empty() {
            let (mut stay, back): (Vec<Key>, Vec<Key>) =
                session.order.drain(..).partition(|k| !moved.contains(k));
            stay.extend(back);
            session.order = stay;
        }
    }

    /// Opens a session for a full fetch of `partitions`, evicting one if
    /// the cache is full and one is worth less; its id, or 0.
    fn open(
        &self,
        cache: &mut Cache,
        partitions: &[(Key, Wanted)],
        privileged: bool,
        now: Instant,
    ) -> i32 {
        if self.slots == 0 {
            return 0;
        }
        if cache.sessions.len() >= self.slots {
            let worth = (privileged, partitions.len());
            let stale = cache
                .sessions
                .iter()
                .filter(|(_, s)| now.duration_since(s.last_used) > EVICTION_IDLE)
                .min_by_key(|(_, s)| s.last_used)
                .map(|(id, _)| *id);
            let victim = stale.or_else(|| {
                cache
                    .sessions
                    .iter()
                    .filter(|(_, s)| s.worth() < worth)
                    .min_by_key(|(_, s)| (s.worth(), s.last_used))
                    .map(|(id, _)| *id)
            });
            match victim {
                Some(v) => {
                    cache.sessions.remove(&v);
                    cache.evictions += 1;
                }
                None => return 0,
            }
        }
        let id = loop {
            let id = rand::random::<i32>() & i32::MAX;
            if id != 0 && !cache.sessions.contains_key(&id) {
                break id;
            }
        };
        cache.sessions.insert(
            id,
            Session {
                next_epoch: 1,
                privileged,
                order: partitions.iter().map(|(k, _)| k.clone()).collect(),
                partitions: partitions
                    .iter()
                    .map(|(k, w)| {
                        (
                            k.clone(),
                            Cached {
                                wanted: w.clone(),
                                told: None,
                            },
                        )
                    })
                    .collect(),
                last_used: now,
            },
        );
        id
    }

    /// Sessions, cached partitions and evictions so far.
    pub fn stats(&self) -> CacheStats {
        let cache = self.lock();
        CacheStats {
            sessions: cache.sessions.len(),
            partitions: cache.sessions.values().map(|s| s.partitions.len()).sum(),
            evictions: cache.evictions,
        }
    }
}

/// The epoch after `epoch`: it wraps to 1, never to the special 0 or -1.
pub fn next_epoch(epoch: i32) -> i32 {
    if epoch == i32::MAX {
        1
    } else {
        epoch + 1
    }
}

/// The partitions a request names, in its order.
fn requested_partitions(request: &FetchRequest) -> Vec<(Key, Wanted)> {
    request
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                (
                    (t.topic.0.to_string(), p.partition),
                    Wanted {
                        fetch_offset: p.fetch_offset,
                        log_start_offset: p.log_start_offset,
                        partition_max_bytes: p.partition_max_bytes,
                        current_leader_epoch: p.current_leader_epoch,
                    },
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
    use kafka_protocol::messages::TopicName;
    use kafka_protocol::protocol::StrBytes;

    fn request(id: i32, epoch: i32, parts: &[(&str, i32, i64)]) -> FetchRequest {
        let mut topics: Vec<FetchTopic> = Vec::new();
        for (t, p, off) in parts {
            let part = FetchPartition::default()
                .with_partition(*p)
                .with_fetch_offset(*off)
                .with_partition_max_bytes(1024);
            match topics.iter_mut().find(|x| x.topic.0.as_str() == *t) {
                Some(x) => x.partitions.push(part),
                None => topics.push(
                    FetchTopic::default()
                        .with_topic(TopicName(StrBytes::from_string(t.to_string())))
                        .with_partitions(vec![part]),
                ),
            }
        }
        FetchRequest::default()
            .with_session_id(id)
            .with_session_epoch(epoch)
            .with_topics(topics)
    }

    fn quiet(hw: i64) -> Outcome {
        Outcome {
            told: Told {
                high_watermark: hw,
                last_stable_offset: hw,
                log_start_offset: 0,
            },
            has_records: false,
            has_error: false,
        }
    }

    #[test]
    fn sessionless_fetch_keeps_nothing() {
        let s = FetchSessions::new(10);
        let plan = s.plan(&request(0, -1, &[("a", 0, 0)]), false).unwrap();
        assert_eq!(plan.session_id, 0);
        assert!(!plan.incremental);
        assert_eq!(s.stats().sessions, 0);
    }

    #[test]
    fn incremental_fetch_names_changes_and_hears_news_only() {
        let s = FetchSessions::new(10);
        let full = s
            .plan(&request(0, 0, &[("a", 0, 0), ("a", 1, 5)]), false)
            .unwrap();
        assert_ne!(full.session_id, 0);
        assert_eq!(s.respond(&full, &[quiet(3), quiet(9)]), vec![true, true]);
        let id = full.session_id;

        // Nothing changed: both read (from their cached offsets), none sent.
        let inc = s.plan(&request(id, 1, &[]), false).unwrap();
        assert!(inc.incremental);
        assert_eq!(inc.partitions.len(), 2);
        assert_eq!(inc.partitions[1].1.fetch_offset, 5);
        assert_eq!(s.respond(&inc, &[quiet(3), quiet(9)]), vec![false, false]);

        // Partition 1 moved on; partition 0's high watermark moved.
        let inc = s.plan(&request(id, 2, &[("a", 1, 9)]), false).unwrap();
        assert_eq!(inc.partitions[1].1.fetch_offset, 9);
        assert_eq!(s.respond(&inc, &[quiet(4), quiet(9)]), vec![true, false]);

        // Records move a partition to the back of the reading order.
        let inc = s.plan(&request(id, 3, &[]), false).unwrap();
        let with_records = Outcome {
            has_records: true,
            ..quiet(4)
        };
        assert_eq!(
            s.respond(&inc, &[with_records, quiet(9)]),
            vec![true, false]
        );
        let inc = s.plan(&request(id, 4, &[]), false).unwrap();
        assert_eq!(inc.partitions[0].0, ("a".to_string(), 1));

        // Forgetting removes a partition from the session.
        let mut forget = request(id, 5, &[]);
        forget.forgotten_topics_data = vec![ForgottenTopic::default()
            .with_topic(TopicName(StrBytes::from_static_str("a")))
            .with_partitions(vec![1])];
        let inc = s.plan(&forget, false).unwrap();
        assert_eq!(inc.partitions.len(), 1);
        assert_eq!(s.stats().partitions, 1);
    }

    #[test]
    fn news_not_sent_is_kept_for_the_next_response() {
        let s = FetchSessions::new(10);
        let full = s.plan(&request(0, 0, &[("a", 0, 0)]), false).unwrap();
        let id = full.session_id;
        s.respond(&full, &[quiet(3)]);
        // The high watermark moved; a throttled answer told nobody.
        let inc = s.plan(&request(id, 1, &[]), false).unwrap();
        assert_eq!(s.carried(&inc, &[quiet(4)]), vec![true]);
        let inc = s.plan(&request(id, 2, &[]), false).unwrap();
        assert_eq!(s.carried(&inc, &[quiet(4)]), vec![true]);
        s.record(&inc, &[quiet(4)]);
        let inc = s.plan(&request(id, 3, &[]), false).unwrap();
        assert_eq!(s.carried(&inc, &[quiet(4)]), vec![false]);
        s.close(id);
        assert_eq!(s.stats().sessions, 0);
    }

    #[test]
    fn wrong_epoch_and_unknown_session_are_refused() {
        let s = FetchSessions::new(10);
        let full = s.plan(&request(0, 0, &[("a", 0, 0)]), false).unwrap();
        let id = full.session_id;
        assert_eq!(
            s.plan(&request(id, 2, &[]), false).unwrap_err(),
            ResponseError::InvalidFetchSessionEpoch
        );
        assert_eq!(
            s.plan(&request(id.wrapping_add(1).max(1), 1, &[]), false)
                .unwrap_err(),
            ResponseError::FetchSessionIdNotFound
        );
        // A refused epoch does not use the session's turn.
        assert!(s.plan(&request(id, 1, &[]), false).is_ok());
        // Closing it.
        s.plan(&request(id, -1, &[("a", 0, 0)]), false).unwrap();
        assert_eq!(
            s.plan(&request(id, 2, &[]), false).unwrap_err(),
            ResponseError::FetchSessionIdNotFound
        );
    }

    #[test]
    fn a_full_cache_gives_way_to_bigger_and_follower_sessions_only() {
        let s = FetchSessions::new(1);
        let small = s.plan(&request(0, 0, &[("a", 0, 0)]), false).unwrap();
        assert_ne!(small.session_id, 0);
        // Same size, a consumer: no room.
        let other = s.plan(&request(0, 0, &[("b", 0, 0)]), false).unwrap();
        assert_eq!(other.session_id, 0);
        // More partitions: evicts the smaller.
        let big = s
            .plan(&request(0, 0, &[("b", 0, 0), ("b", 1, 0)]), false)
            .unwrap();
        assert_ne!(big.session_id, 0);
        // A follower outranks any consumer.
        let follower = s.plan(&request(0, 0, &[("c", 0, 0)]), true).unwrap();
        assert_ne!(follower.session_id, 0);
        let stats = s.stats();
        assert_eq!((stats.sessions, stats.evictions), (1, 2));
        // No slots: never a session.
        let none = FetchSessions::new(0);
        assert_eq!(
            none.plan(&request(0, 0, &[("a", 0, 0)]), false)
                .unwrap()
                .session_id,
            0
        );
    }

    #[test]
    fn epochs_wrap_past_the_special_values() {
        assert_eq!(next_epoch(1), 2);
        assert_eq!(next_epoch(i32::MAX), 1);
    }
}
