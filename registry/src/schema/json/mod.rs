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
//! Where a keyword cannot be compared (a `pattern` the `regex` crate cannot
//! compile, `if`/`then`/`else`, `unevaluated*`), the reader must
//! keep the writer's text of it: refusing a compatible schema has a way out
//! (compatibility NONE for the subject), accepting an incompatible one breaks
//! its consumers. `oneOf` is compared as `anyOf` (whether exactly one branch
//! matches is not decided), as Confluent compares it.

mod compare;
mod pattern;
mod refs;
mod shape;
mod types;

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::Dependency;
use crate::error::RegistryError;
use compare::*;
use refs::*;
use shape::*;
use types::*;

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
        use super::pattern::is_match;
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
