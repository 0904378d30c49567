//! TLS from a coord client (broker, Schema Registry, console) to coord,
//! with Kafka's `zookeeper.ssl.*` keys (as Kafka connects to a ZooKeeper
//! `secureClientPort`).
//!
//! | key | meaning here |
//! |---|---|
//! | `zookeeper.ssl.client.enable` | `true`: the client's coord sessions speak TLS (default `false`) |
//! | `zookeeper.clientCnxnSocket` | accepted (`org.apache.zookeeper.ClientCnxnSocketNetty`, Kafka's requirement for TLS; not needed here) |
//! | `zookeeper.ssl.keystore.location` | PEM file with the client's private key and certificate chain, shown to coord (optional: only for `ssl.clientAuth=need/want`) |
//! | `zookeeper.ssl.keystore.type` | `PEM` only (unset: PEM) |
//! | `zookeeper.ssl.truststore.location` | PEM file of CA certificates coord's certificate is checked against (required) |
//! | `zookeeper.ssl.truststore.type` | `PEM` only (unset: PEM) |
//! | `zookeeper.ssl.enabled.protocols` | `TLSv1.2`, `TLSv1.3`: checked, but the coord client always offers both, so the coord's own `ssl.enabledProtocols` is what narrows them |
//!
//! The files are read each time a session is opened, so a renewed
//! certificate is picked up by the next session without a restart.

use std::path::PathBuf;

use zookeeper_client as zk;

/// A coord client key (TLS here, SASL in [`super::sasl`]) and why its
/// value is refused (the caller's config reader adds file and line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoordKeyError {
    pub key: String,
    pub reason: String,
}

/// Why the TLS options for coord could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CoordTlsError {
    #[error("{key}={path}: {reason}")]
    File {
        key: &'static str,
        path: PathBuf,
        reason: String,
    },
}

/// A coord client's TLS settings, checked at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoordTls {
    /// `zookeeper.ssl.keystore.location`: the client's identity, if any.
    pub keystore: Option<PathBuf>,
    /// `zookeeper.ssl.truststore.location`.
    pub truststore: PathBuf,
}

const KEYSTORE: &str = "zookeeper.ssl.keystore.location";
const TRUSTSTORE: &str = "zookeeper.ssl.truststore.location";
const NETTY_SOCKET: &str = "org.apache.zookeeper.ClientCnxnSocketNetty";
const NIO_SOCKET: &str = "org.apache.zookeeper.ClientCnxnSocketNIO";

impl CoordTls {
    /// Reads Kafka's `zookeeper.ssl.*` keys through `lookup` (explicit
    /// value, else Kafka's default); `None` unless
    /// `zookeeper.ssl.client.enable=true`.
    pub fn from_config(
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<CoordTls>, CoordKeyError> {
        let bad = |key: &str, reason: &str| CoordKeyError {
            key: key.to_string(),
            reason: reason.to_string(),
        };
        let set = |key: &str| {
            lookup(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        for key in [
            "zookeeper.ssl.keystore.type",
            "zookeeper.ssl.truststore.type",
        ] {
            if set(key).is_some_and(|t| !t.eq_ignore_ascii_case("PEM")) {
                return Err(bad(
                    key,
                    "only PEM key and trust stores are supported (not JKS or PKCS12)",
                ));
            }
        }
        if let Some(socket) = set("zookeeper.clientCnxnSocket") {
            if socket != NETTY_SOCKET && socket != NIO_SOCKET {
                return Err(bad(
                    "zookeeper.clientCnxnSocket",
                    &format!("expected {NETTY_SOCKET} (or {NIO_SOCKET})"),
                ));
            }
        }
        let protocols = set("zookeeper.ssl.enabled.protocols").unwrap_or_default();
        for p in protocols
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            if p != "TLSv1.2" && p != "TLSv1.3" {
                return Err(bad(
                    "zookeeper.ssl.enabled.protocols",
                    &format!(
                        "{p:?} is not a TLS version the coord client speaks (TLSv1.2, TLSv1.3)"
                    ),
                ));
            }
        }
        let enabled =
            set("zookeeper.ssl.client.enable").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if !enabled {
            return Ok(None);
        }
        let truststore = set(TRUSTSTORE).ok_or_else(|| {
            bad(
                TRUSTSTORE,
                "zookeeper.ssl.client.enable=true needs a trust store (PEM CA certificates) \
                 to check coord's certificate against",
            )
        })?;
        // The crate's rustls configuration offers both versions and cannot
        // be narrowed from here.
        let narrowed = ["TLSv1.2", "TLSv1.3"]
            .iter()
            .any(|v| !protocols.contains(v));
        if !protocols.is_empty() && narrowed {
            tracing::warn!(
                protocols,
                "zookeeper.ssl.enabled.protocols: the coord client offers TLSv1.2 and TLSv1.3; \
                 restrict the versions on coord (ssl.enabledProtocols)"
            );
        }
        Ok(Some(CoordTls {
            keystore: set(KEYSTORE).map(PathBuf::from),
            truststore: PathBuf::from(truststore),
        }))
    }

    /// The coord client's TLS options: the trust store as its CA, the key
    /// store (key and chain in one PEM file) as its identity.
    pub fn options(&self) -> Result<zk::TlsOptions, CoordTlsError> {
        let read = |key: &'static str, path: &PathBuf| {
            std::fs::read_to_string(path).map_err(|e| CoordTlsError::File {
                key,
                path: path.clone(),
                reason: e.to_string(),
            })
        };
        let rejected = |key: &'static str, path: &PathBuf, e: zk::Error| CoordTlsError::File {
            key,
            path: path.clone(),
            reason: e.to_string(),
        };
        let ca = read(TRUSTSTORE, &self.truststore)?;
        let options = zk::TlsOptions::new()
            .with_pem_ca(&ca)
            .map_err(|e| rejected(TRUSTSTORE, &self.truststore, e))?;
        match &self.keystore {
            None => Ok(options),
            Some(path) => {
                let pem = read(KEYSTORE, path)?;
                // One PEM file holds both: the crate picks the
                // certificates and the key out of it.
                options
                    .with_pem_identity(&pem, &pem)
                    .map_err(|e| rejected(KEYSTORE, path, e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Option<CoordTls>, CoordKeyError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        CoordTls::from_config(&|k| map.get(k).cloned())
    }

    #[test]
    fn off_unless_enabled() {
        assert_eq!(from(&[]).unwrap(), None);
        assert_eq!(from(&[(TRUSTSTORE, "/ca.pem")]).unwrap(), None);
    }

    #[test]
    fn enabled_needs_a_trust_store() {
        let err = from(&[("zookeeper.ssl.client.enable", "true")]).unwrap_err();
        assert_eq!(err.key, TRUSTSTORE);
        let tls = from(&[
            ("zookeeper.ssl.client.enable", "true"),
            ("zookeeper.clientCnxnSocket", NETTY_SOCKET),
            (TRUSTSTORE, "/ca.pem"),
            ("zookeeper.ssl.truststore.type", "PEM"),
            (KEYSTORE, "/b.pem"),
            ("zookeeper.ssl.enabled.protocols", "TLSv1.2,TLSv1.3"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(tls.keystore, Some(PathBuf::from("/b.pem")));
    }

    #[test]
    fn bad_values_name_the_key() {
        for (key, value) in [
            ("zookeeper.ssl.keystore.type", "JKS"),
            ("zookeeper.clientCnxnSocket", "com.example.Socket"),
            ("zookeeper.ssl.enabled.protocols", "SSLv3"),
        ] {
            let err = from(&[(key, value)]).unwrap_err();
            assert_eq!(err.key, key);
        }
    }

    #[test]
    fn unreadable_files_name_key_and_path() {
        let tls = CoordTls {
            keystore: None,
            truststore: PathBuf::from("/nonexistent/ca.pem"),
        };
        let err = tls.options().unwrap_err().to_string();
        assert!(
            err.contains(TRUSTSTORE) && err.contains("/nonexistent/ca.pem"),
            "{err}"
        );
    }
}
