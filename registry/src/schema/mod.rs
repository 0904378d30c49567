//! Schemas by type: parsing (which rejects what is not a schema),
//! canonical text (so one schema written two ways is one schema with one
//! id), and the compatibility rules of each type.
//!
//! One module per type; this one dispatches on [`SchemaType`].

mod avro;
mod avro_resolution;
mod json;
mod protobuf;

use crate::error::RegistryError;
use crate::types::{Compatibility, SchemaType};

/// The schema types this registry can parse and check, as
/// `GET /schemas/types` lists them.
pub const SUPPORTED: [SchemaType; 3] = [SchemaType::Json, SchemaType::Protobuf, SchemaType::Avro];

/// A schema this registry references by name: the text of another
/// subject's version, with the name the referencing schema uses for it.
#[derive(Debug, Clone)]
pub struct Dependency {
    pub name: String,
    pub text: String,
}

/// A parsed, valid schema.
#[derive(Debug, Clone)]
pub enum Parsed {
    Avro(avro::Avro),
    /// A JSON Schema with the schemas its `$ref`s name.
    Json {
        schema: serde_json::Value,
        deps: Vec<Dependency>,
    },
    /// A compiled .proto file, its imports resolved.
    Protobuf(protobuf::Protobuf),
}

impl Parsed {
    /// Parses `text` as a schema of type `ty`; `deps` are the texts of
    /// every schema it references, directly or not, dependencies first.
    pub fn parse(ty: SchemaType, text: &str, deps: &[Dependency]) -> Result<Parsed, RegistryError> {
        match ty {
            SchemaType::Avro => avro::parse(text, deps).map(Parsed::Avro),
            SchemaType::Json => json::parse(text, deps).map(|schema| Parsed::Json {
                schema,
                deps: deps.to_vec(),
            }),
            SchemaType::Protobuf => protobuf::parse(text, deps).map(Parsed::Protobuf),
        }
    }

    /// The text the registry stores and serves: the same for every way of
    /// writing the same schema (whitespace, key order, `{"type":"string"}`
    /// for `"string"`).
    pub fn canonical(&self) -> String {
        match self {
            Parsed::Avro(a) => avro::canonical(&a.schema),
            Parsed::Json { schema, .. } => json::canonical(schema),
            Parsed::Protobuf(p) => protobuf::canonical(p),
        }
    }

    /// The schema in another of its type's formats: `serialized` is a
    /// Protobuf file as a base64 `FileDescriptorProto` (what Confluent's
    /// serializers exchange); None when the type has no such format.
    pub fn in_format(&self, format: &str) -> Option<String> {
        match (self, format) {
            (Parsed::Protobuf(p), "serialized") => Some(protobuf::serialized(p)),
            _ => None,
        }
    }

    pub fn schema_type(&self) -> SchemaType {
        match self {
            Parsed::Avro(_) => SchemaType::Avro,
            Parsed::Json { .. } => SchemaType::Json,
            Parsed::Protobuf(_) => SchemaType::Protobuf,
        }
    }

    /// What stops `self` (the schema being registered) from being
    /// compatible with `old` under `level`; empty when it is.
    pub fn incompatibilities(&self, old: &Parsed, level: Compatibility) -> Vec<String> {
        let mut problems = Vec::new();
        match (self, old) {
            (Parsed::Avro(new), Parsed::Avro(old)) => {
                if level.backward() {
                    problems.extend(avro::can_read(old, new).err());
                }
                if level.forward() {
                    problems.extend(avro::can_read(new, old).err());
                }
            }
            (
                Parsed::Json {
                    schema: new,
                    deps: new_deps,
                },
                Parsed::Json {
                    schema: old,
                    deps: old_deps,
                },
            ) => {
                if level.backward() {
                    problems.extend(json::can_read_with(old, old_deps, new, new_deps).err());
                }
                if level.forward() {
                    problems.extend(json::can_read_with(new, new_deps, old, old_deps).err());
                }
            }
            (Parsed::Protobuf(new), Parsed::Protobuf(old)) => {
                if level.backward() {
                    problems.extend(protobuf::can_read(old, new).err());
                }
                if level.forward() {
                    problems.extend(protobuf::can_read(new, old).err());
                }
            }
            // Checked by type before: a subject's versions share one type.
            _ => problems.push(format!(
                "{{errorType:'TYPE_MISMATCH', description:'The schema type changed from {} to {}'}}",
                old.schema_type().name(),
                self.schema_type().name()
            )),
        }
        problems
    }
}
