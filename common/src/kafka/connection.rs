//! One TCP connection to one broker, with pipelined requests.
//!
//! Kafka answers the requests of a connection in the order they were sent,
//! so a connection keeps a queue of requests in flight: a writer sends a
//! request and queues a slot for its answer under one lock (so queue order
//! is wire order), and a reader task takes each response frame off the
//! socket, checks that its correlation id is the one at the head of the
//! queue, and hands the body to whoever waits. Bodies are decoded by the
//! caller, not the reader task, so a big fetch never holds up the socket.
//!
//! A request with `acks=0` gets no answer at all and so queues no slot.

use std::collections::{HashMap, VecDeque};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::{Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::error::{ErrorCode, KafkaError};
use super::frame::{self, api_name};
use super::transport::{self, ClientSecurity, ReadHalf, WriteHalf};

/// How a connection is opened and how long its requests may take.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Sent in every request header; brokers log it.
    pub client_id: String,
    pub connect_timeout: Duration,
    /// How long a response may take (Kafka's `request.timeout.ms`, 30 s).
    pub request_timeout: Duration,
    /// TLS and SASL; the default is PLAINTEXT.
    pub security: ClientSecurity,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            client_id: "runnel".to_string(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            security: ClientSecurity::default(),
        }
    }
}

/// A response slot: where the reader task puts the body of one response.
struct InFlight {
    correlation_id: i32,
    api: ApiKey,
    version: i16,
    reply: oneshot::Sender<Result<Bytes, KafkaError>>,
}

/// The queue of requests waiting for an answer, and why the connection
/// died if it did (so later requests fail with the first cause).
#[derive(Default)]
struct Pending {
    queue: VecDeque<InFlight>,
    closed: Option<String>,
}

struct Writer {
    half: WriteHalf,
    next_correlation_id: i32,
}

/// A connection to one broker. Cheap to share behind an `Arc`; requests
/// from several tasks are pipelined on the one socket.
pub struct Connection {
    addr: String,
    client_id: StrBytes,
    request_timeout: Duration,
    writer: tokio::sync::Mutex<Writer>,
    pending: Arc<Mutex<Pending>>,
    /// The broker's version range per API key, from ApiVersions.
    versions: HashMap<i16, (i16, i16)>,
    reader: JoinHandle<()>,
    /// When the broker's SASL session limit says to replace it.
    renew_at: Option<std::time::Instant>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// The answer to a request that was sent; await it with [`Self::wait`].
#[must_use = "a response that is never awaited is still read, then dropped"]
pub struct PendingResponse<R: Request> {
    rx: oneshot::Receiver<Result<Bytes, KafkaError>>,
    version: i16,
    addr: String,
    timeout: Duration,
    _request: PhantomData<fn() -> R>,
}

impl<R: Request> PendingResponse<R> {
    /// Waits up to `timeout` rather than the connection's request timeout
    /// (a coordinator holds JoinGroup and SyncGroup up to the group's
    /// rebalance timeout).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Waits for the response (up to the request timeout) and decodes it.
    pub async fn wait(self) -> Result<R::Response, KafkaError> {
        let body = match tokio::time::timeout(self.timeout, self.rx).await {
            Err(_) => {
                return Err(KafkaError::Timeout {
                    what: format!("{} request to {}", api_name(R::KEY), self.addr),
                    after: self.timeout,
                })
            }
            Ok(Err(_)) => {
                return Err(KafkaError::Closed {
                    addr: self.addr,
                    reason: "connection dropped".into(),
                })
            }
            Ok(Ok(body)) => body?,
        };
        frame::decode_response::<R>(body, self.version, &self.addr)
    }
}

impl Connection {
    /// Connects (TLS and SASL as configured) and negotiates API versions.
    pub async fn connect(addr: &str, config: &ConnectionConfig) -> Result<Connection, KafkaError> {
        let opened = transport::open(
            addr,
            &config.security,
            &config.client_id,
            config.connect_timeout,
        )
        .await?;
        let (read_half, write_half) = opened.stream.split();
        let pending = Arc::new(Mutex::new(Pending::default()));
        let reader = tokio::spawn(read_loop(read_half, addr.to_string(), pending.clone()));
        let mut conn = Connection {
            addr: addr.to_string(),
            client_id: StrBytes::from_string(config.client_id.clone()),
            request_timeout: config.request_timeout,
            writer: tokio::sync::Mutex::new(Writer {
                half: write_half,
                next_correlation_id: 0,
            }),
            pending,
            versions: HashMap::new(),
            reader,
            renew_at: opened.renew_at,
        };
        conn.versions = conn.negotiate().await?;
        Ok(conn)
    }

    /// Whether the socket has failed or been closed, or its SASL session
    /// is near the end of the lifetime the broker gave it (KIP-368); the
    /// client then opens a new connection (requests in flight on this one
    /// still get their answers).
    pub fn is_closed(&self) -> bool {
        self.lock_pending().closed.is_some()
            || self.reader.is_finished()
            || self
                .renew_at
                .is_some_and(|at| std::time::Instant::now() >= at)
    }

    /// `host:port` this connection goes to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// ApiVersions v3 first (what current clients send); a broker that does
    /// not know v3 answers in v0 with its ranges, as Kafka specifies, and
    /// that answer is read as v0.
    async fn negotiate(&self) -> Result<HashMap<i16, (i16, i16)>, KafkaError> {
        let mut request = ApiVersionsRequest::default();
        request.client_software_name = StrBytes::from_static_str("runnel");
        request.client_software_version = StrBytes::from_static_str(env!("CARGO_PKG_VERSION"));
        let body = self.send_raw(&request, 3, true).await?;
        let body = match body {
            Some(rx) => self.await_body::<ApiVersionsRequest>(rx).await?,
            None => unreachable_no_reply(&self.addr)?,
        };
        let response =
            match frame::decode_response::<ApiVersionsRequest>(body.clone(), 3, &self.addr) {
                Ok(r) if r.error_code == 0 => r,
                Ok(r) if r.error_code != ErrorCode::UNSUPPORTED_VERSION.0 => {
                    return Err(KafkaError::broker(
                        format!("ApiVersions to {}", self.addr),
                        ErrorCode(r.error_code),
                        None,
                    ))
                }
                _ => frame::decode_response::<ApiVersionsRequest>(body, 0, &self.addr)?,
            };
        Ok(version_map(&response))
    }

    /// The version to use for `R`: the highest both sides support, within
    /// `ours` (the versions this client fills the fields of correctly).
    pub fn version<R: Request>(&self, ours: (i16, i16)) -> Result<i16, KafkaError> {
        let (broker_min, broker_max) = self.versions.get(&R::KEY).copied().unwrap_or((-1, -1));
        let (our_min, our_max) = ours;
        let max = broker_max.min(our_max);
        if broker_max < 0 || max < broker_min.max(our_min) {
            return Err(KafkaError::UnsupportedVersion {
                addr: self.addr.clone(),
                api: api_name(R::KEY),
                broker_min,
                broker_max,
                our_min,
                our_max,
            });
        }
        Ok(max)
    }

    /// Sends a request and returns its pending answer: several can be in
    /// flight at once, answered in the order they were sent.
    pub async fn send<R: Request>(
        &self,
        request: &R,
        version: i16,
    ) -> Result<PendingResponse<R>, KafkaError> {
        match self.send_raw(request, version, true).await? {
            Some(rx) => Ok(PendingResponse {
                rx,
                version,
                addr: self.addr.clone(),
                timeout: self.request_timeout,
                _request: PhantomData,
            }),
            None => unreachable_no_reply(&self.addr),
        }
    }

    /// Sends a request that gets no answer (Produce with `acks=0`).
    pub async fn send_no_reply<R: Request>(
        &self,
        request: &R,
        version: i16,
    ) -> Result<(), KafkaError> {
        self.send_raw(request, version, false).await.map(|_| ())
    }

    /// Sends and waits: one request, one response.
    pub async fn call<R: Request>(
        &self,
        request: &R,
        version: i16,
    ) -> Result<R::Response, KafkaError> {
        self.send(request, version).await?.wait().await
    }

    async fn send_raw<R: Request>(
        &self,
        request: &R,
        version: i16,
        reply: bool,
    ) -> Result<Option<oneshot::Receiver<Result<Bytes, KafkaError>>>, KafkaError> {
        let api = ApiKey::try_from(R::KEY).map_err(|()| KafkaError::Encode {
            api: api_name(R::KEY),
            version,
            message: "unknown API key".into(),
        })?;
        let mut writer = self.writer.lock().await;
        let correlation_id = writer.next_correlation_id;
        writer.next_correlation_id = writer.next_correlation_id.wrapping_add(1);
        let buf = frame::encode_request(request, version, correlation_id, &self.client_id)?;
        let rx = {
            let mut pending = self.lock_pending();
            if let Some(reason) = &pending.closed {
                return Err(KafkaError::Closed {
                    addr: self.addr.clone(),
                    reason: reason.clone(),
                });
            }
            if reply {
                let (tx, rx) = oneshot::channel();
                pending.queue.push_back(InFlight {
                    correlation_id,
                    api,
                    version,
                    reply: tx,
                });
                Some(rx)
            } else {
                None
            }
        };
        if let Err(source) = writer.half.write_all(&buf).await {
            let err = KafkaError::Io {
                addr: self.addr.clone(),
                source,
            };
            fail_all(&self.pending, &self.addr, err.to_string());
            return Err(err);
        }
        Ok(rx)
    }

    async fn await_body<R: Request>(
        &self,
        rx: oneshot::Receiver<Result<Bytes, KafkaError>>,
    ) -> Result<Bytes, KafkaError> {
        match tokio::time::timeout(self.request_timeout, rx).await {
            Err(_) => Err(KafkaError::Timeout {
                what: format!("{} request to {}", api_name(R::KEY), self.addr),
                after: self.request_timeout,
            }),
            Ok(Err(_)) => Err(KafkaError::Closed {
                addr: self.addr.clone(),
                reason: "connection dropped".into(),
            }),
            Ok(Ok(body)) => body,
        }
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        lock(&self.pending)
    }
}

fn unreachable_no_reply<T>(addr: &str) -> Result<T, KafkaError> {
    Err(KafkaError::Closed {
        addr: addr.to_string(),
        reason: "no reply slot for a request that expects one".into(),
    })
}

/// A poisoned lock only means another task panicked mid-update of a queue
/// whose entries are independent; the data is still usable.
fn lock(pending: &Mutex<Pending>) -> std::sync::MutexGuard<'_, Pending> {
    pending.lock().unwrap_or_else(|e| e.into_inner())
}

fn version_map(response: &ApiVersionsResponse) -> HashMap<i16, (i16, i16)> {
    response
        .api_keys
        .iter()
        .map(|k| (k.api_key, (k.min_version, k.max_version)))
        .collect()
}

/// Marks the connection dead and fails every request still waiting.
fn fail_all(pending: &Mutex<Pending>, addr: &str, reason: String) {
    let waiting = {
        let mut p = lock(pending);
        if p.closed.is_none() {
            p.closed = Some(reason.clone());
        }
        std::mem::take(&mut p.queue)
    };
    for slot in waiting {
        let _ = slot.reply.send(Err(KafkaError::Closed {
            addr: addr.to_string(),
            reason: reason.clone(),
        }));
    }
}

async fn read_loop(mut half: ReadHalf, addr: String, pending: Arc<Mutex<Pending>>) {
    let reason = match read_frames(&mut half, &addr, &pending).await {
        Ok(()) => "closed by the broker".to_string(),
        Err(e) => e.to_string(),
    };
    tracing::debug!(%addr, %reason, "kafka connection closed");
    fail_all(&pending, &addr, reason);
}

async fn read_frames(
    half: &mut ReadHalf,
    addr: &str,
    pending: &Mutex<Pending>,
) -> Result<(), KafkaError> {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        while let Some(mut body) =
            frame::parse_frame(&mut buf, frame::MAX_RESPONSE_BYTES).map_err(|source| {
                KafkaError::Frame {
                    addr: addr.to_string(),
                    source,
                }
            })?
        {
            let slot = lock(pending).queue.pop_front();
            let Some(slot) = slot else {
                return Err(KafkaError::Invalid(format!(
                    "{addr} sent a response nobody asked for"
                )));
            };
            let got = frame::decode_response_header(&mut body, slot.api, slot.version).map_err(
                |message| KafkaError::Decode {
                    addr: addr.to_string(),
                    api: format!("{:?} header", slot.api),
                    version: slot.version,
                    message,
                },
            )?;
            if got != slot.correlation_id {
                let err = KafkaError::CorrelationMismatch {
                    addr: addr.to_string(),
                    expected: slot.correlation_id,
                    got,
                };
                let _ = slot.reply.send(Err(KafkaError::Invalid(err.to_string())));
                return Err(err);
            }
            // The waiter may have given up (timeout); that is fine.
            let _ = slot.reply.send(Ok(body));
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(64 * 1024);
        }
        let n = half
            .read_buf(&mut buf)
            .await
            .map_err(|source| KafkaError::Io {
                addr: addr.to_string(),
                source,
            })?;
        if n == 0 {
            return if lock(pending).queue.is_empty() {
                Ok(())
            } else {
                Err(KafkaError::Invalid(
                    "closed by the broker with requests unanswered".into(),
                ))
            };
        }
    }
}
