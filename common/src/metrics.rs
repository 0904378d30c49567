//! Prometheus metrics over HTTP, shared by brokers and coord members.
//!
//! Each process keeps one [`Registry`]: counters and histograms that the hot
//! paths bump once per batch or request, and [`Collector`]s that read gauges
//! (partition counts, znode counts, lag) from the process's own state when
//! Prometheus scrapes, so nothing is maintained for a gauge between scrapes.
//! [`serve`] answers `GET /metrics` in the Prometheus text format 0.0.4 on a
//! listener of its own, away from the client port.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabel, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
pub use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

pub use prometheus_client::collector::Collector;

/// Labels as written: `[("topic", "orders"), ("partition", "0")]`.
pub type Labels = Vec<(&'static str, Cow<'static, str>)>;

/// Work a scrape waits for before the registry is encoded: figures that
/// need a round trip (a consumer group's lag asks partition leaders for
/// their end offsets), which a [`Collector`] cannot make.
pub type Prepare =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;

#[derive(Clone)]
struct Endpoint {
    registry: Arc<Registry>,
    prepare: Option<Prepare>,
}

/// Serves `GET /metrics` from `registry` on `listener` until `shutdown` turns
/// true, running `prepare` before each scrape. Anything else is 404; `GET /`
/// names the endpoint.
pub async fn serve(
    listener: TcpListener,
    registry: Arc<Registry>,
    prepare: Option<Prepare>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(scrape))
        .route("/", get(|| async { "Prometheus metrics: GET /metrics\n" }))
        .with_state(Endpoint { registry, prepare });
    info!(addr = ?listener.local_addr().ok(), "serving Prometheus metrics at /metrics");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            while !*shutdown.borrow() {
                if shutdown.changed().await.is_err() {
                    return;
                }
            }
        })
        .await
}

/// Binds the metrics listener; an address in use or a bad host is an
/// error naming `key` (the configuration key that asked for it).
pub async fn bind(key: &str, addr: &str) -> anyhow::Result<TcpListener> {
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host(addr)
        .await
        .map_err(|e| anyhow::anyhow!("{key}={addr}: {e}"))?
        .collect();
    let mut last = None;
    for a in resolved {
        match TcpListener::bind(a).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => anyhow::anyhow!("{key}={addr}: cannot listen: {e}"),
        None => anyhow::anyhow!("{key}={addr}: no address to listen on"),
    })
}

async fn scrape(State(endpoint): State<Endpoint>) -> Response {
    if let Some(prepare) = &endpoint.prepare {
        prepare().await;
    }
    let registry = endpoint.registry;
    // Encoding runs the collectors, which read the process's state; keep
    // it off the async workers' toes.
    let encoded = tokio::task::spawn_blocking(move || {
        let mut out = String::with_capacity(64 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut out, &registry).map(|()| out)
    })
    .await;
    match encoded {
        Ok(Ok(body)) => (
            [(
                header::CONTENT_TYPE,
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            )],
            body,
        )
            .into_response(),
        Ok(Err(e)) => {
            warn!("encoding metrics: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "encoding metrics failed\n",
            )
                .into_response()
        }
        Err(e) => {
            warn!("encoding metrics: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "encoding metrics failed\n",
            )
                .into_response()
        }
    }
}

/// Writes metrics read at scrape time, from a [`Collector`].
pub struct Scrape<'a> {
    encoder: DescriptorEncoder<'a>,
}

impl<'a> Scrape<'a> {
    pub fn new(encoder: DescriptorEncoder<'a>) -> Scrape<'a> {
        Scrape { encoder }
    }

    /// One gauge without labels.
    pub fn gauge(&mut self, name: &str, help: &str, value: f64) -> std::fmt::Result {
        let m = self
            .encoder
            .encode_descriptor(name, help, None, MetricType::Gauge)?;
        ConstGauge::new(value).encode(m)
    }

    /// A gauge with one sample per label set. Written even when empty, so
    /// the name is always there to query.
    pub fn gauges(
        &mut self,
        name: &str,
        help: &str,
        samples: impl IntoIterator<Item = (Labels, f64)>,
    ) -> std::fmt::Result {
        let mut m = self
            .encoder
            .encode_descriptor(name, help, None, MetricType::Gauge)?;
        for (labels, value) in samples {
            ConstGauge::new(value).encode(m.encode_family(&labels)?)?;
        }
        Ok(())
    }

    /// A counter kept elsewhere (read at scrape time); `name` without
    /// `_total`, which the encoder adds.
    pub fn counter(&mut self, name: &str, help: &str, value: u64) -> std::fmt::Result {
        let m = self
            .encoder
            .encode_descriptor(name, help, None, MetricType::Counter)?;
        ConstCounter::new(value).encode(m)
    }
}

/// Whatever turns a label value into text: topic names, ids, states.
pub fn label(value: impl Into<Cow<'static, str>>) -> Cow<'static, str> {
    value.into()
}

/// Label sets of counter families bumped on hot paths: cheap to hash and
/// clone (one `Arc<str>` per topic).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct TopicLabel {
    pub topic: Arc<str>,
}

impl EncodeLabelSet for TopicLabel {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelSetEncoder<'_>,
    ) -> std::fmt::Result {
        EncodeLabel::encode(&("topic", &*self.topic), encoder.encode_label())
    }
}

/// Registry wrapper for a process's collector: reads state on every scrape.
pub fn register_collector(registry: &mut Registry, collector: impl Collector) {
    registry.register_collector(Box::new(collector));
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;

    #[derive(Debug)]
    struct Fixed;

    impl Collector for Fixed {
        fn encode(&self, encoder: DescriptorEncoder) -> std::fmt::Result {
            let mut s = Scrape::new(encoder);
            s.gauge("znode_count", "Znodes in the tree", 5.0)?;
            s.gauges(
                "kafka_log_log_size",
                "Log size",
                [(vec![("topic", label("t")), ("partition", label("0"))], 42.0)],
            )?;
            s.gauges("empty_family", "Nothing yet", [])
        }
    }

    #[tokio::test]
    async fn serves_prometheus_text_with_counters_and_scrape_time_gauges() {
        let mut registry = Registry::default();
        let by_topic = Family::<TopicLabel, Counter>::default();
        registry.register(
            "kafka_server_brokertopicmetrics_messagesin",
            "Messages in",
            by_topic.clone(),
        );
        by_topic
            .get_or_create(&TopicLabel { topic: "t".into() })
            .inc_by(3);
        register_collector(&mut registry, Fixed);
        let listener = bind("test", "127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop_tx, stop) = watch::channel(false);
        let server = tokio::spawn(serve(listener, Arc::new(registry), None, stop));

        let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut body = String::new();
        conn.read_to_string(&mut body).await.expect("read");
        assert!(body.starts_with("HTTP/1.1 200"), "{body}");
        assert!(body.contains("text/plain; version=0.0.4"), "{body}");
        assert!(
            body.contains("kafka_server_brokertopicmetrics_messagesin_total{topic=\"t\"} 3"),
            "{body}"
        );
        assert!(body.contains("\nznode_count 5"), "{body}");
        assert!(
            body.contains("kafka_log_log_size{topic=\"t\",partition=\"0\"} 42"),
            "{body}"
        );
        assert!(body.contains("# TYPE empty_family gauge"), "{body}");
        stop_tx.send(true).expect("stop");
        server.await.expect("join").expect("serve");
    }

    #[tokio::test]
    async fn a_port_in_use_names_the_key() {
        let held = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = held.local_addr().expect("addr").to_string();
        let e = bind("metricsProvider.httpPort", &addr)
            .await
            .expect_err("in use");
        assert!(e.to_string().contains("metricsProvider.httpPort"), "{e}");
    }
}
