//! ZooKeeper 3.8's keys for TLS client connections (`secureClientPort` and
//! the `ssl.*` family), read as ZooKeeper reads them so an operator's zoo.cfg
//! carries over.
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
//! | `sslQuorum` | only `false`: TLS between members is not supported yet |

use std::net::IpAddr;
use std::path::PathBuf;

use runnel_common::properties::Entry;

/// ZooKeeper's Netty connection factory, which its TLS needs.
pub const NETTY_FACTORY: &str = "org.apache.zookeeper.server.NettyServerCnxnFactory";
/// ZooKeeper's default (plaintext-only) connection factory.
pub const NIO_FACTORY: &str = "org.apache.zookeeper.server.NIOServerCnxnFactory";

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

/// The TLS keys seen so far in one zoo.cfg; [`TlsKeys::finish`] checks
/// them together (a key store is only required once there is a port).
#[derive(Debug, Default)]
pub struct TlsKeys {
    port: Option<u16>,
    address: Option<IpAddr>,
    keystore: Option<PathBuf>,
    truststore: Option<PathBuf>,
    client_auth: Option<ClientAuth>,
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

impl TlsKeys {
    /// Takes `e` if it is one of the TLS keys: `Ok(false)` when it is not.
    pub fn accept(&mut self, e: &Entry) -> Result<bool, Reason> {
        let v = e.value.trim();
        match e.key.as_str() {
            "secureClientPort" => {
                let port: u16 = v.parse().map_err(|_| "not a port number (0-65535)")?;
                self.port = Some(port);
            }
            "secureClientPortAddress" => {
                self.address = Some(v.parse().map_err(|_| "not an IP address")?)
            }
            "ssl.keyStore.location" => self.keystore = Some(location(v)?),
            "ssl.trustStore.location" => self.truststore = Some(location(v)?),
            "ssl.keyStore.type" | "ssl.trustStore.type" => pem_type(v)?,
            "ssl.keyStore.password" => {
                if !v.is_empty() {
                    return Err("encrypted PEM keys are not supported; give an unencrypted \
                                key and leave the password empty"
                        .into());
                }
            }
            // A PEM trust store has no password; ZooKeeper ignores it too.
            "ssl.trustStore.password" => {}
            "ssl.clientAuth" => {
                self.client_auth = Some(match v.to_ascii_lowercase().as_str() {
                    "none" => ClientAuth::None,
                    "want" => ClientAuth::Want,
                    "need" => ClientAuth::Need,
                    _ => return Err("must be none, want or need".into()),
                })
            }
            // Java's SSLContext protocol; ZooKeeper enables it, and TLSv1.2
            // with it when it is TLSv1.3.
            "ssl.protocol" => {
                self.protocol = Some(match protocol(v)?.as_str() {
                    "TLSv1.3" => vec!["TLSv1.3".into(), "TLSv1.2".into()],
                    _ => vec!["TLSv1.2".into()],
                })
            }
            "ssl.enabledProtocols" => {
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
            "ssl.ciphersuites" => self.cipher_suites = list(v),
            "serverCnxnFactory" => {
                if v != NETTY_FACTORY && v != NIO_FACTORY {
                    return Err(format!(
                        "the connection factories are {NIO_FACTORY} and {NETTY_FACTORY} \
                         (both mean the same here)"
                    ));
                }
            }
            "sslQuorum" => match v.to_ascii_lowercase().as_str() {
                "false" => {}
                "true" => return Err("sslQuorum is not supported yet".into()),
                _ => return Err("must be true or false".into()),
            },
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The secure port, if `secureClientPort` was given: its key store is
    /// required, and a trust store whenever clients must show certificates.
    pub fn finish(self) -> Result<Option<SecureClientPort>, Reason> {
        let Some(port) = self.port else {
            return Ok(None);
        };
        let keystore = self.keystore.ok_or(
            "secureClientPort needs ssl.keyStore.location (a PEM file with the server's \
             private key and certificate chain)",
        )?;
        let client_auth = self.client_auth.unwrap_or(ClientAuth::Need);
        if client_auth != ClientAuth::None && self.truststore.is_none() {
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
        let protocols = self
            .enabled_protocols
            .or(self.protocol)
            .unwrap_or_else(|| vec!["TLSv1.3".into(), "TLSv1.2".into()]);
        Ok(Some(SecureClientPort {
            port,
            address: self.address.unwrap_or([0, 0, 0, 0].into()),
            keystore,
            truststore: self.truststore,
            client_auth,
            protocols,
            cipher_suites: self.cipher_suites,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(lines: &[(&str, &str)]) -> Result<Option<SecureClientPort>, Reason> {
        let mut k = TlsKeys::default();
        for (line, (key, value)) in lines.iter().enumerate() {
            let e = Entry {
                key: key.to_string(),
                value: value.to_string(),
                line: line + 1,
            };
            assert!(k.accept(&e)?, "{key} not taken");
        }
        k.finish()
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
        let err = keys(&[("sslQuorum", "true")]).unwrap_err();
        assert_eq!(err, "sslQuorum is not supported yet");
        assert!(keys(&[("ssl.keyStore.type", "JKS")]).is_err());
        assert!(keys(&[("serverCnxnFactory", "com.example.Nope")]).is_err());
    }
}
