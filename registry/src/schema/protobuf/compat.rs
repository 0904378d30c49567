//! Confluent's PROTOBUF compatibility: the writer's ("original") and the
//! reader's ("update") files are walked side by side, each difference
//! classified with Confluent's `Difference.Type`, and the schemas are
//! compatible when every difference is one of Confluent's compatible
//! changes. Clients and people who know Confluent's messages recognise
//! the names and the `#/Message/tag` paths.
//!
//! Confluent diffs the parsed text; this walks compiled descriptors, in
//! which every type name is already resolved. What the text has that a
//! descriptor has in another form is read the way the text has it: a map
//! field is a map (its entry type is not a message of its own), a proto3
//! `optional` field is a plain field (not a oneof), and a label counts
//! only where the text writes one.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

use prost_reflect::{EnumDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor};
use prost_types::field_descriptor_proto::Label;

/// Confluent's `Difference.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)]
pub(super) enum DiffType {
    PackageChanged,
    MessageAdded,
    MessageRemoved,
    MessageMoved,
    EnumAdded,
    EnumRemoved,
    EnumConstAdded,
    EnumConstChanged,
    EnumConstRemoved,
    FieldAdded,
    FieldRemoved,
    FieldNameChanged,
    FieldKindChanged,
    FieldScalarKindChanged,
    FieldNamedTypeChanged,
    FieldNumericLabelChanged,
    FieldStringOrBytesLabelChanged,
    RequiredFieldAdded,
    RequiredFieldRemoved,
    OneofAdded,
    OneofRemoved,
    OneofFieldAdded,
    OneofFieldRemoved,
    MultipleFieldsMovedToOneof,
    FieldMovedToExistingOneof,
}

impl DiffType {
    fn name(self) -> &'static str {
        use DiffType::*;
        match self {
            PackageChanged => "PACKAGE_CHANGED",
            MessageAdded => "MESSAGE_ADDED",
            MessageRemoved => "MESSAGE_REMOVED",
            MessageMoved => "MESSAGE_MOVED",
            EnumAdded => "ENUM_ADDED",
            EnumRemoved => "ENUM_REMOVED",
            EnumConstAdded => "ENUM_CONST_ADDED",
            EnumConstChanged => "ENUM_CONST_CHANGED",
            EnumConstRemoved => "ENUM_CONST_REMOVED",
            FieldAdded => "FIELD_ADDED",
            FieldRemoved => "FIELD_REMOVED",
            FieldNameChanged => "FIELD_NAME_CHANGED",
            FieldKindChanged => "FIELD_KIND_CHANGED",
            FieldScalarKindChanged => "FIELD_SCALAR_KIND_CHANGED",
            FieldNamedTypeChanged => "FIELD_NAMED_TYPE_CHANGED",
            FieldNumericLabelChanged => "FIELD_NUMERIC_LABEL_CHANGED",
            FieldStringOrBytesLabelChanged => "FIELD_STRING_OR_BYTES_LABEL_CHANGED",
            RequiredFieldAdded => "REQUIRED_FIELD_ADDED",
            RequiredFieldRemoved => "REQUIRED_FIELD_REMOVED",
            OneofAdded => "ONEOF_ADDED",
            OneofRemoved => "ONEOF_REMOVED",
            OneofFieldAdded => "ONEOF_FIELD_ADDED",
            OneofFieldRemoved => "ONEOF_FIELD_REMOVED",
            MultipleFieldsMovedToOneof => "MULTIPLE_FIELDS_MOVED_TO_ONEOF",
            FieldMovedToExistingOneof => "FIELD_MOVED_TO_EXISTING_ONEOF",
        }
    }

    /// Confluent's `SchemaDiff.COMPATIBLE_CHANGES`: the reader reads what
    /// the writer wrote. Message and enum additions, removals and moves,
    /// enum constants, optional fields added or removed, renamed fields
    /// (the wire has numbers), string/bytes label changes and oneofs added
    /// or removed.
    pub(super) fn compatible(self) -> bool {
        use DiffType::*;
        matches!(
            self,
            MessageAdded
                | MessageMoved
                | EnumAdded
                | EnumRemoved
                | EnumConstAdded
                | EnumConstChanged
                | EnumConstRemoved
                | FieldAdded
                | FieldRemoved
                | FieldNameChanged
                | FieldStringOrBytesLabelChanged
                | OneofAdded
                | OneofRemoved
                | OneofFieldAdded
        )
    }
}

/// One difference, at a path in Confluent's form (`#/Outer/Inner/3`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Diff {
    pub kind: DiffType,
    pub path: String,
}

impl Diff {
    fn description(&self) -> String {
        use DiffType::*;
        let p = &self.path;
        match self.kind {
            PackageChanged => format!(
                "The package at '{p}' in the reader schema does not match the package in the writer schema"
            ),
            MessageAdded => format!("The reader schema has a MESSAGE type at path '{p}' that the writer schema has not"),
            MessageRemoved => format!("The reader schema is missing a MESSAGE type at path '{p}' in the writer schema"),
            MessageMoved => format!("The MESSAGE type at path '{p}' has another position in the reader schema"),
            EnumAdded => format!("The reader schema has an ENUM type at path '{p}' that the writer schema has not"),
            EnumRemoved => format!("The reader schema is missing an ENUM type at path '{p}' in the writer schema"),
            EnumConstAdded => format!("The reader schema has an enum constant at path '{p}' that the writer schema has not"),
            EnumConstChanged => format!("The enum constant at path '{p}' has another name in the reader schema"),
            EnumConstRemoved => format!("The reader schema is missing an enum constant at path '{p}' in the writer schema"),
            FieldAdded => format!("The reader schema has a field at path '{p}' that the writer schema has not"),
            FieldRemoved => format!("The reader schema is missing a field at path '{p}' in the writer schema"),
            FieldNameChanged => format!("The field at path '{p}' has another name in the reader schema"),
            FieldKindChanged => format!(
                "The type of a field at path '{p}' in the reader schema does not match the writer schema"
            ),
            FieldScalarKindChanged => format!(
                "The kind of a SCALAR field at path '{p}' in the reader schema does not match its kind in the writer schema"
            ),
            FieldNamedTypeChanged => format!(
                "The type of a MESSAGE field at path '{p}' in the reader schema does not match its type in the writer schema"
            ),
            FieldNumericLabelChanged => format!(
                "The label for a NUMERIC field at path '{p}' in the reader schema does not match its label in the writer schema"
            ),
            FieldStringOrBytesLabelChanged => format!(
                "The label for a STRING or BYTES field at path '{p}' in the reader schema does not match its label in the writer schema"
            ),
            RequiredFieldAdded => format!(
                "A required field at path '{p}' in the reader schema is missing in the writer schema"
            ),
            RequiredFieldRemoved => format!(
                "The reader schema is missing a required field at path '{p}' in the writer schema"
            ),
            OneofAdded => format!("The reader schema has a oneof at path '{p}' that the writer schema has not"),
            OneofRemoved => format!("The reader schema is missing a oneof at path '{p}' in the writer schema"),
            OneofFieldAdded => format!("The reader schema has a oneof field at path '{p}' that the writer schema has not"),
            OneofFieldRemoved => format!(
                "The reader schema is missing a oneof field at path '{p}' in the writer schema"
            ),
            MultipleFieldsMovedToOneof => format!(
                "Multiple fields in the oneof at path '{p}' in the reader schema are outside a oneof in the writer schema"
            ),
            FieldMovedToExistingOneof => format!(
                "A field in the oneof at path '{p}' in the reader schema is outside an existing oneof in the writer schema"
            ),
        }
    }
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{errorType:'{}', description:'{}', additionalInfo:'{}'}}",
            self.kind.name(),
            self.description(),
            self.path
        )
    }
}

/// Every difference from `writer` to `reader`, compatible or not, in a
/// stable order (Confluent's follows Java hash sets; this one follows the
/// files: declaration order for types, number order for fields).
pub(super) fn differences(writer: &FileDescriptor, reader: &FileDescriptor) -> Vec<Diff> {
    let mut ctx = Ctx {
        path: Vec::new(),
        diffs: Vec::new(),
        active: HashSet::new(),
        writer_root: writer.name().to_string(),
        reader_root: reader.name().to_string(),
    };
    if writer.package_name() != reader.package_name() {
        ctx.add(DiffType::PackageChanged);
    }
    ctx.types(
        &messages(writer.messages()),
        &writer.enums().collect::<Vec<_>>(),
        &messages(reader.messages()),
        &reader.enums().collect::<Vec<_>>(),
    );
    ctx.diffs
}

/// The messages of one scope as the text has them: without map entries.
fn messages(all: impl Iterator<Item = MessageDescriptor>) -> Vec<MessageDescriptor> {
    all.filter(|m| !m.is_map_entry()).collect()
}

struct Ctx {
    path: Vec<String>,
    diffs: Vec<Diff>,
    /// Pairs of messages being compared further up (Confluent's
    /// `enterSchema`): a recursive type met again is not compared again.
    active: HashSet<(String, String)>,
    writer_root: String,
    reader_root: String,
}

impl Ctx {
    fn add(&mut self, kind: DiffType) {
        self.diffs.push(Diff {
            kind,
            path: format!("#/{}", self.path.join("/")),
        });
    }

    fn add_at(&mut self, step: impl ToString, kind: DiffType) {
        self.path.push(step.to_string());
        self.add(kind);
        self.path.pop();
    }

    /// Confluent's `compareTypeElements`: the messages and enums of one
    /// scope, matched by name.
    fn types(
        &mut self,
        w_msgs: &[MessageDescriptor],
        w_enums: &[EnumDescriptor],
        r_msgs: &[MessageDescriptor],
        r_enums: &[EnumDescriptor],
    ) {
        for name in union(
            w_msgs.iter().map(|m| m.name()),
            r_msgs.iter().map(|m| m.name()),
        ) {
            self.path.push(name.to_string());
            let wi = w_msgs.iter().position(|m| m.name() == name);
            let ri = r_msgs.iter().position(|m| m.name() == name);
            match (wi, ri) {
                (Some(_), None) => self.add(DiffType::MessageRemoved),
                (None, Some(_)) => self.add(DiffType::MessageAdded),
                (Some(wi), Some(ri)) => {
                    self.message(&w_msgs[wi], &r_msgs[ri]);
                    // Compatible: a message's index in the serialized
                    // data is relative to the schema id it was written
                    // with.
                    if wi != ri {
                        self.add(DiffType::MessageMoved);
                    }
                }
                (None, None) => {}
            }
            self.path.pop();
        }
        for name in union(
            w_enums.iter().map(|e| e.name()),
            r_enums.iter().map(|e| e.name()),
        ) {
            self.path.push(name.to_string());
            let we = w_enums.iter().find(|e| e.name() == name);
            let re = r_enums.iter().find(|e| e.name() == name);
            match (we, re) {
                (Some(_), None) => self.add(DiffType::EnumRemoved),
                (None, Some(_)) => self.add(DiffType::EnumAdded),
                (Some(we), Some(re)) => self.enumeration(we, re),
                (None, None) => {}
            }
            self.path.pop();
        }
    }

    fn enumeration(&mut self, w: &EnumDescriptor, r: &EnumDescriptor) {
        let wv: BTreeMap<i32, String> = w.values().map(|v| (v.number(), v.name().into())).collect();
        let rv: BTreeMap<i32, String> = r.values().map(|v| (v.number(), v.name().into())).collect();
        for n in wv.keys().chain(rv.keys()).collect::<BTreeSet<_>>() {
            match (wv.get(n), rv.get(n)) {
                (Some(_), None) => self.add_at(n, DiffType::EnumConstRemoved),
                (None, Some(_)) => self.add_at(n, DiffType::EnumConstAdded),
                (Some(a), Some(b)) if a != b => self.add_at(n, DiffType::EnumConstChanged),
                _ => {}
            }
        }
    }

    /// Confluent's `MessageSchemaDiff.compare`: fields by number, oneofs
    /// by name, then the nested types.
    fn message(&mut self, w: &MessageDescriptor, r: &MessageDescriptor) {
        let key = (w.full_name().to_string(), r.full_name().to_string());
        if self.active.insert(key.clone()) {
            self.message_fields(w, r);
            self.active.remove(&key);
        }
        self.types(
            &messages(w.child_messages()),
            &w.child_enums().collect::<Vec<_>>(),
            &messages(r.child_messages()),
            &r.child_enums().collect::<Vec<_>>(),
        );
    }

    fn message_fields(&mut self, w: &MessageDescriptor, r: &MessageDescriptor) {
        let w_shape = Shape::of(w);
        let r_shape = Shape::of(r);
        let mut w_plain = w_shape.plain.clone();

        // Fields moved into a oneof: one may be (it keeps its meaning:
        // at most one of them is set), several may not, as their values
        // would overwrite each other.
        for (name, fields) in &r_shape.oneofs {
            let (mut moved, mut existing) = (0, 0);
            for f in fields {
                if w_plain.remove(&f.number()).is_some() {
                    moved += 1;
                } else if w_shape.oneof_of.contains_key(&f.number()) {
                    existing += 1;
                }
            }
            if moved > 1 {
                self.add_at(name, DiffType::MultipleFieldsMovedToOneof);
            } else if moved == 1 && existing > 0 {
                self.add_at(name, DiffType::FieldMovedToExistingOneof);
            }
        }

        let w_oneof_names = w_shape.oneofs.iter().map(|(n, _)| n.as_str());
        let r_oneof_names = r_shape.oneofs.iter().map(|(n, _)| n.as_str());
        for name in union(w_oneof_names, r_oneof_names) {
            self.path.push(name.to_string());
            let wo = w_shape.oneofs.iter().find(|(n, _)| n == name);
            let ro = r_shape.oneofs.iter().find(|(n, _)| n == name);
            match (wo, ro) {
                (Some(_), None) => self.add(DiffType::OneofRemoved),
                (None, Some(_)) => self.add(DiffType::OneofAdded),
                (Some((_, wf)), Some((_, rf))) => self.oneof(wf, rf, &r_shape),
                (None, None) => {}
            }
            self.path.pop();
        }

        let tags: BTreeSet<u32> = w_plain
            .keys()
            .chain(r_shape.plain.keys())
            .copied()
            .collect();
        for tag in tags {
            self.path.push(tag.to_string());
            match (w_plain.get(&tag), r_shape.plain.get(&tag)) {
                (Some(f), None) if label(f) == Some(Label::Required) => {
                    self.add(DiffType::RequiredFieldRemoved)
                }
                (Some(_), None) => self.add(DiffType::FieldRemoved),
                (None, Some(f)) if label(f) == Some(Label::Required) => {
                    self.add(DiffType::RequiredFieldAdded)
                }
                (None, Some(_)) => self.add(DiffType::FieldAdded),
                (Some(a), Some(b)) => self.field(a, b),
                (None, None) => {}
            }
            self.path.pop();
        }

        // A field whose oneof changed (into one, out of one, or into one
        // of another name) is not compared above; its type still must be.
        for (tag, wf) in &w_shape.all {
            let Some(rf) = r_shape.all.get(tag) else {
                continue;
            };
            let (wo, ro) = (w_shape.oneof_of.get(tag), r_shape.oneof_of.get(tag));
            if wo == ro {
                continue;
            }
            self.path.push(tag.to_string());
            self.field(wf, rf);
            self.path.pop();
        }
    }

    /// Confluent's `OneOfDiff`: a field leaving the oneof is removed only
    /// when the reader has it nowhere else.
    fn oneof(&mut self, w: &[FieldDescriptor], r: &[FieldDescriptor], r_shape: &Shape) {
        let tags: BTreeSet<u32> = w.iter().chain(r).map(|f| f.number()).collect();
        for tag in tags {
            self.path.push(tag.to_string());
            let wf = w.iter().find(|f| f.number() == tag);
            let rf = r.iter().find(|f| f.number() == tag);
            match (wf, rf) {
                (Some(_), None) if !r_shape.all.contains_key(&tag) => {
                    self.add(DiffType::OneofFieldRemoved)
                }
                (None, Some(_)) => self.add(DiffType::OneofFieldAdded),
                (Some(a), Some(b)) => self.field(a, b),
                _ => {}
            }
            self.path.pop();
        }
    }

    /// Confluent's `FieldSchemaDiff.compare`.
    fn field(&mut self, w: &FieldDescriptor, r: &FieldDescriptor) {
        if w.name() != r.name() {
            self.add(DiffType::FieldNameChanged);
        }
        self.labels_and_types(label(w), label(r), &FieldType::of(w), &FieldType::of(r));
    }

    fn labels_and_types(
        &mut self,
        w_label: Option<Label>,
        r_label: Option<Label>,
        w: &FieldType,
        r: &FieldType,
    ) {
        match (w, r) {
            (FieldType::Map(wk, wv), FieldType::Map(rk, rv)) => {
                self.labels_and_types(None, None, wk, rk);
                self.labels_and_types(None, None, wv, rv);
            }
            (FieldType::Message(wm), FieldType::Message(rm)) => self.message_types(wm, rm),
            (FieldType::Scalar(ws), FieldType::Scalar(rs)) => {
                if ws != rs {
                    self.add(DiffType::FieldScalarKindChanged);
                } else if let (Some(a), Some(b)) = (w_label, r_label) {
                    if a != b {
                        self.add(if *ws == ScalarKind::StringOrBytes {
                            DiffType::FieldStringOrBytesLabelChanged
                        } else {
                            DiffType::FieldNumericLabelChanged
                        });
                    }
                }
            }
            _ => self.add(DiffType::FieldKindChanged),
        }
    }

    /// Confluent's `compareMessageTypes`: the same type by name (without
    /// the package of its file); a type of a referenced file is compared
    /// where it is used, a type of the schema's own file where the walk
    /// of that file meets it.
    fn message_types(&mut self, w: &MessageDescriptor, r: &MessageDescriptor) {
        let (wl, rl) = (local_name(w), local_name(r));
        if wl != rl {
            self.add(DiffType::FieldNamedTypeChanged);
            return;
        }
        let (wf, rf) = (w.parent_file(), r.parent_file());
        let both_local = wf.name() == self.writer_root && rf.name() == self.reader_root;
        // Confluent skips a referenced subject-version both use; the
        // same file is the same here.
        let same_reference = !both_local
            && wf.name() == rf.name()
            && super::load::encode(&wf) == super::load::encode(&rf);
        if both_local || same_reference {
            return;
        }
        let saved = std::mem::replace(&mut self.path, wl.split('.').map(String::from).collect());
        let before = self.diffs.len();
        self.message(w, r);
        self.path = saved;
        if self.diffs[before..].iter().any(|d| !d.kind.compatible()) {
            self.add(DiffType::FieldNamedTypeChanged);
        }
    }
}

/// A message's fields as the text groups them.
struct Shape {
    /// Fields outside any oneof (proto3 `optional` ones included), by number.
    plain: BTreeMap<u32, FieldDescriptor>,
    /// Real oneofs in order, with their fields.
    oneofs: Vec<(String, Vec<FieldDescriptor>)>,
    /// Every field by number, and the oneof of those in one.
    all: BTreeMap<u32, FieldDescriptor>,
    oneof_of: BTreeMap<u32, String>,
}

impl Shape {
    fn of(m: &MessageDescriptor) -> Shape {
        let mut shape = Shape {
            plain: BTreeMap::new(),
            oneofs: Vec::new(),
            all: BTreeMap::new(),
            oneof_of: BTreeMap::new(),
        };
        for f in m.fields() {
            shape.all.insert(f.number(), f.clone());
            match real_oneof(&f) {
                Some(o) => {
                    shape.oneof_of.insert(f.number(), o);
                }
                None => {
                    shape.plain.insert(f.number(), f);
                }
            }
        }
        shape.oneofs = m
            .oneofs()
            .filter(|o| !o.is_synthetic())
            .map(|o| (o.name().to_string(), o.fields().collect()))
            .collect();
        shape
    }
}

fn real_oneof(f: &FieldDescriptor) -> Option<String> {
    f.containing_oneof()
        .filter(|o| !o.is_synthetic())
        .map(|o| o.name().to_string())
}

/// The label the text writes, which is what Confluent compares: none in
/// a oneof or on a map, none on a proto3 field without `repeated` or
/// `optional`.
fn label(f: &FieldDescriptor) -> Option<Label> {
    if real_oneof(f).is_some() || f.is_map() {
        return None;
    }
    let fdp = f.field_descriptor_proto();
    if f.parent_file().file_descriptor_proto().syntax.as_deref() == Some("proto3") {
        match fdp.label() {
            Label::Repeated => Some(Label::Repeated),
            _ if fdp.proto3_optional() => Some(Label::Optional),
            _ => None,
        }
    } else {
        Some(fdp.label())
    }
}

/// A message's name within its package.
fn local_name(m: &MessageDescriptor) -> String {
    let package = m.package_name();
    let full = m.full_name();
    if package.is_empty() {
        return full.to_string();
    }
    full.strip_prefix(package)
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or(full)
        .to_string()
}

/// Confluent's scalar groups: types whose values read as one another on
/// the wire (an enum is a plain varint number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScalarKind {
    GeneralNumber,
    SignedNumber,
    StringOrBytes,
    Fixed32,
    Fixed64,
    Float,
    Double,
}

/// A field's type as Confluent's diff sees it.
enum FieldType {
    Scalar(ScalarKind),
    Message(MessageDescriptor),
    Map(Box<FieldType>, Box<FieldType>),
}

impl FieldType {
    fn of(f: &FieldDescriptor) -> FieldType {
        if f.is_map() {
            if let Kind::Message(entry) = f.kind() {
                return FieldType::Map(
                    Box::new(FieldType::of(&entry.map_entry_key_field())),
                    Box::new(FieldType::of(&entry.map_entry_value_field())),
                );
            }
        }
        use ScalarKind::*;
        FieldType::Scalar(match f.kind() {
            Kind::Message(m) => return FieldType::Message(m),
            Kind::Enum(_) => GeneralNumber,
            Kind::Int32 | Kind::Int64 | Kind::Uint32 | Kind::Uint64 | Kind::Bool => GeneralNumber,
            Kind::Sint32 | Kind::Sint64 => SignedNumber,
            Kind::String | Kind::Bytes => StringOrBytes,
            Kind::Fixed32 | Kind::Sfixed32 => Fixed32,
            Kind::Fixed64 | Kind::Sfixed64 => Fixed64,
            Kind::Float => Float,
            Kind::Double => Double,
        })
    }
}

/// The names of `a` then those of `b` not in `a`, each once.
fn union<'a>(a: impl Iterator<Item = &'a str>, b: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for name in a.chain(b) {
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}
