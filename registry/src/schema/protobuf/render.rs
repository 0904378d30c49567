//! A file descriptor as `.proto` source: the canonical text the registry
//! stores and serves.
//!
//! The text is a function of the descriptor alone, so the same schema sent
//! as source (with any whitespace, comments or order of options) or as a
//! serialized descriptor gets one text, hence one id. Compiling the text
//! gives the descriptor back: every list (fields, nested types, oneofs,
//! enum values, ranges, imports) keeps its order, type names are written
//! fully qualified (`.pkg.Msg`, never ambiguous), and what `protoc`
//! derives by itself (map entry types, group types, synthetic oneofs of
//! proto3 `optional`, default `json_name`s) is written the way that
//! derives it again.

use std::collections::HashMap;
use std::fmt::Write;

use prost_reflect::{
    DynamicMessage, EnumDescriptor, ExtensionDescriptor, FieldDescriptor, FileDescriptor, Kind,
    MessageDescriptor, ServiceDescriptor, Value,
};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::FieldDescriptorProto;

/// One past the largest field number: descriptor ranges end there for
/// `to max`.
const FIELD_NUMBER_END: i32 = 536_870_912;

pub(super) fn render(file: &FileDescriptor) -> String {
    let fdp = file.file_descriptor_proto();
    let proto3 = fdp.syntax.as_deref() == Some("proto3");
    let mut w = Writer {
        out: String::new(),
        depth: 0,
        proto3,
    };
    w.line(&format!(
        "syntax = \"{}\";",
        if proto3 { "proto3" } else { "proto2" }
    ));
    if let Some(package) = fdp.package.as_deref().filter(|p| !p.is_empty()) {
        w.line(&format!("package {package};"));
    }
    for (i, dep) in fdp.dependency.iter().enumerate() {
        let i = i as i32;
        let kind = if fdp.public_dependency.contains(&i) {
            "public "
        } else if fdp.weak_dependency.contains(&i) {
            "weak "
        } else {
            ""
        };
        w.line(&format!("import {kind}{};", quote(dep)));
    }
    w.statement_options(&file.options());
    for m in file.messages() {
        w.message(&m);
    }
    for e in file.enums() {
        w.enumeration(&e);
    }
    for x in file.extensions() {
        w.extend(&x);
    }
    for s in file.services() {
        w.service(&s);
    }
    w.out
}

struct Writer {
    out: String,
    depth: usize,
    proto3: bool,
}

impl Writer {
    fn line(&mut self, text: &str) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn open(&mut self, head: &str) {
        self.line(&format!("{head} {{"));
        self.depth += 1;
    }

    fn close(&mut self) {
        self.depth -= 1;
        self.line("}");
    }

    /// `option name = value;` for each option set.
    fn statement_options(&mut self, options: &DynamicMessage) {
        for (name, value) in options_of(options) {
            self.line(&format!("option {name} = {value};"));
        }
    }

    fn message(&mut self, m: &MessageDescriptor) {
        self.open(&format!("message {}", m.name()));
        self.message_body(m);
        self.close();
    }

    /// A message's members. Fields come in their order; a nested type
    /// comes before the first field that `protoc` would have to derive a
    /// later nested type for (a map entry, a group), so the nested types
    /// keep their order too.
    fn message_body(&mut self, m: &MessageDescriptor) {
        self.statement_options(&options_without(&m.options(), &["map_entry"]));
        let nested: Vec<MessageDescriptor> = m.child_messages().collect();
        // Nested types a field derives, by index among the nested types.
        let derived: HashMap<String, usize> = nested
            .iter()
            .enumerate()
            .filter(|(_, n)| n.is_map_entry() || is_group_type(m, n))
            .map(|(i, n)| (n.full_name().to_string(), i))
            .collect();
        let derived_index = |f: &FieldDescriptor| match f.kind() {
            Kind::Message(t) if f.is_map() || f.is_group() => derived.get(t.full_name()).copied(),
            _ => None,
        };
        let mut next_nested = 0;
        let mut flush = |w: &mut Writer, up_to: usize| {
            while next_nested < up_to {
                let n = &nested[next_nested];
                if !derived.contains_key(n.full_name()) {
                    w.message(n);
                }
                next_nested += 1;
            }
        };
        let mut oneofs_done = Vec::new();
        for f in fields_in_order(m) {
            match f.containing_oneof().filter(|o| !o.is_synthetic()) {
                None => {
                    if let Some(i) = derived_index(&f) {
                        flush(self, i + 1);
                    }
                    self.field(&f, true);
                }
                Some(o) => {
                    if oneofs_done.contains(&o.name().to_string()) {
                        continue;
                    }
                    oneofs_done.push(o.name().to_string());
                    let members: Vec<FieldDescriptor> = o.fields().collect();
                    if let Some(i) = members.iter().filter_map(&derived_index).max() {
                        flush(self, i + 1);
                    }
                    self.open(&format!("oneof {}", o.name()));
                    self.statement_options(&o.options());
                    for member in &members {
                        self.field(member, false);
                    }
                    self.close();
                }
            }
        }
        flush(self, nested.len());
        for e in m.child_enums() {
            self.enumeration(&e);
        }
        for x in m.child_extensions() {
            self.extend(&x);
        }
        let dp = m.descriptor_proto();
        for r in &dp.extension_range {
            let (start, end) = (r.start(), r.end());
            let options = r
                .options
                .as_ref()
                .map(|o| options_of(&prost_reflect::ReflectMessage::transcode_to_dynamic(o)))
                .unwrap_or_default();
            self.line(&format!(
                "extensions {}{};",
                range(start, end - 1, FIELD_NUMBER_END - 1),
                bracketed(&options)
            ));
        }
        for r in &dp.reserved_range {
            self.line(&format!(
                "reserved {};",
                range(r.start(), r.end() - 1, FIELD_NUMBER_END - 1)
            ));
        }
        for name in &dp.reserved_name {
            self.line(&format!("reserved {};", quote(name)));
        }
    }

    /// A field, or a map field, or a group with its body; `labelled` is
    /// false in a oneof, where fields have no label.
    fn field(&mut self, f: &FieldDescriptor, labelled: bool) {
        let fdp = f.field_descriptor_proto();
        let label = if !labelled || f.is_map() {
            ""
        } else {
            label(fdp, self.proto3)
        };
        let mut options = field_pseudo_options(fdp, f.name());
        options.extend(options_of(&f.options()));
        let number = f.number();
        match f.kind() {
            Kind::Message(entry) if f.is_map() => {
                let key = type_name(&entry.map_entry_key_field().kind());
                let value = type_name(&entry.map_entry_value_field().kind());
                self.line(&format!(
                    "map<{key}, {value}> {} = {number}{};",
                    f.name(),
                    bracketed(&options)
                ));
            }
            Kind::Message(group) if f.is_group() => {
                self.open(&format!(
                    "{label}group {} = {number}{}",
                    group.name(),
                    bracketed(&options)
                ));
                self.message_body(&group);
                self.close();
            }
            kind => self.line(&format!(
                "{label}{} {} = {number}{};",
                type_name(&kind),
                f.name(),
                bracketed(&options)
            )),
        }
    }

    /// An extension field, in an `extend` block of its own (which keeps
    /// the extensions' order whatever they extend).
    fn extend(&mut self, x: &ExtensionDescriptor) {
        let fdp = x.field_descriptor_proto();
        self.open(&format!("extend .{}", x.containing_message().full_name()));
        let mut options = field_pseudo_options(fdp, x.name());
        options.extend(options_of(&x.options()));
        let label = label(fdp, self.proto3);
        match x.kind() {
            Kind::Message(group) if x.is_group() => {
                self.open(&format!(
                    "{label}group {} = {}{}",
                    group.name(),
                    x.number(),
                    bracketed(&options)
                ));
                self.message_body(&group);
                self.close();
            }
            kind => self.line(&format!(
                "{label}{} {} = {}{};",
                type_name(&kind),
                x.name(),
                x.number(),
                bracketed(&options)
            )),
        }
        self.close();
    }

    fn enumeration(&mut self, e: &EnumDescriptor) {
        self.open(&format!("enum {}", e.name()));
        self.statement_options(&e.options());
        let ep = e.enum_descriptor_proto();
        // In declaration order: `values()` is by number, and aliases share one.
        for v in &ep.value {
            let options = e
                .get_value_by_name(v.name())
                .map(|v| options_of(&v.options()))
                .unwrap_or_default();
            self.line(&format!(
                "{} = {}{};",
                v.name(),
                v.number(),
                bracketed(&options)
            ));
        }
        for r in &ep.reserved_range {
            self.line(&format!(
                "reserved {};",
                range(r.start(), r.end(), i32::MAX)
            ));
        }
        for name in &ep.reserved_name {
            self.line(&format!("reserved {};", quote(name)));
        }
        self.close();
    }

    fn service(&mut self, s: &ServiceDescriptor) {
        self.open(&format!("service {}", s.name()));
        self.statement_options(&s.options());
        for m in s.methods() {
            let stream = |yes: bool| if yes { "stream " } else { "" };
            let head = format!(
                "rpc {}({}.{}) returns ({}.{})",
                m.name(),
                stream(m.is_client_streaming()),
                m.input().full_name(),
                stream(m.is_server_streaming()),
                m.output().full_name()
            );
            let options = options_of(&m.options());
            if options.is_empty() {
                self.line(&format!("{head};"));
            } else {
                self.open(&head);
                for (name, value) in options {
                    self.line(&format!("option {name} = {value};"));
                }
                self.close();
            }
        }
        self.close();
    }
}

/// A message's fields in declaration order (`fields()` is by number),
/// which compiling the text keeps.
fn fields_in_order(m: &MessageDescriptor) -> Vec<FieldDescriptor> {
    m.descriptor_proto()
        .field
        .iter()
        .filter_map(|f| m.get_field(f.number() as u32))
        .collect()
}

/// Whether `n` is the type of a group field of `m` (which the group's
/// declaration derives, so it is written there and not as a message).
fn is_group_type(m: &MessageDescriptor, n: &MessageDescriptor) -> bool {
    m.fields()
        .any(|f| f.is_group() && matches!(f.kind(), Kind::Message(t) if t == *n))
}

/// The label as written: proto3 writes none for a singular field without
/// presence, and `optional` for one with (the synthetic oneof follows).
fn label(fdp: &FieldDescriptorProto, proto3: bool) -> &'static str {
    match fdp.label() {
        Label::Repeated => "repeated ",
        Label::Required => "required ",
        Label::Optional if !proto3 || fdp.proto3_optional() => "optional ",
        Label::Optional => "",
    }
}

/// `default` and `json_name`, written as options though they are fields
/// of the descriptor; `json_name` only when it is not the one `protoc`
/// derives from the name (descriptors differ in whether they carry it).
fn field_pseudo_options(fdp: &FieldDescriptorProto, name: &str) -> Vec<(String, String)> {
    let mut options = Vec::new();
    if let Some(d) = &fdp.default_value {
        let value = match fdp.r#type() {
            Type::String => quote(d),
            // Already C-escaped in the descriptor, as in source.
            Type::Bytes => format!("\"{d}\""),
            _ => d.clone(),
        };
        options.push(("default".to_string(), value));
    }
    if let Some(j) = &fdp.json_name {
        if *j != json_name(name) {
            options.push(("json_name".to_string(), quote(j)));
        }
    }
    options
}

/// The JSON name `protoc` derives from a field name: underscores dropped,
/// the letter after each one capitalised.
fn json_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn type_name(kind: &Kind) -> String {
    match kind {
        Kind::Double => "double".into(),
        Kind::Float => "float".into(),
        Kind::Int32 => "int32".into(),
        Kind::Int64 => "int64".into(),
        Kind::Uint32 => "uint32".into(),
        Kind::Uint64 => "uint64".into(),
        Kind::Sint32 => "sint32".into(),
        Kind::Sint64 => "sint64".into(),
        Kind::Fixed32 => "fixed32".into(),
        Kind::Fixed64 => "fixed64".into(),
        Kind::Sfixed32 => "sfixed32".into(),
        Kind::Sfixed64 => "sfixed64".into(),
        Kind::Bool => "bool".into(),
        Kind::String => "string".into(),
        Kind::Bytes => "bytes".into(),
        Kind::Message(m) => format!(".{}", m.full_name()),
        Kind::Enum(e) => format!(".{}", e.full_name()),
    }
}

/// `a`, or `a to b`, with `max` for the largest number there can be.
fn range(start: i32, last: i32, max: i32) -> String {
    let end = if last == max {
        "max".to_string()
    } else {
        last.to_string()
    };
    if start == last {
        start.to_string()
    } else {
        format!("{start} to {end}")
    }
}

fn bracketed(options: &[(String, String)]) -> String {
    if options.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = options.iter().map(|(n, v)| format!("{n} = {v}")).collect();
    format!(" [{}]", inner.join(", "))
}

fn options_without(options: &DynamicMessage, skip: &[&str]) -> DynamicMessage {
    let mut o = options.clone();
    for name in skip {
        o.clear_field_by_name(name);
    }
    o
}

/// Each option set in an options message, as (name, value) in `.proto`
/// syntax: custom options as `(full.name)`, a repeated option once per
/// value. `uninterpreted_option` is what a parser could not resolve and
/// is never left in a compiled descriptor.
fn options_of(options: &DynamicMessage) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (field, value) in options.fields() {
        if field.name() == "uninterpreted_option" {
            continue;
        }
        push_values(&mut out, field.name().to_string(), &field.kind(), value);
    }
    for (ext, value) in options.extensions() {
        push_values(
            &mut out,
            format!("(.{})", ext.full_name()),
            &ext.kind(),
            value,
        );
    }
    out
}

fn push_values(out: &mut Vec<(String, String)>, name: String, kind: &Kind, value: &Value) {
    match value {
        Value::List(values) => {
            for v in values {
                if let Some(text) = value_text(kind, v) {
                    out.push((name.clone(), text));
                }
            }
        }
        v => {
            if let Some(text) = value_text(kind, v) {
                out.push((name, text));
            }
        }
    }
}

/// One option value as `.proto` writes it; `None` for a map, which no
/// option syntax writes.
fn value_text(kind: &Kind, value: &Value) -> Option<String> {
    Some(match value {
        Value::Bool(b) => b.to_string(),
        Value::I32(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::U32(n) => n.to_string(),
        Value::U64(n) => n.to_string(),
        Value::F32(x) => float(f64::from(*x), format!("{x:?}")),
        Value::F64(x) => float(*x, format!("{x:?}")),
        Value::String(s) => quote(s),
        Value::Bytes(b) => quote_bytes(b),
        Value::EnumNumber(n) => match kind {
            Kind::Enum(e) => e
                .get_value(*n)
                .map_or_else(|| n.to_string(), |v| v.name().to_string()),
            _ => n.to_string(),
        },
        Value::Message(m) => format!("{{ {} }}", m.to_text_format()),
        Value::List(_) | Value::Map(_) => return None,
    })
}

fn float(x: f64, shortest: String) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        shortest
    }
}

/// A string literal: quotes, backslashes and control characters escaped,
/// other characters as they are (a `.proto` file is UTF-8).
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\{:03o}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A bytes literal: printable ASCII as it is, every other byte in octal.
fn quote_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    out.push('"');
    for &byte in b {
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(byte as char),
            _ => {
                let _ = write!(out, "\\{byte:03o}");
            }
        }
    }
    out.push('"');
    out
}
