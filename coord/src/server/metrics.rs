//! Prometheus metrics under ZooKeeper 3.8's names, served on
//! `metricsProvider.httpHost:metricsProvider.httpPort` when zoo.cfg names
//! ZooKeeper's `PrometheusMetricsProvider`.
//!
//! Every figure is read when Prometheus scrapes, from the same
//! [`Monitor`] that `mntr` prints, so the two agree and nothing is kept
//! between scrapes for them. ZooKeeper registers its figures as gauges,
//! `packets_received` and `packets_sent` included (so they carry no
//! `_total` suffix); they are exported the same way here so dashboards and
//! alerts written for ZooKeeper find them. Names of our own start with
//! `runnel_coord_`: the Raft figures and the request latency histogram
//! (ZooKeeper's `readlatency` / `updatelatency` are summaries with
//! quantiles, which would need a quantile sketch updated under a lock on
//! every request; a histogram of atomics gives the same percentiles in
//! PromQL).

use std::sync::Arc;

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use runnel_common::metrics::{label, register_collector, Collector, Registry, Scrape};

use super::monitor::Monitor;
use super::stats::{HistogramReading, OpKind};
use super::Shared;

/// The zoo.cfg key named when the endpoint's host cannot be used.
pub const HOST_KEY: &str = "metricsProvider.httpHost";
/// The zoo.cfg key named when the endpoint's port cannot be listened on.
pub const PORT_KEY: &str = "metricsProvider.httpPort";

/// A registry holding this server's collectors.
pub fn registry(shared: Arc<Shared>) -> Registry {
    let mut registry = Registry::default();
    register_collector(
        &mut registry,
        Figures {
            shared: shared.clone(),
        },
    );
    register_collector(&mut registry, Latency { shared });
    registry
}

/// Gauges read from [`Monitor`] at scrape time.
struct Figures {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("coord figures")
    }
}

impl Collector for Figures {
    fn encode(&self, encoder: DescriptorEncoder) -> std::fmt::Result {
        write_figures(&mut Scrape::new(encoder), &Monitor::read(&self.shared))
    }
}

/// Writes the figures of one [`Monitor`] reading.
fn write_figures(s: &mut Scrape<'_>, m: &Monitor) -> std::fmt::Result {
    s.gauge(
        "znode_count",
        "Znodes in the data tree",
        m.znode_count as f64,
    )?;
    s.gauge(
        "watch_count",
        "Watches set by clients of this server",
        m.watch_count as f64,
    )?;
    s.gauge(
        "ephemerals_count",
        "Ephemeral znodes",
        m.ephemerals_count as f64,
    )?;
    s.gauge(
        "approximate_data_size",
        "Bytes of znode paths and data",
        m.approximate_data_size as f64,
    )?;
    s.gauge(
        "num_alive_connections",
        "Client connections",
        m.num_alive_connections as f64,
    )?;
    s.gauge(
        "outstanding_requests",
        "Requests read and not answered yet",
        m.outstanding_requests as f64,
    )?;
    s.gauge(
        "avg_latency",
        "Average request latency since start, ms",
        m.avg_latency_ms,
    )?;
    s.gauge(
        "max_latency",
        "Largest request latency since start, ms",
        m.max_latency_ms as f64,
    )?;
    s.gauge(
        "min_latency",
        "Smallest request latency since start, ms",
        m.min_latency_ms as f64,
    )?;
    s.gauge(
        "packets_received",
        "Requests received from clients since start",
        m.packets_received as f64,
    )?;
    s.gauge(
        "packets_sent",
        "Replies sent to clients since start",
        m.packets_sent as f64,
    )?;
    s.gauge(
        "global_sessions",
        "Sessions in the ensemble",
        m.global_sessions as f64,
    )?;
    s.gauge(
        "local_sessions",
        "Local sessions (none: every session is global here)",
        0.0,
    )?;
    s.gauge(
        "uptime",
        "Time since this server started, ms",
        m.uptime_ms as f64,
    )?;
    s.gauge(
        "last_zxid",
        "Zxid of the last applied transaction",
        m.last_zxid as f64,
    )?;
    if let Some(n) = m.open_file_descriptor_count {
        s.gauge(
            "open_file_descriptor_count",
            "Open file descriptors",
            n as f64,
        )?;
    }
    if let Some(n) = m.max_file_descriptor_count {
        s.gauge(
            "max_file_descriptor_count",
            "Limit on open file descriptors",
            n as f64,
        )?;
    }
    s.gauge(
        "quorum_size",
        "Voting members of the ensemble (1 standalone)",
        m.quorum_size as f64,
    )?;
    s.gauges(
        "server_state",
        "1 for this server's state, as mntr's zk_server_state",
        [(vec![("state", label(m.server_state))], 1.0)],
    )?;
    let Some(raft) = &m.raft else {
        return Ok(());
    };
    if let Some((followers, synced)) = raft.followers {
        s.gauge("learners", "Followers of this leader", followers as f64)?;
        s.gauge(
            "synced_followers",
            "Followers whose log matches this leader's last entry",
            synced as f64,
        )?;
    }
    let index = |i: Option<u64>| i.map_or(0.0, |i| i as f64);
    s.gauge(
        "runnel_coord_raft_term",
        "Current Raft term",
        raft.term as f64,
    )?;
    s.gauge(
        "runnel_coord_raft_commit_index",
        "Index of the last committed Raft log entry",
        index(raft.commit_index),
    )?;
    s.gauge(
        "runnel_coord_raft_applied_index",
        "Index of the last Raft log entry applied to the tree",
        index(raft.applied_index),
    )?;
    s.gauge(
        "runnel_coord_raft_last_log_index",
        "Index of the last entry in this member's Raft log",
        index(raft.last_log_index),
    )?;
    s.gauge(
        "runnel_coord_raft_leader",
        "The leader's server id (0 when none is known)",
        raft.leader.unwrap_or(0) as f64,
    )
}

/// `runnel_coord_request_latency_seconds{op="read"|"update"}`.
struct Latency {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("coord request latency")
    }
}

impl Collector for Latency {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let mut family = encoder.encode_descriptor(
            "runnel_coord_request_latency_seconds",
            "Time from reading a request to queueing its reply, by kind",
            None,
            MetricType::Histogram,
        )?;
        for kind in OpKind::ALL {
            let labels = vec![("op", label(kind.label()))];
            let reading = self.shared.stats.latency_by_kind[kind as usize].read();
            Reading(reading).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// A [`HistogramReading`] as prometheus-client encodes a histogram.
struct Reading(HistogramReading);

impl EncodeMetric for Reading {
    fn encode(&self, mut encoder: MetricEncoder) -> std::fmt::Result {
        encoder.encode_histogram::<NoLabelSet>(
            self.0.sum_seconds,
            self.0.count,
            &self.0.buckets,
            None,
        )
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::RaftFigures;

    fn monitor(raft: Option<RaftFigures>) -> Monitor {
        Monitor {
            server_state: if raft.is_some() {
                "leader"
            } else {
                "standalone"
            },
            min_latency_ms: 1,
            avg_latency_ms: 1.5,
            max_latency_ms: 2,
            packets_received: 10,
            packets_sent: 9,
            num_alive_connections: 2,
            outstanding_requests: 1,
            znode_count: 7,
            watch_count: 3,
            ephemerals_count: 1,
            approximate_data_size: 120,
            last_zxid: 42,
            global_sessions: 2,
            uptime_ms: 1000,
            open_file_descriptor_count: Some(20),
            max_file_descriptor_count: Some(1024),
            quorum_size: if raft.is_some() { 3 } else { 1 },
            raft,
        }
    }

    #[derive(Debug)]
    struct Fixed(Monitor);

    impl Collector for Fixed {
        fn encode(&self, encoder: DescriptorEncoder) -> std::fmt::Result {
            write_figures(&mut Scrape::new(encoder), &self.0)
        }
    }

    fn text(m: Monitor) -> String {
        let mut registry = Registry::default();
        register_collector(&mut registry, Fixed(m));
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &registry).expect("encode");
        out
    }

    /// Sample lines as (name with labels, value).
    fn samples(text: &str) -> Vec<(String, f64)> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                let (name, value) = l.rsplit_once(' ')?;
                Some((name.to_string(), value.parse().ok()?))
            })
            .collect()
    }

    fn value(samples: &[(String, f64)], name: &str) -> Option<f64> {
        samples.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    #[test]
    fn standalone_figures_under_zookeepers_names() {
        let out = text(monitor(None));
        let s = samples(&out);
        for (name, expected) in [
            ("znode_count", 7.0),
            ("watch_count", 3.0),
            ("ephemerals_count", 1.0),
            ("approximate_data_size", 120.0),
            ("num_alive_connections", 2.0),
            ("outstanding_requests", 1.0),
            ("avg_latency", 1.5),
            ("min_latency", 1.0),
            ("max_latency", 2.0),
            ("packets_received", 10.0),
            ("packets_sent", 9.0),
            ("global_sessions", 2.0),
            ("open_file_descriptor_count", 20.0),
            ("max_file_descriptor_count", 1024.0),
            ("quorum_size", 1.0),
            ("last_zxid", 42.0),
            ("server_state{state=\"standalone\"}", 1.0),
        ] {
            assert_eq!(value(&s, name), Some(expected), "{name} in\n{out}");
        }
        assert!(out.contains("# TYPE packets_received gauge"), "{out}");
        assert!(!out.contains("runnel_coord_raft"), "{out}");
        assert!(!out.contains("synced_followers"), "{out}");
    }

    /// The whole registry on a real (unstarted) server: the histogram by
    /// kind, and figures read from the tree.
    #[test]
    fn registry_reads_the_server_at_scrape_time() {
        use std::time::Duration;
        let entries =
            runnel_common::properties::parse("dataDir=/nonexistent\nclientPort=0\n", "test")
                .expect("parse");
        let config = crate::config::Config::from_entries(&entries, "test").expect("config");
        let (shared, _proposals) = Shared::new(config, &crate::tree::DataTree::new());
        shared
            .stats
            .record(Duration::from_micros(300), Some(OpKind::Read));
        shared
            .stats
            .record(Duration::from_millis(30), Some(OpKind::Update));
        let registry = registry(shared);
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &registry).expect("encode");
        let s = samples(&out);
        let read = "runnel_coord_request_latency_seconds_bucket{op=\"read\",le=\"0.0005\"}";
        assert_eq!(value(&s, read), Some(1.0), "{out}");
        let update = "runnel_coord_request_latency_seconds_bucket{op=\"update\",le=\"0.025\"}";
        assert_eq!(value(&s, update), Some(0.0), "{out}");
        let update = "runnel_coord_request_latency_seconds_count{op=\"update\"}";
        assert_eq!(value(&s, update), Some(1.0), "{out}");
        assert!(out.contains("# TYPE runnel_coord_request_latency_seconds histogram"));
        // The four system znodes of an empty tree.
        assert_eq!(value(&s, "znode_count"), Some(4.0), "{out}");
        assert_eq!(value(&s, "quorum_size"), Some(1.0), "{out}");
    }

    #[test]
    fn an_ensemble_leader_adds_raft_and_follower_figures() {
        let out = text(monitor(Some(RaftFigures {
            term: 4,
            last_log_index: Some(17),
            commit_index: Some(16),
            applied_index: Some(15),
            leader: Some(2),
            members: 3,
            followers: Some((2, 1)),
        })));
        let s = samples(&out);
        for (name, expected) in [
            ("quorum_size", 3.0),
            ("learners", 2.0),
            ("synced_followers", 1.0),
            ("runnel_coord_raft_term", 4.0),
            ("runnel_coord_raft_last_log_index", 17.0),
            ("runnel_coord_raft_commit_index", 16.0),
            ("runnel_coord_raft_applied_index", 15.0),
            ("runnel_coord_raft_leader", 2.0),
            ("server_state{state=\"leader\"}", 1.0),
        ] {
            assert_eq!(value(&s, name), Some(expected), "{name} in\n{out}");
        }
    }
}
