//! A connection's identities and its SASL login, as ZooKeeper 3.8 keeps
//! them.
//!
//! Ids a connection can hold: `ip:<address>` from the start; `x509:<DN>`
//! from a TLS client certificate (ZooKeeper's `X509AuthenticationProvider`);
//! `digest:user:hash` after `addauth digest`; `sasl:<user>` after a SASL
//! login (`OpCode.sasl` packets, `GetSASLRequest { buffer token }` answered
//! by `SetSASLResponse { buffer token }`); and `super:` for the configured
//! super users. A failed SASL login is answered AUTHFAILED (or
//! SESSIONCLOSEDREQUIRESASLAUTH when SASL is enforced) and the connection
//! closed, as ZooKeeper's `processSasl` does.
//!
//! The only mechanism is DIGEST-MD5 ([`digest_md5`]) with the users of the
//! JAAS file's `Server` section; ZooKeeper's Kerberos (GSSAPI) is not
//! offered.

pub mod digest_md5;

use std::sync::Arc;

use bytes::Bytes;

use crate::config::sasl::AuthConfig;
use crate::proto::jute::{JuteError, Reader};
use crate::proto::records::Id;

/// Why a SASL packet ends the login.
#[derive(Debug, thiserror::Error)]
pub enum SaslError {
    /// No JAAS file: this server offers no SASL (ZooKeeper without a
    /// `Server` section has no SASL server either). ZooKeeper then answers
    /// OK with a null token, which leaves kazoo re-sending its empty first
    /// token forever and the Java client failing on its own; failing the
    /// login (AUTHFAILED) tells either client at once.
    #[error("SASL is not configured (no jaasLoginConfig)")]
    NotConfigured,
    #[error("undecodable SASL packet: {0}")]
    Packet(#[from] JuteError),
    #[error(transparent)]
    Digest(#[from] digest_md5::DigestError),
}

/// The token of a `GetSASLRequest` body (a null buffer is an empty token).
pub fn request_token(body: Bytes) -> Result<Bytes, JuteError> {
    let mut r = Reader::new(body);
    Ok(r.read_opt_buffer()?.unwrap_or_default())
}

/// What one connection has proven, and a SASL login under way.
pub struct ConnAuth {
    /// Shared with the requests already queued, which keep the ids they
    /// were made with.
    pub ids: Arc<Vec<Id>>,
    login: Option<digest_md5::Server>,
}

impl ConnAuth {
    pub fn new(ids: Vec<Id>) -> ConnAuth {
        ConnAuth {
            ids: Arc::new(ids),
            login: None,
        }
    }

    /// Adds `id` unless the connection holds it already.
    pub fn add(&mut self, id: Id) {
        if !self.ids.contains(&id) {
            let mut next = (*self.ids).clone();
            next.push(id);
            self.ids = Arc::new(next);
        }
    }

    /// Whether the connection holds an id of one of `schemes` (ZooKeeper's
    /// `AuthenticationHelper.isCnxnAuthenticated`).
    pub fn holds_any(&self, schemes: &[String]) -> bool {
        self.ids.iter().any(|id| schemes.contains(&id.scheme))
    }

    /// Takes one SASL token and returns the token to answer with. On
    /// success the connection gains `sasl:<user>` (and `super:` if the
    /// user is one of `superUser`).
    pub fn sasl_step(&mut self, auth: &AuthConfig, token: &[u8]) -> Result<Bytes, SaslError> {
        if !auth.sasl_enabled() {
            return Err(SaslError::NotConfigured);
        }
        let login = self.login.get_or_insert_with(|| {
            digest_md5::Server::new(
                digest_md5::ZOOKEEPER_REALM,
                digest_md5::ZOOKEEPER_DIGEST_URI,
            )
        });
        let step = login.step(token, |user| {
            auth.sasl_users.password(user).map(String::from)
        })?;
        match step {
            digest_md5::Step::Challenge(challenge) => Ok(Bytes::from(challenge)),
            digest_md5::Step::Success { rspauth, username } => {
                tracing::info!(user = %username, "SASL DIGEST-MD5 login");
                if auth.sasl_super_users.contains(&username) {
                    self.add(super_id());
                }
                // ZooKeeper's authorization id: the authenticated user
                // name (its callback handler ignores a client's authzid).
                self.add(Id {
                    scheme: "sasl".into(),
                    id: username,
                });
                Ok(Bytes::from(rspauth))
            }
        }
    }
}

/// The id that passes every ACL check.
pub fn super_id() -> Id {
    Id {
        scheme: "super".into(),
        id: String::new(),
    }
}

/// The ids of a TLS client with certificate subject `dn`: `x509:<dn>`,
/// and `super:` when it is `X509AuthenticationProvider.superUser`.
pub fn x509_ids(auth: &AuthConfig, dn: String) -> Vec<Id> {
    let mut ids = Vec::new();
    if auth.x509_super_user.as_deref() == Some(dn.as_str()) {
        ids.push(super_id());
    }
    ids.push(Id {
        scheme: "x509".into(),
        id: dn,
    });
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::sasl::SaslUsers;
    use bytes::BytesMut;

    fn auth() -> AuthConfig {
        AuthConfig {
            jaas_file: Some("/j".into()),
            jaas_section: "Server".into(),
            sasl_users: SaslUsers([("alice".to_string(), "secret".to_string())].into()),
            sasl_super_users: vec!["alice".into()],
            x509_super_user: Some("CN=root".into()),
            ..AuthConfig::default()
        }
    }

    #[test]
    fn tokens_decode_from_get_sasl_request() {
        use crate::proto::jute::Encode;
        let mut b = BytesMut::new();
        Bytes::from_static(b"abc").encode(&mut b);
        assert_eq!(request_token(b.freeze()).unwrap(), &b"abc"[..]);
        assert_eq!(
            request_token(Bytes::from_static(&[0xff; 4])).unwrap(),
            &b""[..]
        );
        assert!(request_token(Bytes::from_static(&[0, 0, 0, 9, 1])).is_err());
        assert!(request_token(Bytes::new()).is_err());
    }

    #[test]
    fn without_jaas_there_is_no_sasl() {
        let mut c = ConnAuth::new(vec![]);
        let err = c.sasl_step(&AuthConfig::default(), b"").unwrap_err();
        assert!(matches!(err, SaslError::NotConfigured));
    }

    #[test]
    fn a_failed_login_adds_nothing() {
        let mut c = ConnAuth::new(vec![]);
        let challenge = c.sasl_step(&auth(), b"").unwrap();
        assert!(challenge.starts_with(b"realm=\"zk-sasl-md5\""));
        assert!(c.sasl_step(&auth(), b"username=\"alice\"").is_err());
        assert!(c.ids.is_empty());
        assert!(!c.holds_any(&["sasl".into()]));
    }

    #[test]
    fn x509_ids_and_super() {
        let a = auth();
        assert_eq!(
            x509_ids(&a, "CN=bob".into()),
            vec![Id {
                scheme: "x509".into(),
                id: "CN=bob".into()
            }]
        );
        let root = x509_ids(&a, "CN=root".into());
        assert_eq!(root[0], super_id());
        let mut c = ConnAuth::new(root);
        c.add(super_id());
        assert_eq!(c.ids.len(), 2);
        assert!(c.holds_any(&["x509".into()]));
    }
}
