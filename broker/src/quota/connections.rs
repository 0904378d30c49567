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
//!
//! Throttles are capped at one quota window (`quota.window.size.seconds`),
//! as Kafka caps them: the rate is measured over many windows, and holding
//! a client longer than one would not bring it back sooner.

use std::collections::HashMap;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

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
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            per_ip: usize::MAX,
            per_ip_overrides: HashMap::new(),
            creation_rate: None,
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
            creation_rate: (creation_rate != i32::MAX).then_some(f64::from(creation_rate)),
        })
    }

    fn per_ip_limit(&self, ip: IpAddr) -> usize {
        self.per_ip_overrides
            .get(&ip)
            .copied()
            .unwrap_or(self.per_ip)
    }
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
    epoch: Instant,
}

#[derive(Default)]
struct State {
    open: HashMap<IpAddr, usize>,
    ip_rates: HashMap<IpAddr, SampledRate>,
    broker_rate: Option<SampledRate>,
}

/// One open connection of an address; dropping it frees the slot.
pub struct OpenSlot {
    quotas: Arc<ConnectionQuotas>,
    ip: IpAddr,
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
            epoch: Instant::now(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Records a new connection against `max.connection.creation.rate`
    /// and says how long the listener must wait before going on; the
    /// inter-broker listener (`protected`) is not counted.
    pub fn listener_delay(&self, protected: bool) -> Duration {
        let Some(limit) = self.limits.creation_rate else {
            return Duration::ZERO;
        };
        if protected {
            return Duration::ZERO;
        }
        let now = self.now_ms();
        let mut state = self.lock();
        let rate = state
            .broker_rate
            .get_or_insert_with(|| SampledRate::new(self.windows));
        rate.record(1.0, now);
        Duration::from_millis(rate.throttle_ms(limit, now, self.windows.window_ms))
    }

    /// Decides on a connection from `ip` (its canonical form): throttled by
    /// its address's `connection_creation_rate`, refused over
    /// `max.connections.per.ip`, or accepted and counted. `protected` as
    /// for [`ConnectionQuotas::listener_delay`]: a throttled connection is
    /// taken back out of the broker-wide rate only where it was counted.
    pub fn admit(self: &Arc<Self>, ip: IpAddr, protected: bool) -> Admission {
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
        Admission::Accepted(OpenSlot {
            quotas: self.clone(),
            ip,
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
        let a = q.admit(ip("10.0.0.2"), false);
        let b = q.admit(ip("::ffff:10.0.0.2"), false);
        assert!(matches!(a, Admission::Accepted(_)) && matches!(b, Admission::Accepted(_)));
        assert!(matches!(
            q.admit(ip("10.0.0.2"), false),
            Admission::TooMany { limit: 2 }
        ));
        assert_eq!(q.open_from(ip("10.0.0.2")), 2);
        drop(a);
        assert!(matches!(
            q.admit(ip("10.0.0.2"), false),
            Admission::Accepted(_)
        ));
        // The slot of the last one was dropped with it.
        assert_eq!(q.open_from(ip("10.0.0.2")), 1);
        assert!(matches!(
            q.admit(ip("10.0.0.9"), false),
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
            match q.admit(ip("10.0.0.1"), false) {
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
                q.admit(ip("10.0.0.2"), false),
                Admission::Accepted(_)
            ));
        }
    }

    #[test]
    fn the_broker_wide_rate_delays_the_listener_but_not_the_inter_broker_one() {
        let manager = QuotaManager::new(Windows::default(), Windows::default());
        let limits = ConnectionLimits::parse(i32::MAX, "", 1).unwrap();
        let q = ConnectionQuotas::new(limits, Windows::default(), manager);
        let delays: Vec<Duration> = (0..15).map(|_| q.listener_delay(false)).collect();
        assert_eq!(delays[0], Duration::ZERO);
        assert!(delays[14] > Duration::ZERO && delays[14] <= Duration::from_secs(1));
        assert_eq!(q.listener_delay(true), Duration::ZERO);
    }
}
