//! The comparison: walks writer and reader side by side and names each
//! change that lets a writer's document through that the reader refuses.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde_json::{Map, Value};

use super::*;

/// One place in a schema, as the comparison sees it.
#[derive(Clone, Copy)]
pub(super) struct Node<'d> {
    pub(super) v: &'d Value,
    /// The document `v` is in, against which its `$ref`s resolve.
    pub(super) doc: usize,
    /// The types this node is narrowed to: a writer `["string", "null"]`
    /// is compared with a reader `oneOf` one type at a time.
    pub(super) only: u8,
    /// Its `$ref` already taken apart from its siblings.
    pub(super) skip_ref: bool,
    /// Only its own keywords, not `allOf`/`anyOf`/`oneOf`/`not`/`$ref`.
    pub(super) base_only: bool,
}

impl<'d> Node<'d> {
    pub(super) fn new(v: &'d Value, doc: usize) -> Node<'d> {
        Node {
            v,
            doc,
            only: T_ALL,
            skip_ref: false,
            base_only: false,
        }
    }

    /// A schema inside this one (same document, no narrowing).
    pub(super) fn child(&self, v: &'d Value) -> Node<'d> {
        Node::new(v, self.doc)
    }

    pub(super) fn get(&self, k: &str) -> Option<&'d Value> {
        self.v.as_object()?.get(k)
    }

    pub(super) fn combined(&self, k: &str) -> &'d [Value] {
        if self.base_only {
            return &[];
        }
        match self.get(k) {
            Some(Value::Array(a)) => a,
            _ => &[],
        }
    }

    pub(super) fn uint(&self, k: &str) -> Option<u64> {
        self.get(k).and_then(count)
    }

    pub(super) fn num(&self, k: &str) -> Option<f64> {
        self.get(k)
            .filter(|v| v.is_number())
            .and_then(Value::as_f64)
    }

    pub(super) fn is_false(&self) -> bool {
        self.v == &FALSE
    }
}

pub(super) fn declared_types(n: Node) -> u8 {
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
pub(super) fn listed(n: Node<'_>) -> Option<Vec<&Value>> {
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
pub(super) fn eff_types(n: Node) -> u8 {
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
pub(super) fn finite(n: Node<'_>) -> Option<Vec<&Value>> {
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
pub(super) fn accepts_all(n: Node) -> bool {
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
pub(super) struct Diff {
    pub(super) kind: &'static str,
    pub(super) what: String,
    pub(super) path: String,
}

impl Diff {
    pub(super) fn new(kind: &'static str, path: &str, what: impl Into<String>) -> Diff {
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
pub(super) const MAX_STEPS: usize = 100_000;
pub(super) const MAX_DEPTH: usize = 200;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Key {
    pub(super) w: usize,
    pub(super) w_only: u8,
    pub(super) w_flags: u8,
    pub(super) r: usize,
    pub(super) r_flags: u8,
    pub(super) swapped: bool,
}

impl Key {
    pub(super) fn new(w: Node, r: Node, swapped: bool) -> Key {
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

pub(super) struct Cmp<'d> {
    /// The writer's documents (the reader's while comparing inside a `not`,
    /// where the roles swap).
    pub(super) w: &'d Docs<'d>,
    pub(super) r: &'d Docs<'d>,
    /// Writer and reader are the same schema with the same references: a
    /// node then reads itself.
    pub(super) same_docs: bool,
    pub(super) swapped: bool,
    /// Pairs being compared further up: met again (a recursive schema),
    /// they are assumed to hold, which is what makes recursion terminate.
    pub(super) active: HashSet<Key>,
    /// How many times such an assumption was made.
    pub(super) assumed: usize,
    /// Results already known, by pair and place: a combinator tries the
    /// same pairs again and again, exponentially in its nesting without
    /// this. A failure is kept always (an assumption can only hide
    /// failures, never make one up); a success only when no assumption
    /// went into it.
    pub(super) memo: HashMap<(Key, String), Vec<Diff>>,
    pub(super) steps: usize,
    pub(super) depth: usize,
}

impl<'d> Cmp<'d> {
    pub(super) fn swap(&mut self) {
        std::mem::swap(&mut self.w, &mut self.r);
        self.swapped = !self.swapped;
    }

    /// Counts a step; false when the comparison has gone on too long.
    pub(super) fn step(&mut self) -> bool {
        self.steps += 1;
        self.steps <= MAX_STEPS && self.depth <= MAX_DEPTH
    }

    /// A combinator branch of writer `w`, narrowed to the types `w` allows.
    pub(super) fn branch(&self, w: Node<'d>, v: &'d Value) -> Node<'d> {
        Node {
            only: self.w.deep_types(w, 0),
            ..w.child(v)
        }
    }

    pub(super) fn too_complex(path: &str) -> Vec<Diff> {
        vec![Diff::new(
            "SCHEMA_TOO_COMPLEX",
            path,
            "the schemas nest or combine too deeply to be compared",
        )]
    }

    /// What in `r` refuses documents `w` accepts.
    pub(super) fn cmp(&mut self, w: Node<'d>, r: Node<'d>, path: &str) -> Vec<Diff> {
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
    pub(super) fn same_node(&self, w: Node<'d>, r: Node<'d>) -> bool {
        if (w.skip_ref && !r.skip_ref) || (w.base_only && !r.base_only) {
            return false;
        }
        json_eq(w.v, r.v) && ((self.same_docs && w.doc == r.doc) || !has_ref(w.v))
    }

    /// The reader taken apart: its own keywords, its `$ref`, each `allOf`
    /// conjunct, its `anyOf`/`oneOf` and its `not`, the writer's documents
    /// having to pass each.
    pub(super) fn cmp_parts(&mut self, w: Node<'d>, r: Node<'d>, path: &str) -> Vec<Diff> {
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
    pub(super) fn against_base(&mut self, w: Node<'d>, rb: Node<'d>, path: &str) -> Vec<Diff> {
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
    pub(super) fn against_sum(
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
    pub(super) fn in_sum(&mut self, w: Node<'d>, branches: &[Node<'d>], p: &str) -> bool {
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

    pub(super) fn parts_in_sum(
        &mut self,
        w: Node<'d>,
        types: u8,
        branches: &[Node<'d>],
        p: &str,
    ) -> bool {
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
    pub(super) fn against_not(&mut self, w: Node<'d>, rn: Node<'d>, path: &str) -> Vec<Diff> {
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

    pub(super) fn disjoint(&self, w: Node<'d>, rn: Node<'d>) -> bool {
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
    pub(super) fn base_cmp(&mut self, w: Node<'d>, r: Node<'d>, path: &str) -> Vec<Diff> {
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

    pub(super) fn enum_check(
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
    pub(super) fn string_checks(w: Node<'d>, r: Node<'d>, path: &str, out: &mut Vec<Diff>) {
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
                    .filter(|s| match pattern::is_match(rp, s) {
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
    pub(super) fn number_checks(
        w: Node<'d>,
        r: Node<'d>,
        common: u8,
        path: &str,
        out: &mut Vec<Diff>,
    ) {
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
    pub(super) fn object_checks(
        &mut self,
        w: Node<'d>,
        r: Node<'d>,
        path: &str,
        out: &mut Vec<Diff>,
    ) {
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
    pub(super) fn array_checks(
        &mut self,
        w: Node<'d>,
        r: Node<'d>,
        path: &str,
        out: &mut Vec<Diff>,
    ) {
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
pub(super) struct Bound {
    pub(super) kw: &'static str,
    pub(super) at: f64,
    pub(super) exclusive: bool,
}

impl Bound {
    /// Whether every number within `self` is within `other` (both upper
    /// bounds, or both lower). For integers, bounds are first moved to the
    /// nearest integer they allow.
    pub(super) fn within(&self, other: &Bound, upper: bool, ints: bool) -> bool {
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

    pub(super) fn int(&self, upper: bool) -> f64 {
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
pub(super) fn bounds(n: Node, upper: bool) -> Vec<Bound> {
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
pub(super) struct Obj<'d> {
    pub(super) props: Option<&'d Map<String, Value>>,
    pub(super) required: Vec<&'d str>,
    /// `additionalProperties`, `true` when absent.
    pub(super) additional: &'d Value,
    pub(super) patterns: Option<&'d Map<String, Value>>,
    pub(super) min: Option<u64>,
    pub(super) max: Option<u64>,
    /// (property, keyword it came from, names it requires).
    pub(super) dep_required: Vec<(&'d str, &'static str, Vec<&'d str>)>,
    pub(super) dep_schemas: Vec<(&'d str, &'static str, &'d Value)>,
}

impl<'d> Obj<'d> {
    pub(super) fn of(n: Node<'d>) -> Obj<'d> {
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

    pub(super) fn props(&self) -> impl Iterator<Item = (&'d str, &'d Value)> {
        self.props
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v))
    }

    pub(super) fn patterns(&self) -> impl Iterator<Item = (&'d str, &'d Value)> {
        self.patterns
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v))
    }

    pub(super) fn prop(&self, name: &str) -> Option<&'d Value> {
        self.props?.get(name)
    }

    pub(super) fn pattern(&self, pat: &str) -> Option<&'d Value> {
        self.patterns?.get(pat)
    }

    /// The patterns known to match `name` (one the matcher cannot run is
    /// taken not to).
    pub(super) fn matching(&self, name: &str) -> Vec<(&'d str, &'d Value)> {
        self.patterns()
            .filter(|(p, _)| pattern::is_match(p, name) == Some(true))
            .collect()
    }

    /// Only the declared properties can appear.
    pub(super) fn closed(&self) -> bool {
        self.additional == &FALSE && self.patterns.is_none_or(Map::is_empty)
    }
}

/// An array schema's keywords, tuples of every draft seen one way: the
/// first items (`prefix`), and the schema for the items after them
/// (`rest`, `true` when absent).
pub(super) struct Arr<'d> {
    pub(super) prefix: &'d [Value],
    pub(super) prefix_kw: &'static str,
    pub(super) rest: &'d Value,
    pub(super) rest_kw: &'static str,
    pub(super) min: Option<u64>,
    pub(super) max: Option<u64>,
    pub(super) unique: bool,
    pub(super) contains: Option<&'d Value>,
}

impl<'d> Arr<'d> {
    pub(super) fn of(n: Node<'d>) -> Arr<'d> {
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
    pub(super) fn max_len(&self) -> Option<u64> {
        min_opt(
            self.max,
            (self.rest == &FALSE).then_some(self.prefix.len() as u64),
        )
    }
}
