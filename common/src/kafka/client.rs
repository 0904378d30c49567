//! The client: bootstrap, cluster metadata, one connection per broker.
//!
//! Requests that must reach a particular broker (a partition's leader for
//! Produce, Fetch and ListOffsets; the controller for topic changes) go
//! through [`Client::node`]; anything else through [`Client::any`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::connection::{Connection, ConnectionConfig};
use super::error::KafkaError;
use super::metadata::{self, ClusterMetadata, METADATA_VERSIONS};

pub struct Client {
    config: ConnectionConfig,
    bootstrap: Vec<String>,
    /// Open connections by `host:port`.
    conns: tokio::sync::Mutex<HashMap<String, Arc<Connection>>>,
    /// Broker addresses from the latest metadata.
    brokers: Mutex<BTreeMap<i32, String>>,
}

impl Client {
    /// Connects to the first reachable server of a `host:port[,host:port…]`
    /// list (Kafka's `bootstrap.servers`) and reads the cluster metadata.
    pub async fn connect(bootstrap: &str, config: ConnectionConfig) -> Result<Client, KafkaError> {
        let servers: Vec<String> = bootstrap
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if servers.is_empty() {
            return Err(KafkaError::Invalid(format!(
                "bootstrap server list {bootstrap:?} is empty"
            )));
        }
        let client = Client {
            config,
            bootstrap: servers,
            conns: tokio::sync::Mutex::new(HashMap::new()),
            brokers: Mutex::new(BTreeMap::new()),
        };
        client.any().await?;
        client.metadata(Some(&[]), false).await?;
        Ok(client)
    }

    pub fn config(&self) -> &ConnectionConfig {
        &self.config
    }

    /// A live connection to any broker: an open one, else the bootstrap
    /// servers in order.
    pub async fn any(&self) -> Result<Arc<Connection>, KafkaError> {
        {
            let conns = self.conns.lock().await;
            if let Some(c) = conns.values().find(|c| !c.is_closed()) {
                return Ok(c.clone());
            }
        }
        let mut last = None;
        for addr in &self.bootstrap {
            match self.connection(addr).await {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::debug!(%addr, error = %e, "bootstrap server unreachable");
                    last = Some(e);
                }
            }
        }
        Err(KafkaError::NoBroker {
            tried: self.bootstrap.join(","),
            last: Box::new(last.unwrap_or_else(|| KafkaError::Invalid("no servers".into()))),
        })
    }

    /// The connection to one broker by id (from the latest metadata).
    pub async fn node(&self, id: i32) -> Result<Arc<Connection>, KafkaError> {
        let addr = self.broker_addr(id);
        let addr = match addr {
            Some(a) => a,
            None => {
                self.metadata(Some(&[]), false).await?;
                self.broker_addr(id).ok_or(KafkaError::UnknownBroker(id))?
            }
        };
        self.connection(&addr).await
    }

    fn broker_addr(&self, id: i32) -> Option<String> {
        self.brokers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    /// An open connection to `addr`, opened now if there is none (or the
    /// old one died).
    async fn connection(&self, addr: &str) -> Result<Arc<Connection>, KafkaError> {
        let mut conns = self.conns.lock().await;
        if let Some(c) = conns.get(addr) {
            if !c.is_closed() {
                return Ok(c.clone());
            }
        }
        let c = Arc::new(Connection::connect(addr, &self.config).await?);
        conns.insert(addr.to_string(), c.clone());
        Ok(c)
    }

    /// Metadata for some topics (`None`: all; `Some(&[])`: brokers only).
    /// Also refreshes the broker addresses [`Self::node`] uses.
    pub async fn metadata(
        &self,
        topics: Option<&[&str]>,
        allow_auto_topic_creation: bool,
    ) -> Result<ClusterMetadata, KafkaError> {
        let conn = self.any().await?;
        let version =
            conn.version::<kafka_protocol::messages::MetadataRequest>(METADATA_VERSIONS)?;
        let req = metadata::request(topics, allow_auto_topic_creation);
        let md = metadata::from_response(conn.call(&req, version).await?);
        let mut brokers = self.brokers.lock().unwrap_or_else(|e| e.into_inner());
        *brokers = md.brokers.values().map(|b| (b.id, b.addr())).collect();
        Ok(md)
    }

    /// The connection to the controller (where topic changes go).
    pub async fn controller(&self) -> Result<Arc<Connection>, KafkaError> {
        let md = self.metadata(Some(&[]), false).await?;
        if md.controller_id < 0 {
            return self.any().await;
        }
        self.node(md.controller_id).await
    }
}
