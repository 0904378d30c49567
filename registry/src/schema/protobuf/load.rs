//! From what clients send to a checked file descriptor.
//!
//! A schema's text comes in one of two forms: `.proto` source, or (as
//! confluent-kafka's Python serializer sends it) a base64-encoded
//! serialized `FileDescriptorProto`. Its references come the same two
//! ways. Either way every file is compiled by `protox`, which resolves
//! every type name and import and refuses what `protoc` refuses, so what
//! the registry keeps can always be rendered and compared later.

use std::collections::HashMap;

use base64::Engine;
use prost::Message;
use prost_reflect::FileDescriptor;
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};
use protox::Compiler;

use super::super::Dependency;

/// The name the schema's own file gets in its descriptor pool, whatever
/// name a descriptor was sent with: one schema is then one descriptor
/// whichever way it was sent. Confluent's clients rename the root file
/// when they load it (the Python deserializer calls it "default" too), so
/// the name is not part of the schema.
pub(super) const ROOT: &str = "default";

/// Compiles `text` with its references; the error says why it is not a
/// schema.
pub(super) fn load(text: &str, deps: &[Dependency]) -> Result<FileDescriptor, String> {
    let mut files = HashMap::new();
    for dep in deps {
        if dep.name == ROOT {
            return Err(format!(
                "a reference may not be named '{ROOT}', the name of the schema's own file"
            ));
        }
        let file = open(&dep.name, &dep.text)
            .map_err(|e| format!("reference '{}' is not a schema: {e}", dep.name))?;
        files.insert(dep.name.clone(), file);
    }
    files.insert(ROOT.to_string(), open(ROOT, text)?);

    // References first, so that one sent for a well-known file (some
    // clients do) is the file that is used; the well-known files
    // (`google/protobuf/*.proto`) need no reference.
    let mut resolver = ChainFileResolver::new();
    resolver.add(Sent { files });
    resolver.add(GoogleFileResolver::new());
    let mut compiler = Compiler::with_file_resolver(resolver);
    compiler.include_imports(true);
    compiler.open_file(ROOT).map_err(|e| e.to_string())?;
    compiler
        .descriptor_pool()
        .get_file_by_name(ROOT)
        .ok_or_else(|| "the compiler lost the schema's file".to_string())
}

/// One file as sent, under `name` (the name the files that import it
/// use), not yet checked: `Compiler` checks it when it is opened.
fn open(name: &str, text: &str) -> Result<File, String> {
    if text.trim().is_empty() {
        return Err("the schema is empty".into());
    }
    let descriptor_error = match descriptor_bytes(text) {
        Some(Ok(mut bytes)) => {
            // Field 1 of FileDescriptorProto is its name; a non-repeated
            // field's last occurrence wins, so appending one renames the
            // file without decoding and re-encoding it (which would drop
            // custom options that `prost_types` has no field for).
            prost::encoding::string::encode(1, &name.to_string(), &mut bytes);
            match File::decode_file_descriptor_proto(bytes.as_slice()) {
                Ok(file) => return Ok(file),
                Err(e) => format!("not a serialized FileDescriptorProto: {e}"),
            }
        }
        Some(Err(e)) => format!("not base64: {e}"),
        None => String::new(),
    };
    File::from_source(name, text).map_err(|e| {
        if descriptor_error.is_empty() {
            e.to_string()
        } else {
            format!("neither .proto source ({e}) nor a base64 descriptor ({descriptor_error})")
        }
    })
}

/// The bytes of a base64 descriptor, or `None` when `text` cannot be one:
/// `.proto` source always has a character base64 has not (a space, `;`,
/// `{`), base64 has nothing else.
fn descriptor_bytes(text: &str) -> Option<Result<Vec<u8>, base64::DecodeError>> {
    let t = text.trim();
    let alphabet = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=');
    if !t.chars().all(alphabet) {
        return None;
    }
    Some(base64::engine::general_purpose::STANDARD.decode(t))
}

/// The files sent with the schema (its own and its references), by name.
struct Sent {
    files: HashMap<String, File>,
}

impl FileResolver for Sent {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        self.files
            .get(name)
            .cloned()
            .ok_or_else(|| protox::Error::file_not_found(name))
    }
}

/// The serialized `FileDescriptorProto` of `file`, with its custom options
/// and without source locations (which say where text was, not what it
/// means).
pub(super) fn encode(file: &FileDescriptor) -> Vec<u8> {
    use prost_reflect::{DynamicMessage, ReflectMessage};
    let raw = file.encode_to_vec();
    let desc = prost_types::FileDescriptorProto::default().descriptor();
    match DynamicMessage::decode(desc, raw.as_slice()) {
        Ok(mut msg) => {
            msg.clear_field_by_name("source_code_info");
            msg.encode_to_vec()
        }
        // Not expected: the bytes were just encoded from a checked file.
        // Without the custom options is still the same schema.
        Err(_) => prost_types::FileDescriptorProto {
            source_code_info: None,
            ..file.file_descriptor_proto().clone()
        }
        .encode_to_vec(),
    }
}
