//! The JAAS configuration value Kafka uses in `sasl.jaas.config` and
//! `listener.name.<listener>.<mechanism>.sasl.jaas.config`, e.g.
//!
//! ```text
//! org.apache.kafka.common.security.plain.PlainLoginModule required
//!     username="admin" password="admin-secret"
//!     user_admin="admin-secret" user_alice="alice-secret";
//! ```
//!
//! Runnel loads no Java classes; the entry is parsed so that existing Kafka
//! configuration files keep working, and the broker reads the options it
//! understands (the client's own `username`/`password`, and PLAIN's
//! `user_<name>` table). Which login module an entry must name is the
//! caller's check, against [`PLAIN_LOGIN_MODULE`] or [`SCRAM_LOGIN_MODULE`].
//!
//! The syntax follows Kafka's parser (Java's `StreamTokenizer`): tokens are
//! separated by any whitespace, `//` and `/* */` comments are skipped, values
//! are bare tokens or strings in `"` or `'` with backslash escapes, and the
//! entry ends with `;`. As in Kafka, a repeated option keeps its last value
//! and the control flag is case-insensitive.
//!
//! [`parse_file`] reads the other form, a whole JAAS login configuration
//! file as the JVM finds it through `java.security.auth.login.config`
//! (ZooKeeper's `Server` section on coord, the `Client` section a broker
//! logs in to coord with): sections `Name { entry; entry; };` whose
//! entries are the same syntax, with `#` comments too; a name that appears
//! twice adds its entries to the first.

use std::collections::BTreeMap;
use std::fmt;

/// The login module class for SASL/PLAIN.
pub const PLAIN_LOGIN_MODULE: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";
/// The login module class for SASL/SCRAM.
pub const SCRAM_LOGIN_MODULE: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";
/// ZooKeeper's login module for DIGEST-MD5: `user_<name>` options in a
/// server's section, `username`/`password` in a client's.
pub const ZK_DIGEST_LOGIN_MODULE: &str = "org.apache.zookeeper.server.auth.DigestLoginModule";
/// Java's Kerberos login module: a section with it asks for GSSAPI, which
/// Runnel does not speak.
pub const KERBEROS_LOGIN_MODULE: &str = "com.sun.security.auth.module.Krb5LoginModule";

/// The control flags JAAS defines. Kafka accepts them all, though with a
/// single entry they make no difference.
const FLAGS: [&str; 4] = ["required", "requisite", "sufficient", "optional"];

/// One login module entry.
#[derive(Clone, PartialEq, Eq)]
pub struct JaasEntry {
    /// The login module's Java class name.
    pub login_module: String,
    /// The control flag, in lower case.
    pub flag: String,
    pub options: BTreeMap<String, String>,
}

impl fmt::Debug for JaasEntry {
    /// Option values are left out: they are mostly passwords.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JaasEntry")
            .field("login_module", &self.login_module)
            .field("flag", &self.flag)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl JaasEntry {
    /// The `username` option: who this process authenticates as.
    pub fn username(&self) -> Option<&str> {
        self.option("username")
    }

    /// The `password` option: the secret this process authenticates with.
    pub fn password(&self) -> Option<&str> {
        self.option("password")
    }

    /// PlainLoginModule's `user_<name>="<password>"` options: the users a
    /// PLAIN listener accepts, by name. Options named just `user_` are
    /// skipped, since PLAIN refuses empty usernames anyway.
    pub fn plain_users(&self) -> BTreeMap<String, String> {
        self.options
            .iter()
            .filter_map(|(key, value)| {
                let name = key.strip_prefix("user_")?;
                (!name.is_empty()).then(|| (name.to_owned(), value.clone()))
            })
            .collect()
    }

    fn option(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }
}

/// Where in the configuration text a problem is, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Why a JAAS configuration value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JaasError {
    #[error("JAAS config contains no login module entry")]
    Empty,
    /// `sasl.jaas.config` configures one login, so Kafka allows one entry.
    #[error("JAAS config contains {0} login module entries; exactly one is allowed")]
    MultipleEntries(usize),
    #[error("{at}: expected {expected}, found {found}")]
    Unexpected {
        at: Position,
        expected: &'static str,
        found: String,
    },
    #[error("{at}: invalid login module control flag {flag:?} (expected required, requisite, sufficient or optional)")]
    InvalidFlag { at: Position, flag: String },
    #[error("{at}: value not specified for option {key:?}")]
    MissingValue { at: Position, key: String },
    #[error("{at}: JAAS config entry not terminated by ';'")]
    MissingSemicolon { at: Position },
    #[error("{at}: unterminated quoted string")]
    UnterminatedQuote { at: Position },
    #[error("{at}: unterminated /* comment")]
    UnterminatedComment { at: Position },
}

/// Parses a JAAS login configuration file into its sections, by name.
pub fn parse_file(text: &str) -> Result<BTreeMap<String, Vec<JaasEntry>>, JaasError> {
    let mut lexer = Lexer::new(text);
    lexer.hash_comments = true;
    let mut sections: BTreeMap<String, Vec<JaasEntry>> = BTreeMap::new();
    while let Some((at, token)) = lexer.next_token()? {
        let (Token::Word(name) | Token::Quoted(name)) = token else {
            return Err(unexpected(at, "a section name", Some(&token)));
        };
        match lexer.next_token()? {
            Some((_, Token::Open)) => {}
            other => return Err(unexpected_next(&lexer, "'{'", other)),
        }
        let entries = sections.entry(name).or_default();
        loop {
            match lexer.next_token()? {
                Some((_, Token::Close)) => break,
                Some((_, Token::Word(login_module))) => {
                    entries.push(parse_entry_rest(&mut lexer, login_module)?);
                }
                other => {
                    return Err(unexpected_next(
                        &lexer,
                        "a login module class name or '}'",
                        other,
                    ))
                }
            }
        }
        match lexer.next_token()? {
            Some((_, Token::Semicolon)) => {}
            other => return Err(unexpected_next(&lexer, "';' after '}'", other)),
        }
    }
    Ok(sections)
}

/// The `user_<name>="<password>"` options of a section's entries (see
/// [`JaasEntry::plain_users`]); a later entry's user replaces an earlier
/// one's, as in ZooKeeper's `SaslServerCallbackHandler`.
pub fn section_users(entries: &[JaasEntry]) -> BTreeMap<String, String> {
    entries.iter().flat_map(JaasEntry::plain_users).collect()
}

/// Parses a `sasl.jaas.config` value: exactly one entry,
/// `<login module> <flag> [<key>=<value> ...];`.
pub fn parse_jaas(text: &str) -> Result<JaasEntry, JaasError> {
    let mut entries = parse_entries(text)?;
    match entries.len() {
        0 => Err(JaasError::Empty),
        1 => Ok(entries.remove(0)),
        n => Err(JaasError::MultipleEntries(n)),
    }
}

fn parse_entries(text: &str) -> Result<Vec<JaasEntry>, JaasError> {
    let mut lexer = Lexer::new(text);
    let mut entries = Vec::new();
    while let Some((at, token)) = lexer.next_token()? {
        let Token::Word(login_module) = token else {
            return Err(unexpected(at, "login module class name", Some(&token)));
        };
        entries.push(parse_entry_rest(&mut lexer, login_module)?);
    }
    Ok(entries)
}

/// The flag, options and `;` after a login module name.
fn parse_entry_rest(lexer: &mut Lexer<'_>, login_module: String) -> Result<JaasEntry, JaasError> {
    let flag = match lexer.next_token()? {
        Some((at, Token::Word(flag))) => parse_flag(at, &flag)?,
        Some((at, token)) => return Err(unexpected(at, "control flag", Some(&token))),
        None => return Err(unexpected(lexer.position(), "control flag", None)),
    };
    let mut options = BTreeMap::new();
    loop {
        match lexer.next_token()? {
            Some((_, Token::Semicolon)) => break,
            Some((at, Token::Word(key))) => {
                let value = parse_value(lexer, at, &key)?;
                options.insert(key, value);
            }
            Some((at, token)) => {
                return Err(unexpected(at, "option name or ';'", Some(&token)));
            }
            None => {
                return Err(JaasError::MissingSemicolon {
                    at: lexer.position(),
                })
            }
        }
    }
    Ok(JaasEntry {
        login_module,
        flag,
        options,
    })
}

fn parse_flag(at: Position, flag: &str) -> Result<String, JaasError> {
    let lower = flag.to_ascii_lowercase();
    if FLAGS.contains(&lower.as_str()) {
        Ok(lower)
    } else {
        Err(JaasError::InvalidFlag {
            at,
            flag: flag.to_owned(),
        })
    }
}

/// `= <value>` after an option name at `at`.
fn parse_value(lexer: &mut Lexer<'_>, at: Position, key: &str) -> Result<String, JaasError> {
    let missing = || JaasError::MissingValue {
        at,
        key: key.to_owned(),
    };
    if !matches!(lexer.next_token()?, Some((_, Token::Equals))) {
        return Err(missing());
    }
    match lexer.next_token()? {
        Some((_, Token::Word(value) | Token::Quoted(value))) => Ok(value),
        _ => Err(missing()),
    }
}

/// [`unexpected`] for a token just read (or the end where `next` is None).
fn unexpected_next(
    lexer: &Lexer<'_>,
    expected: &'static str,
    next: Option<(Position, Token)>,
) -> JaasError {
    match next {
        Some((at, token)) => unexpected(at, expected, Some(&token)),
        None => unexpected(lexer.position(), expected, None),
    }
}

fn unexpected(at: Position, expected: &'static str, found: Option<&Token>) -> JaasError {
    let found = match found {
        Some(Token::Word(word)) => format!("{word:?}"),
        Some(Token::Quoted(_)) => "a quoted string".to_owned(),
        Some(Token::Equals) => "'='".to_owned(),
        Some(Token::Semicolon) => "';'".to_owned(),
        Some(Token::Open) => "'{'".to_owned(),
        Some(Token::Close) => "'}'".to_owned(),
        None => "the end".to_owned(),
    };
    JaasError::Unexpected {
        at,
        expected,
        found,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A bare run of characters: class names, flags, keys, unquoted values.
    Word(String),
    /// A quoted string, escapes resolved.
    Quoted(String),
    Equals,
    Semicolon,
    /// `{` and `}` around a section of a JAAS file.
    Open,
    Close,
}

/// Splits the text into tokens, tracking line and column for messages.
struct Lexer<'a> {
    rest: &'a str,
    line: usize,
    column: usize,
    /// `#` starts a comment (JAAS files; not Kafka's `sasl.jaas.config`).
    hash_comments: bool,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        Lexer {
            rest: text,
            line: 1,
            column: 1,
            hash_comments: false,
        }
    }

    fn position(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }

    fn peek(&self) -> Option<char> {
        self.rest.chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.rest = &self.rest[c.len_utf8()..];
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn next_token(&mut self) -> Result<Option<(Position, Token)>, JaasError> {
        self.skip_whitespace_and_comments()?;
        let at = self.position();
        let token = match self.peek() {
            None => return Ok(None),
            Some('=') => {
                self.bump();
                Token::Equals
            }
            Some(';') => {
                self.bump();
                Token::Semicolon
            }
            Some('{') => {
                self.bump();
                Token::Open
            }
            Some('}') => {
                self.bump();
                Token::Close
            }
            Some(quote @ ('"' | '\'')) => {
                self.bump();
                Token::Quoted(self.quoted(quote, at)?)
            }
            Some(_) => Token::Word(self.word()),
        };
        Ok(Some((at, token)))
    }

    fn skip_whitespace_and_comments(&mut self) -> Result<(), JaasError> {
        loop {
            if self.peek().is_some_and(char::is_whitespace) {
                self.bump();
            } else if self.rest.starts_with("//")
                || (self.hash_comments && self.rest.starts_with('#'))
            {
                while self.bump().is_some_and(|c| c != '\n') {}
            } else if self.rest.starts_with("/*") {
                let at = self.position();
                self.bump();
                self.bump();
                while !self.rest.starts_with("*/") {
                    if self.bump().is_none() {
                        return Err(JaasError::UnterminatedComment { at });
                    }
                }
                self.bump();
                self.bump();
            } else {
                return Ok(());
            }
        }
    }

    /// Characters up to whitespace, a delimiter, a quote or a comment.
    fn word(&mut self) -> String {
        let mut word = String::new();
        while let Some(c) = self.peek() {
            let ends = c.is_whitespace()
                || matches!(c, '=' | ';' | '"' | '\'' | '{' | '}')
                || self.rest.starts_with("//")
                || self.rest.starts_with("/*");
            if ends {
                break;
            }
            word.push(c);
            self.bump();
        }
        word
    }

    /// The rest of a string opened by `quote` at `at`. Backslash escapes as
    /// Java's: `\n`, `\t`, `\r`, and any other character stands for itself
    /// (so `\"`, `\'` and `\\`).
    fn quoted(&mut self, quote: char, at: Position) -> Result<String, JaasError> {
        let mut value = String::new();
        loop {
            match self.bump() {
                None => return Err(JaasError::UnterminatedQuote { at }),
                Some(c) if c == quote => return Ok(value),
                Some('\\') => match self.bump() {
                    None => return Err(JaasError::UnterminatedQuote { at }),
                    Some('n') => value.push('\n'),
                    Some('t') => value.push('\t'),
                    Some('r') => value.push('\r'),
                    Some(other) => value.push(other),
                },
                Some(c) => value.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn options(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn plain_example() {
        let entry = parse_jaas(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";"#,
        )
        .unwrap();
        assert_eq!(entry.login_module, PLAIN_LOGIN_MODULE);
        assert_eq!(entry.flag, "required");
        assert_eq!(entry.username(), Some("admin"));
        assert_eq!(entry.password(), Some("admin-secret"));
        assert_eq!(
            entry.plain_users(),
            options(&[("admin", "admin-secret"), ("alice", "alice-secret")])
        );
    }

    #[test]
    fn scram_example() {
        let entry = parse_jaas(
            r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="admin-secret";"#,
        )
        .unwrap();
        assert_eq!(entry.login_module, SCRAM_LOGIN_MODULE);
        assert_eq!(
            entry.options,
            options(&[("username", "admin"), ("password", "admin-secret")])
        );
        assert!(entry.plain_users().is_empty());
    }

    #[test]
    fn layout_is_free() {
        let text = "\n  org.example.Module   REQUISITE\n\t// a comment\n  a = b /* another\n */ c=\"d e\"\n;\n";
        let entry = parse_jaas(text).unwrap();
        assert_eq!(entry.flag, "requisite");
        assert_eq!(entry.options, options(&[("a", "b"), ("c", "d e")]));
        let entry = parse_jaas("M optional;").unwrap();
        assert_eq!((entry.flag.as_str(), entry.options.len()), ("optional", 0));
    }

    #[test]
    fn escapes() {
        let entry = parse_jaas(
            r#"M sufficient a="say \"hi\"" b="back\\slash" c='it\'s' d="tab\there" e="x;y=z" f="";"#,
        )
        .unwrap();
        assert_eq!(
            entry.options,
            options(&[
                ("a", "say \"hi\""),
                ("b", "back\\slash"),
                ("c", "it's"),
                ("d", "tab\there"),
                ("e", "x;y=z"),
                ("f", ""),
            ])
        );
    }

    #[test]
    fn last_repeated_option_wins() {
        let entry = parse_jaas("M required a=1 a=2;").unwrap();
        assert_eq!(entry.options, options(&[("a", "2")]));
    }

    const ZK_DOC: &str = r#"
        // ZooKeeper's documented server section, and a client one.
        Server {
            org.apache.zookeeper.server.auth.DigestLoginModule required
            user_super="adminsecret"
            user_bob="bobsecret";
        };
        Client { /* the client side */
            org.apache.zookeeper.server.auth.DigestLoginModule Required
            username="bob" password="bob\"secret";
        };
    "#;

    #[test]
    fn zookeepers_documented_file() {
        let sections = parse_file(ZK_DOC).unwrap();
        assert_eq!(
            sections.keys().collect::<Vec<_>>(),
            vec!["Client", "Server"]
        );
        let server = &sections["Server"];
        assert_eq!(server.len(), 1);
        assert_eq!(
            server[0].login_module,
            "org.apache.zookeeper.server.auth.DigestLoginModule"
        );
        assert_eq!(server[0].flag, "required");
        let users = section_users(server);
        assert_eq!(users["super"], "adminsecret");
        assert_eq!(users["bob"], "bobsecret");
        assert_eq!(users.len(), 2);
        let client = &sections["Client"][0];
        assert_eq!(client.flag, "required");
        assert_eq!(client.username(), Some("bob"));
        assert_eq!(client.password(), Some("bob\"secret"));
    }

    #[test]
    fn file_sections_add_up() {
        let text =
            "# hash comment\nServer { a.B optional user_x=\"1\"; c.D sufficient user_y='2'; };\n\
                    Server { e.F requisite user_x=\"3\"; };";
        let sections = parse_file(text).unwrap();
        assert_eq!(sections["Server"].len(), 3);
        let users = section_users(&sections["Server"]);
        assert_eq!((users["x"].as_str(), users["y"].as_str()), ("3", "2"));
        assert_eq!(parse_file("").unwrap().len(), 0);
        assert!(parse_file("Server { };").unwrap()["Server"].is_empty());
        // `#` is a comment in a file only; in sasl.jaas.config it is text.
        let entry = parse_jaas("M required password=a#b;").unwrap();
        assert_eq!(entry.password(), Some("a#b"));
    }

    #[test]
    fn malformed_files_name_the_line() {
        for (text, line) in [
            ("Server {\n a.B required user_x=\"1\"\n};", 3),
            ("Server {\n a.B sometimes;\n};", 2),
            ("Server \n a.B required;\n};", 2),
            ("Server {\n a.B required user_x=\"1;\n};", 2),
            ("Server {\n a.B required user_x;\n};", 2),
            ("Server {\n a.B required;\n}", 3),
            ("/* never\nclosed", 1),
            ("{ a.B required; };", 1),
            ("Server { a.B required x=; };", 1),
        ] {
            let err = parse_file(text).expect_err(text);
            let shown = err.to_string();
            assert!(
                shown.contains(&format!("line {line},")),
                "{text:?}: {shown}"
            );
        }
    }

    #[test]
    fn debug_hides_values() {
        let entry = parse_jaas(r#"M required password="hunter2";"#).unwrap();
        assert!(!format!("{entry:?}").contains("hunter2"));
    }

    #[test]
    fn errors() {
        let at = |line, column| Position { line, column };
        let cases = [
            ("", JaasError::Empty),
            ("  // nothing\n", JaasError::Empty),
            ("A required; B required;", JaasError::MultipleEntries(2)),
            (
                "M required a=\"b\"",
                JaasError::MissingSemicolon { at: at(1, 17) },
            ),
            ("M required", JaasError::MissingSemicolon { at: at(1, 11) }),
            (
                "M required a=\"b;",
                JaasError::UnterminatedQuote { at: at(1, 14) },
            ),
            (
                "M required a=\"b\\",
                JaasError::UnterminatedQuote { at: at(1, 14) },
            ),
            (
                "M\nmandatory;",
                JaasError::InvalidFlag {
                    at: at(2, 1),
                    flag: "mandatory".into(),
                },
            ),
            (
                "M required a;",
                JaasError::MissingValue {
                    at: at(1, 12),
                    key: "a".into(),
                },
            ),
            (
                "M required a=;",
                JaasError::MissingValue {
                    at: at(1, 12),
                    key: "a".into(),
                },
            ),
            (
                "M required a b=c;",
                JaasError::MissingValue {
                    at: at(1, 12),
                    key: "a".into(),
                },
            ),
            (
                "M required /* open",
                JaasError::UnterminatedComment { at: at(1, 12) },
            ),
        ];
        for (text, error) in cases {
            assert_eq!(parse_jaas(text), Err(error), "{text:?}");
        }
        let unexpected = [
            "\"M\" required;",
            "; M required;",
            "M;",
            "M",
            "M required =b;",
        ];
        for text in unexpected {
            assert!(
                matches!(parse_jaas(text), Err(JaasError::Unexpected { .. })),
                "{text:?}"
            );
        }
    }

    #[test]
    fn error_messages_say_where() {
        let error = parse_jaas("M required\n  a=\"b").unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 2, column 5: unterminated quoted string"
        );
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,64}") {
            let _ = parse_jaas(&text);
        }

        #[test]
        fn never_panics_on_jaas_like(text in r#"[A-Za-z.]{0,8} [a-z]{0,9}( [a-z_]{1,6}=("([^"\\]|\\.){0,6}"|[a-z0-9]{0,4}|'[^']{0,4}'?))*( ;|;|//x|/\*)?"#) {
            let _ = parse_jaas(&text);
        }

        #[test]
        fn quoted_values_round_trip(value in "\\PC{0,32}") {
            let quoted = value.replace('\\', "\\\\").replace('"', "\\\"");
            let entry = parse_jaas(&format!("M required k=\"{quoted}\";")).unwrap();
            prop_assert_eq!(entry.options.get("k"), Some(&value));
        }
    }
}
