//! `pattern` and `patternProperties` hold ECMA-262 regular expressions;
//! the `regex` crate reads the common subset the same way. What it does
//! not take (lookaround, backreferences) gives `None`: the caller treats
//! the answer as unknown.

/// Whether `pattern` matches somewhere in `text`; `None` when the
/// pattern cannot be compiled (or is too large to).
pub(super) fn is_match(pattern: &str, text: &str) -> Option<bool> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .ok()
        .map(|r| r.is_match(text))
}
