//! JSON Schema: a schema is a JSON document (draft-07, 2019-09 and 2020-12
//! keywords; draft-04's boolean `exclusiveMaximum` too), kept as the
//! `serde_json::Value` it was written as.
//!
//! Compatibility asks what Confluent's JSON levels ask: does the reader's
//! schema accept every document the writer's schema accepts? Confluent
//! answers by diffing the two schemas and classifying each change
//! (`TYPE_NARROWED`, `PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL`, …) as
//! compatible or not. This module walks writer and reader side by side and
//! reports, under those names, only the changes that let through a writer's
//! document the reader refuses; clients and people who know Confluent's
//! messages recognise them.
//!
//! Where a keyword cannot be compared (a `pattern` the small matcher below
//! does not understand, `if`/`then`/`else`, `unevaluated*`), the reader must
//! keep the writer's text of it: refusing a compatible schema has a way out
//! (compatibility NONE for the subject), accepting an incompatible one breaks
//! its consumers. `oneOf` is compared as `anyOf` (whether exactly one branch
//! matches is not decided), as Confluent compares it.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde_json::{Map, Value};

use super::Dependency;
use crate::error::RegistryError;

/// Parses `text` as a JSON Schema. `deps` are the schemas it references,
/// each named by the `$ref` URL the referencing schema uses for it; every
/// `$ref`, in `text` and in `deps`, must resolve, so that a schema the
/// registry accepts can always be compared later.
pub fn parse(text: &str, deps: &[Dependency]) -> Result<Value, RegistryError> {
    let invalid = |why: String| {
        RegistryError::InvalidSchema(format!("Invalid schema {text}, details: {why}"))
    };
    let schema: Value = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
    check_schema(&schema, "#").map_err(invalid)?;
    let docs = Docs::new(&schema, deps).map_err(invalid)?;
    docs.check_refs().map_err(invalid)?;
    Ok(schema)
}

/// Compact JSON with every object's keys sorted: the same schema written
/// with other whitespace or key order has one text, so one id. Arrays keep
/// their order (`enum`, `required`, tuples: order can be meaning).
pub fn canonical(schema: &Value) -> String {
    let mut out = String::new();
    write_sorted(schema, &mut out);
    out
}

/// Whether every document valid under `writer` is accepted by `reader`,
/// neither having references. BACKWARD is `can_read(old, new)`, FORWARD
/// `can_read(new, old)`. (The registry always passes the references,
/// through [`can_read_with`].)
#[cfg(test)]
pub fn can_read(writer: &Value, reader: &Value) -> Result<(), String> {
    can_read_with(writer, &[], reader, &[])
}

/// [`can_read`] for schemas with references: `writer_deps` resolve the
/// writer's `$ref`s, `reader_deps` the reader's (the two versions may
/// reference different versions of the same subject). The error names
/// each difference in Confluent's style, joined with ", ".
pub fn can_read_with(
    writer: &Value,
    writer_deps: &[Dependency],
    reader: &Value,
    reader_deps: &[Dependency],
) -> Result<(), String> {
    let unresolved = |e: String| Diff::new("REFERENCE_UNRESOLVED", "#", e).to_string();
    let w = Docs::new(writer, writer_deps).map_err(unresolved)?;
    let r = Docs::new(reader, reader_deps).map_err(unresolved)?;
    let same_docs = json_eq(writer, reader)
        && w.deps.len() == r.deps.len()
        && w.deps
            .iter()
            .zip(&r.deps)
            .all(|(a, b)| a.0 == b.0 && json_eq(&a.1, &b.1));
    let mut cmp = Cmp {
        w: &w,
        r: &r,
        same_docs,
        swapped: false,
        active: HashSet::new(),
        assumed: 0,
        memo: HashMap::new(),
        steps: 0,
        depth: 0,
    };
    let diffs = cmp.cmp(Node::new(writer, 0), Node::new(reader, 0), "#");
    if diffs.is_empty() {
        return Ok(());
    }
    let mut seen = HashSet::new();
    let texts: Vec<String> = diffs
        .iter()
        .map(Diff::to_string)
        .filter(|t| seen.insert(t.clone()))
        .collect();
    Err(texts.join(", "))
}

// ---------------------------------------------------------------------------
// Checking that a document is a schema.

const TYPE_NAMES: [&str; 7] = [
    "null", "boolean", "object", "array", "number", "integer", "string",
];

/// Keywords that constrain a document (the rest annotate it, or are
/// extensions such as `javaType` that validation ignores).
const ASSERTIONS: [&str; 42] = [
    "type",
    "enum",
    "const",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "items",
    "prefixItems",
    "additionalItems",
    "maxItems",
    "minItems",
    "uniqueItems",
    "contains",
    "minContains",
    "maxContains",
    "maxProperties",
    "minProperties",
    "required",
    "properties",
    "patternProperties",
    "additionalProperties",
    "dependencies",
    "dependentRequired",
    "dependentSchemas",
    "propertyNames",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
    "$ref",
    "$dynamicRef",
    "$recursiveRef",
];

/// Keywords combining other schemas, set aside when a node is compared by
/// its own keywords only.
const COMBINATORS: [&str; 5] = ["allOf", "anyOf", "oneOf", "not", "$ref"];

/// Keywords this module cannot compare: the reader must keep the writer's.
const UNCOMPARED: [&str; 7] = [
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
    "minContains",
    "maxContains",
];

/// Refuses what no draft would take as a schema: wrong shapes for the
/// keywords a validator relies on. Unknown keywords are allowed (they are
/// annotations to every draft).
fn check_schema(v: &Value, path: &str) -> Result<(), String> {
    match v {
        Value::Bool(_) => return Ok(()),
        Value::Object(m) => {
            for (k, x) in m {
                check_keyword(k, x).map_err(|why| format!("{}: {why}", join(path, k)))?;
            }
        }
        _ => {
            return Err(format!(
                "{path} is not a schema (a JSON object or a boolean)"
            ))
        }
    }
    for (seg, s) in subschemas(v) {
        check_schema(s, &format!("{path}{seg}"))?;
    }
    Ok(())
}

fn check_keyword(k: &str, x: &Value) -> Result<(), String> {
    let strings = |x: &Value| match x {
        Value::Array(a) if a.iter().all(Value::is_string) => Ok(()),
        _ => Err("must be an array of strings".to_string()),
    };
    match k {
        "type" => match x {
            Value::String(s) => known_type(s),
            Value::Array(a) if !a.is_empty() => {
                for (i, t) in a.iter().enumerate() {
                    match t {
                        Value::String(s) => known_type(s)?,
                        _ => return Err(format!("{t} is not a type name")),
                    }
                    if a[..i].contains(t) {
                        return Err(format!("{t} is listed twice"));
                    }
                }
                Ok(())
            }
            _ => Err("must be a type name or a non-empty array of them".into()),
        },
        "properties" | "patternProperties" | "definitions" | "$defs" | "dependentSchemas" => {
            match x {
                Value::Object(_) => Ok(()),
                _ => Err("must be an object of schemas".into()),
            }
        }
        "required" => strings(x),
        "enum" => match x {
            Value::Array(_) => Ok(()),
            _ => Err("must be an array".into()),
        },
        "items" => match x {
            Value::Object(_) | Value::Bool(_) | Value::Array(_) => Ok(()),
            _ => Err("must be a schema or an array of schemas".into()),
        },
        "prefixItems" | "allOf" | "anyOf" | "oneOf" => match x {
            Value::Array(a) if !a.is_empty() => Ok(()),
            _ => Err("must be a non-empty array of schemas".into()),
        },
        "maxLength" | "minLength" | "maxItems" | "minItems" | "maxProperties" | "minProperties"
        | "maxContains" | "minContains" => match count(x) {
            Some(_) => Ok(()),
            None => Err("must be a non-negative integer".into()),
        },
        "minimum" | "maximum" => match x {
            Value::Number(_) => Ok(()),
            _ => Err("must be a number".into()),
        },
        "exclusiveMinimum" | "exclusiveMaximum" => match x {
            Value::Number(_) | Value::Bool(_) => Ok(()),
            _ => Err("must be a number".into()),
        },
        "multipleOf" => match x.as_f64() {
            Some(m) if m > 0.0 => Ok(()),
            _ => Err("must be a number greater than 0".into()),
        },
        "uniqueItems" => match x {
            Value::Bool(_) => Ok(()),
            _ => Err("must be a boolean".into()),
        },
        "$ref" | "$id" | "$schema" | "$anchor" | "pattern" | "format" => match x {
            Value::String(_) => Ok(()),
            _ => Err("must be a string".into()),
        },
        "dependencies" | "dependentRequired" => {
            let Value::Object(m) = x else {
                return Err("must be an object".into());
            };
            for (name, d) in m {
                let fine = match d {
                    Value::Array(_) => strings(d).is_ok(),
                    Value::Object(_) | Value::Bool(_) => k == "dependencies",
                    _ => false,
                };
                if !fine {
                    return Err(format!("'{name}' must map to an array of property names"));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn known_type(s: &str) -> Result<(), String> {
    if TYPE_NAMES.contains(&s) {
        Ok(())
    } else {
        Err(format!(
            "'{s}' is not a JSON Schema type ({})",
            TYPE_NAMES.join(", ")
        ))
    }
}

/// A non-negative integer (`5.0` is one too, as 2019-09 says).
fn count(x: &Value) -> Option<u64> {
    if let Some(n) = x.as_u64() {
        return Some(n);
    }
    let f = x.as_f64()?;
    (f >= 0.0 && f.fract() == 0.0 && f < 1e18).then_some(f as u64)
}

/// The schemas directly inside `v`, each with the pointer segments that
/// lead to it. Data keywords (`enum`, `const`, `default`, `examples`) and
/// unknown keywords are not descended into: what is inside them is not a
/// schema.
fn subschemas(v: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    let Some(m) = v.as_object() else {
        return out;
    };
    for (k, x) in m {
        let here = format!("/{}", escape(k));
        match (k.as_str(), x) {
            (
                "properties" | "patternProperties" | "definitions" | "$defs" | "dependentSchemas",
                Value::Object(o),
            ) => {
                for (n, s) in o {
                    out.push((format!("{here}/{}", escape(n)), s));
                }
            }
            ("dependencies", Value::Object(o)) => {
                for (n, s) in o {
                    if !s.is_array() {
                        out.push((format!("{here}/{}", escape(n)), s));
                    }
                }
            }
            ("items" | "prefixItems" | "allOf" | "anyOf" | "oneOf", Value::Array(a)) => {
                for (i, s) in a.iter().enumerate() {
                    out.push((format!("{here}/{i}"), s));
                }
            }
            (
                "items"
                | "additionalItems"
                | "additionalProperties"
                | "contains"
                | "propertyNames"
                | "not"
                | "if"
                | "then"
                | "else"
                | "unevaluatedItems"
                | "unevaluatedProperties"
                | "contentSchema",
                _,
            ) => out.push((here, x)),
            _ => {}
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Documents and `$ref`.

static TRUE: Value = Value::Bool(true);
static FALSE: Value = Value::Bool(false);
static NULL: Value = Value::Null;

/// A schema and the schemas it references: document 0 is the schema,
/// document `i` is `deps[i - 1]`. A `$ref` is resolved against the document
/// it is written in.
struct Docs<'a> {
    root: &'a Value,
    deps: Vec<(&'a str, Value)>,
}

impl<'a> Docs<'a> {
    fn new(root: &'a Value, deps: &'a [Dependency]) -> Result<Docs<'a>, String> {
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

    fn count(&self) -> usize {
        1 + self.deps.len()
    }

    fn doc(&self, i: usize) -> &Value {
        if i == 0 {
            self.root
        } else {
            self.deps.get(i - 1).map_or(&FALSE, |d| &d.1)
        }
    }

    /// Every `$ref` in every document resolves.
    fn check_refs(&self) -> Result<(), String> {
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
    fn resolve(&self, doc: usize, reference: &str) -> Option<(usize, &Value)> {
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

    fn find_base(&self, doc: usize, base: &str) -> Option<(usize, &Value)> {
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
    fn follow<'s>(&'s self, mut n: Node<'s>) -> Result<Node<'s>, String> {
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
    fn deep_types<'s>(&'s self, n: Node<'s>, depth: u32) -> u8 {
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
    fn ref_target<'s>(&'s self, n: Node<'s>) -> Option<Result<Node<'s>, String>> {
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
fn has_ref(v: &Value) -> bool {
    v.as_object().is_some_and(|m| {
        m.contains_key("$ref") || m.contains_key("$dynamicRef") || m.contains_key("$recursiveRef")
    }) || subschemas(v).into_iter().any(|(_, s)| has_ref(s))
}

fn id_of(v: &Value) -> Option<&str> {
    v.get("$id").and_then(Value::as_str)
}

fn strip_fragment(s: &str) -> &str {
    s.split_once('#').map_or(s, |(b, _)| b)
}

/// `reference` resolved against the base URL `id` (RFC 3986, without dot
/// segments: enough for the `$id`s schemas use).
fn join_url(id: &str, reference: &str) -> String {
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
fn pointer<'v>(v: &'v Value, frag: &str) -> Option<&'v Value> {
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

fn percent_decode(s: &str) -> String {
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
fn find_in<'v>(v: &'v Value, pred: &dyn Fn(&Map<String, Value>) -> bool) -> Option<&'v Value> {
    if v.as_object().is_some_and(pred) {
        return Some(v);
    }
    subschemas(v)
        .into_iter()
        .find_map(|(_, s)| find_in(s, pred))
}

// ---------------------------------------------------------------------------
// Types, listed values, and small helpers.

const T_NULL: u8 = 1;
const T_BOOLEAN: u8 = 2;
const T_OBJECT: u8 = 4;
const T_ARRAY: u8 = 8;
const T_STRING: u8 = 16;
const T_INTEGER: u8 = 32;
/// Numbers that are not integers: `number` is integer and fraction, so
/// integer → number widens and number → integer narrows.
const T_FRACTION: u8 = 64;
const T_NUMBER: u8 = T_INTEGER | T_FRACTION;
const T_ALL: u8 = 127;
const T_EACH: [u8; 7] = [
    T_NULL, T_BOOLEAN, T_OBJECT, T_ARRAY, T_STRING, T_INTEGER, T_FRACTION,
];

fn type_bits(name: &str) -> u8 {
    match name {
        "null" => T_NULL,
        "boolean" => T_BOOLEAN,
        "object" => T_OBJECT,
        "array" => T_ARRAY,
        "string" => T_STRING,
        "integer" => T_INTEGER,
        "number" => T_NUMBER,
        _ => T_ALL,
    }
}

fn type_names(bits: u8) -> String {
    let mut names = Vec::new();
    for (bit, name) in [
        (T_NULL, "null"),
        (T_BOOLEAN, "boolean"),
        (T_OBJECT, "object"),
        (T_ARRAY, "array"),
        (T_STRING, "string"),
    ] {
        if bits & bit != 0 {
            names.push(name);
        }
    }
    match bits & T_NUMBER {
        T_NUMBER | T_FRACTION => names.push("number"),
        T_INTEGER => names.push("integer"),
        _ => {}
    }
    if names.is_empty() {
        "nothing".into()
    } else {
        names.join(", ")
    }
}

fn value_type(v: &Value) -> u8 {
    match v {
        Value::Null => T_NULL,
        Value::Bool(_) => T_BOOLEAN,
        Value::Object(_) => T_OBJECT,
        Value::Array(_) => T_ARRAY,
        Value::String(_) => T_STRING,
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0) {
                T_INTEGER
            } else {
                T_FRACTION
            }
        }
    }
}

/// JSON equality with `1` and `1.0` equal, as JSON Schema has it.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(i), Some(j)) => i == j,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, a)| y.get(k).is_some_and(|b| json_eq(a, b)))
        }
        _ => a == b,
    }
}

/// A schema that accepts every document: `true`, or an object with no
/// constraining keyword.
fn is_true_schema(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Object(m) => !m.keys().any(|k| ASSERTIONS.contains(&k.as_str())),
        _ => true,
    }
}

fn is_schema(v: &&Value) -> bool {
    v.is_object() || v.is_boolean()
}

/// A JSON pointer one segment further.
fn join(path: &str, seg: &str) -> String {
    format!("{path}/{}", escape(seg))
}

fn escape(seg: &str) -> String {
    seg.replace('~', "~0").replace('/', "~1")
}

fn min_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Whether `a` is an integer multiple of `b`, allowing for binary
/// fractions (`0.3` is a multiple of `0.1`).
fn is_multiple(a: f64, b: f64) -> bool {
    if b <= 0.0 {
        return false;
    }
    let q = a / b;
    (q - q.round()).abs() <= 1e-9 * q.abs().max(1.0)
}

fn write_sorted(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, x)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_sorted(x, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sorted(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn show_values(vals: &[&Value]) -> String {
    let mut shown: Vec<String> = vals.iter().take(5).map(|v| canonical(v)).collect();
    if vals.len() > 5 {
        shown.push(format!("and {} more", vals.len() - 5));
    }
    shown.join(", ")
}

// ---------------------------------------------------------------------------
// The comparison.

/// One place in a schema, as the comparison sees it.
#[derive(Clone, Copy)]
struct Node<'d> {
    v: &'d Value,
    /// The document `v` is in, against which its `$ref`s resolve.
    doc: usize,
    /// The types this node is narrowed to: a writer `["string", "null"]`
    /// is compared with a reader `oneOf` one type at a time.
    only: u8,
    /// Its `$ref` already taken apart from its siblings.
    skip_ref: bool,
    /// Only its own keywords, not `allOf`/`anyOf`/`oneOf`/`not`/`$ref`.
    base_only: bool,
}

impl<'d> Node<'d> {
    fn new(v: &'d Value, doc: usize) -> Node<'d> {
        Node {
            v,
            doc,
            only: T_ALL,
            skip_ref: false,
            base_only: false,
        }
    }

    /// A schema inside this one (same document, no narrowing).
    fn child(&self, v: &'d Value) -> Node<'d> {
        Node::new(v, self.doc)
    }

    fn get(&self, k: &str) -> Option<&'d Value> {
        self.v.as_object()?.get(k)
    }

    fn combined(&self, k: &str) -> &'d [Value] {
        if self.base_only {
            return &[];
        }
        match self.get(k) {
            Some(Value::Array(a)) => a,
            _ => &[],
        }
    }

    fn uint(&self, k: &str) -> Option<u64> {
        self.get(k).and_then(count)
    }

    fn num(&self, k: &str) -> Option<f64> {
        self.get(k)
            .filter(|v| v.is_number())
            .and_then(Value::as_f64)
    }

    fn is_false(&self) -> bool {
        self.v == &FALSE
    }
}

fn declared_types(n: Node) -> u8 {
    match n.get("type") {
        Some(Value::String(s)) => type_bits(s),
        Some(Value::Array(a)) => {
            let bits = a
                .iter()
                .filter_map(Value::as_str)
                .fold(0, |b, s| b | type_bits(s));
            if bits == 0 {
                T_ALL
            } else {
                bits
            }
        }
        _ => T_ALL,
    }
}

/// The values `enum`/`const` list, when they do.
fn listed(n: Node<'_>) -> Option<Vec<&Value>> {
    let en = match n.get("enum") {
        Some(Value::Array(a)) => Some(a),
        _ => None,
    };
    match (n.get("const"), en) {
        (Some(c), Some(e)) => Some(if e.iter().any(|x| json_eq(x, c)) {
            vec![c]
        } else {
            Vec::new()
        }),
        (Some(c), None) => Some(vec![c]),
        (None, Some(e)) => Some(e.iter().collect()),
        (None, None) => None,
    }
}

/// The types a node (its own keywords) lets through: `type`, narrowed by
/// the node's restriction and by the values `enum`/`const` list.
fn eff_types(n: Node) -> u8 {
    match n.v {
        Value::Bool(false) => 0,
        Value::Object(_) => {
            let mut t = declared_types(n) & n.only;
            if let Some(vals) = listed(n) {
                t &= vals.iter().fold(0, |b, v| b | value_type(v));
            }
            t
        }
        _ => n.only,
    }
}

/// Every value a writer node lets through, when there are finitely many:
/// its `enum`/`const`, or `null`/`true`/`false` when those are its only
/// types.
fn finite(n: Node<'_>) -> Option<Vec<&Value>> {
    if n.is_false() {
        return Some(Vec::new());
    }
    let types = eff_types(n);
    let vals = match listed(n) {
        Some(vals) => vals,
        None if types & !(T_NULL | T_BOOLEAN) == 0 => {
            let mut vals = Vec::new();
            if types & T_NULL != 0 {
                vals.push(&NULL);
            }
            if types & T_BOOLEAN != 0 {
                vals.extend([&TRUE, &FALSE]);
            }
            vals
        }
        None => return None,
    };
    Some(
        vals.into_iter()
            .filter(|v| value_type(v) & types != 0)
            .collect(),
    )
}

/// Whether the reader node accepts everything, given which of its
/// keywords it is compared by.
fn accepts_all(n: Node) -> bool {
    match n.v {
        Value::Bool(b) => *b,
        Value::Object(m) => !m.keys().any(|k| {
            let k = k.as_str();
            ASSERTIONS.contains(&k)
                && !(n.base_only && COMBINATORS.contains(&k))
                && !(n.skip_ref && k == "$ref")
        }),
        _ => true,
    }
}

/// One incompatibility: Confluent's name for the change (where Confluent
/// has none: KEYWORD_CHANGED, REFERENCE_UNRESOLVED, SCHEMA_TOO_COMPLEX),
/// what it breaks, and where (a JSON pointer into the schemas).
#[derive(Clone)]
struct Diff {
    kind: &'static str,
    what: String,
    path: String,
}

impl Diff {
    fn new(kind: &'static str, path: &str, what: impl Into<String>) -> Diff {
        Diff {
            kind,
            what: what.into(),
            path: path.to_string(),
        }
    }
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        write!(
            f,
            "{{errorType:\"{}\", description:\"{}\", additionalInfo:\"{}\"}}",
            self.kind,
            q(&self.what),
            q(&self.path)
        )
    }
}

/// Comparisons are bounded: schemas come from clients, and combinators
/// nest alternatives multiplicatively. Past the bound a comparison reports
/// an incompatibility rather than accept what it did not check.
const MAX_STEPS: usize = 100_000;
const MAX_DEPTH: usize = 200;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    w: usize,
    w_only: u8,
    w_flags: u8,
    r: usize,
    r_flags: u8,
    swapped: bool,
}

impl Key {
    fn new(w: Node, r: Node, swapped: bool) -> Key {
        let flags = |n: Node| u8::from(n.skip_ref) | (u8::from(n.base_only) << 1);
        Key {
            w: w.v as *const Value as usize,
            w_only: w.only,
            w_flags: flags(w),
            r: r.v as *const Value as usize,
            r_flags: flags(r),
            swapped,
        }
    }
}

struct Cmp<'d> {
    /// The writer's documents (the reader's while comparing inside a `not`,
    /// where the roles swap).
    w: &'d Docs<'d>,
    r: &'d Docs<'d>,
    /// Writer and reader are the same schema with the same references: a
    /// node then reads itself.
    same_docs: bool,
    swapped: bool,
    /// Pairs being compared further up: met again (a recursive schema),
    /// they are assumed to hold, which is what makes recursion terminate.
    active: HashSet<Key>,
    /// How many times such an assumption was made.
    assumed: usize,
    /// Results already known, by pair and place: a combinator tries the
    /// same pairs again and again, exponentially in its nesting without
    /// this. A failure is kept always (an assumption can only hide
    /// failures, never make one up); a success only when no assumption
    /// went into it.
    memo: HashMap<(Key, String), Vec<Diff>>,
    steps: usize,
    depth: usize,
}

impl<'d> Cmp<'d> {
    fn swap(&mut self) {
        std::mem::swap(&mut self.w, &mut self.r);
        self.swapped = !self.swapped;
    }

    /// Counts a step; false when the comparison has gone on too long.
    fn step(&mut self) -> bool {
        self.steps += 1;
        self.steps <= MAX_STEPS && self.depth <= MAX_DEPTH
    }

    /// A combinator branch of writer `w`, narrowed to the types `w` allows.
    fn branch(&self, w: Node<'d>, v: &'d Value) -> Node<'d> {
        Node {
            only: self.w.deep_types(w, 0),
            ..w.child(v)
        }
    }

    fn too_complex(path: &str) -> Vec<Diff> {
        vec![Diff::new(
            "SCHEMA_TOO_COMPLEX",
            path,
            "the schemas nest or combine too deeply to be compared",
        )]
    }

    /// What in `r` refuses documents `w` accepts.
    fn cmp(&mut self, w: Node<'d>, r: Node<'d>, path: &str) -> Vec<Diff> {
        if !self.step() {
            return Self::too_complex(path);
        }
        let w = match self.w.follow(w) {
            Ok(n) => n,
            Err(e) => return vec![Diff::new("REFERENCE_UNRESOLVED", path, e)],
        };
        let r = match self.r.follow(r) {
            Ok(n) => n,
            Err(e) => return vec![Diff::new("REFERENCE_UNRESOLVED", path, e)],
        };
        if eff_types(w) == 0 || accepts_all(r) {
            return Vec::new();
        }
        if r.is_false() {
            return vec![Diff::new(
                "TYPE_NARROWED",
                path,
                "the reader's schema is false here: it accepts nothing",
            )];
        }
        if self.same_node(w, r) {
            return Vec::new();
        }
        let key = Key::new(w, r, self.swapped);
        let memo_key = (key, path.to_string());
        if let Some(known) = self.memo.get(&memo_key) {
            return known.clone();
        }
        if !self.active.insert(key) {
            self.assumed += 1;
            return Vec::new();
        }
        let assumed = self.assumed;
        self.depth += 1;
        let out = self.cmp_parts(w, r, path);
        self.depth -= 1;
        self.active.remove(&key);
        if !out.is_empty() || self.assumed == assumed {
            self.memo.insert(memo_key, out.clone());
        }
        out
    }

    /// Whether `w` is `r` written again, so reads itself: the same text,
    /// whose `$ref`s (if any) resolve to the same schemas. The writer
    /// narrowed, or the reader compared by part of its keywords, only
    /// helps; the writer without its `$ref` conjunct does not.
    fn same_node(&self, w: Node<'d>, r: Node<'d>) -> bool {
        if (w.skip_ref && !r.skip_ref) || (w.base_only && !r.base_only) {
            return false;
        }
        json_eq(w.v, r.v) && ((self.same_docs && w.doc == r.doc) || !has_ref(w.v))
    }

    /// The reader taken apart: its own keywords, its `$ref`, each `allOf`
    /// conjunct, its `anyOf`/`oneOf` and its `not`, the writer's documents
    /// having to pass each.
    fn cmp_parts(&mut self, w: Node<'d>, r: Node<'d>, path: &str) -> Vec<Diff> {
        let mut out = Vec::new();
        if let Some(target) = self.r.ref_target(r) {
            match target {
                Ok(t) => out.extend(self.cmp(w, t, path)),
                Err(e) => out.push(Diff::new("REFERENCE_UNRESOLVED", path, e)),
            }
            out.extend(self.cmp(
                w,
                Node {
                    skip_ref: true,
                    ..r
                },
                path,
            ));
            return out;
        }
        let base = Node {
            base_only: true,
            ..r
        };
        if !accepts_all(base) {
            out.extend(self.against_base(w, base, path));
        }
        if r.base_only {
            return out;
        }
        let conjuncts = r.combined("allOf");
        if !conjuncts.is_empty() {
            let p = join(path, "allOf");
            let mut failed = Vec::new();
            for (i, c) in conjuncts.iter().enumerate() {
                failed.extend(self.cmp(w, r.child(c), &join(&p, &i.to_string())));
            }
            if !failed.is_empty() && conjuncts.len() > w.combined("allOf").len() {
                out.push(Diff::new(
                    "PRODUCT_TYPE_EXTENDED",
                    &p,
                    "the reader's allOf adds a schema the writer's documents need not pass",
                ));
            }
            out.extend(failed);
        }
        for kw in ["anyOf", "oneOf"] {
            let branches = r.combined(kw);
            if !branches.is_empty() {
                out.extend(self.against_sum(w, r, kw, branches, path));
            }
        }
        if let Some(n) = r.get("not") {
            out.extend(self.against_not(w, r.child(n), path));
        }
        out
    }

    /// The writer against the reader's own keywords. When the writer's own
    /// keywords do not do, its combinators may: its `$ref` target or any
    /// `allOf` conjunct passing is enough, and so is every `anyOf`/`oneOf`
    /// branch passing.
    fn against_base(&mut self, w: Node<'d>, rb: Node<'d>, path: &str) -> Vec<Diff> {
        let first = self.base_cmp(w, rb, path);
        if first.is_empty() {
            return first;
        }
        if let Some(Ok(t)) = self.w.ref_target(w) {
            let t = Node {
                only: self.w.deep_types(w, 0),
                ..t
            };
            if self.cmp(t, rb, path).is_empty() {
                return Vec::new();
            }
        }
        for c in w.combined("allOf") {
            if self.cmp(self.branch(w, c), rb, path).is_empty() {
                return Vec::new();
            }
        }
        for kw in ["anyOf", "oneOf"] {
            let branches = w.combined(kw);
            if !branches.is_empty()
                && branches
                    .iter()
                    .all(|b| self.cmp(self.branch(w, b), rb, path).is_empty())
            {
                return Vec::new();
            }
        }
        first
    }

    /// The writer against a reader `anyOf`/`oneOf`: each of the writer's
    /// documents must fit some branch. A `oneOf` reader after an `anyOf`
    /// writer is Confluent's COMBINED_TYPE_CHANGED: documents matching two
    /// branches become invalid.
    fn against_sum(
        &mut self,
        w: Node<'d>,
        r: Node<'d>,
        kw: &str,
        bs: &'d [Value],
        path: &str,
    ) -> Vec<Diff> {
        let p = join(path, kw);
        let branches: Vec<Node<'d>> = bs.iter().map(|b| r.child(b)).collect();
        if self.in_sum(w, &branches, &p) {
            if kw == "oneOf" && w.combined("oneOf").is_empty() && w.combined("anyOf").len() > 1 {
                return vec![Diff::new(
                    "COMBINED_TYPE_CHANGED",
                    &p,
                    "the reader's schema wants exactly one branch to match (oneOf) \
                     where the writer's let several match (anyOf)",
                )];
            }
            return Vec::new();
        }
        let w_sum = ["anyOf", "oneOf"]
            .into_iter()
            .map(|k| w.combined(k))
            .max_by_key(|b| b.len())
            .unwrap_or_default();
        let (kind, what) = if w_sum.is_empty() {
            (
                "TYPE_CHANGED",
                format!(
                    "no branch of the reader's {kw} accepts everything the writer's schema allows"
                ),
            )
        } else if w_sum.len() > branches.len() {
            (
                "SUM_TYPE_NARROWED",
                format!(
                    "the reader's {kw} has {} branches where the writer's had {}, \
                     and a writer's branch fits none of them",
                    branches.len(),
                    w_sum.len()
                ),
            )
        } else {
            (
                "COMBINED_TYPE_SUBSCHEMAS_CHANGED",
                format!("a branch of the writer's schema fits no branch of the reader's {kw}"),
            )
        };
        let mut out = vec![Diff::new(kind, &p, what)];
        // Explained by the reader's branch nearest to the first part of the
        // writer that fits none: the one sharing most of its types, then
        // the one objecting least.
        let mut unfit = w;
        for b in w_sum {
            if !self.in_sum(self.branch(w, b), &branches, &p) {
                unfit = self.branch(w, b);
                break;
            }
        }
        let types = self.w.deep_types(unfit, 0);
        let mut best: Option<(u32, Vec<Diff>)> = None;
        for (i, b) in branches.iter().enumerate() {
            let shared = (types & self.r.deep_types(*b, 0)).count_ones();
            let d = self.cmp(unfit, *b, &join(&p, &i.to_string()));
            let nearer = best
                .as_ref()
                .is_none_or(|(s, x)| shared > *s || (shared == *s && d.len() < x.len()));
            if nearer {
                best = Some((shared, d));
            }
        }
        out.extend(best.map(|(_, d)| d).unwrap_or_default());
        out
    }

    /// Whether every document of `w` fits one of `branches`: the writer as
    /// a whole fits one, or its parts do (its `$ref` or an `allOf`
    /// conjunct; every `anyOf`/`oneOf` branch; each of its types).
    fn in_sum(&mut self, w: Node<'d>, branches: &[Node<'d>], p: &str) -> bool {
        if !self.step() {
            return false;
        }
        let Ok(w) = self.w.follow(w) else {
            return false;
        };
        let types = self.w.deep_types(w, 0);
        if types == 0 {
            return true;
        }
        for (i, b) in branches.iter().enumerate() {
            if self.cmp(w, *b, &join(p, &i.to_string())).is_empty() {
                return true;
            }
        }
        self.depth += 1;
        let fits = self.parts_in_sum(w, types, branches, p);
        self.depth -= 1;
        fits
    }

    fn parts_in_sum(&mut self, w: Node<'d>, types: u8, branches: &[Node<'d>], p: &str) -> bool {
        if let Some(Ok(t)) = self.w.ref_target(w) {
            if self.in_sum(Node { only: types, ..t }, branches, p) {
                return true;
            }
        }
        for kw in ["anyOf", "oneOf"] {
            let bs = w.combined(kw);
            if !bs.is_empty()
                && bs
                    .iter()
                    .all(|b| self.in_sum(self.branch(w, b), branches, p))
            {
                return true;
            }
        }
        for c in w.combined("allOf") {
            if self.in_sum(self.branch(w, c), branches, p) {
                return true;
            }
        }
        types.count_ones() > 1
            && T_EACH
                .into_iter()
                .filter(|t| types & t != 0)
                .all(|t| self.in_sum(Node { only: t, ..w }, branches, p))
    }

    /// The writer against a reader `not`: no document of the writer may
    /// match `rn`. Types or listed values that cannot meet do; so does a
    /// writer `not` whose schema takes in everything `rn` accepts
    /// (Confluent's NOT_TYPE_NARROWED).
    fn against_not(&mut self, w: Node<'d>, rn: Node<'d>, path: &str) -> Vec<Diff> {
        let p = join(path, "not");
        if !self.step() {
            return Self::too_complex(&p);
        }
        if self.disjoint(w, rn) {
            return Vec::new();
        }
        let mut detail = Vec::new();
        if let Some(wn) = w.get("not") {
            self.swap();
            detail = self.cmp(rn, w.child(wn), &p);
            self.swap();
            if detail.is_empty() {
                return detail;
            }
        }
        self.depth += 1;
        let mut parts: Vec<Node<'d>> = w
            .combined("allOf")
            .iter()
            .map(|c| self.branch(w, c))
            .collect();
        if let Some(Ok(t)) = self.w.ref_target(w) {
            parts.push(t);
        }
        let mut fits = parts
            .into_iter()
            .any(|c| self.against_not(c, rn, path).is_empty());
        for kw in ["anyOf", "oneOf"] {
            let bs = w.combined(kw);
            fits = fits
                || (!bs.is_empty()
                    && bs
                        .iter()
                        .all(|b| self.against_not(self.branch(w, b), rn, path).is_empty()));
        }
        self.depth -= 1;
        if fits {
            return Vec::new();
        }
        let mut out = vec![Diff::new(
            "NOT_TYPE_EXTENDED",
            &p,
            "the reader's schema refuses, through 'not', documents the writer's schema allows",
        )];
        out.extend(detail);
        out
    }

    fn disjoint(&self, w: Node<'d>, rn: Node<'d>) -> bool {
        let Ok(rn) = self.r.follow(rn) else {
            return false;
        };
        if self.w.deep_types(w, 0) & self.r.deep_types(rn, 0) == 0 {
            return true;
        }
        match (finite(w), listed(rn)) {
            (Some(a), Some(b)) => !a.iter().any(|x| b.iter().any(|y| json_eq(x, y))),
            _ => false,
        }
    }

    /// The writer against the reader's own keywords, type by type: string
    /// keywords only matter when both let strings through, and so on.
    fn base_cmp(&mut self, w: Node<'d>, r: Node<'d>, path: &str) -> Vec<Diff> {
        let mut out = Vec::new();
        let tw = self.w.deep_types(w, 0);
        let tr = declared_types(r);
        if tw & !tr != 0 {
            let (kind, how) = if tr & !tw == 0 {
                ("TYPE_NARROWED", "narrows")
            } else {
                ("TYPE_CHANGED", "changes")
            };
            out.push(Diff::new(
                kind,
                path,
                format!(
                    "the reader's schema {how} the type to {} from the writer's {}",
                    type_names(tr),
                    type_names(tw)
                ),
            ));
        }
        let common = tw & tr;
        if common == 0 {
            return out;
        }
        if let Some(allowed) = listed(r) {
            Self::enum_check(w, r, &allowed, common, path, &mut out);
        }
        if common & T_STRING != 0 {
            Self::string_checks(w, r, path, &mut out);
        }
        if common & T_NUMBER != 0 {
            Self::number_checks(w, r, common, path, &mut out);
        }
        if common & T_OBJECT != 0 {
            self.object_checks(w, r, path, &mut out);
        }
        if common & T_ARRAY != 0 {
            self.array_checks(w, r, path, &mut out);
        }
        for kw in UNCOMPARED {
            if let Some(rv) = r.get(kw) {
                if !w.get(kw).is_some_and(|wv| json_eq(wv, rv)) {
                    out.push(Diff::new(
                        "KEYWORD_CHANGED",
                        &join(path, kw),
                        format!(
                            "the reader's schema adds or changes '{kw}', which this registry \
                             does not compare: only the writer's '{kw}' unchanged is accepted"
                        ),
                    ));
                }
            }
        }
        out
    }

    fn enum_check(
        w: Node<'d>,
        r: Node<'d>,
        allowed: &[&Value],
        common: u8,
        path: &str,
        out: &mut Vec<Diff>,
    ) {
        let p = join(
            path,
            if r.get("enum").is_some() {
                "enum"
            } else {
                "const"
            },
        );
        let Some(vals) = finite(w) else {
            out.push(Diff::new(
                "ENUM_ARRAY_NARROWED",
                &p,
                "the reader's schema accepts only the values it lists, \
                 the writer's schema is not limited to them",
            ));
            return;
        };
        let vals: Vec<&Value> = vals
            .into_iter()
            .filter(|v| value_type(v) & common != 0)
            .collect();
        let missing: Vec<&Value> = vals
            .iter()
            .filter(|v| !allowed.iter().any(|a| json_eq(a, v)))
            .copied()
            .collect();
        if missing.is_empty() {
            return;
        }
        let kind = if allowed.iter().all(|a| vals.iter().any(|v| json_eq(a, v))) {
            "ENUM_ARRAY_NARROWED"
        } else {
            "ENUM_ARRAY_CHANGED"
        };
        out.push(Diff::new(
            kind,
            &p,
            format!(
                "the reader's schema does not accept {}, which the writer's allows",
                show_values(&missing)
            ),
        ));
    }

    /// `maxLength`, `minLength`, `pattern`; a writer that lists its values
    /// is judged by them.
    fn string_checks(w: Node<'d>, r: Node<'d>, path: &str, out: &mut Vec<Diff>) {
        let listed: Option<Vec<&str>> =
            finite(w).map(|vals| vals.into_iter().filter_map(Value::as_str).collect());
        let lengths = listed.as_ref().map(|l| {
            l.iter()
                .map(|s| s.chars().count() as u64)
                .collect::<Vec<_>>()
        });
        if let Some(rmax) = r.uint("maxLength") {
            let declared = w.uint("maxLength");
            let longest = lengths
                .as_ref()
                .map(|l| l.iter().copied().max().unwrap_or(0));
            match min_opt(declared, longest) {
                Some(m) if m <= rmax => {}
                Some(m) => out.push(Diff::new(
                    if declared.is_some() {
                        "MAX_LENGTH_DECREASED"
                    } else {
                        "MAX_LENGTH_ADDED"
                    },
                    &join(path, "maxLength"),
                    format!("the reader's schema takes strings of at most {rmax} characters, the writer's up to {m}"),
                )),
                None => out.push(Diff::new(
                    "MAX_LENGTH_ADDED",
                    &join(path, "maxLength"),
                    format!("the reader's schema takes strings of at most {rmax} characters, the writer's has no limit"),
                )),
            }
        }
        if let Some(rmin) = r.uint("minLength").filter(|m| *m > 0) {
            let declared = w.uint("minLength");
            let shortest = lengths.as_ref().and_then(|l| l.iter().copied().min());
            let wmin = declared.unwrap_or(0).max(shortest.unwrap_or(0));
            if wmin < rmin {
                out.push(Diff::new(
                    if declared.is_some() {
                        "MIN_LENGTH_INCREASED"
                    } else {
                        "MIN_LENGTH_ADDED"
                    },
                    &join(path, "minLength"),
                    format!("the reader's schema takes strings of at least {rmin} characters, the writer's from {wmin}"),
                ));
            }
        }
        if let Some(rp) = r.get("pattern").and_then(Value::as_str) {
            let wp = w.get("pattern").and_then(Value::as_str);
            let p = join(path, "pattern");
            if let Some(l) = &listed {
                let refused: Vec<&str> = l
                    .iter()
                    .copied()
                    .filter(|s| match regex::is_match(rp, s) {
                        Some(m) => !m,
                        None => wp != Some(rp),
                    })
                    .collect();
                if !refused.is_empty() {
                    out.push(Diff::new(
                        if wp.is_some() {
                            "PATTERN_CHANGED"
                        } else {
                            "PATTERN_ADDED"
                        },
                        &p,
                        format!(
                            "the reader's pattern '{rp}' does not match (or could not be \
                             checked against) {}",
                            refused.join(", ")
                        ),
                    ));
                }
            } else if wp != Some(rp) {
                let (kind, what) = match wp {
                    Some(wp) => (
                        "PATTERN_CHANGED",
                        format!("the reader's pattern '{rp}' replaces the writer's '{wp}'"),
                    ),
                    None => (
                        "PATTERN_ADDED",
                        format!("the reader's schema adds the pattern '{rp}'"),
                    ),
                };
                out.push(Diff::new(kind, &p, what));
            }
        }
    }

    /// Bounds (inclusive or not, draft-04's boolean form too) and
    /// `multipleOf`. Integer writers are compared as integers: `maximum:
    /// 10` and `exclusiveMaximum: 11` allow the same integers.
    fn number_checks(w: Node<'d>, r: Node<'d>, common: u8, path: &str, out: &mut Vec<Diff>) {
        let nums: Option<Vec<f64>> =
            finite(w).map(|vals| vals.into_iter().filter_map(Value::as_f64).collect());
        let ints = common & T_NUMBER == T_INTEGER;
        for upper in [true, false] {
            let mut wb = bounds(w, upper);
            if let Some(ns) = &nums {
                let extreme = if upper {
                    ns.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                } else {
                    ns.iter().copied().fold(f64::INFINITY, f64::min)
                };
                wb.push(Bound {
                    kw: "enum",
                    at: extreme,
                    exclusive: false,
                });
            }
            let tightest = wb
                .into_iter()
                .reduce(|a, b| if a.within(&b, upper, false) { a } else { b });
            for rb in bounds(r, upper) {
                let fine = tightest
                    .as_ref()
                    .is_some_and(|t| t.within(&rb, upper, ints));
                if fine {
                    continue;
                }
                // Without a writer bound the reader's is added; with one, the
                // reader's is tighter: a maximum decreased, a minimum increased.
                let kind = match (rb.kw, tightest.is_some()) {
                    ("maximum", false) => "MAXIMUM_ADDED",
                    ("maximum", true) => "MAXIMUM_DECREASED",
                    ("minimum", false) => "MINIMUM_ADDED",
                    ("minimum", true) => "MINIMUM_INCREASED",
                    ("exclusiveMaximum", false) => "EXCLUSIVE_MAXIMUM_ADDED",
                    ("exclusiveMaximum", true) => "EXCLUSIVE_MAXIMUM_DECREASED",
                    (_, false) => "EXCLUSIVE_MINIMUM_ADDED",
                    (_, true) => "EXCLUSIVE_MINIMUM_INCREASED",
                };
                let what = match &tightest {
                    None => format!("the reader's schema adds {} {}", rb.kw, rb.at),
                    Some(t) => format!(
                        "the reader's {} {} is {} the writer's bound {}",
                        rb.kw,
                        rb.at,
                        if upper { "below" } else { "above" },
                        t.at
                    ),
                };
                out.push(Diff::new(kind, &join(path, rb.kw), what));
            }
        }
        if let Some(rm) = r.num("multipleOf").filter(|m| *m > 0.0) {
            let wm = w.num("multipleOf");
            let fine = match &nums {
                Some(ns) => ns.iter().all(|v| is_multiple(*v, rm)),
                None => wm.is_some_and(|m| is_multiple(m, rm)) || (ints && is_multiple(1.0, rm)),
            };
            if !fine {
                let kind = match wm {
                    None => "MULTIPLE_OF_ADDED",
                    Some(m) if rm > m && is_multiple(rm, m) => "MULTIPLE_OF_EXPANDED",
                    Some(_) => "MULTIPLE_OF_CHANGED",
                };
                out.push(Diff::new(
                    kind,
                    &join(path, "multipleOf"),
                    format!(
                        "the reader's schema takes multiples of {rm}, the writer's {}",
                        wm.map_or("any number".to_string(), |m| format!("multiples of {m}"))
                    ),
                ));
            }
        }
    }

    /// Properties declared, added and removed against open (absent or
    /// `true` additionalProperties), closed (`false`) and partially open
    /// (a schema, or patternProperties) content models; `required`;
    /// additionalProperties; patternProperties (by their text: two
    /// different patterns are taken to match different names);
    /// min/maxProperties; dependencies; propertyNames.
    fn object_checks(&mut self, w: Node<'d>, r: Node<'d>, path: &str, out: &mut Vec<Diff>) {
        let wo = Obj::of(w);
        let ro = Obj::of(r);
        let props = join(path, "properties");
        for (name, rp) in ro.props() {
            let pp = join(&props, name);
            let rn = r.child(rp);
            if let Some(wp) = wo.prop(name) {
                let wn = w.child(wp);
                out.extend(self.cmp(wn, rn, &pp));
                // The reader's patterns matching the name apply to it too.
                for (pat, rs) in ro.matching(name) {
                    if wo.pattern(pat).is_none() {
                        out.extend(self.cmp(wn, r.child(rs), &pp));
                    }
                }
                continue;
            }
            let matched = wo.matching(name);
            if !matched.is_empty() {
                if !matched
                    .iter()
                    .any(|(_, ws)| self.cmp(w.child(ws), rn, &pp).is_empty())
                {
                    out.push(Diff::new(
                        "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
                        &pp,
                        format!("the reader's schema adds '{name}', which the writer's patternProperties allowed with other values"),
                    ));
                }
            } else if !self.cmp(w.child(wo.additional), rn, &pp).is_empty() {
                let (kind, what) = if is_true_schema(wo.additional) {
                    (
                        "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
                        format!(
                            "the reader's schema adds '{name}' to an open content model: \
                             the writer's documents may already hold '{name}' with any value"
                        ),
                    )
                } else {
                    (
                        "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
                        format!("the reader's schema adds '{name}', which the writer's additionalProperties allowed with other values"),
                    )
                };
                out.push(Diff::new(kind, &pp, what));
            }
        }
        for (name, wp) in wo.props() {
            if ro.prop(name).is_some() || wp == &FALSE {
                continue;
            }
            let pp = join(&props, name);
            let wn = w.child(wp);
            let matched = ro.matching(name);
            if !matched.is_empty() {
                if !matched
                    .iter()
                    .all(|(_, rs)| self.cmp(wn, r.child(rs), &pp).is_empty())
                {
                    out.push(Diff::new(
                        "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
                        &pp,
                        format!("the reader's schema removes '{name}', and its patternProperties refuse some of the writer's values"),
                    ));
                }
            } else if !self.cmp(wn, r.child(ro.additional), &pp).is_empty() {
                let (kind, what) = if ro.additional == &FALSE {
                    (
                        "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
                        format!("the reader's schema removes '{name}' from a closed content model: the writer's documents may hold it"),
                    )
                } else {
                    (
                        "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
                        format!("the reader's schema removes '{name}', and its additionalProperties refuse some of the writer's values"),
                    )
                };
                out.push(Diff::new(kind, &pp, what));
            }
        }
        let pats = join(path, "patternProperties");
        for (pat, rs) in ro.patterns() {
            let pp = join(&pats, pat);
            if let Some(ws) = wo.pattern(pat) {
                out.extend(self.cmp(w.child(ws), r.child(rs), &pp));
            } else if !self
                .cmp(w.child(wo.additional), r.child(rs), &pp)
                .is_empty()
            {
                let kind = if is_true_schema(wo.additional) {
                    "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"
                } else {
                    "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                };
                out.push(Diff::new(
                    kind,
                    &pp,
                    format!("the reader's schema constrains the names matching '{pat}', which the writer's left free"),
                ));
            }
        }
        for (pat, ws) in wo.patterns() {
            if ro.pattern(pat).is_some() {
                continue;
            }
            let pp = join(&pats, pat);
            if !self
                .cmp(w.child(ws), r.child(ro.additional), &pp)
                .is_empty()
            {
                let kind = if ro.additional == &FALSE {
                    "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"
                } else {
                    "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                };
                out.push(Diff::new(
                    kind,
                    &pp,
                    format!("the reader's schema drops the pattern '{pat}' and its additionalProperties refuse what it allowed"),
                ));
            }
        }
        let ap = join(path, "additionalProperties");
        let d = self.cmp(w.child(wo.additional), r.child(ro.additional), &ap);
        if !d.is_empty() {
            if ro.additional == &FALSE {
                out.push(Diff::new(
                    "ADDITIONAL_PROPERTIES_REMOVED",
                    &ap,
                    "the reader's schema closes the content model: properties it does not declare are refused",
                ));
            } else if is_true_schema(wo.additional) {
                out.push(Diff::new(
                    "ADDITIONAL_PROPERTIES_NARROWED",
                    &ap,
                    "the reader's schema constrains properties it does not declare, which the writer's left free",
                ));
            } else {
                out.extend(d);
            }
        }
        for name in &ro.required {
            if wo.required.contains(name) {
                continue;
            }
            // Confluent takes a default as the value of a missing property.
            if ro.prop(name).and_then(|p| p.get("default")).is_some() {
                continue;
            }
            let (kind, what) = if wo.prop(name).is_none() && !is_true_schema(wo.additional) {
                (
                    "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
                    format!("the reader's schema requires '{name}', which the writer's content model does not declare"),
                )
            } else {
                (
                    "REQUIRED_ATTRIBUTE_ADDED",
                    format!("the reader's schema requires '{name}', which the writer's documents may lack"),
                )
            };
            out.push(Diff::new(kind, &join(&props, name), what));
        }
        if let Some(rmax) = ro.max {
            let declared_only = wo
                .closed()
                .then(|| wo.props().filter(|(_, s)| *s != &FALSE).count() as u64);
            match min_opt(wo.max, declared_only) {
                Some(m) if m <= rmax => {}
                found => out.push(Diff::new(
                    if found.is_some() && wo.max.is_some() {
                        "MAX_PROPERTIES_DECREASED"
                    } else {
                        "MAX_PROPERTIES_ADDED"
                    },
                    &join(path, "maxProperties"),
                    format!("the reader's schema takes at most {rmax} properties"),
                )),
            }
        }
        if let Some(rmin) = ro.min.filter(|m| *m > 0) {
            let wmin = wo.min.unwrap_or(0).max(wo.required.len() as u64);
            if wmin < rmin {
                out.push(Diff::new(
                    if wo.min.is_some() {
                        "MIN_PROPERTIES_INCREASED"
                    } else {
                        "MIN_PROPERTIES_ADDED"
                    },
                    &join(path, "minProperties"),
                    format!("the reader's schema takes at least {rmin} properties, the writer's from {wmin}"),
                ));
            }
        }
        for (key, kw, list) in &ro.dep_required {
            let wl = wo
                .dep_required
                .iter()
                .find(|(k, _, _)| k == key)
                .map(|(_, _, l)| l);
            let missing: Vec<&str> = list
                .iter()
                .copied()
                .filter(|n| !wo.required.contains(n) && !wl.is_some_and(|l| l.contains(n)))
                .collect();
            if missing.is_empty() {
                continue;
            }
            let kind = match wl {
                None => "DEPENDENCY_ARRAY_ADDED",
                Some(l) if l.iter().all(|n| list.contains(n)) => "DEPENDENCY_ARRAY_EXTENDED",
                Some(_) => "DEPENDENCY_ARRAY_CHANGED",
            };
            out.push(Diff::new(
                kind,
                &join(&join(path, kw), key),
                format!(
                    "the reader's schema requires {} when '{key}' is present",
                    missing.join(", ")
                ),
            ));
        }
        for (key, kw, rs) in &ro.dep_schemas {
            let pp = join(&join(path, kw), key);
            match wo.dep_schemas.iter().find(|(k, _, _)| k == key) {
                Some((_, _, ws)) => out.extend(self.cmp(w.child(ws), r.child(rs), &pp)),
                None => {
                    if !self.cmp(w, r.child(rs), &pp).is_empty() {
                        out.push(Diff::new(
                            "DEPENDENCY_SCHEMA_ADDED",
                            &pp,
                            format!(
                                "the reader's schema constrains documents holding '{key}' further"
                            ),
                        ));
                    }
                }
            }
        }
        if let Some(rn) = r.get("propertyNames") {
            let wn = w.get("propertyNames").unwrap_or(&TRUE);
            out.extend(self.cmp(w.child(wn), r.child(rn), &join(path, "propertyNames")));
        }
    }

    /// `items` as one schema or as a tuple (`items` array with
    /// `additionalItems`, or 2020-12's `prefixItems` with `items`), tuple
    /// items added and removed against open, closed and partially open
    /// rests; min/maxItems; uniqueItems; contains.
    fn array_checks(&mut self, w: Node<'d>, r: Node<'d>, path: &str, out: &mut Vec<Diff>) {
        let wa = Arr::of(w);
        let ra = Arr::of(r);
        let w_max = wa.max_len();
        let n = wa.prefix.len().max(ra.prefix.len());
        for i in 0..n {
            if w_max.is_some_and(|m| i as u64 >= m) {
                break;
            }
            let idx = i.to_string();
            match (wa.prefix.get(i), ra.prefix.get(i)) {
                (Some(ws), Some(rs)) => {
                    let ip = join(&join(path, ra.prefix_kw), &idx);
                    out.extend(self.cmp(w.child(ws), r.child(rs), &ip));
                }
                (None, Some(rs)) => {
                    let ip = join(&join(path, ra.prefix_kw), &idx);
                    if !self.cmp(w.child(wa.rest), r.child(rs), &ip).is_empty() {
                        let kind = if is_true_schema(wa.rest) {
                            "ITEM_ADDED_TO_OPEN_CONTENT_MODEL"
                        } else {
                            "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                        };
                        out.push(Diff::new(
                            kind,
                            &ip,
                            format!("the reader's schema adds a tuple item at {i}, where the writer's arrays may hold other values"),
                        ));
                    }
                }
                (Some(ws), None) => {
                    let ip = join(&join(path, wa.prefix_kw), &idx);
                    if !self.cmp(w.child(ws), r.child(ra.rest), &ip).is_empty() {
                        let kind = if ra.rest == &FALSE {
                            "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL"
                        } else {
                            "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                        };
                        out.push(Diff::new(
                            kind,
                            &ip,
                            format!("the reader's schema removes the tuple item at {i}, and the items after its tuple refuse the writer's values"),
                        ));
                    }
                }
                (None, None) => {}
            }
        }
        if w_max.is_none_or(|m| m > n as u64) {
            let rp = join(path, ra.rest_kw);
            let d = self.cmp(w.child(wa.rest), r.child(ra.rest), &rp);
            if !d.is_empty() {
                if ra.rest == &FALSE {
                    out.push(Diff::new(
                        "ADDITIONAL_ITEMS_REMOVED",
                        &rp,
                        "the reader's schema refuses items the writer's arrays may hold",
                    ));
                } else if is_true_schema(wa.rest) {
                    out.push(Diff::new(
                        "ADDITIONAL_ITEMS_NARROWED",
                        &rp,
                        "the reader's schema constrains items the writer's schema leaves free",
                    ));
                } else {
                    out.extend(d);
                }
            }
        }
        if let Some(rmax) = ra.max {
            match w_max {
                Some(m) if m <= rmax => {}
                found => out.push(Diff::new(
                    if found.is_some() {
                        "MAX_ITEMS_DECREASED"
                    } else {
                        "MAX_ITEMS_ADDED"
                    },
                    &join(path, "maxItems"),
                    format!("the reader's schema takes at most {rmax} items"),
                )),
            }
        }
        if let Some(rmin) = ra.min.filter(|m| *m > 0) {
            let wmin = wa.min.unwrap_or(0);
            if wmin < rmin {
                out.push(Diff::new(
                    if wa.min.is_some() {
                        "MIN_ITEMS_INCREASED"
                    } else {
                        "MIN_ITEMS_ADDED"
                    },
                    &join(path, "minItems"),
                    format!(
                        "the reader's schema takes at least {rmin} items, the writer's from {wmin}"
                    ),
                ));
            }
        }
        if ra.unique && !wa.unique && w_max.is_none_or(|m| m > 1) {
            out.push(Diff::new(
                "UNIQUE_ITEMS_ADDED",
                &join(path, "uniqueItems"),
                "the reader's schema refuses repeated items, which the writer's allows",
            ));
        }
        if let Some(rc) = ra.contains {
            let cp = join(path, "contains");
            match wa.contains {
                Some(wc) => out.extend(self.cmp(w.child(wc), r.child(rc), &cp)),
                None => {
                    // Without its own `contains`, the writer still meets the
                    // reader's when each item it may hold does and its arrays
                    // are never empty.
                    let items = wa.prefix.iter().chain(std::iter::once(wa.rest));
                    let mut d = Vec::new();
                    for s in items {
                        d = self.cmp(w.child(s), r.child(rc), &cp);
                        if !d.is_empty() {
                            break;
                        }
                    }
                    if !d.is_empty() {
                        out.extend(d);
                    } else if wa.min.unwrap_or(0) == 0 {
                        out.push(Diff::new(
                            "MIN_ITEMS_ADDED",
                            &cp,
                            "the reader's 'contains' refuses the empty arrays the writer's schema allows",
                        ));
                    }
                }
            }
        }
    }
}

/// A bound on numbers, from the keyword that sets it.
struct Bound {
    kw: &'static str,
    at: f64,
    exclusive: bool,
}

impl Bound {
    /// Whether every number within `self` is within `other` (both upper
    /// bounds, or both lower). For integers, bounds are first moved to the
    /// nearest integer they allow.
    fn within(&self, other: &Bound, upper: bool, ints: bool) -> bool {
        if ints {
            let (a, b) = (self.int(upper), other.int(upper));
            return if upper { a <= b } else { a >= b };
        }
        let tighter = if upper {
            self.at < other.at
        } else {
            self.at > other.at
        };
        tighter || (self.at == other.at && (self.exclusive || !other.exclusive))
    }

    fn int(&self, upper: bool) -> f64 {
        match (upper, self.exclusive) {
            (true, true) => self.at.ceil() - 1.0,
            (true, false) => self.at.floor(),
            (false, true) => self.at.floor() + 1.0,
            (false, false) => self.at.ceil(),
        }
    }
}

/// A node's upper (or lower) bounds: `maximum` (exclusive under draft-04's
/// `exclusiveMaximum: true`) and a numeric `exclusiveMaximum`.
fn bounds(n: Node, upper: bool) -> Vec<Bound> {
    let (inclusive, exclusive) = if upper {
        ("maximum", "exclusiveMaximum")
    } else {
        ("minimum", "exclusiveMinimum")
    };
    let mut out = Vec::new();
    if let Some(at) = n.num(inclusive) {
        out.push(Bound {
            kw: inclusive,
            at,
            exclusive: n.get(exclusive) == Some(&TRUE),
        });
    }
    if let Some(at) = n.num(exclusive) {
        out.push(Bound {
            kw: exclusive,
            at,
            exclusive: true,
        });
    }
    out
}

/// An object schema's keywords.
struct Obj<'d> {
    props: Option<&'d Map<String, Value>>,
    required: Vec<&'d str>,
    /// `additionalProperties`, `true` when absent.
    additional: &'d Value,
    patterns: Option<&'d Map<String, Value>>,
    min: Option<u64>,
    max: Option<u64>,
    /// (property, keyword it came from, names it requires).
    dep_required: Vec<(&'d str, &'static str, Vec<&'d str>)>,
    dep_schemas: Vec<(&'d str, &'static str, &'d Value)>,
}

impl<'d> Obj<'d> {
    fn of(n: Node<'d>) -> Obj<'d> {
        let map = |k: &str| n.get(k).and_then(Value::as_object);
        let names = |v: &'d Value| -> Vec<&'d str> {
            v.as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default()
        };
        let mut dep_required = Vec::new();
        let mut dep_schemas = Vec::new();
        for kw in ["dependencies", "dependentRequired", "dependentSchemas"] {
            for (key, d) in map(kw).into_iter().flatten() {
                if d.is_array() {
                    dep_required.push((key.as_str(), kw, names(d)));
                } else if d.is_object() || d.is_boolean() {
                    dep_schemas.push((key.as_str(), kw, d));
                }
            }
        }
        let mut required = n.get("required").map(names).unwrap_or_default();
        required.sort_unstable();
        required.dedup();
        Obj {
            props: map("properties"),
            required,
            additional: n
                .get("additionalProperties")
                .filter(is_schema)
                .unwrap_or(&TRUE),
            patterns: map("patternProperties"),
            min: n.uint("minProperties"),
            max: n.uint("maxProperties"),
            dep_required,
            dep_schemas,
        }
    }

    fn props(&self) -> impl Iterator<Item = (&'d str, &'d Value)> {
        self.props
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v))
    }

    fn patterns(&self) -> impl Iterator<Item = (&'d str, &'d Value)> {
        self.patterns
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v))
    }

    fn prop(&self, name: &str) -> Option<&'d Value> {
        self.props?.get(name)
    }

    fn pattern(&self, pat: &str) -> Option<&'d Value> {
        self.patterns?.get(pat)
    }

    /// The patterns known to match `name` (one the matcher cannot run is
    /// taken not to).
    fn matching(&self, name: &str) -> Vec<(&'d str, &'d Value)> {
        self.patterns()
            .filter(|(p, _)| regex::is_match(p, name) == Some(true))
            .collect()
    }

    /// Only the declared properties can appear.
    fn closed(&self) -> bool {
        self.additional == &FALSE && self.patterns.is_none_or(Map::is_empty)
    }
}

/// An array schema's keywords, tuples of every draft seen one way: the
/// first items (`prefix`), and the schema for the items after them
/// (`rest`, `true` when absent).
struct Arr<'d> {
    prefix: &'d [Value],
    prefix_kw: &'static str,
    rest: &'d Value,
    rest_kw: &'static str,
    min: Option<u64>,
    max: Option<u64>,
    unique: bool,
    contains: Option<&'d Value>,
}

impl<'d> Arr<'d> {
    fn of(n: Node<'d>) -> Arr<'d> {
        let items = n.get("items");
        let (prefix, prefix_kw, rest, rest_kw): (&'d [Value], _, _, _) =
            match (n.get("prefixItems"), items) {
                (Some(Value::Array(p)), _) => (p, "prefixItems", items, "items"),
                (_, Some(Value::Array(p))) => {
                    (p, "items", n.get("additionalItems"), "additionalItems")
                }
                _ => (&[], "items", items, "items"),
            };
        Arr {
            prefix,
            prefix_kw,
            rest: rest.filter(is_schema).unwrap_or(&TRUE),
            rest_kw,
            min: n.uint("minItems"),
            max: n.uint("maxItems"),
            unique: n.get("uniqueItems") == Some(&TRUE),
            contains: n.get("contains").filter(is_schema),
        }
    }

    /// The most items an array can hold.
    fn max_len(&self) -> Option<u64> {
        min_opt(
            self.max,
            (self.rest == &FALSE).then_some(self.prefix.len() as u64),
        )
    }
}

// ---------------------------------------------------------------------------

/// `pattern` and `patternProperties` hold ECMA-262 regular expressions;
/// the `regex` crate reads the common subset the same way. What it does
/// not take (lookaround, backreferences) gives `None`: the caller treats
/// the answer as unknown.
mod regex {
    /// Whether `pattern` matches somewhere in `text`; `None` when the
    /// pattern cannot be compiled (or is too large to).
    pub fn is_match(pattern: &str, text: &str) -> Option<bool> {
        regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
            .ok()
            .map(|r| r.is_match(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Value {
        parse(s, &[]).unwrap_or_else(|e| panic!("valid schema {s}: {e}"))
    }

    /// BACKWARD from `old` to `new`: `new` reads what `old` wrote.
    fn compatible(old: &str, new: &str) {
        if let Err(e) = can_read(&p(old), &p(new)) {
            panic!("expected {new} to read {old}, got {e}");
        }
    }

    fn incompatible(old: &str, new: &str, kind: &str) {
        match can_read(&p(old), &p(new)) {
            Ok(()) => panic!("expected {new} not to read {old}"),
            Err(e) => assert!(
                e.contains(&format!("errorType:\"{kind}\"")),
                "expected {kind} for {old} -> {new}, got {e}"
            ),
        }
    }

    fn dep(name: &str, text: &str) -> Dependency {
        Dependency {
            name: name.into(),
            text: text.into(),
        }
    }

    #[test]
    fn one_schema_written_two_ways_has_one_canonical_text() {
        let a = p(
            r#"{"type":"object","properties":{"b":{"type":"string"},"a":{"type":"integer","minimum":1}},"required":["a"]}"#,
        );
        let b = p(r#"{
            "required": [ "a" ],
            "properties": { "a": { "minimum": 1, "type": "integer" },
                            "b": { "type": "string" } },
            "type": "object"
        }"#);
        assert_eq!(canonical(&a), canonical(&b));
        assert_eq!(
            canonical(&a),
            r#"{"properties":{"a":{"minimum":1,"type":"integer"},"b":{"type":"string"}},"required":["a"],"type":"object"}"#
        );
        // Array order is meaning, not layout.
        assert_ne!(
            canonical(&p(r#"{"enum":["a","b"]}"#)),
            canonical(&p(r#"{"enum":["b","a"]}"#))
        );
        assert_eq!(canonical(&p("true")), "true");
    }

    #[test]
    fn what_is_not_a_schema_is_refused() {
        for bad in [
            "not json",
            r#""string""#,
            "42",
            "[]",
            r#"{"type":"strin"}"#,
            r#"{"type":["string",1]}"#,
            r#"{"type":[]}"#,
            r#"{"properties":[]}"#,
            r#"{"properties":{"a":5}}"#,
            r#"{"required":"a"}"#,
            r#"{"required":[1]}"#,
            r#"{"items":5}"#,
            r#"{"allOf":[]}"#,
            r#"{"anyOf":{}}"#,
            r#"{"maxLength":-1}"#,
            r#"{"minItems":1.5}"#,
            r#"{"multipleOf":0}"#,
            r#"{"maximum":"10"}"#,
            r#"{"enum":"a"}"#,
            r#"{"pattern":5}"#,
            r#"{"not":"x"}"#,
            r#"{"dependencies":{"a":[1]}}"#,
            r##"{"$ref":"#/definitions/missing"}"##,
            r##"{"$ref":"#"}"##,
            r##"{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}"##,
            r#"{"$ref":"other.json"}"#,
        ] {
            match parse(bad, &[]) {
                Ok(_) => panic!("{bad} was taken for a schema"),
                Err(RegistryError::InvalidSchema(m)) => {
                    assert!(
                        m.starts_with(&format!("Invalid schema {bad}, details: ")),
                        "{m}"
                    )
                }
                Err(e) => panic!("{bad}: {e:?}"),
            }
        }
        for good in [
            "true",
            "false",
            "{}",
            r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":["string","null"],"x-custom":[1,2]}"#,
            r##"{"type":"object","properties":{"a":{"$ref":"#/definitions/a"}},"definitions":{"a":{"type":"string"}}}"##,
            r##"{"$defs":{"a":{"$anchor":"thing","type":"string"}},"$ref":"#thing"}"##,
            r#"{"type":"number","exclusiveMaximum":true,"maximum":5}"#,
        ] {
            assert!(parse(good, &[]).is_ok(), "{good} was refused");
        }
    }

    #[test]
    fn the_error_names_the_difference_and_where_it_is() {
        let e = can_read(
            &p(r#"{"type":"object","properties":{"a":{"type":"string"}}}"#),
            &p(r#"{"type":"object","properties":{"a":{"type":"string"},"foo":{"type":"string"}}}"#),
        )
        .expect_err("incompatible");
        assert!(
            e.starts_with(r#"{errorType:"PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", description:""#),
            "{e}"
        );
        assert!(
            e.ends_with(r##", additionalInfo:"#/properties/foo"}"##),
            "{e}"
        );
        // Several differences, joined.
        let e = can_read(
            &p(r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}}}"#),
            &p(r#"{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string","maxLength":3}}}"#),
        )
        .expect_err("incompatible");
        assert!(e.contains(r#"errorType:"TYPE_CHANGED""#), "{e}");
        assert!(e.contains(r#"errorType:"MAX_LENGTH_ADDED""#), "{e}");
        assert!(e.contains("}, {"), "{e}");
    }

    #[test]
    fn types_change_widen_and_narrow() {
        incompatible(
            r#"{"type":"string"}"#,
            r#"{"type":"integer"}"#,
            "TYPE_CHANGED",
        );
        compatible(r#"{"type":"integer"}"#, r#"{"type":"number"}"#);
        incompatible(
            r#"{"type":"number"}"#,
            r#"{"type":"integer"}"#,
            "TYPE_NARROWED",
        );
        compatible(r#"{"type":"string"}"#, r#"{"type":["string","null"]}"#);
        incompatible(
            r#"{"type":["string","null"]}"#,
            r#"{"type":"string"}"#,
            "TYPE_NARROWED",
        );
        compatible(r#"{"type":"string"}"#, "{}");
        incompatible("{}", r#"{"type":"string"}"#, "TYPE_NARROWED");
        compatible("false", r#"{"type":"string"}"#);
        incompatible(r#"{"type":"string"}"#, "false", "TYPE_NARROWED");
    }

    #[test]
    fn properties_against_open_and_closed_content_models() {
        let open = r#"{"type":"object","properties":{"a":{"type":"string"}}}"#;
        let closed = r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}"#;
        let open2 =
            r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}}}"#;
        let closed2 = r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"additionalProperties":false}"#;
        // Adding: old open documents may hold any "b".
        incompatible(open, open2, "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL");
        compatible(closed, closed2);
        compatible(closed, open2);
        // ... unless the new property accepts anything.
        compatible(
            open,
            r#"{"type":"object","properties":{"a":{"type":"string"},"b":{}}}"#,
        );
        // Removing: an open reader takes "b" as an additional property.
        compatible(open2, open);
        compatible(closed2, open);
        incompatible(
            closed2,
            closed,
            "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
        );
        // Partially open: additionalProperties as a schema.
        let strings = r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":{"type":"string"}}"#;
        compatible(
            strings,
            r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":["string","null"]}},"additionalProperties":{"type":"string"}}"#,
        );
        incompatible(
            strings,
            r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"additionalProperties":{"type":"string"}}"#,
            "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        );
        compatible(
            r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string","maxLength":3}},"additionalProperties":{"type":"string"}}"#,
            strings,
        );
        incompatible(
            r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"additionalProperties":{"type":"string"}}"#,
            strings,
            "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        );
        // A changed property is compared where it is.
        incompatible(
            open2,
            r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}}}"#,
            "TYPE_CHANGED",
        );
    }

    #[test]
    fn required_added_and_removed() {
        let optional = r#"{"type":"object","properties":{"a":{"type":"string"}}}"#;
        let required = r#"{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}"#;
        incompatible(optional, required, "REQUIRED_ATTRIBUTE_ADDED");
        compatible(required, optional);
        compatible(
            optional,
            r#"{"type":"object","properties":{"a":{"type":"string","default":""}},"required":["a"]}"#,
        );
        incompatible(
            r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}"#,
            r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"required":["b"],"additionalProperties":false}"#,
            "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
        );
        compatible(
            r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}"#,
            r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string","default":"x"}},"required":["b"],"additionalProperties":false}"#,
        );
    }

    #[test]
    fn additional_properties_opened_closed_and_constrained() {
        let open = r#"{"type":"object","properties":{"a":{"type":"string"}}}"#;
        let closed = r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}"#;
        let strings = r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":{"type":"string"}}"#;
        compatible(closed, open);
        incompatible(open, closed, "ADDITIONAL_PROPERTIES_REMOVED");
        incompatible(open, strings, "ADDITIONAL_PROPERTIES_NARROWED");
        compatible(strings, open);
        compatible(closed, strings);
        incompatible(
            strings,
            r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":{"type":"integer"}}"#,
            "TYPE_CHANGED",
        );
    }

    #[test]
    fn pattern_properties_are_matched_by_name() {
        let pats = r#"{"type":"object","patternProperties":{"^x-":{"type":"string"}},"additionalProperties":false}"#;
        compatible(
            pats,
            r#"{"type":"object","patternProperties":{"^x-":{"type":["string","null"]}},"additionalProperties":false}"#,
        );
        incompatible(
            pats,
            r#"{"type":"object","patternProperties":{"^x-":{"type":"integer"}},"additionalProperties":false}"#,
            "TYPE_CHANGED",
        );
        // "x-a" falls under the writer's "^x-": a string, as the reader wants.
        compatible(
            pats,
            r#"{"type":"object","properties":{"x-a":{"type":"string"}},"patternProperties":{"^x-":{"type":"string"}},"additionalProperties":false}"#,
        );
        incompatible(
            pats,
            r#"{"type":"object","properties":{"x-a":{"type":"integer"}},"patternProperties":{"^x-":{"type":"string"}},"additionalProperties":false}"#,
            "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        );
        // "age" matches no reader pattern: it falls to additionalProperties.
        incompatible(
            r#"{"type":"object","properties":{"age":{"type":"integer"}},"patternProperties":{"^x-":{"type":"string"}},"additionalProperties":false}"#,
            pats,
            "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
        );
        compatible(
            r#"{"type":"object","properties":{"x-age":{"type":"string","maxLength":3}},"patternProperties":{"^x-":{"type":"string"}},"additionalProperties":false}"#,
            pats,
        );
    }

    #[test]
    fn enums_extend_and_narrow() {
        let ab = r#"{"type":"string","enum":["a","b"]}"#;
        let abc = r#"{"type":"string","enum":["a","b","c"]}"#;
        compatible(ab, abc);
        incompatible(abc, ab, "ENUM_ARRAY_NARROWED");
        incompatible(
            ab,
            r#"{"type":"string","enum":["a","c"]}"#,
            "ENUM_ARRAY_CHANGED",
        );
        incompatible(r#"{"type":"string"}"#, ab, "ENUM_ARRAY_NARROWED");
        compatible(ab, r#"{"type":"string"}"#);
        compatible(r#"{"const":"a"}"#, ab);
        incompatible(r#"{"const":"c"}"#, ab, "ENUM_ARRAY_CHANGED");
        // A writer that lists its values is judged by them.
        compatible(
            r#"{"enum":["a","bb"]}"#,
            r#"{"type":"string","maxLength":2,"pattern":"^[ab]+$"}"#,
        );
        incompatible(
            r#"{"enum":["a",1]}"#,
            r#"{"type":"string"}"#,
            "TYPE_NARROWED",
        );
        compatible(r#"{"enum":[1,2.0]}"#, r#"{"type":"integer","maximum":2}"#);
        compatible(r#"{"type":"boolean"}"#, r#"{"enum":[true,false,null]}"#);
    }

    #[test]
    fn string_lengths_and_patterns() {
        let s = r#"{"type":"string"}"#;
        let max5 = r#"{"type":"string","maxLength":5}"#;
        let max9 = r#"{"type":"string","maxLength":9}"#;
        incompatible(s, max5, "MAX_LENGTH_ADDED");
        compatible(max5, s);
        compatible(max5, max9);
        incompatible(max9, max5, "MAX_LENGTH_DECREASED");
        let min2 = r#"{"type":"string","minLength":2}"#;
        let min4 = r#"{"type":"string","minLength":4}"#;
        incompatible(s, min2, "MIN_LENGTH_ADDED");
        compatible(min2, s);
        compatible(min4, min2);
        incompatible(min2, min4, "MIN_LENGTH_INCREASED");
        let digits = r#"{"type":"string","pattern":"^[0-9]+$"}"#;
        incompatible(s, digits, "PATTERN_ADDED");
        compatible(digits, s);
        compatible(digits, digits);
        incompatible(
            digits,
            r#"{"type":"string","pattern":"^[a-z]+$"}"#,
            "PATTERN_CHANGED",
        );
        // Length keywords do not touch numbers.
        compatible(
            r#"{"type":"integer"}"#,
            r#"{"type":["integer","string"],"maxLength":3}"#,
        );
    }

    #[test]
    fn numeric_bounds_and_multiples() {
        let n = r#"{"type":"number"}"#;
        let max10 = r#"{"type":"number","maximum":10}"#;
        let max20 = r#"{"type":"number","maximum":20}"#;
        incompatible(n, max10, "MAXIMUM_ADDED");
        compatible(max10, n);
        compatible(max10, max20);
        incompatible(max20, max10, "MAXIMUM_DECREASED");
        let min0 = r#"{"type":"number","minimum":0}"#;
        let min5 = r#"{"type":"number","minimum":5}"#;
        incompatible(n, min0, "MINIMUM_ADDED");
        compatible(min5, min0);
        incompatible(min0, min5, "MINIMUM_INCREASED");
        incompatible(
            max10,
            r#"{"type":"number","exclusiveMaximum":10}"#,
            "EXCLUSIVE_MAXIMUM_DECREASED",
        );
        compatible(r#"{"type":"number","exclusiveMaximum":10}"#, max10);
        incompatible(
            n,
            r#"{"type":"number","exclusiveMinimum":0}"#,
            "EXCLUSIVE_MINIMUM_ADDED",
        );
        incompatible(
            r#"{"type":"number","exclusiveMinimum":0}"#,
            r#"{"type":"number","exclusiveMinimum":1}"#,
            "EXCLUSIVE_MINIMUM_INCREASED",
        );
        // For integers, maximum 10 is exclusiveMaximum 11.
        compatible(
            r#"{"type":"integer","maximum":10}"#,
            r#"{"type":"integer","exclusiveMaximum":11}"#,
        );
        // Draft-04's boolean form.
        compatible(
            r#"{"type":"number","maximum":10,"exclusiveMaximum":true}"#,
            r#"{"type":"number","exclusiveMaximum":10}"#,
        );
        let m2 = r#"{"type":"integer","multipleOf":2}"#;
        let m4 = r#"{"type":"integer","multipleOf":4}"#;
        compatible(m4, m2);
        incompatible(m2, m4, "MULTIPLE_OF_EXPANDED");
        incompatible(
            m2,
            r#"{"type":"integer","multipleOf":3}"#,
            "MULTIPLE_OF_CHANGED",
        );
        incompatible(
            n,
            r#"{"type":"number","multipleOf":0.5}"#,
            "MULTIPLE_OF_ADDED",
        );
        compatible(
            r#"{"type":"integer"}"#,
            r#"{"type":"number","multipleOf":0.5}"#,
        );
        compatible(
            r#"{"type":"number","multipleOf":0.3}"#,
            r#"{"type":"number","multipleOf":0.1}"#,
        );
    }

    #[test]
    fn array_items_and_tuples() {
        let strings = r#"{"type":"array","items":{"type":"string"}}"#;
        compatible(
            strings,
            r#"{"type":"array","items":{"type":["string","null"]}}"#,
        );
        incompatible(
            strings,
            r#"{"type":"array","items":{"type":"integer"}}"#,
            "TYPE_CHANGED",
        );
        compatible(strings, r#"{"type":"array"}"#);
        incompatible(r#"{"type":"array"}"#, strings, "ADDITIONAL_ITEMS_NARROWED");
        // Tuples (draft-07): items added to closed and open tuples.
        let closed = r#"{"type":"array","items":[{"type":"string"}],"additionalItems":false}"#;
        let closed2 = r#"{"type":"array","items":[{"type":"string"},{"type":"integer"}],"additionalItems":false}"#;
        let open = r#"{"type":"array","items":[{"type":"string"}]}"#;
        let open2 = r#"{"type":"array","items":[{"type":"string"},{"type":"integer"}]}"#;
        compatible(closed, closed2);
        incompatible(open, open2, "ITEM_ADDED_TO_OPEN_CONTENT_MODEL");
        compatible(open2, open);
        incompatible(closed2, closed, "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL");
        incompatible(open, closed, "ADDITIONAL_ITEMS_REMOVED");
        compatible(closed, open);
        let partial =
            r#"{"type":"array","items":[{"type":"string"}],"additionalItems":{"type":"integer"}}"#;
        compatible(
            partial,
            r#"{"type":"array","items":[{"type":"string"},{"type":"number"}],"additionalItems":{"type":"integer"}}"#,
        );
        incompatible(
            partial,
            r#"{"type":"array","items":[{"type":"string"},{"type":"string"}],"additionalItems":{"type":"integer"}}"#,
            "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        );
        incompatible(
            r#"{"type":"array","items":[{"type":"string"},{"type":"string"}],"additionalItems":{"type":"integer"}}"#,
            partial,
            "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        );
        // 2020-12's prefixItems reads the same.
        compatible(
            r#"{"type":"array","prefixItems":[{"type":"string"}],"items":false}"#,
            r#"{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false}"#,
        );
    }

    #[test]
    fn array_sizes_and_uniqueness() {
        let a = r#"{"type":"array"}"#;
        incompatible(a, r#"{"type":"array","maxItems":3}"#, "MAX_ITEMS_ADDED");
        compatible(
            r#"{"type":"array","maxItems":3}"#,
            r#"{"type":"array","maxItems":4}"#,
        );
        incompatible(
            r#"{"type":"array","maxItems":4}"#,
            r#"{"type":"array","maxItems":3}"#,
            "MAX_ITEMS_DECREASED",
        );
        incompatible(a, r#"{"type":"array","minItems":1}"#, "MIN_ITEMS_ADDED");
        compatible(
            r#"{"type":"array","minItems":2}"#,
            r#"{"type":"array","minItems":1}"#,
        );
        incompatible(
            r#"{"type":"array","minItems":1}"#,
            r#"{"type":"array","minItems":2}"#,
            "MIN_ITEMS_INCREASED",
        );
        incompatible(
            a,
            r#"{"type":"array","uniqueItems":true}"#,
            "UNIQUE_ITEMS_ADDED",
        );
        compatible(r#"{"type":"array","uniqueItems":true}"#, a);
        compatible(
            r#"{"type":"array","maxItems":1}"#,
            r#"{"type":"array","uniqueItems":true}"#,
        );
    }

    #[test]
    fn sum_types_extend_and_narrow() {
        let s = r#"{"type":"string"}"#;
        let s_or_null = r#"{"oneOf":[{"type":"string"},{"type":"null"}]}"#;
        compatible(s, s_or_null);
        compatible(r#"{"type":["string","null"]}"#, s_or_null);
        compatible(s_or_null, r#"{"type":["string","null"]}"#);
        incompatible(s_or_null, s, "TYPE_NARROWED");
        compatible(
            s_or_null,
            r#"{"oneOf":[{"type":"string"},{"type":"null"},{"type":"integer"}]}"#,
        );
        incompatible(
            r#"{"oneOf":[{"type":"string"},{"type":"null"},{"type":"integer"}]}"#,
            s_or_null,
            "SUM_TYPE_NARROWED",
        );
        incompatible(
            s_or_null,
            r#"{"oneOf":[{"type":"string"},{"type":"integer"}]}"#,
            "COMBINED_TYPE_SUBSCHEMAS_CHANGED",
        );
        incompatible(r#"{"type":"boolean"}"#, s_or_null, "TYPE_CHANGED");
        // anyOf lets documents match two branches; oneOf refuses them.
        compatible(
            r#"{"oneOf":[{"type":"string"},{"type":"null"}]}"#,
            r#"{"anyOf":[{"type":"string"},{"type":"null"}]}"#,
        );
        incompatible(
            r#"{"anyOf":[{"type":"string"},{"type":"null"}]}"#,
            s_or_null,
            "COMBINED_TYPE_CHANGED",
        );
    }

    #[test]
    fn product_types_narrow_and_extend() {
        let two = r#"{"allOf":[{"type":"string"},{"maxLength":5}]}"#;
        compatible(two, r#"{"allOf":[{"type":"string"}]}"#);
        compatible(two, r#"{"type":"string","maxLength":9}"#);
        incompatible(
            r#"{"allOf":[{"type":"string"}]}"#,
            two,
            "PRODUCT_TYPE_EXTENDED",
        );
        // Conjuncts narrow the writer: its type holds inside them.
        compatible(
            r#"{"type":"object","allOf":[{"properties":{"a":{"type":"string"}},"additionalProperties":false}]}"#,
            r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}"#,
        );
    }

    #[test]
    fn not_narrows_and_extends() {
        let not_s = r#"{"not":{"type":"string"}}"#;
        let not_sn = r#"{"not":{"type":["string","null"]}}"#;
        compatible(not_sn, not_s);
        incompatible(not_s, not_sn, "NOT_TYPE_EXTENDED");
        compatible(r#"{"type":"integer"}"#, not_s);
        incompatible(
            r#"{"type":["integer","string"]}"#,
            not_s,
            "NOT_TYPE_EXTENDED",
        );
        compatible(r#"{"enum":["a","b"]}"#, r#"{"not":{"const":"c"}}"#);
    }

    #[test]
    fn local_references_resolve() {
        let v1 = r##"{"type":"object","properties":{"home":{"$ref":"#/definitions/addr"}},
            "definitions":{"addr":{"type":"object","properties":{"city":{"type":"string"}},"additionalProperties":false}}}"##;
        let v2 = r##"{"type":"object","properties":{"home":{"$ref":"#/$defs/place"}},
            "$defs":{"place":{"type":"object","properties":{"city":{"type":"string"},"zip":{"type":"string"}},"additionalProperties":false}}}"##;
        let v3 = r##"{"type":"object","properties":{"home":{"$ref":"#/$defs/place"}},
            "$defs":{"place":{"type":"object","properties":{"city":{"type":"integer"}},"additionalProperties":false}}}"##;
        compatible(v1, v2);
        incompatible(v1, v3, "TYPE_CHANGED");
        incompatible(v2, v1, "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL");
    }

    #[test]
    fn references_to_other_schemas_resolve_by_name() {
        let addr1 = dep(
            "address.json",
            r#"{"type":"object","properties":{"city":{"type":"string"}},"additionalProperties":false}"#,
        );
        let addr2 = dep(
            "address.json",
            r#"{"type":"object","properties":{"city":{"type":"string"},"zip":{"type":"string"}},"additionalProperties":false}"#,
        );
        let addr3 = dep(
            "address.json",
            r#"{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}"#,
        );
        let user = r#"{"type":"object","properties":{"home":{"$ref":"address.json"}}}"#;
        let u = parse(user, std::slice::from_ref(&addr1)).expect("references resolve");
        assert!(parse(user, &[]).is_err(), "an unresolvable $ref is refused");
        assert!(can_read_with(
            &u,
            std::slice::from_ref(&addr1),
            &u,
            std::slice::from_ref(&addr2)
        )
        .is_ok());
        let e = can_read_with(
            &u,
            std::slice::from_ref(&addr1),
            &u,
            std::slice::from_ref(&addr3),
        )
        .expect_err("city became required");
        assert!(
            e.contains("REQUIRED_ATTRIBUTE_ADDED")
                && e.contains("#/properties/home/properties/city"),
            "{e}"
        );
        let e = can_read_with(&u, &[], &u, std::slice::from_ref(&addr1))
            .expect_err("the writer's reference is missing");
        assert!(e.contains("REFERENCE_UNRESOLVED"), "{e}");
        // A fragment of a referenced schema, and a base URL from $id.
        let defs = dep(
            "https://example.com/schemas/common.json",
            r#"{"$defs":{"id":{"type":"string","maxLength":10}}}"#,
        );
        let s = parse(
            r##"{"$id":"https://example.com/schemas/order.json","type":"object","properties":{"id":{"$ref":"common.json#/$defs/id"}}}"##,
            std::slice::from_ref(&defs),
        )
        .expect("relative reference against $id");
        let loose = p(r#"{"type":"object","properties":{"id":{"type":"string","maxLength":20}}}"#);
        assert!(can_read_with(&s, std::slice::from_ref(&defs), &loose, &[]).is_ok());
        assert!(can_read_with(&loose, &[], &s, std::slice::from_ref(&defs)).is_err());
    }

    #[test]
    fn recursive_schemas_terminate() {
        let tree = r##"{"type":"object","properties":{"value":{"type":"integer"},
            "children":{"type":"array","items":{"$ref":"#"}}}}"##;
        let wider = r##"{"type":"object","properties":{"value":{"type":"number"},
            "children":{"type":"array","items":{"$ref":"#"}}}}"##;
        compatible(tree, tree);
        compatible(tree, wider);
        incompatible(wider, tree, "TYPE_NARROWED");
        let list = r##"{"$defs":{"node":{"type":["object","null"],"properties":{"next":{"$ref":"#/$defs/node"}}}},"$ref":"#/$defs/node"}"##;
        compatible(list, list);
    }

    #[test]
    fn references_with_siblings_are_both_checked() {
        let w = r##"{"$defs":{"s":{"type":"string"}},"$ref":"#/$defs/s","maxLength":5}"##;
        compatible(w, r#"{"type":"string","maxLength":9}"#);
        incompatible(r#"{"type":"string"}"#, w, "MAX_LENGTH_ADDED");
    }

    #[test]
    fn dependencies_and_sizes_of_objects() {
        let o = r#"{"type":"object"}"#;
        incompatible(
            o,
            r#"{"type":"object","dependentRequired":{"a":["b"]}}"#,
            "DEPENDENCY_ARRAY_ADDED",
        );
        compatible(
            r#"{"type":"object","dependencies":{"a":["b","c"]}}"#,
            r#"{"type":"object","dependencies":{"a":["b"]}}"#,
        );
        incompatible(
            r#"{"type":"object","dependencies":{"a":["b"]}}"#,
            r#"{"type":"object","dependencies":{"a":["b","c"]}}"#,
            "DEPENDENCY_ARRAY_EXTENDED",
        );
        incompatible(
            o,
            r#"{"type":"object","dependentSchemas":{"a":{"required":["b"]}}}"#,
            "DEPENDENCY_SCHEMA_ADDED",
        );
        incompatible(
            o,
            r#"{"type":"object","maxProperties":2}"#,
            "MAX_PROPERTIES_ADDED",
        );
        compatible(
            r#"{"type":"object","properties":{"a":{},"b":{}},"additionalProperties":false}"#,
            r#"{"type":"object","maxProperties":2}"#,
        );
        incompatible(
            o,
            r#"{"type":"object","minProperties":1}"#,
            "MIN_PROPERTIES_ADDED",
        );
        compatible(
            r#"{"type":"object","required":["a"]}"#,
            r#"{"type":"object","minProperties":1}"#,
        );
    }

    #[test]
    fn contains_and_property_names() {
        let strings = r#"{"type":"array","items":{"type":"string"}}"#;
        let has_string = r#"{"type":"array","contains":{"type":"string"}}"#;
        compatible(
            r#"{"type":"array","items":{"type":"string"},"minItems":1}"#,
            has_string,
        );
        incompatible(strings, has_string, "MIN_ITEMS_ADDED");
        incompatible(
            r#"{"type":"array","minItems":1}"#,
            has_string,
            "TYPE_NARROWED",
        );
        compatible(r#"{"type":"array","contains":{"const":"x"}}"#, has_string);
        compatible(
            r#"{"type":"object","propertyNames":{"maxLength":3}}"#,
            r#"{"type":"object","propertyNames":{"maxLength":5}}"#,
        );
        incompatible(
            r#"{"type":"object"}"#,
            r#"{"type":"object","propertyNames":{"maxLength":5}}"#,
            "MAX_LENGTH_ADDED",
        );
    }

    #[test]
    fn nested_combinators_compare_in_bounded_time() {
        let mut a = String::from(r#"{"type":"string"}"#);
        let mut b = String::from(r#"{"type":"string","maxLength":4}"#);
        for i in 0..5 {
            a = format!(r#"{{"oneOf":[{a},{{"type":"integer","maximum":{i}}},{a}]}}"#);
            b = format!(r#"{{"oneOf":[{b},{{"type":"integer","maximum":{i}}},{b}]}}"#);
        }
        let (a, b) = (p(&a), p(&b));
        assert!(can_read(&a, &a).is_ok());
        assert!(can_read(&b, &a).is_ok());
        let e = can_read(&a, &b).expect_err("maxLength added deep inside");
        assert!(
            e.contains("MAX_LENGTH_ADDED") && !e.contains("SCHEMA_TOO_COMPLEX"),
            "{e}"
        );
    }

    #[test]
    fn keywords_not_compared_must_stay() {
        let cond = r#"{"type":"object","if":{"required":["a"]},"then":{"required":["b"]}}"#;
        compatible(cond, cond);
        incompatible(r#"{"type":"object"}"#, cond, "KEYWORD_CHANGED");
        compatible(cond, r#"{"type":"object"}"#);
    }

    #[test]
    fn the_matcher_knows_common_patterns() {
        use super::regex::is_match;
        assert_eq!(is_match("^x-", "x-a"), Some(true));
        assert_eq!(is_match("^x-", "ax-"), Some(false));
        assert_eq!(is_match("x-", "ax-"), Some(true));
        assert_eq!(is_match("^[a-z]+$", "abc"), Some(true));
        assert_eq!(is_match("^[a-z]+$", "abC"), Some(false));
        assert_eq!(is_match(r"^\d{3}-\d{4}$", "555-1234"), Some(true));
        assert_eq!(is_match(r"^\d{3}-\d{4}$", "555-123"), Some(false));
        assert_eq!(is_match("^(foo|bar)baz$", "barbaz"), Some(true));
        assert_eq!(is_match("^(?:a|ab)c$", "abc"), Some(true));
        assert_eq!(is_match("^[^0-9]*$", "abc"), Some(true));
        assert_eq!(is_match("^[^0-9]*$", "a1"), Some(false));
        assert_eq!(is_match(r"\bword\b", "a word here"), Some(true));
        assert_eq!(is_match("^a{2,}?$", "aaa"), Some(true));
        assert_eq!(
            is_match("^(a*)*b$", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            Some(false)
        );
        assert_eq!(is_match("(?=a)", "a"), None);
        assert_eq!(is_match(r"(a)\1", "aa"), None);
        assert_eq!(is_match("(", "("), None);
    }
}
