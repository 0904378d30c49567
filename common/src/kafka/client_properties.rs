//! A Kafka client properties file — what Kafka's tools take as
//! `--command-config`, `--producer.config` or `--consumer.config` — read
//! into the [`ClientSecurity`] the internal client connects with.
//!
//! Only the security settings are read, under Kafka's names and, since
//! many such files are written for librdkafka (kcat, confluent-kafka),
//! under librdkafka's names too:
//!
//! | Kafka | librdkafka | meaning |
//! |---|---|---|
//! | `security.protocol` | same | `PLAINTEXT` (default), `SSL`, `SASL_PLAINTEXT`, `SASL_SSL` |
//! | `ssl.truststore.location` | `ssl.ca.location` | CA certificates (PEM) |
//! | `ssl.keystore.location` | `ssl.certificate.location` + `ssl.key.location` | key and chain (PEM), for mutual TLS |
//! | `ssl.truststore.type`, `ssl.keystore.type` | — | must be `PEM` |
//! | `ssl.enabled.protocols`, `ssl.cipher.suites` | — | TLS versions and suites |
//! | `sasl.mechanism` | `sasl.mechanisms` | `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512` |
//! | `sasl.jaas.config` | `sasl.username` + `sasl.password` | who the client is |
//!
//! As in Kafka, settings the protocol does not use are not looked at (an
//! `ssl.*` key under `SASL_PLAINTEXT` is ignored). Keys this module does not
//! know are returned, so the command line can warn about them as Kafka's
//! tools warn about unknown configs: a setting that silently does nothing
//! is worse than a noisy one. Every error names the file and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::transport::{ClientSecurity, SaslCredentials, SaslMechanism, SecurityProtocol};
use crate::properties::{self, PropertiesError};
use crate::security::jaas;
use crate::tls::{self, TlsError, TlsFiles};

/// Keys read here, or deliberately accepted without effect; anything else
/// is reported back as unknown.
const KNOWN_KEYS: &[&str] = &[
    "security.protocol",
    "ssl.truststore.location",
    "ssl.ca.location",
    "ssl.truststore.type",
    "ssl.truststore.password",
    "ssl.keystore.location",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.keystore.type",
    "ssl.keystore.password",
    "ssl.key.password",
    "ssl.enabled.protocols",
    "ssl.cipher.suites",
    // Which SSLContext Java asks for; rustls has one, so it changes nothing
    // (ssl.enabled.protocols is what narrows the versions).
    "ssl.protocol",
    "ssl.endpoint.identification.algorithm",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.jaas.config",
    "sasl.username",
    "sasl.password",
    // Every tool takes --bootstrap-server, which wins over the file's list as
    // in Kafka; files shared with kcat (`-F`) carry it, so it is no surprise.
    "bootstrap.servers",
];

/// Why a client properties file could not be turned into security settings.
#[derive(Debug, thiserror::Error)]
pub enum ClientPropertiesError {
    /// The file is missing, unreadable, or not `key=value` text.
    #[error(transparent)]
    Read(#[from] PropertiesError),
    /// A setting is refused, or one the protocol needs is missing.
    #[error("{origin}: {key}: {reason}")]
    Key {
        /// The file (or whatever the pairs came from).
        origin: String,
        /// The offending key, or keys joined with " and ".
        key: String,
        reason: String,
    },
}

/// Reads a client properties file; returns the security settings and the
/// keys that were not understood (in file order, each once).
pub fn load(path: &Path) -> Result<(ClientSecurity, Vec<String>), ClientPropertiesError> {
    let entries = properties::read_file(path)?;
    from_pairs(
        entries.iter().map(|e| (e.key.as_str(), e.value.as_str())),
        &path.display().to_string(),
    )
}

/// The settings from `key=value` pairs; a repeated key keeps its last value,
/// as Java's `Properties` does. `origin` names the source in errors.
pub fn from_pairs<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    origin: &str,
) -> Result<(ClientSecurity, Vec<String>), ClientPropertiesError> {
    let mut props: BTreeMap<&str, &str> = BTreeMap::new();
    let mut unknown: Vec<String> = Vec::new();
    for (key, value) in pairs {
        if !KNOWN_KEYS.contains(&key) && !unknown.iter().any(|k| k == key) {
            unknown.push(key.to_string());
        }
        props.insert(key, value);
    }
    let reader = Reader { origin, props };
    let protocol = match reader.get("security.protocol") {
        None => SecurityProtocol::Plaintext,
        Some(v) => SecurityProtocol::parse(v).ok_or_else(|| {
            reader.error(
                "security.protocol",
                format!("{v:?} is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
            )
        })?,
    };
    let tls = if protocol.uses_tls() {
        Some(Arc::new(reader.tls()?))
    } else {
        None
    };
    let sasl = if protocol.uses_sasl() {
        Some(reader.sasl(protocol)?)
    } else {
        None
    };
    Ok((ClientSecurity { tls, sasl }, unknown))
}

/// The parsed pairs and where they came from, for error messages.
struct Reader<'a> {
    origin: &'a str,
    props: BTreeMap<&'a str, &'a str>,
}

impl<'a> Reader<'a> {
    /// A key's value; an empty value counts as unset, as Kafka treats
    /// `ssl.keystore.location=` in a template file.
    fn get(&self, key: &str) -> Option<&'a str> {
        self.props.get(key).copied().filter(|v| !v.is_empty())
    }

    fn error(&self, key: &str, reason: impl Into<String>) -> ClientPropertiesError {
        ClientPropertiesError::Key {
            origin: self.origin.to_string(),
            key: key.to_string(),
            reason: reason.into(),
        }
    }

    /// The value of a Kafka key or its librdkafka twin; both given with
    /// different values is an error rather than a silent choice.
    fn either(
        &self,
        kafka: &str,
        librdkafka: &str,
    ) -> Result<Option<&'a str>, ClientPropertiesError> {
        match (self.get(kafka), self.get(librdkafka)) {
            (Some(a), Some(b)) if a != b => Err(self.error(
                &format!("{kafka} and {librdkafka}"),
                format!("both given, with different values ({a:?}, {b:?}); give one"),
            )),
            (a, b) => Ok(a.or(b)),
        }
    }

    /// `ssl.*.type` must be PEM when given: Kafka's default, JKS, and
    /// PKCS12 need a Java key store reader this project does not have.
    fn check_pem_type(&self, key: &str) -> Result<(), ClientPropertiesError> {
        match self.get(key) {
            Some(t) if !t.eq_ignore_ascii_case("PEM") => Err(self.error(
                key,
                format!("{t:?} is not supported; only PEM files are read (set {key}=PEM)"),
            )),
            _ => Ok(()),
        }
    }

    /// A file a key names, checked to be readable now so the error names
    /// the key rather than surfacing later as a failed handshake.
    fn file(&self, key: &str, path: &str) -> Result<PathBuf, ClientPropertiesError> {
        let path = PathBuf::from(path);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(path),
            Ok(_) => Err(self.error(key, format!("{} is not a file", path.display()))),
            Err(e) => Err(self.error(key, format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// The TLS client configuration of `SSL` and `SASL_SSL`.
    fn tls(&self) -> Result<rustls::ClientConfig, ClientPropertiesError> {
        self.check_pem_type("ssl.truststore.type")?;
        self.check_pem_type("ssl.keystore.type")?;
        // Kafka refuses these for PEM stores too: a PEM trust store has no
        // password, and a PEM key store's only secret is its key's.
        if self.get("ssl.truststore.password").is_some() {
            return Err(self.error(
                "ssl.truststore.password",
                "a PEM trust store has no password; remove the setting",
            ));
        }
        if self.get("ssl.keystore.password").is_some() {
            return Err(self.error(
                "ssl.keystore.password",
                "a PEM key store has no password; remove the setting",
            ));
        }
        if self.get("ssl.key.password").is_some() {
            return Err(self.error(
                "ssl.key.password",
                "encrypted private keys are not supported; give an unencrypted PEM key",
            ));
        }
        if let Some(alg) = self.get("ssl.endpoint.identification.algorithm") {
            if !alg.eq_ignore_ascii_case("https") {
                return Err(self.error(
                    "ssl.endpoint.identification.algorithm",
                    format!(
                        "{alg:?} is not supported: the broker's host name is always checked \
                         against its certificate (https)"
                    ),
                ));
            }
        }
        let truststore_key = if self.get("ssl.truststore.location").is_some() {
            "ssl.truststore.location"
        } else {
            "ssl.ca.location"
        };
        let truststore = match self.either("ssl.truststore.location", "ssl.ca.location")? {
            Some(p) => self.file(truststore_key, p)?,
            None => {
                return Err(self.error(
                    "ssl.truststore.location",
                    "not set; SSL needs a trust store of PEM CA certificates \
                     (the system's trust store is not used)",
                ))
            }
        };
        let keystore = match self.keystore()? {
            Some((key, p)) => Some(self.file(key, p)?),
            None => None,
        };
        let files = TlsFiles {
            keystore,
            truststore: Some(truststore),
            protocols: list(self.get("ssl.enabled.protocols")),
            cipher_suites: list(self.get("ssl.cipher.suites")),
        };
        tls::client_config(&files).map_err(|e| self.tls_error(&files, e))
    }

    /// The key store and the key that named it: Kafka's one file, or
    /// librdkafka's certificate and key, which must be that same file.
    fn keystore(&self) -> Result<Option<(&'static str, &'a str)>, ClientPropertiesError> {
        let cert = self.get("ssl.certificate.location");
        let key = self.get("ssl.key.location");
        let librdkafka = match (cert, key) {
            (None, None) => None,
            (Some(c), Some(k)) if c == k => Some(c),
            (Some(c), Some(k)) => {
                return Err(self.error(
                    "ssl.certificate.location and ssl.key.location",
                    format!(
                        "name different files ({c:?}, {k:?}); give one PEM file holding the \
                         private key and the certificate chain"
                    ),
                ))
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(self.error(
                    "ssl.certificate.location and ssl.key.location",
                    "only one is set; both must name one PEM file holding the private key \
                     and the certificate chain",
                ))
            }
        };
        match (self.get("ssl.keystore.location"), librdkafka) {
            (Some(a), Some(b)) if a != b => Err(self.error(
                "ssl.keystore.location and ssl.certificate.location",
                format!("both given, with different values ({a:?}, {b:?}); give one"),
            )),
            (Some(a), _) => Ok(Some(("ssl.keystore.location", a))),
            (None, Some(b)) => Ok(Some(("ssl.certificate.location", b))),
            (None, None) => Ok(None),
        }
    }

    /// A TLS set-up error under the key that caused it.
    fn tls_error(&self, files: &TlsFiles, e: TlsError) -> ClientPropertiesError {
        match e {
            TlsError::File { path, reason } => {
                let key = if files.truststore.as_ref() == Some(&path) {
                    "ssl.truststore.location"
                } else {
                    "ssl.keystore.location"
                };
                self.error(key, format!("{}: {reason}", path.display()))
            }
            TlsError::Protocol(p) => self.error(
                "ssl.enabled.protocols",
                format!("{p:?} is not a TLS version this client speaks (TLSv1.2, TLSv1.3)"),
            ),
            TlsError::CipherSuite(s) => self.error(
                "ssl.cipher.suites",
                format!("{s:?} is not a supported cipher suite"),
            ),
            // The rest come from rustls refusing the combination: a key that
            // does not fit its certificate, versions without usable suites.
            other => {
                let key = if files.keystore.is_some() {
                    "ssl.keystore.location"
                } else {
                    "ssl.enabled.protocols and ssl.cipher.suites"
                };
                self.error(key, other.to_string())
            }
        }
    }

    /// Mechanism and credentials of `SASL_PLAINTEXT` and `SASL_SSL`.
    fn sasl(&self, protocol: SecurityProtocol) -> Result<SaslCredentials, ClientPropertiesError> {
        let Some(name) = self.either("sasl.mechanism", "sasl.mechanisms")? else {
            return Err(self.error(
                "sasl.mechanism",
                format!(
                    "not set; security.protocol={} needs PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 \
                     (Kafka's default, GSSAPI, is not supported)",
                    protocol.name()
                ),
            ));
        };
        let mechanism = SaslMechanism::parse(name).ok_or_else(|| {
            self.error(
                "sasl.mechanism",
                format!("{name:?} is not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)"),
            )
        })?;
        let jaas = self.get("sasl.jaas.config");
        let user = self.get("sasl.username");
        let pass = self.get("sasl.password");
        let (username, password) = match (jaas, user.is_some() || pass.is_some()) {
            (Some(_), true) => {
                return Err(self.error(
                    "sasl.jaas.config and sasl.username",
                    "both given; give the credentials once, in sasl.jaas.config \
                     or in sasl.username and sasl.password",
                ))
            }
            (Some(text), false) => {
                let entry = jaas::parse_jaas(text)
                    .map_err(|e| self.error("sasl.jaas.config", e.to_string()))?;
                let username = entry
                    .username()
                    .ok_or_else(|| self.error("sasl.jaas.config", "has no username option"))?;
                let password = entry
                    .password()
                    .ok_or_else(|| self.error("sasl.jaas.config", "has no password option"))?;
                (username.to_string(), password.to_string())
            }
            (None, true) => {
                let username = user.ok_or_else(|| {
                    self.error("sasl.username", "not set, though sasl.password is")
                })?;
                let password = pass.ok_or_else(|| {
                    self.error("sasl.password", "not set, though sasl.username is")
                })?;
                (username.to_string(), password.to_string())
            }
            (None, false) => {
                return Err(self.error(
                    "sasl.jaas.config",
                    format!(
                        "not set; {} needs a username and password \
                         (sasl.jaas.config, or sasl.username and sasl.password)",
                        mechanism.name()
                    ),
                ))
            }
        };
        Ok(SaslCredentials {
            mechanism,
            username,
            password,
        })
    }
}

/// A comma-separated list value, blanks dropped.
fn list(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::scram::ScramMechanism;

    // A CA, and a client key plus certificate signed by it (valid to 2126),
    // made with openssl for these tests only.
    const CA_PEM: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIIBezCCASGgAwIBAgIUfrVYAQ20+/QbIYw3hZEF7z2NYawwCgYIKoZIzj0EAwIw\n\
EjEQMA4GA1UEAwwHdGVzdC1jYTAgFw0yNjEyMDcwMTQ1MDZaGA8yMTI2MTExMzAx\n\
NDUwNlowEjEQMA4GA1UEAwwHdGVzdC1jYTBZMBMGByqGSM49AgEGCCqGSM49AwEH\n\
A0IABJYOdVI9hmuNr1bSYTofcoxuHCHG2JruR07jEa145l+w5Jmi4P5aXQ5IfCgN\n\
WJZqCTJd97y5MfNXI+l09g2AIfSjUzBRMB0GA1UdDgQWBBSYoS58ZnhC1oPu6YIA\n\
KkgL9DFCizAfBgNVHSMEGDAWgBSYoS58ZnhC1oPu6YIAKkgL9DFCizAPBgNVHRMB\n\
Af8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQD2VMFxhqARBK/R9oAruZKdFwXa\n\
kSc0IgcGHNbQ47q6uwIgP8rd9QWMncAyTvbz7Am2hxHQ+vZqQmS9gie+ZTP3Qm4=\n\
-----END CERTIFICATE-----\n";

    const CLIENT_PEM: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgjFqYbUimHt2o39O7\n\
FRmyOtuCMZ7Iw+9V+WTm04WroK+hRANCAAQuUmpIUXf1j491GAS6rOY8r7MucDVF\n\
aNoIFVhdM3D/qBN3CIBRizR45FSyaXPcpIv0K31F6a58Wwj3vSu8lyYW\n\
-----END PRIVATE KEY-----\n\
-----BEGIN CERTIFICATE-----\n\
MIIBljCCATygAwIBAgIUUWKqWd355uKWsYWjU4j4vsfPeu0wCgYIKoZIzj0EAwIw\n\
EjEQMA4GA1UEAwwHdGVzdC1jYTAgFw0yNjEyMDcwMTUwNTdaGA8yMTI2MTExMzAx\n\
NTA1N1owETEPMA0GA1UEAwwGY2xpZW50MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcD\n\
QgAELlJqSFF39Y+PdRgEuqzmPK+zLnA1RWjaCBVYXTNw/6gTdwiAUYs0eORUsmlz\n\
3KSL9Ct9RemufFsI970rvJcmFqNvMG0wCQYDVR0TBAIwADALBgNVHQ8EBAMCB4Aw\n\
EwYDVR0lBAwwCgYIKwYBBQUHAwIwHQYDVR0OBBYEFOUPJt70PvFMUBEjKYjQWDxg\n\
oMFEMB8GA1UdIwQYMBaAFJihLnxmeELWg+7pggAqSAv0MUKLMAoGCCqGSM49BAMC\n\
A0gAMEUCIQDlYQ6oehCbyNG4MjKuEBraLtbVFJzqKH6injRrwfta4wIgCkZcmx69\n\
fNLZwk28xprajPZbeDWSlETHdfTLjvRG1QQ=\n\
-----END CERTIFICATE-----\n";

    const PLAIN_JAAS: &str = "org.apache.kafka.common.security.plain.PlainLoginModule required \
                              username=\"admin\" password=\"admin-secret\";";

    /// A folder with ca.pem and client.pem.
    fn pems() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("ca.pem"), CA_PEM).expect("write ca.pem");
        std::fs::write(dir.path().join("client.pem"), CLIENT_PEM).expect("write client.pem");
        dir
    }

    fn path(dir: &tempfile::TempDir, name: &str) -> String {
        dir.path().join(name).display().to_string()
    }

    fn parse(
        pairs: &[(&str, &str)],
    ) -> Result<(ClientSecurity, Vec<String>), ClientPropertiesError> {
        from_pairs(pairs.iter().copied(), "admin.properties")
    }

    fn err(pairs: &[(&str, &str)]) -> String {
        parse(pairs).expect_err("should be refused").to_string()
    }

    #[test]
    fn no_settings_is_plaintext() {
        let (s, unknown) = parse(&[]).unwrap();
        assert_eq!(s.protocol(), SecurityProtocol::Plaintext);
        assert!(unknown.is_empty());
        // SSL and SASL keys are not looked at under PLAINTEXT, as in Kafka.
        let (s, _) = parse(&[
            ("security.protocol", "PLAINTEXT"),
            ("ssl.truststore.location", "/does/not/exist.pem"),
            ("sasl.mechanism", "GSSAPI"),
        ])
        .unwrap();
        assert_eq!(s.protocol(), SecurityProtocol::Plaintext);
    }

    #[test]
    fn ssl_with_a_pem_trust_store() {
        let d = pems();
        let ca = path(&d, "ca.pem");
        let (s, unknown) = parse(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.location", &ca),
            ("ssl.truststore.type", "PEM"),
            ("ssl.enabled.protocols", "TLSv1.3,TLSv1.2"),
            ("ssl.endpoint.identification.algorithm", "https"),
        ])
        .unwrap();
        assert_eq!(s.protocol(), SecurityProtocol::Ssl);
        assert!(unknown.is_empty());
        // librdkafka's name, lower-case protocol as kcat users write it.
        let (s, _) = parse(&[("security.protocol", "ssl"), ("ssl.ca.location", &ca)]).unwrap();
        assert_eq!(s.protocol(), SecurityProtocol::Ssl);
    }

    #[test]
    fn mutual_tls_key_store_kafka_and_librdkafka_names() {
        let d = pems();
        let (ca, client) = (path(&d, "ca.pem"), path(&d, "client.pem"));
        for keys in [
            vec![
                ("ssl.keystore.location", client.as_str()),
                ("ssl.keystore.type", "pem"),
            ],
            vec![
                ("ssl.certificate.location", client.as_str()),
                ("ssl.key.location", client.as_str()),
            ],
        ] {
            let mut pairs = vec![
                ("security.protocol", "SSL"),
                ("ssl.truststore.location", &ca),
            ];
            pairs.extend(keys);
            let (s, _) = parse(&pairs).unwrap();
            assert_eq!(s.protocol(), SecurityProtocol::Ssl);
        }
    }

    #[test]
    fn sasl_plaintext_with_jaas() {
        let (s, _) = parse(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.jaas.config", PLAIN_JAAS),
        ])
        .unwrap();
        assert_eq!(s.protocol(), SecurityProtocol::SaslPlaintext);
        let sasl = s.sasl.unwrap();
        assert_eq!(sasl.mechanism, SaslMechanism::Plain);
        assert_eq!(
            (sasl.username.as_str(), sasl.password.as_str()),
            ("admin", "admin-secret")
        );
    }

    #[test]
    fn sasl_ssl_scram_with_librdkafka_names() {
        let d = pems();
        let ca = path(&d, "ca.pem");
        let (s, unknown) = parse(&[
            ("security.protocol", "SASL_SSL"),
            ("ssl.ca.location", &ca),
            ("sasl.mechanisms", "SCRAM-SHA-512"),
            ("sasl.username", "alice"),
            ("sasl.password", "alice-secret"),
            ("acks", "all"),
            ("bootstrap.servers", "b:9092"),
            ("client.id", "x"),
            ("acks", "1"),
        ])
        .unwrap();
        assert_eq!(s.protocol(), SecurityProtocol::SaslSsl);
        let sasl = s.sasl.unwrap();
        assert_eq!(sasl.mechanism, SaslMechanism::Scram(ScramMechanism::Sha512));
        assert_eq!(sasl.username, "alice");
        assert_eq!(unknown, vec!["acks".to_string(), "client.id".to_string()]);
    }

    #[test]
    fn bad_protocol_is_named() {
        assert_eq!(
            err(&[("security.protocol", "TLS")]),
            "admin.properties: security.protocol: \"TLS\" is not one of PLAINTEXT, SSL, \
             SASL_PLAINTEXT, SASL_SSL"
        );
    }

    #[test]
    fn ssl_errors_name_the_key() {
        let d = pems();
        let ca = path(&d, "ca.pem");
        let e = err(&[("security.protocol", "SSL")]);
        assert!(
            e.starts_with("admin.properties: ssl.truststore.location: not set"),
            "{e}"
        );
        let e = err(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.location", "/nope/ca.pem"),
        ]);
        assert!(
            e.starts_with("admin.properties: ssl.truststore.location: cannot read /nope/ca.pem"),
            "{e}"
        );
        let e = err(&[
            ("security.protocol", "SSL"),
            ("ssl.ca.location", "/nope/ca.pem"),
        ]);
        assert!(
            e.starts_with("admin.properties: ssl.ca.location: cannot read"),
            "{e}"
        );
        let e = err(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.location", &ca),
            ("ssl.truststore.type", "JKS"),
        ]);
        assert!(
            e.starts_with("admin.properties: ssl.truststore.type: \"JKS\" is not supported"),
            "{e}"
        );
        let e = err(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.location", &ca),
            ("ssl.keystore.type", "PKCS12"),
        ]);
        assert!(e.contains("ssl.keystore.type: \"PKCS12\""), "{e}");
        let e = err(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.location", &ca),
            ("ssl.enabled.protocols", "TLSv1.1"),
        ]);
        assert!(e.contains("ssl.enabled.protocols: \"TLSv1.1\""), "{e}");
        let e = err(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.location", &ca),
            ("ssl.truststore.password", "changeit"),
        ]);
        assert!(e.contains("ssl.truststore.password"), "{e}");
        let e = err(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.location", &ca),
            ("ssl.endpoint.identification.algorithm", "none"),
        ]);
        assert!(e.contains("ssl.endpoint.identification.algorithm"), "{e}");
        // A trust store that is not PEM certificates: the key that named it.
        let e = err(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.location", &path(&d, "client.pem")),
            ("ssl.keystore.location", &ca),
        ]);
        assert!(e.contains("ssl.keystore.location: "), "{e}");
    }

    #[test]
    fn librdkafka_certificate_and_key_must_be_one_file() {
        let d = pems();
        let (ca, client) = (path(&d, "ca.pem"), path(&d, "client.pem"));
        let e = err(&[
            ("security.protocol", "SSL"),
            ("ssl.ca.location", &ca),
            ("ssl.certificate.location", &client),
            ("ssl.key.location", &ca),
        ]);
        assert!(
            e.starts_with(
                "admin.properties: ssl.certificate.location and ssl.key.location: name different files"
            ),
            "{e}"
        );
        let e = err(&[
            ("security.protocol", "SSL"),
            ("ssl.ca.location", &ca),
            ("ssl.key.location", &client),
        ]);
        assert!(e.contains("only one is set"), "{e}");
        let e = err(&[
            ("security.protocol", "SSL"),
            ("ssl.ca.location", &ca),
            ("ssl.truststore.location", &client),
        ]);
        assert!(
            e.contains("ssl.truststore.location and ssl.ca.location: both given"),
            "{e}"
        );
    }

    #[test]
    fn sasl_errors_name_the_key() {
        let e = err(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.jaas.config", PLAIN_JAAS),
        ]);
        assert!(
            e.starts_with(
                "admin.properties: sasl.mechanism: not set; security.protocol=SASL_PLAINTEXT"
            ),
            "{e}"
        );
        let e = err(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "GSSAPI"),
            ("sasl.jaas.config", PLAIN_JAAS),
        ]);
        assert!(
            e.contains("sasl.mechanism: \"GSSAPI\" is not supported"),
            "{e}"
        );
        let e = err(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
        ]);
        assert!(e.contains("sasl.jaas.config: not set"), "{e}");
        let e = err(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            (
                "sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required",
            ),
        ]);
        assert!(e.contains("sasl.jaas.config: "), "{e}");
        let e = err(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            (
                "sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"a\";",
            ),
        ]);
        assert!(
            e.contains("sasl.jaas.config: has no password option"),
            "{e}"
        );
        let e = err(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", "a"),
        ]);
        assert!(e.contains("sasl.password: not set"), "{e}");
        let e = err(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.jaas.config", PLAIN_JAAS),
            ("sasl.username", "a"),
            ("sasl.password", "b"),
        ]);
        assert!(
            e.contains("sasl.jaas.config and sasl.username: both given"),
            "{e}"
        );
        let e = err(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.jaas.config", PLAIN_JAAS),
        ]);
        assert!(e.contains("ssl.truststore.location: not set"), "{e}");
    }

    #[test]
    fn load_reads_a_file_and_names_it() {
        let d = pems();
        let file = d.path().join("client.properties");
        std::fs::write(
            &file,
            format!(
                "# client settings\nsecurity.protocol=SSL\nssl.truststore.location={}\nlinger.ms=5\n",
                path(&d, "ca.pem")
            ),
        )
        .unwrap();
        let (s, unknown) = load(&file).unwrap();
        assert_eq!(s.protocol(), SecurityProtocol::Ssl);
        assert_eq!(unknown, vec!["linger.ms".to_string()]);
        std::fs::write(&file, "security.protocol=SASL_SSL\n").unwrap();
        let e = load(&file).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: ", file.display())), "{e}");
        let missing = d.path().join("missing.properties");
        let e = load(&missing).unwrap_err().to_string();
        assert!(e.contains("missing.properties"), "{e}");
    }
}
