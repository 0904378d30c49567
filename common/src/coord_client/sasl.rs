//! SASL DIGEST-MD5 from a coord client (broker, Schema Registry, console)
//! to coord, configured as a Kafka broker's ZooKeeper client is: a JAAS
//! login file with a `Client` section.
//!
//! ```text
//! Client {
//!     org.apache.zookeeper.server.auth.DigestLoginModule required
//!         username="kafka" password="kafka-secret";
//! };
//! ```
//!
//! | key | meaning here |
//! |---|---|
//! | `java.security.auth.login.config` | the JAAS file (Kafka and Confluent read the JVM's system property of this name; Runnel has no JVM, so it is a key of the program's properties file, and `-Djava.security.auth.login.config=<file>` in the JVM options variable the program's Java namesake reads (`KAFKA_OPTS`; `SCHEMA_REGISTRY_OPTS` then `KAFKA_OPTS` for the registry) is read when the key is unset, as `kafka-server-start.sh` users pass it) |
//! | `zookeeper.sasl.clientconfig` | the section to log in with (default `Client`) |
//! | `zookeeper.sasl.client` | `false` turns SASL to coord off (default `true`) |
//!
//! As ZooKeeper's client: a file without the section means no SASL (with a
//! warning); as Kafka: a file with the section while
//! `zookeeper.sasl.client=false` is refused. Coord knows the client as
//! `sasl:<username>`, the identity `zookeeper.set.acl` gives its znodes.

use std::fmt;
use std::path::PathBuf;

use crate::security::jaas::{self, KERBEROS_LOGIN_MODULE};
use zookeeper_client as zk;

use super::tls::CoordKeyError;

const LOGIN_CONFIG: &str = "java.security.auth.login.config";
const CLIENT_CONFIG: &str = "zookeeper.sasl.clientconfig";
const SASL_CLIENT: &str = "zookeeper.sasl.client";

/// A coord client's login, read from its JAAS file at start-up.
#[derive(Clone, PartialEq, Eq)]
pub struct CoordSasl {
    pub username: String,
    password: String,
    /// Where the credentials came from, for messages.
    pub file: PathBuf,
}

impl fmt::Debug for CoordSasl {
    /// The password is left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoordSasl")
            .field("username", &self.username)
            .field("file", &self.file)
            .finish()
    }
}

impl CoordSasl {
    /// Reads the keys above through `lookup` (explicit value, else the
    /// default), with `jvm_opts` (JVM option variables as `(name, value)`,
    /// e.g. `("KAFKA_OPTS", "-Dx=y ...")`, the first that sets the
    /// property wins) as the fallback for the login file; `None` when SASL
    /// is not asked for.
    pub fn from_config(
        lookup: &dyn Fn(&str) -> Option<String>,
        jvm_opts: &[(String, String)],
    ) -> Result<Option<CoordSasl>, CoordKeyError> {
        let set = |key: &str| {
            lookup(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let (file, key) = match set(LOGIN_CONFIG) {
            Some(file) => (file, LOGIN_CONFIG.to_string()),
            None => match jvm_opts
                .iter()
                .find_map(|(var, opts)| Some((java_property(opts)?, var)))
            {
                Some((file, var)) => (file, format!("{var} -D{LOGIN_CONFIG}")),
                None => return Ok(None),
            },
        };
        let bad = |reason: String| CoordKeyError {
            key: key.clone(),
            reason: format!("{file}: {reason}"),
        };
        let text = std::fs::read_to_string(&file).map_err(|e| bad(e.to_string()))?;
        let sections = jaas::parse_file(&text).map_err(|e| bad(e.to_string()))?;
        let section = set(CLIENT_CONFIG).unwrap_or_else(|| "Client".to_string());
        let Some(entries) = sections.get(&section) else {
            tracing::warn!(
                file,
                section,
                "the JAAS file has no section for coord ({CLIENT_CONFIG}): \
                 connecting to coord without SASL"
            );
            return Ok(None);
        };
        let enabled = set(SASL_CLIENT).is_none_or(|v| !v.eq_ignore_ascii_case("false"));
        if !enabled {
            return Err(CoordKeyError {
                key: SASL_CLIENT.to_string(),
                reason: format!(
                    "the JAAS file {file} has a {section:?} section, but {SASL_CLIENT}=false \
                     turns SASL to coord off: remove one or the other"
                ),
            });
        }
        if entries
            .iter()
            .any(|e| e.login_module == KERBEROS_LOGIN_MODULE)
        {
            return Err(bad(format!(
                "section {section:?} logs in with Kerberos (GSSAPI), which coord does not \
                 speak; use {} with username and password",
                jaas::ZK_DIGEST_LOGIN_MODULE
            )));
        }
        let login = entries
            .iter()
            .find_map(|e| Some((e.username()?, e.password()?)));
        let Some((username, password)) = login else {
            return Err(bad(format!(
                "section {section:?} has no entry with both username and password \
                 (the DIGEST-MD5 login to coord)"
            )));
        };
        Ok(Some(CoordSasl {
            username: username.to_string(),
            password: password.to_string(),
            file: PathBuf::from(file),
        }))
    }

    /// The coord client's SASL options.
    pub fn options(&self) -> zk::SaslOptions {
        zk::SaslOptions::digest_md5(self.username.clone(), self.password.clone()).into()
    }
}

/// The JVM option variables `vars` (e.g. `KAFKA_OPTS`) that are set, in
/// order, as [`CoordSasl::from_config`] takes them.
pub fn jvm_opts_from_env(vars: &[&str]) -> Vec<(String, String)> {
    vars.iter()
        .filter_map(|var| Some((var.to_string(), std::env::var(var).ok()?)))
        .collect()
}

/// The value of `-Djava.security.auth.login.config=<file>` among JVM
/// options (the last one wins, as the JVM takes it); quotes around the
/// whole option or the value are taken off.
fn java_property(opts: &str) -> Option<String> {
    opts.split_whitespace()
        .rev()
        .map(|word| word.trim_matches(|c| c == '"' || c == '\''))
        .filter_map(|word| word.strip_prefix("-Djava.security.auth.login.config="))
        .map(|value| value.trim_matches(|c| c == '"' || c == '\'').to_string())
        .find(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn read(
        keys: &[(&str, &str)],
        kafka_opts: Option<&str>,
    ) -> Result<Option<CoordSasl>, CoordKeyError> {
        let map: BTreeMap<String, String> = keys
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let opts: Vec<(String, String)> = kafka_opts
            .map(|o| ("KAFKA_OPTS".to_string(), o.to_string()))
            .into_iter()
            .collect();
        CoordSasl::from_config(&|k| map.get(k).cloned(), &opts)
    }

    fn jaas_file(dir: &tempfile::TempDir, text: &str) -> String {
        let path = dir.path().join("jaas.conf");
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    const CLIENT: &str = "Client { org.apache.zookeeper.server.auth.DigestLoginModule required \
                          username=\"kafka\" password=\"kafka-secret\"; };";

    #[test]
    fn client_section_gives_the_login() {
        let dir = tempfile::tempdir().unwrap();
        let file = jaas_file(&dir, CLIENT);
        let sasl = read(&[(LOGIN_CONFIG, &file)], None).unwrap().unwrap();
        assert_eq!(sasl.username, "kafka");
        assert_eq!(sasl.password, "kafka-secret");
        assert!(!format!("{sasl:?}").contains("kafka-secret"));
        // From KAFKA_OPTS when the key is unset.
        let opts = format!("-Xmx1g -Djava.security.auth.login.config={file} -Dx=y");
        let sasl = read(&[], Some(&opts)).unwrap().unwrap();
        assert_eq!(sasl.file, PathBuf::from(&file));
        // Nothing configured: no SASL.
        assert_eq!(read(&[], Some("-Xmx1g")).unwrap(), None);
        assert_eq!(read(&[], None).unwrap(), None);
    }

    #[test]
    fn first_jvm_options_variable_that_sets_the_property_wins() {
        let dir = tempfile::tempdir().unwrap();
        let file = jaas_file(&dir, CLIENT);
        let opts = vec![
            ("SCHEMA_REGISTRY_OPTS".to_string(), "-Xmx1g".to_string()),
            (
                "KAFKA_OPTS".to_string(),
                format!("-Djava.security.auth.login.config={file}"),
            ),
        ];
        let sasl = CoordSasl::from_config(&|_| None, &opts).unwrap().unwrap();
        assert_eq!(sasl.file, PathBuf::from(&file));
        let missing = vec![(
            "SCHEMA_REGISTRY_OPTS".to_string(),
            "-Djava.security.auth.login.config=/nonexistent/j.conf".to_string(),
        )];
        let err = CoordSasl::from_config(&|_| None, &missing).unwrap_err();
        assert!(err.key.starts_with("SCHEMA_REGISTRY_OPTS"), "{}", err.key);
    }

    #[test]
    fn section_name_and_switch() {
        let dir = tempfile::tempdir().unwrap();
        let file = jaas_file(&dir, &CLIENT.replace("Client", "ZkBroker"));
        // No `Client` section: no SASL, as ZooKeeper's client.
        assert_eq!(read(&[(LOGIN_CONFIG, &file)], None).unwrap(), None);
        let named = read(&[(LOGIN_CONFIG, &file), (CLIENT_CONFIG, "ZkBroker")], None).unwrap();
        assert_eq!(named.unwrap().username, "kafka");
        let off = read(
            &[
                (LOGIN_CONFIG, &file),
                (CLIENT_CONFIG, "ZkBroker"),
                (SASL_CLIENT, "false"),
            ],
            None,
        )
        .unwrap_err();
        assert_eq!(off.key, SASL_CLIENT);
    }

    #[test]
    fn unusable_files_name_the_key_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.conf").display().to_string();
        let err = read(&[(LOGIN_CONFIG, &missing)], None).unwrap_err();
        assert_eq!(err.key, LOGIN_CONFIG);
        assert!(err.reason.contains("nope.conf"), "{}", err.reason);
        for (text, says) in [
            ("Client { M required username=\"k\" password=", "line 1"),
            (
                "Client { com.sun.security.auth.module.Krb5LoginModule required; };",
                "Kerberos",
            ),
            (
                "Client { M required username=\"k\"; };",
                "username and password",
            ),
        ] {
            let file = jaas_file(&dir, text);
            let err = read(&[(LOGIN_CONFIG, &file)], None).unwrap_err();
            assert!(err.reason.contains(says), "{text}: {}", err.reason);
        }
    }

    #[test]
    fn java_property_spellings() {
        assert_eq!(
            java_property("'-Djava.security.auth.login.config=/a.conf'"),
            Some("/a.conf".to_string())
        );
        assert_eq!(
            java_property("-Djava.security.auth.login.config=\"/etc/j.conf\""),
            Some("/etc/j.conf".to_string())
        );
        assert_eq!(
            java_property(
                "-Djava.security.auth.login.config=/1 -Djava.security.auth.login.config=/2"
            ),
            Some("/2".to_string())
        );
        assert_eq!(java_property("-Djava.security.auth.login.config="), None);
    }
}
