//! Converters between Connect data and record bytes, as Kafka's:
//!
//! | class | bytes |
//! |---|---|
//! | `org.apache.kafka.connect.storage.StringConverter` | UTF-8 text |
//! | `org.apache.kafka.connect.converters.ByteArrayConverter` | as they are |
//! | `org.apache.kafka.connect.json.JsonConverter` | JSON; with `schemas.enable` (the default) the envelope `{"schema":…,"payload":…}` |
//!
//! Each is also known by its simple class name (`JsonConverter`).

use std::collections::BTreeMap;

use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Value};

use crate::data::{Data, Field, Schema, SchemaAndValue, Type};

pub const STRING_CONVERTER: &str = "org.apache.kafka.connect.storage.StringConverter";
pub const BYTE_ARRAY_CONVERTER: &str = "org.apache.kafka.connect.converters.ByteArrayConverter";
pub const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";

/// Every converter class, for `/connector-plugins?connectorsOnly=false`.
pub const CLASSES: &[&str] = &[BYTE_ARRAY_CONVERTER, JSON_CONVERTER, STRING_CONVERTER];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Converter {
    String,
    ByteArray,
    Json { schemas_enable: bool },
}

/// Why data could not be converted (Kafka's `DataException`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConvertError(pub String);

fn err<T>(message: impl Into<String>) -> Result<T, ConvertError> {
    Err(ConvertError(message.into()))
}

const ENVELOPE_REQUIRED: &str = "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.";

/// A class name given in full or by its simple name.
fn is_class(given: &str, full: &str) -> bool {
    given == full || full.rsplit('.').next() == Some(given)
}

impl Converter {
    /// The converter's class name, as error reports give it.
    pub fn class(&self) -> &'static str {
        match self {
            Converter::String => STRING_CONVERTER,
            Converter::ByteArray => BYTE_ARRAY_CONVERTER,
            Converter::Json { .. } => JSON_CONVERTER,
        }
    }

    /// A converter from its class and settings (prefix stripped). The
    /// error names the setting (`""`: the class) and says what is wrong.
    pub fn configure(
        class: &str,
        settings: &BTreeMap<&str, &str>,
    ) -> Result<Converter, (String, String)> {
        let class = class.trim();
        if is_class(class, STRING_CONVERTER) {
            Ok(Converter::String)
        } else if is_class(class, BYTE_ARRAY_CONVERTER) {
            Ok(Converter::ByteArray)
        } else if is_class(class, JSON_CONVERTER) {
            let schemas_enable = match settings.get("schemas.enable") {
                None => true,
                Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err((
                            "schemas.enable".into(),
                            "Expected value to be either true or false".into(),
                        ))
                    }
                },
            };
            Ok(Converter::Json { schemas_enable })
        } else {
            Err((
                String::new(),
                format!(
                    "Class {class} could not be found. Built-in converters: {}",
                    CLASSES.join(", ")
                ),
            ))
        }
    }

    /// Connect data to record bytes (`None`: a null key or value).
    pub fn from_connect(&self, data: &SchemaAndValue) -> Result<Option<Bytes>, ConvertError> {
        match self {
            Converter::String => Ok(match &data.value {
                Data::Null => None,
                v => Some(Bytes::from(v.to_text())),
            }),
            Converter::ByteArray => {
                if let Some(s) = &data.schema {
                    if s.kind != Type::Bytes {
                        return err(format!(
                            "Invalid schema type for ByteArrayConverter: {}",
                            s.kind.name().to_ascii_uppercase()
                        ));
                    }
                }
                match &data.value {
                    Data::Null => Ok(None),
                    Data::Bytes(b) => Ok(Some(b.clone())),
                    other => err(format!(
                        "ByteArrayConverter is not compatible with objects of type {}",
                        other.java_class()
                    )),
                }
            }
            Converter::Json { schemas_enable } => {
                if data.schema.is_none() && data.value == Data::Null {
                    return Ok(None);
                }
                let payload = to_json(data.schema.as_ref(), &data.value)?;
                let out = if *schemas_enable {
                    let schema = data
                        .schema
                        .as_ref()
                        .map_or(Ordered::Raw(Value::Null), schema_to_json);
                    Ordered::Object(vec![("schema".into(), schema), ("payload".into(), payload)])
                } else {
                    payload
                };
                Ok(Some(Bytes::from(out.to_text())))
            }
        }
    }

    /// Record bytes to Connect data.
    pub fn to_connect(&self, bytes: Option<&[u8]>) -> Result<SchemaAndValue, ConvertError> {
        let Some(bytes) = bytes else {
            return Ok(SchemaAndValue::NULL);
        };
        match self {
            Converter::String => Ok(SchemaAndValue {
                schema: Some(Schema::of(Type::String).optional()),
                value: Data::String(String::from_utf8_lossy(bytes).into_owned()),
            }),
            Converter::ByteArray => Ok(SchemaAndValue {
                schema: Some(Schema::of(Type::Bytes).optional()),
                value: Data::Bytes(Bytes::copy_from_slice(bytes)),
            }),
            Converter::Json { schemas_enable } => {
                let json: Value = serde_json::from_slice(bytes).map_err(|e| {
                    ConvertError(format!(
                        "Converting byte[] to Kafka Connect data failed due to serialization error: {e}"
                    ))
                })?;
                if !schemas_enable {
                    return Ok(SchemaAndValue {
                        schema: None,
                        value: schemaless(&json),
                    });
                }
                let envelope = match &json {
                    Value::Object(o)
                        if o.len() == 2
                            && o.contains_key("schema")
                            && o.contains_key("payload") =>
                    {
                        o
                    }
                    _ => return err(ENVELOPE_REQUIRED),
                };
                let schema = match &envelope["schema"] {
                    Value::Null => None,
                    s => Some(schema_from_json(s)?),
                };
                let payload = &envelope["payload"];
                let value = match &schema {
                    None => schemaless(payload),
                    Some(s) => from_json(s, payload)?,
                };
                Ok(SchemaAndValue { schema, value })
            }
        }
    }
}

/// JSON whose object keys keep the order they were given in, so records
/// carry the envelope, schemas and structs laid out as Kafka's
/// JsonConverter writes them (`schema` before `payload`, `type` first,
/// fields in schema order).
#[derive(Debug, Clone, PartialEq)]
pub enum Ordered {
    /// A scalar, or anything whose key order does not matter.
    Raw(Value),
    Array(Vec<Ordered>),
    Object(Vec<(String, Ordered)>),
}

impl Ordered {
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Ordered::Raw(v) => out.push_str(&v.to_string()),
            Ordered::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Ordered::Object(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// A schema as JsonConverter writes it in the envelope.
pub fn schema_to_json(s: &Schema) -> Ordered {
    let mut o: Vec<(String, Ordered)> = vec![("type".into(), Ordered::Raw(json!(s.kind.name())))];
    match s.kind {
        Type::Struct => {
            let fields = s
                .fields
                .iter()
                .map(|f| {
                    let mut fj = schema_to_json(&f.schema);
                    if let Ordered::Object(m) = &mut fj {
                        m.push(("field".into(), Ordered::Raw(json!(f.name))));
                    }
                    fj
                })
                .collect();
            o.push(("fields".into(), Ordered::Array(fields)));
        }
        Type::Array => {
            if let Some(items) = &s.items {
                o.push(("items".into(), schema_to_json(items)));
            }
        }
        Type::Map => {
            if let Some(k) = &s.keys {
                o.push(("keys".into(), schema_to_json(k)));
            }
            if let Some(v) = &s.values {
                o.push(("values".into(), schema_to_json(v)));
            }
        }
        _ => {}
    }
    o.push(("optional".into(), Ordered::Raw(json!(s.optional))));
    if let Some(n) = &s.name {
        o.push(("name".into(), Ordered::Raw(json!(n))));
    }
    if let Some(v) = s.version {
        o.push(("version".into(), Ordered::Raw(json!(v))));
    }
    if let Some(d) = &s.doc {
        o.push(("doc".into(), Ordered::Raw(json!(d))));
    }
    Ordered::Object(o)
}

pub fn schema_from_json(v: &Value) -> Result<Schema, ConvertError> {
    let Some(o) = v.as_object() else {
        return err("Schema must be a JSON object");
    };
    let kind = match o.get("type").and_then(Value::as_str) {
        Some(t) => {
            Type::parse(t).ok_or_else(|| ConvertError(format!("Unknown schema type: {t}")))?
        }
        None => return err("Schema must contain 'type' field"),
    };
    let mut s = Schema::of(kind);
    s.optional = o.get("optional").and_then(Value::as_bool).unwrap_or(false);
    s.name = o.get("name").and_then(Value::as_str).map(str::to_string);
    s.version = o
        .get("version")
        .and_then(Value::as_i64)
        .and_then(|v| i32::try_from(v).ok());
    s.doc = o.get("doc").and_then(Value::as_str).map(str::to_string);
    match kind {
        Type::Struct => {
            let Some(fields) = o.get("fields").and_then(Value::as_array) else {
                return err("Struct schema's \"fields\" argument is not an array.");
            };
            for f in fields {
                let name = f.get("field").and_then(Value::as_str).ok_or_else(|| {
                    ConvertError("Struct schema's field name not specified properly".into())
                })?;
                s.fields.push(Field {
                    name: name.to_string(),
                    schema: schema_from_json(f)?,
                });
            }
        }
        Type::Array => {
            let items = o.get("items").ok_or_else(|| {
                ConvertError("Array schema did not specify the element type".into())
            })?;
            s.items = Some(Box::new(schema_from_json(items)?));
        }
        Type::Map => {
            let keys = o
                .get("keys")
                .ok_or_else(|| ConvertError("Map schema did not specify the key type".into()))?;
            let values = o
                .get("values")
                .ok_or_else(|| ConvertError("Map schema did not specify the value type".into()))?;
            s.keys = Some(Box::new(schema_from_json(keys)?));
            s.values = Some(Box::new(schema_from_json(values)?));
        }
        _ => {}
    }
    Ok(s)
}

/// A value to JSON, following its schema where it has one.
fn to_json(schema: Option<&Schema>, d: &Data) -> Result<Ordered, ConvertError> {
    if let (Some(s), Data::Null) = (schema, d) {
        if !s.optional {
            return err(
                "Conversion error: null value for field that is required and has no default value",
            );
        }
    }
    Ok(match d {
        Data::Null => Ordered::Raw(Value::Null),
        Data::Boolean(b) => Ordered::Raw(json!(b)),
        Data::Int(i) => Ordered::Raw(json!(i)),
        Data::Float(f) => Ordered::Raw(json!(f)),
        Data::String(s) => Ordered::Raw(json!(s)),
        Data::Bytes(b) => Ordered::Raw(json!(base64::engine::general_purpose::STANDARD.encode(b))),
        Data::Array(items) => {
            let item_schema = schema.and_then(|s| s.items.as_deref());
            Ordered::Array(
                items
                    .iter()
                    .map(|i| to_json(item_schema, i))
                    .collect::<Result<_, _>>()?,
            )
        }
        Data::Map(entries) => {
            let key_schema = schema.and_then(|s| s.keys.as_deref());
            let value_schema = schema.and_then(|s| s.values.as_deref());
            let string_keys = match key_schema {
                Some(k) => k.kind == Type::String,
                None => entries.iter().all(|(k, _)| matches!(k, Data::String(_))),
            };
            let mut pairs = Vec::new();
            let mut object = Vec::new();
            for (k, v) in entries {
                let v = to_json(value_schema, v)?;
                match k {
                    Data::String(k) if string_keys => object.push((k.clone(), v)),
                    _ => pairs.push(Ordered::Array(vec![to_json(key_schema, k)?, v])),
                }
            }
            if string_keys {
                Ordered::Object(object)
            } else {
                Ordered::Array(pairs)
            }
        }
        Data::Struct(fields) => {
            let mut o = Vec::new();
            for (name, v) in fields {
                let fs = schema.and_then(|s| s.fields.iter().find(|f| &f.name == name));
                o.push((name.clone(), to_json(fs.map(|f| &f.schema), v)?));
            }
            Ordered::Object(o)
        }
    })
}

/// JSON read with a schema (JsonConverter with `schemas.enable`).
fn from_json(s: &Schema, v: &Value) -> Result<Data, ConvertError> {
    if v.is_null() {
        if s.optional {
            return Ok(Data::Null);
        }
        return err(format!(
            "Invalid null value for required {} field",
            s.kind.name().to_ascii_uppercase()
        ));
    }
    let mismatch = || {
        ConvertError(format!(
            "Invalid type for {}: {}",
            s.kind.name().to_ascii_uppercase(),
            json_kind(v)
        ))
    };
    Ok(match s.kind {
        Type::Int8 | Type::Int16 | Type::Int32 | Type::Int64 => {
            Data::Int(v.as_i64().ok_or_else(mismatch)?)
        }
        Type::Float32 | Type::Float64 => Data::Float(v.as_f64().ok_or_else(mismatch)?),
        Type::Boolean => Data::Boolean(v.as_bool().ok_or_else(mismatch)?),
        Type::String => Data::String(v.as_str().ok_or_else(mismatch)?.to_string()),
        Type::Bytes => {
            let text = v.as_str().ok_or_else(mismatch)?;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| ConvertError(format!("Invalid bytes field: {e}")))?;
            Data::Bytes(Bytes::from(raw))
        }
        Type::Array => {
            let items = s.items.as_deref().ok_or_else(mismatch)?;
            Data::Array(
                v.as_array()
                    .ok_or_else(mismatch)?
                    .iter()
                    .map(|i| from_json(items, i))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Map => {
            let (ks, vs) = match (s.keys.as_deref(), s.values.as_deref()) {
                (Some(k), Some(v)) => (k, v),
                _ => return Err(mismatch()),
            };
            match v {
                Value::Object(o) if ks.kind == Type::String => Data::Map(
                    o.iter()
                        .map(|(k, x)| -> Result<(Data, Data), ConvertError> {
                            Ok((Data::String(k.clone()), from_json(vs, x)?))
                        })
                        .collect::<Result<_, ConvertError>>()?,
                ),
                Value::Array(pairs) => {
                    let mut out = Vec::new();
                    for p in pairs {
                        match p.as_array().map(Vec::as_slice) {
                            Some([k, x]) => out.push((from_json(ks, k)?, from_json(vs, x)?)),
                            _ => return err("Found invalid map entry instead of array tuple"),
                        }
                    }
                    Data::Map(out)
                }
                _ => return Err(mismatch()),
            }
        }
        Type::Struct => {
            let o = v.as_object().ok_or_else(mismatch)?;
            Data::Struct(
                s.fields
                    .iter()
                    .map(|f| -> Result<(String, Data), ConvertError> {
                        let fv = o.get(&f.name).unwrap_or(&Value::Null);
                        Ok((f.name.clone(), from_json(&f.schema, fv)?))
                    })
                    .collect::<Result<_, ConvertError>>()?,
            )
        }
    })
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "NullNode",
        Value::Bool(_) => "BooleanNode",
        Value::Number(n) if n.is_f64() => "DoubleNode",
        Value::Number(_) => "LongNode",
        Value::String(_) => "TextNode",
        Value::Array(_) => "ArrayNode",
        Value::Object(_) => "ObjectNode",
    }
}

/// JSON read without a schema: objects become maps with string keys,
/// integral numbers longs, others doubles.
fn schemaless(v: &Value) -> Data {
    match v {
        Value::Null => Data::Null,
        Value::Bool(b) => Data::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Data::Int(i),
            None => Data::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Data::String(s.clone()),
        Value::Array(a) => Data::Array(a.iter().map(schemaless).collect()),
        Value::Object(o) => Data::Map(
            o.iter()
                .map(|(k, v)| (Data::String(k.clone()), schemaless(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_conv(schemas_enable: bool) -> Converter {
        Converter::Json { schemas_enable }
    }

    #[test]
    fn configure_by_full_and_simple_name() {
        let none = BTreeMap::new();
        assert_eq!(
            Converter::configure(STRING_CONVERTER, &none),
            Ok(Converter::String)
        );
        assert_eq!(
            Converter::configure("ByteArrayConverter", &none),
            Ok(Converter::ByteArray)
        );
        assert_eq!(
            Converter::configure(JSON_CONVERTER, &none),
            Ok(json_conv(true))
        );
        let off: BTreeMap<&str, &str> = [("schemas.enable", "false")].into_iter().collect();
        assert_eq!(
            Converter::configure("JsonConverter", &off),
            Ok(json_conv(false))
        );
        let bad: BTreeMap<&str, &str> = [("schemas.enable", "yes")].into_iter().collect();
        assert_eq!(
            Converter::configure("JsonConverter", &bad).unwrap_err().0,
            "schemas.enable"
        );
        assert_eq!(
            Converter::configure("AvroConverter", &none).unwrap_err().0,
            ""
        );
    }

    #[test]
    fn json_envelope_as_kafka_writes_it() {
        let sv = SchemaAndValue::string("hello".into());
        let out = json_conv(true).from_connect(&sv).unwrap().unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"schema":{"type":"string","optional":false},"payload":"hello"}"#
        );
        let out = json_conv(false).from_connect(&sv).unwrap().unwrap();
        assert_eq!(&out[..], br#""hello""#);
        assert_eq!(
            json_conv(true).from_connect(&SchemaAndValue::NULL).unwrap(),
            None
        );
        assert_eq!(
            json_conv(true).to_connect(Some(&out)).unwrap_err().0,
            ENVELOPE_REQUIRED
        );
    }

    #[test]
    fn json_struct_round_trip() {
        let schema = Schema::of(Type::Struct)
            .named("rec")
            .field("id", Schema::of(Type::Int64))
            .field("tag", Schema::of(Type::String).optional())
            .field("raw", Schema::of(Type::Bytes));
        let sv = SchemaAndValue {
            schema: Some(schema),
            value: Data::Struct(vec![
                ("id".into(), Data::Int(7)),
                ("tag".into(), Data::Null),
                ("raw".into(), Data::Bytes(Bytes::from_static(b"\x00\x01"))),
            ]),
        };
        let bytes = json_conv(true).from_connect(&sv).unwrap().unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["payload"], json!({"id": 7, "tag": null, "raw": "AAE="}));
        assert_eq!(
            v["schema"]["fields"][0],
            json!({"type": "int64", "optional": false, "field": "id"})
        );
        assert_eq!(json_conv(true).to_connect(Some(&bytes)).unwrap(), sv);
        let bad = br#"{"schema":{"type":"int32","optional":false},"payload":"x"}"#;
        assert_eq!(
            json_conv(true).to_connect(Some(bad)).unwrap_err().0,
            "Invalid type for INT32: TextNode"
        );
    }

    #[test]
    fn schemaless_json_and_plain_converters() {
        let d = json_conv(false)
            .to_connect(Some(br#"{"a":[1,2.5]}"#))
            .unwrap();
        assert_eq!(
            d.value,
            Data::Map(vec![(
                Data::String("a".into()),
                Data::Array(vec![Data::Int(1), Data::Float(2.5)])
            )])
        );
        assert_eq!(d.schema, None);
        let s = Converter::String.to_connect(Some(b"line")).unwrap();
        assert_eq!(
            Converter::String.from_connect(&s).unwrap().unwrap(),
            Bytes::from_static(b"line")
        );
        let b = Converter::ByteArray.to_connect(Some(b"\xff")).unwrap();
        assert_eq!(
            Converter::ByteArray.from_connect(&b).unwrap().unwrap()[..],
            b"\xff"[..]
        );
        assert!(Converter::ByteArray
            .from_connect(&SchemaAndValue::string("x".into()))
            .is_err());
        assert_eq!(
            Converter::String.to_connect(None).unwrap(),
            SchemaAndValue::NULL
        );
    }
}
