//! The server side of SASL DIGEST-MD5 (RFC 2831), authentication only
//! (`qop=auth`: no integrity or privacy layer), as ZooKeeper's clients use
//! it: the Java client's `DigestLoginModule` and kazoo through pure-sasl.
//!
//! Two steps. The client opens with an empty token and gets the challenge
//! (realm, nonce, `qop="auth"`, `charset=utf-8`, `algorithm=md5-sess`); it
//! answers with its digest-response, which is checked against the user's
//! password, and gets `rspauth=...` proving the server knew it too.
//!
//! Everything in a client's token is untrusted: parsing works on bytes,
//! never indexes past what it checked, and any defect is an error.
//! DIGEST-MD5 is obsolete (RFC 6331) and MD5 is weak; it is here because
//! ZooKeeper deployments use it, and should run over TLS where it matters.

use std::fmt::Write as _;

use base64::Engine;
use md5::{Digest, Md5};

/// The realm ZooKeeper's server offers (its `SecurityUtils` fixes the
/// DIGEST-MD5 server name, and so the realm, to this).
pub const ZOOKEEPER_REALM: &str = "zk-sasl-md5";
/// The digest-uri ZooKeeper clients send: service `zookeeper`, host
/// [`ZOOKEEPER_REALM`].
pub const ZOOKEEPER_DIGEST_URI: &str = "zookeeper/zk-sasl-md5";
/// RFC 2831 2.1.2: a digest-response must be shorter than 4096 bytes.
const MAX_RESPONSE: usize = 4096;

/// Why a login failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("DIGEST-MD5 takes no initial response")]
    InitialResponse,
    #[error("digest-response of {0} bytes (it must be shorter than 4096)")]
    TooLong(usize),
    #[error("malformed digest-response: {0}")]
    Malformed(&'static str),
    #[error("digest-response without {0}")]
    Missing(&'static str),
    #[error("directive {0:?} appears more than once")]
    Repeated(String),
    #[error("the nonce is not the one this server sent")]
    WrongNonce,
    #[error("nonce-count {0:?} (a new login must use 00000001)")]
    WrongNonceCount(String),
    #[error("qop {0:?} is not supported (only auth)")]
    UnsupportedQop(String),
    #[error("realm {0:?} was not offered")]
    WrongRealm(String),
    #[error("digest-uri {0:?} is not {1:?}")]
    WrongDigestUri(String, String),
    #[error("charset {0:?} is not utf-8")]
    Charset(String),
    #[error("unknown user {0:?}")]
    UnknownUser(String),
    #[error("wrong password for user {0:?}")]
    WrongPassword(String),
    #[error("the login is already over")]
    Finished,
}

/// What the server says after a client's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this challenge and wait for the digest-response.
    Challenge(Vec<u8>),
    /// Authenticated as `username`; send `rspauth` (the last token).
    Success { rspauth: Vec<u8>, username: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Challenged,
    Over,
}

/// One login's server side.
#[derive(Debug)]
pub struct Server {
    realm: String,
    digest_uri: String,
    nonce: String,
    state: State,
}

impl Server {
    /// A login for `realm`, expecting clients to name `digest_uri`, with a
    /// fresh random nonce.
    pub fn new(realm: &str, digest_uri: &str) -> Server {
        let bytes: [u8; 24] = rand::random();
        let nonce = base64::engine::general_purpose::STANDARD.encode(bytes);
        Server::with_nonce(realm, digest_uri, &nonce)
    }

    /// As [`Server::new`] with a given nonce (tests, RFC examples).
    pub fn with_nonce(realm: &str, digest_uri: &str, nonce: &str) -> Server {
        Server {
            realm: realm.to_string(),
            digest_uri: digest_uri.to_string(),
            nonce: nonce.to_string(),
            state: State::Start,
        }
    }

    /// Takes the client's next token. `password_of` looks a user's
    /// password up. Any error ends the login.
    pub fn step(
        &mut self,
        token: &[u8],
        password_of: impl FnOnce(&str) -> Option<String>,
    ) -> Result<Step, DigestError> {
        let state = std::mem::replace(&mut self.state, State::Over);
        match state {
            State::Start if !token.is_empty() => Err(DigestError::InitialResponse),
            State::Start => {
                self.state = State::Challenged;
                Ok(Step::Challenge(self.challenge().into_bytes()))
            }
            State::Challenged => self.verify(token, password_of),
            State::Over => Err(DigestError::Finished),
        }
    }

    fn challenge(&self) -> String {
        format!(
            "realm=\"{}\",nonce=\"{}\",qop=\"auth\",charset=utf-8,algorithm=md5-sess",
            quote(&self.realm),
            quote(&self.nonce)
        )
    }

    fn verify(
        &self,
        token: &[u8],
        password_of: impl FnOnce(&str) -> Option<String>,
    ) -> Result<Step, DigestError> {
        if token.len() >= MAX_RESPONSE {
            return Err(DigestError::TooLong(token.len()));
        }
        let d = Directives::parse(token)?;
        let utf8 = match d.get("charset") {
            None => false,
            Some(c) if c.eq_ignore_ascii_case(b"utf-8") => true,
            Some(c) => return Err(DigestError::Charset(latin1(c))),
        };
        let text = |v: &[u8]| -> Result<String, DigestError> {
            if utf8 {
                String::from_utf8(v.to_vec()).map_err(|_| DigestError::Malformed("not UTF-8"))
            } else {
                Ok(latin1(v))
            }
        };
        let username = text(d.require("username")?)?;
        let nonce = d.require("nonce")?;
        let cnonce = d.require("cnonce")?;
        let nc = d.require("nc")?;
        let digest_uri = d.require("digest-uri")?;
        let response = d.require("response")?;
        let realm = match d.get("realm") {
            Some(r) => text(r)?,
            None => String::new(),
        };
        let qop = d.get("qop").unwrap_or(&b"auth"[..]);
        if !constant_time_eq(nonce, self.nonce.as_bytes()) {
            return Err(DigestError::WrongNonce);
        }
        // The first (and only) response of this exchange: exactly 00000001.
        if nc != b"00000001" {
            return Err(DigestError::WrongNonceCount(latin1(nc)));
        }
        if qop != b"auth" {
            return Err(DigestError::UnsupportedQop(latin1(qop)));
        }
        if !realm.is_empty() && realm != self.realm {
            return Err(DigestError::WrongRealm(realm));
        }
        if cnonce.is_empty() {
            return Err(DigestError::Missing("cnonce"));
        }
        if !digest_uri.eq_ignore_ascii_case(self.digest_uri.as_bytes()) {
            return Err(DigestError::WrongDigestUri(
                latin1(digest_uri),
                self.digest_uri.clone(),
            ));
        }
        let authzid = match d.get("authzid") {
            Some(a) => Some(text(a)?),
            None => None,
        };
        let Some(password) = password_of(&username) else {
            return Err(DigestError::UnknownUser(username));
        };
        let ha1 = ha1(
            &username,
            &realm,
            &password,
            nonce,
            cnonce,
            authzid.as_deref(),
        );
        let expected = kd(
            &ha1,
            nonce,
            nc,
            cnonce,
            qop,
            &[b"AUTHENTICATE:", digest_uri],
        );
        if !constant_time_eq(&response.to_ascii_lowercase(), expected.as_bytes()) {
            return Err(DigestError::WrongPassword(username));
        }
        let rspauth = kd(&ha1, nonce, nc, cnonce, qop, &[b":", digest_uri]);
        Ok(Step::Success {
            rspauth: format!("rspauth={rspauth}").into_bytes(),
            username,
        })
    }
}

/// Escapes `"` and `\` for a quoted-string.
fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Bytes as ISO 8859-1 text (every byte is a character).
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// How a string enters the hash (RFC 2831 2.1.2.1): in ISO 8859-1 when
/// every character fits, else in UTF-8.
fn hash_form(s: &str) -> Vec<u8> {
    if s.chars().all(|c| (c as u32) < 0x100) {
        s.chars().map(|c| c as u32 as u8).collect()
    } else {
        s.as_bytes().to_vec()
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// HEX(H(A1)) where A1 = H(user:realm:password) ":" nonce ":" cnonce
/// [":" authzid].
fn ha1(
    user: &str,
    realm: &str,
    password: &str,
    nonce: &[u8],
    cnonce: &[u8],
    authzid: Option<&str>,
) -> String {
    let mut secret = Md5::new();
    secret.update(hash_form(user));
    secret.update(b":");
    secret.update(hash_form(realm));
    secret.update(b":");
    secret.update(hash_form(password));
    let mut a1 = Md5::new();
    a1.update(secret.finalize());
    a1.update(b":");
    a1.update(nonce);
    a1.update(b":");
    a1.update(cnonce);
    if let Some(authzid) = authzid {
        a1.update(b":");
        a1.update(hash_form(authzid));
    }
    hex(&a1.finalize())
}

/// HEX(KD(HEX(H(A1)), nonce:nc:cnonce:qop:HEX(H(A2)))), A2 given in parts.
fn kd(ha1: &str, nonce: &[u8], nc: &[u8], cnonce: &[u8], qop: &[u8], a2: &[&[u8]]) -> String {
    let mut h2 = Md5::new();
    for part in a2 {
        h2.update(part);
    }
    let ha2 = hex(&h2.finalize());
    let joined = [ha1.as_bytes(), nonce, nc, cnonce, qop, ha2.as_bytes()].join(&b':');
    hex(&Md5::digest(&joined))
}

/// Compares without an early exit on the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A digest-response's directives (`name=value` or `name="quoted"`,
/// comma-separated), names in lower case.
struct Directives(Vec<(String, Vec<u8>)>);

/// RFC 2616's separators, which a token must not contain.
fn is_token_byte(b: u8) -> bool {
    b > 32 && b < 127 && !b"()<>@,;:\\\"/[]?={}".contains(&b)
}

fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl Directives {
    fn parse(token: &[u8]) -> Result<Directives, DigestError> {
        let mut out: Vec<(String, Vec<u8>)> = Vec::new();
        let mut i = 0;
        let skip_lws = |i: &mut usize| {
            while token.get(*i).is_some_and(|b| is_lws(*b)) {
                *i += 1;
            }
        };
        loop {
            // Empty list elements (",,") are allowed.
            while token.get(i).is_some_and(|b| is_lws(*b) || *b == b',') {
                i += 1;
            }
            if i >= token.len() {
                break;
            }
            let start = i;
            while token.get(i).is_some_and(|b| is_token_byte(*b)) {
                i += 1;
            }
            if i == start {
                return Err(DigestError::Malformed("expected a directive name"));
            }
            let name = latin1(&token[start..i]).to_ascii_lowercase();
            skip_lws(&mut i);
            if token.get(i) != Some(&b'=') {
                return Err(DigestError::Malformed(
                    "expected '=' after a directive name",
                ));
            }
            i += 1;
            skip_lws(&mut i);
            let mut value = Vec::new();
            if token.get(i) == Some(&b'"') {
                i += 1;
                loop {
                    match token.get(i) {
                        None => return Err(DigestError::Malformed("unterminated quoted string")),
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            let Some(escaped) = token.get(i + 1) else {
                                return Err(DigestError::Malformed("unterminated quoted string"));
                            };
                            value.push(*escaped);
                            i += 2;
                        }
                        Some(b) => {
                            value.push(*b);
                            i += 1;
                        }
                    }
                }
            } else {
                let start = i;
                while token.get(i).is_some_and(|b| is_token_byte(*b)) {
                    i += 1;
                }
                if i == start {
                    return Err(DigestError::Malformed("expected a value"));
                }
                value.extend_from_slice(&token[start..i]);
            }
            skip_lws(&mut i);
            if i < token.len() && token[i] != b',' {
                return Err(DigestError::Malformed("expected ',' between directives"));
            }
            if out.iter().any(|(n, _)| *n == name) {
                return Err(DigestError::Repeated(name));
            }
            out.push((name, value));
        }
        Ok(Directives(out))
    }

    fn get(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    fn require(&self, name: &'static str) -> Result<&[u8], DigestError> {
        self.get(name).ok_or(DigestError::Missing(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 2831 section 4's example: chris / secret at elwood.innosoft.com.
    const RFC_NONCE: &str = "OA6MG9tEQGm2hh";
    const RFC_RESPONSE: &str = "charset=utf-8,username=\"chris\",realm=\"elwood.innosoft.com\",\
        nonce=\"OA6MG9tEQGm2hh\",nc=00000001,cnonce=\"OA6MHXh6VqTrRk\",\
        digest-uri=\"imap/elwood.innosoft.com\",\
        response=d388dad90d4bbd760a152321f2143af7,qop=auth";

    fn rfc_server() -> Server {
        let mut s =
            Server::with_nonce("elwood.innosoft.com", "imap/elwood.innosoft.com", RFC_NONCE);
        match s.step(b"", |_| None).unwrap() {
            Step::Challenge(c) => {
                let c = String::from_utf8(c).unwrap();
                assert!(c.contains("nonce=\"OA6MG9tEQGm2hh\""), "{c}");
                assert!(c.contains("realm=\"elwood.innosoft.com\""), "{c}");
                assert!(c.contains("qop=\"auth\"") && c.contains("algorithm=md5-sess"));
            }
            other => panic!("{other:?}"),
        }
        s
    }

    fn chris(user: &str) -> Option<String> {
        (user == "chris").then(|| "secret".to_string())
    }

    #[test]
    fn rfc_2831_example() {
        let mut s = rfc_server();
        let step = s.step(RFC_RESPONSE.as_bytes(), chris).unwrap();
        assert_eq!(
            step,
            Step::Success {
                rspauth: b"rspauth=ea40f60335c427b5527b84dbabcdfffd".to_vec(),
                username: "chris".into()
            }
        );
        assert_eq!(s.step(b"", chris), Err(DigestError::Finished));
    }

    #[test]
    fn wrong_password_and_unknown_user() {
        let mut s = rfc_server();
        let err = s.step(RFC_RESPONSE.as_bytes(), |_| Some("guess".into()));
        assert_eq!(err, Err(DigestError::WrongPassword("chris".into())));
        assert_eq!(
            s.step(RFC_RESPONSE.as_bytes(), chris),
            Err(DigestError::Finished)
        );
        let mut s = rfc_server();
        let err = s.step(RFC_RESPONSE.as_bytes(), |_| None);
        assert_eq!(err, Err(DigestError::UnknownUser("chris".into())));
    }

    #[test]
    fn an_initial_response_is_refused() {
        let mut s = Server::new(ZOOKEEPER_REALM, ZOOKEEPER_DIGEST_URI);
        assert_eq!(s.step(b"x", chris), Err(DigestError::InitialResponse));
        assert_eq!(s.step(b"", chris), Err(DigestError::Finished));
    }

    /// What pure-sasl (kazoo) sends: no charset, the challenge's realm,
    /// quoted values, lower-case hex.
    fn client_response(nonce: &str, user: &str, password: &str, extra: &str) -> String {
        let cnonce = "1234567890";
        let ha1 = ha1(
            user,
            ZOOKEEPER_REALM,
            password,
            nonce.as_bytes(),
            cnonce.as_bytes(),
            None,
        );
        let response = kd(
            &ha1,
            nonce.as_bytes(),
            b"00000001",
            cnonce.as_bytes(),
            b"auth",
            &[b"AUTHENTICATE:", ZOOKEEPER_DIGEST_URI.as_bytes()],
        );
        format!(
            "qop=auth,realm=\"{ZOOKEEPER_REALM}\",username=\"{user}\",nonce=\"{nonce}\",\
             cnonce=\"{cnonce}\",nc=00000001,digest-uri=\"{ZOOKEEPER_DIGEST_URI}\",\
             response={response}{extra}"
        )
    }

    fn zk_server() -> Server {
        let mut s = Server::with_nonce(ZOOKEEPER_REALM, ZOOKEEPER_DIGEST_URI, "n0nce+/=");
        assert!(matches!(s.step(b"", chris), Ok(Step::Challenge(_))));
        s
    }

    #[test]
    fn a_kazoo_style_login() {
        let alice = |u: &str| (u == "alice").then(|| "secret".to_string());
        let mut s = zk_server();
        let token = client_response("n0nce+/=", "alice", "secret", "");
        match s.step(token.as_bytes(), alice).unwrap() {
            Step::Success { username, rspauth } => {
                assert_eq!(username, "alice");
                assert!(rspauth.starts_with(b"rspauth="));
                assert_eq!(rspauth.len(), 8 + 32);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_directive_is_checked() {
        let alice = |u: &str| (u == "alice").then(|| "secret".to_string());
        let good = client_response("n0nce+/=", "alice", "secret", "");
        for (token, expected) in [
            (
                client_response("other", "alice", "secret", ""),
                DigestError::WrongNonce,
            ),
            (
                good.replace("nc=00000001", "nc=00000002"),
                DigestError::WrongNonceCount("00000002".into()),
            ),
            (
                good.replace("qop=auth", "qop=auth-conf"),
                DigestError::UnsupportedQop("auth-conf".into()),
            ),
            (
                good.replace("realm=\"zk-sasl-md5\"", "realm=\"elsewhere\""),
                DigestError::WrongRealm("elsewhere".into()),
            ),
            (
                good.replace("zookeeper/zk-sasl-md5", "imap/zk-sasl-md5"),
                DigestError::WrongDigestUri("imap/zk-sasl-md5".into(), ZOOKEEPER_DIGEST_URI.into()),
            ),
            (
                format!("{good},charset=latin1"),
                DigestError::Charset("latin1".into()),
            ),
            (
                format!("{good},nc=00000001"),
                DigestError::Repeated("nc".into()),
            ),
            (
                good.replace(",cnonce=\"1234567890\"", ""),
                DigestError::Missing("cnonce"),
            ),
            (
                client_response("n0nce+/=", "alice", "wrong", ""),
                DigestError::WrongPassword("alice".into()),
            ),
        ] {
            let mut s = zk_server();
            assert_eq!(s.step(token.as_bytes(), alice), Err(expected), "{token}");
        }
    }

    #[test]
    fn malformed_tokens_are_errors() {
        let long = vec![b'a'; MAX_RESPONSE];
        let tokens: [&[u8]; 10] = [
            b"username",
            b"username=",
            b"username=\"unterminated",
            b"username=\"escape at end\\",
            b"=x",
            b"a=b c=d",
            b"\xff\xfe=\x00",
            b",,,",
            b"username=\"\xff\",charset=utf-8",
            &long,
        ];
        for token in tokens {
            let mut s = zk_server();
            assert!(s.step(token, chris).is_err(), "{token:?}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_tokens_never_panic(token in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut s = zk_server();
            let _ = s.step(&token, chris);
        }

        #[test]
        fn near_valid_tokens_never_panic(cut in 0usize..400, flip in 0usize..400) {
            let good = client_response("n0nce+/=", "chris", "secret", "").into_bytes();
            let mut token = good[..cut.min(good.len())].to_vec();
            if let Some(b) = token.get_mut(flip) {
                *b ^= 0x22;
            }
            let mut s = zk_server();
            let _ = s.step(&token, chris);
        }
    }
}
