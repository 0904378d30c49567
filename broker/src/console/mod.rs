//! `runnel console`: a web console for a Runnel (or Kafka) cluster.
//!
//! Its own small program, a client of the cluster like any other: Kafka
//! requests for topics, records and offsets, coord reads for consumer
//! groups and the coord tree, `srvr` for coord members. Pages are plain
//! server-rendered HTML; the parts that change (overview, partitions,
//! groups, timeline) are fragments that a few lines of JavaScript
//! re-fetch whenever the server-sent event stream `/events` says the
//! cluster view changed — live without a page reload, no build step,
//! everything embedded in the binary.
//!
//! Its coord session is secured as Kafka's ZooKeeper tools secure theirs:
//! TLS from the file of `--zk-tls-config-file` (Kafka's flag; its
//! `zookeeper.ssl.*` keys), a SASL login from the JAAS `Client` section of
//! `-Djava.security.auth.login.config=<file>` in `KAFKA_OPTS`. Having no
//! JVM, the console also takes that key (and `zookeeper.sasl.client`,
//! `zookeeper.sasl.clientconfig`) from the `--zk-tls-config-file` file.
//!
//! # Layout
//! * [`view`]: the poller (cluster view twice a second) and the timeline.
//! * [`pages`]: the pages and fragments (GET).
//! * [`actions`]: the forms (POST): topics, configs, partitions, produce,
//!   offset resets. Bad input gets a message on the page and changes nothing.
//! * [`html`]: escaping, layout, tables, record rendering.

pub mod actions;
pub mod html;
pub mod pages;
pub mod view;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use clap::Args;
use runnel_common::coord_client::{self, CoordClientSecurity};
use runnel_common::kafka::{Client, ConnectionConfig};
use tokio::sync::watch;
use zookeeper_client as zk;

use view::{ClusterView, Watcher};

#[derive(Args, Debug)]
pub struct ConsoleArgs {
    /// Kafka bootstrap servers, `host:port[,host:port…]`.
    #[arg(long = "bootstrap-server")]
    pub bootstrap_server: String,
    /// Coord connect string with the brokers' chroot, as in their
    /// `zookeeper.connect` (e.g. `127.0.0.1:2181,127.0.0.1:2182/runnel`).
    #[arg(long)]
    pub zookeeper: String,
    /// Where to serve the console.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// A broker's Prometheus endpoint (`http://host:port/metrics`),
    /// repeatable: the overview's bytes in and out per second come from them.
    #[arg(long = "metrics-url")]
    pub metrics_urls: Vec<String>,
    /// A Kafka client properties file (as Kafka's tools take it): the
    /// console connects to the brokers with its `security.protocol`,
    /// `ssl.*` and `sasl.*` settings, so it can watch a secure cluster.
    #[arg(long = "command-config", value_name = "FILE")]
    pub command_config: Option<String>,
    /// Coord client properties, as Kafka's tools take them: `zookeeper.ssl.*`
    /// (TLS to coord's secure port) and `java.security.auth.login.config`,
    /// `zookeeper.sasl.*` (a JAAS `Client` login, else from `KAFKA_OPTS`);
    /// other keys are ignored, as Kafka ignores them.
    #[arg(long = "zk-tls-config-file", value_name = "FILE")]
    pub zk_tls_config_file: Option<String>,
}

/// The keys `--zk-tls-config-file` is read for (Kafka's
/// `ZkSecurityMigrator`/`kafka-configs.sh` list, plus the login keys a JVM
/// would take as system properties).
const ZK_CLIENT_KEYS: &[&str] = &[
    "zookeeper.clientCnxnSocket",
    "zookeeper.ssl.client.enable",
    "zookeeper.ssl.keystore.location",
    "zookeeper.ssl.keystore.type",
    "zookeeper.ssl.truststore.location",
    "zookeeper.ssl.truststore.type",
    "zookeeper.ssl.enabled.protocols",
    "java.security.auth.login.config",
    "zookeeper.sasl.client",
    "zookeeper.sasl.clientconfig",
];

/// The console's TLS and SASL to coord from `--zk-tls-config-file` and
/// `KAFKA_OPTS`; errors name the file and key.
fn coord_security(file: Option<&str>) -> anyhow::Result<CoordClientSecurity> {
    let entries = match file {
        Some(path) => runnel_common::properties::read_file(std::path::Path::new(path))
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        None => Vec::new(),
    };
    for e in &entries {
        if !ZK_CLIENT_KEYS.contains(&e.key.as_str()) {
            eprintln!(
                "WARNING: --zk-tls-config-file: {} is not a coord client key; ignored",
                e.key
            );
        }
    }
    let lookup = |key: &str| {
        entries
            .iter()
            .rev()
            .find(|e| e.key == key)
            .map(|e| e.value.clone())
    };
    let jvm_opts = coord_client::jvm_opts_from_env(&["KAFKA_OPTS"]);
    CoordClientSecurity::from_config(&lookup, &jvm_opts).map_err(|e| match file {
        Some(path) => anyhow::anyhow!("--zk-tls-config-file {path}: {}: {}", e.key, e.reason),
        None => anyhow::anyhow!("{}: {}", e.key, e.reason),
    })
}

/// What every handler shares.
pub struct Console {
    pub client: Arc<Client>,
    pub view: watch::Receiver<Arc<ClusterView>>,
    /// Coord hosts (no chroot) and the brokers' chroot ("" for none).
    pub coord_hosts: String,
    pub chroot: String,
    /// TLS and SASL login for the coord session.
    coord_security: CoordClientSecurity,
    zk: tokio::sync::Mutex<Option<zk::Client>>,
}

impl Console {
    pub fn view(&self) -> Arc<ClusterView> {
        self.view.borrow().clone()
    }

    /// A coord session (made on first use, remade after it ends).
    pub async fn zk(&self) -> anyhow::Result<zk::Client> {
        let mut guard = self.zk.lock().await;
        if let Some(c) = guard.as_ref() {
            if !c.state().is_terminated() {
                return Ok(c.clone());
            }
        }
        let connector = zk::Client::connector()
            .with_session_timeout(Duration::from_secs(10))
            .with_connection_timeout(Duration::from_secs(5));
        let connect = self.coord_security.connect(connector, &self.coord_hosts);
        let client = tokio::time::timeout(Duration::from_secs(10), connect)
            .await
            .map_err(|_| anyhow::anyhow!("coord at {} did not answer", self.coord_hosts))?
            .with_context(|| format!("coord at {}", self.coord_hosts))?;
        *guard = Some(client.clone());
        Ok(client)
    }
}

/// Splits `hosts/chroot` into its two parts.
fn split_connect(connect: &str) -> (String, String) {
    match connect.find('/') {
        Some(i) => (
            connect[..i].to_string(),
            connect[i..].trim_end_matches('/').to_string(),
        ),
        None => (connect.to_string(), String::new()),
    }
}

pub async fn run(args: ConsoleArgs) -> anyhow::Result<()> {
    // The same reading of the file as every other `runnel` command's
    // `--command-config`, unknown keys warned about alike.
    let security =
        crate::cli::client_security(args.command_config.as_deref(), &BTreeMap::new(), "")?;
    let coord_security = coord_security(args.zk_tls_config_file.as_deref())?;
    let protocol = security.protocol();
    let config = ConnectionConfig {
        client_id: "runnel-console".to_string(),
        request_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(3),
        security,
    };
    let client = Arc::new(
        Client::connect(&args.bootstrap_server, config)
            .await
            .with_context(|| {
                format!(
                    "cannot reach the cluster at {} (security.protocol={})",
                    args.bootstrap_server,
                    protocol.name()
                )
            })?,
    );
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("--listen {}: cannot listen", args.listen))?;
    let (hosts, chroot) = split_connect(&args.zookeeper);
    let (tx, rx) = watch::channel(Arc::new(ClusterView::default()));
    for u in &args.metrics_urls {
        if !u.starts_with("http://") {
            anyhow::bail!("--metrics-url {u}: expected http://host:port/metrics");
        }
    }
    tokio::spawn(Watcher::new(client.clone(), &hosts, args.metrics_urls.clone()).run(tx));
    let console = Arc::new(Console {
        client,
        view: rx,
        coord_hosts: hosts,
        chroot,
        coord_security,
        zk: tokio::sync::Mutex::new(None),
    });
    let addr = listener.local_addr()?;
    println!("console: http://{addr}/");
    axum::serve(listener, router(console))
        .await
        .context("serving the console")
}

pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/", get(pages::overview))
        .route("/fragment/overview", get(pages::overview_fragment))
        .route("/topics", get(pages::topics).post(actions::create_topic))
        .route("/fragment/topics", get(pages::topics_fragment))
        .route("/topics/{topic}", get(pages::topic))
        .route("/fragment/topics/{topic}", get(pages::topic_fragment))
        .route("/topics/{topic}/messages", get(pages::messages))
        .route("/topics/{topic}/delete", post(actions::delete_topic))
        .route("/topics/{topic}/partitions", post(actions::add_partitions))
        .route("/topics/{topic}/config", post(actions::alter_config))
        .route("/topics/{topic}/produce", post(actions::produce))
        .route("/groups", get(pages::groups))
        .route("/fragment/groups", get(pages::groups_fragment))
        .route("/groups/{group}", get(pages::group))
        .route("/fragment/groups/{group}", get(pages::group_fragment))
        .route("/groups/{group}/reset", post(actions::reset_offsets))
        .route("/coord", get(pages::coord))
        .route("/timeline", get(pages::timeline))
        .route("/fragment/timeline", get(pages::timeline_fragment))
        .route("/events", get(events))
        .route("/assets/console.js", get(js))
        .route("/assets/console.css", get(css))
        .with_state(console)
}

/// One `update` event per new cluster view.
async fn events(
    axum::extract::State(console): axum::extract::State<Arc<Console>>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let rx = console.view.clone();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.changed().await.ok()?;
        let polled = rx.borrow_and_update().polled_ms;
        Some((
            Ok(Event::default().event("update").data(polled.to_string())),
            rx,
        ))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn js() -> impl IntoResponse {
    (
        [("content-type", "text/javascript; charset=utf-8")],
        include_str!("assets/console.js"),
    )
}

async fn css() -> impl IntoResponse {
    (
        [("content-type", "text/css; charset=utf-8")],
        include_str!("assets/console.css"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_strings_split_at_the_chroot() {
        assert_eq!(
            split_connect("127.0.0.1:2181,127.0.0.1:2182/runnel"),
            ("127.0.0.1:2181,127.0.0.1:2182".into(), "/runnel".into())
        );
        assert_eq!(split_connect("h:1"), ("h:1".into(), String::new()));
    }

    #[test]
    fn takes_kafkas_command_config_flag() {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from([
            "runnel",
            "console",
            "--bootstrap-server",
            "b:1",
            "--zookeeper",
            "z:2/runnel",
            "--command-config",
            "client.properties",
        ])
        .expect("parses");
        let crate::cli::Command::Console(args) = cli.command else {
            panic!("not the console: {:?}", cli.command);
        };
        assert_eq!(args.command_config.as_deref(), Some("client.properties"));
    }

    #[test]
    fn coord_login_from_the_zk_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let jaas = dir.path().join("jaas.conf");
        std::fs::write(
            &jaas,
            "Client { org.apache.zookeeper.server.auth.DigestLoginModule required \
             username=\"kafka\" password=\"s\"; };",
        )
        .unwrap();
        let file = dir.path().join("zk.properties");
        std::fs::write(
            &file,
            format!("java.security.auth.login.config={}\n", jaas.display()),
        )
        .unwrap();
        let security = coord_security(file.to_str()).unwrap();
        assert_eq!(security.sasl.map(|s| s.username), Some("kafka".into()));
        std::fs::write(&file, "zookeeper.ssl.client.enable=true\n").unwrap();
        let err = coord_security(file.to_str()).unwrap_err().to_string();
        assert!(err.contains("zookeeper.ssl.truststore.location"), "{err}");
    }
}
