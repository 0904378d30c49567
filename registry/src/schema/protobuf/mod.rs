//! Protobuf: a schema is one `.proto` file (proto2 or proto3), sent as
//! source or as a base64 serialized `FileDescriptorProto` (what
//! confluent-kafka's Python serializer sends), compiled by `protox` into a
//! file descriptor together with the files it imports.
//!
//! The registry stores and serves the file as canonical `.proto` source
//! rendered from the descriptor ([`canonical`]), so the two forms, and any
//! whitespace, comments or declaration style, are one schema with one id;
//! clients that ask for `format=serialized` get the descriptor back
//! ([`serialized`]).
//!
//! Compatibility is Confluent's PROTOBUF rules ([`can_read`], see
//! [`compat`]).

mod compat;
mod load;
mod render;
#[cfg(test)]
mod tests;

use base64::Engine;
use prost_reflect::FileDescriptor;

use super::Dependency;
use crate::error::RegistryError;

/// A compiled `.proto` file. Its descriptor pool holds the files it
/// imports too (its references and the well-known `google/protobuf/`
/// files), which compatibility checks look into for the types it uses.
#[derive(Debug, Clone)]
pub struct Protobuf {
    pub file: FileDescriptor,
}

/// Parses `text`, `.proto` source or a base64 serialized
/// `FileDescriptorProto`. `deps` are the files it imports, each named by
/// the import path the importing file uses, in either form; the
/// well-known `google/protobuf/*.proto` need none. Every import and type
/// name must resolve, so that a schema the registry accepts can always be
/// rendered and compared later.
pub fn parse(text: &str, deps: &[Dependency]) -> Result<Protobuf, RegistryError> {
    load::load(text, deps)
        .map(|file| Protobuf { file })
        .map_err(|why| {
            RegistryError::InvalidSchema(format!("Invalid schema {text}, details: {why}"))
        })
}

/// The `.proto` source the registry stores and serves: the same for every
/// way of writing or sending the same file, and compiling to the same
/// descriptor again.
pub fn canonical(p: &Protobuf) -> String {
    render::render(&p.file)
}

/// Base64 of the serialized `FileDescriptorProto`, what
/// `GET /schemas/ids/{id}?format=serialized` answers and confluent-kafka's
/// Protobuf serdes load (they name the file themselves). Source locations
/// are left out: they describe the text, not the schema.
pub fn serialized(p: &Protobuf) -> String {
    base64::engine::general_purpose::STANDARD.encode(load::encode(&p.file))
}

/// Whether data written with `writer` can be read with `reader`, by
/// Confluent's PROTOBUF rules: BACKWARD is `can_read(old, new)`, FORWARD
/// `can_read(new, old)`. The error lists each incompatible difference in
/// Confluent's form, joined with ", ".
pub fn can_read(writer: &Protobuf, reader: &Protobuf) -> Result<(), String> {
    let mut seen = Vec::new();
    for d in compat::differences(&writer.file, &reader.file) {
        if !d.kind.compatible() {
            let text = d.to_string();
            if !seen.contains(&text) {
                seen.push(text);
            }
        }
    }
    if seen.is_empty() {
        Ok(())
    } else {
        Err(seen.join(", "))
    }
}
