//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Apache Kafka
//! implements them.
//!
//! An exchange is four messages:
//!
//! ```text
//! client-first   n,,n=<user>,r=<client nonce>
//! server-first   r=<client nonce><server nonce>,s=<salt>,i=<iterations>
//! client-final   c=biws,r=<client nonce><server nonce>,p=<proof>
//! server-final   v=<server signature>
//! ```
//!
//! The server never sees or stores the password: it keeps a
//! [`ScramCredential`] (salt, iteration count, `StoredKey`, `ServerKey`), and the
//! client proves it knows the password by sending `ClientKey` masked with a
//! signature over the whole conversation. The server in turn proves it holds
//! `ServerKey`, so a client can tell an impostor broker apart.
//!
//! Kafka-specific choices mirrored here: no channel binding (no `-PLUS`
//! mechanisms), at least 4096 iterations, delegation tokens (the `tokenauth`
//! extension) are not offered, and usernames are not SASLprep-normalised.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::distributions::Alphanumeric;
use rand::{Rng, RngCore};
use sha2::Digest;

use super::constant_time_eq;

/// Kafka's lower bound on iterations, for both mechanisms: fewer makes
/// offline guessing from a leaked credential too cheap.
const MIN_ITERATIONS: u32 = 4096;
/// Kafka's upper bound for `AlterUserScramCredentials`: more makes every
/// login (and every credential change) needlessly slow for the broker.
const MAX_ITERATIONS: u32 = 16384;
/// Length of the salts [`ScramCredential::generate`] makes.
const SALT_LEN: usize = 32;
/// Length of the nonces this side contributes. RFC 5802 asks for enough
/// randomness to be unguessable; 32 alphanumerics are ~190 bits.
const NONCE_LEN: usize = 32;

/// The SCRAM variants Kafka supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScramMechanism {
    /// `SCRAM-SHA-256`: SHA-256, HMAC-SHA-256, PBKDF2-HMAC-SHA-256.
    Sha256,
    /// `SCRAM-SHA-512`: SHA-512, HMAC-SHA-512, PBKDF2-HMAC-SHA-512.
    Sha512,
}

impl ScramMechanism {
    /// Every mechanism, in the order a broker lists them to clients.
    pub const ALL: [ScramMechanism; 2] = [ScramMechanism::Sha256, ScramMechanism::Sha512];

    /// The SASL mechanism name clients ask for in `SaslHandshake`.
    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// The mechanism with this exact name. Case-sensitive, as Kafka: a client
    /// asking for `scram-sha-256` is refused there too.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|mech| mech.name() == name)
    }

    /// Fewest iterations accepted, by a client from a server and by the
    /// broker when credentials are created.
    pub fn min_iterations(self) -> u32 {
        MIN_ITERATIONS
    }

    /// Most iterations `AlterUserScramCredentials` accepts.
    pub fn max_iterations(self) -> u32 {
        MAX_ITERATIONS
    }

    /// `H(data)`.
    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => sha2::Sha256::digest(data).to_vec(),
            ScramMechanism::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    /// `HMAC(key, data)`.
    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => hmac_with::<Hmac<sha2::Sha256>>(key, data),
            ScramMechanism::Sha512 => hmac_with::<Hmac<sha2::Sha512>>(key, data),
        }
    }

    /// `Hi(password, salt, iterations)`, which is PBKDF2 with this HMAC and
    /// one block of output.
    fn pbkdf2(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => {
                let mut out = vec![0; 32];
                pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, iterations, &mut out);
                out
            }
            ScramMechanism::Sha512 => {
                let mut out = vec![0; 64];
                pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }
}

impl fmt::Display for ScramMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn hmac_with<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length (long ones are hashed first); the error
    // exists only for MACs with fixed key sizes, so this cannot fail.
    let mut mac = <M as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// What goes wrong in a SCRAM exchange.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    /// The message does not follow RFC 5802's grammar (or is not UTF-8, or
    /// a credential string is not in Kafka's format).
    #[error("malformed SCRAM message: {0}")]
    Malformed(String),
    /// The client asked for channel binding (`p=`); no `-PLUS` mechanism is
    /// offered, as in Kafka.
    #[error("SCRAM channel binding is not supported")]
    UnsupportedChannelBinding,
    /// The client sent the reserved `m=` mandatory extension, which no one
    /// defines; RFC 5802 says to fail.
    #[error("SCRAM mandatory extension (m=) is not supported")]
    UnsupportedMandatoryExtension,
    /// The client asked to act as someone other than who it authenticates as.
    #[error("authorization id differs from the username")]
    AuthzidMismatch,
    /// The client asked for delegation-token authentication
    /// (`tokenauth=true`), which is not offered.
    #[error("delegation token authentication (tokenauth) is not supported")]
    TokenAuthUnsupported,
    /// `c=` in client-final is not the gs2 header from client-first.
    #[error("channel binding data does not match the gs2 header")]
    ChannelBindingMismatch,
    /// The nonce does not continue the one this side sent.
    #[error("SCRAM nonce mismatch")]
    NonceMismatch,
    /// The client's proof is wrong: wrong password (or wrong user).
    #[error("invalid SCRAM client proof")]
    InvalidProof,
    /// The server's signature is wrong: it does not hold this user's
    /// `ServerKey`, so it is not the server it claims to be.
    #[error("invalid SCRAM server signature")]
    ServerSignatureMismatch,
    /// The server ended the exchange with `e=<message>`.
    #[error("SCRAM server error: {0}")]
    ServerError(String),
    /// The server asked for fewer iterations than the mechanism's minimum.
    #[error("{0} SCRAM iterations is below the minimum of 4096")]
    IterationsTooLow(u32),
    /// A step was called before its predecessor, twice, or after the
    /// exchange ended.
    #[error("SCRAM step out of order: {0}")]
    OutOfOrder(&'static str),
}

fn malformed(what: impl Into<String>) -> ScramError {
    ScramError::Malformed(what.into())
}

/// What the server stores for a user: never the password, only what
/// verifies a proof of it. Kafka keeps it in `/config/users/<user>` as
/// `salt=<base64>,stored_key=<base64>,server_key=<base64>,iterations=<n>`.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramCredential {
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
    pub iterations: u32,
}

impl fmt::Debug for ScramCredential {
    /// Keys redacted: `ServerKey` lets its holder impersonate the server, and
    /// both ease offline guessing, so they stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramCredential")
            .field("salt", &BASE64.encode(&self.salt))
            .field("stored_key", &"<redacted>")
            .field("server_key", &"<redacted>")
            .field("iterations", &self.iterations)
            .finish()
    }
}

impl ScramCredential {
    /// The credential for `password`: `SaltedPassword = Hi(password, salt, i)`,
    /// then [`from_salted_password`](Self::from_salted_password).
    pub fn from_password(
        mech: ScramMechanism,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Self {
        let salted = Self::salted_password(mech, password, salt, iterations);
        Self::from_salted_password(mech, &salted, salt, iterations)
    }

    /// The credential from an already salted password. Kafka's
    /// `AlterUserScramCredentials` sends this (so the password never reaches
    /// the broker): `ClientKey = HMAC(SaltedPassword, "Client Key")`,
    /// `StoredKey = H(ClientKey)`, `ServerKey = HMAC(SaltedPassword, "Server Key")`.
    pub fn from_salted_password(
        mech: ScramMechanism,
        salted_password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Self {
        let client_key = mech.hmac(salted_password, b"Client Key");
        ScramCredential {
            salt: salt.to_vec(),
            stored_key: mech.hash(&client_key),
            server_key: mech.hmac(salted_password, b"Server Key"),
            iterations,
        }
    }

    /// `Hi(password, salt, iterations)`: what a client sends in
    /// `AlterUserScramCredentials`.
    pub fn salted_password(
        mech: ScramMechanism,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Vec<u8> {
        mech.pbkdf2(password, salt, iterations)
    }

    /// A credential with a fresh random 32-byte salt, as Kafka's tools make.
    pub fn generate(mech: ScramMechanism, password: &[u8], iterations: u32) -> Self {
        let mut salt = vec![0; SALT_LEN];
        rand::thread_rng().fill_bytes(&mut salt);
        Self::from_password(mech, password, &salt, iterations)
    }

    /// Kafka's string form, as stored in `/config/users/<user>`.
    pub fn to_kafka_string(&self) -> String {
        format!(
            "salt={},stored_key={},server_key={},iterations={}",
            BASE64.encode(&self.salt),
            BASE64.encode(&self.stored_key),
            BASE64.encode(&self.server_key),
            self.iterations
        )
    }

    /// Parses Kafka's string form. Keys may come in any order and unknown
    /// keys are ignored (as Kafka does, so newer writers stay readable); each
    /// of the four must appear exactly once.
    pub fn from_kafka_string(s: &str) -> Result<Self, ScramError> {
        let mut salt = None;
        let mut stored_key = None;
        let mut server_key = None;
        let mut iterations = None;
        for field in s.split(',') {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| malformed(format!("credential field {field:?} has no '='")))?;
            let slot = match key {
                "salt" => &mut salt,
                "stored_key" => &mut stored_key,
                "server_key" => &mut server_key,
                "iterations" => &mut iterations,
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(malformed(format!("credential has {key} twice")));
            }
        }
        Ok(ScramCredential {
            salt: decode_base64(required(salt, "salt")?, "salt")?,
            stored_key: decode_base64(required(stored_key, "stored_key")?, "stored_key")?,
            server_key: decode_base64(required(server_key, "server_key")?, "server_key")?,
            iterations: parse_iterations(required(iterations, "iterations")?)?,
        })
    }
}

/// A field [`ScramCredential::from_kafka_string`] cannot do without.
fn required<'a>(value: Option<&'a str>, key: &str) -> Result<&'a str, ScramError> {
    value.ok_or_else(|| malformed(format!("credential has no {key}")))
}

/// The server side of one exchange. Split in two steps around the
/// credential lookup, which the caller does asynchronously (a read from the
/// coordination tree) once [`start`](Self::start) has named the user.
pub struct ScramServer {
    mech: ScramMechanism,
    /// The gs2 header exactly as received (e.g. `n,,`), which client-final's
    /// `c=` must repeat.
    gs2_header: String,
    client_first_bare: String,
    client_nonce: String,
    state: ServerState,
}

enum ServerState {
    AwaitingCredential,
    AwaitingClientFinal {
        credential: ScramCredential,
        nonce: String,
        server_first: String,
    },
    Finished,
}

impl fmt::Debug for ScramServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            ServerState::AwaitingCredential => "awaiting credential",
            ServerState::AwaitingClientFinal { .. } => "awaiting client-final",
            ServerState::Finished => "finished",
        };
        f.debug_struct("ScramServer")
            .field("mech", &self.mech)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl ScramServer {
    /// Parses client-first-message, `<gs2 header><bare>` where the gs2
    /// header is `n,,` / `y,,` (optionally `n,a=<authzid>,`) and the bare
    /// part is `n=<user>,r=<nonce>[,<ext>=<value>...]`. Returns the server
    /// and the decoded username, whose credential the caller then looks up.
    pub fn start(
        mech: ScramMechanism,
        client_first: &[u8],
    ) -> Result<(ScramServer, String), ScramError> {
        let text = utf8(client_first, "client-first-message")?;
        let (gs2_header, authzid, bare) = parse_gs2_header(text)?;
        let (username, client_nonce) = parse_client_first_bare(bare)?;
        if authzid.is_some_and(|authzid| authzid != username) {
            return Err(ScramError::AuthzidMismatch);
        }
        let server = ScramServer {
            mech,
            gs2_header: gs2_header.to_owned(),
            client_first_bare: bare.to_owned(),
            client_nonce: client_nonce.to_owned(),
            state: ServerState::AwaitingCredential,
        };
        Ok((server, username))
    }

    /// server-first-message, `r=<client nonce><server nonce>,s=<salt>,i=<n>`,
    /// for the user's stored credential. The server nonce is random.
    ///
    /// Fails only if called twice or after [`client_final`](Self::client_final).
    pub fn server_first(&mut self, credential: ScramCredential) -> Result<Vec<u8>, ScramError> {
        self.server_first_with_nonce(credential, &random_nonce())
    }

    /// [`server_first`](Self::server_first) with a chosen server nonce, so
    /// tests can replay published exchanges.
    fn server_first_with_nonce(
        &mut self,
        credential: ScramCredential,
        server_nonce: &str,
    ) -> Result<Vec<u8>, ScramError> {
        if !matches!(self.state, ServerState::AwaitingCredential) {
            return Err(ScramError::OutOfOrder(
                "server_first called twice or too late",
            ));
        }
        let nonce = format!("{}{}", self.client_nonce, server_nonce);
        let server_first = format!(
            "r={nonce},s={},i={}",
            BASE64.encode(&credential.salt),
            credential.iterations
        );
        let message = server_first.clone().into_bytes();
        self.state = ServerState::AwaitingClientFinal {
            credential,
            nonce,
            server_first,
        };
        Ok(message)
    }

    /// Checks client-final-message, `c=<gs2 header b64>,r=<nonce>,p=<proof>`,
    /// and returns server-final-message, `v=<server signature>`. Whatever the
    /// outcome, the exchange is over: a second call fails.
    pub fn client_final(&mut self, client_final: &[u8]) -> Result<Vec<u8>, ScramError> {
        let (credential, nonce, server_first) =
            match std::mem::replace(&mut self.state, ServerState::Finished) {
                ServerState::AwaitingClientFinal {
                    credential,
                    nonce,
                    server_first,
                } => (credential, nonce, server_first),
                other => {
                    self.state = other;
                    return Err(ScramError::OutOfOrder(
                        "client_final called before server_first or twice",
                    ));
                }
            };
        let text = utf8(client_final, "client-final-message")?;
        let message = parse_client_final(text)?;
        if !constant_time_eq(&message.channel_binding, self.gs2_header.as_bytes()) {
            return Err(ScramError::ChannelBindingMismatch);
        }
        // Kafka accepts a nonce that only ends with the full nonce: librdkafka
        // 2.0 (Debian 12's) sends its own nonce again in front of it (its proof is
        // computed over the message as sent, so the proof check still holds).
        if !message.nonce.ends_with(nonce.as_str()) {
            return Err(ScramError::NonceMismatch);
        }
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, server_first, message.without_proof
        );
        self.verify_proof(&credential, &auth_message, &message.proof)?;
        let signature = self
            .mech
            .hmac(&credential.server_key, auth_message.as_bytes());
        Ok(format!("v={}", BASE64.encode(signature)).into_bytes())
    }

    /// `ClientKey = proof XOR HMAC(StoredKey, AuthMessage)` must hash to
    /// `StoredKey`; compared in constant time so response times do not
    /// reveal how close a forged proof came.
    fn verify_proof(
        &self,
        credential: &ScramCredential,
        auth_message: &str,
        proof: &[u8],
    ) -> Result<(), ScramError> {
        let client_signature = self
            .mech
            .hmac(&credential.stored_key, auth_message.as_bytes());
        if proof.len() != client_signature.len() {
            return Err(ScramError::InvalidProof);
        }
        let client_key = xor(proof, &client_signature);
        if constant_time_eq(&self.mech.hash(&client_key), &credential.stored_key) {
            Ok(())
        } else {
            Err(ScramError::InvalidProof)
        }
    }
}

/// The client side of one exchange, used by brokers talking to each other
/// and by the `runnel` CLI.
pub struct ScramClient {
    mech: ScramMechanism,
    client_first_bare: String,
    client_nonce: String,
    state: ClientState,
}

enum ClientState {
    /// The password is kept only until client-final has been computed.
    Initial {
        password: String,
    },
    AwaitingServerFinal {
        server_signature: Vec<u8>,
    },
    Failed,
}

impl fmt::Debug for ScramClient {
    /// The password is deliberately left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            ClientState::Initial { .. } => "initial",
            ClientState::AwaitingServerFinal { .. } => "awaiting server-final",
            ClientState::Failed => "failed",
        };
        f.debug_struct("ScramClient")
            .field("mech", &self.mech)
            .field("client_first_bare", &self.client_first_bare)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// A client for `username`/`password` with a random nonce.
    pub fn new(mech: ScramMechanism, username: &str, password: &str) -> ScramClient {
        Self::with_nonce(mech, username, password, &random_nonce())
    }

    /// [`new`](Self::new) with a chosen nonce, so tests can replay published
    /// exchanges.
    fn with_nonce(mech: ScramMechanism, username: &str, password: &str, nonce: &str) -> Self {
        ScramClient {
            mech,
            client_first_bare: format!("n={},r={nonce}", escape_saslname(username)),
            client_nonce: nonce.to_owned(),
            state: ClientState::Initial {
                password: password.to_owned(),
            },
        }
    }

    /// client-first-message, `n,,n=<escaped user>,r=<nonce>`: no channel
    /// binding, no authzid (Kafka's client sends none).
    pub fn client_first(&self) -> Vec<u8> {
        format!("{GS2_HEADER}{}", self.client_first_bare).into_bytes()
    }

    /// Answers server-first-message with client-final-message. Checks that
    /// the server's nonce extends ours (so this is a reply to this exchange)
    /// and that it asks for at least the minimum iterations (so a rogue
    /// server cannot get a cheaply crackable proof).
    pub fn client_final(&mut self, server_first: &[u8]) -> Result<Vec<u8>, ScramError> {
        let password = match std::mem::replace(&mut self.state, ClientState::Failed) {
            ClientState::Initial { password } => password,
            other => {
                self.state = other;
                return Err(ScramError::OutOfOrder("client_final called twice"));
            }
        };
        let text = utf8(server_first, "server-first-message")?;
        let message = parse_server_first(text)?;
        if message.nonce.len() <= self.client_nonce.len()
            || !message.nonce.starts_with(&self.client_nonce)
        {
            return Err(ScramError::NonceMismatch);
        }
        if message.iterations < self.mech.min_iterations() {
            return Err(ScramError::IterationsTooLow(message.iterations));
        }
        let salted = self
            .mech
            .pbkdf2(password.as_bytes(), &message.salt, message.iterations);
        let without_proof = format!("c={},r={}", BASE64.encode(GS2_HEADER), message.nonce);
        let auth_message = format!("{},{text},{without_proof}", self.client_first_bare);
        let client_key = self.mech.hmac(&salted, b"Client Key");
        let stored_key = self.mech.hash(&client_key);
        let client_signature = self.mech.hmac(&stored_key, auth_message.as_bytes());
        let proof = xor(&client_key, &client_signature);
        let server_key = self.mech.hmac(&salted, b"Server Key");
        self.state = ClientState::AwaitingServerFinal {
            server_signature: self.mech.hmac(&server_key, auth_message.as_bytes()),
        };
        Ok(format!("{without_proof},p={}", BASE64.encode(proof)).into_bytes())
    }

    /// Checks server-final-message: `v=<signature>` must be the one only a
    /// holder of our `ServerKey` can compute; `e=<message>` is the server
    /// refusing us, returned as [`ScramError::ServerError`].
    pub fn verify_server_final(&self, server_final: &[u8]) -> Result<(), ScramError> {
        let ClientState::AwaitingServerFinal { server_signature } = &self.state else {
            return Err(ScramError::OutOfOrder(
                "verify_server_final called before client_final",
            ));
        };
        let text = utf8(server_final, "server-final-message")?;
        // Extensions may follow the signature; none are defined, so skip them.
        let first = text.split(',').next().unwrap_or_default();
        if let Some(error) = first.strip_prefix("e=") {
            return Err(ScramError::ServerError(error.to_owned()));
        }
        let signature = first
            .strip_prefix("v=")
            .ok_or_else(|| malformed("server-final-message has neither v= nor e="))?;
        let signature = decode_base64(signature, "server signature")?;
        if constant_time_eq(&signature, server_signature) {
            Ok(())
        } else {
            Err(ScramError::ServerSignatureMismatch)
        }
    }
}

/// The only gs2 header this client sends: no channel binding, no authzid.
const GS2_HEADER: &str = "n,,";

fn random_nonce() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(NONCE_LEN)
        .map(char::from)
        .collect()
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

fn utf8<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str, ScramError> {
    std::str::from_utf8(bytes).map_err(|_| malformed(format!("{what} is not UTF-8")))
}

fn decode_base64(text: &str, what: &str) -> Result<Vec<u8>, ScramError> {
    BASE64
        .decode(text)
        .map_err(|_| malformed(format!("{what} is not valid base64")))
}

/// Iteration counts are plain decimal digits (no sign, no spaces) that fit
/// in a `u32`.
fn parse_iterations(text: &str) -> Result<u32, ScramError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(format!("iterations {text:?} is not a number")));
    }
    text.parse()
        .map_err(|_| malformed(format!("iterations {text:?} is too large")))
}

/// The value of `part` if it is the attribute `<name>=<value>`.
fn attribute<'a>(part: Option<&'a str>, name: char, message: &str) -> Result<&'a str, ScramError> {
    part.and_then(|part| part.strip_prefix(name))
        .and_then(|rest| rest.strip_prefix('='))
        .ok_or_else(|| malformed(format!("{message} has no {name}= where expected")))
}

/// SCRAM usernames escape `,` as `=2C` and `=` as `=3D`, since both delimit
/// attributes.
fn escape_saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// Reverses [`escape_saslname`]; any other use of `=` is malformed, as is an
/// empty name or a NUL.
fn decode_saslname(text: &str) -> Result<String, ScramError> {
    if text.is_empty() {
        return Err(malformed("empty username"));
    }
    let mut name = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('=') {
        name.push_str(&rest[..at]);
        let escaped = rest.get(at..at + 3);
        match escaped {
            Some("=2C") => name.push(','),
            Some("=3D") => name.push('='),
            _ => return Err(malformed("username has an '=' that is not =2C or =3D")),
        }
        rest = &rest[at + 3..];
    }
    name.push_str(rest);
    if name.contains('\0') {
        return Err(malformed("username contains NUL"));
    }
    Ok(name)
}

/// A nonce is one or more printable ASCII characters other than `,`.
fn check_nonce(nonce: &str) -> Result<(), ScramError> {
    let printable = |b: u8| (0x21..=0x7e).contains(&b) && b != b',';
    if nonce.is_empty() || !nonce.bytes().all(printable) {
        return Err(malformed("nonce is empty or not printable ASCII"));
    }
    Ok(())
}

/// Splits client-first into the gs2 header (with its trailing comma), the
/// decoded authzid if any, and the bare message.
fn parse_gs2_header(text: &str) -> Result<(&str, Option<String>, &str), ScramError> {
    let (cbind, rest) = text
        .split_once(',')
        .ok_or_else(|| malformed("client-first-message has no gs2 header"))?;
    match cbind {
        "n" | "y" => {}
        _ if cbind.starts_with("p=") => return Err(ScramError::UnsupportedChannelBinding),
        _ => return Err(malformed("gs2 channel binding flag is not n, y or p=")),
    }
    let (authzid, bare) = rest
        .split_once(',')
        .ok_or_else(|| malformed("client-first-message gs2 header is incomplete"))?;
    let authzid = match authzid {
        "" => None,
        _ => {
            let name = authzid
                .strip_prefix("a=")
                .ok_or_else(|| malformed("gs2 authzid does not start with a="))?;
            Some(decode_saslname(name)?)
        }
    };
    let header_len = text.len() - bare.len();
    Ok((&text[..header_len], authzid, bare))
}

/// `n=<user>,r=<nonce>[,<ext>...]` → (decoded user, nonce).
fn parse_client_first_bare(bare: &str) -> Result<(String, &str), ScramError> {
    if bare.starts_with("m=") {
        return Err(ScramError::UnsupportedMandatoryExtension);
    }
    let mut parts = bare.split(',');
    let username = decode_saslname(attribute(parts.next(), 'n', "client-first-message")?)?;
    let nonce = attribute(parts.next(), 'r', "client-first-message")?;
    check_nonce(nonce)?;
    for (key, value) in extensions(parts)? {
        if key == "tokenauth" && value.eq_ignore_ascii_case("true") {
            return Err(ScramError::TokenAuthUnsupported);
        }
    }
    Ok((username, nonce))
}

/// Extensions are `<letters>=<value>`; Kafka uses multi-letter names such as
/// `tokenauth`, so more than RFC 5802's single letter is accepted.
fn extensions<'a>(
    parts: impl Iterator<Item = &'a str>,
) -> Result<Vec<(&'a str, &'a str)>, ScramError> {
    parts
        .map(|part| {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| malformed(format!("extension {part:?} has no '='")))?;
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(malformed(format!("extension name {key:?} is not letters")));
            }
            Ok((key, value))
        })
        .collect()
}

struct ClientFinal<'a> {
    channel_binding: Vec<u8>,
    nonce: &'a str,
    /// Everything before `,p=`, which the AuthMessage covers.
    without_proof: &'a str,
    proof: Vec<u8>,
}

/// `c=<b64>,r=<nonce>[,<ext>...],p=<b64>`; the proof is always last.
fn parse_client_final(text: &str) -> Result<ClientFinal<'_>, ScramError> {
    let (without_proof, proof) = text
        .rsplit_once(",p=")
        .ok_or_else(|| malformed("client-final-message has no proof (p=)"))?;
    let mut parts = without_proof.split(',');
    let channel_binding = attribute(parts.next(), 'c', "client-final-message")?;
    let nonce = attribute(parts.next(), 'r', "client-final-message")?;
    extensions(parts)?;
    Ok(ClientFinal {
        channel_binding: decode_base64(channel_binding, "channel binding")?,
        nonce,
        without_proof,
        proof: decode_base64(proof, "client proof")?,
    })
}

struct ServerFirst<'a> {
    nonce: &'a str,
    salt: Vec<u8>,
    iterations: u32,
}

/// `r=<nonce>,s=<salt b64>,i=<iterations>[,<ext>...]`.
fn parse_server_first(text: &str) -> Result<ServerFirst<'_>, ScramError> {
    if text.starts_with("m=") {
        return Err(ScramError::UnsupportedMandatoryExtension);
    }
    let mut parts = text.split(',');
    let nonce = attribute(parts.next(), 'r', "server-first-message")?;
    check_nonce(nonce)?;
    let salt = attribute(parts.next(), 's', "server-first-message")?;
    let iterations = attribute(parts.next(), 'i', "server-first-message")?;
    extensions(parts)?;
    Ok(ServerFirst {
        nonce,
        salt: decode_base64(salt, "salt")?,
        iterations: parse_iterations(iterations)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // RFC 7677, section 3.
    const RFC_CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const RFC_SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const RFC_SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
    const RFC_CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const RFC_SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const RFC_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const RFC_SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn rfc_credential() -> ScramCredential {
        let salt = BASE64.decode(RFC_SALT).unwrap();
        ScramCredential::from_password(ScramMechanism::Sha256, b"pencil", &salt, 4096)
    }

    /// A server that has sent server-first for `user`/`password`.
    fn server_after_first(mech: ScramMechanism, password: &str) -> (ScramServer, Vec<u8>) {
        let client = ScramClient::new(mech, "user", password);
        let (mut server, _) = ScramServer::start(mech, &client.client_first()).unwrap();
        let first = server
            .server_first(ScramCredential::generate(mech, password.as_bytes(), 4096))
            .unwrap();
        (server, first)
    }

    #[test]
    fn mechanism_names() {
        for mech in ScramMechanism::ALL {
            assert_eq!(ScramMechanism::from_name(mech.name()), Some(mech));
        }
        assert_eq!(ScramMechanism::Sha512.name(), "SCRAM-SHA-512");
        assert_eq!(ScramMechanism::from_name("scram-sha-256"), None);
        assert_eq!(ScramMechanism::from_name("PLAIN"), None);
    }

    #[test]
    fn rfc7677_client() {
        let mut client =
            ScramClient::with_nonce(ScramMechanism::Sha256, "user", "pencil", RFC_CLIENT_NONCE);
        assert_eq!(client.client_first(), RFC_CLIENT_FIRST.as_bytes());
        let client_final = client.client_final(RFC_SERVER_FIRST.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(client_final).unwrap(), RFC_CLIENT_FINAL);
        client
            .verify_server_final(RFC_SERVER_FINAL.as_bytes())
            .unwrap();
    }

    #[test]
    fn rfc7677_server() {
        let (mut server, user) =
            ScramServer::start(ScramMechanism::Sha256, RFC_CLIENT_FIRST.as_bytes()).unwrap();
        assert_eq!(user, "user");
        let first = server
            .server_first_with_nonce(rfc_credential(), RFC_SERVER_NONCE)
            .unwrap();
        assert_eq!(String::from_utf8(first).unwrap(), RFC_SERVER_FIRST);
        let last = server.client_final(RFC_CLIENT_FINAL.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(last).unwrap(), RFC_SERVER_FINAL);
    }

    #[test]
    fn round_trip_both_mechanisms() {
        for mech in ScramMechanism::ALL {
            let credential = ScramCredential::generate(mech, b"s3cret", 4096);
            let mut client = ScramClient::new(mech, "alice", "s3cret");
            let (mut server, user) = ScramServer::start(mech, &client.client_first()).unwrap();
            assert_eq!(user, "alice");
            let server_first = server.server_first(credential).unwrap();
            let client_final = client.client_final(&server_first).unwrap();
            let server_final = server.client_final(&client_final).unwrap();
            client.verify_server_final(&server_final).unwrap();
        }
    }

    #[test]
    fn wrong_password_is_invalid_proof() {
        for mech in ScramMechanism::ALL {
            let mut client = ScramClient::new(mech, "alice", "guess");
            let (mut server, _) = ScramServer::start(mech, &client.client_first()).unwrap();
            let credential = ScramCredential::generate(mech, b"s3cret", 4096);
            let server_first = server.server_first(credential).unwrap();
            let client_final = client.client_final(&server_first).unwrap();
            assert_eq!(
                server.client_final(&client_final),
                Err(ScramError::InvalidProof)
            );
        }
    }

    #[test]
    fn impostor_server_is_detected() {
        let mech = ScramMechanism::Sha256;
        let mut client = ScramClient::new(mech, "alice", "s3cret");
        let (mut server, _) = ScramServer::start(mech, &client.client_first()).unwrap();
        let mut credential = ScramCredential::generate(mech, b"s3cret", 4096);
        credential.server_key = vec![0; 32];
        let server_first = server.server_first(credential).unwrap();
        let client_final = client.client_final(&server_first).unwrap();
        let server_final = server.client_final(&client_final).unwrap();
        assert_eq!(
            client.verify_server_final(&server_final),
            Err(ScramError::ServerSignatureMismatch)
        );
        assert_eq!(
            client.verify_server_final(b"e=invalid-proof"),
            Err(ScramError::ServerError("invalid-proof".into()))
        );
    }

    #[test]
    fn username_escaping_round_trip() {
        let mech = ScramMechanism::Sha512;
        let mut client = ScramClient::new(mech, "a,b=c", "pw");
        let first = String::from_utf8(client.client_first()).unwrap();
        assert!(first.starts_with("n,,n=a=2Cb=3Dc,r="), "{first}");
        let (mut server, user) = ScramServer::start(mech, first.as_bytes()).unwrap();
        assert_eq!(user, "a,b=c");
        let server_first = server
            .server_first(ScramCredential::generate(mech, b"pw", 4096))
            .unwrap();
        let client_final = client.client_final(&server_first).unwrap();
        server.client_final(&client_final).unwrap();
        assert_eq!(escape_saslname("=,=="), "=3D=2C=3D=3D");
        assert_eq!(decode_saslname("=3D=2C=3D=3D").unwrap(), "=,==");
    }

    #[test]
    fn gs2_header_variants() {
        let mech = ScramMechanism::Sha256;
        let (server, user) = ScramServer::start(mech, b"y,,n=bob,r=abc").unwrap();
        assert_eq!((user.as_str(), server.gs2_header.as_str()), ("bob", "y,,"));
        let (server, _) = ScramServer::start(mech, b"n,a=b=2Cob,n=b=2Cob,r=abc").unwrap();
        assert_eq!(server.gs2_header, "n,a=b=2Cob,");
        let refused = [
            (
                &b"p=tls-unique,,n=bob,r=abc"[..],
                ScramError::UnsupportedChannelBinding,
            ),
            (b"n,a=eve,n=bob,r=abc", ScramError::AuthzidMismatch),
            (
                b"n,,m=x,n=bob,r=abc",
                ScramError::UnsupportedMandatoryExtension,
            ),
            (
                b"n,,n=bob,r=abc,tokenauth=true",
                ScramError::TokenAuthUnsupported,
            ),
            (
                b"n,,n=bob,r=abc,tokenauth=TRUE",
                ScramError::TokenAuthUnsupported,
            ),
        ];
        for (message, error) in refused {
            assert_eq!(ScramServer::start(mech, message).unwrap_err(), error);
        }
        // Other extensions are accepted and ignored.
        ScramServer::start(mech, b"n,,n=bob,r=abc,tokenauth=false,x=1").unwrap();
    }

    #[test]
    fn channel_binding_must_repeat_gs2_header() {
        let mech = ScramMechanism::Sha256;
        let (mut server, _) = ScramServer::start(mech, b"y,,n=user,r=abc").unwrap();
        server.server_first(rfc_credential()).unwrap();
        // c=biws is "n,,", but the client sent "y,,".
        let nonce = match &server.state {
            ServerState::AwaitingClientFinal { nonce, .. } => nonce.clone(),
            _ => unreachable!(),
        };
        let message = format!("c=biws,r={nonce},p=AAAA");
        assert_eq!(
            server.client_final(message.as_bytes()),
            Err(ScramError::ChannelBindingMismatch)
        );
    }

    #[test]
    fn nonce_checks() {
        let mech = ScramMechanism::Sha256;
        let (mut server, _) = server_after_first(mech, "pw");
        assert_eq!(
            server.client_final(b"c=biws,r=other,p=AAAA"),
            Err(ScramError::NonceMismatch)
        );
        let mut client = ScramClient::with_nonce(mech, "user", "pw", "abc");
        assert_eq!(
            client.client_final(b"r=xyz123,s=AAAA,i=4096"),
            Err(ScramError::NonceMismatch)
        );
        let mut client = ScramClient::with_nonce(mech, "user", "pw", "abc");
        // The server must add its own nonce.
        assert_eq!(
            client.client_final(b"r=abc,s=AAAA,i=4096"),
            Err(ScramError::NonceMismatch)
        );
    }

    #[test]
    fn client_refuses_few_iterations() {
        let mut client = ScramClient::with_nonce(ScramMechanism::Sha512, "u", "pw", "abc");
        assert_eq!(
            client.client_final(b"r=abcdef,s=AAAA,i=4095"),
            Err(ScramError::IterationsTooLow(4095))
        );
    }

    #[test]
    fn steps_out_of_order_are_errors() {
        let mech = ScramMechanism::Sha256;
        let (mut server, _) = ScramServer::start(mech, b"n,,n=user,r=abc").unwrap();
        assert!(matches!(
            server.client_final(b"c=biws,r=abc,p=AAAA"),
            Err(ScramError::OutOfOrder(_))
        ));
        server.server_first(rfc_credential()).unwrap();
        assert!(matches!(
            server.server_first(rfc_credential()),
            Err(ScramError::OutOfOrder(_))
        ));
        assert!(server.client_final(b"garbage").is_err());
        // One attempt only, even after a failure.
        assert!(matches!(
            server.client_final(b"c=biws,r=abc,p=AAAA"),
            Err(ScramError::OutOfOrder(_))
        ));

        let mut client = ScramClient::new(mech, "user", "pw");
        assert!(matches!(
            client.verify_server_final(b"v=AAAA"),
            Err(ScramError::OutOfOrder(_))
        ));
        assert!(client.client_final(b"garbage").is_err());
        assert!(matches!(
            client.client_final(b"r=x,s=AAAA,i=4096"),
            Err(ScramError::OutOfOrder(_))
        ));
    }

    #[test]
    fn malformed_client_first() {
        let mech = ScramMechanism::Sha256;
        let bad: &[&[u8]] = &[
            b"",
            b"n",
            b"n,",
            b"n,,",
            b"x,,n=user,r=abc",
            b"n,b=user,n=user,r=abc",
            b"n,,n=user",
            b"n,,r=abc,n=user",
            b"n,,n=,r=abc",
            b"n,,n=us=er,r=abc",
            b"n,,n=us=2,r=abc",
            b"n,,n=user,r=",
            b"n,,n=user,r=a b",
            b"n,,n=user,r=abc,",
            b"n,,n=user,r=abc,=x",
            b"n,,n=user,r=abc,1=x",
            b"n,,n=user,r=abc,novalue",
            b"n,,n=u\0ser,r=abc",
            b"n,,n=\xff,r=abc",
        ];
        for message in bad {
            assert!(
                matches!(
                    ScramServer::start(mech, message),
                    Err(ScramError::Malformed(_))
                ),
                "{:?}",
                String::from_utf8_lossy(message)
            );
        }
    }

    #[test]
    fn malformed_client_final() {
        let bad: &[&[u8]] = &[
            b"",
            b"c=biws",
            b"c=biws,r=abc",
            b"r=abc,c=biws,p=AAAA",
            b"c=b!ws,r=abc,p=AAAA",
            b"c=biws,r=abc,p=not base64",
            b"c=biws,r=abc,p=AAAA,x=1",
            b"\xff\xfe",
        ];
        for message in bad {
            let (mut server, _) = server_after_first(ScramMechanism::Sha256, "pw");
            assert!(
                matches!(server.client_final(message), Err(ScramError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(message)
            );
        }
    }

    #[test]
    fn short_proof_is_invalid_not_a_panic() {
        let mech = ScramMechanism::Sha512;
        let mut client = ScramClient::new(mech, "user", "pw");
        let (mut server, _) = ScramServer::start(mech, &client.client_first()).unwrap();
        let server_first = server
            .server_first(ScramCredential::generate(mech, b"pw", 4096))
            .unwrap();
        let good = String::from_utf8(client.client_final(&server_first).unwrap()).unwrap();
        let (without_proof, _) = good.rsplit_once(",p=").unwrap();
        let short = format!("{without_proof},p=AAAA");
        assert_eq!(
            server.client_final(short.as_bytes()),
            Err(ScramError::InvalidProof)
        );
    }

    #[test]
    fn malformed_server_messages() {
        let bad: &[&[u8]] = &[
            b"",
            b"r=abcdef",
            b"r=abcdef,s=AAAA",
            b"r=abcdef,s=AA!A,i=4096",
            b"r=abcdef,s=AAAA,i=",
            b"r=abcdef,s=AAAA,i=+4096",
            b"r=abcdef,s=AAAA,i=99999999999",
            b"s=AAAA,r=abcdef,i=4096",
            b"\xc3\x28",
        ];
        for message in bad {
            let mut client = ScramClient::with_nonce(ScramMechanism::Sha256, "u", "pw", "abc");
            assert!(
                matches!(client.client_final(message), Err(ScramError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(message)
            );
        }
        let mut client = ScramClient::with_nonce(ScramMechanism::Sha256, "u", "pw", "abc");
        assert_eq!(
            client.client_final(b"m=x,r=abcdef,s=AAAA,i=4096"),
            Err(ScramError::UnsupportedMandatoryExtension)
        );
        client
            .client_final(RFC_SERVER_FIRST.as_bytes())
            .unwrap_err();

        let mut client = ScramClient::with_nonce(ScramMechanism::Sha256, "u", "pw", "abc");
        client.client_final(b"r=abcdef,s=AAAA,i=4096").unwrap();
        for message in [&b""[..], b"x=1", b"v=!!", b"\xff"] {
            assert!(matches!(
                client.verify_server_final(message),
                Err(ScramError::Malformed(_))
            ));
        }
    }

    #[test]
    fn kafka_string_round_trip() {
        let credential = ScramCredential::generate(ScramMechanism::Sha512, b"pw", 8192);
        let text = credential.to_kafka_string();
        assert!(text.starts_with("salt="), "{text}");
        assert!(text.ends_with(",iterations=8192"), "{text}");
        assert_eq!(
            ScramCredential::from_kafka_string(&text).unwrap(),
            credential
        );

        let reordered = format!(
            "iterations=4096,server_key={},future=1,stored_key={},salt={}",
            BASE64.encode([3]),
            BASE64.encode([2]),
            BASE64.encode([1])
        );
        let parsed = ScramCredential::from_kafka_string(&reordered).unwrap();
        assert_eq!(parsed.salt, [1]);
        assert_eq!(parsed.stored_key, [2]);
        assert_eq!(parsed.server_key, [3]);
        assert_eq!(parsed.iterations, 4096);
    }

    #[test]
    fn malformed_kafka_strings() {
        let bad = [
            "",
            "salt=AAAA",
            "salt=AAAA,stored_key=AAAA,server_key=AAAA",
            "salt=AAAA,stored_key=AAAA,server_key=AAAA,iterations=x",
            "salt=AAAA,stored_key=AAAA,server_key=AAAA,iterations=-1",
            "salt=AA!A,stored_key=AAAA,server_key=AAAA,iterations=4096",
            "salt=AAAA,salt=AAAA,stored_key=AAAA,server_key=AAAA,iterations=4096",
            "salt=AAAA,stored_key=AAAA,server_key=AAAA,iterations=4096,junk",
        ];
        for text in bad {
            assert!(
                matches!(
                    ScramCredential::from_kafka_string(text),
                    Err(ScramError::Malformed(_))
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn salted_password_gives_same_credential() {
        for mech in ScramMechanism::ALL {
            let salt = b"NaCl";
            let salted = ScramCredential::salted_password(mech, b"pw", salt, 4096);
            assert_eq!(
                ScramCredential::from_salted_password(mech, &salted, salt, 4096),
                ScramCredential::from_password(mech, b"pw", salt, 4096)
            );
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let credential = rfc_credential();
        let debug = format!("{credential:?}");
        assert!(
            !debug.contains(&BASE64.encode(&credential.server_key)),
            "{debug}"
        );
        let client = ScramClient::new(ScramMechanism::Sha256, "user", "hunter2");
        assert!(!format!("{client:?}").contains("hunter2"));
    }

    /// Messages shaped like client-first, to get past the first checks.
    fn client_first_like() -> impl Strategy<Value = Vec<u8>> {
        "[nyp]=?[a-z]{0,3},(a=[a-z=23CD,]{0,6})?,(m=x,)?n=[a-z=23CD,]{0,8},r=[!-~]{0,10}(,[a-z]{1,9}=[^,]{0,5}){0,3}"
            .prop_map(String::into_bytes)
    }

    /// Messages shaped like server-first for a client whose nonce is `abc`.
    fn server_first_like() -> impl Strategy<Value = Vec<u8>> {
        "r=abc[!-~]{0,6},s=[A-Za-z0-9+/=]{0,8},i=[0-9+]{0,4}(,[a-z]=[^,]{0,4}){0,2}"
            .prop_map(String::into_bytes)
    }

    proptest! {
        #[test]
        fn server_start_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = ScramServer::start(ScramMechanism::Sha256, &bytes);
        }

        #[test]
        fn server_start_shaped_never_panics(bytes in client_first_like()) {
            let _ = ScramServer::start(ScramMechanism::Sha512, &bytes);
        }

        #[test]
        fn server_client_final_never_panics(
            bytes in prop::collection::vec(any::<u8>(), 0..128),
            shaped in "c=[A-Za-z0-9+/=]{0,6},r=[!-~]{0,8}(,[a-z]=[^,]{0,3}){0,2},p=[A-Za-z0-9+/=]{0,12}",
        ) {
            let (mut server, _) =
                ScramServer::start(ScramMechanism::Sha256, b"n,,n=user,r=abc").unwrap();
            server.server_first_with_nonce(rfc_credential(), "def").unwrap();
            let _ = server.client_final(&bytes);
            let (mut server, _) =
                ScramServer::start(ScramMechanism::Sha256, b"n,,n=user,r=abc").unwrap();
            server.server_first_with_nonce(rfc_credential(), "def").unwrap();
            let _ = server.client_final(shaped.as_bytes());
        }

        #[test]
        fn client_final_never_panics(
            bytes in prop::collection::vec(any::<u8>(), 0..128),
            shaped in server_first_like(),
        ) {
            let mut client = ScramClient::with_nonce(ScramMechanism::Sha256, "u", "pw", "abc");
            let _ = client.client_final(&bytes);
            let mut client = ScramClient::with_nonce(ScramMechanism::Sha256, "u", "pw", "abc");
            if client.client_final(&shaped).is_ok() {
                let _ = client.verify_server_final(&bytes);
            }
        }
    }
}
