//! Schemas by type: parsing (which rejects what is not a schema),
//! canonical text (so one schema written two ways is one schema with one
//! id), and the compatibility rules of each type.
//!
//! One module per type; this one dispatches on [`SchemaType`].

mod avro;
mod avro_resolution;

use crate::error::RegistryError;
use crate::types::{Compatibility, SchemaType};

/// The schema types this registry can parse and check, as
/// `GET /schemas/types` lists them.
pub const SUPPORTED: [SchemaType; 1] = [SchemaType::Avro];

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
}

impl Parsed {
    /// Parses `text` as a schema of type `ty`; `deps` are the texts of
    /// every schema it references, directly or not, dependencies first.
    pub fn parse(ty: SchemaType, text: &str, deps: &[Dependency]) -> Result<Parsed, RegistryError> {
        match ty {
            SchemaType::Avro => avro::parse(text, deps).map(Parsed::Avro),
            other => Err(RegistryError::InvalidSchema(format!(
                "Invalid schema type {}: this registry checks {} schemas",
                other.name(),
                SUPPORTED.map(SchemaType::name).join(", ")
            ))),
        }
    }

    /// The text the registry stores and serves: the same for every way of
    /// writing the same schema (whitespace, key order, `{"type":"string"}`
    /// for `"string"`).
    pub fn canonical(&self) -> String {
        match self {
            Parsed::Avro(a) => avro::canonical(&a.schema),
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
        }
        problems
    }
}
