//! Checking that a document is a JSON Schema: keywords with the shapes
//! the drafts give them, known type names.

use serde_json::Value;

use super::*;

pub(super) const TYPE_NAMES: [&str; 7] = [
    "null", "boolean", "object", "array", "number", "integer", "string",
];

/// Keywords that constrain a document (the rest annotate it, or are
/// extensions such as `javaType` that validation ignores).
pub(super) const ASSERTIONS: [&str; 42] = [
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
pub(super) const COMBINATORS: [&str; 5] = ["allOf", "anyOf", "oneOf", "not", "$ref"];

/// Keywords this module cannot compare: the reader must keep the writer's.
pub(super) const UNCOMPARED: [&str; 7] = [
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
pub(super) fn check_schema(v: &Value, path: &str) -> Result<(), String> {
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

pub(super) fn check_keyword(k: &str, x: &Value) -> Result<(), String> {
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

pub(super) fn known_type(s: &str) -> Result<(), String> {
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
pub(super) fn count(x: &Value) -> Option<u64> {
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
pub(super) fn subschemas(v: &Value) -> Vec<(String, &Value)> {
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
