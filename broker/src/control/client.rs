//! Connections to other brokers' listeners for internal requests: one per
//! broker, kept open between requests (the controller talks to every broker
//! after every state change), re-opened once if the cached one went stale.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use runnel_common::kafka::transport::{self, Stream};
use runnel_common::kafka::ClientSecurity;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::debug;

use super::message::{decode_response, encode_request, CodecError, InternalRequest};
use crate::metadata::BrokerInfo;

/// Largest answer accepted (answers are a few bytes to a few KiB).
const MAX_RESPONSE: usize = 16 << 20;

/// Why an internal request got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("broker {broker} at {addr}: {source}")]
    Io {
        broker: i32,
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("broker {broker} at {addr} did not answer within {timeout:?}")]
    Timeout {
        broker: i32,
        addr: String,
        timeout: Duration,
    },
    #[error("broker {broker}: {source}")]
    Codec {
        broker: i32,
        #[source]
        source: CodecError,
    },
}

struct Link {
    addr: String,
    stream: Option<Stream>,
    /// When to open a new stream for the SASL session limit.
    renew_at: Option<Instant>,
}

/// Cached connections to brokers, by broker id.
pub struct BrokerLinks {
    timeout: Duration,
    /// TLS and SASL towards the inter-broker listener.
    security: ClientSecurity,
    links: Mutex<HashMap<i32, Arc<tokio::sync::Mutex<Link>>>>,
    correlation: AtomicI32,
}

impl BrokerLinks {
    /// `timeout` bounds connecting plus one request's round trip.
    pub fn new(timeout: Duration, security: ClientSecurity) -> BrokerLinks {
        BrokerLinks {
            timeout,
            security,
            links: Mutex::new(HashMap::new()),
            correlation: AtomicI32::new(1),
        }
    }

    fn link(&self, broker: &BrokerInfo) -> Arc<tokio::sync::Mutex<Link>> {
        let addr = format!("{}:{}", broker.host, broker.port);
        let mut links = match self.links.lock() {
            Ok(l) => l,
            Err(p) => p.into_inner(),
        };
        links
            .entry(broker.id)
            .or_insert_with(|| {
                Arc::new(tokio::sync::Mutex::new(Link {
                    addr: addr.clone(),
                    stream: None,
                    renew_at: None,
                }))
            })
            .clone()
    }

    /// Closes the connections of brokers not in `live`.
    pub fn retain(&self, live: impl Fn(i32) -> bool) {
        if let Ok(mut links) = self.links.lock() {
            links.retain(|id, _| live(*id));
        }
    }

    /// Sends `request` to `broker` and decodes its answer.
    pub async fn call<T: DeserializeOwned>(
        &self,
        broker: &BrokerInfo,
        request: &InternalRequest,
    ) -> Result<T, LinkError> {
        let link = self.link(broker);
        let mut link = link.lock().await;
        let addr = format!("{}:{}", broker.host, broker.port);
        if link.addr != addr {
            // Re-registered elsewhere (restarted on another port).
            link.addr = addr.clone();
            link.stream = None;
        }
        let correlation_id = self.correlation.fetch_add(1, Ordering::Relaxed);
        let frame = encode_request(request, correlation_id);
        let io = |source| LinkError::Io {
            broker: broker.id,
            addr: addr.clone(),
            source,
        };
        // A cached connection may have been closed by the peer (restart,
        // idle close); one fresh attempt follows a failure on it.
        let attempts = if link.stream.is_some() { 2 } else { 1 };
        let mut last = None;
        for _ in 0..attempts {
            let run = async {
                if link.renew_at.is_some_and(|at| Instant::now() >= at) {
                    // The broker's SASL session limit (KIP-368) is near.
                    link.stream = None;
                }
                if link.stream.is_none() {
                    let opened =
                        transport::open(&addr, &self.security, "runnel-controller", self.timeout)
                            .await
                            .map_err(std::io::Error::other)?;
                    link.stream = Some(opened.stream);
                    link.renew_at = opened.renew_at;
                }
                match link.stream.as_mut() {
                    Some(s) => exchange(s, &frame).await,
                    None => Err(std::io::ErrorKind::NotConnected.into()),
                }
            };
            match tokio::time::timeout(self.timeout, run).await {
                Ok(Ok(reply)) => {
                    return decode_response(&reply, correlation_id).map_err(|source| {
                        link.stream = None;
                        LinkError::Codec {
                            broker: broker.id,
                            source,
                        }
                    })
                }
                Ok(Err(e)) => {
                    debug!(broker = broker.id, %addr, "internal request failed: {e}");
                    link.stream = None;
                    last = Some(io(e));
                }
                Err(_) => {
                    link.stream = None;
                    return Err(LinkError::Timeout {
                        broker: broker.id,
                        addr,
                        timeout: self.timeout,
                    });
                }
            }
        }
        Err(last.unwrap_or_else(|| io(std::io::ErrorKind::NotConnected.into())))
    }
}

/// Writes one request frame and reads one response frame (without its size).
async fn exchange(stream: &mut Stream, frame: &Bytes) -> std::io::Result<Vec<u8>> {
    stream.write_all(frame).await?;
    let size = stream.read_i32().await?;
    if size < 0 || size as usize > MAX_RESPONSE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("response size {size}"),
        ));
    }
    let mut buf = vec![0; size as usize];
    stream.read_exact(&mut buf).await?;
    Ok(buf)
}
