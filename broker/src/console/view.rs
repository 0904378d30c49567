//! What the console shows live: the cluster as its clients see it, polled
//! twice a second, and a timeline of what changed between two polls.
//!
//! The console is a client of the cluster like any other (DESIGN.md:
//! services never reach into a broker): brokers, controller, leaders and
//! ISRs come from Metadata requests, log end offsets from ListOffsets,
//! coord members' roles and zxids from the `srvr` four-letter word. A
//! broker that stops answering on its port counts as down at once, before
//! coord expires its session, so the unavailability measured for its
//! partitions starts when it died, not when the controller noticed.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use runnel_common::kafka::fetch::LATEST;
use runnel_common::kafka::{Client, ClusterMetadata, TopicMetadata};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tracing::debug;

/// How often the cluster is polled.
pub const POLL: Duration = Duration::from_millis(500);
/// Events kept for the timeline.
const TIMELINE: usize = 500;
/// How long a probe of a port or a four-letter word may take.
const PROBE: Duration = Duration::from_millis(400);

/// A broker the console has seen.
#[derive(Debug, Clone)]
pub struct BrokerView {
    pub id: i32,
    pub addr: String,
    pub up: bool,
    pub controller: bool,
}

/// A coord member from the connect string.
#[derive(Debug, Clone)]
pub struct CoordView {
    pub addr: String,
    /// `leader`, `follower`, `standalone`, or `down`.
    pub mode: String,
    pub zxid: String,
}

#[derive(Debug, Clone)]
pub struct PartitionView {
    pub partition: i32,
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub end_offset: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct TopicView {
    pub name: String,
    pub partitions: Vec<PartitionView>,
}

impl TopicView {
    /// A topic as a Metadata response describes it (end offsets unknown).
    pub fn from_metadata(t: &TopicMetadata) -> TopicView {
        let partitions = t
            .partitions
            .iter()
            .map(|p| PartitionView {
                partition: p.partition,
                leader: p.leader,
                leader_epoch: p.leader_epoch,
                replicas: p.replicas.clone(),
                isr: p.isr.clone(),
                end_offset: None,
            })
            .collect();
        TopicView {
            name: t.name.clone(),
            partitions,
        }
    }
}

/// One timeline entry.
#[derive(Debug, Clone)]
pub struct Event {
    /// Milliseconds since the epoch.
    pub at_ms: i64,
    pub kind: &'static str,
    pub text: String,
}

/// Everything the pages render from.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    pub polled_ms: i64,
    pub error: Option<String>,
    pub cluster_id: Option<String>,
    pub controller: i32,
    pub brokers: Vec<BrokerView>,
    pub coord: Vec<CoordView>,
    pub topics: BTreeMap<String, TopicView>,
    pub under_replicated: usize,
    pub offline: usize,
    /// Records appended per second over the last poll (from end offsets).
    pub messages_in_per_sec: f64,
    /// Record bytes into and out of the brokers per second, from their
    /// Prometheus metrics (None without `--metrics-url`).
    pub bytes_in_per_sec: Option<f64>,
    pub bytes_out_per_sec: Option<f64>,
    pub timeline: VecDeque<Event>,
}

impl ClusterView {
    pub fn alive(&self, broker: i32) -> bool {
        self.brokers.iter().any(|b| b.id == broker && b.up)
    }

    /// A partition can be written to: its leader is a live broker.
    pub fn available(&self, p: &PartitionView) -> bool {
        p.leader >= 0 && self.alive(p.leader)
    }
}

pub use runnel_common::clock::now_ms;

/// The poller: owns the history needed to diff polls.
pub struct Watcher {
    client: Arc<Client>,
    coord_hosts: Vec<String>,
    /// Every broker seen, with its address.
    known: BTreeMap<i32, String>,
    /// Partitions without a live leader, since when.
    unavailable_since: BTreeMap<(String, i32), i64>,
    last_ends: Option<(Instant, i64)>,
    /// The brokers' `/metrics` URLs, and the byte totals read last.
    metrics_urls: Vec<String>,
    last_bytes: Option<(Instant, f64, f64)>,
    polls: u64,
    view: ClusterView,
}

impl Watcher {
    pub fn new(client: Arc<Client>, coord_connect: &str, metrics_urls: Vec<String>) -> Watcher {
        let hosts = coord_connect
            .split('/')
            .next()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .collect();
        Watcher {
            client,
            coord_hosts: hosts,
            known: BTreeMap::new(),
            unavailable_since: BTreeMap::new(),
            last_ends: None,
            metrics_urls,
            last_bytes: None,
            polls: 0,
            view: ClusterView::default(),
        }
    }

    /// Polls forever, publishing each view.
    pub async fn run(mut self, out: watch::Sender<Arc<ClusterView>>) {
        loop {
            let started = Instant::now();
            self.poll().await;
            if out.send(Arc::new(self.view.clone())).is_err() {
                return;
            }
            tokio::time::sleep(POLL.saturating_sub(started.elapsed())).await;
        }
    }

    fn event(&mut self, kind: &'static str, text: String) {
        self.view.timeline.push_front(Event {
            at_ms: now_ms(),
            kind,
            text,
        });
        self.view.timeline.truncate(TIMELINE);
    }

    async fn poll(&mut self) {
        let now = now_ms();
        let md = match self.client.metadata(None, false).await {
            Ok(md) => {
                self.view.error = None;
                Some(md)
            }
            Err(e) => {
                self.view.error = Some(format!("cluster metadata: {e}"));
                None
            }
        };
        let coord = self.poll_coord().await;
        self.diff_coord(&coord);
        self.view.coord = coord;
        let Some(md) = md else {
            self.view.polled_ms = now;
            return;
        };
        self.view.cluster_id = md.cluster_id.clone();
        for (id, b) in &md.brokers {
            self.known.insert(*id, b.addr());
        }
        let brokers = self.poll_brokers(&md).await;
        self.diff_brokers(&brokers, md.controller_id);
        self.view.brokers = brokers;
        self.view.controller = md.controller_id;
        let mut topics = self.topics(&md);
        self.fill_end_offsets(&mut topics).await;
        // Every 2 s: a 1 000-partition broker's metrics are ~300 KB.
        if self.polls.is_multiple_of(4) {
            self.poll_byte_rates().await;
        }
        self.polls += 1;
        self.diff_partitions(&topics, now);
        self.view.topics = topics;
        let (mut urp, mut offline) = (0, 0);
        for t in self.view.topics.values() {
            for p in &t.partitions {
                if p.isr.len() < p.replicas.len() {
                    urp += 1;
                }
                if !self.view.available(p) {
                    offline += 1;
                }
            }
        }
        self.view.under_replicated = urp;
        self.view.offline = offline;
        self.view.polled_ms = now;
    }

    async fn poll_brokers(&self, md: &ClusterMetadata) -> Vec<BrokerView> {
        let mut out = Vec::new();
        for (id, addr) in &self.known {
            // Registered in coord and accepting connections.
            let registered = md.brokers.contains_key(id);
            let answers = matches!(
                tokio::time::timeout(PROBE, TcpStream::connect(addr)).await,
                Ok(Ok(_))
            );
            out.push(BrokerView {
                id: *id,
                addr: addr.clone(),
                up: registered && answers,
                controller: md.controller_id == *id,
            });
        }
        out
    }

    async fn poll_coord(&self) -> Vec<CoordView> {
        let mut out = Vec::new();
        for addr in &self.coord_hosts {
            let (mode, zxid) = match four_letter(addr, "srvr").await {
                Some(text) => {
                    let field = |name: &str| {
                        text.lines()
                            .find_map(|l| l.strip_prefix(name))
                            .map(|v| v.trim().to_string())
                    };
                    (
                        field("Mode:").unwrap_or_else(|| "not serving".into()),
                        field("Zxid:").unwrap_or_default(),
                    )
                }
                None => ("down".into(), String::new()),
            };
            out.push(CoordView {
                addr: addr.clone(),
                mode,
                zxid,
            });
        }
        out
    }

    fn topics(&self, md: &ClusterMetadata) -> BTreeMap<String, TopicView> {
        md.topics
            .values()
            .map(|t| (t.name.clone(), TopicView::from_metadata(t)))
            .collect()
    }

    async fn fill_end_offsets(&mut self, topics: &mut BTreeMap<String, TopicView>) {
        let mut total = 0i64;
        let mut complete = true;
        for t in topics.values_mut() {
            let parts: Vec<i32> = t.partitions.iter().map(|p| p.partition).collect();
            match tokio::time::timeout(POLL, self.client.list_offsets(&t.name, &parts, LATEST))
                .await
            {
                Ok(Ok(ends)) => {
                    for p in &mut t.partitions {
                        p.end_offset = ends
                            .get(&p.partition)
                            .and_then(|r| r.as_ref().ok())
                            .copied();
                        match p.end_offset {
                            Some(e) => total += e,
                            None => complete = false,
                        }
                    }
                }
                Ok(Err(e)) => {
                    debug!(topic = %t.name, "end offsets: {e}");
                    complete = false;
                }
                Err(_) => complete = false,
            }
        }
        let now = Instant::now();
        if complete {
            if let Some((at, before)) = self.last_ends {
                let secs = now.duration_since(at).as_secs_f64();
                if secs > 0.0 && total >= before {
                    self.view.messages_in_per_sec = (total - before) as f64 / secs;
                }
            }
            self.last_ends = Some((now, total));
        }
    }

    /// Sums the brokers' bytes-in and bytes-out counters and turns the
    /// change since the last reading into rates. A broker that does not
    /// answer makes the reading incomplete: no rate from it (a restarted
    /// broker's counters start again at zero, which would read as a drop).
    async fn poll_byte_rates(&mut self) {
        if self.metrics_urls.is_empty() {
            return;
        }
        let (mut bytes_in, mut bytes_out) = (0.0, 0.0);
        for url in &self.metrics_urls {
            let Some(body) = http_get(url).await else {
                self.last_bytes = None;
                return;
            };
            bytes_in += sum_of(&body, "kafka_server_brokertopicmetrics_bytesin_total");
            bytes_out += sum_of(&body, "kafka_server_brokertopicmetrics_bytesout_total");
        }
        let now = Instant::now();
        if let Some((at, was_in, was_out)) = self.last_bytes {
            let secs = now.duration_since(at).as_secs_f64();
            if secs > 0.0 && bytes_in >= was_in && bytes_out >= was_out {
                self.view.bytes_in_per_sec = Some((bytes_in - was_in) / secs);
                self.view.bytes_out_per_sec = Some((bytes_out - was_out) / secs);
            }
        }
        self.last_bytes = Some((now, bytes_in, bytes_out));
    }

    fn diff_coord(&mut self, coord: &[CoordView]) {
        let leader = |c: &[CoordView]| {
            c.iter()
                .find(|m| m.mode == "leader")
                .map(|m| m.addr.clone())
        };
        let before = self.view.coord.clone();
        if before.is_empty() {
            return;
        }
        for (old, new) in before.iter().zip(coord) {
            if old.mode != new.mode && (old.mode == "down" || new.mode == "down") {
                let text = if new.mode == "down" {
                    format!(
                        "coord member {} stopped answering (was {})",
                        new.addr, old.mode
                    )
                } else {
                    format!("coord member {} answers again ({})", new.addr, new.mode)
                };
                self.event("coord", text);
            }
        }
        let (was, is) = (leader(&before), leader(coord));
        if was != is {
            let text = match (&was, &is) {
                (Some(a), Some(b)) => format!("coord leader moved: {a} → {b}"),
                (Some(a), None) => format!("coord has no leader (was {a})"),
                (None, Some(b)) => format!("coord leader elected: {b}"),
                (None, None) => return,
            };
            self.event("coord-leader", text);
        }
    }

    fn diff_brokers(&mut self, brokers: &[BrokerView], controller: i32) {
        let before: BTreeMap<i32, bool> = self.view.brokers.iter().map(|b| (b.id, b.up)).collect();
        for b in brokers {
            match before.get(&b.id) {
                Some(true) if !b.up => {
                    self.event("broker-down", format!("broker {} died ({})", b.id, b.addr))
                }
                Some(false) if b.up => self.event(
                    "broker-up",
                    format!("broker {} came back ({})", b.id, b.addr),
                ),
                None if !self.view.brokers.is_empty() => {
                    self.event("broker-up", format!("broker {} joined ({})", b.id, b.addr))
                }
                _ => {}
            }
        }
        if !self.view.brokers.is_empty() && self.view.controller != controller {
            let text = if controller < 0 {
                format!("no controller (was broker {})", self.view.controller)
            } else {
                format!(
                    "controller moved: broker {} → broker {controller}",
                    self.view.controller
                )
            };
            self.event("controller", text);
        }
    }

    fn diff_partitions(&mut self, topics: &BTreeMap<String, TopicView>, now: i64) {
        let first = self.view.topics.is_empty() && self.view.timeline.is_empty();
        let live: BTreeSet<i32> = self
            .view
            .brokers
            .iter()
            .filter(|b| b.up)
            .map(|b| b.id)
            .collect();
        let mut events = Vec::new();
        for t in topics.values() {
            let old = self.view.topics.get(&t.name);
            for p in &t.partitions {
                let key = (t.name.clone(), p.partition);
                let available = p.leader >= 0 && live.contains(&p.leader);
                if !available {
                    self.unavailable_since.entry(key.clone()).or_insert(now);
                }
                let prev =
                    old.and_then(|o| o.partitions.iter().find(|q| q.partition == p.partition));
                let Some(prev) = prev else { continue };
                if first {
                    continue;
                }
                if p.leader != prev.leader {
                    let down_for = if available {
                        self.unavailable_since.remove(&key).map(|since| now - since)
                    } else {
                        None
                    };
                    let text = format!(
                        "leader elected for {}-{}: broker {} → broker {} (epoch {}){}",
                        t.name,
                        p.partition,
                        prev.leader,
                        p.leader,
                        p.leader_epoch,
                        down_for.map_or(String::new(), |ms| format!(", unavailable for {ms} ms"))
                    );
                    events.push(("election", text));
                } else if available {
                    if let Some(since) = self.unavailable_since.remove(&key) {
                        events.push((
                            "available",
                            format!(
                                "{}-{} available again on broker {}, unavailable for {} ms",
                                t.name,
                                p.partition,
                                p.leader,
                                now - since
                            ),
                        ));
                    }
                }
                if p.isr.len() < prev.isr.len() {
                    events.push((
                        "isr-shrink",
                        format!(
                            "ISR of {}-{} shrank: {:?} → {:?}",
                            t.name, p.partition, prev.isr, p.isr
                        ),
                    ));
                } else if p.isr.len() > prev.isr.len() {
                    events.push((
                        "isr-expand",
                        format!(
                            "ISR of {}-{} expanded: {:?} → {:?}",
                            t.name, p.partition, prev.isr, p.isr
                        ),
                    ));
                }
            }
        }
        if !first {
            for name in topics.keys() {
                if !self.view.topics.contains_key(name) {
                    events.push(("topic", format!("topic {name} created")));
                }
            }
            for name in self.view.topics.keys() {
                if !topics.contains_key(name) {
                    events.push(("topic", format!("topic {name} deleted")));
                }
            }
        }
        self.unavailable_since
            .retain(|(t, _), _| topics.contains_key(t));
        for (kind, text) in events {
            self.event(kind, text);
        }
    }
}

/// The body of `GET url` (plain `http://host:port/path`), or None.
async fn http_get(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let run = async {
        let mut s = TcpStream::connect(hostport).await.ok()?;
        let req = format!("GET {path} HTTP/1.0\r\nHost: {hostport}\r\n\r\n");
        s.write_all(req.as_bytes()).await.ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).await.ok()?;
        let (head, body) = out.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.1 200")
            .then(|| body.to_string())
            .or_else(|| head.starts_with("HTTP/1.0 200").then(|| body.to_string()))
    };
    tokio::time::timeout(Duration::from_secs(1), run)
        .await
        .ok()
        .flatten()
}

/// The sum of every sample of `name` in Prometheus text.
fn sum_of(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Sends a four-letter word to a coord member; its answer, or None.
pub async fn four_letter(addr: &str, word: &str) -> Option<String> {
    let run = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        s.write_all(word.as_bytes()).await.ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).await.ok()?;
        Some(out)
    };
    tokio::time::timeout(PROBE, run).await.ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_a_metric_over_its_labels() {
        let text = "# TYPE x_total counter\nx_total{topic=\"a\"} 10\nx_total{topic=\"b\"} 5.5\nx_totalother 99\nx_total 1\n";
        assert_eq!(sum_of(text, "x_total"), 16.5);
        assert_eq!(sum_of(text, "missing"), 0.0);
    }
}
