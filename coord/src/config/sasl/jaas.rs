//! A JAAS login configuration file, the one ZooKeeper finds through the
//! JVM's `java.security.auth.login.config`:
//!
//! ```text
//! Server {
//!     org.apache.zookeeper.server.auth.DigestLoginModule required
//!         user_super="adminsecret"
//!         user_alice="secret";
//! };
//! ```
//!
//! Runnel loads no Java classes; the file is read so that an operator's
//! existing file keeps working. The syntax is Java's `ConfigFile`: sections
//! `Name { entries };`, each entry `<login module> <flag> [key=value ...];`,
//! values quoted with `"` (bare words are taken too), `//`, `/* */` and `#`
//! comments. A name that appears twice adds its entries to the first.

use std::collections::BTreeMap;
use std::fmt;

/// One login module entry of a section.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    pub login_module: String,
    /// The control flag, in lower case.
    pub flag: String,
    pub options: BTreeMap<String, String>,
}

impl fmt::Debug for Entry {
    /// Option values are left out: they are mostly passwords.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("login_module", &self.login_module)
            .field("flag", &self.flag)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Why a JAAS file was refused; `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JaasError {
    #[error("line {line}: expected {expected}, found {found}")]
    Unexpected {
        line: usize,
        expected: &'static str,
        found: String,
    },
    #[error("line {line}: invalid control flag {flag:?} (expected required, requisite, sufficient or optional)")]
    InvalidFlag { line: usize, flag: String },
    #[error("line {line}: unterminated quoted string")]
    UnterminatedQuote { line: usize },
    #[error("line {line}: unterminated /* comment")]
    UnterminatedComment { line: usize },
}

const FLAGS: [&str; 4] = ["required", "requisite", "sufficient", "optional"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Semicolon,
    Equals,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Word(w) => format!("{w:?}"),
            Token::Quoted(_) => "a quoted string".into(),
            Token::Open => "'{'".into(),
            Token::Close => "'}'".into(),
            Token::Semicolon => "';'".into(),
            Token::Equals => "'='".into(),
        }
    }
}

/// Splits the text into tokens with their line numbers.
fn tokens(text: &str) -> Result<Vec<(usize, Token)>, JaasError> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '#' => {
                while chars.peek().is_some_and(|c| *c != '\n') {
                    chars.next();
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                while chars.peek().is_some_and(|c| *c != '\n') {
                    chars.next();
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let start = line;
                chars.next();
                let mut prev = ' ';
                loop {
                    match chars.next() {
                        None => return Err(JaasError::UnterminatedComment { line: start }),
                        Some('/') if prev == '*' => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            // `*/` must not reuse the `*` of the opening `/*`.
                            prev = c;
                        }
                    }
                }
            }
            '{' => out.push((line, Token::Open)),
            '}' => out.push((line, Token::Close)),
            ';' => out.push((line, Token::Semicolon)),
            '=' => out.push((line, Token::Equals)),
            '"' | '\'' => {
                let start = line;
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => return Err(JaasError::UnterminatedQuote { line: start }),
                        Some(q) if q == c => break,
                        Some('\\') => match chars.next() {
                            None => return Err(JaasError::UnterminatedQuote { line: start }),
                            Some(escaped) => value.push(escaped),
                        },
                        Some(other) => {
                            if other == '\n' {
                                line += 1;
                            }
                            value.push(other);
                        }
                    }
                }
                out.push((start, Token::Quoted(value)));
            }
            c => {
                let mut word = String::from(c);
                while let Some(&next) = chars.peek() {
                    if next.is_whitespace() || "{};=\"'".contains(next) {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                out.push((line, Token::Word(word)));
            }
        }
    }
    Ok(out)
}

/// Parses a whole JAAS file into its sections, by name.
pub fn parse(text: &str) -> Result<BTreeMap<String, Vec<Entry>>, JaasError> {
    let tokens = tokens(text)?;
    let last_line = tokens.last().map_or(1, |(line, _)| *line);
    let mut it = tokens.into_iter().peekable();
    let mut sections: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    let unexpected = |at: Option<(usize, Token)>, expected: &'static str| match at {
        Some((line, token)) => JaasError::Unexpected {
            line,
            expected,
            found: token.describe(),
        },
        None => JaasError::Unexpected {
            line: last_line,
            expected,
            found: "the end of the file".into(),
        },
    };
    while let Some(next) = it.next() {
        let name = match next {
            (_, Token::Word(name) | Token::Quoted(name)) => name,
            other => return Err(unexpected(Some(other), "a section name")),
        };
        match it.next() {
            Some((_, Token::Open)) => {}
            other => return Err(unexpected(other, "'{'")),
        }
        let entries = sections.entry(name).or_default();
        loop {
            let login_module = match it.next() {
                Some((_, Token::Close)) => break,
                Some((_, Token::Word(module))) => module,
                other => return Err(unexpected(other, "a login module class name or '}'")),
            };
            let flag = match it.next() {
                Some((line, Token::Word(flag))) => {
                    let lower = flag.to_ascii_lowercase();
                    if !FLAGS.contains(&lower.as_str()) {
                        return Err(JaasError::InvalidFlag { line, flag });
                    }
                    lower
                }
                other => return Err(unexpected(other, "a control flag")),
            };
            let mut options = BTreeMap::new();
            loop {
                let key = match it.next() {
                    Some((_, Token::Semicolon)) => break,
                    Some((_, Token::Word(key))) => key,
                    other => return Err(unexpected(other, "an option name or ';'")),
                };
                match it.next() {
                    Some((_, Token::Equals)) => {}
                    other => return Err(unexpected(other, "'=' after an option name")),
                }
                let value = match it.next() {
                    Some((_, Token::Quoted(v) | Token::Word(v))) => v,
                    other => return Err(unexpected(other, "an option value")),
                };
                options.insert(key, value);
            }
            entries.push(Entry {
                login_module,
                flag,
                options,
            });
        }
        match it.next() {
            Some((_, Token::Semicolon)) => {}
            other => return Err(unexpected(other, "';' after '}'")),
        }
    }
    Ok(sections)
}

/// The `user_<name>="<password>"` options of a section's entries: the users
/// ZooKeeper's `SaslServerCallbackHandler` accepts. A later entry's user
/// replaces an earlier one's, as it does in ZooKeeper's map.
pub fn users(entries: &[Entry]) -> BTreeMap<String, String> {
    entries
        .iter()
        .flat_map(|e| e.options.iter())
        .filter_map(|(key, value)| {
            let name = key.strip_prefix("user_")?;
            (!name.is_empty()).then(|| (name.to_string(), value.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let sections = parse(ZK_DOC).unwrap();
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
        let users = users(server);
        assert_eq!(users["super"], "adminsecret");
        assert_eq!(users["bob"], "bobsecret");
        assert_eq!(users.len(), 2);
        let client = &sections["Client"][0];
        assert_eq!(client.flag, "required");
        assert_eq!(client.options["password"], "bob\"secret");
    }

    #[test]
    fn several_entries_and_repeated_sections_add_up() {
        let text =
            "# hash comment\nServer { a.B optional user_x=\"1\"; c.D sufficient user_y='2'; };\n\
                    Server { e.F requisite user_x=\"3\"; };";
        let sections = parse(text).unwrap();
        assert_eq!(sections["Server"].len(), 3);
        let users = users(&sections["Server"]);
        assert_eq!((users["x"].as_str(), users["y"].as_str()), ("3", "2"));
        assert_eq!(parse("").unwrap().len(), 0);
        assert!(parse("Server { };").unwrap()["Server"].is_empty());
    }

    #[test]
    fn malformed_files_name_the_line() {
        for (text, line) in [
            ("Server {\n a.B required user_x=\"1\"\n};", 3),
            ("Server {\n a.B sometimes;\n};", 2),
            ("Server \n a.B required;\n};", 2),
            ("Server {\n a.B required user_x=\"1;\n};", 2),
            ("Server {\n a.B required user_x;\n};", 2),
            ("Server {\n a.B required;\n}\n", 3),
            ("/* never\nclosed", 1),
            ("{ a.B required; };", 1),
            ("Server { a.B required x=; };", 1),
        ] {
            let err = parse(text).expect_err(text);
            let shown = err.to_string();
            assert!(shown.contains(&format!("line {line}")), "{text:?}: {shown}");
        }
    }

    #[test]
    fn debug_hides_passwords() {
        let sections = parse("Server { a.B required user_x=\"topsecret\"; };").unwrap();
        let shown = format!("{:?}", sections["Server"]);
        assert!(
            shown.contains("user_x") && !shown.contains("topsecret"),
            "{shown}"
        );
    }
}
