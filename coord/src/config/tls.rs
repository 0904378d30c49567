//! ZooKeeper 3.8's TLS keys: the TLS client port (`secureClientPort` and
//! the `ssl.*` family) and TLS between ensemble members (`sslQuorum` and the
//! `ssl.quorum.*` family), read as ZooKeeper reads them so an operator's
//! zoo.cfg carries over. [`build`] turns either set into a rustls config.
//!
//! | key | meaning here |
//! |---|---|
//! | `secureClientPort` | a second client port that speaks TLS (with or without `clientPort`) |
//! | `secureClientPortAddress` | its address (default: every interface, as ZooKeeper) |
//! | `ssl.keyStore.location` | PEM file: private key and certificate chain (required with `secureClientPort`) |
//! | `ssl.keyStore.type` | `PEM` only (unset: PEM) |
//! | `ssl.keyStore.password` | only empty: encrypted keys are not supported |
//! | `ssl.trustStore.location` | PEM file of CA certificates client certificates are checked against |
//! | `ssl.trustStore.type` | `PEM` only (unset: PEM) |
//! | `ssl.trustStore.password` | ignored (a PEM trust store has none) |
//! | `ssl.clientAuth` | `none`, `want` or `need` (ZooKeeper's default: `need`) |
//! | `ssl.protocol` | `TLSv1.3` (both versions enabled) or `TLSv1.2` (only 1.2), as ZooKeeper derives `ssl.enabledProtocols` from it |
//! | `ssl.enabledProtocols` | `TLSv1.2`, `TLSv1.3` or both, comma-separated |
//! | `ssl.ciphersuites` | IANA cipher suite names, comma-separated (unset: rustls' defaults) |
//! | `serverCnxnFactory` | accepted: ZooKeeper needs Netty's factory for TLS, this server does not |
//! | `sslQuorum` | `true`: members talk to each other over TLS (default `false`) |
//! | `ssl.quorum.keyStore.location` | PEM file: this member's key and certificate chain (required with `sslQuorum=true`) |
//! | `ssl.quorum.trustStore.location` | PEM CA certificates the other members' certificates are checked against (required with `sslQuorum=true`) |
//! | `ssl.quorum.keyStore.type`, `.password`, `ssl.quorum.trustStore.type`, `.password` | as their `ssl.*` twins |
//! | `ssl.quorum.protocol`, `ssl.quorum.enabledProtocols`, `ssl.quorum.ciphersuites` | as their `ssl.*` twins |
//! | `ssl.quorum.clientAuth` | only `need` (unset: need): quorum TLS is always mutual, as in ZooKeeper |
//! | `ssl.quorum.hostnameVerification` | default `true`: see [`QuorumTls::hostname_verification`] |
//! | `sslQuorumReloadCertFiles` | only `false`: new certificates take a restart |
//!
//! ZooKeeper has no fallback between the two families: `sslQuorum=true`
//! reads only `ssl.quorum.*`, even when the same files serve both.

use std::net::IpAddr;
use std::path::PathBuf;

use runnel_common::properties::Entry;

pub mod build;

pub use build::{client_config, server_config};

/// ZooKeeper's Netty connection factory, which its TLS needs.
pub const NETTY_FACTORY: &str = "org.apache.zookeeper.server.NettyServerCnxnFactory";
/// ZooKeeper's default (plaintext-only) connection factory.
pub const NIO_FACTORY: &str = "org.apache.zookeeper.server.NIOServerCnxnFactory";

/// The prefix of the client port's TLS keys.
pub const CLIENT_PREFIX: &str = "ssl";
/// The prefix of the keys for TLS between members.
pub const QUORUM_PREFIX: &str = "ssl.quorum";

/// `ssl.clientAuth`, in ZooKeeper's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificate asked for.
    None,
    /// Asked for; a client without one is still served.
    Want,
    /// Required: a client without a certificate the trust store vouches
    /// for fails the handshake (ZooKeeper's default).
    Need,
}

impl ClientAuth {
    /// The shared TLS builder's name for the same policy.
    pub fn to_common(self) -> runnel_common::tls::ClientAuth {
        match self {
            ClientAuth::None => runnel_common::tls::ClientAuth::None,
            ClientAuth::Want => runnel_common::tls::ClientAuth::Requested,
            ClientAuth::Need => runnel_common::tls::ClientAuth::Required,
        }
    }
}

/// One side's key and trust stores and TLS parameters, as zoo.cfg gives
/// them under one prefix: what [`build`] turns into a rustls config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stores {
    /// [`CLIENT_PREFIX`] or [`QUORUM_PREFIX`]: names the keys in messages.
    pub prefix: &'static str,
    pub keystore: PathBuf,
    pub truststore: Option<PathBuf>,
    /// `TLSv1.2` and/or `TLSv1.3`.
    pub protocols: Vec<String>,
    /// Empty: the provider's defaults.
    pub cipher_suites: Vec<String>,
}

/// The TLS client port, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecureClientPort {
    pub port: u16,
    pub address: IpAddr,
    pub keystore: PathBuf,
    pub truststore: Option<PathBuf>,
    pub client_auth: ClientAuth,
    /// `TLSv1.2` and/or `TLSv1.3`.
    pub protocols: Vec<String>,
    /// Empty: the provider's defaults.
    pub cipher_suites: Vec<String>,
}

impl SecureClientPort {
    /// Its stores, for [`build`].
    pub fn stores(&self) -> Stores {
        Stores {
            prefix: CLIENT_PREFIX,
            keystore: self.keystore.clone(),
            truststore: self.truststore.clone(),
            protocols: self.protocols.clone(),
            cipher_suites: self.cipher_suites.clone(),
        }
    }
}

/// TLS between ensemble members (`sslQuorum=true`), validated. Always
/// mutual: every member presents its key store's certificate on both ends
/// of a peer connection and checks the other's against the trust store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumTls {
    /// Prefix [`QUORUM_PREFIX`]; the trust store is always there.
    pub stores: Stores,
    /// `ssl.quorum.hostnameVerification` (ZooKeeper's default: true). When
    /// on, a connecting member checks that the certificate of the member
    /// it dials names the host of that member's `server.N` line (a DNS
    /// name, or an IP address as an IP SAN: a certificate for
    /// `server.N=127.0.0.1:...` needs `IP:127.0.0.1`, which a CN does not
    /// replace), and an accepting member checks that the connecting
    /// member's certificate names the IP address the connection comes
    /// from (ZooKeeper checks client hostnames on the quorum too; there is
    /// no reverse DNS lookup here). When off, only the chain is checked:
    /// any certificate the trust store vouches for is a member.
    pub hostname_verification: bool,
}

/// The TLS keys seen so far in one zoo.cfg; [`TlsKeys::finish`] and
/// [`TlsKeys::quorum`] check them together (a key store is only required
/// once there is a port, or `sslQuorum=true`).
#[derive(Debug, Default)]
pub struct TlsKeys {
    port: Option<u16>,
    address: Option<IpAddr>,
    client_auth: Option<ClientAuth>,
    /// `ssl.*`.
    client: StoreKeys,
    ssl_quorum: bool,
    quorum_hostname_verification: Option<bool>,
    /// `ssl.quorum.*`.
    quorum: StoreKeys,
}

/// The store and protocol keys both families share, without their prefix.
#[derive(Debug, Default)]
struct StoreKeys {
    keystore: Option<PathBuf>,
    truststore: Option<PathBuf>,
    protocol: Option<Vec<String>>,
    enabled_protocols: Option<Vec<String>>,
    cipher_suites: Vec<String>,
}

/// Why one TLS key's value is refused (the caller adds key and line).
pub type Reason = String;

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn pem_type(value: &str) -> Result<(), Reason> {
    if value.is_empty() || value.eq_ignore_ascii_case("PEM") {
        Ok(())
    } else {
        Err("only PEM key and trust stores are supported (JKS and PKCS12 are not)".into())
    }
}

fn protocol(name: &str) -> Result<String, Reason> {
    match name {
        "TLSv1.2" | "TLSv1.3" => Ok(name.to_string()),
        _ => Err(format!(
            "{name:?} is not a TLS version this server speaks (TLSv1.2, TLSv1.3)"
        )),
    }
}

fn location(value: &str) -> Result<PathBuf, Reason> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(PathBuf::from(value))
}

fn boolean(value: &str) -> Result<bool, Reason> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("must be true or false".into()),
    }
}

impl StoreKeys {
    /// Takes `name` (a key without its `ssl.` or `ssl.quorum.` prefix):
    /// `Ok(false)` when it is not one of the shared keys.
    fn accept(&mut self, name: &str, v: &str) -> Result<bool, Reason> {
        match name {
            "keyStore.location" => self.keystore = Some(location(v)?),
            "trustStore.location" => self.truststore = Some(location(v)?),
            "keyStore.type" | "trustStore.type" => pem_type(v)?,
            "keyStore.password" => {
                if !v.is_empty() {
                    return Err("encrypted PEM keys are not supported; give an unencrypted \
                                key and leave the password empty"
                        .into());
                }
            }
            // A PEM trust store has no password; ZooKeeper ignores it too.
            "trustStore.password" => {}
            // Java's SSLContext protocol; ZooKeeper enables it, and TLSv1.2
            // with it when it is TLSv1.3.
            "protocol" => {
                self.protocol = Some(match protocol(v)?.as_str() {
                    "TLSv1.3" => vec!["TLSv1.3".into(), "TLSv1.2".into()],
                    _ => vec!["TLSv1.2".into()],
                })
            }
            "enabledProtocols" => {
                let names = list(v);
                if names.is_empty() {
                    return Err("no protocol given".into());
                }
                self.enabled_protocols = Some(
                    names
                        .iter()
                        .map(|n| protocol(n))
                        .collect::<Result<_, _>>()?,
                );
            }
            "ciphersuites" => self.cipher_suites = list(v),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// `enabledProtocols`, else what `protocol` implies, else both.
    fn protocols(&self) -> Vec<String> {
        self.enabled_protocols
            .clone()
            .or_else(|| self.protocol.clone())
            .unwrap_or_else(|| vec!["TLSv1.3".into(), "TLSv1.2".into()])
    }
}

impl TlsKeys {
    /// Takes `e` if it is one of the TLS keys: `Ok(false)` when it is not.
    pub fn accept(&mut self, e: &Entry) -> Result<bool, Reason> {
        let v = e.value.trim();
        let key = e.key.as_str();
        if let Some(name) = key.strip_prefix("ssl.quorum.") {
            match name {
                "clientAuth" => match v.to_ascii_lowercase().as_str() {
                    "need" => {}
                    "none" | "want" => {
                        return Err("TLS between members is always mutual here: every \
                                    member presents and checks a certificate (need)"
                            .into())
                    }
                    _ => return Err("must be none, want or need".into()),
                },
                "hostnameVerification" => self.quorum_hostname_verification = Some(boolean(v)?),
                _ => return self.quorum.accept(name, v),
            }
            return Ok(true);
        }
        if let Some(name) = key.strip_prefix("ssl.") {
            if name != "clientAuth" {
                return self.client.accept(name, v);
            }
            self.client_auth = Some(match v.to_ascii_lowercase().as_str() {
                "none" => ClientAuth::None,
                "want" => ClientAuth::Want,
                "need" => ClientAuth::Need,
                _ => return Err("must be none, want or need".into()),
            });
            return Ok(true);
        }
        match key {
            "secureClientPort" => {
                let port: u16 = v.parse().map_err(|_| "not a port number (0-65535)")?;
                self.port = Some(port);
            }
            "secureClientPortAddress" => {
                self.address = Some(v.parse().map_err(|_| "not an IP address")?)
            }
            "serverCnxnFactory" => {
                if v != NETTY_FACTORY && v != NIO_FACTORY {
                    return Err(format!(
                        "the connection factories are {NIO_FACTORY} and {NETTY_FACTORY} \
                         (both mean the same here)"
                    ));
                }
            }
            "sslQuorum" => self.ssl_quorum = boolean(v)?,
            "sslQuorumReloadCertFiles" => {
                if boolean(v)? {
                    return Err(
                        "reloading the quorum key and trust stores when their files \
                                change is not supported; restart the member to use new \
                                certificates"
                            .into(),
                    );
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// TLS between members, if `sslQuorum=true`: both stores are required
    /// (ZooKeeper's quorum TLS is always mutual). Without `sslQuorum=true`
    /// the `ssl.quorum.*` keys are read and ignored, as ZooKeeper does.
    pub fn quorum(&self) -> Result<Option<QuorumTls>, Reason> {
        if !self.ssl_quorum {
            return Ok(None);
        }
        let keystore = self.quorum.keystore.clone().ok_or(
            "sslQuorum=true needs ssl.quorum.keyStore.location (a PEM file with this \
             member's private key and certificate chain)",
        )?;
        let truststore = self.quorum.truststore.clone().ok_or(
            "sslQuorum=true needs ssl.quorum.trustStore.location (PEM CA certificates the \
             other members' certificates are checked against)",
        )?;
        Ok(Some(QuorumTls {
            stores: Stores {
                prefix: QUORUM_PREFIX,
                keystore,
                truststore: Some(truststore),
                protocols: self.quorum.protocols(),
                cipher_suites: self.quorum.cipher_suites.clone(),
            },
            hostname_verification: self.quorum_hostname_verification.unwrap_or(true),
        }))
    }

    /// The secure port, if `secureClientPort` was given: its key store is
    /// required, and a trust store whenever clients must show certificates.
    pub fn finish(&self) -> Result<Option<SecureClientPort>, Reason> {
        let Some(port) = self.port else {
            return Ok(None);
        };
        let keystore = self.client.keystore.clone().ok_or(
            "secureClientPort needs ssl.keyStore.location (a PEM file with the server's \
             private key and certificate chain)",
        )?;
        let client_auth = self.client_auth.unwrap_or(ClientAuth::Need);
        if client_auth != ClientAuth::None && self.client.truststore.is_none() {
            return Err(format!(
                "ssl.clientAuth={} (ZooKeeper's default is need) needs ssl.trustStore.location \
                 (PEM CA certificates) to check client certificates against; or set \
                 ssl.clientAuth=none",
                match client_auth {
                    ClientAuth::Want => "want",
                    _ => "need",
                }
            ));
        }
        Ok(Some(SecureClientPort {
            port,
            address: self.address.unwrap_or([0, 0, 0, 0].into()),
            keystore,
            protocols: self.client.protocols(),
            truststore: self.client.truststore.clone(),
            client_auth,
            cipher_suites: self.client.cipher_suites.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(lines: &[(&str, &str)]) -> Result<TlsKeys, Reason> {
        let mut k = TlsKeys::default();
        for (line, (key, value)) in lines.iter().enumerate() {
            let e = Entry {
                key: key.to_string(),
                value: value.to_string(),
                line: line + 1,
            };
            assert!(k.accept(&e)?, "{key} not taken");
        }
        Ok(k)
    }

    fn keys(lines: &[(&str, &str)]) -> Result<Option<SecureClientPort>, Reason> {
        read(lines)?.finish()
    }

    fn quorum(lines: &[(&str, &str)]) -> Result<Option<QuorumTls>, Reason> {
        read(lines)?.quorum()
    }

    const QUORUM: [(&str, &str); 3] = [
        ("sslQuorum", "true"),
        ("ssl.quorum.keyStore.location", "/m.pem"),
        ("ssl.quorum.trustStore.location", "/ca.pem"),
    ];

    fn quorum_with(extra: &[(&str, &str)]) -> Result<Option<QuorumTls>, Reason> {
        let mut l = QUORUM.to_vec();
        l.extend_from_slice(extra);
        quorum(&l)
    }

    #[test]
    fn quorum_keys_as_zookeeper_reads_them() {
        let q = quorum_with(&[
            ("ssl.quorum.keyStore.type", "PEM"),
            ("ssl.quorum.trustStore.type", "pem"),
            ("ssl.quorum.keyStore.password", ""),
            ("ssl.quorum.trustStore.password", "ignored"),
            ("ssl.quorum.clientAuth", "need"),
            ("sslQuorumReloadCertFiles", "false"),
        ])
        .unwrap()
        .expect("sslQuorum=true");
        assert_eq!(q.stores.prefix, QUORUM_PREFIX);
        assert_eq!(q.stores.keystore, PathBuf::from("/m.pem"));
        assert_eq!(q.stores.truststore, Some(PathBuf::from("/ca.pem")));
        assert_eq!(q.stores.protocols, vec!["TLSv1.3", "TLSv1.2"]);
        assert!(q.stores.cipher_suites.is_empty());
        assert!(q.hostname_verification, "ZooKeeper's default is true");

        let q = quorum_with(&[
            ("ssl.quorum.hostnameVerification", "false"),
            ("ssl.quorum.protocol", "TLSv1.2"),
            (
                "ssl.quorum.ciphersuites",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256",
            ),
        ])
        .unwrap()
        .unwrap();
        assert!(!q.hostname_verification);
        assert_eq!(q.stores.protocols, vec!["TLSv1.2"]);
        assert_eq!(q.stores.cipher_suites.len(), 2);
        let q = quorum_with(&[
            ("ssl.quorum.protocol", "TLSv1.2"),
            ("ssl.quorum.enabledProtocols", "TLSv1.3"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(q.stores.protocols, vec!["TLSv1.3"], "enabledProtocols wins");
    }

    #[test]
    fn quorum_and_client_families_stay_apart() {
        // The client port's keys do not stand in for the quorum's
        // (ZooKeeper has no such fallback), nor the reverse.
        let err = quorum(&[
            ("sslQuorum", "true"),
            ("ssl.keyStore.location", "/k.pem"),
            ("ssl.trustStore.location", "/ca.pem"),
        ])
        .unwrap_err();
        assert!(err.contains("ssl.quorum.keyStore.location"), "{err}");
        let k = read(&[
            ("secureClientPort", "2281"),
            ("ssl.clientAuth", "none"),
            ("ssl.quorum.keyStore.location", "/m.pem"),
        ])
        .unwrap();
        assert!(k.finish().unwrap_err().contains("ssl.keyStore.location"));
        // Without sslQuorum=true the quorum keys are read and ignored.
        assert_eq!(quorum(&QUORUM[1..]).unwrap(), None);
        assert_eq!(quorum(&[("sslQuorum", "false")]).unwrap(), None);
        // Each family's protocols are its own.
        let k = read(&[
            ("sslQuorum", "true"),
            ("ssl.quorum.keyStore.location", "/m.pem"),
            ("ssl.quorum.trustStore.location", "/ca.pem"),
            ("ssl.quorum.enabledProtocols", "TLSv1.2"),
            ("secureClientPort", "2281"),
            ("ssl.keyStore.location", "/k.pem"),
            ("ssl.clientAuth", "none"),
        ])
        .unwrap();
        assert_eq!(
            k.quorum().unwrap().unwrap().stores.protocols,
            vec!["TLSv1.2"]
        );
        assert_eq!(
            k.finish().unwrap().unwrap().protocols,
            vec!["TLSv1.3", "TLSv1.2"]
        );
    }

    #[test]
    fn quorum_refusals_say_why() {
        let err = quorum(&[("sslQuorum", "true")]).unwrap_err();
        assert!(err.contains("ssl.quorum.keyStore.location"), "{err}");
        let err = quorum(&QUORUM[..2]).unwrap_err();
        assert!(err.contains("ssl.quorum.trustStore.location"), "{err}");
        for (key, value, says) in [
            ("sslQuorum", "yes", "true or false"),
            ("ssl.quorum.keyStore.type", "JKS", "only PEM"),
            ("ssl.quorum.trustStore.type", "PKCS12", "only PEM"),
            (
                "ssl.quorum.keyStore.password",
                "secret",
                "encrypted PEM keys",
            ),
            ("ssl.quorum.clientAuth", "want", "always mutual"),
            ("ssl.quorum.clientAuth", "none", "always mutual"),
            ("ssl.quorum.clientAuth", "maybe", "none, want or need"),
            (
                "ssl.quorum.hostnameVerification",
                "sometimes",
                "true or false",
            ),
            ("ssl.quorum.enabledProtocols", "TLSv1.1", "TLSv1.1"),
            ("ssl.quorum.protocol", "SSLv3", "SSLv3"),
            ("ssl.quorum.keyStore.location", "", "must not be empty"),
            ("sslQuorumReloadCertFiles", "true", "restart"),
        ] {
            let err = quorum_with(&[(key, value)]).expect_err(key);
            assert!(err.contains(says), "{key}={value}: {err}");
        }
        let mut k = TlsKeys::default();
        let unknown = Entry {
            key: "ssl.quorum.bogus".into(),
            value: "1".into(),
            line: 1,
        };
        assert_eq!(
            k.accept(&unknown),
            Ok(false),
            "left for the unknown-key error"
        );
    }

    #[test]
    fn zookeeper_defaults() {
        let s = keys(&[
            ("secureClientPort", "2281"),
            ("ssl.keyStore.location", "/k.pem"),
            ("ssl.keyStore.type", "PEM"),
            ("ssl.trustStore.location", "/ca.pem"),
            ("ssl.trustStore.type", "pem"),
            ("serverCnxnFactory", NETTY_FACTORY),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(s.client_auth, ClientAuth::Need);
        assert_eq!(s.address, IpAddr::from([0, 0, 0, 0]));
        assert_eq!(s.protocols, vec!["TLSv1.3", "TLSv1.2"]);
        assert!(keys(&[("ssl.clientAuth", "want")]).unwrap().is_none());
    }

    #[test]
    fn protocols_as_zookeeper_derives_them() {
        let base = [
            ("secureClientPort", "2281"),
            ("ssl.keyStore.location", "/k.pem"),
            ("ssl.clientAuth", "none"),
        ];
        let with = |extra: (&str, &str)| {
            let mut l = base.to_vec();
            l.push(extra);
            keys(&l)
        };
        let p = |r: Result<Option<SecureClientPort>, Reason>| r.unwrap().unwrap().protocols;
        assert_eq!(p(with(("ssl.protocol", "TLSv1.2"))), vec!["TLSv1.2"]);
        assert_eq!(
            p(with(("ssl.enabledProtocols", "TLSv1.3"))),
            vec!["TLSv1.3"]
        );
        assert!(with(("ssl.enabledProtocols", "SSLv3")).is_err());
        assert!(with(("ssl.clientAuth", "maybe")).is_err());
    }

    #[test]
    fn refusals_say_why() {
        let err = keys(&[("secureClientPort", "2281")]).unwrap_err();
        assert!(err.contains("ssl.keyStore.location"), "{err}");
        let err = keys(&[
            ("secureClientPort", "2281"),
            ("ssl.keyStore.location", "/k.pem"),
        ])
        .unwrap_err();
        assert!(err.contains("ssl.trustStore.location"), "{err}");
        assert!(keys(&[("ssl.keyStore.type", "JKS")]).is_err());
        assert!(keys(&[("serverCnxnFactory", "com.example.Nope")]).is_err());
    }
}
