//! The `key=value` file format shared by `zoo.cfg` and `server.properties`.
//!
//! Java's `Properties` format, as far as Kafka and ZooKeeper configs use it:
//! one `key=value` (or `key: value`) per line, `#` and `!` start comments,
//! surrounding whitespace is dropped. Each entry keeps its line number so a
//! config module can name the exact line of a bad value.

use std::path::Path;

/// One `key=value` entry and the line it came from (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// Why a properties file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PropertiesError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: expected key=value, found {text:?}")]
    Syntax {
        path: String,
        line: usize,
        text: String,
    },
}

/// Reads and parses a properties file.
pub fn read_file(path: &Path) -> Result<Vec<Entry>, PropertiesError> {
    let text = std::fs::read_to_string(path).map_err(|source| PropertiesError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

/// Parses properties text; `origin` names the source in error messages.
pub fn parse(text: &str, origin: &str) -> Result<Vec<Entry>, PropertiesError> {
    let mut entries = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let split = line
            .find(['=', ':'])
            .ok_or_else(|| PropertiesError::Syntax {
                path: origin.to_string(),
                line: index + 1,
                text: raw.to_string(),
            })?;
        let key = line[..split].trim();
        if key.is_empty() {
            return Err(PropertiesError::Syntax {
                path: origin.to_string(),
                line: index + 1,
                text: raw.to_string(),
            });
        }
        entries.push(Entry {
            key: key.to_string(),
            value: line[split + 1..].trim().to_string(),
            line: index + 1,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_values_and_comments() {
        let text = "# comment\n! also\n\ntickTime=2000\n dataDir = /tmp/x \nserver.1=127.0.0.1:2888:3888;2181\nkey: v\n";
        let entries = parse(text, "t").unwrap();
        let pairs: Vec<_> = entries
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str(), e.line))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("tickTime", "2000", 4),
                ("dataDir", "/tmp/x", 5),
                ("server.1", "127.0.0.1:2888:3888;2181", 6),
                ("key", "v", 7)
            ]
        );
    }

    #[test]
    fn names_the_line_of_a_bad_entry() {
        let err = parse("a=1\nnonsense\n", "zoo.cfg").unwrap_err();
        assert_eq!(
            err.to_string(),
            "zoo.cfg:2: expected key=value, found \"nonsense\""
        );
    }
}
