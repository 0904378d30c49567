//! From a typed line to a [`Command`], without touching the network.
//!
//! Parsing is kept apart from execution so that every flag, usage message and
//! path check can be unit-tested without a server. Words are split the way
//! zkCli splits them (`"a b"` and `'a b'` are one word, quotes removed), flags
//! may appear anywhere on the line and boolean flags may be combined (`-es`),
//! as Apache commons-cli lets zkCli users do.

/// What kind of znode `create` makes. Sequential is a separate flag because
/// any persistent or ephemeral node may also be sequential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Persistent,
    Ephemeral,
    Container,
}

/// One shell command with its flags resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ls {
        path: String,
        stat: bool,
        watch: bool,
        recursive: bool,
    },
    Get {
        path: String,
        stat: bool,
        watch: bool,
    },
    Stat {
        path: String,
        watch: bool,
    },
    Create {
        path: String,
        /// `None` when no data word was given (zkCli stores "no data").
        data: Option<String>,
        kind: NodeKind,
        sequential: bool,
        /// Time to live in milliseconds (`-t`), persistent nodes only.
        ttl_ms: Option<u64>,
    },
    Set {
        path: String,
        data: String,
        version: Option<i32>,
        stat: bool,
    },
    Delete {
        path: String,
        version: Option<i32>,
    },
    DeleteAll {
        path: String,
    },
    GetAllChildrenNumber {
        path: String,
    },
    GetEphemerals {
        path: String,
    },
    Sync {
        path: String,
    },
    Watch {
        path: String,
        recursive: bool,
        /// Stop after this many events; `None` runs until EOF or Ctrl-C.
        count: Option<u64>,
    },
    Help,
    Quit,
}

/// Why a line is not a command. The `Display` text is what the shell prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("Command not found: {0}")]
    UnknownCommand(String),
    /// Missing or extra words; prints the command's usage line as zkCli does.
    #[error("{0}")]
    Usage(&'static str),
    #[error("Unrecognized option: {option}\n{usage}")]
    UnknownOption { option: String, usage: &'static str },
    #[error("Missing argument for option: {option}\n{usage}")]
    MissingValue { option: char, usage: &'static str },
    /// A flag value or flag combination zkCli refuses; the message is zkCli's.
    #[error("{0}")]
    Invalid(String),
    /// A path ZooKeeper would refuse; the message is `PathUtils.validatePath`'s.
    #[error("{0}")]
    BadPath(String),
}

/// Usage lines, spelled as zkCli spells them (plus our `watch`).
pub mod usage {
    pub const LS: &str = "ls [-s] [-w] [-R] path";
    pub const GET: &str = "get [-s] [-w] path";
    pub const STAT: &str = "stat [-w] path";
    pub const CREATE: &str = "create [-s] [-e] [-c] [-t ttl] path [data]";
    pub const SET: &str = "set [-s] [-v version] path data";
    pub const DELETE: &str = "delete [-v version] path";
    pub const DELETEALL: &str = "deleteall path";
    pub const GET_ALL_CHILDREN_NUMBER: &str = "getAllChildrenNumber path";
    pub const GET_EPHEMERALS: &str = "getEphemerals [path]";
    pub const SYNC: &str = "sync path";
    pub const WATCH: &str = "watch [-r] [-n count] path";
    pub const HELP: &str = "help";
    pub const QUIT: &str = "quit";

    /// Every command, in the order `help` lists them.
    pub const ALL: &[&str] = &[
        CREATE,
        DELETE,
        DELETEALL,
        GET,
        GET_ALL_CHILDREN_NUMBER,
        GET_EPHEMERALS,
        HELP,
        LS,
        QUIT,
        SET,
        STAT,
        SYNC,
        WATCH,
    ];
}

/// Splits a line into words like zkCli: whitespace separates words, a word
/// that starts with `"` or `'` runs to the matching quote and loses both quotes.
/// An unterminated quote runs to the end of the line.
pub fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(first) = chars.next() else {
            return words;
        };
        let mut word = String::new();
        if first == '"' || first == '\'' {
            for c in chars.by_ref() {
                if c == first {
                    break;
                }
                word.push(c);
            }
        } else {
            word.push(first);
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                word.push(c);
            }
        }
        words.push(word);
    }
}

/// Flags of one command: which take a value, and the usage line for errors.
struct FlagSpec {
    boolean: &'static [char],
    valued: &'static [char],
    usage: &'static str,
}

/// Words of a command split into flags and positional arguments.
#[derive(Default)]
struct Parsed {
    flags: Vec<char>,
    values: Vec<(char, String)>,
    args: Vec<String>,
}

impl Parsed {
    fn has(&self, flag: char) -> bool {
        self.flags.contains(&flag) || self.values.iter().any(|(f, _)| *f == flag)
    }

    fn value(&self, flag: char) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(f, _)| *f == flag)
            .map(|(_, v)| v.as_str())
    }
}

fn split_flags(words: &[String], spec: &FlagSpec) -> Result<Parsed, ParseError> {
    let mut parsed = Parsed::default();
    let mut iter = words.iter();
    while let Some(word) = iter.next() {
        let Some(body) = word.strip_prefix('-').filter(|b| !b.is_empty()) else {
            parsed.args.push(word.clone());
            continue;
        };
        let unknown = || ParseError::UnknownOption {
            option: word.clone(),
            usage: spec.usage,
        };
        let mut letters = body.chars();
        while let Some(letter) = letters.next() {
            if spec.boolean.contains(&letter) {
                parsed.flags.push(letter);
            } else if spec.valued.contains(&letter) {
                // `-v5` and `-v 5` are both accepted, as commons-cli does.
                let rest: String = letters.by_ref().collect();
                let value = if rest.is_empty() {
                    iter.next().cloned().ok_or(ParseError::MissingValue {
                        option: letter,
                        usage: spec.usage,
                    })?
                } else {
                    rest
                };
                parsed.values.push((letter, value));
            } else {
                return Err(unknown());
            }
        }
    }
    Ok(parsed)
}

/// Parses a line typed at the prompt. `Ok(None)` for a blank line.
pub fn parse_line(line: &str) -> Result<Option<Command>, ParseError> {
    let words = split_words(line);
    if words.is_empty() {
        return Ok(None);
    }
    parse_words(&words).map(Some)
}

/// Parses a command given as words (the one-shot form: `shell get /x`).
pub fn parse_words(words: &[String]) -> Result<Command, ParseError> {
    let Some((name, rest)) = words.split_first() else {
        return Err(ParseError::UnknownCommand(String::new()));
    };
    match name.as_str() {
        "ls" => parse_ls(rest),
        "get" => parse_get(rest),
        "stat" => parse_stat(rest),
        "create" => parse_create(rest),
        "set" => parse_set(rest),
        "delete" => parse_delete(rest),
        "deleteall" => {
            let p = one_path(rest, &[], &[], usage::DELETEALL)?;
            Ok(Command::DeleteAll { path: p.0 })
        }
        "getAllChildrenNumber" => {
            let p = one_path(rest, &[], &[], usage::GET_ALL_CHILDREN_NUMBER)?;
            Ok(Command::GetAllChildrenNumber { path: p.0 })
        }
        "getEphemerals" => parse_get_ephemerals(rest),
        "sync" => {
            let p = one_path(rest, &[], &[], usage::SYNC)?;
            Ok(Command::Sync { path: p.0 })
        }
        "watch" => parse_watch(rest),
        "help" => no_args(rest, usage::HELP, Command::Help),
        "quit" | "exit" => no_args(rest, usage::QUIT, Command::Quit),
        other => Err(ParseError::UnknownCommand(other.to_string())),
    }
}

fn no_args(rest: &[String], usage: &'static str, command: Command) -> Result<Command, ParseError> {
    if rest.is_empty() {
        Ok(command)
    } else {
        Err(ParseError::Usage(usage))
    }
}

/// The common shape "flags, then exactly one path".
fn one_path(
    rest: &[String],
    boolean: &'static [char],
    valued: &'static [char],
    usage: &'static str,
) -> Result<(String, Parsed), ParseError> {
    let parsed = split_flags(
        rest,
        &FlagSpec {
            boolean,
            valued,
            usage,
        },
    )?;
    match parsed.args.as_slice() {
        [path] => {
            validate_path(path, false)?;
            Ok((path.clone(), parsed))
        }
        _ => Err(ParseError::Usage(usage)),
    }
}

fn parse_ls(rest: &[String]) -> Result<Command, ParseError> {
    let (path, p) = one_path(rest, &['s', 'w', 'R'], &[], usage::LS)?;
    Ok(Command::Ls {
        path,
        stat: p.has('s'),
        watch: p.has('w'),
        recursive: p.has('R'),
    })
}

fn parse_get(rest: &[String]) -> Result<Command, ParseError> {
    let (path, p) = one_path(rest, &['s', 'w'], &[], usage::GET)?;
    Ok(Command::Get {
        path,
        stat: p.has('s'),
        watch: p.has('w'),
    })
}

fn parse_stat(rest: &[String]) -> Result<Command, ParseError> {
    let (path, p) = one_path(rest, &['w'], &[], usage::STAT)?;
    Ok(Command::Stat {
        path,
        watch: p.has('w'),
    })
}

fn parse_create(rest: &[String]) -> Result<Command, ParseError> {
    let p = split_flags(
        rest,
        &FlagSpec {
            boolean: &['s', 'e', 'c'],
            valued: &['t'],
            usage: usage::CREATE,
        },
    )?;
    let (path, data) = match p.args.as_slice() {
        [path] => (path.clone(), None),
        [path, data] => (path.clone(), Some(data.clone())),
        _ => return Err(ParseError::Usage(usage::CREATE)),
    };
    let (sequential, ephemeral, container) = (p.has('s'), p.has('e'), p.has('c'));
    if container && (sequential || ephemeral) {
        return Err(ParseError::Invalid(
            "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential."
                .into(),
        ));
    }
    let ttl_ms = match p.value('t') {
        None => None,
        Some(text) => {
            if ephemeral {
                return Err(ParseError::Invalid(
                    "TTLs cannot be used with Ephemeral znodes".into(),
                ));
            }
            if container {
                return Err(ParseError::Invalid(
                    "TTLs cannot be used with Container znodes".into(),
                ));
            }
            let ttl = text
                .parse::<u64>()
                .map_err(|_| ParseError::Invalid("-t argument must be a long value".into()))?;
            Some(ttl)
        }
    };
    validate_path(&path, sequential)?;
    let kind = if container {
        NodeKind::Container
    } else if ephemeral {
        NodeKind::Ephemeral
    } else {
        NodeKind::Persistent
    };
    Ok(Command::Create {
        path,
        data,
        kind,
        sequential,
        ttl_ms,
    })
}

fn parse_version(p: &Parsed) -> Result<Option<i32>, ParseError> {
    p.value('v')
        .map(|text| {
            text.parse::<i32>().map_err(|_| {
                ParseError::Invalid(format!("version must be an integer, found {text:?}"))
            })
        })
        .transpose()
}

fn parse_set(rest: &[String]) -> Result<Command, ParseError> {
    let p = split_flags(
        rest,
        &FlagSpec {
            boolean: &['s'],
            valued: &['v'],
            usage: usage::SET,
        },
    )?;
    let [path, data] = p.args.as_slice() else {
        return Err(ParseError::Usage(usage::SET));
    };
    validate_path(path, false)?;
    Ok(Command::Set {
        path: path.clone(),
        data: data.clone(),
        version: parse_version(&p)?,
        stat: p.has('s'),
    })
}

fn parse_delete(rest: &[String]) -> Result<Command, ParseError> {
    let (path, p) = one_path(rest, &[], &['v'], usage::DELETE)?;
    Ok(Command::Delete {
        path,
        version: parse_version(&p)?,
    })
}

fn parse_get_ephemerals(rest: &[String]) -> Result<Command, ParseError> {
    match rest {
        [] => Ok(Command::GetEphemerals { path: "/".into() }),
        _ => {
            let (path, _) = one_path(rest, &[], &[], usage::GET_EPHEMERALS)?;
            Ok(Command::GetEphemerals { path })
        }
    }
}

fn parse_watch(rest: &[String]) -> Result<Command, ParseError> {
    let (path, p) = one_path(rest, &['r'], &['n'], usage::WATCH)?;
    let count = p
        .value('n')
        .map(|text| match text.parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(ParseError::Invalid(format!(
                "-n must be a positive count, found {text:?}"
            ))),
        })
        .transpose()?;
    Ok(Command::Watch {
        path,
        recursive: p.has('r'),
        count,
    })
}

/// Checks a path the way ZooKeeper's `PathUtils.validatePath` does, with its
/// messages, so a bad path is refused before any request is sent. A
/// sequential path is checked with a digit appended (it may end in `/`).
pub fn validate_path(path: &str, sequential: bool) -> Result<(), ParseError> {
    let owned;
    let path = if sequential {
        owned = format!("{path}1");
        owned.as_str()
    } else {
        path
    };
    if path.is_empty() {
        return Err(ParseError::BadPath("Path length must be > 0".into()));
    }
    if !path.starts_with('/') {
        return Err(ParseError::BadPath(
            "Path must start with / character".into(),
        ));
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err(ParseError::BadPath(
            "Path must not end with / character".into(),
        ));
    }
    let chars: Vec<char> = path.chars().collect();
    let reason = (1..chars.len()).find_map(|i| {
        let (c, last) = (chars[i], chars[i - 1]);
        let ends_name = i + 1 == chars.len() || chars[i + 1] == '/';
        let code = u32::from(c);
        if c == '\0' {
            Some(format!("null character not allowed @{i}"))
        } else if c == '/' && last == '/' {
            Some(format!("empty node name specified @{i}"))
        } else if c == '.' && ends_name && (last == '/' || (last == '.' && chars[i - 2] == '/')) {
            // A name that is exactly "." or "..".
            Some(format!("relative paths not allowed @{i}"))
        } else if (0x01..=0x1f).contains(&code)
            || (0x7f..=0x9f).contains(&code)
            || (0xe000..=0xf8ff).contains(&code)
            || code >= 0xfff0
        {
            // Java checks UTF-16 units: surrogates (any char above U+FFFF),
            // the private use area and U+FFF0..U+FFFF are refused.
            Some(format!("invalid character @{i}"))
        } else {
            None
        }
    });
    match reason {
        Some(reason) => Err(ParseError::BadPath(format!(
            "Invalid path string \"{path}\" caused by {reason}"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Command, ParseError> {
        match parse_line(line) {
            Ok(Some(command)) => Ok(command),
            Ok(None) => panic!("blank line: {line:?}"),
            Err(e) => Err(e),
        }
    }

    #[test]
    fn words_split_like_zkcli() {
        assert_eq!(split_words("  ls   /a  "), vec!["ls", "/a"]);
        assert_eq!(
            split_words(r#"create /x "a b" 'c d'"#),
            vec!["create", "/x", "a b", "c d"]
        );
        assert_eq!(split_words(r#"set /x a"b"#), vec!["set", "/x", "a\"b"]);
        assert_eq!(split_words(r#"set /x "open"#), vec!["set", "/x", "open"]);
        assert_eq!(split_words(r#"set /x """#), vec!["set", "/x", ""]);
        assert!(split_words("   ").is_empty());
    }

    #[test]
    fn blank_line_is_no_command() {
        assert_eq!(parse_line(""), Ok(None));
        assert_eq!(parse_line(" \t "), Ok(None));
    }

    #[test]
    fn ls_flags_anywhere_and_combined() {
        assert_eq!(
            parse("ls /a"),
            Ok(Command::Ls {
                path: "/a".into(),
                stat: false,
                watch: false,
                recursive: false
            })
        );
        assert_eq!(
            parse("ls -s /a -w"),
            Ok(Command::Ls {
                path: "/a".into(),
                stat: true,
                watch: true,
                recursive: false
            })
        );
        assert_eq!(
            parse("ls -sR /"),
            Ok(Command::Ls {
                path: "/".into(),
                stat: true,
                watch: false,
                recursive: true
            })
        );
        assert_eq!(parse("ls"), Err(ParseError::Usage(usage::LS)));
        assert_eq!(parse("ls /a /b"), Err(ParseError::Usage(usage::LS)));
        assert_eq!(
            parse("ls -z /a"),
            Err(ParseError::UnknownOption {
                option: "-z".into(),
                usage: usage::LS
            })
        );
    }

    #[test]
    fn get_and_stat() {
        assert_eq!(
            parse("get -s -w /a"),
            Ok(Command::Get {
                path: "/a".into(),
                stat: true,
                watch: true
            })
        );
        assert_eq!(
            parse("stat -w /a"),
            Ok(Command::Stat {
                path: "/a".into(),
                watch: true
            })
        );
        assert_eq!(parse("stat"), Err(ParseError::Usage(usage::STAT)));
        assert!(matches!(
            parse("stat -s /a"),
            Err(ParseError::UnknownOption { .. })
        ));
    }

    #[test]
    fn create_modes() {
        assert_eq!(
            parse("create /a"),
            Ok(Command::Create {
                path: "/a".into(),
                data: None,
                kind: NodeKind::Persistent,
                sequential: false,
                ttl_ms: None
            })
        );
        assert_eq!(
            parse("create -e -s /a/n- \"x y\""),
            Ok(Command::Create {
                path: "/a/n-".into(),
                data: Some("x y".into()),
                kind: NodeKind::Ephemeral,
                sequential: true,
                ttl_ms: None
            })
        );
        assert_eq!(
            parse("create -c /c"),
            Ok(Command::Create {
                path: "/c".into(),
                data: None,
                kind: NodeKind::Container,
                sequential: false,
                ttl_ms: None
            })
        );
        assert_eq!(
            parse("create -t 5000 -s /t/"),
            Ok(Command::Create {
                path: "/t/".into(),
                data: None,
                kind: NodeKind::Persistent,
                sequential: true,
                ttl_ms: Some(5000)
            })
        );
    }

    #[test]
    fn create_refusals_use_zkcli_messages() {
        let invalid = |line: &str| match parse(line) {
            Err(ParseError::Invalid(m)) => m,
            other => panic!("{line}: {other:?}"),
        };
        assert_eq!(
            invalid("create -c -e /a"),
            "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential."
        );
        assert_eq!(
            invalid("create -t 5 -e /a"),
            "TTLs cannot be used with Ephemeral znodes"
        );
        assert_eq!(
            invalid("create -t abc /a"),
            "-t argument must be a long value"
        );
        assert_eq!(
            parse("create -t"),
            Err(ParseError::MissingValue {
                option: 't',
                usage: usage::CREATE
            })
        );
        assert_eq!(parse("create"), Err(ParseError::Usage(usage::CREATE)));
        assert_eq!(
            parse("create /a b c"),
            Err(ParseError::Usage(usage::CREATE))
        );
        assert_eq!(
            parse("create nopath"),
            Err(ParseError::BadPath(
                "Path must start with / character".into()
            ))
        );
        assert_eq!(
            parse("create /a/"),
            Err(ParseError::BadPath(
                "Path must not end with / character".into()
            ))
        );
    }

    #[test]
    fn set_and_delete_versions() {
        assert_eq!(
            parse("set -s -v 3 /a data"),
            Ok(Command::Set {
                path: "/a".into(),
                data: "data".into(),
                version: Some(3),
                stat: true
            })
        );
        assert_eq!(
            parse("set -v3 /a data"),
            Ok(Command::Set {
                path: "/a".into(),
                data: "data".into(),
                version: Some(3),
                stat: false
            })
        );
        assert_eq!(parse("set /a"), Err(ParseError::Usage(usage::SET)));
        assert!(matches!(
            parse("set -v x /a d"),
            Err(ParseError::Invalid(_))
        ));
        assert_eq!(
            parse("delete -v 0 /a"),
            Ok(Command::Delete {
                path: "/a".into(),
                version: Some(0)
            })
        );
        assert_eq!(
            parse("delete /a"),
            Ok(Command::Delete {
                path: "/a".into(),
                version: None
            })
        );
        assert_eq!(
            parse("deleteall /a"),
            Ok(Command::DeleteAll { path: "/a".into() })
        );
    }

    #[test]
    fn small_commands() {
        assert_eq!(
            parse("getAllChildrenNumber /a"),
            Ok(Command::GetAllChildrenNumber { path: "/a".into() })
        );
        assert_eq!(
            parse("getEphemerals"),
            Ok(Command::GetEphemerals { path: "/".into() })
        );
        assert_eq!(
            parse("getEphemerals /a"),
            Ok(Command::GetEphemerals { path: "/a".into() })
        );
        assert_eq!(parse("sync /a"), Ok(Command::Sync { path: "/a".into() }));
        assert_eq!(parse("help"), Ok(Command::Help));
        assert_eq!(parse("quit"), Ok(Command::Quit));
        assert_eq!(parse("quit now"), Err(ParseError::Usage(usage::QUIT)));
        assert_eq!(
            parse("frobnicate /a"),
            Err(ParseError::UnknownCommand("frobnicate".into()))
        );
    }

    #[test]
    fn watch_flags() {
        assert_eq!(
            parse("watch /a"),
            Ok(Command::Watch {
                path: "/a".into(),
                recursive: false,
                count: None
            })
        );
        assert_eq!(
            parse("watch -r -n 3 /a"),
            Ok(Command::Watch {
                path: "/a".into(),
                recursive: true,
                count: Some(3)
            })
        );
        assert!(matches!(
            parse("watch -n 0 /a"),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            parse("watch -n many /a"),
            Err(ParseError::Invalid(_))
        ));
    }

    #[test]
    fn path_validation_matches_zookeeper() {
        assert_eq!(validate_path("/", false), Ok(()));
        assert_eq!(validate_path("/a/b.c/..d", false), Ok(()));
        assert_eq!(validate_path("/a/", true), Ok(()));
        let bad = |p: &str| match validate_path(p, false) {
            Err(ParseError::BadPath(m)) => m,
            other => panic!("{p}: {other:?}"),
        };
        assert_eq!(bad(""), "Path length must be > 0");
        assert_eq!(bad("a"), "Path must start with / character");
        assert_eq!(bad("/a/"), "Path must not end with / character");
        assert_eq!(
            bad("/a//b"),
            "Invalid path string \"/a//b\" caused by empty node name specified @3"
        );
        assert_eq!(
            bad("/a/./b"),
            "Invalid path string \"/a/./b\" caused by relative paths not allowed @3"
        );
        assert_eq!(
            bad("/a/.."),
            "Invalid path string \"/a/..\" caused by relative paths not allowed @4"
        );
        assert_eq!(
            bad("/a\u{1}"),
            "Invalid path string \"/a\u{1}\" caused by invalid character @2"
        );
        assert_eq!(
            bad("/a\0"),
            "Invalid path string \"/a\0\" caused by null character not allowed @2"
        );
    }
}
