//! ZooKeeper's rules for znode paths (`PathUtils.validatePath`).

/// Why a path is not a valid znode path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path length must be > 0")]
    Empty,
    #[error("path must start with / character")]
    NotAbsolute,
    #[error("path must not end with / character")]
    TrailingSlash,
    #[error("null character not allowed @{0}")]
    Null(usize),
    #[error("empty node name specified @{0}")]
    EmptyName(usize),
    #[error("relative paths not allowed @{0}")]
    Relative(usize),
    #[error("invalid character @{0}")]
    InvalidChar(usize),
}

/// Checks `path` as ZooKeeper does; a sequential create is checked as if its
/// counter were already appended (so `/a/` is fine for a sequential node).
pub fn validate(path: &str, sequential: bool) -> Result<(), PathError> {
    if sequential {
        validate_chars(&format!("{path}1"))
    } else {
        validate_chars(path)
    }
}

/// Java strings are UTF-16: a character outside the Basic Multilingual Plane
/// is a surrogate pair there, which ZooKeeper refuses; so do we.
fn invalid_char(c: char) -> bool {
    let c = c as u32;
    (0x01..=0x1f).contains(&c)
        || (0x7f..=0x9f).contains(&c)
        || (0xd800..=0xf8ff).contains(&c)
        || (0xfff0..=0xffff).contains(&c)
        || c > 0xffff
}

fn validate_chars(path: &str) -> Result<(), PathError> {
    let chars: Vec<char> = path.chars().collect();
    if chars.is_empty() {
        return Err(PathError::Empty);
    }
    if chars[0] != '/' {
        return Err(PathError::NotAbsolute);
    }
    if chars.len() == 1 {
        return Ok(());
    }
    if chars[chars.len() - 1] == '/' {
        return Err(PathError::TrailingSlash);
    }
    let mut last = '/';
    for i in 1..chars.len() {
        let c = chars[i];
        let ends_name = i + 1 == chars.len() || chars[i + 1] == '/';
        if c == '\0' {
            return Err(PathError::Null(i));
        } else if c == '/' && last == '/' {
            return Err(PathError::EmptyName(i));
        } else if c == '.' && last == '.' {
            if chars[i - 2] == '/' && ends_name {
                return Err(PathError::Relative(i));
            }
        } else if c == '.' {
            if chars[i - 1] == '/' && ends_name {
                return Err(PathError::Relative(i));
            }
        } else if invalid_char(c) {
            return Err(PathError::InvalidChar(i));
        }
        last = c;
    }
    Ok(())
}

/// The parent of an absolute path (`/a/b` → `/a`, `/a` → `/`), or `None`
/// for the root or a path without `/`.
pub fn parent(path: &str) -> Option<&str> {
    let slash = path.rfind('/')?;
    if path.len() == 1 {
        return None;
    }
    Some(if slash == 0 { "/" } else { &path[..slash] })
}

/// The last name of a path (`/a/b` → `b`).
pub fn name(path: &str) -> &str {
    path.rfind('/').map_or(path, |i| &path[i + 1..])
}

/// Joins a parent path and a child name.
pub fn child(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_zookeeper_accepts() {
        for p in ["/", "/a", "/a/b", "/a.b", "/a/..b", "/...", "/a b", "/ünï"] {
            assert_eq!(validate(p, false), Ok(()), "{p}");
        }
        assert_eq!(validate("/a/", true), Ok(()));
    }

    #[test]
    fn refuses_what_zookeeper_refuses() {
        assert_eq!(validate("", false), Err(PathError::Empty));
        assert_eq!(validate("a", false), Err(PathError::NotAbsolute));
        assert_eq!(validate("/a/", false), Err(PathError::TrailingSlash));
        assert_eq!(validate("/a//b", false), Err(PathError::EmptyName(3)));
        assert_eq!(validate("/a/.", false), Err(PathError::Relative(3)));
        assert_eq!(validate("/a/../b", false), Err(PathError::Relative(4)));
        assert_eq!(validate("/a\u{1}", false), Err(PathError::InvalidChar(2)));
        assert_eq!(validate("/a\0b", false), Err(PathError::Null(2)));
        assert_eq!(validate("/😀", false), Err(PathError::InvalidChar(1)));
    }

    #[test]
    fn parents_and_names() {
        assert_eq!(parent("/a/b"), Some("/a"));
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("/"), None);
        assert_eq!(name("/a/b"), "b");
        assert_eq!(child("/", "a"), "/a");
        assert_eq!(child("/a", "b"), "/a/b");
    }
}
