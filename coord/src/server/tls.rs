//! The secure client port's TLS: the acceptor, built once at start-up from
//! zoo.cfg's `ssl.*` keys (so a bad file stops the server instead of
//! failing each client), and a handshake bounded in time.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::config::tls::build::{bounded, TlsHandshakeError};
use crate::config::SecureClientPort;

/// How long a client has to finish its TLS handshake. Without a bound a
/// peer that connects and sends nothing would hold its connection slot
/// (and a `maxClientCnxns` place) forever; Netty's SslHandler, which
/// ZooKeeper uses, gives up after the same 10 s.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the acceptor for `secure`; the message names the zoo.cfg key
/// (and file) at fault. The config comes from the builder TLS between
/// members uses too ([`crate::config::tls::server_config`]).
pub fn acceptor(secure: &SecureClientPort) -> Result<TlsAcceptor, String> {
    let config = crate::config::tls::server_config(&secure.stores(), secure.client_auth)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Completes the server side of a handshake on `stream`, or gives up
/// after [`HANDSHAKE_TIMEOUT`].
pub async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
) -> Result<TlsStream<TcpStream>, TlsHandshakeError> {
    bounded(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
}

/// The subject of the certificate the client presented, in RFC 2253 form
/// as Java's `X500Principal.getName()` prints it (ZooKeeper's
/// `X509AuthenticationProvider` id); `None` when it presented none
/// (`ssl.clientAuth=want` or `none`).
pub fn client_dn(
    stream: &TlsStream<TcpStream>,
) -> Option<Result<String, runnel_common::security::dn::DnError>> {
    let leaf = stream.get_ref().1.peer_certificates()?.first()?;
    Some(runnel_common::security::dn::subject_dn(leaf.as_ref()))
}
