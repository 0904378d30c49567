//! How every coord client of Runnel (the broker, the Schema Registry, the
//! console) secures its session: one reading of the keys, one way to open
//! the session, so the programs cannot drift apart.
//!
//! The keys are Kafka's for its ZooKeeper client, read through a lookup the
//! caller gives (its own properties file, with its defaults):
//!
//! * [`tls`]: `zookeeper.ssl.*` (TLS to coord's `secureClientPort`).
//! * [`sasl`]: a JAAS `Client` section (`java.security.auth.login.config`,
//!   or `-D` in a JVM options variable such as `KAFKA_OPTS`),
//!   `zookeeper.sasl.client`, `zookeeper.sasl.clientconfig`: a SASL
//!   DIGEST-MD5 login.
//!
//! Which ACLs a client gives its znodes (`zookeeper.set.acl`) stays with
//! each program, since the paths it creates are its own; what they share
//! is that secure ACLs need an identity ([`CoordClientSecurity::has_identity`]).

pub mod sasl;
pub mod tls;

use zookeeper_client as zk;

pub use sasl::{jvm_opts_from_env, CoordSasl};
pub use tls::{CoordKeyError, CoordTls, CoordTlsError};

/// Why a secured coord session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum CoordConnectError {
    /// `zookeeper.ssl.*` files that cannot be used (names key and file).
    #[error("TLS to coord: {0}")]
    Tls(#[from] CoordTlsError),
    #[error(transparent)]
    Zk(#[from] zk::Error),
}

/// A coord client's TLS and SASL settings, checked at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoordClientSecurity {
    /// `zookeeper.ssl.client.enable=true` and its files: every host of the
    /// connect string is then a secure client port.
    pub tls: Option<CoordTls>,
    /// A JAAS `Client` section: each session logs in with DIGEST-MD5.
    pub sasl: Option<CoordSasl>,
}

impl CoordClientSecurity {
    /// Reads the TLS and SASL keys through `lookup`, the login file falling
    /// back to `jvm_opts` (see [`CoordSasl::from_config`]).
    pub fn from_config(
        lookup: &dyn Fn(&str) -> Option<String>,
        jvm_opts: &[(String, String)],
    ) -> Result<CoordClientSecurity, CoordKeyError> {
        Ok(CoordClientSecurity {
            tls: CoordTls::from_config(lookup)?,
            sasl: CoordSasl::from_config(lookup, jvm_opts)?,
        })
    }

    /// Whether coord will know the client by something other than its
    /// address: a SASL login or a TLS client certificate. Secure ACLs
    /// (`zookeeper.set.acl`) name that identity, so without one every
    /// create would fail (coord rejects the `auth` scheme for an
    /// unauthenticated session).
    pub fn has_identity(&self) -> bool {
        self.sasl.is_some() || self.tls.as_ref().is_some_and(|t| t.keystore.is_some())
    }

    /// Opens a session on `hosts` (no chroot) with `connector`'s timeouts,
    /// logging in and speaking TLS as configured. The TLS files are read
    /// each time, so a renewed certificate is picked up by the next session.
    pub async fn connect(
        &self,
        connector: zk::Connector,
        hosts: &str,
    ) -> Result<zk::Client, CoordConnectError> {
        let mut connector = connector;
        if let Some(sasl) = &self.sasl {
            connector = connector.with_sasl(sasl.options());
        }
        match &self.tls {
            None => Ok(connector.connect(hosts).await?),
            Some(tls) => {
                let options = tls.options()?;
                // The crate's rustls takes the process-wide provider; make
                // it aws-lc-rs, as everywhere else (a no-op once set).
                let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
                Ok(connector.with_tls(options).secure_connect(hosts).await?)
            }
        }
    }
}

/// The error message for `zookeeper.set.acl=true` without an identity, the
/// same for every program.
pub const SET_ACL_NEEDS_IDENTITY: &str =
    "zookeeper.set.acl is true, but no authenticated identity to coord is \
     configured: either a JAAS file (java.security.auth.login.config) with a \
     Client section (DIGEST-MD5 username and password; coord knows the client \
     as sasl:<username>), or zookeeper.ssl.client.enable=true with \
     zookeeper.ssl.keystore.location (a client certificate; coord \
     authenticates it as x509:<subject>) and zookeeper.ssl.truststore.location";

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn identity_is_a_login_or_a_client_certificate() {
        let none = CoordClientSecurity::default();
        assert!(!none.has_identity());
        let trust_only = CoordClientSecurity {
            tls: Some(CoordTls {
                keystore: None,
                truststore: PathBuf::from("/ca.pem"),
            }),
            sasl: None,
        };
        assert!(!trust_only.has_identity());
        let cert = CoordClientSecurity {
            tls: Some(CoordTls {
                keystore: Some(PathBuf::from("/c.pem")),
                truststore: PathBuf::from("/ca.pem"),
            }),
            sasl: None,
        };
        assert!(cert.has_identity());
    }

    #[test]
    fn reads_both_halves() {
        let dir = tempfile::tempdir().unwrap();
        let jaas = dir.path().join("jaas.conf");
        std::fs::write(
            &jaas,
            "Client { org.apache.zookeeper.server.auth.DigestLoginModule required \
             username=\"kafka\" password=\"s\"; };",
        )
        .unwrap();
        let jaas = jaas.display().to_string();
        let lookup = |k: &str| match k {
            "java.security.auth.login.config" => Some(jaas.clone()),
            "zookeeper.ssl.client.enable" => Some("true".to_string()),
            "zookeeper.ssl.truststore.location" => Some("/ca.pem".to_string()),
            _ => None,
        };
        let security = CoordClientSecurity::from_config(&lookup, &[]).unwrap();
        assert_eq!(security.sasl.map(|s| s.username), Some("kafka".into()));
        assert_eq!(
            security.tls.map(|t| t.truststore),
            Some(PathBuf::from("/ca.pem"))
        );
    }
}
