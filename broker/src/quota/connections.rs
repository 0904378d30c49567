//! Limits on connections, checked when a connection is accepted and
//! before its TLS handshake, as Kafka's `ConnectionQuotas`:
//!
//! * `max.connection.creation.rate` (KIP-612): new connections per second
//!   over the whole broker. Over it, the listener stops accepting for the
//!   throttle time. The inter-broker listener is exempt when there are
//!   others, so replication and controller links are never held back by
//!   a flood of clients.
//! * `connection_creation_rate` of an IP entity (KIP-612,
//!   `/config/ips/<ip>` or `<default>`): a connection over its address's
//!   rate is not served; it is held open for the throttle time and then
//!   closed unanswered, so the client cannot come back in a tight loop. It
//!   does not count towards the rate.
//! * `max.connections.per.ip` and `max.connections.per.ip.overrides`
//!   (`host:count,…`): a connection beyond its address's limit is closed at
//!   once.
//! * `max.connections` (broker-wide) and `listener.name.<l>.max.connections`:
//!   a listener at its limit, or at the broker's, stops accepting until a
//!   connection closes. The inter-broker listener (when there are others)
//!   is not held back by the broker-wide limit: a connection it accepts
//!   over that limit makes the broker close the least recently used
//!   connection of another listener instead, so a broker full of clients
//!   still takes its peers' replication and controller links.
//! * `listener.name.<l>.max.connection.creation.rate`: as the broker-wide
//!   rate, for one listener (the inter-broker one included).
//!
//! Throttles are capped at one quota window (`quota.window.size.seconds`),
//! as Kafka caps them: the rate is measured over many windows, and holding
//! a client longer than one would not bring it back sooner.

use std::collections::HashMap;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::manager::QuotaManager;
use super::rate::{SampledRate, Windows};

/// Rate sensors of addresses are pruned of the idle ones once there are
/// more than this many (Kafka expires an IP sensor after an hour idle).
const IP_SENSORS_PRUNE_AT: usize = 4096;
const IP_SENSOR_IDLE_MS: u64 = 3_600_000;

/// The broker's connection limits, from its config file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionLimits {
    /// `max.connections.per.ip`.
    pub per_ip: usize,
    /// `max.connections.per.ip.overrides`, resolved to addresses.
    pub per_ip_overrides: HashMap<IpAddr, usize>,
    /// `max.connection.creation.rate`; `None` when unlimited (Kafka's
    /// default, `Int.MaxValue`).
    pub creation_rate: Option<f64>,
    /// `max.connections`; `None` when unlimited.
    pub max_connections: Option<usize>,
    /// The `listener.name.<l>.max.connections` and
    /// `.max.connection.creation.rate` overrides, by listener name in
    /// upper case.
    pub listeners: HashMap<String, ListenerLimits>,
    /// The inter-broker listener's name (upper case) when the broker has
    /// other listeners too: exempt from the broker-wide limit and rate.
    pub protected_listener: Option<String>,
}

/// One listener's own limits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListenerLimits {
    /// `listener.name.<l>.max.connections`.
    pub max_connections: Option<usize>,
    /// `listener.name.<l>.max.connection.creation.rate`.
    pub creation_rate: Option<f64>,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            per_ip: usize::MAX,
            per_ip_overrides: HashMap::new(),
            creation_rate: None,
            max_connections: None,
            listeners: HashMap::new(),
            protected_listener: None,
        }
    }
}

impl ConnectionLimits {
    /// From the three keys' values, with Kafka's checks; an error names
    /// the key and says what is wrong.
    pub fn parse(
        per_ip: i32,
        overrides: &str,
        creation_rate: i32,
    ) -> Result<ConnectionLimits, (&'static str, String)> {
        const OVERRIDES: &str = "max.connections.per.ip.overrides";
        let mut per_ip_overrides = HashMap::new();
        for item in overrides
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            // The last colon: an IPv6 address has colons of its own.
            let Some((host, count)) = item.rsplit_once(':') else {
                return Err((OVERRIDES, format!("'{item}' is not host:count")));
            };
            let count: usize = count
                .trim()
                .parse()
                .map_err(|_| (OVERRIDES, format!("'{item}': the count must be a number")))?;
            let host = host.trim().trim_start_matches('[').trim_end_matches(']');
            for ip in resolve(host).map_err(|e| (OVERRIDES, e))? {
                per_ip_overrides.insert(ip, count);
            }
        }
        if per_ip < 0 {
            return Err(("max.connections.per.ip", "must not be negative".into()));
        }
        if per_ip == 0 && per_ip_overrides.is_empty() {
            return Err((
                "max.connections.per.ip",
                "can be set to zero only if max.connections.per.ip.overrides property is set"
                    .into(),
            ));
        }
        if creation_rate < 0 {
            return Err((
                "max.connection.creation.rate",
                "must not be negative".into(),
            ));
        }
        Ok(ConnectionLimits {
            per_ip: per_ip as usize,
            per_ip_overrides,
            creation_rate: rate_limit(creation_rate),
            ..ConnectionLimits::default()
        })
    }

    /// Adds `max.connections` and the listeners' overrides: `lookup` gives
    /// a listener's `listener.name.<l>.<key>` value when it is set. An error
    /// names the key.
    pub fn with_listeners(
        mut self,
        max_connections: i32,
        listeners: &[String],
        inter_broker: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ConnectionLimits, (String, String)> {
        if max_connections < 0 {
            return Err(("max.connections".into(), "must not be negative".into()));
        }
        self.max_connections = count_limit(max_connections);
        for name in listeners {
            let prefix = format!("listener.name.{}", name.to_ascii_lowercase());
            let int = |key: &str| -> Result<Option<i32>, (String, String)> {
                let key = format!("{prefix}.{key}");
                match lookup(&key) {
                    None => Ok(None),
                    Some(v) => match v.trim().parse::<i32>() {
                        Ok(n) if n >= 0 => Ok(Some(n)),
                        Ok(_) => Err((key, "must not be negative".into())),
                        Err(_) => Err((key, format!("'{v}' is not an integer"))),
                    },
                }
            };
            let limits = ListenerLimits {
                max_connections: int("max.connections")?.and_then(count_limit),
                creation_rate: int("max.connection.creation.rate")?.and_then(rate_limit),
            };
            if limits != ListenerLimits::default() {
                self.listeners.insert(name.to_ascii_uppercase(), limits);
            }
        }
        self.protected_listener = (listeners.len() > 1
            && listeners
                .iter()
                .any(|l| l.eq_ignore_ascii_case(inter_broker)))
        .then(|| inter_broker.to_ascii_uppercase());
        Ok(self)
    }

    fn per_ip_limit(&self, ip: IpAddr) -> usize {
        self.per_ip_overrides
            .get(&ip)
            .copied()
            .unwrap_or(self.per_ip)
    }
}

/// A count key's value as a limit: Kafka's `Int.MaxValue` is none.
fn count_limit(n: i32) -> Option<usize> {
    (n != i32::MAX).then_some(n.max(0) as usize)
}

/// A rate key's value as a limit: Kafka's `Int.MaxValue` is none.
fn rate_limit(n: i32) -> Option<f64> {
    (n != i32::MAX).then_some(f64::from(n))
}

/// A host of the overrides as its addresses (Kafka: `InetAddress.getByName`).
fn resolve(host: &str) -> Result<Vec<IpAddr>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip.to_canonical()]);
    }
    let addrs = (host, 0)
        .to_socket_addrs()
        .map_err(|e| format!("'{host}' is not an IP address or a resolvable host: {e}"))?;
    Ok(addrs.map(|a| a.ip().to_canonical()).collect())
}

/// What happens to a connection just accepted.
pub enum Admission {
    /// Served; the slot is given back when it is dropped.
    Accepted(OpenSlot),
    /// Its address already has `limit` connections: closed at once.
    TooMany { limit: usize },
    /// Its address is over its `connection_creation_rate`: held this long,
    /// then closed.
    Throttled(Duration),
}

/// The connection counts and rates of one broker.
pub struct ConnectionQuotas {
    limits: ConnectionLimits,
    windows: Windows,
    quotas: Arc<QuotaManager>,
    state: Mutex<State>,
    /// Woken when a connection closes, for listeners waiting for a slot.
    freed: Notify,
    epoch: Instant,
}

#[derive(Default)]
struct State {
    open: HashMap<IpAddr, usize>,
    ip_rates: HashMap<IpAddr, SampledRate>,
    broker_rate: Option<SampledRate>,
    listener_rates: HashMap<String, SampledRate>,
    /// Open connections by listener, and over all listeners.
    by_listener: HashMap<String, usize>,
    total: usize,
    /// The connections of unprotected listeners, for closing the least
    /// recently used one.
    evictable: HashMap<u64, Arc<Activity>>,
    next_id: u64,
}

/// When a connection was last used, and how to ask it to close.
#[derive(Debug, Default)]
pub struct Activity {
    last_ms: AtomicU64,
    close: Notify,
}

impl Activity {
    /// Marks the connection used now (a request arrived).
    pub fn touch(&self, quotas: &ConnectionQuotas) {
        self.last_ms.store(quotas.now_ms(), Ordering::Relaxed);
    }

    /// Resolves when the broker wants this connection closed.
    pub async fn closed(&self) {
        self.close.notified().await
    }
}

/// One open connection; dropping it frees its slots.
pub struct OpenSlot {
    quotas: Arc<ConnectionQuotas>,
    ip: IpAddr,
    listener: String,
    id: Option<u64>,
    activity: Arc<Activity>,
}

impl OpenSlot {
    pub fn activity(&self) -> Arc<Activity> {
        self.activity.clone()
    }
}

impl Drop for OpenSlot {
    fn drop(&mut self) {
        let mut state = self.quotas.lock();
        if let Some(n) = state.open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                state.open.remove(&self.ip);
            }
        }
        if let Some(n) = state.by_listener.get_mut(&self.listener) {
            *n = n.saturating_sub(1);
        }
        state.total = state.total.saturating_sub(1);
        if let Some(id) = self.id {
            state.evictable.remove(&id);
        }
        drop(state);
        self.quotas.freed.notify_waiters();
    }
}

impl ConnectionQuotas {
    pub fn new(
        limits: ConnectionLimits,
        windows: Windows,
        quotas: Arc<QuotaManager>,
    ) -> Arc<ConnectionQuotas> {
        Arc::new(ConnectionQuotas {
            limits,
            windows,
            quotas,
            state: Mutex::new(State::default()),
            freed: Notify::new(),
            epoch: Instant::now(),
        })
    }

    /// Whether `listener` (upper case) is the protected inter-broker one.
    pub fn is_protected(&self, listener: &str) -> bool {
        self.limits.protected_listener.as_deref() == Some(listener)
    }

    fn slot_available(&self, state: &State, listener: &str) -> bool {
        let listener_max = self
            .limits
            .listeners
            .get(listener)
            .and_then(|l| l.max_connections);
        let on_listener = state.by_listener.get(listener).copied().unwrap_or(0);
        if listener_max.is_some_and(|max| on_listener >= max) {
            return false;
        }
        self.is_protected(listener)
            || self
                .limits
                .max_connections
                .is_none_or(|max| state.total < max)
    }

    /// Waits until `listener` (upper case) may accept another connection:
    /// below its own `max.connections` and the broker's (the protected
    /// listener is not held by the broker's).
    pub async fn wait_for_slot(&self, listener: &str) {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if self.slot_available(&self.lock(), listener) {
                return;
            }
            freed.await;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Records a new connection on `listener` (upper case) against its
    /// `max.connection.creation.rate` and the broker's, and says how long
    /// the listener must wait before going on (the longer of the two);
    /// the protected inter-broker listener is not counted in the broker's.
    pub fn listener_delay(&self, listener: &str) -> Duration {
        let own = self
            .limits
            .listeners
            .get(listener)
            .and_then(|l| l.creation_rate);
        let broker = self
            .limits
            .creation_rate
            .filter(|_| !self.is_protected(listener));
        if own.is_none() && broker.is_none() {
            return Duration::ZERO;
        }
        let now = self.now_ms();
        let windows = self.windows;
        let mut state = self.lock();
        let mut throttle = 0;
        if let Some(limit) = own {
            let rate = state
                .listener_rates
                .entry(listener.to_string())
                .or_insert_with(|| SampledRate::new(windows));
            rate.record(1.0, now);
            throttle = rate.throttle_ms(limit, now, windows.window_ms);
        }
        if let Some(limit) = broker {
            let rate = state
                .broker_rate
                .get_or_insert_with(|| SampledRate::new(windows));
            rate.record(1.0, now);
            throttle = throttle.max(rate.throttle_ms(limit, now, windows.window_ms));
        }
        Duration::from_millis(throttle)
    }

    /// Decides on a connection from `ip` (its canonical form) on `listener`
    /// (upper case): throttled by its address's `connection_creation_rate`,
    /// refused over `max.connections.per.ip`, or accepted and counted. A
    /// throttled connection is taken back out of the broker-wide rate only
    /// where it was counted. A connection the protected listener takes
    /// over `max.connections` asks the least recently used connection of
    /// the other listeners to close.
    pub fn admit(self: &Arc<Self>, ip: IpAddr, listener: &str) -> Admission {
        let protected = self.is_protected(listener);
        let ip = ip.to_canonical();
        let rate_limit = self.quotas.ip_connection_rate(ip);
        let now = self.now_ms();
        let mut state = self.lock();
        match rate_limit {
            Some(limit) => {
                if state.ip_rates.len() >= IP_SENSORS_PRUNE_AT {
                    state.ip_rates.retain(|_, r| {
                        r.last_ms()
                            .is_some_and(|t| now.saturating_sub(t) < IP_SENSOR_IDLE_MS)
                    });
                }
                let rate = state
                    .ip_rates
                    .entry(ip)
                    .or_insert_with(|| SampledRate::new(self.windows));
                rate.record(1.0, now);
                let throttle = rate.throttle_ms(limit, now, self.windows.window_ms);
                if throttle > 0 {
                    // Not accepted, so not counted (as Kafka un-records it),
                    // neither against the IP nor against the broker.
                    rate.record(-1.0, now);
                    if let Some(broker) = state.broker_rate.as_mut().filter(|_| !protected) {
                        broker.record(-1.0, now);
                    }
                    return Admission::Throttled(Duration::from_millis(throttle));
                }
            }
            None => {
                state.ip_rates.remove(&ip);
            }
        }
        let limit = self.limits.per_ip_limit(ip);
        let open = state.open.entry(ip).or_insert(0);
        if *open >= limit {
            return Admission::TooMany { limit };
        }
        *open += 1;
        *state.by_listener.entry(listener.to_string()).or_insert(0) += 1;
        state.total += 1;
        let activity = Arc::new(Activity::default());
        activity.last_ms.store(now, Ordering::Relaxed);
        let id = if protected {
            if self
                .limits
                .max_connections
                .is_some_and(|max| state.total > max)
            {
                evict_least_recently_used(&state);
            }
            None
        } else {
            state.next_id += 1;
            let id = state.next_id;
            state.evictable.insert(id, activity.clone());
            Some(id)
        };
        Admission::Accepted(OpenSlot {
            quotas: self.clone(),
            ip,
            listener: listener.to_string(),
            id,
            activity,
        })
    }

    /// Open connections from `ip` (for tests and the log).
    pub fn open_from(&self, ip: IpAddr) -> usize {
        self.lock()
            .open
            .get(&ip.to_canonical())
            .copied()
            .unwrap_or(0)
    }
}

/// Asks the least recently used unprotected connection to close (Kafka's
/// processors close their lowest-priority channel while the broker is over
/// `max.connections`).
fn evict_least_recently_used(state: &State) {
    if let Some(victim) = state
        .evictable
        .values()
        .min_by_key(|a| a.last_ms.load(Ordering::Relaxed))
    {
        tracing::info!(
            "closing the least recently used connection: max.connections reached and the inter-broker listener took another"
        );
        victim.close.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::{Name, QuotaConfigs, QuotaEntity};
    use std::collections::BTreeMap;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn with_ip_rate(limits: ConnectionLimits, rate: &str) -> Arc<ConnectionQuotas> {
        let manager = QuotaManager::new(Windows::default(), Windows::default());
        let config = BTreeMap::from([("connection_creation_rate".to_string(), rate.to_string())]);
        manager.install(QuotaConfigs::from_stored(vec![(
            QuotaEntity::ip(Name::Named("10.0.0.1".into())),
            config,
        )]));
        ConnectionQuotas::new(limits, Windows::default(), manager)
    }

    #[test]
    fn limits_parse_as_kafkas() {
        let l = ConnectionLimits::parse(10, "127.0.0.2:3, [::1]:7,localhost:5", i32::MAX).unwrap();
        assert_eq!(l.per_ip_limit(ip("127.0.0.2")), 3);
        assert_eq!(l.per_ip_limit(ip("::1")), 7);
        assert_eq!(l.per_ip_limit(ip("10.1.1.1")), 10);
        assert_eq!(l.creation_rate, None);
        assert_eq!(
            ConnectionLimits::parse(0, "", 5).unwrap_err().0,
            "max.connections.per.ip"
        );
        assert!(ConnectionLimits::parse(0, "10.0.0.1:2", 5).is_ok());
        let e = ConnectionLimits::parse(1, "10.0.0.1", i32::MAX).unwrap_err();
        assert_eq!(e.0, "max.connections.per.ip.overrides");
        let e = ConnectionLimits::parse(1, "10.0.0.1:x", i32::MAX).unwrap_err();
        assert_eq!(e.0, "max.connections.per.ip.overrides");
        assert_eq!(
            ConnectionLimits::parse(1, "", 20).unwrap().creation_rate,
            Some(20.0)
        );
    }

    #[test]
    fn an_address_over_its_limit_is_refused_until_a_slot_frees() {
        let limits = ConnectionLimits::parse(2, "10.0.0.9:1", i32::MAX).unwrap();
        let q = with_ip_rate(limits, "1000");
        let a = q.admit(ip("10.0.0.2"), "PLAINTEXT");
        let b = q.admit(ip("::ffff:10.0.0.2"), "PLAINTEXT");
        assert!(matches!(a, Admission::Accepted(_)) && matches!(b, Admission::Accepted(_)));
        assert!(matches!(
            q.admit(ip("10.0.0.2"), "PLAINTEXT"),
            Admission::TooMany { limit: 2 }
        ));
        assert_eq!(q.open_from(ip("10.0.0.2")), 2);
        drop(a);
        assert!(matches!(
            q.admit(ip("10.0.0.2"), "PLAINTEXT"),
            Admission::Accepted(_)
        ));
        // The slot of the last one was dropped with it.
        assert_eq!(q.open_from(ip("10.0.0.2")), 1);
        assert!(matches!(
            q.admit(ip("10.0.0.9"), "PLAINTEXT"),
            Admission::Accepted(_)
        ));
    }

    #[test]
    fn an_address_over_its_rate_is_throttled_and_not_counted() {
        let q = with_ip_rate(ConnectionLimits::default(), "2");
        // About ten windows' worth (20) pass at once, as with Kafka.
        let mut kept = Vec::new();
        let mut throttled = 0;
        for _ in 0..40 {
            match q.admit(ip("10.0.0.1"), "PLAINTEXT") {
                Admission::Accepted(slot) => kept.push(slot),
                Admission::Throttled(d) => {
                    assert!(d > Duration::ZERO && d <= Duration::from_secs(1), "{d:?}");
                    throttled += 1;
                }
                Admission::TooMany { .. } => panic!("no per-IP limit"),
            }
        }
        assert!((19..=21).contains(&kept.len()), "{}", kept.len());
        assert_eq!(kept.len() + throttled, 40);
        // Another address has no quota.
        for _ in 0..100 {
            assert!(matches!(
                q.admit(ip("10.0.0.2"), "PLAINTEXT"),
                Admission::Accepted(_)
            ));
        }
    }

    #[test]
    fn the_broker_wide_rate_delays_the_listener_but_not_the_inter_broker_one() {
        let manager = QuotaManager::new(Windows::default(), Windows::default());
        let limits = ConnectionLimits::parse(i32::MAX, "", 1)
            .unwrap()
            .with_listeners(i32::MAX, &listeners(), "INTERNAL", &|_| None)
            .unwrap();
        let q = ConnectionQuotas::new(limits, Windows::default(), manager);
        let delays: Vec<Duration> = (0..15).map(|_| q.listener_delay("PLAINTEXT")).collect();
        assert_eq!(delays[0], Duration::ZERO);
        assert!(delays[14] > Duration::ZERO && delays[14] <= Duration::from_secs(1));
        assert_eq!(q.listener_delay("INTERNAL"), Duration::ZERO);
    }

    fn listeners() -> Vec<String> {
        vec!["PLAINTEXT".into(), "INTERNAL".into()]
    }

    fn quotas_with(max: i32, keys: &[(&str, &str)]) -> Arc<ConnectionQuotas> {
        let keys: HashMap<String, String> = keys
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let limits = ConnectionLimits::default()
            .with_listeners(max, &listeners(), "INTERNAL", &|k| keys.get(k).cloned())
            .unwrap();
        let manager = QuotaManager::new(Windows::default(), Windows::default());
        ConnectionQuotas::new(limits, Windows::default(), manager)
    }

    fn accepted(a: Admission) -> OpenSlot {
        match a {
            Admission::Accepted(slot) => slot,
            _ => panic!("not accepted"),
        }
    }

    #[test]
    fn listener_keys_parse_and_name_the_bad_one() {
        let keys = [
            ("listener.name.plaintext.max.connections", "3"),
            ("listener.name.internal.max.connection.creation.rate", "7"),
        ];
        let q = quotas_with(10, &keys);
        assert_eq!(q.limits.max_connections, Some(10));
        assert_eq!(q.limits.listeners["PLAINTEXT"].max_connections, Some(3));
        assert_eq!(q.limits.listeners["INTERNAL"].creation_rate, Some(7.0));
        assert_eq!(q.limits.protected_listener.as_deref(), Some("INTERNAL"));
        let bad = HashMap::from([("listener.name.internal.max.connections", "-1")]);
        let e = ConnectionLimits::default()
            .with_listeners(1, &listeners(), "INTERNAL", &|k| {
                bad.get(k).map(|v| v.to_string())
            })
            .unwrap_err();
        assert_eq!(e.0, "listener.name.internal.max.connections");
        // One listener: nothing is protected.
        let one = ConnectionLimits::default()
            .with_listeners(1, &["PLAINTEXT".to_string()], "PLAINTEXT", &|_| None)
            .unwrap();
        assert_eq!(one.protected_listener, None);
    }

    #[tokio::test]
    async fn a_listener_at_its_limit_waits_until_a_connection_closes() {
        let q = quotas_with(
            i32::MAX,
            &[("listener.name.plaintext.max.connections", "2")],
        );
        let a = accepted(q.admit(ip("10.0.0.1"), "PLAINTEXT"));
        let _b = accepted(q.admit(ip("10.0.0.2"), "PLAINTEXT"));
        // The other listener is not held by this one's limit.
        q.wait_for_slot("INTERNAL").await;
        let waiting = tokio::time::timeout(Duration::from_millis(50), q.wait_for_slot("PLAINTEXT"));
        assert!(waiting.await.is_err(), "no slot while two are open");
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.wait_for_slot("PLAINTEXT").await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(a);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("woken when a connection closed")
            .unwrap();
    }

    #[tokio::test]
    async fn the_inter_broker_listener_passes_max_connections_and_the_lru_is_closed() {
        let q = quotas_with(2, &[]);
        let old = accepted(q.admit(ip("10.0.0.1"), "PLAINTEXT"));
        let recent = accepted(q.admit(ip("10.0.0.2"), "PLAINTEXT"));
        std::thread::sleep(Duration::from_millis(5));
        recent.activity().touch(&q);
        let full = tokio::time::timeout(Duration::from_millis(50), q.wait_for_slot("PLAINTEXT"));
        assert!(full.await.is_err(), "the broker is full for clients");
        q.wait_for_slot("INTERNAL").await;
        let _peer = accepted(q.admit(ip("10.0.0.3"), "INTERNAL"));
        // The least recently used client connection is asked to close;
        // the other is not.
        tokio::time::timeout(Duration::from_secs(1), old.activity().closed())
            .await
            .expect("the LRU connection is asked to close");
        let recent = recent.activity();
        let other = tokio::time::timeout(Duration::from_millis(50), recent.closed());
        assert!(other.await.is_err());
    }
}
