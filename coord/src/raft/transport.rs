//! What carries the peer connections of [`super::peer`]: plain TCP, or
//! TLS both ways when zoo.cfg says `sslQuorum=true` (ZooKeeper's quorum
//! TLS, always mutual: each end presents its `ssl.quorum.keyStore`
//! certificate and checks the other's against `ssl.quorum.trustStore`).
//!
//! Both kinds end up as a boxed reader and writer, so the framing code
//! does not care which it has; the box costs one indirect call per socket
//! read or write (each carrying many frames), nothing per frame.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::config::tls::build::bounded;
use crate::config::tls::{self as tls_config, ClientAuth, QuorumTls};
use crate::config::Config;

/// The reading half of a peer connection.
pub type PeerRead = Box<dyn AsyncRead + Send + Unpin>;
/// The writing half of a peer connection.
pub type PeerWrite = Box<dyn AsyncWrite + Send + Unpin>;

/// How long an accepted peer has to finish its TLS handshake: as the
/// secure client port (and Netty's SslHandler), 10 s. The bound keeps a
/// peer that connects and says nothing from holding a task forever.
pub const ACCEPT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a member dialling a peer waits for the handshake. Shorter than
/// the accepting side's: a call to a peer waits for its connection, and a
/// peer that accepts TCP without answering (stopped, overloaded) should
/// look unreachable about as soon as it does without TLS, where the TCP
/// connect is given 1 s. A handshake on a LAN takes milliseconds.
pub const CONNECT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

/// How often the same trouble with the same peer is logged at warn (the
/// rest go to debug): a refused peer retries many times a second.
pub const WARN_EVERY: Duration = Duration::from_secs(10);

/// Plain TCP, or TLS with this member's quorum keys.
#[derive(Clone)]
pub enum Transport {
    Plain,
    Tls(Arc<QuorumContext>),
}

/// The rustls ends built from the `ssl.quorum.*` keys, once at start-up.
pub struct QuorumContext {
    connector: TlsConnector,
    acceptor: TlsAcceptor,
    /// `ssl.quorum.hostnameVerification`: see [`QuorumTls::hostname_verification`].
    verify_hostname: bool,
}

/// Why a peer connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error(transparent)]
    Tls(#[from] tls_config::build::TlsHandshakeError),
    #[error("{0:?} is not a host name or address a certificate can be checked against")]
    ServerName(String),
    #[error("its certificate does not name {ip}, the address it connects from ({reason}); ssl.quorum.hostnameVerification=false skips this check")]
    ClientName {
        ip: IpAddr,
        reason: tokio_rustls::rustls::Error,
    },
    #[error("it presented no certificate")]
    NoCertificate,
}

impl Transport {
    /// The transport zoo.cfg asks for; the message names the key at fault
    /// (a bad key store stops the member at start-up, not at each peer).
    pub fn from_config(config: &Config) -> Result<Transport, String> {
        match &config.quorum_tls {
            None => Ok(Transport::Plain),
            Some(quorum) => Ok(Transport::Tls(Arc::new(QuorumContext::new(quorum)?))),
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }

    /// Sets up the dialling end of a connection to `addr` (`host:port` of a
    /// `server.N` line).
    pub async fn connect(
        &self,
        addr: &str,
        stream: TcpStream,
    ) -> Result<(PeerRead, PeerWrite), HandshakeError> {
        let _ = stream.set_nodelay(true);
        let Transport::Tls(tls) = self else {
            return Ok(plain(stream));
        };
        let name = runnel_common::tls::server_name(addr)
            .map_err(|_| HandshakeError::ServerName(addr.to_string()))?;
        let stream = bounded(
            CONNECT_HANDSHAKE_TIMEOUT,
            tls.connector.connect(name, stream),
        )
        .await?;
        let (rd, wr) = tokio::io::split(stream);
        Ok((Box::new(rd), Box::new(wr)))
    }

    /// Sets up the accepting end of a connection from `remote`.
    pub async fn accept(
        &self,
        stream: TcpStream,
        remote: SocketAddr,
    ) -> Result<(PeerRead, PeerWrite), HandshakeError> {
        let _ = stream.set_nodelay(true);
        let Transport::Tls(tls) = self else {
            return Ok(plain(stream));
        };
        let stream = bounded(ACCEPT_HANDSHAKE_TIMEOUT, tls.acceptor.accept(stream)).await?;
        if tls.verify_hostname {
            // The chain was checked in the handshake (client auth is
            // required); what is left is ZooKeeper's client hostname check.
            let cert = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .ok_or(HandshakeError::NoCertificate)?;
            // An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d.
            let ip = remote.ip().to_canonical();
            tls_config::build::certificate_names_ip(cert, ip)
                .map_err(|reason| HandshakeError::ClientName { ip, reason })?;
        }
        let (rd, wr) = tokio::io::split(stream);
        Ok((Box::new(rd), Box::new(wr)))
    }
}

/// Plain TCP's halves: owned halves, no lock between reader and writer.
fn plain(stream: TcpStream) -> (PeerRead, PeerWrite) {
    let (rd, wr) = stream.into_split();
    (Box::new(rd), Box::new(wr))
}

impl QuorumContext {
    fn new(quorum: &QuorumTls) -> Result<QuorumContext, String> {
        let server = tls_config::server_config(&quorum.stores, ClientAuth::Need)?;
        let client = tls_config::client_config(&quorum.stores, quorum.hostname_verification)?;
        Ok(QuorumContext {
            connector: TlsConnector::from(Arc::new(client)),
            acceptor: TlsAcceptor::from(Arc::new(server)),
            verify_hostname: quorum.hostname_verification,
        })
    }
}

/// Says whether a warning about one peer is due: at most one per
/// [`WARN_EVERY`] per key, so a refused peer retrying many times a second
/// leaves one line every few seconds rather than a flood.
#[derive(Default)]
pub struct WarnLimiter {
    last: Mutex<HashMap<IpAddr, Instant>>,
}

/// Keys kept before old ones are dropped (addresses that stopped calling).
const WARN_KEYS: usize = 1024;

impl WarnLimiter {
    pub fn due(&self, key: IpAddr) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return true;
        };
        let now = Instant::now();
        if last.len() >= WARN_KEYS {
            last.retain(|_, at| now.duration_since(*at) < WARN_EVERY);
            if last.len() >= WARN_KEYS {
                // A flood from many addresses: forget them all rather than
                // grow without bound (a few extra warnings at worst).
                last.clear();
            }
        }
        match last.get(&key) {
            Some(at) if now.duration_since(*at) < WARN_EVERY => false,
            _ => {
                last.insert(key, now);
                true
            }
        }
    }
}

/// The same for one peer (a [`super::peer::PeerClient`]'s own warnings).
#[derive(Default)]
pub struct WarnOnce {
    last: Mutex<Option<Instant>>,
}

impl WarnOnce {
    pub fn due(&self) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return true;
        };
        let now = Instant::now();
        match *last {
            Some(at) if now.duration_since(at) < WARN_EVERY => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }
}
