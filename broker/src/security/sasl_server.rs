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
}

/// Who authenticated, and what the client sent after its last SASL
/// message (its first requests, if it did not wait for the answer): the
/// serving loop starts from those bytes.
pub struct Authenticated {
    pub user: String,
    pub unread: BytesMut,
}

/// Runs the phase on `stream`.
pub async fn authenticate(
    broker: &Broker,
    stream: &mut Stream,
    sasl: &SaslSettings,
) -> Result<Authenticated, AuthError> {
    let mut input = BytesMut::with_capacity(4096);
    loop {
        let raw = read_frame(stream, &mut input).await?;
        let req = frame::parse_request(raw).map_err(|e| AuthError::Frame(e.to_string()))?;
        match req.api_key {
            Api::Kafka(ApiKey::ApiVersions) => {
                // Not muted before authentication: the throttle (if any) is
                // in the answer.
                let (reply, _) = api::handle(broker, req).await.take_throttle();
                send(stream, reply).await?;
            }
            Api::Kafka(ApiKey::SaslHandshake) => {
                let version = req.version();
                let mechanism = handshake(stream, &req, sasl).await?;
                let mut exchange = Exchange {
                    stream,
                    input: &mut input,
                    raw_tokens: version == 0,
                    failure_delay: broker.config.failed_authentication_delay,
                };
                let user = exchange.run(broker, mechanism, sasl).await?;
                return Ok(Authenticated {
                    user,
                    unread: input,
                });
            }
            other => return Err(AuthError::Unexpected(other)),
        }
    }
}

/// Answers the SaslHandshake; `Ok` with the mechanism if it is enabled.
async fn handshake(
    stream: &mut Stream,
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
    send(stream, reply).await?;
    chosen.ok_or_else(|| AuthError::UnsupportedMechanism(request.mechanism.to_string()))
}

/// The token exchange after a handshake.
struct Exchange<'a> {
    stream: &'a mut Stream,
    input: &'a mut BytesMut,
    /// After a v0 handshake tokens are bare frames, not SaslAuthenticate.
    raw_tokens: bool,
    /// `connection.failed.authentication.delay.ms`.
    failure_delay: std::time::Duration,
}

/// A SaslAuthenticate request being answered (absent for bare tokens).
struct Pending {
    version: i16,
    correlation_id: i32,
}

impl Exchange<'_> {
    async fn run(
        &mut self,
        broker: &Broker,
        mechanism: SaslMechanism,
        sasl: &SaslSettings,
    ) -> Result<String, AuthError> {
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
                self.finish(pending, user, Vec::new()).await
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
                    Ok(server_final) => self.finish(pending, Ok(user), server_final).await,
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
                self.answer(&pending, Ok(last_token)).await?;
                Ok(user)
            }
            Err(reason) => {
                tokio::time::sleep(self.failure_delay).await;
                // v0 tokens have no way to carry an error: just close.
                if pending.is_some() {
                    self.answer(&pending, Err(reason.clone())).await?;
                }
                Err(AuthError::Failed(reason))
            }
        }
    }

    async fn next_token(&mut self) -> Result<(Vec<u8>, Option<Pending>), AuthError> {
        let raw = read_frame(self.stream, self.input).await?;
        if self.raw_tokens {
            return Ok((raw.to_vec(), None));
        }
        let req = frame::parse_request(raw).map_err(|e| AuthError::Frame(e.to_string()))?;
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
            self.stream.write_all(&frame).await?;
            self.stream.flush().await?;
            return Ok(());
        };
        let response = match outcome {
            Ok(token) => SaslAuthenticateResponse::default().with_auth_bytes(Bytes::from(token)),
            Err(reason) => SaslAuthenticateResponse::default()
                .with_error_code(ResponseError::SaslAuthenticationFailed.code())
                .with_error_message(Some(StrBytes::from_string(reason))),
        };
        let reply = api::encode(
            ApiKey::SaslAuthenticate,
            p.version,
            p.correlation_id,
            &response,
            false,
        );
        send(self.stream, reply).await
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
