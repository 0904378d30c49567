//! rustls configs from zoo.cfg's TLS keys: one builder for the secure
//! client port and for TLS between members, so both read PEM files, pick
//! protocols and cipher suites, and word their errors the same way. Built
//! once at start-up, so a bad file stops the server naming its key.
//!
//! The PEM reading, protocol and cipher suite choice come from
//! `runnel_common::tls` (shared with the Kafka broker); this module adds
//! ZooKeeper's key names to its errors and the quorum's hostname policy.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use runnel_common::tls::{self, TlsError, TlsFiles};
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::server::ParsedCertificate;
use tokio_rustls::rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error, RootCertStore, ServerConfig,
    SignatureScheme,
};

use super::{ClientAuth, Stores};

fn files(stores: &Stores) -> TlsFiles {
    TlsFiles {
        keystore: Some(stores.keystore.clone()),
        truststore: stores.truststore.clone(),
        protocols: stores.protocols.clone(),
        cipher_suites: stores.cipher_suites.clone(),
    }
}

/// Why a TLS handshake (either side) did not complete.
#[derive(Debug, thiserror::Error)]
pub enum TlsHandshakeError {
    #[error("no TLS handshake within {0:?}")]
    Timeout(std::time::Duration),
    #[error("TLS handshake failed: {0}")]
    Failed(#[source] std::io::Error),
}

/// Runs a handshake, giving up after `within`: without a bound a peer
/// that connects and sends nothing holds its task (and a connection slot)
/// forever. Shared by the secure client port and the quorum's two ends.
pub async fn bounded<S>(
    within: std::time::Duration,
    handshake: impl std::future::Future<Output = std::io::Result<S>>,
) -> Result<S, TlsHandshakeError> {
    match tokio::time::timeout(within, handshake).await {
        Err(_) => Err(TlsHandshakeError::Timeout(within)),
        Ok(result) => result.map_err(TlsHandshakeError::Failed),
    }
}

/// The server end (the secure client port, or a member accepting another
/// member): `client_auth` says whether client certificates are asked for
/// and checked against the trust store.
pub fn server_config(stores: &Stores, client_auth: ClientAuth) -> Result<ServerConfig, String> {
    tls::server_config(&files(stores), client_auth.to_common()).map_err(|e| message(stores, e))
}

/// The client end (a member dialling another): the server's chain is
/// checked against the trust store, and its name against the dialled host
/// when `verify_hostname`; the key store's certificate is presented.
pub fn client_config(stores: &Stores, verify_hostname: bool) -> Result<ClientConfig, String> {
    let mut config = tls::client_config(&files(stores)).map_err(|e| message(stores, e))?;
    if !verify_hostname {
        let truststore = stores
            .truststore
            .as_deref()
            .ok_or_else(|| format!("{}.trustStore.location is required", stores.prefix))?;
        let mut roots = RootCertStore::empty();
        for cert in tls::read_certificates(truststore).map_err(|e| message(stores, e))? {
            roots
                .add(cert)
                .map_err(|e| message(stores, file_error(truststore, e)))?;
        }
        let inner = WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            config.crypto_provider().clone(),
        )
        .build()
        .map_err(|e| message(stores, TlsError::Verifier(e.to_string())))?;
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(ChainOnly(inner)));
    }
    Ok(config)
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Checks that `cert` (the end entity a peer presented) names `ip` as an
/// IP SAN: the accepting side of ZooKeeper's quorum hostname verification.
pub fn certificate_names_ip(cert: &CertificateDer<'_>, ip: IpAddr) -> Result<(), Error> {
    let parsed = ParsedCertificate::try_from(cert)?;
    tokio_rustls::rustls::client::verify_server_name(&parsed, &ServerName::IpAddress(ip.into()))
}

/// Rewords the shared builder's errors (which use Kafka's key names) with
/// ZooKeeper's, under the stores' prefix.
fn message(stores: &Stores, error: TlsError) -> String {
    let prefix = stores.prefix;
    let key_of = |path: &Path| {
        if stores.truststore.as_deref() == Some(path) {
            "trustStore.location"
        } else {
            "keyStore.location"
        }
    };
    match error {
        TlsError::File { path, reason } => {
            format!("{prefix}.{}={}: {reason}", key_of(&path), path.display())
        }
        TlsError::Protocol(p) => {
            format!("{prefix}.enabledProtocols: {p:?} is not a TLS version this server speaks")
        }
        TlsError::CipherSuite(s) => {
            format!("{prefix}.ciphersuites: {s:?} is not a supported cipher suite")
        }
        TlsError::NoTrustStore(_) => format!(
            "{prefix}.clientAuth needs {prefix}.trustStore.location to check client certificates"
        ),
        TlsError::Verifier(e) => match &stores.truststore {
            Some(path) => format!("{prefix}.trustStore.location={}: {e}", path.display()),
            None => format!("{prefix}.trustStore.location: {e}"),
        },
        // rustls refuses a protocol list none of the chosen suites serve
        // with a General error; its other refusals here are about the key
        // store's contents (a key that is not the certificate's, a
        // certificate it cannot parse).
        TlsError::Rustls(e @ Error::General(_)) => format!(
            "{prefix}.enabledProtocols / {prefix}.ciphersuites: no chosen cipher suite \
             serves the chosen protocols ({e})"
        ),
        TlsError::Rustls(e @ Error::InconsistentKeys(_)) => format!(
            "{prefix}.keyStore.location={}: its private key is not the one of its \
             certificate ({e})",
            stores.keystore.display()
        ),
        TlsError::Rustls(e) => format!(
            "{prefix}.keyStore.location={}: {e}",
            stores.keystore.display()
        ),
        other => format!("{prefix}.* keys: {other}"),
    }
}

/// `ssl.quorum.hostnameVerification=false`: the server's chain must lead
/// to the trust store as always, only its name is not compared with the
/// dialled host. rustls' WebPKI verifier checks the chain before the name,
/// so a name mismatch it reports comes from a chain it accepted.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tls::QUORUM_PREFIX;

    fn stores(keystore: &str, truststore: &str) -> Stores {
        Stores {
            prefix: QUORUM_PREFIX,
            keystore: keystore.into(),
            truststore: Some(truststore.into()),
            protocols: Vec::new(),
            cipher_suites: Vec::new(),
        }
    }

    #[test]
    fn errors_name_the_key_under_the_prefix_and_the_file() {
        let s = stores("/nonexistent/m.pem", "/nonexistent/ca.pem");
        let err = server_config(&s, ClientAuth::Need).unwrap_err();
        assert!(
            err.starts_with("ssl.quorum.keyStore.location=/nonexistent/m.pem: "),
            "{err}"
        );
        for verify in [true, false] {
            let err = client_config(&s, verify).unwrap_err();
            assert!(
                err.starts_with("ssl.quorum.trustStore.location=/nonexistent/ca.pem: "),
                "{err}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a PEM file\n").unwrap();
        let junk = junk.to_str().unwrap();
        let err = server_config(&stores(junk, "/ca.pem"), ClientAuth::Need).unwrap_err();
        assert!(
            err.starts_with(&format!("ssl.quorum.keyStore.location={junk}: ")),
            "{err}"
        );
        let err = client_config(&stores("/m.pem", junk), true).unwrap_err();
        assert!(
            err.starts_with(&format!("ssl.quorum.trustStore.location={junk}: ")),
            "{err}"
        );
    }

    #[test]
    fn protocol_and_suite_errors_name_their_keys() {
        let mut s = stores("/m.pem", "/ca.pem");
        s.cipher_suites = vec!["TLS_NOT_A_SUITE".into()];
        let err = client_config(&s, true).unwrap_err();
        assert!(err.starts_with("ssl.quorum.ciphersuites: "), "{err}");
        s.cipher_suites.clear();
        s.protocols = vec!["TLSv1.1".into()];
        let err = client_config(&s, true).unwrap_err();
        assert!(err.starts_with("ssl.quorum.enabledProtocols: "), "{err}");
        s.prefix = crate::config::tls::CLIENT_PREFIX;
        let err = client_config(&s, true).unwrap_err();
        assert!(err.starts_with("ssl.enabledProtocols: "), "{err}");
    }
}
