//! Each listener's security, read from Kafka's keys: its protocol from
//! `listener.security.protocol.map`, its TLS from `ssl.*`, its SASL
//! mechanisms and users from `sasl.enabled.mechanisms` and the JAAS
//! configs. Any key may be given for one listener only as
//! `listener.name.<listener, lower case>.<key>` (and the JAAS config per
//! mechanism as `listener.name.<l>.<mechanism, lower case>.sasl.jaas.config`),
//! which wins over the broker-wide key, as in Kafka.
//!
//! This is data only; [`super::runtime`] turns it into TLS acceptors.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use runnel_common::kafka::{SaslCredentials, SaslMechanism, SecurityProtocol};
use runnel_common::security::jaas;
use runnel_common::tls::{ClientAuth, TlsFiles};

use super::principal::PrincipalMapper;

/// A bad security setting: the key (as given) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    pub key: String,
    pub reason: String,
}

fn error(key: impl Into<String>, reason: impl Into<String>) -> SettingError {
    SettingError {
        key: key.into(),
        reason: reason.into(),
    }
}

/// TLS of one listener (or of the broker's own client side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub files: TlsFiles,
    pub client_auth: ClientAuth,
    /// `ssl.principal.mapping.rules`: a client certificate's subject to its
    /// principal (used on SSL listeners; on SASL_SSL the SASL user is the
    /// principal, as in Kafka).
    pub principal_mapping: PrincipalMapper,
}

/// SASL of one listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslSettings {
    /// `sasl.enabled.mechanisms`, in the order given.
    pub mechanisms: Vec<SaslMechanism>,
    /// PLAIN's users and passwords (`user_<name>="<password>"`).
    pub plain_users: BTreeMap<String, String>,
    /// Per mechanism, the `username`/`password` of its JAAS config: what
    /// this broker presents when it is the client (inter-broker).
    pub own_credentials: BTreeMap<&'static str, (String, String)>,
    /// Per mechanism, `connections.max.reauth.ms` when positive (KIP-368):
    /// the longest a session lasts before the client must authenticate
    /// again on the same connection.
    pub max_reauth: BTreeMap<&'static str, Duration>,
}

impl SaslSettings {
    /// The session lifetime for `mechanism`, `None` when sessions do not
    /// expire (`connections.max.reauth.ms=0`, Kafka's default).
    pub fn session_lifetime(&self, mechanism: SaslMechanism) -> Option<Duration> {
        self.max_reauth.get(mechanism.name()).copied()
    }
}

/// One listener's security.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSecurity {
    pub name: String,
    pub protocol: SecurityProtocol,
    pub tls: Option<TlsSettings>,
    pub sasl: Option<SaslSettings>,
}

/// What the broker needs to talk to other brokers: the listener it uses
/// (`inter.broker.listener.name`) and, if that listener has SASL, the
/// mechanism (`sasl.mechanism.inter.broker.protocol`) and its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterBroker {
    pub listener: String,
    pub protocol: SecurityProtocol,
    pub tls: Option<TlsFiles>,
    pub sasl: Option<SaslCredentials>,
}

/// Reads the settings of every listener and of inter-broker traffic.
///
/// `lookup` returns a key's explicit value or its default.
pub fn resolve(
    names: &[String],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(Vec<ListenerSecurity>, InterBroker), SettingError> {
    let map = protocol_map(lookup)?;
    let mut listeners = Vec::new();
    for name in names {
        let protocol = *map.get(name).ok_or_else(|| {
            error(
                "listener.security.protocol.map",
                format!("listener {name} has no security protocol in the map"),
            )
        })?;
        let scoped = Scoped {
            listener: name,
            lookup,
        };
        let tls = if protocol.uses_tls() {
            Some(tls_settings(&scoped)?)
        } else {
            None
        };
        let sasl = if protocol.uses_sasl() {
            Some(sasl_settings(&scoped)?)
        } else {
            None
        };
        listeners.push(ListenerSecurity {
            name: name.clone(),
            protocol,
            tls,
            sasl,
        });
    }
    let inter = inter_broker(&listeners, lookup)?;
    Ok((listeners, inter))
}

fn protocol_map(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, SecurityProtocol>, SettingError> {
    const KEY: &str = "listener.security.protocol.map";
    let mut map = BTreeMap::new();
    for entry in lookup(KEY).unwrap_or_default().split(',') {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let (name, protocol) = entry
            .split_once(':')
            .ok_or_else(|| error(KEY, format!("{entry:?} is not NAME:PROTOCOL")))?;
        let protocol = SecurityProtocol::parse(protocol).ok_or_else(|| {
            error(
                KEY,
                format!("{protocol:?} is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
            )
        })?;
        map.insert(name.trim().to_ascii_uppercase(), protocol);
    }
    Ok(map)
}

/// Looks a key up for one listener: `listener.name.<l>.<key>` first.
struct Scoped<'a> {
    listener: &'a str,
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Scoped<'_> {
    fn scoped_key(&self, key: &str) -> String {
        format!("listener.name.{}.{key}", self.listener.to_ascii_lowercase())
    }

    /// The value and the key it came from (for error messages).
    fn get(&self, key: &str) -> Option<(String, String)> {
        let scoped = self.scoped_key(key);
        if let Some(v) = (self.lookup)(&scoped) {
            return Some((v, scoped));
        }
        (self.lookup)(key).map(|v| (v, key.to_string()))
    }

    fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|(v, _)| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn tls_settings(scoped: &Scoped<'_>) -> Result<TlsSettings, SettingError> {
    for key in ["ssl.keystore.type", "ssl.truststore.type"] {
        if let Some((v, from)) = scoped.get(key) {
            if !v.trim().eq_ignore_ascii_case("PEM") {
                return Err(error(
                    from,
                    format!("{v:?}: only PEM key and trust stores are supported"),
                ));
            }
        }
    }
    if let Some((_, from)) = scoped.get("ssl.key.password") {
        return Err(error(from, "encrypted private keys are not supported"));
    }
    let client_auth = match scoped.get("ssl.client.auth") {
        None => ClientAuth::None,
        Some((v, from)) => ClientAuth::parse(&v)
            .ok_or_else(|| error(from, "expected none, requested or required"))?,
    };
    let principal_mapping = match scoped.get("ssl.principal.mapping.rules") {
        None => PrincipalMapper::default(),
        Some((v, from)) => PrincipalMapper::parse(&v).map_err(|e| error(from, e.to_string()))?,
    };
    let keystore = scoped
        .get("ssl.keystore.location")
        .map(|(v, _)| PathBuf::from(v));
    if keystore.is_none() {
        return Err(error(
            scoped.scoped_key("ssl.keystore.location"),
            format!(
                "listener {} uses TLS and needs a PEM key store (key and certificate chain)",
                scoped.listener
            ),
        ));
    }
    Ok(TlsSettings {
        files: TlsFiles {
            keystore,
            truststore: scoped
                .get("ssl.truststore.location")
                .map(|(v, _)| PathBuf::from(v)),
            protocols: scoped.list("ssl.enabled.protocols"),
            cipher_suites: scoped.list("ssl.cipher.suites"),
        },
        client_auth,
        principal_mapping,
    })
}

fn sasl_settings(scoped: &Scoped<'_>) -> Result<SaslSettings, SettingError> {
    let (names, from) = scoped
        .get("sasl.enabled.mechanisms")
        .unwrap_or_else(|| ("GSSAPI".into(), "sasl.enabled.mechanisms".into()));
    let mut mechanisms = Vec::new();
    for name in names.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let m = SaslMechanism::parse(name).ok_or_else(|| {
            error(
                from.clone(),
                format!("{name} is not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 are)"),
            )
        })?;
        mechanisms.push(m);
    }
    if mechanisms.is_empty() {
        return Err(error(from, "a SASL listener needs at least one mechanism"));
    }
    let mut plain_users = BTreeMap::new();
    let mut own_credentials = BTreeMap::new();
    let mut max_reauth = BTreeMap::new();
    for m in &mechanisms {
        if let Some(lifetime) = reauth_ms(scoped, *m)? {
            max_reauth.insert(m.name(), lifetime);
        }
        let Some((text, key)) = jaas_config(scoped, *m) else {
            if *m == SaslMechanism::Plain {
                return Err(error(
                    scoped.scoped_key("plain.sasl.jaas.config"),
                    format!(
                        "listener {} enables PLAIN but has no JAAS config with its users",
                        scoped.listener
                    ),
                ));
            }
            continue;
        };
        let entry = jaas::parse_jaas(&text).map_err(|e| error(key.clone(), e.to_string()))?;
        if *m == SaslMechanism::Plain {
            plain_users = entry.plain_users();
        }
        if let (Some(u), Some(p)) = (entry.username(), entry.password()) {
            own_credentials.insert(m.name(), (u.to_string(), p.to_string()));
        }
    }
    Ok(SaslSettings {
        mechanisms,
        plain_users,
        own_credentials,
        max_reauth,
    })
}

/// `connections.max.reauth.ms` for one mechanism, as Kafka reads it:
/// `listener.name.<l>.<mechanism>.connections.max.reauth.ms`, else the
/// listener's, else the broker-wide key. Zero (the default) means sessions
/// never expire.
fn reauth_ms(scoped: &Scoped<'_>, m: SaslMechanism) -> Result<Option<Duration>, SettingError> {
    const KEY: &str = "connections.max.reauth.ms";
    let per_mechanism = scoped.scoped_key(&format!("{}.{KEY}", m.name().to_ascii_lowercase()));
    let found = match (scoped.lookup)(&per_mechanism) {
        Some(v) => Some((v, per_mechanism)),
        None => scoped.get(KEY),
    };
    let Some((value, from)) = found else {
        return Ok(None);
    };
    match value.trim().parse::<i64>() {
        Ok(0) => Ok(None),
        Ok(ms) if ms > 0 => Ok(Some(Duration::from_millis(ms as u64))),
        _ => Err(error(
            from,
            format!("{value:?} is not a whole number of milliseconds >= 0"),
        )),
    }
}

/// `listener.name.<l>.<mechanism>.sasl.jaas.config`, else
/// `listener.name.<l>.sasl.jaas.config`, else `sasl.jaas.config`.
fn jaas_config(scoped: &Scoped<'_>, m: SaslMechanism) -> Option<(String, String)> {
    let per_mechanism = scoped.scoped_key(&format!(
        "{}.sasl.jaas.config",
        m.name().to_ascii_lowercase()
    ));
    if let Some(v) = (scoped.lookup)(&per_mechanism) {
        return Some((v, per_mechanism));
    }
    scoped.get("sasl.jaas.config")
}

fn inter_broker(
    listeners: &[ListenerSecurity],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<InterBroker, SettingError> {
    let named = lookup("inter.broker.listener.name").filter(|s| !s.trim().is_empty());
    let listener = match named {
        Some(name) => {
            let name = name.trim().to_ascii_uppercase();
            listeners.iter().find(|l| l.name == name).ok_or_else(|| {
                error(
                    "inter.broker.listener.name",
                    format!("listener {name} is not in listeners"),
                )
            })?
        }
        None => {
            // Kafka: the listener whose protocol is security.inter.broker.protocol.
            let wanted = lookup("security.inter.broker.protocol").unwrap_or_default();
            let protocol = SecurityProtocol::parse(&wanted).ok_or_else(|| {
                error("security.inter.broker.protocol", "not a security protocol")
            })?;
            listeners
                .iter()
                .find(|l| l.protocol == protocol)
                .ok_or_else(|| {
                    error(
                        "security.inter.broker.protocol",
                        format!(
                            "no listener uses {}; set inter.broker.listener.name",
                            protocol.name()
                        ),
                    )
                })?
        }
    };
    let sasl = match &listener.sasl {
        None => None,
        Some(sasl) => {
            const KEY: &str = "sasl.mechanism.inter.broker.protocol";
            let name = lookup(KEY).unwrap_or_else(|| "GSSAPI".into());
            let mechanism = SaslMechanism::parse(&name)
                .ok_or_else(|| error(KEY, format!("{name} is not supported")))?;
            if !sasl.mechanisms.contains(&mechanism) {
                return Err(error(
                    KEY,
                    format!(
                        "{name} is not enabled on the inter-broker listener {}",
                        listener.name
                    ),
                ));
            }
            let (username, password) = sasl
                .own_credentials
                .get(mechanism.name())
                .cloned()
                .ok_or_else(|| {
                    error(
                        format!(
                            "listener.name.{}.{}.sasl.jaas.config",
                            listener.name.to_ascii_lowercase(),
                            mechanism.name().to_ascii_lowercase()
                        ),
                        "the inter-broker mechanism's JAAS config needs username and password",
                    )
                })?;
            Some(SaslCredentials {
                mechanism,
                username,
                password,
            })
        }
    };
    Ok(InterBroker {
        listener: listener.name.clone(),
        protocol: listener.protocol,
        tls: listener.tls.as_ref().map(|t| t.files.clone()),
        sasl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        pairs: &[(&str, &str)],
        names: &[&str],
    ) -> Result<(Vec<ListenerSecurity>, InterBroker), SettingError> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |k: &str| {
            map.get(k).cloned().or_else(|| match k {
                "listener.security.protocol.map" => Some(
                    "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,\
                     MTLS:SSL"
                        .into(),
                ),
                "security.inter.broker.protocol" => Some("PLAINTEXT".into()),
                _ => None,
            })
        };
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        resolve(&names, &lookup)
    }

    #[test]
    fn plaintext_only_is_the_default() {
        let (l, inter) = run(&[], &["PLAINTEXT"]).unwrap();
        assert_eq!(l[0].protocol, SecurityProtocol::Plaintext);
        assert_eq!(inter.listener, "PLAINTEXT");
        assert!(inter.sasl.is_none());
    }

    #[test]
    fn sasl_ssl_with_scram_between_brokers() {
        let (l, inter) = run(
            &[
                ("ssl.keystore.location", "/k.pem"),
                ("ssl.truststore.location", "/ca.pem"),
                ("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-512"),
                ("sasl.mechanism.inter.broker.protocol", "SCRAM-SHA-512"),
                ("inter.broker.listener.name", "sasl_ssl"),
                (
                    "listener.name.sasl_ssl.plain.sasl.jaas.config",
                    r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="a" user_admin="a" user_alice="b";"#,
                ),
                (
                    "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config",
                    r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="s";"#,
                ),
            ],
            &["SASL_SSL", "PLAINTEXT"],
        )
        .unwrap();
        assert_eq!(l[0].protocol, SecurityProtocol::SaslSsl);
        let sasl = l[0].sasl.as_ref().unwrap();
        assert_eq!(sasl.plain_users.get("alice").map(String::as_str), Some("b"));
        let creds = inter.sasl.unwrap();
        assert_eq!(creds.username, "admin");
        assert_eq!(creds.password, "s");
        assert_eq!(
            inter.tls.unwrap().truststore,
            Some(PathBuf::from("/ca.pem"))
        );
    }

    #[test]
    fn a_listener_key_wins_over_the_broker_key() {
        let (l, _) = run(
            &[
                ("ssl.keystore.location", "/broker.pem"),
                ("listener.name.ssl.ssl.keystore.location", "/listener.pem"),
                ("listener.name.ssl.ssl.client.auth", "required"),
            ],
            &["SSL", "PLAINTEXT"],
        )
        .unwrap();
        let tls = l[0].tls.as_ref().unwrap();
        assert_eq!(tls.files.keystore, Some(PathBuf::from("/listener.pem")));
        assert_eq!(tls.client_auth, ClientAuth::Required);
        assert_eq!(tls.principal_mapping, PrincipalMapper::default());
    }

    #[test]
    fn principal_mapping_rules_per_listener() {
        let (l, _) = run(
            &[
                ("ssl.keystore.location", "/k.pem"),
                ("ssl.principal.mapping.rules", "RULE:^CN=([^,]*).*$/$1/U"),
                (
                    "listener.name.mtls.ssl.principal.mapping.rules",
                    "RULE:^CN=([^,]*).*$/$1/L,DEFAULT",
                ),
            ],
            &["SSL", "MTLS", "PLAINTEXT"],
        )
        .unwrap();
        let name = |i: usize| {
            l[i].tls
                .as_ref()
                .unwrap()
                .principal_mapping
                .map("CN=Ann,OU=eng")
                .unwrap()
        };
        assert_eq!(name(0), "ANN");
        assert_eq!(name(1), "ann");
        let e = run(
            &[
                ("ssl.keystore.location", "/k.pem"),
                (
                    "listener.name.mtls.ssl.principal.mapping.rules",
                    "RULE:^CN=(.*$/$1/",
                ),
            ],
            &["SSL", "MTLS", "PLAINTEXT"],
        )
        .unwrap_err();
        assert_eq!(e.key, "listener.name.mtls.ssl.principal.mapping.rules");
        assert!(e.reason.contains("RULE:^CN=(.*$/$1/"), "{e:?}");
    }

    #[test]
    fn mistakes_name_their_key() {
        let e = run(&[], &["SSL", "PLAINTEXT"]).unwrap_err();
        assert!(e.key.contains("ssl.keystore.location"), "{e:?}");
        let e = run(
            &[("sasl.enabled.mechanisms", "PLAIN")],
            &["SASL_PLAINTEXT", "PLAINTEXT"],
        )
        .unwrap_err();
        assert!(e.key.contains("plain.sasl.jaas.config"), "{e:?}");
        let e = run(&[], &["SASL_PLAINTEXT", "PLAINTEXT"]).unwrap_err();
        assert!(e.reason.contains("GSSAPI"), "{e:?}");
        let e = run(&[("inter.broker.listener.name", "NOPE")], &["PLAINTEXT"]).unwrap_err();
        assert_eq!(e.key, "inter.broker.listener.name");
        let e = run(&[], &["INTERNAL"]).unwrap_err();
        assert_eq!(e.key, "listener.security.protocol.map");
        let e = run(
            &[
                ("ssl.keystore.location", "/k"),
                ("ssl.keystore.type", "JKS"),
            ],
            &["SSL", "PLAINTEXT"],
        )
        .unwrap_err();
        assert!(e.reason.contains("PEM"), "{e:?}");
    }
    #[test]
    fn session_lifetime_per_mechanism_then_listener_then_broker() {
        let plain = (
            "listener.name.sasl_plaintext.plain.sasl.jaas.config",
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required user_a="x";"#,
        );
        let scram = (
            "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config",
            r#"org.apache.kafka.common.security.scram.ScramLoginModule required;"#,
        );
        let mechanisms = ("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-256");
        let lifetimes = |pairs: &[(&str, &str)]| {
            let mut all = vec![plain, scram, mechanisms];
            all.extend_from_slice(pairs);
            let (l, _) = run(&all, &["SASL_PLAINTEXT", "PLAINTEXT"])?;
            let sasl = l[0].sasl.clone().unwrap();
            Ok::<_, SettingError>((
                sasl.session_lifetime(SaslMechanism::Plain),
                sasl.session_lifetime(SaslMechanism::parse("SCRAM-SHA-256").unwrap()),
            ))
        };
        assert_eq!(lifetimes(&[]).unwrap(), (None, None));
        assert_eq!(
            lifetimes(&[("connections.max.reauth.ms", "0")]).unwrap(),
            (None, None)
        );
        let s = Duration::from_secs;
        assert_eq!(
            lifetimes(&[("connections.max.reauth.ms", "5000")]).unwrap(),
            (Some(s(5)), Some(s(5)))
        );
        assert_eq!(
            lifetimes(&[
                ("connections.max.reauth.ms", "5000"),
                (
                    "listener.name.sasl_plaintext.connections.max.reauth.ms",
                    "6000"
                ),
                (
                    "listener.name.sasl_plaintext.scram-sha-256.connections.max.reauth.ms",
                    "7000"
                ),
            ])
            .unwrap(),
            (Some(s(6)), Some(s(7)))
        );
        let e = lifetimes(&[("connections.max.reauth.ms", "-1")]).unwrap_err();
        assert_eq!(e.key, "connections.max.reauth.ms");
        let e = lifetimes(&[(
            "listener.name.sasl_plaintext.plain.connections.max.reauth.ms",
            "soon",
        )])
        .unwrap_err();
        assert!(e.key.ends_with("plain.connections.max.reauth.ms"), "{e:?}");
    }
}
