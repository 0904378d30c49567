//! Gauges read from the broker's state at scrape time: the replica
//! manager's partitions (counts, under-replicated, log sizes and offsets),
//! the controller's view (active controller, offline partitions), runtime
//! busy ratios, and consumer group lag as kafka-exporter reports it.
//!
//! Lag needs each partition's end offset from its leader, which may be
//! another broker: [`BrokerCollector::refresh_lag`] asks for them (as a
//! Kafka client of the cluster, with ListOffsets) just before a scrape.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::encoding::DescriptorEncoder;
use runnel_common::kafka::fetch::LATEST;
use runnel_common::kafka::{Client, ConnectionConfig};
use runnel_common::metrics::{label, Collector, Labels, Scrape};
use tracing::debug;

use crate::api::fetch_session::FetchSessions;
use crate::group::GroupCoordinator;
use crate::metadata::MetadataStore;
use crate::quota::{QuotaFigures, QuotaKind, QuotaManager};
use crate::replica::log_cleaner::LogCleaner;
use crate::replica::ReplicaManager;

/// Longest a scrape waits for end offsets; older figures are kept.
const LAG_TIMEOUT: Duration = Duration::from_secs(5);

/// A group's position on one partition.
#[derive(Debug, Clone)]
struct LagRow {
    group: String,
    topic: String,
    partition: i32,
    offset: i64,
    /// The partition's end offset (high watermark), when its leader answered.
    end: Option<i64>,
}

pub struct BrokerCollector {
    broker_id: i32,
    replicas: Arc<ReplicaManager>,
    metadata: Arc<MetadataStore>,
    groups: Arc<GroupCoordinator>,
    fetch_sessions: Arc<FetchSessions>,
    cleaner: Arc<LogCleaner>,
    quotas: Arc<QuotaManager>,
    /// Where this broker is reached, for its own ListOffsets client.
    lag_client: LagClient,
    client: tokio::sync::Mutex<Option<Client>>,
    lag: Mutex<Vec<LagRow>>,
    /// Runtime busy time at the previous scrape, for the idle ratio.
    busy: Mutex<Option<(Instant, Duration)>>,
}

impl std::fmt::Debug for BrokerCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerCollector")
            .field("broker_id", &self.broker_id)
            .finish_non_exhaustive()
    }
}

/// Where and how the collector reads end offsets for consumer lag: this
/// broker's inter-broker endpoint, with its TLS and SASL.
pub struct LagClient {
    pub bootstrap: String,
    pub security: runnel_common::kafka::ClientSecurity,
}

impl BrokerCollector {
    /// Reads `broker`'s parts at each scrape.
    pub fn new(broker: &crate::server::Broker, lag_client: LagClient) -> Arc<BrokerCollector> {
        Arc::new(BrokerCollector {
            broker_id: broker.id,
            replicas: broker.replicas.clone(),
            metadata: broker.metadata.clone(),
            groups: broker.groups.clone(),
            fetch_sessions: broker.fetch_sessions.clone(),
            cleaner: broker.cleaner.clone(),
            quotas: broker.quotas.clone(),
            lag_client,
            client: tokio::sync::Mutex::new(None),
            lag: Mutex::new(Vec::new()),
            busy: Mutex::new(None),
        })
    }

    /// Reads the committed offsets of the groups coordinated here and the
    /// end offsets of their partitions, for the next encode.
    pub async fn refresh_lag(&self) {
        let committed = self.groups.committed_offsets();
        let mut rows: Vec<LagRow> = committed
            .into_iter()
            .map(|(group, topic, partition, offset)| LagRow {
                group,
                topic,
                partition,
                offset,
                end: None,
            })
            .collect();
        if !rows.is_empty() {
            match tokio::time::timeout(LAG_TIMEOUT, self.end_offsets(&rows)).await {
                Ok(ends) => {
                    for r in &mut rows {
                        r.end = ends.get(&(r.topic.clone(), r.partition)).copied();
                    }
                }
                Err(_) => debug!("end offsets for lag: no answer within {LAG_TIMEOUT:?}"),
            }
        }
        *self.lag.lock().unwrap_or_else(|p| p.into_inner()) = rows;
    }

    async fn end_offsets(&self, rows: &[LagRow]) -> BTreeMap<(String, i32), i64> {
        let mut wanted: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for r in rows {
            let parts = wanted.entry(r.topic.as_str()).or_default();
            if !parts.contains(&r.partition) {
                parts.push(r.partition);
            }
        }
        let mut guard = self.client.lock().await;
        if guard.is_none() {
            let config = ConnectionConfig {
                client_id: format!("runnel-broker-{}-metrics", self.broker_id),
                connect_timeout: LAG_TIMEOUT,
                request_timeout: LAG_TIMEOUT,
                security: self.lag_client.security.clone(),
            };
            match Client::connect(&self.lag_client.bootstrap, config).await {
                Ok(c) => *guard = Some(c),
                Err(e) => {
                    debug!("metrics client: {e}");
                    return BTreeMap::new();
                }
            }
        }
        let mut out = BTreeMap::new();
        let Some(client) = guard.as_ref() else {
            return out;
        };
        for (topic, parts) in wanted {
            match client.list_offsets(topic, &parts, LATEST).await {
                Ok(found) => {
                    for (p, end) in found {
                        if let Ok(end) = end {
                            out.insert((topic.to_string(), p), end);
                        }
                    }
                }
                Err(e) => {
                    debug!(topic, "end offsets for lag: {e}");
                    // A broken connection is opened afresh next time.
                    *guard = None;
                    break;
                }
            }
        }
        out
    }

    /// The runtime's busy share of its workers' time since the last scrape.
    fn busy_ratio(&self) -> Option<f64> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let m = handle.metrics();
        let workers = m.num_workers();
        let busy: Duration = (0..workers).map(|w| m.worker_total_busy_duration(w)).sum();
        let now = Instant::now();
        let mut prev = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        let ratio = prev.and_then(|(at, was)| {
            let wall = now.duration_since(at).as_secs_f64() * workers as f64;
            (wall > 0.0).then(|| ((busy.saturating_sub(was)).as_secs_f64() / wall).min(1.0))
        });
        *prev = Some((now, busy));
        ratio
    }
}

fn tp(topic: &str, partition: i32) -> Labels {
    vec![
        ("topic", label(topic.to_string())),
        ("partition", label(partition.to_string())),
    ]
}

impl Collector for BrokerCollector {
    fn encode(&self, encoder: DescriptorEncoder) -> std::fmt::Result {
        let mut s = Scrape::new(encoder);
        let hosted = self.replicas.hosted();
        let snapshot = self.metadata.snapshot();

        let mut leaders = 0;
        let mut under_replicated = 0;
        let mut under_min_isr = 0;
        let mut sizes = Vec::with_capacity(hosted.len());
        let mut ends = Vec::with_capacity(hosted.len());
        let mut starts = Vec::with_capacity(hosted.len());
        let mut segments = Vec::with_capacity(hosted.len());
        for ((topic, partition), p) in &hosted {
            if p.is_leader() {
                leaders += 1;
                let state = p.state();
                if state.isr.len() < state.replicas.len() {
                    under_replicated += 1;
                }
                if (state.isr.len() as i32) < p.settings().min_insync_replicas {
                    under_min_isr += 1;
                }
            }
            let labels = tp(topic, *partition);
            sizes.push((labels.clone(), p.log.size_in_bytes() as f64));
            ends.push((labels.clone(), p.log.log_end_offset() as f64));
            starts.push((labels.clone(), p.log.log_start_offset() as f64));
            segments.push((labels, p.log.segment_count() as f64));
        }
        s.gauge(
            "kafka_server_replicamanager_partitioncount",
            "Partitions with a replica on this broker",
            hosted.len() as f64,
        )?;
        s.gauge(
            "kafka_server_replicamanager_leadercount",
            "Partitions led by this broker",
            f64::from(leaders),
        )?;
        s.gauge(
            "kafka_server_replicamanager_underreplicatedpartitions",
            "Partitions led here whose ISR is smaller than their replica set",
            f64::from(under_replicated),
        )?;
        s.gauge(
            "kafka_server_replicamanager_underminisrpartitioncount",
            "Partitions led here whose ISR is below min.insync.replicas",
            f64::from(under_min_isr),
        )?;
        let sessions = self.fetch_sessions.stats();
        s.gauge(
            "kafka_server_fetchsessioncache_numincrementalfetchsessions",
            "Incremental fetch sessions (KIP-227) kept by this broker",
            sessions.sessions as f64,
        )?;
        s.gauge(
            "kafka_server_fetchsessioncache_numincrementalfetchpartitionscached",
            "Partitions in this broker's incremental fetch sessions",
            sessions.partitions as f64,
        )?;
        s.counter(
            "kafka_server_fetchsessioncache_incrementalfetchsessionevictions",
            "Fetch sessions evicted to make room for others",
            sessions.evictions,
        )?;
        let cleaner = self.cleaner.stats();
        s.gauge(
            "kafka_log_logcleanermanager_max_dirty_percent",
            "Largest dirty share (percent) of a compacted log's cleanable bytes at the last round",
            cleaner.max_dirty_percent,
        )?;
        s.gauge(
            "kafka_log_logcleanermanager_uncleanable_partitions_count",
            "Compacted partitions whose last clean failed",
            cleaner.uncleanable_partitions as f64,
        )?;
        s.gauge(
            "kafka_log_logcleanermanager_time_since_last_run_ms",
            "Milliseconds since the log cleaner last measured the compacted logs",
            cleaner.time_since_last_run_ms,
        )?;
        s.gauge(
            "kafka_log_logcleaner_cleaner_recopy_percent",
            "Bytes written over bytes read (percent) by the last round of cleaning",
            cleaner.recopy_percent,
        )?;
        s.gauge(
            "kafka_log_logcleaner_max_clean_time_secs",
            "Longest clean of the last round, in seconds",
            cleaner.max_clean_time_secs,
        )?;
        s.counter(
            "kafka_log_logcleaner_records_removed",
            "Records the log cleaner removed (superseded, key-less, aborted, expired tombstones)",
            cleaner.records_removed,
        )?;
        s.gauges(
            "kafka_log_log_size",
            "Bytes of the partition's log on this broker",
            sizes,
        )?;
        s.gauges(
            "kafka_log_log_logendoffset",
            "Log end offset of the partition's replica on this broker",
            ends,
        )?;
        s.gauges(
            "kafka_log_log_logstartoffset",
            "Log start offset of the partition's replica on this broker",
            starts,
        )?;
        s.gauges(
            "kafka_log_log_numlogsegments",
            "Segments of the partition's log on this broker",
            segments,
        )?;

        // The controller's figures, as Kafka reports them: on the active
        // controller only, zero elsewhere.
        let active = snapshot.controller_id == self.broker_id;
        let mut offline = 0;
        let mut total = 0;
        if active {
            for t in snapshot.topics.values() {
                for info in t.partitions.values() {
                    total += 1;
                    let leader = info.leader();
                    if leader < 0 || !snapshot.brokers.contains_key(&leader) {
                        offline += 1;
                    }
                }
            }
        }
        s.gauge(
            "kafka_controller_kafkacontroller_activecontrollercount",
            "1 on the broker that is the active controller",
            if active { 1.0 } else { 0.0 },
        )?;
        s.gauge(
            "kafka_controller_kafkacontroller_offlinepartitionscount",
            "Partitions without a live leader (on the active controller)",
            f64::from(offline),
        )?;
        s.gauge(
            "kafka_controller_kafkacontroller_globalpartitioncount",
            "Partitions in the cluster (on the active controller)",
            f64::from(total),
        )?;
        s.gauge(
            "kafka_controller_kafkacontroller_globaltopiccount",
            "Topics in the cluster (on the active controller)",
            if active {
                snapshot.topics.len() as f64
            } else {
                0.0
            },
        )?;
        s.gauge(
            "kafka_server_kafkaserver_brokerstate",
            "3 while the broker runs (Kafka's RunningAsBroker)",
            3.0,
        )?;

        if let Some(busy) = self.busy_ratio() {
            s.gauge(
                "kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent",
                "Idle share of the broker's request workers since the previous scrape",
                1.0 - busy,
            )?;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            s.gauge(
                "kafka_network_requestchannel_requestqueuesize",
                "Tasks waiting in the runtime's global queue",
                handle.metrics().global_queue_depth() as f64,
            )?;
        }

        // Client quotas, as Kafka's Produce/Fetch/Request quota sensors
        // (one per budget: user and/or client id).
        let figures = self.quotas.figures();
        let who = |f: &QuotaFigures| -> Labels {
            vec![
                ("user", label(f.user.clone())),
                ("client_id", label(f.client_id.clone())),
            ]
        };
        for (kind, kind_name, rate_name, rate_help) in [
            (
                QuotaKind::ProducerByteRate,
                "produce",
                "byte_rate",
                "Produce request bytes per second of a producer_byte_rate budget",
            ),
            (
                QuotaKind::ConsumerByteRate,
                "fetch",
                "byte_rate",
                "Fetch answer bytes per second of a consumer_byte_rate budget",
            ),
            (
                QuotaKind::RequestPercentage,
                "request",
                "request_time",
                "Request handling time, in percent of one thread, of a request_percentage budget",
            ),
            (
                QuotaKind::ControllerMutationRate,
                "controller_mutation",
                "rate",
                "Partitions created or deleted per second of a controller_mutation_rate budget",
            ),
        ] {
            let of_kind = || figures.iter().filter(move |f| f.kind == kind);
            s.gauges(
                &format!("kafka_server_{kind_name}_{rate_name}"),
                rate_help,
                of_kind().map(|f| (who(f), f.rate)),
            )?;
            s.gauges(
                &format!("kafka_server_{kind_name}_throttle_time"),
                "Average throttle time per request (ms) over the quota windows",
                of_kind().map(|f| (who(f), f.throttle_time_ms)),
            )?;
        }

        let lag = self.lag.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let group_tp = |r: &LagRow| -> Labels {
            vec![
                ("consumergroup", label(r.group.clone())),
                ("topic", label(r.topic.clone())),
                ("partition", label(r.partition.to_string())),
            ]
        };
        s.gauges(
            "kafka_consumergroup_current_offset",
            "Committed offset of a consumer group on a partition (groups coordinated here)",
            lag.iter().map(|r| (group_tp(r), r.offset as f64)),
        )?;
        s.gauges(
            "kafka_consumergroup_lag",
            "End offset minus committed offset (groups coordinated here)",
            lag.iter().filter_map(|r| {
                r.end
                    .map(|end| (group_tp(r), (end - r.offset).max(0) as f64))
            }),
        )?;
        Ok(())
    }
}
