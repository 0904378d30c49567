//! Member-to-member traffic on the `server.N` peer port: length-prefixed
//! postcard frames, each tagged with a request id so one connection carries
//! many requests at once (Raft RPCs, writes forwarded to the leader, read
//! barriers, session heartbeats). Requests sent on one connection reach the
//! other side's handler in order, which is what keeps a client's forwarded
//! writes in order.

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

/// Takes one frame off `buf`: `Ok(None)` if incomplete, `Err` if hostile.
fn take_frame(buf: &mut BytesMut) -> Result<Option<(u64, BytesMut)>, ()> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if !(8..=MAX_FRAME).contains(&len) {
        return Err(());
    }
    if buf.len() < 4 + len {
        return Ok(None);
    }
    buf.advance(4);
    let mut body = buf.split_to(len);
    let id = body.get_u64();
    Ok(Some((id, body)))
}

/// Reads frames from `rd` and hands each to `on_frame` until the stream ends.
async fn read_frames(
    mut rd: tokio::net::tcp::OwnedReadHalf,
    mut on_frame: impl FnMut(u64, BytesMut) -> bool,
) {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        loop {
            match take_frame(&mut buf) {
                Ok(Some((id, body))) => {
                    if !on_frame(id, body) {
                        return;
                    }
                }
                Ok(None) => break,
                Err(()) => return,
            }
        }
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Most bytes gathered into one socket write.
const MAX_WRITE: usize = 1 << 20;

/// Writes the frames queued for one connection, in order. Every frame
/// waiting when the socket is free goes out in one write, so a burst of
/// forwarded proposals or answers costs one system call, not one each.
async fn write_frames(
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    mut wr: tokio::net::tcp::OwnedWriteHalf,
) {
    let mut buf = Vec::with_capacity(64 * 1024);
    while let Some(first) = rx.recv().await {
        let Ok(second) = rx.try_recv() else {
            // Alone: written as it is, without copying it (an
            // AppendEntries frame may be megabytes).
            if wr.write_all(&first).await.is_err() {
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
        if wr.write_all(&buf).await.is_err() {
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
    conn: tokio::sync::Mutex<Option<Arc<Conn>>>,
    next_id: AtomicU64,
}

impl PeerClient {
    pub fn new(addr: String) -> PeerClient {
        PeerClient {
            addr,
            conn: tokio::sync::Mutex::new(None),
            next_id: AtomicU64::new(1),
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
        let _ = stream.set_nodelay(true);
        let (rd, wr) = stream.into_split();
        let (tx, rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let pending: Pending = Arc::default();
        tokio::spawn(write_frames(rx, wr));
        let reader_pending = pending.clone();
        let dead = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader_dead = dead.clone();
        tokio::spawn(async move {
            read_frames(rd, |id, body| {
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

    /// One request and its answer, within `timeout`.
    pub async fn call(
        &self,
        request: &PeerRequest,
        timeout: Duration,
    ) -> Result<PeerResponse, PeerError> {
        let rx = self.start(request).await?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(_)) => {
                // The connection died: forget it so the next call reconnects.
                *self.conn.lock().await = None;
                Err(PeerError::Closed(self.addr.clone()))
            }
            Err(_) => Err(PeerError::Timeout(self.addr.clone())),
        }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }
}

/// Accepts peer connections and answers their requests through
/// [`super::Ensemble::handle_peer`].
pub async fn serve(listener: tokio::net::TcpListener, handler: Arc<super::Ensemble>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "peer accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        tokio::spawn(async move {
            let (rd, wr) = stream.into_split();
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
            read_frames(rd, |id, body| {
                match postcard::from_bytes::<PeerRequest>(&body) {
                    Ok(request) => req_tx.send((id, request)).is_ok(),
                    Err(error) => {
                        tracing::warn!(%error, "undecodable peer request; closing the connection");
                        false
                    }
                }
            })
            .await;
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
        assert_eq!(take_frame(&mut bad), Err(()));
    }
}
