//! SASL PLAIN (RFC 4616) with Apache Kafka's rules.
//!
//! The client sends one message, `authzid NUL username NUL password`, and
//! the server checks the password. The password crosses the wire as is, so
//! PLAIN belongs on TLS listeners only; that is the listener's business, not
//! this module's.

use std::fmt;

use sha2::{Digest, Sha256};

use super::constant_time_eq;

/// What a PLAIN client sent.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainCredentials {
    /// Who the client asks to act as; empty, or equal to `username`.
    pub authzid: String,
    pub username: String,
    pub password: String,
}

impl fmt::Debug for PlainCredentials {
    /// The password is deliberately left out, so credentials can be logged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlainCredentials")
            .field("authzid", &self.authzid)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Why a PLAIN message was refused. The messages follow Kafka's, which
/// clients show to users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlainError {
    #[error("invalid SASL/PLAIN response: not UTF-8")]
    NotUtf8,
    /// The message must have exactly two NULs.
    #[error("invalid SASL/PLAIN response: expected 3 tokens, got {0}")]
    WrongTokenCount(usize),
    #[error("authentication failed: username not specified")]
    MissingUsername,
    #[error("authentication failed: password not specified")]
    MissingPassword,
    /// Acting as another user is not supported.
    #[error("authentication failed: client requested an authorization id that is different from username")]
    AuthzidMismatch,
}

/// Parses `authzid\0username\0password`. As Kafka: username and password
/// must be non-empty, and an authzid, if given, must be the username.
pub fn parse_plain(token: &[u8]) -> Result<PlainCredentials, PlainError> {
    let text = std::str::from_utf8(token).map_err(|_| PlainError::NotUtf8)?;
    let tokens: Vec<&str> = text.split('\0').collect();
    let [authzid, username, password] = tokens[..] else {
        return Err(PlainError::WrongTokenCount(tokens.len()));
    };
    if username.is_empty() {
        return Err(PlainError::MissingUsername);
    }
    if password.is_empty() {
        return Err(PlainError::MissingPassword);
    }
    if !authzid.is_empty() && authzid != username {
        return Err(PlainError::AuthzidMismatch);
    }
    Ok(PlainCredentials {
        authzid: authzid.to_owned(),
        username: username.to_owned(),
        password: password.to_owned(),
    })
}

/// The client's message, `\0username\0password`: no authzid, as Kafka's
/// client sends.
pub fn encode_plain(username: &str, password: &str) -> Vec<u8> {
    format!("\0{username}\0{password}").into_bytes()
}

/// Whether `given` is the `expected` password, in time that depends on
/// neither's contents nor length: both are hashed first, so the comparison
/// is always of two equal-length digests and leaks neither where they differ
/// nor how long the expected password is.
pub fn password_matches(given: &str, expected: &str) -> bool {
    let given = Sha256::digest(given.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    constant_time_eq(&given, &expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_with_and_without_authzid() {
        let credentials = parse_plain(b"\0alice\0alice-secret").unwrap();
        assert_eq!(
            credentials,
            PlainCredentials {
                authzid: String::new(),
                username: "alice".into(),
                password: "alice-secret".into(),
            }
        );
        let credentials = parse_plain(b"alice\0alice\0pw").unwrap();
        assert_eq!(credentials.authzid, "alice");
    }

    #[test]
    fn encode_round_trips() {
        let token = encode_plain("bob", "p\u{e4}ss word");
        assert_eq!(token, b"\0bob\0p\xc3\xa4ss word");
        let credentials = parse_plain(&token).unwrap();
        assert_eq!(credentials.username, "bob");
        assert_eq!(credentials.password, "p\u{e4}ss word");
    }

    #[test]
    fn refuses_malformed_messages() {
        let cases: [(&[u8], PlainError); 8] = [
            (b"", PlainError::WrongTokenCount(1)),
            (b"alice", PlainError::WrongTokenCount(1)),
            (b"\0alice", PlainError::WrongTokenCount(2)),
            (b"\0alice\0pw\0", PlainError::WrongTokenCount(4)),
            (b"\0\0pw", PlainError::MissingUsername),
            (b"\0alice\0", PlainError::MissingPassword),
            (b"bob\0alice\0pw", PlainError::AuthzidMismatch),
            (b"\0al\xffice\0pw", PlainError::NotUtf8),
        ];
        for (token, error) in cases {
            assert_eq!(parse_plain(token), Err(error));
        }
    }

    #[test]
    fn password_comparison() {
        assert!(password_matches("secret", "secret"));
        assert!(password_matches("", ""));
        assert!(!password_matches("secret", "Secret"));
        assert!(!password_matches("secret", "secret "));
        assert!(!password_matches("", "secret"));
    }

    #[test]
    fn debug_hides_password() {
        let credentials = parse_plain(b"\0alice\0hunter2").unwrap();
        assert!(!format!("{credentials:?}").contains("hunter2"));
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_plain(&bytes);
        }

        #[test]
        fn encode_then_parse(username in "[^\0]{1,16}", password in "[^\0]{1,16}") {
            let credentials = parse_plain(&encode_plain(&username, &password)).unwrap();
            prop_assert_eq!(credentials.username, username);
            prop_assert_eq!(credentials.password, password);
        }
    }
}
