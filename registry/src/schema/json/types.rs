//! JSON types as bit sets (integer within number), listed values, and
//! small helpers the comparison shares.

use serde_json::Value;

use super::*;

pub(super) const T_NULL: u8 = 1;
pub(super) const T_BOOLEAN: u8 = 2;
pub(super) const T_OBJECT: u8 = 4;
pub(super) const T_ARRAY: u8 = 8;
pub(super) const T_STRING: u8 = 16;
pub(super) const T_INTEGER: u8 = 32;
/// Numbers that are not integers: `number` is integer and fraction, so
/// integer → number widens and number → integer narrows.
pub(super) const T_FRACTION: u8 = 64;
pub(super) const T_NUMBER: u8 = T_INTEGER | T_FRACTION;
pub(super) const T_ALL: u8 = 127;
pub(super) const T_EACH: [u8; 7] = [
    T_NULL, T_BOOLEAN, T_OBJECT, T_ARRAY, T_STRING, T_INTEGER, T_FRACTION,
];

pub(super) fn type_bits(name: &str) -> u8 {
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

pub(super) fn type_names(bits: u8) -> String {
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

pub(super) fn value_type(v: &Value) -> u8 {
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
pub(super) fn json_eq(a: &Value, b: &Value) -> bool {
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
pub(super) fn is_true_schema(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Object(m) => !m.keys().any(|k| ASSERTIONS.contains(&k.as_str())),
        _ => true,
    }
}

pub(super) fn is_schema(v: &&Value) -> bool {
    v.is_object() || v.is_boolean()
}

/// A JSON pointer one segment further.
pub(super) fn join(path: &str, seg: &str) -> String {
    format!("{path}/{}", escape(seg))
}

pub(super) fn escape(seg: &str) -> String {
    seg.replace('~', "~0").replace('/', "~1")
}

pub(super) fn min_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Whether `a` is an integer multiple of `b`, allowing for binary
/// fractions (`0.3` is a multiple of `0.1`).
pub(super) fn is_multiple(a: f64, b: f64) -> bool {
    if b <= 0.0 {
        return false;
    }
    let q = a / b;
    (q - q.round()).abs() <= 1e-9 * q.abs().max(1.0)
}

pub(super) fn write_sorted(v: &Value, out: &mut String) {
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

pub(super) fn show_values(vals: &[&Value]) -> String {
    let mut shown: Vec<String> = vals.iter().take(5).map(|v| canonical(v)).collect();
    if vals.len() > 5 {
        shown.push(format!("and {} more", vals.len() - 5));
    }
    shown.join(", ")
}
