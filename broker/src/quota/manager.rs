//! The quotas in force on this broker and the usage measured against them.
//!
//! Each broker enforces its quotas on its own traffic, as Kafka does. The
//! configs are read from coord at start and again after every config change
//! notification; usage is kept per quota kind and per [`MetricKey`] (who
//! shares the budget), and a request that takes its sender over the quota
//! earns a throttle time: the answer carries it (`throttle_time_ms`) and
//! the connection reads nothing more for that long (KIP-219), so clients
//! back off by themselves and a client that ignores it is held back anyway.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tracing::info;

use super::entity::{MetricKey, QuotaConfigs, QuotaKind};
use super::rate::{SampledRate, TokenBucket, Windows};
use crate::metadata::reload::{keep_loaded, Changed};
use crate::metadata::MetadataStore;

/// Configs are read again this often even without a notification (a watch
/// lost with a coord session heals by itself); idle sensors are dropped
/// then too.
const RELOAD_EVERY: Duration = Duration::from_secs(30);
/// A sensor with no usage for this long is forgotten (Kafka: one hour).
const SENSOR_IDLE: Duration = Duration::from_secs(3600);

pub struct QuotaManager {
    windows: Windows,
    /// `controller.quota.window.*`: the windows of `controller_mutation_rate`.
    controller_windows: Windows,
    configs: RwLock<Arc<QuotaConfigs>>,
    /// Per [`QuotaKind`]: whether any entity has such a quota, so that a
    /// broker without quotas pays one atomic load per request.
    active: [AtomicBool; QuotaKind::ALL.len()],
    sensors: Mutex<HashMap<(QuotaKind, MetricKey), Sensor>>,
    epoch: Instant,
}

/// What is measured for one budget: the usage, and the throttle time
/// handed out per request, over the same windows.
struct Sensor {
    usage: SampledRate,
    throttle_ms: SampledRate,
    requests: SampledRate,
    /// The budget of `controller_mutation_rate` (KIP-599); unused by the
    /// other kinds, which throttle on the sampled rate.
    bucket: TokenBucket,
}

impl Sensor {
    fn new(windows: Windows) -> Sensor {
        Sensor {
            usage: SampledRate::new(windows),
            throttle_ms: SampledRate::new(windows),
            requests: SampledRate::new(windows),
            bucket: TokenBucket::default(),
        }
    }
}

/// A partition mutation refused (THROTTLING_QUOTA_EXCEEDED): its sender
/// used up its `controller_mutation_rate` budget and must wait `throttle`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaExceeded {
    pub throttle: Duration,
}

/// One admin request's partition mutations (CreateTopics, CreatePartitions,
/// DeleteTopics) against its sender's `controller_mutation_rate`, as
/// Kafka's `ControllerMutationQuota`: strict for the versions that know
/// THROTTLING_QUOTA_EXCEEDED (a mutation is refused while the budget is in
/// deficit), permissive for older ones (it is done and the answer is
/// throttled instead).
pub struct MutationQuota<'a> {
    manager: Option<&'a QuotaManager>,
    budget: Option<(MetricKey, f64)>,
    strict: bool,
    throttle: Duration,
}

impl MutationQuota<'_> {
    /// No budget: topics auto-created for Metadata, as Kafka's unbounded quota.
    pub fn unbounded() -> MutationQuota<'static> {
        MutationQuota {
            manager: None,
            budget: None,
            strict: false,
            throttle: Duration::ZERO,
        }
    }

    /// Counts `partitions` mutations, or refuses them when strict and the
    /// budget is already in deficit. Called just before the coord write,
    /// after validation, so a refused request changes nothing and an
    /// invalid one is not charged.
    pub fn record(&mut self, partitions: usize) -> Result<(), QuotaExceeded> {
        let (Some(m), Some((key, limit))) = (self.manager, &self.budget) else {
            return Ok(());
        };
        let windows = m.controller_windows;
        let now = m.now_ms();
        let mut sensors = m.lock_sensors();
        let sensor = sensors
            .entry((QuotaKind::ControllerMutationRate, key.clone()))
            .or_insert_with(|| Sensor::new(windows));
        sensor.requests.record(1.0, now);
        let owed = sensor.bucket.deficit_ms(*limit, windows, now);
        if self.strict && owed > 0 {
            sensor.throttle_ms.record(owed as f64, now);
            let throttle = Duration::from_millis(owed);
            self.throttle = self.throttle.max(throttle);
            return Err(QuotaExceeded { throttle });
        }
        sensor.bucket.take(partitions as f64, *limit, windows, now);
        sensor.usage.record(partitions as f64, now);
        let owed = if self.strict {
            0
        } else {
            sensor.bucket.deficit_ms(*limit, windows, now)
        };
        sensor.throttle_ms.record(owed as f64, now);
        self.throttle = self.throttle.max(Duration::from_millis(owed));
        Ok(())
    }

    /// The longest wait this request earned: its answer carries it.
    pub fn throttle(&self) -> Duration {
        self.throttle
    }
}

/// What an answer measured against a byte-rate quota earned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charged {
    /// How long the client must now wait.
    pub throttle: Duration,
    /// Whether the answer must be withheld (answered empty): it was over
    /// the quota and not counted.
    pub withheld: bool,
}

/// One budget's figures, for the metrics endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaFigures {
    pub kind: QuotaKind,
    pub user: String,
    pub client_id: String,
    /// Bytes per second, or percent of a thread.
    pub rate: f64,
    /// Average throttle time per request, in milliseconds (Kafka's
    /// `throttle-time`).
    pub throttle_time_ms: f64,
}

fn kind_index(kind: QuotaKind) -> usize {
    kind as usize
}

/// The quota user of a principal: its name without the `User:` type.
pub fn quota_user(principal: &str) -> &str {
    principal
        .split_once(':')
        .map_or(principal, |(_, name)| name)
}

impl QuotaManager {
    pub fn new(windows: Windows, controller_windows: Windows) -> Arc<QuotaManager> {
        Arc::new(QuotaManager {
            windows,
            controller_windows,
            configs: RwLock::new(Arc::new(QuotaConfigs::default())),
            active: Default::default(),
            sensors: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
        })
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Whether some entity has a quota of `kind`.
    pub fn enforces(&self, kind: QuotaKind) -> bool {
        self.active[kind_index(kind)].load(Ordering::Relaxed)
    }

    fn lock_sensors(&self) -> std::sync::MutexGuard<'_, HashMap<(QuotaKind, MetricKey), Sensor>> {
        match self.sensors.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        }
    }

    /// The partition-mutation budget of one admin request from
    /// `principal` and `client_id`; `strict` for the request versions that
    /// can answer THROTTLING_QUOTA_EXCEEDED.
    pub fn mutations(&self, principal: &str, client_id: &str, strict: bool) -> MutationQuota<'_> {
        let kind = QuotaKind::ControllerMutationRate;
        let budget = if self.enforces(kind) {
            self.configs()
                .resolve(quota_user(principal), client_id, kind)
        } else {
            None
        };
        MutationQuota {
            manager: Some(self),
            budget,
            strict,
            throttle: Duration::ZERO,
        }
    }

    fn configs(&self) -> Arc<QuotaConfigs> {
        match self.configs.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The `connection_creation_rate` of connections from `ip`, if any.
    pub fn ip_connection_rate(&self, ip: std::net::IpAddr) -> Option<f64> {
        if !self.enforces(QuotaKind::ConnectionCreationRate) {
            return None;
        }
        self.configs().ip_connection_rate(ip)
    }

    /// Counts `value` (bytes, or percent-seconds of a thread) against the
    /// quota of `kind` for `principal` and `client_id`, and says how long
    /// the client must now wait.
    pub fn record(
        &self,
        kind: QuotaKind,
        principal: &str,
        client_id: &str,
        value: f64,
    ) -> Duration {
        self.measure(kind, principal, client_id, value, false)
            .throttle
    }

    /// As [`QuotaManager::record`], for an answer that is withheld when it
    /// earns a throttle (a consumer's fetch is answered empty instead, as
    /// Kafka's `getThrottledResponse`): its bytes are then taken back out
    /// of the usage, as Kafka un-records them, so the client is not
    /// charged for what it did not get.
    pub fn charge_answer(
        &self,
        kind: QuotaKind,
        principal: &str,
        client_id: &str,
        value: f64,
    ) -> Charged {
        self.measure(kind, principal, client_id, value, true)
    }

    fn measure(
        &self,
        kind: QuotaKind,
        principal: &str,
        client_id: &str,
        value: f64,
        withhold_if_throttled: bool,
    ) -> Charged {
        let mut charged = Charged {
            throttle: Duration::ZERO,
            withheld: false,
        };
        if !self.enforces(kind) {
            return charged;
        }
        let Some((key, limit)) = self
            .configs()
            .resolve(quota_user(principal), client_id, kind)
        else {
            return charged;
        };
        let now = self.now_ms();
        let mut sensors = self.lock_sensors();
        let sensor = sensors
            .entry((kind, key))
            .or_insert_with(|| Sensor::new(self.windows));
        sensor.usage.record(value, now);
        // Kafka bounds a request-time throttle by one window (a muted
        // connection also holds back the client's heartbeats); byte-rate
        // throttles by the whole measured span.
        let cap = match kind {
            QuotaKind::RequestPercentage => self.windows.window_ms,
            _ => self.windows.max_throttle_ms(),
        };
        let throttle = sensor.usage.throttle_ms(limit, now, cap);
        // An answer bigger than the quota allows over the shortest span the
        // rate is taken over would be withheld forever (Kafka starves such
        // a consumer): it is sent and throttled instead.
        let fits = value <= limit * self.windows.min_span_ms() as f64 / 1000.0;
        if throttle > 0 && withhold_if_throttled && fits {
            sensor.usage.record(-value, now);
            charged.withheld = true;
        }
        sensor.throttle_ms.record(throttle as f64, now);
        sensor.requests.record(1.0, now);
        charged.throttle = Duration::from_millis(throttle);
        charged
    }

    /// Counts the time a request took to handle against `request_percentage`.
    pub fn record_time(&self, principal: &str, client_id: &str, took: Duration) -> Duration {
        // A quota of n % allows n/100 seconds of handling per second.
        let percent_seconds = took.as_secs_f64() * 100.0;
        self.record(
            QuotaKind::RequestPercentage,
            principal,
            client_id,
            percent_seconds,
        )
    }

    /// Every budget measured, for the metrics endpoint.
    pub fn figures(&self) -> Vec<QuotaFigures> {
        let now = self.now_ms();
        let mut sensors = self.lock_sensors();
        let mut out: Vec<QuotaFigures> = sensors
            .iter_mut()
            .map(|((kind, key), s)| {
                let requests = s.requests.total(now);
                QuotaFigures {
                    kind: *kind,
                    user: key.user.clone(),
                    client_id: key.client.clone(),
                    rate: s.usage.rate(now),
                    throttle_time_ms: if requests > 0.0 {
                        s.throttle_ms.total(now) / requests
                    } else {
                        0.0
                    },
                }
            })
            .collect();
        out.sort_by(|a, b| (a.kind, &a.user, &a.client_id).cmp(&(b.kind, &b.user, &b.client_id)));
        out
    }

    /// Puts `configs` in force.
    pub fn install(&self, configs: QuotaConfigs) {
        for kind in QuotaKind::ALL {
            self.active[kind_index(kind)].store(configs.has(kind), Ordering::Relaxed);
        }
        let entities = configs.iter().count();
        match self.configs.write() {
            Ok(mut c) => *c = Arc::new(configs),
            Err(p) => *p.into_inner() = Arc::new(configs),
        }
        info!(entities, "client quotas loaded");
    }

    fn drop_idle_sensors(&self) {
        let now = self.now_ms();
        let idle = SENSOR_IDLE.as_millis() as u64;
        if let Ok(mut sensors) = self.sensors.lock() {
            sensors.retain(|_, s| {
                s.usage
                    .last_ms()
                    .is_some_and(|t| now.saturating_sub(t) < idle)
            });
        }
    }

    /// Reads the quotas from coord now and after every config change
    /// notification, until `shutdown`.
    pub async fn run(
        self: Arc<Self>,
        metadata: Arc<MetadataStore>,
        shutdown: watch::Receiver<bool>,
    ) {
        let read = || async {
            let watch = metadata.watch_config_changes().await?;
            let stored = metadata.read_quota_configs().await?;
            let changed: Changed = Box::pin(async move {
                watch.changed().await;
            });
            Ok((changed, QuotaConfigs::from_stored(stored)))
        };
        let install = |configs: QuotaConfigs| {
            self.drop_idle_sensors();
            if *self.configs() != configs {
                self.install(configs);
            }
        };
        keep_loaded("client quotas", RELOAD_EVERY, shutdown, read, install).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::{Name, QuotaEntity};
    use std::collections::BTreeMap;

    #[test]
    fn only_the_quota_holder_is_throttled() {
        let m = QuotaManager::new(Windows::default(), Windows::default());
        let config = BTreeMap::from([("producer_byte_rate".to_string(), "1000".to_string())]);
        m.install(QuotaConfigs::from_stored(vec![(
            QuotaEntity::user(Name::Named("alice".into())),
            config,
        )]));
        assert!(m.enforces(QuotaKind::ProducerByteRate));
        assert!(!m.enforces(QuotaKind::ConsumerByteRate));
        // 10 s worth in one go is allowed; the next byte is over.
        let kind = QuotaKind::ProducerByteRate;
        assert_eq!(m.record(kind, "User:alice", "a", 10_000.0), Duration::ZERO);
        assert!(m.record(kind, "User:alice", "b", 10_000.0) > Duration::from_secs(5));
        assert_eq!(m.record(kind, "User:bob", "a", 1e9), Duration::ZERO);
    }

    #[test]
    fn a_throttled_answer_is_not_charged() {
        let m = QuotaManager::new(Windows::default(), Windows::default());
        let config = BTreeMap::from([("consumer_byte_rate".to_string(), "1000".to_string())]);
        m.install(QuotaConfigs::from_stored(vec![(
            QuotaEntity::client(Name::Named("c".into())),
            config,
        )]));
        let kind = QuotaKind::ConsumerByteRate;
        let charge = |bytes| m.charge_answer(kind, "User:a", "c", bytes);
        assert_eq!(charge(9_000.0).throttle, Duration::ZERO);
        // Over: withheld and taken back, so the same answer is throttled
        // again for about the same time rather than twice as long.
        let first = charge(9_000.0);
        let again = charge(9_000.0);
        assert!(first.withheld && again.withheld);
        assert!(first.throttle > Duration::ZERO);
        assert!(
            again.throttle <= first.throttle + Duration::from_millis(50),
            "{first:?} then {again:?}"
        );
        // A small answer still fits.
        assert_eq!(charge(500.0).throttle, Duration::ZERO);
        // One bigger than ten windows' worth could never be sent: it goes
        // out, throttled.
        let huge = charge(50_000.0);
        assert!(huge.throttle > Duration::ZERO && !huge.withheld);
    }

    #[test]
    fn principal_type_is_not_part_of_the_user() {
        assert_eq!(quota_user("User:alice"), "alice");
        assert_eq!(quota_user("User:CN=a,O=b"), "CN=a,O=b");
        assert_eq!(quota_user("ANONYMOUS"), "ANONYMOUS");
    }

    #[test]
    fn mutations_are_refused_in_deficit_only_when_strict() {
        let m = QuotaManager::new(Windows::default(), Windows::default());
        let config = BTreeMap::from([("controller_mutation_rate".to_string(), "2".to_string())]);
        m.install(QuotaConfigs::from_stored(vec![(
            QuotaEntity::client(Name::Named("admin".into())),
            config,
        )]));
        // A burst of 20 partitions is free; 30 is done but leaves a
        // deficit, so the next strict request is refused for ~5 s.
        let mut q = m.mutations("User:ANONYMOUS", "admin", true);
        assert_eq!(q.record(30), Ok(()));
        assert_eq!(q.throttle(), Duration::ZERO);
        let refused = q.record(1).unwrap_err();
        assert!(
            refused.throttle > Duration::from_millis(4_900),
            "{refused:?}"
        );
        assert_eq!(q.throttle(), refused.throttle);
        // A permissive (old version) request is done and throttled.
        let mut old = m.mutations("User:ANONYMOUS", "admin", false);
        assert_eq!(old.record(4), Ok(()));
        assert!(
            old.throttle() > Duration::from_secs(6),
            "{:?}",
            old.throttle()
        );
        // Others have no budget.
        let mut other = m.mutations("User:ANONYMOUS", "other", true);
        assert_eq!(other.record(1_000), Ok(()));
        assert_eq!(other.record(1), Ok(()));
        let mut auto = MutationQuota::unbounded();
        assert_eq!(auto.record(1_000), Ok(()));
    }
}
