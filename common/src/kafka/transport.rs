//! The byte stream under a Kafka connection: TCP, or TLS over TCP, then
//! SASL authentication when the listener asks for it — the four security
//! protocols of Kafka (`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`, `SASL_SSL`).
//!
//! [`open`] does all of it before the first ordinary request, so the
//! pipelined [`super::Connection`] and the broker's internal links only
//! ever see an authenticated stream. [`Stream`] is also what a broker's
//! listener serves, so both ends share one type.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use kafka_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
};
use kafka_protocol::protocol::{Request, StrBytes};
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use super::error::{ErrorCode, KafkaError};
use super::frame;
use crate::security::plain;
use crate::security::scram::{ScramClient, ScramMechanism};

/// Kafka's `security.protocol` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    /// Parses a `security.protocol` / `listener.security.protocol.map` value.
    pub fn parse(name: &str) -> Option<SecurityProtocol> {
        match name.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Some(SecurityProtocol::Plaintext),
            "SSL" => Some(SecurityProtocol::Ssl),
            "SASL_PLAINTEXT" => Some(SecurityProtocol::SaslPlaintext),
            "SASL_SSL" => Some(SecurityProtocol::SaslSsl),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

/// The SASL mechanisms this project speaks, on both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaslMechanism {
    Plain,
    Scram(ScramMechanism),
}

impl SaslMechanism {
    pub fn parse(name: &str) -> Option<SaslMechanism> {
        match name.trim() {
            "PLAIN" => Some(SaslMechanism::Plain),
            other => ScramMechanism::from_name(other).map(SaslMechanism::Scram),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::Scram(m) => m.name(),
        }
    }
}

/// Who a client says it is, for SASL.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslCredentials {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for SaslCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslCredentials")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &"[hidden]")
            .finish()
    }
}

/// How a client secures its connections; the default is `PLAINTEXT`.
#[derive(Clone, Default)]
pub struct ClientSecurity {
    /// Present for `SSL` and `SASL_SSL`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Present for `SASL_PLAINTEXT` and `SASL_SSL`.
    pub sasl: Option<SaslCredentials>,
}

impl std::fmt::Debug for ClientSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecurity")
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl)
            .finish()
    }
}

impl ClientSecurity {
    /// The security protocol these settings amount to.
    pub fn protocol(&self) -> SecurityProtocol {
        match (self.tls.is_some(), self.sasl.is_some()) {
            (false, false) => SecurityProtocol::Plaintext,
            (true, false) => SecurityProtocol::Ssl,
            (false, true) => SecurityProtocol::SaslPlaintext,
            (true, true) => SecurityProtocol::SaslSsl,
        }
    }
}

/// The socket under a TLS session, read through a buffer: rustls asks
/// for 4 KiB at a time, so without one a 16 KiB record costs four reads
/// from the kernel (writes go straight through).
pub type TlsSocket = tokio::io::BufReader<TcpStream>;

/// How much of the socket a TLS session reads at once.
const TLS_READ_BUFFER: usize = 64 * 1024;

/// Wraps a connected socket for a TLS session.
pub fn tls_socket(tcp: TcpStream) -> TlsSocket {
    tokio::io::BufReader::with_capacity(TLS_READ_BUFFER, tcp)
}

/// A connection's bytes: plain TCP or TLS (client or server side).
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::TlsStream<TlsSocket>>),
}

/// One direction of a [`Stream`], owned by a task.
pub type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
/// The other direction.
pub type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

impl Stream {
    /// Splits for a reader task and a writer task. Plain TCP splits without
    /// a lock; TLS shares one session between the halves.
    pub fn split(self) -> (ReadHalf, WriteHalf) {
        match self {
            Stream::Plain(s) => {
                let (r, w) = s.into_split();
                (Box::new(r), Box::new(w))
            }
            Stream::Tls(s) => {
                let (r, w) = tokio::io::split(*s);
                (Box::new(r), Box::new(w))
            }
        }
    }

    /// The certificates the peer presented in the TLS handshake, its own
    /// first; `None` on plain TCP or when it presented none. A server reads
    /// its mutual-TLS client's identity from them.
    pub fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(s) => s.get_ref().1.peer_certificates(),
        }
    }

    /// The TCP socket underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref().0.get_ref(),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A stream ready for requests, and when to replace it.
pub struct Opened {
    pub stream: Stream,
    /// When the broker limits the SASL session (KIP-368,
    /// `connections.max.reauth.ms`): the instant, at 85 % of the lifetime
    /// it announced, from which a new connection should take this one's
    /// place. The broker closes the connection at its first request after
    /// the lifetime; opening a fresh one before then is this client's way
    /// of re-authenticating.
    pub renew_at: Option<std::time::Instant>,
}

/// Connects to `addr`, does TLS and SASL as `security` says, all within
/// `timeout`, and returns the stream ready for requests.
pub async fn open(
    addr: &str,
    security: &ClientSecurity,
    client_id: &str,
    timeout: Duration,
) -> Result<Opened, KafkaError> {
    tokio::time::timeout(timeout, open_unbounded(addr, security, client_id))
        .await
        .map_err(|_| KafkaError::Timeout {
            what: format!("connecting to {addr} ({})", security.protocol().name()),
            after: timeout,
        })?
}

async fn open_unbounded(
    addr: &str,
    security: &ClientSecurity,
    client_id: &str,
) -> Result<Opened, KafkaError> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|source| KafkaError::Connect {
            addr: addr.to_string(),
            source,
        })?;
    // Requests are written whole; Nagle would only delay small ones.
    tcp.set_nodelay(true).map_err(|source| KafkaError::Io {
        addr: addr.to_string(),
        source,
    })?;
    let mut stream = match &security.tls {
        None => Stream::Plain(tcp),
        Some(config) => {
            let name = crate::tls::server_name(addr).map_err(|e| KafkaError::Tls {
                addr: addr.to_string(),
                reason: e.to_string(),
            })?;
            let tls = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, tls_socket(tcp))
                .await
                .map_err(|e| KafkaError::Tls {
                    addr: addr.to_string(),
                    reason: e.to_string(),
                })?;
            Stream::Tls(Box::new(tokio_rustls::TlsStream::Client(tls)))
        }
    };
    let mut renew_at = None;
    if let Some(credentials) = &security.sasl {
        let started = std::time::Instant::now();
        let lifetime = authenticate(&mut stream, addr, client_id, credentials).await?;
        renew_at = lifetime.map(|l| started + l.mul_f64(0.85));
    }
    Ok(Opened { stream, renew_at })
}

/// SaslHandshake v1, then SaslAuthenticate round trips until the
/// mechanism is done (Kafka's KIP-152 flow, which every current client
/// uses). The session lifetime the broker announced, if it set one.
async fn authenticate(
    stream: &mut Stream,
    addr: &str,
    client_id: &str,
    credentials: &SaslCredentials,
) -> Result<Option<Duration>, KafkaError> {
    let mut exchange = Exchange {
        stream,
        addr,
        client_id: StrBytes::from_string(client_id.to_string()),
        correlation_id: 0,
        session_lifetime_ms: 0,
    };
    let mechanism = credentials.mechanism.name();
    let handshake =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism));
    let answer = exchange.call(&handshake, 1).await?;
    if answer.error_code != 0 {
        let enabled: Vec<&str> = answer.mechanisms.iter().map(|m| m.as_str()).collect();
        return Err(KafkaError::broker(
            format!("SASL handshake with {addr} for {mechanism}"),
            ErrorCode(answer.error_code),
            Some(&format!("the broker enables {}", enabled.join(", "))),
        ));
    }
    match credentials.mechanism {
        SaslMechanism::Plain => {
            let token = plain::encode_plain(&credentials.username, &credentials.password);
            exchange.authenticate(token).await?;
        }
        SaslMechanism::Scram(m) => {
            let mut client = ScramClient::new(m, &credentials.username, &credentials.password);
            let server_first = exchange.authenticate(client.client_first()).await?;
            let client_final = client
                .client_final(&server_first)
                .map_err(|e| auth_error(addr, e))?;
            let server_final = exchange.authenticate(client_final).await?;
            client
                .verify_server_final(&server_final)
                .map_err(|e| auth_error(addr, e))?;
        }
    }
    let ms = exchange.session_lifetime_ms;
    Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
}

fn auth_error(addr: &str, e: impl std::fmt::Display) -> KafkaError {
    KafkaError::broker(
        format!("SASL authentication with {addr}"),
        ErrorCode::SASL_AUTHENTICATION_FAILED,
        Some(&e.to_string()),
    )
}

/// One request at a time on a stream not yet handed to a connection.
struct Exchange<'a> {
    stream: &'a mut Stream,
    addr: &'a str,
    client_id: StrBytes,
    correlation_id: i32,
    /// From the last SaslAuthenticate answer (0: unlimited).
    session_lifetime_ms: i64,
}

impl Exchange<'_> {
    async fn authenticate(&mut self, token: Vec<u8>) -> Result<Vec<u8>, KafkaError> {
        let request = SaslAuthenticateRequest::default().with_auth_bytes(token.into());
        let answer: SaslAuthenticateResponse = self.call(&request, 1).await?;
        if answer.error_code != 0 {
            return Err(KafkaError::broker(
                format!("SASL authentication with {}", self.addr),
                ErrorCode(answer.error_code),
                answer.error_message.as_deref(),
            ));
        }
        self.session_lifetime_ms = answer.session_lifetime_ms;
        Ok(answer.auth_bytes.to_vec())
    }

    async fn call<R: Request>(
        &mut self,
        request: &R,
        version: i16,
    ) -> Result<R::Response, KafkaError> {
        let io_err = |source| KafkaError::Io {
            addr: self.addr.to_string(),
            source,
        };
        self.correlation_id += 1;
        let buf = frame::encode_request(request, version, self.correlation_id, &self.client_id)?;
        self.stream.write_all(&buf).await.map_err(io_err)?;
        self.stream.flush().await.map_err(io_err)?;
        let mut input = BytesMut::with_capacity(1024);
        let mut body = loop {
            let parsed =
                frame::parse_frame(&mut input, 1 << 20).map_err(|source| KafkaError::Frame {
                    addr: self.addr.to_string(),
                    source,
                })?;
            if let Some(body) = parsed {
                break body;
            }
            if self.stream.read_buf(&mut input).await.map_err(io_err)? == 0 {
                return Err(KafkaError::Closed {
                    addr: self.addr.to_string(),
                    reason: format!("closed during {}", frame::api_name(R::KEY)),
                });
            }
        };
        let api = kafka_protocol::messages::ApiKey::try_from(R::KEY)
            .map_err(|()| KafkaError::Invalid(format!("unknown API key {}", R::KEY)))?;
        let got = frame::decode_response_header(&mut body, api, version).map_err(|message| {
            KafkaError::Decode {
                addr: self.addr.to_string(),
                api: frame::api_name(R::KEY),
                version,
                message,
            }
        })?;
        if got != self.correlation_id {
            return Err(KafkaError::CorrelationMismatch {
                addr: self.addr.to_string(),
                expected: self.correlation_id,
                got,
            });
        }
        frame::decode_response::<R>(body, version, self.addr)
    }
}
