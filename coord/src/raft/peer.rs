//! Member-to-member traffic on the `server.N` peer port: length-prefixed
//! postcard frames, each tagged with a request id so one connection carries
//! many requests at once (Raft RPCs, writes forwarded to the leader, read
//! barriers, session heartbeats). Requests sent on one connection reach the
//! other side's handler in order, which is what keeps a client's forwarded
//! writes in order.
//!
//! The bytes travel over plain TCP or, with `sslQuorum=true`, over mutual
//! TLS ([`super::transport`]); nothing here depends on which. A member
//! expecting one and meeting the other refuses the connection and says so
//! at warn (once every few seconds per peer): a TLS ClientHello or alert
//! read as a frame has an impossible length.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use super::transport::{HandshakeError, PeerRead, PeerWrite, Transport, WarnLimiter, WarnOnce};
use super::{NodeId, TypeConfig};
use crate::proposal::{Outcome, ProposalKind};
use crate::proto::records::Id;

/// Largest peer frame accepted (snapshot chunks are far smaller).
const MAX_FRAME: usize = 64 * 1024 * 1024;

/// A write a follower hands to the leader.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Forwarded {
    pub session: i64,
    pub ids: Vec<Id>,
    pub kind: ProposalKind,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum PeerRequest {
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<NodeId>),
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    Forward(Forwarded),
    /// "Which zxid must I have applied to be as new as the leader's commit?"
    ReadIndex,
    /// Sessions a follower's clients were heard from.
    Touch(Vec<i64>),
}

#[derive(Debug, Serialize, Deserialize)]
pub enum PeerResponse {
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    InstallSnapshot(
        Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>,
    ),
    Forward(Outcome),
    ReadIndex(Option<i64>),
    /// The leader's applied zxid, so a follower knows when it has caught up.
    Touched(i64),
}

/// Why a peer call failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("cannot reach {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot set up the connection to {addr}: {source}")]
    Handshake {
        addr: String,
        #[source]
        source: HandshakeError,
    },
    #[error("connection to {0} closed")]
    Closed(String),
    #[error("no answer from {0} in time")]
    Timeout(String),
    #[error("cannot encode a peer message: {0}")]
    Encode(#[from] postcard::Error),
}

/// Writes one frame: length (u32), request id (u64), postcard body.
fn frame(id: u64, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + body.len());
    out.extend_from_slice(&((body.len() + 8) as u32).to_be_bytes());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A frame length no peer sends: the stream is not this protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BadFrame {
    /// The first two bytes are a TLS record's (handshake or alert, version
    /// 3.x): the other side speaks TLS and this one does not.
    tls: bool,
}

/// Takes one frame off `buf`: `Ok(None)` if incomplete, `Err` if hostile.
fn take_frame(buf: &mut BytesMut) -> Result<Option<(u64, BytesMut)>, BadFrame> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if !(8..=MAX_FRAME).contains(&len) {
        return Err(BadFrame {
            tls: matches!(buf[0], 0x15 | 0x16) && buf[1] == 3,
        });
    }
    if buf.len() < 4 + len {
        return Ok(None);
    }
    buf.advance(4);
    let mut body = buf.split_to(len);
    let id = body.get_u64();
    Ok(Some((id, body)))
}

/// Why [`read_frames`] stopped.
#[derive(Debug)]
enum End {
    /// The stream ended (or failed), or `on_frame` said stop.
    Closed,
    /// The other side sent something that is not a frame.
    Bad(BadFrame),
}

/// Reads frames from `rd` and hands each to `on_frame` until the stream ends.
async fn read_frames(mut rd: PeerRead, mut on_frame: impl FnMut(u64, BytesMut) -> bool) -> End {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        loop {
            match take_frame(&mut buf) {
                Ok(Some((id, body))) => {
                    if !on_frame(id, body) {
                        return End::Closed;
                    }
                }
                Ok(None) => break,
                Err(bad) => return End::Bad(bad),
            }
        }
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return End::Closed,
            Ok(_) => {}
        }
    }
}

/// Most bytes gathered into one socket write.
const MAX_WRITE: usize = 1 << 20;

/// Writes the frames queued for one connection, in order. Every frame
/// waiting when the socket is free goes out in one write, so a burst of
/// forwarded proposals or answers costs one system call, not one each.
/// Each write is flushed: a no-op on TCP, and over TLS it sends records
/// the socket could not take at once (otherwise they would wait for the
/// next frame).
async fn write_frames(mut rx: mpsc::UnboundedReceiver<Vec<u8>>, mut wr: PeerWrite) {
    let mut buf = Vec::with_capacity(64 * 1024);
    while let Some(first) = rx.recv().await {
        let Ok(second) = rx.try_recv() else {
            // Alone: written as it is, without copying it (an
            // AppendEntries frame may be megabytes).
            if wr.write_all(&first).await.is_err() || wr.flush().await.is_err() {
                break;
            }
            continue;
        };
        buf.clear();
        buf.extend_from_slice(&first);
        buf.extend_from_slice(&second);
        while buf.len() < MAX_WRITE {
            match rx.try_recv() {
                Ok(frame) => buf.extend_from_slice(&frame),
                Err(_) => break,
            }
        }
        if wr.write_all(&buf).await.is_err() || wr.flush().await.is_err() {
            break;
        }
    }
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<PeerResponse>>>>;

struct Conn {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    pending: Pending,
    /// Set when the reading side ended: the next call reconnects.
    dead: Arc<std::sync::atomic::AtomicBool>,
}

/// A client for one peer, reconnecting as needed.
pub struct PeerClient {
    addr: String,
    transport: Transport,
    conn: tokio::sync::Mutex<Option<Arc<Conn>>>,
    next_id: AtomicU64,
    /// Limits warnings about a peer that refuses this member's transport.
    warn: Arc<WarnOnce>,
}

impl PeerClient {
    pub fn new(addr: String, transport: Transport) -> PeerClient {
        PeerClient {
            addr,
            transport,
            conn: tokio::sync::Mutex::new(None),
            next_id: AtomicU64::new(1),
            warn: Arc::default(),
        }
    }

    async fn connection(&self) -> Result<Arc<Conn>, PeerError> {
        let mut guard = self.conn.lock().await;
        if let Some(conn) = guard.as_ref() {
            if !conn.tx.is_closed() && !conn.dead.load(Relaxed) {
                return Ok(conn.clone());
            }
        }
        let stream = tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(&self.addr))
            .await
            .map_err(|_| PeerError::Timeout(self.addr.clone()))?
            .map_err(|source| PeerError::Connect {
                addr: self.addr.clone(),
                source,
            })?;
        let (rd, wr) = match self.transport.connect(&self.addr, stream).await {
            Ok(halves) => halves,
            Err(source) => {
                if self.warn.due() {
                    tracing::warn!(peer = %self.addr, tls = self.transport.is_tls(), error = %source,
                        "cannot set up a connection to this peer (does its sslQuorum match this member's, and its certificate the trust store?)");
                } else {
                    tracing::debug!(peer = %self.addr, error = %source, "peer handshake failed");
                }
                return Err(PeerError::Handshake {
                    addr: self.addr.clone(),
                    source,
                });
            }
        };
        let (tx, rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let pending: Pending = Arc::default();
        tokio::spawn(write_frames(rx, wr));
        let reader_pending = pending.clone();
        let dead = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader_dead = dead.clone();
        let addr = self.addr.clone();
        let warn = self.warn.clone();
        tokio::spawn(async move {
            let end = read_frames(rd, |id, body| {
                let Ok(response) = postcard::from_bytes::<PeerResponse>(&body) else {
                    return false;
                };
                let waiter = reader_pending.lock().ok().and_then(|mut p| p.remove(&id));
                if let Some(waiter) = waiter {
                    let _ = waiter.send(response);
                }
                true
            })
            .await;
            match end {
                End::Bad(BadFrame { tls: true }) if warn.due() => {
                    tracing::warn!(peer = %addr, "this peer answers in TLS: it has sslQuorum=true and this member does not; connection refused");
                }
                End::Bad(_) if warn.due() => {
                    tracing::warn!(peer = %addr, "this peer sent something that is not a peer frame; connection closed");
                }
                _ => {}
            }
            // Dropping the senders fails every call still waiting.
            reader_dead.store(true, Relaxed);
            if let Ok(mut p) = reader_pending.lock() {
                p.clear();
            }
        });
        let conn = Arc::new(Conn { tx, pending, dead });
        *guard = Some(conn.clone());
        Ok(conn)
    }

    /// Sends a request now (so calls made in order are sent in order) and
    /// returns where its answer will arrive.
    pub async fn start(
        &self,
        request: &PeerRequest,
    ) -> Result<oneshot::Receiver<PeerResponse>, PeerError> {
        let body = postcard::to_stdvec(request)?;
        let conn = self.connection().await?;
        let id = self.next_id.fetch_add(1, Relaxed);
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = conn.pending.lock() {
            p.insert(id, tx);
        }
        if conn.dead.load(Relaxed) {
            // The reader ended between the check and the insert.
            return Err(PeerError::Closed(self.addr.clone()));
        }
        if conn.tx.send(frame(id, &body)).is_err() {
            return Err(PeerError::Closed(self.addr.clone()));
        }
        Ok(rx)
    }

    /// One request and its answer, within `timeout` — the connection set-up
    /// included: a peer that accepts TCP but never finishes its TLS
    /// handshake must not hold a heartbeat or a vote past its deadline.
    pub async fn call(
        &self,
        request: &PeerRequest,
        timeout: Duration,
    ) -> Result<PeerResponse, PeerError> {
        let attempt = async {
            let rx = self.start(request).await?;
            Ok::<_, PeerError>(rx.await)
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(Ok(Ok(response))) => Ok(response),
            Ok(Ok(Err(_))) => {
                // The connection died: forget it so the next call reconnects.
                *self.conn.lock().await = None;
                Err(PeerError::Closed(self.addr.clone()))
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(PeerError::Timeout(self.addr.clone())),
        }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }
}

/// Accepts peer connections over `transport` and answers their requests
/// through [`super::Ensemble::handle_peer`]. A peer that cannot complete
/// the transport's handshake (plaintext to a TLS member, a certificate the
/// trust store does not vouch for) is dropped with a warning naming it.
pub async fn serve(
    listener: tokio::net::TcpListener,
    handler: Arc<super::Ensemble>,
    transport: Transport,
) {
    let warn = Arc::new(WarnLimiter::default());
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "peer accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let handler = handler.clone();
        let transport = transport.clone();
        let warn = warn.clone();
        tokio::spawn(async move {
            let (rd, wr) = match transport.accept(stream, remote).await {
                Ok(halves) => halves,
                Err(error) => {
                    if warn.due(remote.ip()) {
                        tracing::warn!(peer = %remote, %error,
                            "refused a peer connection (this member has sslQuorum=true: is the peer's sslQuorum true too, and its certificate signed by a CA in ssl.quorum.trustStore?)");
                    } else {
                        tracing::debug!(peer = %remote, %error, "refused a peer connection");
                    }
                    return;
                }
            };
            let (tx, rx) = mpsc::unbounded_channel::<Vec<u8>>();
            tokio::spawn(write_frames(rx, wr));
            let (req_tx, mut req_rx) = mpsc::unbounded_channel::<(u64, PeerRequest)>();
            // Requests are started in arrival order; their answers may finish
            // in any order.
            let dispatcher = tokio::spawn(async move {
                while let Some((id, request)) = req_rx.recv().await {
                    let answer = handler.handle_peer(request).await;
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let response = answer.await;
                        if let Ok(body) = postcard::to_stdvec(&response) {
                            let _ = tx.send(frame(id, &body));
                        }
                    });
                }
            });
            let end = read_frames(rd, |id, body| {
                match postcard::from_bytes::<PeerRequest>(&body) {
                    Ok(request) => req_tx.send((id, request)).is_ok(),
                    Err(error) => {
                        tracing::warn!(peer = %remote, %error, "undecodable peer request; closing the connection");
                        false
                    }
                }
            })
            .await;
            if let End::Bad(bad) = end {
                if warn.due(remote.ip()) {
                    if bad.tls {
                        tracing::warn!(peer = %remote, "refused a peer connection: the peer speaks TLS (sslQuorum=true there) and this member has sslQuorum=false");
                    } else {
                        tracing::warn!(peer = %remote, "refused a peer connection: it sent something that is not a peer frame");
                    }
                }
            }
            drop(req_tx);
            let _ = dispatcher.await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_and_reject_hostile_lengths() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&frame(7, b"abc"));
        buf.extend_from_slice(&frame(8, b""));
        let (id, body) = take_frame(&mut buf).unwrap().unwrap();
        assert_eq!((id, &body[..]), (7, &b"abc"[..]));
        let (id, body) = take_frame(&mut buf).unwrap().unwrap();
        assert_eq!((id, body.len()), (8, 0));
        assert_eq!(take_frame(&mut buf), Ok(None));
        let mut bad = BytesMut::from(&u32::MAX.to_be_bytes()[..]);
        assert_eq!(take_frame(&mut bad), Err(BadFrame { tls: false }));
    }

    #[test]
    fn tls_records_are_recognised_as_such() {
        // A ClientHello (handshake record, TLS 1.0 record version) and a
        // fatal alert, as a plaintext member would read them.
        let mut hello = BytesMut::from(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01][..]);
        assert_eq!(take_frame(&mut hello), Err(BadFrame { tls: true }));
        let mut alert = BytesMut::from(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28][..]);
        assert_eq!(take_frame(&mut alert), Err(BadFrame { tls: true }));
    }
}
