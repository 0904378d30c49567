//! Connect's data model: a value and, when known, its schema (Kafka's
//! `SchemaAndValue`), as sources produce it and sinks receive it.

use bytes::Bytes;

/// Kafka Connect's schema types, named as `Schema.Type` prints them in
/// JSON (`int32`, `struct`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
    Bytes,
    Array,
    Map,
    Struct,
}

impl Type {
    pub fn name(self) -> &'static str {
        match self {
            Type::Int8 => "int8",
            Type::Int16 => "int16",
            Type::Int32 => "int32",
            Type::Int64 => "int64",
            Type::Float32 => "float",
            Type::Float64 => "double",
            Type::Boolean => "boolean",
            Type::String => "string",
            Type::Bytes => "bytes",
            Type::Array => "array",
            Type::Map => "map",
            Type::Struct => "struct",
        }
    }

    pub fn parse(name: &str) -> Option<Type> {
        Some(match name {
            "int8" => Type::Int8,
            "int16" => Type::Int16,
            "int32" => Type::Int32,
            "int64" => Type::Int64,
            "float" => Type::Float32,
            "double" => Type::Float64,
            "boolean" => Type::Boolean,
            "string" => Type::String,
            "bytes" => Type::Bytes,
            "array" => Type::Array,
            "map" => Type::Map,
            "struct" => Type::Struct,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub kind: Type,
    pub optional: bool,
    pub name: Option<String>,
    pub version: Option<i32>,
    pub doc: Option<String>,
    /// A struct's fields, in order.
    pub fields: Vec<Field>,
    /// An array's element schema.
    pub items: Option<Box<Schema>>,
    /// A map's key and value schemas.
    pub keys: Option<Box<Schema>>,
    pub values: Option<Box<Schema>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub schema: Schema,
}

impl Schema {
    pub fn of(kind: Type) -> Schema {
        Schema {
            kind,
            optional: false,
            name: None,
            version: None,
            doc: None,
            fields: Vec::new(),
            items: None,
            keys: None,
            values: None,
        }
    }

    pub fn optional(mut self) -> Schema {
        self.optional = true;
        self
    }

    pub fn named(mut self, name: &str) -> Schema {
        self.name = Some(name.to_string());
        self
    }

    pub fn field(mut self, name: &str, schema: Schema) -> Schema {
        self.fields.push(Field {
            name: name.to_string(),
            schema,
        });
        self
    }
}

/// A value. Integers of every width are `Int`, floats `Float`; the schema
/// says which width they have on the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    Null,
    Boolean(bool),
    Int(i64),
    Float(f64),
    String(String),
    Bytes(Bytes),
    Array(Vec<Data>),
    Map(Vec<(Data, Data)>),
    /// Field values in the schema's field order.
    Struct(Vec<(String, Data)>),
}

impl Data {
    /// The class a Java worker would hold this value as, for error
    /// messages in Kafka's words (`ByteArrayConverter is not compatible
    /// with objects of type HashMap`).
    pub fn java_class(&self) -> &'static str {
        match self {
            Data::Null => "null",
            Data::Boolean(_) => "Boolean",
            Data::Int(_) => "Long",
            Data::Float(_) => "Double",
            Data::String(_) => "String",
            Data::Bytes(_) => "byte[]",
            Data::Array(_) => "ArrayList",
            Data::Map(_) => "HashMap",
            Data::Struct(_) => "Struct",
        }
    }

    /// The text Kafka's `toString` gives a value (what FileStreamSink
    /// writes): strings as they are, `Struct{a=1,b=x}`, `{k=v, …}`,
    /// `[a, b]`.
    pub fn to_text(&self) -> String {
        match self {
            Data::Null => "null".to_string(),
            Data::Boolean(b) => b.to_string(),
            Data::Int(i) => i.to_string(),
            Data::Float(f) => {
                if f.fract() == 0.0 && f.is_finite() {
                    format!("{f:.1}")
                } else {
                    f.to_string()
                }
            }
            Data::String(s) => s.clone(),
            Data::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            Data::Array(items) => {
                let parts: Vec<String> = items.iter().map(Data::to_text).collect();
                format!("[{}]", parts.join(", "))
            }
            Data::Map(entries) => {
                let parts: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("{}={}", k.to_text(), v.to_text()))
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
            Data::Struct(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .filter(|(_, v)| *v != Data::Null)
                    .map(|(k, v)| format!("{k}={}", v.to_text()))
                    .collect();
                format!("Struct{{{}}}", parts.join(","))
            }
        }
    }
}

/// A value with its schema, if it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaAndValue {
    pub schema: Option<Schema>,
    pub value: Data,
}

impl SchemaAndValue {
    pub const NULL: SchemaAndValue = SchemaAndValue {
        schema: None,
        value: Data::Null,
    };

    pub fn string(s: String) -> SchemaAndValue {
        SchemaAndValue {
            schema: Some(Schema::of(Type::String)),
            value: Data::String(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_javas_to_string() {
        let s = Data::Struct(vec![
            ("id".into(), Data::Int(1)),
            ("name".into(), Data::String("x".into())),
        ]);
        assert_eq!(s.to_text(), "Struct{id=1,name=x}");
        let m = Data::Map(vec![(Data::String("a".into()), Data::Float(2.0))]);
        assert_eq!(m.to_text(), "{a=2.0}");
        assert_eq!(
            Data::Array(vec![Data::Int(1), Data::Boolean(true)]).to_text(),
            "[1, true]"
        );
    }
}
