//! One client connection: a reader task that cuts frames and parses request
//! headers, and a processor that handles requests one at a time in arrival
//! order and writes the responses, so pipelined requests are answered in
//! order (Kafka processes one request per connection at a time too).
//!
//! A framing or header error closes the connection; requests already read
//! are answered first.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tracing::{debug, trace};

use super::frame::{self, Request};
use crate::api::{self, Reply};
use crate::server::Broker;

/// Requests read ahead of the one being handled.
const READ_AHEAD: usize = 64;
/// Initial read buffer; grows to the largest frame seen.
const READ_BUFFER: usize = 64 * 1024;
/// Responses smaller than this are coalesced before writing.
const WRITE_BUFFER: usize = 64 * 1024;

/// Serves one connection until the peer closes it, a protocol error, or shutdown.
pub async fn serve(broker: Arc<Broker>, stream: TcpStream, mut shutdown: watch::Receiver<bool>) {
    let peer_ip = stream.peer_addr().ok().map(|a| a.ip());
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "?".into());
    if let Err(e) = stream.set_nodelay(true) {
        debug!(%peer, "set_nodelay: {e}");
    }
    let (mut reader, writer) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Request>(READ_AHEAD);
    let max = broker.config.socket_request_max_bytes;

    let reader_peer = peer.clone();
    let read_task = tokio::spawn(async move {
        let mut buf = BytesMut::with_capacity(READ_BUFFER);
        loop {
            loop {
                match frame::parse_frame(&mut buf, max) {
                    Ok(Some(f)) => match frame::parse_request(f) {
                        Ok(mut req) => {
                            req.peer = peer_ip;
                            if tx.send(req).await.is_err() {
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

    let mut out = BufWriter::with_capacity(WRITE_BUFFER, writer);
    loop {
        let req = tokio::select! {
            r = rx.recv() => match r {
                Some(r) => r,
                None => break,
            },
            _ = shutdown.changed() => break,
        };
        trace!(%peer, api = ?req.api_key, version = req.version(), correlation_id = req.header.correlation_id, "request");
        match api::handle(&broker, req).await {
            Reply::Send(frame) => {
                if write_frame(&mut out, frame).await.is_err() {
                    break;
                }
            }
            Reply::Nothing => {}
            Reply::Close(reason) => {
                debug!(%peer, "closing connection: {reason}");
                break;
            }
        }
        // Flush once the pipeline is drained, not after every response.
        if rx.is_empty() && out.flush().await.is_err() {
            break;
        }
    }
    let _ = out.flush().await;
    let _ = out.shutdown().await;
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
