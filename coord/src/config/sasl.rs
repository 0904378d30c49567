//! ZooKeeper 3.8's keys for client authentication beyond `addauth digest`:
//! SASL (DIGEST-MD5) logins, the x509 ids of TLS clients, and enforcing
//! that sessions authenticate.
//!
//! ZooKeeper takes most of these as Java system properties, and a zoo.cfg
//! key it does not know becomes the property `zookeeper.<key>`; so the
//! zoo.cfg spelling is the property without `zookeeper.`, and an operator's
//! file carries over.
//!
//! | key | meaning here |
//! |---|---|
//! | `jaasLoginConfig` (or `java.security.auth.login.config`) | the JAAS file ZooKeeper finds through the JVM's `java.security.auth.login.config` (this server has no JVM, so it is a zoo.cfg key); its `Server` section's `user_<name>="<password>"` options are the SASL users |
//! | `sasl.serverconfig` | the section to read (ZooKeeper's `zookeeper.sasl.serverconfig`, default `Server`) |
//! | `authProvider.<n>` (or `zookeeper.authProvider.<n>`) | ZooKeeper's provider classes: the SASL, x509, digest and IP providers are accepted (SASL is offered whenever `jaasLoginConfig` is set; x509 ids are given on `secureClientPort`; digest and ip are built in) |
//! | `enforce.auth.enabled` | `true`: a session must authenticate with one of `enforce.auth.schemes` before anything but `auth`/SASL packets; other requests are answered SESSIONCLOSEDREQUIRESASLAUTH (-124) and the session closed |
//! | `enforce.auth.schemes` | comma-separated schemes of `ip`, `digest`, `sasl`, `x509` |
//! | `sessionRequireClientSASLAuth` | ZooKeeper 3.6's older spelling of `enforce.auth.enabled=true` with `enforce.auth.schemes=sasl` |
//! | `jaasLoginRenew` | ZooKeeper's Kerberos ticket renewal period: accepted (a number) and unused, DIGEST-MD5 has no tickets |
//! | `superUser` (and `superUser.<any>`) | a SASL user that is super user (bypasses every ACL), ZooKeeper's `zookeeper.superUser` |
//! | `X509AuthenticationProvider.superUser` | the same for a TLS client's certificate subject |

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use runnel_common::properties::Entry;
use runnel_common::security::jaas::{self, KERBEROS_LOGIN_MODULE};

/// ZooKeeper's provider classes, as `authProvider.<n>` names them.
pub const SASL_PROVIDER: &str = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider";
pub const X509_PROVIDER: &str = "org.apache.zookeeper.server.auth.X509AuthenticationProvider";
pub const DIGEST_PROVIDER: &str = "org.apache.zookeeper.server.auth.DigestAuthenticationProvider";
pub const IP_PROVIDER: &str = "org.apache.zookeeper.server.auth.IPAuthenticationProvider";

/// ZooKeeper's default JAAS section for the server side.
pub const DEFAULT_SECTION: &str = "Server";

/// SASL users and their passwords, from the JAAS file.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SaslUsers(pub BTreeMap<String, String>);

impl fmt::Debug for SaslUsers {
    /// Passwords are left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl SaslUsers {
    pub fn password(&self, user: &str) -> Option<&str> {
        self.0.get(user).map(String::as_str)
    }
}

/// Client authentication, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// `jaasLoginConfig`: set, SASL DIGEST-MD5 is offered.
    pub jaas_file: Option<PathBuf>,
    /// `sasl.serverconfig`.
    pub jaas_section: String,
    /// The users of that section, read by [`AuthConfig::load_users`]
    /// (`Config::load` does it, so a bad file stops the server at start).
    pub sasl_users: SaslUsers,
    /// Schemes one of which a session must hold (empty: not enforced).
    pub enforce_schemes: Vec<String>,
    /// `superUser`, `superUser.*`.
    pub sasl_super_users: Vec<String>,
    /// `X509AuthenticationProvider.superUser`.
    pub x509_super_user: Option<String>,
}

impl AuthConfig {
    /// Whether SASL logins are offered.
    pub fn sasl_enabled(&self) -> bool {
        self.jaas_file.is_some()
    }

    /// Whether sessions must authenticate first.
    pub fn enforced(&self) -> bool {
        !self.enforce_schemes.is_empty()
    }

    /// Whether SASL is among the enforced schemes: a failed SASL login is
    /// then answered SESSIONCLOSEDREQUIRESASLAUTH instead of AUTHFAILED,
    /// as ZooKeeper's `isSaslAuthRequired`.
    pub fn sasl_required(&self) -> bool {
        self.enforce_schemes.iter().any(|s| s == "sasl")
    }

    /// Reads the JAAS file's section, when one is configured. The message
    /// names the key and file.
    pub fn load_users(&mut self) -> Result<(), String> {
        let Some(path) = &self.jaas_file else {
            return Ok(());
        };
        let at = format!("jaasLoginConfig={}", path.display());
        let text = std::fs::read_to_string(path).map_err(|e| format!("{at}: {e}"))?;
        let sections = jaas::parse_file(&text).map_err(|e| format!("{at}: {e}"))?;
        let Some(entries) = sections.get(&self.jaas_section) else {
            return Err(format!(
                "{at}: no JAAS section named {:?} (sasl.serverconfig)",
                self.jaas_section
            ));
        };
        if entries
            .iter()
            .any(|e| e.login_module == KERBEROS_LOGIN_MODULE)
        {
            return Err(format!(
                "{at}: section {:?} uses Kerberos (GSSAPI), which is not supported; \
                 only DIGEST-MD5 users (user_<name>=\"<password>\") are",
                self.jaas_section
            ));
        }
        let users = jaas::section_users(entries);
        if users.is_empty() {
            tracing::warn!(
                file = %path.display(),
                section = %self.jaas_section,
                "the JAAS section has no user_<name> options: every SASL login will fail"
            );
        }
        self.sasl_users = SaslUsers(users);
        Ok(())
    }
}

/// The authentication keys seen so far in one zoo.cfg; [`AuthKeys::finish`]
/// checks them together.
#[derive(Debug, Default)]
pub struct AuthKeys {
    jaas_file: Option<PathBuf>,
    section: Option<String>,
    enforce: Option<bool>,
    schemes: Vec<String>,
    require_sasl: bool,
    sasl_super_users: Vec<String>,
    x509_super_user: Option<String>,
}

fn boolean(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("must be true or false".into()),
    }
}

impl AuthKeys {
    /// Takes `e` if it is one of these keys; `Err` is the reason its value
    /// is refused.
    pub fn accept(&mut self, e: &Entry) -> Result<bool, String> {
        let value = e.value.trim();
        match e.key.as_str() {
            "jaasLoginConfig" | "java.security.auth.login.config" => {
                if value.is_empty() {
                    return Err("must name a JAAS file".into());
                }
                self.jaas_file = Some(PathBuf::from(value));
            }
            "sasl.serverconfig" => {
                if value.is_empty() {
                    return Err("must name a JAAS section".into());
                }
                self.section = Some(value.to_string());
            }
            // A zoo.cfg key becomes the system property `zookeeper.<key>`;
            // both spellings name the same provider list.
            key if key.starts_with("authProvider.")
                || key.starts_with("zookeeper.authProvider.") =>
            {
                match value {
                    SASL_PROVIDER | X509_PROVIDER | DIGEST_PROVIDER | IP_PROVIDER => {}
                    _ => {
                        return Err(format!(
                            "unknown provider (known: {SASL_PROVIDER}, {X509_PROVIDER}, \
                         {DIGEST_PROVIDER}, {IP_PROVIDER})"
                        ))
                    }
                }
            }
            "enforce.auth.enabled" => self.enforce = Some(boolean(value)?),
            "enforce.auth.schemes" => {
                self.schemes = value
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if let Some(bad) = self
                    .schemes
                    .iter()
                    .find(|s| !["ip", "digest", "sasl", "x509"].contains(&s.as_str()))
                {
                    return Err(format!(
                        "no authentication provider for scheme {bad:?} (known: ip, digest, sasl, x509)"
                    ));
                }
            }
            "sessionRequireClientSASLAuth" => self.require_sasl = boolean(value)?,
            // How often ZooKeeper renews a Kerberos ticket: DIGEST-MD5 has
            // none, so the value is only checked.
            "jaasLoginRenew" => {
                if value.parse::<u64>().is_err() {
                    return Err("must be a number of milliseconds".into());
                }
            }
            key if key == "superUser" || key.starts_with("superUser.") => {
                if !value.is_empty() {
                    self.sasl_super_users.push(value.to_string());
                }
            }
            "X509AuthenticationProvider.superUser" => {
                self.x509_super_user = (!value.is_empty()).then(|| value.to_string());
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Checks the keys together; `secure_port` says whether TLS clients
    /// (and so x509 ids) can exist.
    pub fn finish(self, secure_port: bool) -> Result<AuthConfig, String> {
        let mut enforce_schemes = Vec::new();
        if self.enforce == Some(true) {
            if self.schemes.is_empty() {
                return Err("enforce.auth.enabled=true needs enforce.auth.schemes".into());
            }
            enforce_schemes = self.schemes.clone();
        }
        // ZooKeeper's AuthenticationHelper: the older key, when true,
        // overrides `enforce.auth.*` with exactly the sasl scheme.
        if self.require_sasl {
            enforce_schemes = vec!["sasl".into()];
        }
        if enforce_schemes.iter().any(|s| s == "sasl") && self.jaas_file.is_none() {
            return Err(
                "enforcing the sasl scheme needs jaasLoginConfig (the JAAS file with the users)"
                    .into(),
            );
        }
        if enforce_schemes.iter().any(|s| s == "x509") && !secure_port {
            return Err("enforcing the x509 scheme needs secureClientPort".into());
        }
        Ok(AuthConfig {
            jaas_file: self.jaas_file,
            jaas_section: self.section.unwrap_or_else(|| DEFAULT_SECTION.into()),
            sasl_users: SaslUsers::default(),
            enforce_schemes,
            sasl_super_users: self.sasl_super_users,
            x509_super_user: self.x509_super_user,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(lines: &[(&str, &str)], secure: bool) -> Result<AuthConfig, String> {
        let mut k = AuthKeys::default();
        for (i, (key, value)) in lines.iter().enumerate() {
            let e = Entry {
                key: key.to_string(),
                value: value.to_string(),
                line: i + 1,
            };
            assert!(k.accept(&e)?, "{key} not taken");
        }
        k.finish(secure)
    }

    #[test]
    fn defaults_offer_nothing_and_enforce_nothing() {
        let c = keys(&[], false).unwrap();
        assert!(!c.sasl_enabled() && !c.enforced());
        assert_eq!(c.jaas_section, "Server");
        let mut other = AuthKeys::default();
        let unknown = Entry {
            key: "tickTime".into(),
            value: "1".into(),
            line: 1,
        };
        assert_eq!(other.accept(&unknown), Ok(false));
    }

    #[test]
    fn zookeeper_keys() {
        let c = keys(
            &[
                ("authProvider.1", SASL_PROVIDER),
                ("zookeeper.authProvider.x509", X509_PROVIDER),
                ("jaasLoginRenew", "3600000"),
                ("jaasLoginConfig", "/etc/jaas.conf"),
                ("sasl.serverconfig", "ZkServer"),
                ("enforce.auth.enabled", "true"),
                ("enforce.auth.schemes", "sasl, digest"),
                ("superUser", "admin"),
                ("X509AuthenticationProvider.superUser", "CN=root"),
            ],
            false,
        )
        .unwrap();
        assert!(c.sasl_enabled() && c.enforced() && c.sasl_required());
        assert_eq!(c.enforce_schemes, vec!["sasl", "digest"]);
        assert_eq!(c.jaas_section, "ZkServer");
        assert_eq!(c.sasl_super_users, vec!["admin"]);
        assert_eq!(c.x509_super_user.as_deref(), Some("CN=root"));
        let java = keys(&[("java.security.auth.login.config", "/j")], false).unwrap();
        assert_eq!(java.jaas_file.as_deref(), Some(std::path::Path::new("/j")));
        let old = keys(
            &[
                ("jaasLoginConfig", "/j"),
                ("sessionRequireClientSASLAuth", "true"),
            ],
            false,
        )
        .unwrap();
        assert_eq!(old.enforce_schemes, vec!["sasl"]);
        let both = keys(
            &[
                ("jaasLoginConfig", "/j"),
                ("enforce.auth.enabled", "true"),
                ("enforce.auth.schemes", "digest,x509"),
                ("sessionRequireClientSASLAuth", "true"),
            ],
            true,
        )
        .unwrap();
        assert_eq!(both.enforce_schemes, vec!["sasl"]);
        let off = keys(
            &[
                ("enforce.auth.enabled", "false"),
                ("enforce.auth.schemes", "sasl"),
            ],
            false,
        )
        .unwrap();
        assert!(!off.enforced());
    }

    #[test]
    fn bad_values_and_combinations() {
        for lines in [
            vec![("authProvider.1", "com.example.Nope")],
            vec![("enforce.auth.enabled", "yes")],
            vec![("enforce.auth.schemes", "kerberos")],
            vec![("jaasLoginConfig", "")],
            vec![("jaasLoginRenew", "soon")],
            vec![("enforce.auth.enabled", "true")],
            vec![
                ("enforce.auth.enabled", "true"),
                ("enforce.auth.schemes", "sasl"),
            ],
            vec![
                ("enforce.auth.enabled", "true"),
                ("enforce.auth.schemes", "x509"),
            ],
        ] {
            assert!(keys(&lines, false).is_err(), "{lines:?}");
        }
        assert!(keys(
            &[
                ("enforce.auth.enabled", "true"),
                ("enforce.auth.schemes", "x509")
            ],
            true
        )
        .is_ok());
    }

    #[test]
    fn users_come_from_the_named_section() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jaas.conf");
        std::fs::write(
            &path,
            "Server { org.apache.zookeeper.server.auth.DigestLoginModule required \
             user_alice=\"secret\"; };\nClient { x.Y required username=\"a\"; };",
        )
        .unwrap();
        let mut c = keys(&[("jaasLoginConfig", path.to_str().unwrap())], false).unwrap();
        c.load_users().unwrap();
        assert_eq!(c.sasl_users.password("alice"), Some("secret"));
        assert_eq!(c.sasl_users.password("a"), None);
        assert!(!format!("{c:?}").contains("secret"));

        c.jaas_section = "Missing".into();
        let err = c.load_users().unwrap_err();
        assert!(
            err.contains("jaasLoginConfig") && err.contains("Missing"),
            "{err}"
        );
        c.jaas_file = Some(dir.path().join("nope.conf"));
        assert!(c.load_users().unwrap_err().contains("nope.conf"));
        std::fs::write(
            &path,
            "Server { com.sun.security.auth.module.Krb5LoginModule required; };",
        )
        .unwrap();
        c.jaas_file = Some(path.clone());
        c.jaas_section = "Server".into();
        assert!(c.load_users().unwrap_err().contains("Kerberos"));
        std::fs::write(&path, "Server { a.B required").unwrap();
        assert!(c.load_users().unwrap_err().contains("line 1"));
    }
}
