//! One client connection: a reader task that cuts frames and parses request
//! headers, a processor that handles requests one at a time in arrival
//! order, and a writer task that sends the answers in that same order.
//! Answers that must wait (an `acks=all` produce waiting for its ISR) are
//! awaited by the writer, so the processor appends the producer's next
//! in-flight requests meanwhile — where Kafka mutes the connection until
//! the answer is sent.
//!
//! A framing or header error closes the connection; requests already read
//! are answered first.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;
use runnel_common::kafka::transport::Stream;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, trace};

use super::frame::{self, Api, Request};
use crate::api::{self, Reply};
use crate::quota::connections::Activity;
use crate::security::listener::ListenerRuntime;
use crate::security::sasl_server::{self, ServingChannel, Session};
use crate::server::Broker;

/// Requests read ahead of the one being handled.
const READ_AHEAD: usize = 64;
/// Initial read buffer; grows to the largest frame seen.
const READ_BUFFER: usize = 64 * 1024;
/// Responses smaller than this are coalesced before writing.
const WRITE_BUFFER: usize = 64 * 1024;

/// Who is on a connection and through which listener.
pub struct Identity {
    /// The listener's name: Metadata answers with endpoints on it.
    pub listener: Arc<str>,
    /// Who authenticated, for the authorizer (`User:alice`).
    pub principal: Arc<str>,
    /// The SASL session, on SASL listeners: it may expire and be renewed.
    pub session: Option<Session>,
    pub security: Arc<ListenerRuntime>,
    /// Its last use, and the broker's request to close it (the least
    /// recently used one goes when `max.connections` is exceeded).
    pub activity: Arc<Activity>,
}

/// Serves one connection (already through its listener's TLS and SASL)
/// until the peer closes it, a protocol error, or shutdown. `unread` is
/// what was read past the authentication phase, the first bytes of the
/// first request.
pub async fn serve(
    broker: Arc<Broker>,
    stream: Stream,
    identity: Identity,
    unread: BytesMut,
    mut shutdown: watch::Receiver<bool>,
) {
    let Identity {
        listener,
        principal,
        mut session,
        security,
        activity,
    } = identity;
    let peer_addr = stream.tcp().peer_addr().ok();
    let peer_ip = peer_addr.map(|a| a.ip());
    let peer = peer_addr.map_or_else(|| "?".into(), |a| a.to_string());
    let (mut reader, writer) = stream.split();
    // Each request with the time it was read, for its total-time metric.
    let (tx, mut rx) = mpsc::channel::<(Request, Instant)>(READ_AHEAD);
    let max = broker.config.socket_request_max_bytes;

    let reader_peer = peer.clone();
    let read_task = tokio::spawn(async move {
        let mut buf = unread;
        buf.reserve(READ_BUFFER);
        loop {
            loop {
                match frame::parse_frame(&mut buf, max) {
                    Ok(Some(f)) => match frame::parse_request(f) {
                        Ok(mut req) => {
                            req.peer = peer_ip;
                            req.listener = listener.clone();
                            req.principal = principal.clone();
                            if tx.send((req, Instant::now())).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            debug!(peer = %reader_peer, "closing connection: {e}");
                            return;
                        }
                    },
                    Ok(None) => break,
                    Err(e) => {
                        debug!(peer = %reader_peer, "closing connection: {e}");
                        return;
                    }
                }
            }
            if buf.capacity() - buf.len() < 4096 {
                buf.reserve(READ_BUFFER);
            }
            match reader.read_buf(&mut buf).await {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) => {
                    trace!(peer = %reader_peer, "read: {e}");
                    return;
                }
            }
        }
    });

    // Answers go to a writer task in request order; an answer that is not
    // ready yet (an acks=all produce waiting for its ISR) is awaited there,
    // so the processor goes on with the next request meanwhile.
    let (answers_tx, mut answers_rx) = mpsc::channel::<(Reply, Api, Instant)>(READ_AHEAD);
    let writer_peer = peer.clone();
    let mut writer_shutdown = shutdown.clone();
    let writer_broker = broker.clone();
    let write_task = tokio::spawn(async move {
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, writer);
        while let Some((mut reply, api, read_at)) = answers_rx.recv().await {
            if let Reply::Later(fut) = reply {
                reply = tokio::select! {
                    r = fut => r,
                    // A stopping broker does not wait out a producer's timeout.
                    _ = writer_shutdown.changed() => break,
                };
            }
            match reply {
                Reply::Send(frame) => {
                    if write_frame(&mut out, frame).await.is_err() {
                        break;
                    }
                }
                // Later and Throttled are unwrapped before they get here.
                Reply::Nothing | Reply::Later(_) | Reply::Throttled(..) => {}
                Reply::Close(reason) => {
                    debug!(peer = %writer_peer, "closing connection: {reason}");
                    break;
                }
            }
            if let Some(m) = writer_broker.metrics.requests.api(api) {
                m.observe(read_at.elapsed());
            }
            // Flush once the pipeline is drained, not after every response.
            if answers_rx.is_empty() && out.flush().await.is_err() {
                break;
            }
        }
        let _ = out.flush().await;
        let _ = out.shutdown().await;
    });

    loop {
        let (req, read_at) = tokio::select! {
            r = rx.recv() => match r {
                Some(r) => r,
                None => break,
            },
            _ = shutdown.changed() => break,
            _ = activity.closed() => {
                info!(%peer, "closing connection: max.connections reached, and it was the least recently used");
                break;
            }
        };
        activity.touch(&broker.connections);
        let api = req.api_key;
        trace!(%peer, api = ?req.api_key, version = req.version(), correlation_id = req.header.correlation_id, "request");
        if let (Some(current), Some(sasl)) = (&mut session, &security.sasl) {
            if api == Api::Kafka(ApiKey::SaslHandshake) && current.can_reauthenticate {
                let mut chan = ServingChannel {
                    requests: &mut rx,
                    answers: &answers_tx,
                };
                match sasl_server::reauthenticate(&broker, &mut chan, &req, sasl, current).await {
                    Ok(renewed) => {
                        debug!(%peer, user = %renewed.user, "re-authenticated");
                        broker.metrics.reauthentications.inc();
                        *current = renewed;
                        continue;
                    }
                    Err(e) => {
                        info!(%peer, "failed re-authentication: {e}");
                        broker.metrics.failed_reauthentications.inc();
                        break;
                    }
                }
            }
            if current.expired(read_at) {
                // KIP-368: an expired session is used for something other
                // than re-authenticating; Kafka closes it without an answer.
                info!(%peer, user = %current.user, "closing connection: its SASL session expired");
                broker.metrics.expired_sessions_killed.inc();
                break;
            }
        }
        let (reply, throttle) = api::handle(&broker, req).await.take_throttle();
        let close = matches!(reply, Reply::Close(_));
        if answers_tx.send((reply, api, read_at)).await.is_err() || close {
            break;
        }
        if !throttle.is_zero() {
            // Over its quota: the answer carries the throttle time and the
            // connection handles nothing more until it has passed (KIP-219).
            trace!(%peer, ?throttle, "throttled");
            tokio::select! {
                _ = tokio::time::sleep(throttle) => {}
                _ = shutdown.changed() => break,
            }
        }
    }
    drop(answers_tx);
    let _ = write_task.await;
    read_task.abort();
}

async fn write_frame<W: tokio::io::AsyncWrite + Unpin>(
    out: &mut BufWriter<W>,
    frame: Bytes,
) -> std::io::Result<()> {
    if frame.len() >= WRITE_BUFFER {
        // Large responses (fetches) bypass the buffer instead of being copied.
        out.flush().await?;
        out.get_mut().write_all(&frame).await
    } else {
        out.write_all(&frame).await
    }
}
