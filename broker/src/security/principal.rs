//! The principal of a mutual-TLS client, as Kafka names it: `User:` and the
//! subject of the client's certificate as Java's `X500Principal.getName()`
//! prints it (RFC 2253), passed through `ssl.principal.mapping.rules`.
//!
//! Both halves follow Java to the character because operators copy ACLs
//! and `super.users` from Kafka clusters: a name printed with other spacing
//! or escaping, or a rule applied with other replacement rules, would
//! silently stop matching the bindings they wrote.
//!
//! * [`subject_dn`]: a DER certificate → `CN=alice,OU=eng,O=Acme,C=US`.
//! * [`PrincipalMapper`]: Kafka's `SslPrincipalMapper` — the rules' syntax,
//!   first matching rule wins, `/L` and `/U`, Java's `matches()` and
//!   `replaceAll` semantics (`$1`, `${name}`, `\` escapes).
//!
//! The patterns are compiled by the `regex` crate, which takes Java's syntax
//! except backreferences, lookaround and possessive quantifiers (a rule
//! using them is refused at start-up); its `\w`, `\d`, `\s` and `\b` are
//! Unicode-aware where Java's are ASCII, which only matters for names with
//! non-ASCII letters.

use std::sync::LazyLock;

use regex::Regex;
use runnel_common::security::dn;

/// Why a rule cannot be used, or a client gets no principal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrincipalError {
    /// A rule of `ssl.principal.mapping.rules` that cannot be used.
    #[error("invalid rule {rule:?}: {reason}")]
    BadRule { rule: String, reason: String },
    /// No rule applies to a client's name (the rules end without `DEFAULT`);
    /// Kafka refuses such a client.
    #[error("no rule of ssl.principal.mapping.rules applies to {0:?}")]
    NoMatchingRule(String),
    /// The client's certificate could not be read.
    #[error("cannot read the client certificate's subject: {0}")]
    Certificate(String),
}

/// Kafka's `SslPrincipalMapper.RULE_PATTERN`, unchanged: `DEFAULT`, or
/// `RULE:pattern/replacement/` with an optional `L` or `U`, where `\`
/// escapes a `/` inside pattern or replacement; anything else (group 7) is
/// a bad rule unless empty. Ported as is so that odd inputs (`DEFAULT/L`,
/// `RULE:a/b/LU`, commas inside patterns) split and fail as in Kafka; the
/// regex crate's leftmost-first matching picks the same match as Java's
/// backtracking for patterns without backreferences.
const RULE_PATTERN: &str = r"(DEFAULT)|RULE:((\\.|[^\\/])*)/((\\.|[^\\/])*)/([LU]?).*?|(.*?)";

/// Java's `\s` (ASCII whitespace; the regex crate's `\s` is Unicode's).
const WS: &str = r"[ \t\n\x0B\f\r]";

/// `RULE_SPLITTER`: one rule and the comma after it.
static SPLITTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"{WS}*({RULE_PATTERN}){WS}*(,{WS}*|$)"))
        .expect("the rule splitter is a valid constant pattern")
});

/// `RULE_PARSER` used with `lookingAt()`: anchored at the start only.
static PARSER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"\A(?:{RULE_PATTERN})"))
        .expect("the rule parser is a valid constant pattern")
});

/// `ssl.principal.mapping.rules`, parsed and compiled once at start-up.
#[derive(Debug, Clone)]
pub struct PrincipalMapper {
    /// The rules as configured (equality and messages).
    text: String,
    rules: Vec<Rule>,
}

impl PartialEq for PrincipalMapper {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for PrincipalMapper {}

impl Default for PrincipalMapper {
    /// Kafka's default, `DEFAULT`: the distinguished name unchanged.
    fn default() -> Self {
        PrincipalMapper {
            text: "DEFAULT".into(),
            rules: vec![Rule::Default],
        }
    }
}

#[derive(Debug, Clone)]
enum Rule {
    Default,
    Replace {
        /// The pattern anchored at both ends: Java's `matcher.matches()`.
        whole: Regex,
        /// The pattern as written, for `replaceAll`.
        search: Regex,
        replacement: Vec<Part>,
        case: Case,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Keep,
    Lower,
    Upper,
}

/// A piece of a replacement: text, or a capture group (`$1`, `${name}`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Group(usize),
}

impl PrincipalMapper {
    /// Parses Kafka's rule list: `RULE:pattern/replacement/[LU]` and
    /// `DEFAULT`, separated by commas.
    ///
    /// A list without any rule is refused (Kafka would take it and then
    /// refuse every client that presents a certificate).
    pub fn parse(text: &str) -> Result<PrincipalMapper, PrincipalError> {
        let trimmed = text.trim_matches(|c: char| c <= ' ');
        let mut rules = Vec::new();
        for caps in SPLITTER.captures_iter(trimmed) {
            let Some(rule) = caps.get(1).map(|m| m.as_str()) else {
                continue;
            };
            if let Some(rule) = parse_rule(rule)? {
                rules.push(rule);
            }
        }
        if rules.is_empty() {
            return Err(PrincipalError::BadRule {
                rule: text.to_string(),
                reason: "no rules (DEFAULT keeps the certificate's distinguished name)".into(),
            });
        }
        Ok(PrincipalMapper {
            text: text.to_string(),
            rules,
        })
    }

    /// The principal's name for a distinguished name: the first rule that
    /// applies decides.
    pub fn map(&self, dn: &str) -> Result<String, PrincipalError> {
        self.rules
            .iter()
            .find_map(|r| r.apply(dn))
            .ok_or_else(|| PrincipalError::NoMatchingRule(dn.to_string()))
    }
}

/// One rule's text; `None` for an empty rule (Kafka skips those, so a
/// trailing comma is harmless).
fn parse_rule(rule: &str) -> Result<Option<Rule>, PrincipalError> {
    let bad = |reason: String| PrincipalError::BadRule {
        rule: rule.to_string(),
        reason,
    };
    let caps = PARSER
        .captures(rule)
        .ok_or_else(|| bad("expected DEFAULT or RULE:pattern/replacement/[LU]".into()))?;
    let end = caps.get(0).map_or(0, |m| m.end());
    if end != rule.len() {
        return Err(bad(if end == 0 {
            "expected DEFAULT or RULE:pattern/replacement/[LU]".into()
        } else {
            format!("unexpected {:?} after the rule", &rule[end..])
        }));
    }
    if caps.get(1).is_some() {
        return Ok(Some(Rule::Default));
    }
    let (Some(pattern), Some(replacement)) = (caps.get(2), caps.get(4)) else {
        return Ok(None);
    };
    let compile = |p: &str| {
        Regex::new(p).map_err(|e| {
            // The crate's message spans lines (pattern, caret, reason);
            // a config error is one line, and its last line says why.
            let text = e.to_string();
            let why = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            bad(format!("pattern {:?}: {}", pattern.as_str(), why.trim()))
        })
    };
    let search = compile(pattern.as_str())?;
    let whole = compile(&format!(r"\A(?:{})\z", pattern.as_str()))?;
    let replacement = parse_replacement(replacement.as_str(), &search)
        .map_err(|reason| bad(format!("replacement {:?}: {reason}", replacement.as_str())))?;
    let case = match caps.get(6).map(|m| m.as_str()) {
        Some("L") => Case::Lower,
        Some("U") => Case::Upper,
        _ => Case::Keep,
    };
    Ok(Some(Rule::Replace {
        whole,
        search,
        replacement,
        case,
    }))
}

/// Java's `Matcher.appendReplacement` syntax, read once: `\c` is `c`,
/// `$n` takes the longest group number that exists, `${name}` a named
/// group. As in Kafka (`escapeLiteralBackReferences`), a `$n` beyond the
/// pattern's groups is the text `$n`. What Java would throw on at each
/// connection (`$x`, a trailing `\` or `$`, `$1` with no groups) is an
/// error here, at start-up.
fn parse_replacement(text: &str, pattern: &Regex) -> Result<Vec<Part>, String> {
    let groups = pattern.captures_len() - 1;
    let chars: Vec<char> = text.chars().collect();
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let c = *chars.get(i + 1).ok_or("a trailing \\ escapes nothing")?;
                literal.push(c);
                i += 2;
            }
            '$' => {
                let Some(&next) = chars.get(i + 1) else {
                    return Err("a trailing $ names no group".into());
                };
                let group = if next == '{' {
                    let name: String = chars[i + 2..]
                        .iter()
                        .take_while(|c| c.is_ascii_alphanumeric())
                        .collect();
                    let close = i + 2 + name.chars().count();
                    if name.is_empty() || chars.get(close) != Some(&'}') {
                        return Err("expected ${name}".into());
                    }
                    let index = pattern
                        .capture_names()
                        .position(|n| n == Some(name.as_str()))
                        .ok_or_else(|| format!("the pattern has no group named {name}"))?;
                    i = close + 1;
                    index
                } else if let Some(first) = next.to_digit(10) {
                    let first = first as usize;
                    if first > groups && first != 0 {
                        if groups == 0 {
                            return Err(format!("${first}: the pattern has no groups"));
                        }
                        // Kafka: no such group, so `$n` is text.
                        literal.push('$');
                        i += 1;
                        continue;
                    }
                    let mut index = first;
                    i += 2;
                    while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                        let longer = index * 10 + d as usize;
                        if longer > groups {
                            break;
                        }
                        index = longer;
                        i += 1;
                    }
                    index
                } else {
                    return Err(format!("${next} is not $n or ${{name}} (\\$ is a $)"));
                };
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(Part::Group(group));
            }
            c => {
                literal.push(c);
                i += 1;
            }
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Text(literal));
    }
    Ok(parts)
}

impl Rule {
    /// The rule's name for `dn`, or `None` when its pattern does not match
    /// the whole name.
    fn apply(&self, dn: &str) -> Option<String> {
        let Rule::Replace {
            whole,
            search,
            replacement,
            case,
        } = self
        else {
            return Some(dn.to_string());
        };
        if !whole.is_match(dn) {
            return None;
        }
        let name = replace_all(search, dn, replacement);
        Some(match case {
            Case::Keep => name,
            Case::Lower => name.to_lowercase(),
            Case::Upper => name.to_uppercase(),
        })
    }
}

/// Java's `String.replaceAll`: unlike the regex crate's `replace_all`, an
/// empty match right after a match counts (`(.*)` on `abc` replaces twice).
fn replace_all(pattern: &Regex, text: &str, replacement: &[Part]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while at <= text.len() {
        let Some(caps) = pattern.captures_at(text, at) else {
            break;
        };
        let Some(m) = caps.get(0) else {
            break;
        };
        out.push_str(&text[copied..m.start()]);
        for part in replacement {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Group(g) => out.push_str(caps.get(*g).map_or("", |c| c.as_str())),
            }
        }
        copied = m.end();
        at = if m.is_empty() {
            // Past one character: the next search must move on.
            m.end() + text[m.end()..].chars().next().map_or(1, char::len_utf8)
        } else {
            m.end()
        };
    }
    out.push_str(&text[copied.min(text.len())..]);
    out
}

/// The subject of a DER certificate in RFC 2253 form, as Java's
/// `X500Principal.getName()` prints it (the formatter is shared with
/// runnel-coord's x509 ids, in `runnel_common::security::dn`).
pub fn subject_dn(certificate: &[u8]) -> Result<String, PrincipalError> {
    dn::subject_dn(certificate).map_err(|e| PrincipalError::Certificate(e.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kafka's documented example, in full.
    const KAFKA_DOC_RULES: &str = "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,\
        RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,\
        RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,DEFAULT";

    fn map(rules: &str, dn: &str) -> String {
        PrincipalMapper::parse(rules).unwrap().map(dn).unwrap()
    }

    #[test]
    fn kafka_documented_rules() {
        assert_eq!(
            map(
                KAFKA_DOC_RULES,
                "CN=serviceuser,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown"
            ),
            "serviceuser"
        );
        assert_eq!(
            map(
                KAFKA_DOC_RULES,
                "CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,C=Unknown"
            ),
            "adminuser@admin"
        );
        assert_eq!(
            map(KAFKA_DOC_RULES, "OU=eng,cn=Bob.Smith,O=Acme"),
            "bob.smith"
        );
        assert_eq!(
            map(KAFKA_DOC_RULES, "OU=eng,O=Acme,C=US"),
            "OU=eng,O=Acme,C=US"
        );
    }

    /// Kafka's `SslPrincipalMapperTest.testSslPrincipalMapper`.
    #[test]
    fn kafka_mapper_test() {
        let rules = [
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L",
            "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L",
            "RULE:^cn=(.*?),ou=(.*?),dc=(.*?),dc=(.*?)$/$1@$2/U",
            "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U",
            "DEFAULT",
        ]
        .join(", ");
        let m = PrincipalMapper::parse(&rules).unwrap();
        let cases = [
            ("CN=Duke,OU=ServiceUsers,O=Org,C=US", "duke"),
            ("CN=Duke,OU=SME,O=mycp,L=Fulton,ST=MD,C=US", "duke@sme"),
            ("cn=duke,ou=sme,dc=mycp,dc=com", "DUKE@SME"),
            ("cN=duke,OU=JavaSoft,O=Sun Microsystems", "DUKE"),
            (
                "OU=JavaSoft,O=Sun Microsystems,C=US",
                "OU=JavaSoft,O=Sun Microsystems,C=US",
            ),
        ];
        for (dn, want) in cases {
            assert_eq!(m.map(dn).unwrap(), want, "{dn}");
        }
    }

    /// Kafka's `testCommaWithWhitespace`: an escaped comma inside a CN.
    #[test]
    fn escaped_comma_in_a_name() {
        assert_eq!(
            map(
                r"RULE:^CN=((\\, *|\w)+)(,.*|$)/$1/,DEFAULT",
                r"CN=Tkac\, Adam,OU=ITZ,DC=geodis,DC=cz"
            ),
            r"Tkac\, Adam"
        );
    }

    /// Kafka's `testValidRules` and `testInvalidRules`.
    #[test]
    fn valid_and_invalid_rules_as_in_kafka() {
        for ok in [
            "DEFAULT",
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/",
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, DEFAULT",
            "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/",
            "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L",
            "RULE:^cn=(.?),ou=(.?),dc=(.?),dc=(.?)$/$1@$2/U",
            "RULE:^CN=([^,ADEFLTU,]+)(,.*|$)/$1/",
            "RULE:^CN=([^,DEFAULT,]+)(,.*|$)/$1/",
            "  DEFAULT , ",
        ] {
            assert!(PrincipalMapper::parse(ok).is_ok(), "{ok} should parse");
        }
        for bad in [
            "default",
            "DEFAUL",
            "DEFAULT/L",
            "DEFAULT/U",
            "RULE:CN=(.*?),OU=ServiceUsers.*/$1",
            "rule:^CN=(.*?),OU=ServiceUsers.*$/$1/",
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L/U",
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/L",
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/U",
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/LU",
            // Ours on top of Kafka's: nothing at all, a pattern the regex
            // crate refuses, a replacement Java would throw on.
            "",
            " , ",
            "RULE:^CN=(.*$/$1/",
            "RULE:^CN=(?<=x)a$/$1/",
            "RULE:^CN=.*$/$1/",
            "RULE:^CN=(.*)$/$x/",
            "RULE:^CN=(.*)$/${nope}/",
            "RULE:^CN=(.*)$/a$/",
        ] {
            let e = PrincipalMapper::parse(bad).expect_err(bad);
            assert!(matches!(e, PrincipalError::BadRule { .. }), "{bad}: {e}");
        }
    }

    #[test]
    fn first_matching_rule_wins_and_no_match_is_an_error() {
        let m = PrincipalMapper::parse("RULE:^CN=([^,]*),OU=ops,.*$/$1/U,RULE:^CN=([^,]*),.*$/$1/")
            .unwrap();
        assert_eq!(m.map("CN=ann,OU=ops,O=Acme").unwrap(), "ANN");
        assert_eq!(m.map("CN=ann,OU=eng,O=Acme").unwrap(), "ann");
        assert_eq!(
            m.map("OU=eng,O=Acme"),
            Err(PrincipalError::NoMatchingRule("OU=eng,O=Acme".into()))
        );
    }

    #[test]
    fn the_pattern_must_match_the_whole_name() {
        // Java's matches(): a match inside the name is not enough.
        let m = PrincipalMapper::parse("RULE:CN=([a-z]+)/$1/").unwrap();
        assert_eq!(m.map("CN=alice"), Ok("alice".into()));
        assert!(m.map("CN=alice,OU=eng").is_err());
        // Some alternative spans the whole name, but replaceAll then takes
        // the first alternative that matches, as Java's does.
        let m = PrincipalMapper::parse("RULE:CN=a|CN=a,OU=(.*)/x$1/").unwrap();
        assert_eq!(m.map("CN=a,OU=eng"), Ok("x,OU=eng".into()));
    }

    #[test]
    fn replacement_follows_java() {
        // `$12` with one group is group 1 and a "2"; `\$` and `\\` are text;
        // a named group; `$0` the whole match.
        assert_eq!(map(r"RULE:^CN=(\w+)$/$12/", "CN=ann"), "ann2");
        assert_eq!(map(r"RULE:^CN=(\w+)$/\$1\\$1/", "CN=ann"), r"$1\ann");
        assert_eq!(map(r"RULE:^CN=(?<who>\w+)$/u-${who}/", "CN=ann"), "u-ann");
        assert_eq!(map(r"RULE:^CN=(\w+)$/[$0]/", "CN=ann"), "[CN=ann]");
        // Kafka: `$3` beyond two groups is the text "$3".
        assert_eq!(
            map(r"RULE:^CN=(\w+),OU=(\w+)$/$2.$1.$3/", "CN=ann,OU=ops"),
            "ops.ann.$3"
        );
        // A group that took no part adds nothing.
        assert_eq!(map(r"RULE:^CN=(\w+)(,OU=(\w+))?$/$1:$3/", "CN=ann"), "ann:");
        // An escaped slash inside pattern and replacement.
        assert_eq!(map(r"RULE:^CN=(\w+)\/(\w+)$/$2\/$1/", "CN=a/b"), "b/a");
        // replaceAll: an empty match after the whole name adds a copy.
        assert_eq!(map("RULE:(.*)/<$1>/", "CN=ann"), "<CN=ann><>");
    }

    #[test]
    fn subject_of_a_certificate() {
        use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "US");
        dn.push(DnType::OrganizationName, "Acme, Inc.");
        dn.push(DnType::OrganizationalUnitName, "eng");
        dn.push(DnType::CommonName, "alice");
        params.distinguished_name = dn;
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            subject_dn(cert.der()).unwrap(),
            r"CN=alice,OU=eng,O=Acme\, Inc.,C=US"
        );
        assert!(matches!(
            subject_dn(b"not a certificate"),
            Err(PrincipalError::Certificate(_))
        ));
    }
}
