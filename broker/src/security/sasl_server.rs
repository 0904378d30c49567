//! The authentication phase of a SASL connection, before its first
//! ordinary request, as Kafka's `SaslServerAuthenticator` runs it:
//!
//! 1. ApiVersions may come first and is answered (clients learn the
//!    SaslHandshake and SaslAuthenticate versions from it).
//! 2. SaslHandshake names a mechanism: an enabled one is accepted; any
//!    other gets UNSUPPORTED_SASL_MECHANISM with the enabled list and the
//!    connection is closed.
//! 3. The mechanism's tokens: in SaslAuthenticate requests after a v1
//!    handshake, or as bare length-prefixed frames after a v0 handshake.
//!    PLAIN takes one token; SCRAM two (its first names the user, whose
//!    credential is read from coord between them). A failure is answered
//!    with SASL_AUTHENTICATION_FAILED and a message, then the connection
//!    is closed.
//!
//! Any other request before authentication closes the connection without
//! an answer (ILLEGAL_SASL_STATE in Kafka's log, nothing served).
//!
//! Re-authentication (KIP-368): with `connections.max.reauth.ms` set, the
//! last SaslAuthenticate answer carries the session's lifetime. A client
//! that used SaslAuthenticate v1+ may send SaslHandshake again on the
//! same connection before then; the same exchange runs over the serving
//! loop's queues ([`ServingChannel`]) and must end with the same mechanism
//! and principal. A session that expired is closed at its next request.

use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, StrBytes};
use runnel_common::kafka::transport::Stream;
use runnel_common::kafka::SaslMechanism;
use runnel_common::security::plain;
use runnel_common::security::scram::ScramServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::settings::SaslSettings;
use crate::api::{self, Reply};
use crate::network::frame::{self, Api, Request};
use crate::server::Broker;

/// Largest frame accepted before authentication (Kafka's
/// `sasl.server.max.receive.size` default): an unauthenticated peer cannot
/// make the broker buffer a large request.
pub const MAX_RECEIVE: i32 = 512 * 1024;

/// Why a connection did not authenticate; the connection is closed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("closed by the client during authentication")]
    Closed,
    #[error("I/O during authentication: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad frame during authentication: {0}")]
    Frame(String),
    #[error("{0:?} request before SASL authentication")]
    Unexpected(Api),
    #[error("client asked for SASL mechanism {0:?}, which this listener does not enable")]
    UnsupportedMechanism(String),
    #[error("authentication failed: {0}")]
    Failed(String),
    #[error("SaslHandshake v0 cannot start a re-authentication")]
    ReauthV0,
}

/// An authenticated session of one connection.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub mechanism: SaslMechanism,
    /// When the session ends unless the client re-authenticates first
    /// (`None`: never, `connections.max.reauth.ms=0`).
    pub expires_at: Option<Instant>,
    /// Whether the client can re-authenticate: it used SaslAuthenticate v1
    /// or later, which carries the session lifetime (Kafka's
    /// `connectedClientSupportsReauthentication`).
    pub can_reauthenticate: bool,
}

impl Session {
    /// Whether the session has run out at `now`.
    pub fn expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }
}

/// Who authenticated, and what the client sent after its last SASL
/// message (its first requests, if it did not wait for the answer): the
/// serving loop starts from those bytes.
pub struct Authenticated {
    pub session: Session,
    pub unread: BytesMut,
}

/// Where an exchange reads the client's requests and sends its answers.
pub(crate) trait Channel {
    /// The next request.
    async fn next_request(&mut self) -> Result<Request, AuthError>;
    /// The next bare token frame (after a SaslHandshake v0).
    async fn next_raw(&mut self) -> Result<Bytes, AuthError>;
    /// Sends an answer (an encoded response or a bare token frame).
    async fn send(&mut self, reply: Reply) -> Result<(), AuthError>;
}

/// The connection's stream, before the serving loop starts.
struct StreamChannel<'a> {
    stream: &'a mut Stream,
    input: BytesMut,
}

impl Channel for StreamChannel<'_> {
    async fn next_request(&mut self) -> Result<Request, AuthError> {
        let raw = self.next_raw().await?;
        frame::parse_request(raw).map_err(|e| AuthError::Frame(e.to_string()))
    }

    async fn next_raw(&mut self) -> Result<Bytes, AuthError> {
        read_frame(self.stream, &mut self.input).await
    }

    async fn send(&mut self, reply: Reply) -> Result<(), AuthError> {
        send(self.stream, reply).await
    }
}

/// The serving loop's request queue and answer writer: a re-authentication
/// reads the requests that follow its SaslHandshake from the same queue,
/// and its answers go out in order behind those already being written.
pub(crate) struct ServingChannel<'a> {
    pub requests: &'a mut mpsc::Receiver<(Request, Instant)>,
    pub answers: &'a mpsc::Sender<(Reply, Api, Instant)>,
}

impl Channel for ServingChannel<'_> {
    async fn next_request(&mut self) -> Result<Request, AuthError> {
        match self.requests.recv().await {
            Some((req, _)) => Ok(req),
            None => Err(AuthError::Closed),
        }
    }

    async fn next_raw(&mut self) -> Result<Bytes, AuthError> {
        Err(AuthError::ReauthV0)
    }

    async fn send(&mut self, reply: Reply) -> Result<(), AuthError> {
        let api = Api::Kafka(ApiKey::SaslAuthenticate);
        self.answers
            .send((reply, api, Instant::now()))
            .await
            .map_err(|_| AuthError::Closed)
    }
}

/// Runs the phase on `stream`.
pub async fn authenticate(
    broker: &Broker,
    stream: &mut Stream,
    sasl: &SaslSettings,
) -> Result<Authenticated, AuthError> {
    let mut chan = StreamChannel {
        stream,
        input: BytesMut::with_capacity(4096),
    };
    loop {
        let req = chan.next_request().await?;
        match req.api_key {
            Api::Kafka(ApiKey::ApiVersions) => {
                // Not muted before authentication: the throttle (if any) is
                // in the answer.
                let (reply, _) = api::handle(broker, req).await.take_throttle();
                chan.send(reply).await?;
            }
            Api::Kafka(ApiKey::SaslHandshake) => {
                let session = exchange(broker, &mut chan, &req, sasl, None).await?;
                return Ok(Authenticated {
                    session,
                    unread: chan.input,
                });
            }
            other => return Err(AuthError::Unexpected(other)),
        }
    }
}

/// Re-authenticates `previous` on a serving connection, from the client's
/// SaslHandshake `req` (KIP-368). The new session must have the same
/// mechanism and user; any failure is answered and ends the connection.
pub(crate) async fn reauthenticate(
    broker: &Broker,
    chan: &mut ServingChannel<'_>,
    req: &Request,
    sasl: &SaslSettings,
    previous: &Session,
) -> Result<Session, AuthError> {
    if req.version() == 0 {
        return Err(AuthError::ReauthV0);
    }
    exchange(broker, chan, req, sasl, Some(previous)).await
}

/// A handshake and its token exchange; `previous` when re-authenticating.
async fn exchange<C: Channel>(
    broker: &Broker,
    chan: &mut C,
    req: &Request,
    sasl: &SaslSettings,
    previous: Option<&Session>,
) -> Result<Session, AuthError> {
    let mechanism = handshake(chan, req, sasl).await?;
    let mut exchange = Exchange {
        chan,
        raw_tokens: req.version() == 0,
        failure_delay: broker.config.failed_authentication_delay,
        lifetime: sasl.session_lifetime(mechanism),
        used_v1: false,
    };
    if let Some(previous) = previous {
        if previous.mechanism != mechanism {
            // Kafka accepts the handshake and fails the first token.
            let (_, pending) = exchange.next_token().await?;
            let reason = format!(
                "SASL mechanism '{}' requested by client is not supported for \
                 re-authentication of mechanism '{}'",
                mechanism.name(),
                previous.mechanism.name()
            );
            return Err(exchange.fail(pending, reason).await);
        }
    }
    exchange.run(broker, mechanism, sasl, previous).await
}

/// Answers the SaslHandshake; `Ok` with the mechanism if it is enabled.
async fn handshake<C: Channel>(
    chan: &mut C,
    req: &Request,
    sasl: &SaslSettings,
) -> Result<SaslMechanism, AuthError> {
    let version = req.version();
    if version > 1 {
        return Err(AuthError::Frame(format!("SaslHandshake v{version}")));
    }
    let mut body = req.body.clone();
    let request = SaslHandshakeRequest::decode(&mut body, version)
        .map_err(|e| AuthError::Frame(format!("undecodable SaslHandshake: {e}")))?;
    let chosen = SaslMechanism::parse(&request.mechanism).filter(|m| sasl.mechanisms.contains(m));
    let enabled = sasl
        .mechanisms
        .iter()
        .map(|m| StrBytes::from_static_str(m.name()))
        .collect();
    let response = SaslHandshakeResponse::default()
        .with_error_code(match chosen {
            Some(_) => 0,
            None => ResponseError::UnsupportedSaslMechanism.code(),
        })
        .with_mechanisms(enabled);
    let reply = api::encode(
        ApiKey::SaslHandshake,
        version,
        req.header.correlation_id,
        &response,
        false,
    );
    chan.send(reply).await?;
    chosen.ok_or_else(|| AuthError::UnsupportedMechanism(request.mechanism.to_string()))
}

/// The token exchange after a handshake.
struct Exchange<'a, C> {
    chan: &'a mut C,
    /// After a v0 handshake tokens are bare frames, not SaslAuthenticate.
    raw_tokens: bool,
    /// `connection.failed.authentication.delay.ms`.
    failure_delay: Duration,
    /// The session lifetime sent with the last answer, if sessions expire.
    lifetime: Option<Duration>,
    /// Whether any SaslAuthenticate of the exchange was v1 or later.
    used_v1: bool,
}

/// A SaslAuthenticate request being answered (absent for bare tokens).
struct Pending {
    version: i16,
    correlation_id: i32,
}

impl<C: Channel> Exchange<'_, C> {
    async fn run(
        &mut self,
        broker: &Broker,
        mechanism: SaslMechanism,
        sasl: &SaslSettings,
        previous: Option<&Session>,
    ) -> Result<Session, AuthError> {
        let user = self.tokens(broker, mechanism, sasl, previous).await?;
        Ok(Session {
            user,
            mechanism,
            expires_at: self.lifetime.map(|l| Instant::now() + l),
            can_reauthenticate: self.used_v1,
        })
    }

    /// The mechanism's tokens; the authenticated user.
    async fn tokens(
        &mut self,
        broker: &Broker,
        mechanism: SaslMechanism,
        sasl: &SaslSettings,
        previous: Option<&Session>,
    ) -> Result<String, AuthError> {
        let same_user = |user: String| match previous {
            Some(p) if p.user != user => Err(format!(
                "Cannot change principals during re-authentication from User.{}: User.{user}",
                p.user
            )),
            _ => Ok(user),
        };
        match mechanism {
            SaslMechanism::Plain => {
                let (token, pending) = self.next_token().await?;
                let user = match plain::parse_plain(&token) {
                    Err(e) => Err(e.to_string()),
                    Ok(c) => match sasl.plain_users.get(&c.username) {
                        Some(expected) if plain::password_matches(&c.password, expected) => {
                            Ok(c.username)
                        }
                        _ => Err("Authentication failed: Invalid username or password".to_string()),
                    },
                };
                self.finish(pending, user.and_then(same_user), Vec::new())
                    .await
            }
            SaslMechanism::Scram(m) => {
                let (token, pending) = self.next_token().await?;
                let started = match ScramServer::start(m, &token) {
                    Err(e) => Err(e.to_string()),
                    Ok((server, user)) => {
                        match super::credentials::scram_credential(broker, &user, m).await {
                            Ok(Some(credential)) => Ok((server, user, credential)),
                            Ok(None) => Err("Authentication failed during authentication due to \
                                 invalid credentials with SASL mechanism"
                                .to_string()
                                + " "
                                + m.name()),
                            Err(e) => Err(format!("credentials unavailable: {e}")),
                        }
                    }
                };
                let (mut server, user, credential) = match started {
                    Ok(s) => s,
                    Err(reason) => return self.finish(pending, Err(reason), Vec::new()).await,
                };
                let server_first = match server.server_first(credential) {
                    Ok(t) => t,
                    Err(e) => return self.finish(pending, Err(e.to_string()), Vec::new()).await,
                };
                self.answer(&pending, Ok(server_first)).await?;
                let (token, pending) = self.next_token().await?;
                match server.client_final(&token) {
                    Ok(server_final) => self.finish(pending, same_user(user), server_final).await,
                    Err(e) => {
                        let reason = format!(
                            "Authentication failed during authentication due to invalid \
                             credentials with SASL mechanism {}: {e}",
                            m.name()
                        );
                        self.finish(pending, Err(reason), Vec::new()).await
                    }
                }
            }
        }
    }

    /// Sends the last answer; the outcome becomes the phase's result.
    async fn finish(
        &mut self,
        pending: Option<Pending>,
        outcome: Result<String, String>,
        last_token: Vec<u8>,
    ) -> Result<String, AuthError> {
        match outcome {
            Ok(user) => {
                self.answer_last(&pending, last_token).await?;
                Ok(user)
            }
            Err(reason) => Err(self.fail(pending, reason).await),
        }
    }

    /// Answers a failure (after `connection.failed.authentication.delay.ms`)
    /// and gives the error that ends the connection.
    async fn fail(&mut self, pending: Option<Pending>, reason: String) -> AuthError {
        tokio::time::sleep(self.failure_delay).await;
        // v0 tokens have no way to carry an error: just close.
        if pending.is_some() {
            if let Err(e) = self.answer(&pending, Err(reason.clone())).await {
                return e;
            }
        }
        AuthError::Failed(reason)
    }

    /// The last answer of a successful exchange: the server's last token
    /// and, from SaslAuthenticate v1, the session lifetime (0: unlimited).
    async fn answer_last(
        &mut self,
        pending: &Option<Pending>,
        token: Vec<u8>,
    ) -> Result<(), AuthError> {
        let lifetime_ms = self
            .lifetime
            .map_or(0, |l| i64::try_from(l.as_millis()).unwrap_or(i64::MAX));
        match pending {
            Some(p) if p.version >= 1 && lifetime_ms > 0 => {
                let response = SaslAuthenticateResponse::default()
                    .with_auth_bytes(Bytes::from(token))
                    .with_session_lifetime_ms(lifetime_ms);
                self.send_authenticate(p, &response).await
            }
            _ => self.answer(pending, Ok(token)).await,
        }
    }

    async fn next_token(&mut self) -> Result<(Vec<u8>, Option<Pending>), AuthError> {
        if self.raw_tokens {
            return Ok((self.chan.next_raw().await?.to_vec(), None));
        }
        let req = self.chan.next_request().await?;
        if req.api_key != Api::Kafka(ApiKey::SaslAuthenticate) {
            return Err(AuthError::Unexpected(req.api_key));
        }
        let version = req.version();
        if !api::api_versions::is_supported(ApiKey::SaslAuthenticate, version) {
            return Err(AuthError::Frame(format!("SaslAuthenticate v{version}")));
        }
        let mut body = req.body.clone();
        let request = SaslAuthenticateRequest::decode(&mut body, version)
            .map_err(|e| AuthError::Frame(format!("undecodable SaslAuthenticate: {e}")))?;
        self.used_v1 |= version >= 1;
        Ok((
            request.auth_bytes.to_vec(),
            Some(Pending {
                version,
                correlation_id: req.header.correlation_id,
            }),
        ))
    }

    async fn answer(
        &mut self,
        pending: &Option<Pending>,
        outcome: Result<Vec<u8>, String>,
    ) -> Result<(), AuthError> {
        let Some(p) = pending else {
            let token = outcome.unwrap_or_default();
            let mut frame = BytesMut::with_capacity(4 + token.len());
            frame.put_i32(token.len() as i32);
            frame.put_slice(&token);
            return self.chan.send(Reply::Send(frame.freeze())).await;
        };
        let response = match outcome {
            Ok(token) => SaslAuthenticateResponse::default().with_auth_bytes(Bytes::from(token)),
            Err(reason) => SaslAuthenticateResponse::default()
                .with_error_code(ResponseError::SaslAuthenticationFailed.code())
                .with_error_message(Some(StrBytes::from_string(reason))),
        };
        self.send_authenticate(p, &response).await
    }

    async fn send_authenticate(
        &mut self,
        p: &Pending,
        response: &SaslAuthenticateResponse,
    ) -> Result<(), AuthError> {
        let reply = api::encode(
            ApiKey::SaslAuthenticate,
            p.version,
            p.correlation_id,
            response,
            false,
        );
        self.chan.send(reply).await
    }
}

async fn read_frame(stream: &mut Stream, input: &mut BytesMut) -> Result<Bytes, AuthError> {
    loop {
        match frame::parse_frame(input, MAX_RECEIVE) {
            Ok(Some(f)) => return Ok(f),
            Ok(None) => {}
            Err(e) => return Err(AuthError::Frame(e.to_string())),
        }
        if stream.read_buf(input).await? == 0 {
            return Err(AuthError::Closed);
        }
    }
}

async fn send(stream: &mut Stream, reply: Reply) -> Result<(), AuthError> {
    match reply {
        Reply::Send(frame) => {
            stream.write_all(&frame).await?;
            stream.flush().await?;
            Ok(())
        }
        Reply::Close(reason) => Err(AuthError::Frame(reason)),
        // ApiVersions and the SASL answers are never Later; Throttled is
        // unwrapped by the caller.
        Reply::Nothing | Reply::Later(_) | Reply::Throttled(..) => Ok(()),
    }
}
