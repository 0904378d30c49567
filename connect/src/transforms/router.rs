//! The transforms that change a record's topic: `RegexRouter` (a regex
//! and a replacement, Java's `$1` syntax) and `TimestampRouter` (the
//! topic and the record's timestamp, formatted in UTC as Kafka's does).

use regex::Regex;

use super::chain::Props;
use super::{Record, TransformError};

/// Kafka's `RegexRouter`: a topic matching `regex` as a whole becomes
/// `replacement`, others stay.
#[derive(Debug, Clone)]
pub struct RegexRouter {
    regex: Regex,
    /// The replacement in the regex crate's syntax.
    replacement: String,
}

impl RegexRouter {
    pub fn configure(p: &mut Props<'_>) -> Option<RegexRouter> {
        let regex = p.regex("regex");
        let replacement = p.required("replacement");
        Some(RegexRouter {
            regex: regex?,
            replacement: java_replacement(replacement?),
        })
    }

    pub fn apply(&self, r: &mut Record) {
        if self.regex.is_match(&r.topic) {
            r.topic = self
                .regex
                .replace(&r.topic, self.replacement.as_str())
                .into_owned();
        }
    }
}

/// Java's `Matcher` replacement syntax (`$1`, `${name}`, `\$` for a
/// dollar) in the regex crate's, where `$1x` would name a group `1x`.
fn java_replacement(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(n) => out.push(n),
                None => {}
            },
            '$' if chars.peek() == Some(&'{') => {
                chars.next();
                let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                out.push_str(&format!("${{{name}}}"));
            }
            '$' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    out.push_str("$$");
                } else {
                    out.push_str(&format!("${{{digits}}}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Kafka's `TimestampRouter`: `topic.format` with `${topic}` and
/// `${timestamp}` (the record's timestamp as `timestamp.format`, UTC).
#[derive(Debug, Clone)]
pub struct TimestampRouter {
    topic_format: String,
    timestamp_format: Vec<Token>,
}

/// A piece of a `SimpleDateFormat` pattern.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Literal(String),
    /// A field letter and how many times it was repeated (its width).
    Field(char, usize),
}

impl TimestampRouter {
    pub fn configure(p: &mut Props<'_>) -> Option<TimestampRouter> {
        let topic_format = p
            .get("topic.format")
            .unwrap_or("${topic}-${timestamp}")
            .to_string();
        let format = p.get("timestamp.format").unwrap_or("yyyyMMdd");
        match parse_date_format(format) {
            Ok(timestamp_format) => Some(TimestampRouter {
                topic_format,
                timestamp_format,
            }),
            Err(why) => {
                p.invalid("timestamp.format", format, &why);
                None
            }
        }
    }

    pub fn apply(&self, r: &mut Record) -> Result<(), TransformError> {
        let ts = r
            .timestamp
            .ok_or_else(|| TransformError::NoTimestamp(r.topic.clone()))?;
        let stamp = format_utc(&self.timestamp_format, ts);
        r.topic = self
            .topic_format
            .replace("${topic}", &r.topic)
            .replace("${timestamp}", &stamp);
        Ok(())
    }
}

/// The subset of Java's `SimpleDateFormat` topics use: `y M d H m s S`,
/// quoted literals (`'T'`, `''`), and other characters as they are.
fn parse_date_format(f: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = f.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            if chars.peek() == Some(&'\'') {
                chars.next();
                out.push(Token::Literal("'".into()));
                continue;
            }
            let text: String = chars.by_ref().take_while(|c| *c != '\'').collect();
            out.push(Token::Literal(text));
        } else if c.is_ascii_alphabetic() {
            if !"yMdHmsS".contains(c) {
                return Err(format!("Illegal pattern character '{c}'"));
            }
            let mut n = 1;
            while chars.peek() == Some(&c) {
                chars.next();
                n += 1;
            }
            out.push(Token::Field(c, n));
        } else {
            out.push(Token::Literal(c.to_string()));
        }
    }
    Ok(out)
}

fn format_utc(tokens: &[Token], ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let mut out = String::new();
    for t in tokens {
        match t {
            Token::Literal(s) => out.push_str(s),
            Token::Field(c, n) => {
                let v = match c {
                    'y' if *n == 2 => y.rem_euclid(100),
                    'y' => y,
                    'M' => m,
                    'd' => d,
                    'H' => in_day / 3_600_000,
                    'm' => in_day / 60_000 % 60,
                    's' => in_day / 1000 % 60,
                    _ => in_day % 1000,
                };
                out.push_str(&format!("{v:0width$}", width = *n));
            }
        }
    }
    out
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`), so no date crate is needed for UTC.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::SchemaAndValue;
    use crate::transforms::chain::tests::config;
    use crate::transforms::Chain;

    fn record(topic: &str, ts: Option<i64>) -> Record {
        Record {
            headers: Vec::new(),
            topic: topic.into(),
            partition: None,
            offset: None,
            timestamp: ts,
            key: SchemaAndValue::NULL,
            value: SchemaAndValue::string("v".into()),
        }
    }

    fn topic_after(c: &[(&str, &str)], r: Record) -> String {
        let chain = Chain::configure(&config(c)).unwrap();
        chain.apply(r).unwrap().unwrap().topic
    }

    #[test]
    fn regex_router_uses_javas_group_references() {
        let c = [
            ("transforms", "r"),
            (
                "transforms.r.type",
                "org.apache.kafka.connect.transforms.RegexRouter",
            ),
            ("transforms.r.regex", "(.*)-raw"),
            ("transforms.r.replacement", "$1x-clean"),
        ];
        assert_eq!(topic_after(&c, record("orders-raw", None)), "ordersx-clean");
        // Only a whole-topic match routes.
        assert_eq!(
            topic_after(&c, record("orders-raw-2", None)),
            "orders-raw-2"
        );
        assert_eq!(java_replacement("a\\$b$2${g}$"), "a$$b${2}${g}$$");
    }

    #[test]
    fn timestamp_router_formats_utc() {
        // 2021-03-04T05:06:07.089Z
        let ts = 1_614_834_367_089;
        let c = [
            ("transforms", "t"),
            ("transforms.t.type", "TimestampRouter"),
        ];
        assert_eq!(topic_after(&c, record("logs", Some(ts))), "logs-20210304");
        let c = [
            ("transforms", "t"),
            ("transforms.t.type", "TimestampRouter"),
            ("transforms.t.topic.format", "${timestamp}_${topic}"),
            (
                "transforms.t.timestamp.format",
                "yyyy-MM-dd'T'HH:mm:ss.SSS yy",
            ),
        ];
        assert_eq!(
            topic_after(&c, record("logs", Some(ts))),
            "2021-03-04T05:06:07.089 21_logs"
        );
        let chain = Chain::configure(&config(&c)).unwrap();
        assert!(chain.apply(record("logs", None)).is_err());
        let bad = [
            ("transforms", "t"),
            ("transforms.t.type", "TimestampRouter"),
            ("transforms.t.timestamp.format", "yyyyQQ"),
        ];
        assert!(Chain::configure(&config(&bad)).is_err());
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
