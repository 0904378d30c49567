//! TLS set-up from PEM files, for both ends of a Kafka connection: the
//! broker's listeners (server side) and the internal client (brokers
//! talking to each other, the `runnel` CLI).
//!
//! Only PEM is read (Kafka's `ssl.keystore.type=PEM` /
//! `ssl.truststore.type=PEM`): a key store is one file holding the private
//! key and the certificate chain, a trust store one file of CA certificates.
//! rustls does the TLS; there is no OpenSSL. Its crypto is aws-lc-rs's
//! (key exchange with post-quantum hybrids, signatures, randomness), except
//! the record encryption: see [`crypto_provider`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::aws_lc_rs as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};

/// Why a TLS configuration could not be built; each names the file or key.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error(
        "ssl.enabled.protocols: {0:?} is not a TLS version this broker speaks (TLSv1.2, TLSv1.3)"
    )]
    Protocol(String),
    #[error("ssl.cipher.suites: {0:?} is not a supported cipher suite")]
    CipherSuite(String),
    #[error("ssl.client.auth={0} needs a trust store (ssl.truststore.location) to check client certificates against")]
    NoTrustStore(&'static str),
    #[error("TLS set-up: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("TLS set-up: {0}")]
    Verifier(String),
    #[error("{0:?} is not a valid TLS server name")]
    ServerName(String),
}

/// Whether a server asks for client certificates (`ssl.client.auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Requested,
    Required,
}

impl ClientAuth {
    pub fn parse(value: &str) -> Option<ClientAuth> {
        match value.trim().to_ascii_lowercase().as_str() {
            "none" | "" => Some(ClientAuth::None),
            "requested" => Some(ClientAuth::Requested),
            "required" => Some(ClientAuth::Required),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ClientAuth::None => "none",
            ClientAuth::Requested => "requested",
            ClientAuth::Required => "required",
        }
    }
}

/// What one end's TLS needs, read from Kafka's `ssl.*` keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// `ssl.keystore.location`: private key and certificate chain (PEM).
    pub keystore: Option<PathBuf>,
    /// `ssl.truststore.location`: CA certificates (PEM).
    pub truststore: Option<PathBuf>,
    /// `ssl.enabled.protocols` (`TLSv1.2`, `TLSv1.3`); empty means both.
    pub protocols: Vec<String>,
    /// `ssl.cipher.suites` in IANA names; empty means the provider's defaults.
    pub cipher_suites: Vec<String>,
}

/// Reads every certificate of a PEM file.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, e))?
        .collect();
    let certs = certs.map_err(|e| file_error(path, e))?;
    if certs.is_empty() {
        return Err(TlsError::File {
            path: path.to_path_buf(),
            reason: "no CERTIFICATE in this PEM file".into(),
        });
    }
    Ok(certs)
}

/// Reads the private key of a PEM key store (PKCS#8, PKCS#1 or SEC1; not encrypted).
pub fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::File {
            path: path.to_path_buf(),
            reason: "no unencrypted PRIVATE KEY in this PEM file (encrypted keys and \
                     ssl.key.password are not supported)"
                .into(),
        },
        other => file_error(path, other),
    })
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

fn roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for cert in read_certificates(path)? {
        store.add(cert).map_err(|e| file_error(path, e))?;
    }
    Ok(store)
}

fn versions(names: &[String]) -> Result<Vec<&'static SupportedProtocolVersion>, TlsError> {
    if names.is_empty() {
        return Ok(rustls::ALL_VERSIONS.to_vec());
    }
    names
        .iter()
        .map(|n| match n.trim() {
            "TLSv1.2" => Ok(&rustls::version::TLS12),
            "TLSv1.3" => Ok(&rustls::version::TLS13),
            other => Err(TlsError::Protocol(other.to_string())),
        })
        .collect()
}

/// The aws-lc-rs provider with ring's cipher suites, narrowed to
/// `ssl.cipher.suites` when given.
///
/// Why ring's suites: after the handshake, TLS costs a broker almost only
/// its record encryption, and a fetch is all records. ring's AES-GCM has a
/// VAES + AVX2 implementation (most x86-64 CPUs since 2019); aws-lc's only
/// uses VAES with AVX-512, and falls back to AES-NI one block at a time
/// elsewhere. The suites and their order are rustls' defaults either way.
fn crypto_provider(suites: &[String]) -> Result<Arc<rustls::crypto::CryptoProvider>, TlsError> {
    let mut p = provider::default_provider();
    p.cipher_suites = rustls::crypto::ring::DEFAULT_CIPHER_SUITES.to_vec();
    if !suites.is_empty() {
        let mut chosen = Vec::new();
        for name in suites {
            let name = name.trim();
            let suite = p
                .cipher_suites
                .iter()
                .find(|s| {
                    s.suite()
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
                .ok_or_else(|| TlsError::CipherSuite(name.to_string()))?;
            chosen.push(*suite);
        }
        p.cipher_suites = chosen;
    }
    Ok(Arc::new(p))
}

/// A listener's TLS: its key store, and the trust store its client
/// certificates are checked against when `client_auth` asks for them.
pub fn server_config(files: &TlsFiles, client_auth: ClientAuth) -> Result<ServerConfig, TlsError> {
    let keystore = files.keystore.as_deref().ok_or_else(|| TlsError::File {
        path: PathBuf::from("ssl.keystore.location"),
        reason: "a TLS listener needs a key store (PEM with key and certificate chain)".into(),
    })?;
    let chain = read_certificates(keystore)?;
    let key = read_private_key(keystore)?;
    let provider = crypto_provider(&files.cipher_suites)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions(&files.protocols)?)?;
    let builder = match client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Requested | ClientAuth::Required => {
            let path = files
                .truststore
                .as_deref()
                .ok_or(TlsError::NoTrustStore(client_auth.name()))?;
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots(path)?), provider);
            let verifier = if client_auth == ClientAuth::Requested {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| TlsError::Verifier(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    Ok(builder.with_single_cert(chain, key)?)
}

/// A client's TLS: servers are checked against the trust store; the key
/// store, if given, is presented as the client's certificate.
pub fn client_config(files: &TlsFiles) -> Result<ClientConfig, TlsError> {
    let truststore = files.truststore.as_deref().ok_or_else(|| TlsError::File {
        path: PathBuf::from("ssl.truststore.location"),
        reason: "a TLS client needs a trust store (PEM CA certificates)".into(),
    })?;
    let provider = crypto_provider(&files.cipher_suites)?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions(&files.protocols)?)?
        .with_root_certificates(roots(truststore)?);
    Ok(match files.keystore.as_deref() {
        Some(keystore) => builder
            .with_client_auth_cert(read_certificates(keystore)?, read_private_key(keystore)?)?,
        None => builder.with_no_client_auth(),
    })
}

/// The name a client checks the server's certificate against: the host of
/// `host:port` (an IP address is checked against the certificate's IP SANs).
pub fn server_name(addr: &str) -> Result<ServerName<'static>, TlsError> {
    let host = addr
        .rsplit_once(':')
        .map_or(addr, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    ServerName::try_from(host.to_string()).map_err(|_| TlsError::ServerName(host.to_string()))
}
