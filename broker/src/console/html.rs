//! HTML building blocks: escaping, the page layout, tables, and the
//! rendering of record bytes (text, pretty JSON, hex).

use std::fmt::Write;

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Percent-encodes a path segment or query value.
pub fn url(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A whole page: navigation, an optional notice, the body.
pub fn page(title: &str, notice: &Notice, body: &str) -> String {
    let notice = match notice {
        Notice::None => String::new(),
        Notice::Ok(m) => format!(r#"<p class="ok" id="notice">{}</p>"#, esc(m)),
        Notice::Error(m) => format!(r#"<p class="error" id="notice">{}</p>"#, esc(m)),
    };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Runnel console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/console.css">
<script src="/assets/console.js" defer></script>
</head><body>
<nav><b>Runnel</b> <a href="/">Overview</a> <a href="/topics">Topics</a> <a href="/groups">Consumer groups</a> <a href="/coord">Coord tree</a> <a href="/timeline">Timeline</a> <span id="live" title="live updates">●</span></nav>
<main><h1>{title}</h1>
{notice}
{body}
</main></body></html>"#,
        title = esc(title),
    )
}

/// A message shown above a page's body (after a form was sent).
pub enum Notice {
    None,
    Ok(String),
    Error(String),
}

impl Notice {
    pub fn from_query(ok: Option<&String>, error: Option<&String>) -> Notice {
        match (error, ok) {
            (Some(e), _) => Notice::Error(e.clone()),
            (None, Some(m)) => Notice::Ok(m.clone()),
            (None, None) => Notice::None,
        }
    }
}

/// A part of a page that the browser refreshes from `src` on every update.
pub fn live(src: &str, initial: &str) -> String {
    format!(r#"<div data-src="{}">{initial}</div>"#, esc(src))
}

/// A table from a header and rows of ready-made cell HTML.
pub fn table(id: &str, header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(r#"<table id="{}"><thead><tr>"#, esc(id));
    for h in header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{c}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// A list of broker ids as `[1,2,3]`.
pub fn ids(v: &[i32]) -> String {
    let inner: Vec<String> = v.iter().map(i32::to_string).collect();
    format!("[{}]", inner.join(","))
}

/// A time in ms since the epoch as UTC `HH:MM:SS.mmm`, date first.
pub fn time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = runnel_common::coord_shell::format::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{millis:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// How record bytes are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON pretty-printed if it parses, text if UTF-8, else hex.
    Auto,
    Text,
    Json,
    Hex,
}

impl Format {
    pub fn parse(s: Option<&str>) -> Format {
        match s {
            Some("text") => Format::Text,
            Some("json") => Format::Json,
            Some("hex") => Format::Hex,
            _ => Format::Auto,
        }
    }
}

/// Record bytes as escaped HTML in the chosen format.
pub fn bytes(b: Option<&[u8]>, format: Format) -> String {
    let Some(b) = b else {
        return "<i>null</i>".into();
    };
    let hex = |b: &[u8]| {
        let mut s = String::with_capacity(b.len() * 3);
        for (i, x) in b.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            let _ = write!(s, "{x:02x}");
        }
        format!(r#"<code class="hex">{s}</code>"#)
    };
    let json = |b: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(b)
            .ok()
            .filter(|v| v.is_object() || v.is_array())
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .map(|s| format!(r#"<pre class="json">{}</pre>"#, esc(&s)))
    };
    match format {
        Format::Hex => hex(b),
        Format::Json => json(b).unwrap_or_else(|| hex(b)),
        Format::Text => std::str::from_utf8(b).map_or_else(|_| hex(b), esc),
        Format::Auto => json(b)
            .or_else(|| std::str::from_utf8(b).ok().map(esc))
            .unwrap_or_else(|| hex(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_formats() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(url("a b/c"), "a%20b%2Fc");
        assert_eq!(time(0), "1970-01-01 00:00:00.000");
        assert_eq!(time(1_764_720_000_123), "2025-12-03 00:00:00.123");
        assert!(bytes(Some(br#"{"a":1}"#), Format::Auto).contains("&quot;a&quot;: 1"));
        assert_eq!(bytes(Some(b"hi <b>"), Format::Auto), "hi &lt;b&gt;");
        assert_eq!(
            bytes(Some(&[0xff, 0x00]), Format::Auto),
            r#"<code class="hex">ff 00</code>"#
        );
        assert_eq!(bytes(None, Format::Auto), "<i>null</i>");
    }
}
