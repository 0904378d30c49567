//! The transforms that work on a key's or value's fields: a Struct with
//! its schema (schemaful, as JsonConverter with schemas or DataGen give
//! it) or a map with string keys (schemaless JSON). Null keys and values
//! (tombstones) pass through unchanged, as in Kafka.

use super::chain::Props;
use super::{Record, Side, TransformError};
use crate::data::{Data, Field, Schema, SchemaAndValue, Type};

/// Kafka's logical type of `InsertField`'s `timestamp.field`.
const TIMESTAMP_SCHEMA: &str = "org.apache.kafka.connect.data.Timestamp";

fn not_struct(what: &'static str, d: &Data) -> TransformError {
    TransformError::NotStruct {
        what,
        found: d.java_class().to_string(),
    }
}

fn not_map(what: &'static str, d: &Data) -> TransformError {
    TransformError::NotMap {
        what,
        found: d.java_class().to_string(),
    }
}

fn map_get<'a>(entries: &'a [(Data, Data)], name: &str) -> Option<&'a Data> {
    entries
        .iter()
        .find(|(k, _)| matches!(k, Data::String(s) if s == name))
        .map(|(_, v)| v)
}

fn struct_get<'a>(values: &'a [(String, Data)], name: &str) -> Option<&'a Data> {
    values.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// A field name with Kafka's optional suffix: `!` required, `?` optional
/// (the default).
#[derive(Debug, Clone, PartialEq)]
struct Target {
    name: String,
    required: bool,
}

fn target(v: Option<&str>) -> Option<Target> {
    let v = v.filter(|v| !v.is_empty())?;
    Some(match (v.strip_suffix('!'), v.strip_suffix('?')) {
        (Some(n), _) => Target {
            name: n.to_string(),
            required: true,
        },
        (_, Some(n)) => Target {
            name: n.to_string(),
            required: false,
        },
        _ => Target {
            name: v.to_string(),
            required: false,
        },
    })
}

/// Kafka's `InsertField`: the record's topic, partition, offset,
/// timestamp and a static string as new fields. A source record has no
/// Kafka partition or offset yet; those fields are then null (Kafka
/// refuses `offset.field` on source records instead).
#[derive(Debug, Clone)]
pub struct InsertField {
    topic: Option<Target>,
    partition: Option<Target>,
    offset: Option<Target>,
    timestamp: Option<Target>,
    static_field: Option<Target>,
    static_value: Option<String>,
}

impl InsertField {
    pub fn configure(p: &mut Props<'_>) -> Option<InsertField> {
        Some(InsertField {
            topic: target(p.get("topic.field")),
            partition: target(p.get("partition.field")),
            offset: target(p.get("offset.field")),
            timestamp: target(p.get("timestamp.field")),
            static_field: target(p.get("static.field")),
            static_value: p.get("static.value").map(str::to_string),
        })
    }

    pub fn apply(&self, side: Side, r: &mut Record) -> Result<(), TransformError> {
        let opt_int = |v: Option<i64>| v.map_or(Data::Null, Data::Int);
        let mut ts_schema = Schema::of(Type::Int64).named(TIMESTAMP_SCHEMA);
        ts_schema.version = Some(1);
        let candidates = [
            (
                &self.topic,
                Schema::of(Type::String),
                Data::String(r.topic.clone()),
            ),
            (
                &self.partition,
                Schema::of(Type::Int32),
                opt_int(r.partition.map(i64::from)),
            ),
            (&self.offset, Schema::of(Type::Int64), opt_int(r.offset)),
            (&self.timestamp, ts_schema, opt_int(r.timestamp)),
            (
                &self.static_field,
                Schema::of(Type::String),
                self.static_value.clone().map_or(Data::Null, Data::String),
            ),
        ];
        let inserts: Vec<(&Target, Schema, Data)> = candidates
            .into_iter()
            .filter_map(|(t, s, v)| t.as_ref().map(|t| (t, s, v)))
            .collect();
        let sv = side.of(r);
        match (&mut sv.schema, &mut sv.value) {
            (_, Data::Null) => {}
            (Some(schema), Data::Struct(values)) if schema.kind == Type::Struct => {
                for (t, s, v) in inserts {
                    schema.fields.retain(|f| f.name != t.name);
                    values.retain(|(k, _)| *k != t.name);
                    let s = if t.required { s } else { s.optional() };
                    schema.fields.push(Field {
                        name: t.name.clone(),
                        schema: s,
                    });
                    values.push((t.name.clone(), v));
                }
            }
            (None, Data::Map(entries)) => {
                for (t, _, v) in inserts {
                    entries.retain(|(k, _)| !matches!(k, Data::String(s) if *s == t.name));
                    entries.push((Data::String(t.name.clone()), v));
                }
            }
            (Some(_), v) => return Err(not_struct("field insertion", v)),
            (None, v) => return Err(not_map("field insertion", v)),
        }
        Ok(())
    }
}

/// Kafka's `ReplaceField`: fields dropped (`exclude`), kept (`include`)
/// and renamed (`renames=old:new,…`).
#[derive(Debug, Clone)]
pub struct ReplaceField {
    exclude: Vec<String>,
    include: Vec<String>,
    renames: Vec<(String, String)>,
}

impl ReplaceField {
    pub fn configure(p: &mut Props<'_>) -> Option<ReplaceField> {
        // `blacklist` / `whitelist`: the names before Kafka 2.7.
        let mut exclude = p.list("exclude");
        exclude.extend(p.list("blacklist"));
        let mut include = p.list("include");
        include.extend(p.list("whitelist"));
        let raw = p.get("renames").unwrap_or("");
        let mut renames = Vec::new();
        for item in p.list("renames") {
            match item.split_once(':') {
                Some((old, new)) if !old.trim().is_empty() && !new.trim().is_empty() => {
                    renames.push((old.trim().to_string(), new.trim().to_string()));
                }
                _ => {
                    p.invalid("renames", raw, &format!("Invalid rename mapping: {item}"));
                    return None;
                }
            }
        }
        Some(ReplaceField {
            exclude,
            include,
            renames,
        })
    }

    fn keep(&self, name: &str) -> bool {
        !self.exclude.iter().any(|e| e == name)
            && (self.include.is_empty() || self.include.iter().any(|i| i == name))
    }

    fn renamed(&self, name: String) -> String {
        self.renames
            .iter()
            .find(|(old, _)| *old == name)
            .map_or(name, |(_, new)| new.clone())
    }

    pub fn apply(&self, sv: &mut SchemaAndValue) -> Result<(), TransformError> {
        match (&mut sv.schema, &mut sv.value) {
            (_, Data::Null) => {}
            (Some(schema), Data::Struct(values)) if schema.kind == Type::Struct => {
                schema.fields = std::mem::take(&mut schema.fields)
                    .into_iter()
                    .filter(|f| self.keep(&f.name))
                    .map(|f| Field {
                        name: self.renamed(f.name),
                        schema: f.schema,
                    })
                    .collect();
                *values = std::mem::take(values)
                    .into_iter()
                    .filter(|(k, _)| self.keep(k))
                    .map(|(k, v)| (self.renamed(k), v))
                    .collect();
            }
            (None, Data::Map(entries)) => {
                *entries = std::mem::take(entries)
                    .into_iter()
                    .filter(|(k, _)| !matches!(k, Data::String(s) if !self.keep(s)))
                    .map(|(k, v)| match k {
                        Data::String(s) => (Data::String(self.renamed(s)), v),
                        k => (k, v),
                    })
                    .collect();
            }
            (Some(_), v) => return Err(not_struct("field replacement", v)),
            (None, v) => return Err(not_map("field replacement", v)),
        }
        Ok(())
    }
}

/// Kafka's `MaskField`: the listed fields replaced by their type's empty
/// value (0, false, "", empty list or map) or by `replacement`.
#[derive(Debug, Clone)]
pub struct MaskField {
    fields: Vec<String>,
    replacement: Option<String>,
}

impl MaskField {
    pub fn configure(p: &mut Props<'_>) -> Option<MaskField> {
        let fields = p.required_list("fields")?;
        let replacement = p.get("replacement").map(str::to_string);
        if replacement.as_deref() == Some("") {
            p.invalid("replacement", "", "String must be non-empty");
            return None;
        }
        Some(MaskField {
            fields,
            replacement,
        })
    }

    fn mask(&self, kind: Type, v: &Data) -> Result<Data, TransformError> {
        if *v == Data::Null {
            return Ok(Data::Null);
        }
        let int = matches!(kind, Type::Int8 | Type::Int16 | Type::Int32 | Type::Int64);
        let float = matches!(kind, Type::Float32 | Type::Float64);
        let Some(r) = &self.replacement else {
            return Ok(match kind {
                _ if int => Data::Int(0),
                _ if float => Data::Float(0.0),
                Type::Boolean => Data::Boolean(false),
                Type::String => Data::String(String::new()),
                Type::Bytes => Data::Bytes(bytes::Bytes::new()),
                Type::Array => Data::Array(Vec::new()),
                Type::Map => Data::Map(Vec::new()),
                _ => {
                    return Err(TransformError::Mask(format!(
                        "Cannot mask value of type {}",
                        kind.name()
                    )))
                }
            });
        };
        let bad = || TransformError::Mask(format!("Unable to convert {r} to {}", kind.name()));
        Ok(match kind {
            _ if int => Data::Int(r.parse().map_err(|_| bad())?),
            _ if float => Data::Float(r.parse().map_err(|_| bad())?),
            Type::String => Data::String(r.clone()),
            _ => {
                return Err(TransformError::Mask(format!(
                    "Cannot mask value of type {} with custom replacement",
                    kind.name()
                )))
            }
        })
    }

    pub fn apply(&self, sv: &mut SchemaAndValue) -> Result<(), TransformError> {
        match (&sv.schema, &mut sv.value) {
            (_, Data::Null) => {}
            (Some(schema), Data::Struct(values)) if schema.kind == Type::Struct => {
                for name in &self.fields {
                    let kind = schema
                        .fields
                        .iter()
                        .find(|f| f.name == *name)
                        .map(|f| f.schema.kind)
                        .ok_or_else(|| TransformError::NoField {
                            transform: "MaskField",
                            field: name.clone(),
                        })?;
                    for (k, v) in values.iter_mut() {
                        if k == name {
                            *v = self.mask(kind, v)?;
                        }
                    }
                }
            }
            (None, Data::Map(entries)) => {
                for (k, v) in entries.iter_mut() {
                    let Data::String(k) = k else { continue };
                    if !self.fields.contains(k) {
                        continue;
                    }
                    let kind = match v {
                        Data::Null => continue,
                        Data::Boolean(_) => Type::Boolean,
                        Data::Int(_) => Type::Int64,
                        Data::Float(_) => Type::Float64,
                        Data::String(_) => Type::String,
                        Data::Bytes(_) => Type::Bytes,
                        Data::Array(_) => Type::Array,
                        Data::Map(_) => Type::Map,
                        Data::Struct(_) => Type::Struct,
                    };
                    *v = self.mask(kind, v)?;
                }
            }
            (Some(_), v) => return Err(not_struct("masking fields", v)),
            (None, v) => return Err(not_map("masking fields", v)),
        }
        Ok(())
    }
}

/// Kafka's `ValueToKey`: the key becomes a Struct (or map) of the listed
/// fields of the value.
#[derive(Debug, Clone)]
pub struct ValueToKey {
    fields: Vec<String>,
}

impl ValueToKey {
    pub fn configure(p: &mut Props<'_>) -> Option<ValueToKey> {
        Some(ValueToKey {
            fields: p.required_list("fields")?,
        })
    }

    pub fn apply(&self, r: &mut Record) -> Result<(), TransformError> {
        let key = match (&r.value.schema, &r.value.value) {
            (_, Data::Null) => return Ok(()),
            (Some(schema), Data::Struct(values)) if schema.kind == Type::Struct => {
                let mut key_schema = Schema::of(Type::Struct);
                let mut key = Vec::new();
                for name in &self.fields {
                    let f = schema
                        .fields
                        .iter()
                        .find(|f| f.name == *name)
                        .ok_or_else(|| TransformError::NoField {
                            transform: "ValueToKey",
                            field: name.clone(),
                        })?;
                    key_schema.fields.push(f.clone());
                    key.push((
                        name.clone(),
                        struct_get(values, name).cloned().unwrap_or(Data::Null),
                    ));
                }
                SchemaAndValue {
                    schema: Some(key_schema),
                    value: Data::Struct(key),
                }
            }
            (None, Data::Map(entries)) => SchemaAndValue {
                schema: None,
                value: Data::Map(
                    self.fields
                        .iter()
                        .map(|n| {
                            let v = map_get(entries, n).cloned().unwrap_or(Data::Null);
                            (Data::String(n.clone()), v)
                        })
                        .collect(),
                ),
            },
            (Some(_), v) => return Err(not_struct("copying fields from value to key", v)),
            (None, v) => return Err(not_map("copying fields from value to key", v)),
        };
        r.key = key;
        Ok(())
    }
}

/// Kafka's `ExtractField`: the key or value becomes one of its fields.
#[derive(Debug, Clone)]
pub struct ExtractField {
    field: String,
}

impl ExtractField {
    pub fn configure(p: &mut Props<'_>) -> Option<ExtractField> {
        Some(ExtractField {
            field: p.required_name("field")?,
        })
    }

    pub fn apply(&self, sv: &mut SchemaAndValue) -> Result<(), TransformError> {
        let new = match (&sv.schema, &sv.value) {
            (_, Data::Null) => return Ok(()),
            (Some(schema), Data::Struct(values)) if schema.kind == Type::Struct => {
                let f = schema
                    .fields
                    .iter()
                    .find(|f| f.name == self.field)
                    .ok_or_else(|| TransformError::NoField {
                        transform: "ExtractField",
                        field: self.field.clone(),
                    })?;
                SchemaAndValue {
                    schema: Some(f.schema.clone()),
                    value: struct_get(values, &self.field)
                        .cloned()
                        .unwrap_or(Data::Null),
                }
            }
            (None, Data::Map(entries)) => SchemaAndValue {
                schema: None,
                value: map_get(entries, &self.field).cloned().unwrap_or(Data::Null),
            },
            (Some(_), v) => return Err(not_struct("field extraction", v)),
            (None, v) => return Err(not_map("field extraction", v)),
        };
        *sv = new;
        Ok(())
    }
}

/// Kafka's `HoistField`: the key or value wrapped in a Struct (with a
/// schema) or a map (without) under `field`.
#[derive(Debug, Clone)]
pub struct HoistField {
    field: String,
}

impl HoistField {
    pub fn configure(p: &mut Props<'_>) -> Option<HoistField> {
        Some(HoistField {
            field: p.required_name("field")?,
        })
    }

    pub fn apply(&self, sv: &mut SchemaAndValue) -> Result<(), TransformError> {
        let old = std::mem::replace(sv, SchemaAndValue::NULL);
        *sv = match old.schema {
            Some(s) => SchemaAndValue {
                schema: Some(Schema::of(Type::Struct).field(&self.field, s)),
                value: Data::Struct(vec![(self.field.clone(), old.value)]),
            },
            None => SchemaAndValue {
                schema: None,
                value: Data::Map(vec![(Data::String(self.field.clone()), old.value)]),
            },
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::chain::tests::config;
    use crate::transforms::Chain;

    fn schemaful() -> SchemaAndValue {
        SchemaAndValue {
            schema: Some(
                Schema::of(Type::Struct)
                    .named("rec")
                    .field("id", Schema::of(Type::Int64))
                    .field("name", Schema::of(Type::String))
                    .field("ok", Schema::of(Type::Boolean)),
            ),
            value: Data::Struct(vec![
                ("id".into(), Data::Int(7)),
                ("name".into(), Data::String("ann".into())),
                ("ok".into(), Data::Boolean(true)),
            ]),
        }
    }

    fn schemaless() -> SchemaAndValue {
        SchemaAndValue {
            schema: None,
            value: Data::Map(vec![
                (Data::String("id".into()), Data::Int(7)),
                (Data::String("name".into()), Data::String("ann".into())),
                (Data::String("ok".into()), Data::Boolean(true)),
            ]),
        }
    }

    fn record(value: SchemaAndValue) -> Record {
        Record {
            headers: Vec::new(),
            topic: "t".into(),
            partition: Some(2),
            offset: Some(9),
            timestamp: Some(1000),
            key: SchemaAndValue::NULL,
            value,
        }
    }

    /// The record after one transform `x` of `class` with `keys`.
    fn run(class: &str, keys: &[(&str, &str)], r: Record) -> Result<Record, TransformError> {
        let mut c = vec![("transforms".to_string(), "x".to_string())];
        c.push(("transforms.x.type".into(), class.into()));
        for (k, v) in keys {
            c.push((format!("transforms.x.{k}"), v.to_string()));
        }
        let pairs: Vec<(&str, &str)> = c.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let chain = Chain::configure(&config(&pairs)).unwrap();
        chain.apply(r).map(|r| r.unwrap())
    }

    fn names(sv: &SchemaAndValue) -> Vec<String> {
        match &sv.value {
            Data::Struct(v) => v.iter().map(|(k, _)| k.clone()).collect(),
            Data::Map(v) => v.iter().map(|(k, _)| k.to_text()).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn insert_field_schemaful_and_schemaless() {
        let keys = [
            ("topic.field", "topic!"),
            ("partition.field", "part"),
            ("offset.field", "off"),
            ("timestamp.field", "ts"),
            ("static.field", "origin"),
            ("static.value", "here"),
        ];
        let r = run(
            "org.apache.kafka.connect.transforms.InsertField$Value",
            &keys,
            record(schemaful()),
        )
        .unwrap();
        let s = r.value.schema.clone().unwrap();
        assert_eq!(s.name.as_deref(), Some("rec"));
        let f: Vec<(&str, Type, bool)> = s
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.schema.kind, f.schema.optional))
            .collect();
        assert_eq!(
            f[3..],
            [
                ("topic", Type::String, false),
                ("part", Type::Int32, true),
                ("off", Type::Int64, true),
                ("ts", Type::Int64, true),
                ("origin", Type::String, true)
            ]
        );
        assert_eq!(
            r.value.value.to_text(),
            "Struct{id=7,name=ann,ok=true,topic=t,part=2,off=9,ts=1000,origin=here}"
        );
        let r = run("InsertField$Value", &keys, record(schemaless())).unwrap();
        assert_eq!(
            r.value.value.to_text(),
            "{id=7, name=ann, ok=true, topic=t, part=2, off=9, ts=1000, origin=here}"
        );
        // Key side, tombstones, and a string value refused.
        let mut k = record(schemaless());
        k.key = schemaless();
        let r = run("InsertField$Key", &[("static.field", "s")], k).unwrap();
        assert_eq!(names(&r.key).last().map(String::as_str), Some("s"));
        assert_eq!(names(&r.value).len(), 3);
        let r = run("InsertField$Value", &keys, record(SchemaAndValue::NULL)).unwrap();
        assert_eq!(r.value, SchemaAndValue::NULL);
        let e = run(
            "InsertField$Value",
            &keys,
            record(SchemaAndValue::string("x".into())),
        );
        assert!(matches!(e, Err(TransformError::NotStruct { .. })), "{e:?}");
    }

    #[test]
    fn replace_field_both_ways() {
        let keys = [("exclude", "ok"), ("renames", "name:who,id:key")];
        for sv in [schemaful(), schemaless()] {
            let r = run("ReplaceField$Value", &keys, record(sv)).unwrap();
            assert_eq!(names(&r.value), ["key", "who"]);
            if let Some(s) = &r.value.schema {
                let n: Vec<&str> = s.fields.iter().map(|f| f.name.as_str()).collect();
                assert_eq!(n, ["key", "who"]);
            }
        }
        let r = run(
            "ReplaceField$Value",
            &[("include", "name")],
            record(schemaful()),
        )
        .unwrap();
        assert_eq!(r.value.value.to_text(), "Struct{name=ann}");
        let mut c = config(&[
            ("transforms", "x"),
            ("transforms.x.type", "ReplaceField$Value"),
            ("transforms.x.renames", "a:b,c"),
        ]);
        assert!(Chain::configure(&c).is_err());
        c.insert("transforms.x.renames".into(), "a:b".into());
        assert!(Chain::configure(&c).is_ok());
    }

    #[test]
    fn mask_field_both_ways() {
        let r = run(
            "MaskField$Value",
            &[("fields", "name,id,ok")],
            record(schemaful()),
        )
        .unwrap();
        assert_eq!(r.value.value.to_text(), "Struct{id=0,name=,ok=false}");
        let r = run(
            "MaskField$Value",
            &[("fields", "name,id")],
            record(schemaless()),
        )
        .unwrap();
        assert_eq!(r.value.value.to_text(), "{id=0, name=, ok=true}");
        let keys = [("fields", "name,id"), ("replacement", "42")];
        let r = run("MaskField$Value", &keys, record(schemaful())).unwrap();
        assert_eq!(r.value.value.to_text(), "Struct{id=42,name=42,ok=true}");
        let keys = [("fields", "ok"), ("replacement", "x")];
        assert!(run("MaskField$Value", &keys, record(schemaless())).is_err());
        assert!(run(
            "MaskField$Value",
            &[("fields", "nope")],
            record(schemaful())
        )
        .is_err());
        let c = config(&[
            ("transforms", "x"),
            ("transforms.x.type", "MaskField$Value"),
        ]);
        let Err(e) = Chain::configure(&c) else {
            panic!("fields is required")
        };
        assert!(e.to_string().contains("transforms.x.fields"), "{e}");
    }

    #[test]
    fn value_to_key_both_ways() {
        let r = run("ValueToKey", &[("fields", "name,id")], record(schemaful())).unwrap();
        assert_eq!(r.key.value.to_text(), "Struct{name=ann,id=7}");
        let ks = r.key.schema.unwrap();
        assert_eq!(ks.fields[0].schema.kind, Type::String);
        let r = run("ValueToKey", &[("fields", "id")], record(schemaless())).unwrap();
        assert_eq!(
            r.key,
            SchemaAndValue {
                schema: None,
                value: Data::Map(vec![(Data::String("id".into()), Data::Int(7))]),
            }
        );
        assert!(run("ValueToKey", &[("fields", "zz")], record(schemaful())).is_err());
    }

    #[test]
    fn extract_and_hoist_field_both_ways() {
        let r = run(
            "ExtractField$Value",
            &[("field", "name")],
            record(schemaful()),
        )
        .unwrap();
        assert_eq!(r.value, SchemaAndValue::string("ann".into()));
        let r = run(
            "ExtractField$Value",
            &[("field", "id")],
            record(schemaless()),
        )
        .unwrap();
        assert_eq!(
            r.value,
            SchemaAndValue {
                schema: None,
                value: Data::Int(7)
            }
        );
        assert!(run(
            "ExtractField$Value",
            &[("field", "zz")],
            record(schemaful())
        )
        .is_err());
        let r = run(
            "HoistField$Value",
            &[("field", "line")],
            record(SchemaAndValue::string("hi".into())),
        )
        .unwrap();
        assert_eq!(r.value.value.to_text(), "Struct{line=hi}");
        assert_eq!(r.value.schema.unwrap().fields[0].schema.kind, Type::String);
        let plain = SchemaAndValue {
            schema: None,
            value: Data::Int(3),
        };
        let r = run("HoistField$Value", &[("field", "n")], record(plain)).unwrap();
        assert_eq!(r.value.value.to_text(), "{n=3}");
        // Hoist then extract is where it started.
        let mut c = config(&[
            ("transforms", "h,e"),
            ("transforms.h.type", "HoistField$Key"),
            ("transforms.h.field", "k"),
            ("transforms.e.type", "ExtractField$Key"),
            ("transforms.e.field", "k"),
        ]);
        let mut rec = record(schemaful());
        rec.key = SchemaAndValue::string("key".into());
        let out = Chain::configure(&c)
            .unwrap()
            .apply(rec.clone())
            .unwrap()
            .unwrap();
        assert_eq!(out, rec);
        c.remove("transforms.e.field");
        assert!(Chain::configure(&c).is_err());
    }
}
