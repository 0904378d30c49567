//! One client connection: the handshake, then a reader that decodes requests
//! and a writer that sends replies in request order with watch events in
//! between.
//!
//! Order is the contract here. Writes go to the commit thread and reads are
//! answered by the writer when their turn comes, so a read never overtakes
//! an earlier write of the same client; and before each reply the writer
//! sends every watch event already queued, so a client always sees the event
//! before data that reflects the change.
//!
//! The code is generic over the byte stream, so the plain client port and
//! the TLS one (`secureClientPort`) serve exactly the same protocol,
//! sessions and watches: [`serve`] takes a TCP socket (split without a
//! lock), [`serve_stream`] a TLS one (split with tokio's), whose client
//! certificate gives the connection an `x509` id.
//!
//! Authentication packets (`auth`, SASL) are answered here, in order with
//! the rest; with `enforce.auth.enabled`, any other request from a
//! connection without an id of the enforced schemes is answered
//! SESSIONCLOSEDREQUIRESASLAUTH and the connection closed, as ZooKeeper's
//! `AuthenticationHelper.enforceAuthentication` does.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::server::TlsStream;

use super::four_letter;
use super::reads::{self, Reader as ReadCaller};
use super::reply::{multi_body, multi_error_body, write_body, Reply};
use super::sasl::{self, ConnAuth};
use super::stats::{ConnStats, OpKind};
use super::watches::Outbound;
use super::Shared;
use crate::proposal::{Outcome, Proposal, ProposalKind};
use crate::proto::frame::{take_frame, MAX_PACKET};
use crate::proto::jute::{Decode, Encode, Reader};
use crate::proto::opcode::AUTH_XID;
use crate::proto::records::{AuthPacket, ConnectRequest, ConnectResponse, Id, RequestHeader};
use crate::proto::request::{Request, RequestError, WriteOp};
use crate::proto::{ErrorCode, OpCode};
use crate::tree::acl::digest_id;

/// Replies waiting for their turn in the writer.
enum Pending {
    /// Already encoded.
    Ready(Bytes),
    /// Answered when reached, after everything before it.
    Read {
        xid: i32,
        request: Request,
        ids: Arc<Vec<Id>>,
    },
    /// Answered when the commit thread is done with it.
    Write {
        xid: i32,
        shape: WriteShape,
        outcome: oneshot::Receiver<Outcome>,
    },
    /// Send this frame, then close the connection.
    Last(Bytes),
}

/// What a write's reply body looks like.
enum WriteShape {
    Single(WriteOp),
    Multi(Vec<WriteOp>),
    CloseSession,
}

/// Serves one accepted plaintext socket until it closes.
pub async fn serve(shared: Arc<Shared>, stream: TcpStream, remote: SocketAddr, conn: u64) {
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    serve_halves(shared, rd, wr, remote, conn, Vec::new()).await
}

/// Serves one established TLS session on the secure port until it closes.
/// A client certificate gives the connection `x509:<subject DN>`; one whose
/// subject cannot be read is closed, as ZooKeeper closes a connection its
/// x509 provider fails.
pub async fn serve_stream(
    shared: Arc<Shared>,
    stream: TlsStream<TcpStream>,
    remote: SocketAddr,
    conn: u64,
) {
    let ids = match super::tls::client_dn(&stream) {
        None => Vec::new(),
        Some(Ok(dn)) => sasl::x509_ids(&shared.config.auth, dn),
        Some(Err(error)) => {
            tracing::info!(%remote, %error, "closing a TLS client: no x509 id");
            return;
        }
    };
    let (rd, wr) = tokio::io::split(stream);
    serve_halves(shared, rd, wr, remote, conn, ids).await
}

/// Writes `bytes` and flushes: a TLS stream may keep encrypted records
/// buffered after `write_all` until flushed (a TCP flush is a no-op).
async fn send<W: AsyncWrite + Unpin>(wr: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    wr.write_all(bytes).await?;
    wr.flush().await
}

async fn serve_halves<R, W>(
    shared: Arc<Shared>,
    mut rd: R,
    mut wr: W,
    remote: SocketAddr,
    conn: u64,
    tls_ids: Vec<Id>,
) where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
{
    let mut buf = BytesMut::with_capacity(4096);
    // The first four bytes are either a four-letter word or a frame length.
    while buf.len() < 4 {
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
    if let Some(word) = four_letter::detect(&buf[..4]) {
        let text = four_letter::answer(&shared, word);
        let _ = send(&mut wr, text.as_bytes()).await;
        let _ = wr.shutdown().await;
        return;
    }
    let stats = Arc::new(ConnStats::new(remote));
    shared.register_conn(conn, stats.clone());
    if let Some((session, readonly_byte)) =
        handshake(&shared, &mut rd, &mut wr, &mut buf, conn, &stats).await
    {
        let _ = readonly_byte;
        let mut ids = vec![Id {
            scheme: "ip".into(),
            id: remote.ip().to_string(),
        }];
        ids.extend(tls_ids);
        let auth = ConnAuth::new(ids);
        run_session(&shared, rd, wr, buf, conn, session, auth, stats).await;
        shared.sessions.detach(session, conn);
    }
    shared.watches().disconnect(conn);
    shared.unregister_conn(conn);
}

async fn read_frame<R: AsyncRead + Unpin>(rd: &mut R, buf: &mut BytesMut) -> Option<Bytes> {
    loop {
        match take_frame(buf, MAX_PACKET) {
            Ok(Some(frame)) => return Some(frame),
            Ok(None) => {}
            Err(error) => {
                tracing::info!(%error, "closing connection");
                return None;
            }
        }
        match rd.read_buf(buf).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

fn random_password() -> [u8; 16] {
    rand::random()
}

/// Reads the ConnectRequest and answers it; returns the session id on success.
async fn handshake<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    shared: &Arc<Shared>,
    rd: &mut R,
    wr: &mut W,
    buf: &mut BytesMut,
    conn: u64,
    stats: &ConnStats,
) -> Option<(i64, bool)> {
    let frame = read_frame(rd, buf).await?;
    if !shared.serving() {
        tracing::debug!("not serving (no quorum): closing a new client connection");
        return None;
    }
    let mut r = Reader::new(frame);
    let request = match ConnectRequest::decode(&mut r) {
        Ok(req) => req,
        Err(error) => {
            tracing::info!(%error, "bad connect request; closing");
            return None;
        }
    };
    let readonly_byte = r.remaining() > 0;
    let last_zxid = shared.tree().last_zxid();
    if request.last_zxid_seen > last_zxid {
        tracing::info!(
            client_zxid = format_args!("0x{:x}", request.last_zxid_seen),
            our_zxid = format_args!("0x{:x}", last_zxid),
            "refusing session: client has seen a newer zxid than this server"
        );
        return None;
    }
    let timeout = shared.config.negotiate_timeout(request.time_out);
    let mut session = request.session_id;
    let mut password = [0u8; 16];
    let mut valid = true;
    if session == 0 {
        password = random_password();
        session = shared.next_session_id();
        let (tx, rx) = oneshot::channel();
        let proposal = Proposal {
            forwarded: false,
            session,
            ids: Arc::new(Vec::new()),
            kind: ProposalKind::CreateSession {
                timeout_ms: timeout,
                password,
            },
            reply: Some(tx),
        };
        if shared.commit_tx.send(proposal).await.is_err() {
            return None;
        }
        match rx.await {
            Ok(Outcome::Done { .. }) => {}
            _ => return None,
        }
    } else {
        let known = shared.tree().session(session).copied();
        match known {
            Some(record) if record.password[..] == request.passwd[..] => password = record.password,
            _ => valid = false,
        }
    }
    if valid {
        match shared.sessions.attach(session, timeout, conn) {
            Ok(Some(previous)) => shared.watches().close(previous),
            Ok(None) => {}
            Err(_) => valid = false,
        }
    }
    let response = if valid {
        ConnectResponse {
            protocol_version: 0,
            time_out: timeout,
            session_id: session,
            passwd: Bytes::copy_from_slice(&password),
        }
    } else {
        tracing::info!(
            session = format_args!("0x{session:x}"),
            "session expired or bad password"
        );
        ConnectResponse {
            protocol_version: 0,
            time_out: 0,
            session_id: 0,
            passwd: Bytes::from_static(&[0; 16]),
        }
    };
    let mut out = BytesMut::new();
    out.extend_from_slice(&[0; 4]);
    response.encode(&mut out);
    if readonly_byte {
        false.encode(&mut out);
    }
    let len = (out.len() - 4) as i32;
    out[..4].copy_from_slice(&len.to_be_bytes());
    if send(wr, &out).await.is_err() || !valid {
        let _ = wr.shutdown().await;
        return None;
    }
    stats.session.store(session, Relaxed);
    stats.timeout_ms.store(timeout.into(), Relaxed);
    tracing::debug!(
        session = format_args!("0x{session:x}"),
        timeout,
        "session established"
    );
    Some((session, readonly_byte))
}

#[allow(clippy::too_many_arguments)]
async fn run_session<R, W>(
    shared: &Arc<Shared>,
    mut rd: R,
    wr: W,
    mut buf: BytesMut,
    conn: u64,
    session: i64,
    mut auth: ConnAuth,
    stats: Arc<ConnStats>,
) where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
{
    let (event_tx, event_rx) = mpsc::unbounded_channel();
    shared.watches().connect(conn, event_tx);
    let (fifo_tx, fifo_rx) = mpsc::channel::<(Pending, Instant)>(1024);
    let writer = write_loop(
        shared.clone(),
        wr,
        fifo_rx,
        event_rx,
        conn,
        session,
        stats.clone(),
    );
    let reader = async {
        while let Some(frame) = read_frame(&mut rd, &mut buf).await {
            shared.stats.received.fetch_add(1, Relaxed);
            stats.received.fetch_add(1, Relaxed);
            stats.queued.fetch_add(1, Relaxed);
            shared.sessions.touch(session);
            let Some(pending) = dispatch(shared, frame, session, &mut auth).await else {
                break;
            };
            let last = matches!(
                pending,
                Pending::Last(_)
                    | Pending::Write {
                        shape: WriteShape::CloseSession,
                        ..
                    }
            );
            if fifo_tx.send((pending, Instant::now())).await.is_err() || last {
                break;
            }
        }
        drop(fifo_tx);
        // Let the writer finish what is queued; it ends when the queue does.
        std::future::pending::<()>().await
    };
    tokio::select! {
        _ = reader => {}
        _ = writer => {}
    }
}

/// Turns one request frame into its place in the reply queue.
/// `None` closes the connection (an unparsable header, as ZooKeeper does).
async fn dispatch(
    shared: &Arc<Shared>,
    frame: Bytes,
    session: i64,
    auth: &mut ConnAuth,
) -> Option<Pending> {
    let mut r = Reader::new(frame.clone());
    let header = match RequestHeader::decode(&mut r) {
        Ok(h) => h,
        Err(error) => {
            tracing::info!(%error, "bad request header; closing");
            return None;
        }
    };
    let body = frame.slice(8..);
    let xid = header.xid;
    let zxid = || shared.tree().last_zxid();
    if header.op == OpCode::Sasl as i32 {
        return Some(sasl_packet(shared, auth, xid, body));
    }
    let enforced = &shared.config.auth.enforce_schemes;
    if header.op != OpCode::Auth as i32
        && shared.config.auth.enforced()
        && !auth.holds_any(enforced)
    {
        tracing::info!(
            session = format_args!("0x{session:x}"),
            schemes = ?enforced,
            "request before authenticating with an enforced scheme; closing"
        );
        // -124: ZooKeeper's SESSIONCLOSEDREQUIRESASLAUTH.
        return Some(Pending::Last(Reply::bare(
            xid,
            0,
            ErrorCode::SessionClosedRequireSaslAuth,
        )));
    }
    let request = match Request::decode(header.op, body) {
        Ok(request) => request,
        Err(RequestError::UnknownOp(op)) => {
            // ZooKeeper answers UNIMPLEMENTED and drops the connection.
            tracing::info!(op, "unknown op code; closing");
            return Some(Pending::Last(Reply::bare(
                xid,
                zxid(),
                ErrorCode::Unimplemented,
            )));
        }
        Err(error) => {
            tracing::info!(%error, "undecodable request");
            return Some(Pending::Ready(Reply::bare(
                xid,
                zxid(),
                ErrorCode::MarshallingError,
            )));
        }
    };
    let (kind, shape) = match request {
        Request::Write(op) => (ProposalKind::Write(op.clone()), WriteShape::Single(op)),
        Request::Multi(ops) => (ProposalKind::Multi(ops.clone()), WriteShape::Multi(ops)),
        Request::CloseSession => (ProposalKind::CloseSession, WriteShape::CloseSession),
        Request::Auth(packet) => return Some(authenticate(shared, auth, packet)),
        request => {
            return Some(Pending::Read {
                xid,
                request,
                ids: auth.ids.clone(),
            })
        }
    };
    if matches!(kind, ProposalKind::CloseSession) && !shared.sessions.begin_close(session) {
        return Some(Pending::Last(Reply::bare(xid, zxid(), ErrorCode::Ok)));
    }
    let (tx, rx) = oneshot::channel();
    let proposal = Proposal {
        forwarded: false,
        session,
        ids: auth.ids.clone(),
        kind,
        reply: Some(tx),
    };
    shared.commit_tx.send(proposal).await.ok()?;
    Some(Pending::Write {
        xid,
        shape,
        outcome: rx,
    })
}

/// `addauth`: digest adds an identity; any other scheme fails and closes
/// the connection, as ZooKeeper does without that auth provider.
fn authenticate(shared: &Shared, auth: &mut ConnAuth, packet: AuthPacket) -> Pending {
    let zxid = shared.tree().last_zxid();
    if packet.scheme == "digest" {
        auth.add(Id {
            scheme: "digest".into(),
            id: digest_id(&String::from_utf8_lossy(&packet.auth)),
        });
        Pending::Ready(Reply::bare(AUTH_XID, zxid, ErrorCode::Ok))
    } else {
        tracing::info!(scheme = %packet.scheme, "no provider for auth scheme");
        Pending::Last(Reply::bare(AUTH_XID, zxid, ErrorCode::AuthFailed))
    }
}

/// One SASL packet (`OpCode.sasl`): the next token of the login, answered
/// with the server's token and zxid 0 as ZooKeeper's `processSasl` does.
/// A failed login is answered AUTHFAILED with a null token, or
/// SESSIONCLOSEDREQUIRESASLAUTH (-124) when SASL is enforced, and the
/// connection closes.
fn sasl_packet(shared: &Shared, auth: &mut ConnAuth, xid: i32, body: Bytes) -> Pending {
    let config = &shared.config.auth;
    let result = sasl::request_token(body)
        .map_err(sasl::SaslError::from)
        .and_then(|token| auth.sasl_step(config, &token));
    match result {
        Ok(token) => {
            let mut reply = Reply::new(xid, 0, ErrorCode::Ok);
            token.encode(reply.buf());
            Pending::Ready(reply.finish())
        }
        Err(error) => {
            tracing::warn!(%error, "SASL authentication failed; closing the connection");
            let code = if config.sasl_required() {
                ErrorCode::SessionClosedRequireSaslAuth
            } else {
                ErrorCode::AuthFailed
            };
            let mut reply = Reply::new(xid, 0, code);
            None::<Bytes>.encode(reply.buf());
            Pending::Last(reply.finish())
        }
    }
}

/// Encodes a write's reply once its outcome is known.
fn write_reply(xid: i32, shape: &WriteShape, outcome: Outcome) -> Bytes {
    match (shape, outcome) {
        (WriteShape::Single(op), Outcome::Done { zxid, results }) => {
            let mut reply = Reply::new(xid, zxid, ErrorCode::Ok);
            write_body(reply.buf(), op, results.first());
            reply.finish()
        }
        (WriteShape::Multi(ops), Outcome::Done { zxid, results }) => {
            let mut reply = Reply::new(xid, zxid, ErrorCode::Ok);
            multi_body(reply.buf(), ops, &results);
            reply.finish()
        }
        (_, Outcome::MultiFailed { zxid, codes }) => {
            let mut reply = Reply::new(xid, zxid, ErrorCode::Ok);
            multi_error_body(reply.buf(), &codes);
            reply.finish()
        }
        (WriteShape::CloseSession, Outcome::Done { zxid, .. }) => {
            Reply::bare(xid, zxid, ErrorCode::Ok)
        }
        (_, Outcome::Failed { zxid, code }) => Reply::bare(xid, zxid, code),
        (_, Outcome::Unavailable) => Bytes::new(),
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    shared: Arc<Shared>,
    mut wr: W,
    mut fifo: mpsc::Receiver<(Pending, Instant)>,
    mut events: mpsc::UnboundedReceiver<Outbound>,
    conn: u64,
    session: i64,
    stats: Arc<ConnStats>,
) {
    let mut out = BytesMut::with_capacity(16 * 1024);
    loop {
        tokio::select! {
            biased;
            event = events.recv() => match event {
                Some(Outbound::Frame(frame)) => out.extend_from_slice(&frame),
                Some(Outbound::Close) | None => break,
            },
            next = fifo.recv() => {
                let Some((pending, started)) = next else { break };
                let kind = match pending {
                    Pending::Read { .. } => Some(OpKind::Read),
                    Pending::Write { .. } => Some(OpKind::Update),
                    Pending::Ready(_) | Pending::Last(_) => None,
                };
                let mut close = false;
                let frame = match pending {
                    Pending::Ready(frame) => frame,
                    Pending::Last(frame) => { close = true; frame }
                    Pending::Read { xid, request, ids } => {
                        if matches!(request, Request::Sync(_)) && !shared.sync().await {
                            break;
                        }
                        stats.last_xid.store(xid.into(), Relaxed);
                        stats.set_last_op(op_label(&request));
                        let who = ReadCaller { conn, session, ids: &ids };
                        reads::answer(&shared, &who, xid, &request)
                    }
                    Pending::Write { xid, shape, mut outcome } => {
                        let outcome = match outcome.try_recv() {
                            Ok(outcome) => outcome,
                            Err(oneshot::error::TryRecvError::Closed) => break,
                            Err(oneshot::error::TryRecvError::Empty) => {
                                // Not answered yet: send what is queued
                                // before waiting. (A group commit answers
                                // a session's writes together: the rest are
                                // ready by then and share one send.)
                                if !out.is_empty() && send(&mut wr, &out).await.is_err() {
                                    break;
                                }
                                out.clear();
                                match outcome.await {
                                    Ok(outcome) => outcome,
                                    Err(_) => break,
                                }
                            }
                        };
                        stats.last_xid.store(xid.into(), Relaxed);
                        if let WriteShape::CloseSession = shape {
                            close = true;
                            stats.set_last_op("CLOS");
                        }
                        if let Outcome::Done { zxid, .. } = &outcome {
                            stats.last_zxid.store(*zxid, Relaxed);
                        }
                        if let Outcome::Unavailable = outcome {
                            if let WriteShape::CloseSession = shape {
                                shared.sessions.abort_close(session);
                            }
                            // Like a ZooKeeper member without quorum: drop the
                            // connection; the client retries elsewhere.
                            let _ = send(&mut wr, &out).await;
                            break;
                        }
                        write_reply(xid, &shape, outcome)
                    }
                };
                // Events queued before this reply was made go first.
                while let Ok(event) = events.try_recv() {
                    match event {
                        Outbound::Frame(e) => out.extend_from_slice(&e),
                        Outbound::Close => close = true,
                    }
                }
                out.extend_from_slice(&frame);
                shared.stats.sent.fetch_add(1, Relaxed);
                stats.sent.fetch_add(1, Relaxed);
                stats.queued.fetch_sub(1, Relaxed);
                shared.stats.record(started.elapsed(), kind);
                if close {
                    let _ = send(&mut wr, &out).await;
                    break;
                }
                if !fifo.is_empty() && out.len() < 64 * 1024 {
                    continue;
                }
            }
        }
        if !out.is_empty() {
            if send(&mut wr, &out).await.is_err() {
                break;
            }
            out.clear();
        }
    }
    let _ = wr.shutdown().await;
}

fn op_label(request: &Request) -> &'static str {
    let op = match request {
        Request::Exists(_) => OpCode::Exists,
        Request::GetData(_) => OpCode::GetData,
        Request::GetChildren(_) | Request::GetChildren2(_) => OpCode::GetChildren,
        Request::Ping => OpCode::Ping,
        Request::Sync(_) => OpCode::Sync,
        Request::SetWatches(_) => OpCode::SetWatches,
        Request::MultiRead(_) => OpCode::MultiRead,
        Request::GetAcl(_) => OpCode::GetAcl,
        _ => OpCode::Notification,
    };
    op.label()
}
