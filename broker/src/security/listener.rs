//! A listener's security at run time, built once at start-up so that a bad
//! certificate file stops the broker with its path instead of failing each
//! connection.

use std::sync::Arc;
use std::time::Duration;

use runnel_common::kafka::transport::{self, Stream};
use runnel_common::kafka::{ClientSecurity, SecurityProtocol};
use runnel_common::tls::{self, TlsError};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use super::principal::{self, PrincipalError, PrincipalMapper};
use super::settings::{InterBroker, ListenerSecurity, SaslSettings};

/// How long a client may take to finish its TLS handshake; a peer that
/// opens a socket and says nothing must not hold a connection slot.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One listener's TLS acceptor and SASL settings.
pub struct ListenerRuntime {
    pub name: String,
    pub protocol: SecurityProtocol,
    tls: Option<TlsAcceptor>,
    pub sasl: Option<SaslSettings>,
    /// `ssl.principal.mapping.rules` of a TLS listener.
    principal_mapping: Option<PrincipalMapper>,
}

impl ListenerRuntime {
    pub fn new(settings: &ListenerSecurity) -> Result<ListenerRuntime, TlsError> {
        let tls = match &settings.tls {
            None => None,
            Some(t) => Some(TlsAcceptor::from(Arc::new(tls::server_config(
                &t.files,
                t.client_auth,
            )?))),
        };
        Ok(ListenerRuntime {
            name: settings.name.clone(),
            protocol: settings.protocol,
            tls,
            sasl: settings.sasl.clone(),
            principal_mapping: settings.tls.as_ref().map(|t| t.principal_mapping.clone()),
        })
    }

    /// The principal of a connection without SASL, as Kafka's
    /// `DefaultKafkaPrincipalBuilder` makes it: a client that presented a
    /// certificate (mutual TLS) is `User:` and its subject through
    /// `ssl.principal.mapping.rules`; any other client is `User:ANONYMOUS`.
    ///
    /// An error (no rule applies, an unreadable certificate) refuses the
    /// client, as Kafka does.
    pub fn certificate_principal(&self, stream: &Stream) -> Result<String, PrincipalError> {
        let (Some(mapping), Some(leaf)) = (
            &self.principal_mapping,
            stream.peer_certificates().and_then(|chain| chain.first()),
        ) else {
            return Ok("User:ANONYMOUS".into());
        };
        let dn = principal::subject_dn(leaf)?;
        Ok(format!("User:{}", mapping.map(&dn)?))
    }

    /// Wraps an accepted socket: the TLS handshake on a TLS listener.
    pub async fn accept(&self, tcp: TcpStream) -> std::io::Result<Stream> {
        let Some(acceptor) = &self.tls else {
            return Ok(Stream::Plain(tcp));
        };
        let accepted = tokio::time::timeout(
            HANDSHAKE_TIMEOUT,
            acceptor.accept(transport::tls_socket(tcp)),
        )
        .await
        .map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out")
        })??;
        Ok(Stream::Tls(Box::new(tokio_rustls::TlsStream::Server(
            accepted,
        ))))
    }
}

/// The broker's client side towards other brokers' inter-broker listener.
pub fn inter_broker_security(inter: &InterBroker) -> Result<ClientSecurity, TlsError> {
    let tls = match &inter.tls {
        None => None,
        Some(files) => Some(Arc::new(tls::client_config(files)?)),
    };
    Ok(ClientSecurity {
        tls,
        sasl: inter.sasl.clone(),
    })
}
