//! The secure client port's TLS: the acceptor, built once at start-up from
//! zoo.cfg's `ssl.*` keys (so a bad file stops the server instead of
//! failing each client), and a handshake bounded in time.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use runnel_common::tls::{self, TlsError, TlsFiles};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::config::SecureClientPort;

/// How long a client has to finish its TLS handshake. Without a bound a
/// peer that connects and sends nothing would hold its connection slot
/// (and a `maxClientCnxns` place) forever; Netty's SslHandler, which
/// ZooKeeper uses, gives up after the same 10 s.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a client's TLS handshake did not complete.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("no TLS handshake within {0:?}")]
    Timeout(Duration),
    #[error("TLS handshake failed: {0}")]
    Failed(#[source] std::io::Error),
}

/// Builds the acceptor for `secure`; the message names the zoo.cfg key
/// (and file) at fault.
pub fn acceptor(secure: &SecureClientPort) -> Result<TlsAcceptor, String> {
    let files = TlsFiles {
        keystore: Some(secure.keystore.clone()),
        truststore: secure.truststore.clone(),
        protocols: secure.protocols.clone(),
        cipher_suites: secure.cipher_suites.clone(),
    };
    let config = tls::server_config(&files, secure.client_auth.to_common())
        .map_err(|e| zoo_cfg_message(secure, e))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Rewords the shared builder's errors (which use Kafka's key names) with
/// ZooKeeper's.
fn zoo_cfg_message(secure: &SecureClientPort, error: TlsError) -> String {
    let key_of = |path: &Path| {
        if secure.truststore.as_deref() == Some(path) {
            "ssl.trustStore.location"
        } else {
            "ssl.keyStore.location"
        }
    };
    match error {
        TlsError::File { path, reason } => {
            format!("{}={}: {reason}", key_of(&path), path.display())
        }
        TlsError::Protocol(p) => {
            format!("ssl.enabledProtocols: {p:?} is not a TLS version this server speaks")
        }
        TlsError::CipherSuite(s) => {
            format!("ssl.ciphersuites: {s:?} is not a supported cipher suite")
        }
        TlsError::NoTrustStore(_) => {
            "ssl.clientAuth needs ssl.trustStore.location to check client certificates".into()
        }
        TlsError::Verifier(e) => match &secure.truststore {
            Some(path) => format!("ssl.trustStore.location={}: {e}", path.display()),
            None => format!("ssl.trustStore.location: {e}"),
        },
        other => format!("ssl.* keys (secureClientPort): {other}"),
    }
}

/// Completes the server side of a handshake on `stream`, or gives up
/// after [`HANDSHAKE_TIMEOUT`].
pub async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
) -> Result<TlsStream<TcpStream>, HandshakeError> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Err(_) => Err(HandshakeError::Timeout(HANDSHAKE_TIMEOUT)),
        Ok(result) => result.map_err(HandshakeError::Failed),
    }
}
