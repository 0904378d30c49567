//! Documents and `$ref`: a schema and the schemas it references, and how
//! a `$ref` finds its target (JSON pointers, `$id`, `$anchor`, references
//! by name).

use serde_json::{Map, Value};

use super::*;

pub(super) static TRUE: Value = Value::Bool(true);
pub(super) static FALSE: Value = Value::Bool(false);
pub(super) static NULL: Value = Value::Null;

/// A schema and the schemas it references: document 0 is the schema,
/// document `i` is `deps[i - 1]`. A `$ref` is resolved against the document
/// it is written in.
pub(super) struct Docs<'a> {
    pub(super) root: &'a Value,
    pub(super) deps: Vec<(&'a str, Value)>,
}

impl<'a> Docs<'a> {
    pub(super) fn new(root: &'a Value, deps: &'a [Dependency]) -> Result<Docs<'a>, String> {
        let mut parsed = Vec::with_capacity(deps.len());
        for d in deps {
            let v: Value = serde_json::from_str(&d.text)
                .map_err(|e| format!("reference '{}' is not JSON: {e}", d.name))?;
            check_schema(&v, "#")
                .map_err(|e| format!("reference '{}' is not a schema: {e}", d.name))?;
            parsed.push((d.name.as_str(), v));
        }
        Ok(Docs { root, deps: parsed })
    }

    pub(super) fn count(&self) -> usize {
        1 + self.deps.len()
    }

    pub(super) fn doc(&self, i: usize) -> &Value {
        if i == 0 {
            self.root
        } else {
            self.deps.get(i - 1).map_or(&FALSE, |d| &d.1)
        }
    }

    /// Every `$ref` in every document resolves.
    pub(super) fn check_refs(&self) -> Result<(), String> {
        for i in 0..self.count() {
            let mut stack = vec![("#".to_string(), self.doc(i))];
            while let Some((path, v)) = stack.pop() {
                if let Some(Value::String(r)) = v.get("$ref") {
                    if self.resolve(i, r).is_none() {
                        let within = match i {
                            0 => String::new(),
                            _ => format!(" of reference '{}'", self.deps[i - 1].0),
                        };
                        return Err(format!(
                            "$ref '{r}' at {path}{within} resolves to no schema, \
                             neither in the schema nor in its references"
                        ));
                    }
                    if self.follow(Node::new(v, i)).is_err() {
                        return Err(format!(
                            "$ref '{r}' at {path} leads only to references: it is no schema"
                        ));
                    }
                }
                for (seg, s) in subschemas(v) {
                    stack.push((format!("{path}{seg}"), s));
                }
            }
        }
        Ok(())
    }

    /// The schema `reference` names, written in document `doc`: a fragment
    /// (`#/definitions/x`, `#/$defs/x`, `#anchor`) of that document, or of
    /// another document named by the part before `#` (a reference's name,
    /// a document's `$id`, or an embedded `$id`).
    pub(super) fn resolve(&self, doc: usize, reference: &str) -> Option<(usize, &Value)> {
        let (base, frag) = reference.split_once('#').unwrap_or((reference, ""));
        let (i, start) = if base.is_empty() {
            (doc, self.doc(doc))
        } else {
            self.find_base(doc, base)?
        };
        let target = if frag.is_empty() {
            start
        } else if frag.starts_with('/') {
            pointer(start, frag)?
        } else {
            find_in(start, &|m| {
                m.get("$anchor").and_then(Value::as_str) == Some(frag)
                    || m.get("$id")
                        .and_then(Value::as_str)
                        .and_then(|id| id.split_once('#'))
                        .is_some_and(|(_, f)| f == frag)
            })?
        };
        (target.is_object() || target.is_boolean()).then_some((i, target))
    }

    pub(super) fn find_base(&self, doc: usize, base: &str) -> Option<(usize, &Value)> {
        let joined = id_of(self.doc(doc)).map(|id| join_url(id, base));
        let wanted = |s: &str| s == base || joined.as_deref() == Some(s);
        for (i, (name, v)) in self.deps.iter().enumerate() {
            if wanted(name) || wanted(strip_fragment(name)) {
                return Some((i + 1, v));
            }
        }
        for i in 0..self.count() {
            if id_of(self.doc(i)).map(strip_fragment).is_some_and(wanted) {
                return Some((i, self.doc(i)));
            }
        }
        for i in 0..self.count() {
            let found = find_in(self.doc(i), &|m| {
                m.get("$id")
                    .and_then(Value::as_str)
                    .map(strip_fragment)
                    .is_some_and(|id| !id.is_empty() && wanted(id))
            });
            if let Some(v) = found {
                return Some((i, v));
            }
        }
        None
    }

    /// `n` with plain `$ref`s followed. A `$ref` with constraining siblings
    /// stays: the comparison takes it as one more conjunct.
    pub(super) fn follow<'s>(&'s self, mut n: Node<'s>) -> Result<Node<'s>, String> {
        for _ in 0..64 {
            if n.skip_ref || n.base_only {
                return Ok(n);
            }
            let Some(m) = n.v.as_object() else {
                return Ok(n);
            };
            let Some(Value::String(r)) = m.get("$ref") else {
                return Ok(n);
            };
            if m.keys()
                .any(|k| k != "$ref" && ASSERTIONS.contains(&k.as_str()))
            {
                return Ok(n);
            }
            let (doc, target) = self
                .resolve(n.doc, r)
                .ok_or_else(|| format!("$ref '{r}' resolves to no schema"))?;
            n = Node {
                v: target,
                doc,
                ..n
            };
        }
        Err("$ref chain does not end".into())
    }

    /// The types a writer node can produce, its combinators included: the
    /// types every `allOf` conjunct and its `$ref` allow, of those any
    /// `anyOf`/`oneOf` branch allows. A writer `{"allOf": [{"type":
    /// "string"}, {"maxLength": 5}]}` writes strings of at most 5
    /// characters, which only the two conjuncts together say.
    pub(super) fn deep_types<'s>(&'s self, n: Node<'s>, depth: u32) -> u8 {
        let Ok(n) = self.follow(n) else {
            return eff_types(n);
        };
        let mut t = eff_types(n);
        if depth >= 8 || t == 0 {
            return t;
        }
        let inner = |v: &'s Value| Node {
            only: n.only,
            ..n.child(v)
        };
        for c in n.combined("allOf") {
            t &= self.deep_types(inner(c), depth + 1);
        }
        if let Some(Ok(target)) = self.ref_target(n) {
            t &= self.deep_types(target, depth + 1);
        }
        for kw in ["anyOf", "oneOf"] {
            let bs = n.combined(kw);
            if !bs.is_empty() {
                t &= bs
                    .iter()
                    .fold(0, |u, b| u | self.deep_types(inner(b), depth + 1));
            }
        }
        t
    }

    /// The target of `n`'s `$ref` when it is compared as a conjunct.
    pub(super) fn ref_target<'s>(&'s self, n: Node<'s>) -> Option<Result<Node<'s>, String>> {
        if n.skip_ref || n.base_only {
            return None;
        }
        let r = n.get("$ref")?.as_str()?;
        Some(
            self.resolve(n.doc, r)
                .map(|(doc, v)| Node {
                    v,
                    doc,
                    skip_ref: false,
                    base_only: false,
                    only: n.only,
                })
                .ok_or_else(|| format!("$ref '{r}' resolves to no schema")),
        )
    }
}

/// Whether a `$ref` (of any kind) sits anywhere in the schema `v`.
pub(super) fn has_ref(v: &Value) -> bool {
    v.as_object().is_some_and(|m| {
        m.contains_key("$ref") || m.contains_key("$dynamicRef") || m.contains_key("$recursiveRef")
    }) || subschemas(v).into_iter().any(|(_, s)| has_ref(s))
}

pub(super) fn id_of(v: &Value) -> Option<&str> {
    v.get("$id").and_then(Value::as_str)
}

pub(super) fn strip_fragment(s: &str) -> &str {
    s.split_once('#').map_or(s, |(b, _)| b)
}

/// `reference` resolved against the base URL `id` (RFC 3986, without dot
/// segments: enough for the `$id`s schemas use).
pub(super) fn join_url(id: &str, reference: &str) -> String {
    if reference.contains("://") || reference.starts_with("urn:") {
        return reference.to_string();
    }
    let id = strip_fragment(id);
    if let Some(rest) = reference.strip_prefix('/') {
        if let Some((scheme, after)) = id.split_once("://") {
            let host = after.split('/').next().unwrap_or(after);
            return format!("{scheme}://{host}/{rest}");
        }
        return reference.to_string();
    }
    match id.rfind('/') {
        Some(i) => format!("{}{reference}", &id[..=i]),
        None => reference.to_string(),
    }
}

/// A JSON pointer fragment (`/definitions/a~1b`, percent-encoded as URIs
/// allow).
pub(super) fn pointer<'v>(v: &'v Value, frag: &str) -> Option<&'v Value> {
    let frag = percent_decode(frag);
    let mut cur = v;
    for tok in frag.split('/').skip(1) {
        let tok = tok.replace("~1", "/").replace("~0", "~");
        cur = match cur {
            Value::Object(m) => m.get(&tok)?,
            Value::Array(a) => a.get(tok.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

pub(super) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first schema object inside `v` (itself included) that `pred` picks.
pub(super) fn find_in<'v>(
    v: &'v Value,
    pred: &dyn Fn(&Map<String, Value>) -> bool,
) -> Option<&'v Value> {
    if v.as_object().is_some_and(pred) {
        return Some(v);
    }
    subschemas(v)
        .into_iter()
        .find_map(|(_, s)| find_in(s, pred))
}
