//! Kafka's `Cast`: fields (`spec=a:int32,b:string`) or the whole key or
//! value (`spec=int64`) cast to another primitive type, with and without
//! a schema.

use super::chain::Props;
use super::TransformError;
use crate::data::{Data, Schema, SchemaAndValue, Type};

#[derive(Debug, Clone)]
pub struct Cast {
    /// The type of the whole key or value, or `None` for field casts.
    whole: Option<Type>,
    fields: Vec<(String, Type)>,
}

/// Cast's type names (`float32`, not the schema's `float`).
fn type_named(name: &str) -> Option<Type> {
    Some(match name {
        "int8" => Type::Int8,
        "int16" => Type::Int16,
        "int32" => Type::Int32,
        "int64" => Type::Int64,
        "float32" => Type::Float32,
        "float64" => Type::Float64,
        "boolean" => Type::Boolean,
        "string" => Type::String,
        _ => return None,
    })
}

impl Cast {
    pub fn configure(p: &mut Props<'_>) -> Option<Cast> {
        let spec = p.required_list("spec")?;
        let raw = p.get("spec").unwrap_or("");
        let mut whole = None;
        let mut fields = Vec::new();
        for item in &spec {
            let (field, ty) = match item.split_once(':') {
                Some((f, t)) => (Some(f.trim()), t.trim()),
                None => (None, item.as_str()),
            };
            let Some(t) = type_named(ty) else {
                p.invalid(
                    "spec",
                    raw,
                    &format!("Invalid type found in casting spec: {ty}"),
                );
                return None;
            };
            match field {
                Some(f) => fields.push((f.to_string(), t)),
                None => whole = Some(t),
            }
        }
        if whole.is_some() && spec.len() > 1 {
            p.invalid(
                "spec",
                raw,
                "Cast transformations that specify a type to cast the entire value to may only specify a single cast in their spec",
            );
            return None;
        }
        Some(Cast { whole, fields })
    }

    pub fn apply(&self, sv: &mut SchemaAndValue) -> Result<(), TransformError> {
        if sv.value == Data::Null {
            return Ok(());
        }
        if let Some(t) = self.whole {
            sv.value = cast(&sv.value, t)?;
            if let Some(s) = &mut sv.schema {
                if !is_primitive(s.kind) {
                    return Err(TransformError::Cast(format!(
                        "cannot cast a {} schema as a whole",
                        s.kind.name()
                    )));
                }
                *s = retype(s, t);
            }
            return Ok(());
        }
        match (&mut sv.schema, &mut sv.value) {
            (Some(schema), Data::Struct(values)) if schema.kind == Type::Struct => {
                for (name, t) in &self.fields {
                    let Some(f) = schema.fields.iter_mut().find(|f| f.name == *name) else {
                        return Err(TransformError::NoField {
                            transform: "Cast",
                            field: name.clone(),
                        });
                    };
                    if !is_primitive(f.schema.kind) {
                        return Err(TransformError::Cast(format!(
                            "cannot cast field {name} of type {}",
                            f.schema.kind.name()
                        )));
                    }
                    f.schema = retype(&f.schema, *t);
                    for (k, v) in values.iter_mut() {
                        if k == name && *v != Data::Null {
                            *v = cast(v, *t)?;
                        }
                    }
                }
            }
            (None, Data::Map(entries)) => {
                for (k, v) in entries.iter_mut() {
                    let Data::String(k) = k else { continue };
                    if let Some((_, t)) = self.fields.iter().find(|(n, _)| n == k) {
                        if *v != Data::Null {
                            *v = cast(v, *t)?;
                        }
                    }
                }
            }
            (Some(_), v) => {
                return Err(TransformError::NotStruct {
                    what: "cast types",
                    found: v.java_class().to_string(),
                })
            }
            (None, v) => {
                return Err(TransformError::NotMap {
                    what: "cast types",
                    found: v.java_class().to_string(),
                })
            }
        }
        Ok(())
    }
}

fn is_primitive(t: Type) -> bool {
    !matches!(t, Type::Bytes | Type::Array | Type::Map | Type::Struct)
}

/// The schema with another type, its optionality and doc kept (a
/// logical type's name no longer applies).
fn retype(s: &Schema, t: Type) -> Schema {
    let mut out = Schema::of(t);
    out.optional = s.optional;
    out.doc = s.doc.clone();
    out
}

/// One value cast as Java's Cast does: numbers narrowed by truncation,
/// booleans as 1/0, strings parsed.
fn cast(v: &Data, t: Type) -> Result<Data, TransformError> {
    let bad = || {
        TransformError::Cast(format!(
            "cannot cast {} {} to {}",
            v.java_class(),
            v.to_text(),
            t.name()
        ))
    };
    let narrow = |i: i64| match t {
        Type::Int8 => i64::from(i as i8),
        Type::Int16 => i64::from(i as i16),
        Type::Int32 => i64::from(i as i32),
        _ => i,
    };
    Ok(match t {
        Type::Int8 | Type::Int16 | Type::Int32 | Type::Int64 => Data::Int(match v {
            Data::Int(i) => narrow(*i),
            Data::Float(f) => narrow(*f as i64),
            Data::Boolean(b) => i64::from(*b),
            Data::String(s) => {
                let i: i64 = s.trim().parse().map_err(|_| bad())?;
                if narrow(i) != i {
                    return Err(bad());
                }
                i
            }
            _ => return Err(bad()),
        }),
        Type::Float32 | Type::Float64 => {
            let f = match v {
                Data::Int(i) => *i as f64,
                Data::Float(f) => *f,
                Data::Boolean(b) => f64::from(u8::from(*b)),
                Data::String(s) => s.trim().parse().map_err(|_| bad())?,
                _ => return Err(bad()),
            };
            Data::Float(if t == Type::Float32 {
                f64::from(f as f32)
            } else {
                f
            })
        }
        Type::Boolean => Data::Boolean(match v {
            Data::Int(i) => *i != 0,
            Data::Float(f) => *f != 0.0,
            Data::Boolean(b) => *b,
            Data::String(s) => s.trim().eq_ignore_ascii_case("true"),
            _ => return Err(bad()),
        }),
        Type::String => match v {
            Data::Int(_) | Data::Float(_) | Data::Boolean(_) | Data::String(_) => {
                Data::String(v.to_text())
            }
            _ => return Err(bad()),
        },
        _ => return Err(bad()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::chain::tests::config;
    use crate::transforms::{Chain, Record};

    fn apply(spec: &str, value: SchemaAndValue) -> Result<SchemaAndValue, TransformError> {
        let c = config(&[
            ("transforms", "c"),
            (
                "transforms.c.type",
                "org.apache.kafka.connect.transforms.Cast$Value",
            ),
            ("transforms.c.spec", spec),
        ]);
        let r = Record {
            headers: Vec::new(),
            topic: "t".into(),
            partition: None,
            offset: None,
            timestamp: None,
            key: SchemaAndValue::NULL,
            value,
        };
        Chain::configure(&c)
            .unwrap()
            .apply(r)
            .map(|r| r.unwrap().value)
    }

    #[test]
    fn casts_fields_with_a_schema() {
        let v = SchemaAndValue {
            schema: Some(
                Schema::of(Type::Struct)
                    .field("n", Schema::of(Type::Int64))
                    .field("s", Schema::of(Type::String).optional())
                    .field("f", Schema::of(Type::Float64)),
            ),
            value: Data::Struct(vec![
                ("n".into(), Data::Int(300)),
                ("s".into(), Data::String("12".into())),
                ("f".into(), Data::Float(2.9)),
            ]),
        };
        let out = apply("n:int8,s:int32,f:string", v).unwrap();
        assert_eq!(out.value.to_text(), "Struct{n=44,s=12,f=2.9}");
        let s = out.schema.unwrap();
        let kinds: Vec<(Type, bool)> = s
            .fields
            .iter()
            .map(|f| (f.schema.kind, f.schema.optional))
            .collect();
        assert_eq!(
            kinds,
            [
                (Type::Int8, false),
                (Type::Int32, true),
                (Type::String, false)
            ]
        );
    }

    #[test]
    fn casts_schemaless_and_whole_values() {
        let v = SchemaAndValue {
            schema: None,
            value: Data::Map(vec![
                (Data::String("b".into()), Data::Int(2)),
                (Data::String("x".into()), Data::String("1.5".into())),
            ]),
        };
        let out = apply("b:boolean,x:float64", v).unwrap();
        assert_eq!(out.value.to_text(), "{b=true, x=1.5}");
        let out = apply("int64", SchemaAndValue::string("42".into())).unwrap();
        assert_eq!(out.value, Data::Int(42));
        assert_eq!(out.schema.unwrap().kind, Type::Int64);
        assert!(apply("int32", SchemaAndValue::string("nope".into())).is_err());
        let bad = config(&[
            ("transforms", "c"),
            ("transforms.c.type", "Cast$Value"),
            ("transforms.c.spec", "a:int128"),
        ]);
        let Err(e) = Chain::configure(&bad) else {
            panic!("accepted int128")
        };
        assert!(e.to_string().contains("transforms.c.spec"), "{e}");
    }
}
