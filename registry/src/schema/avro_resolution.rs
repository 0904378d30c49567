//! Avro's schema resolution as a compatibility check: can a reader with one
//! schema read everything a writer wrote with another? The rules are the
//! Avro specification's "Schema Resolution" section, with the error types
//! Confluent reports (`TYPE_MISMATCH`, `NAME_MISMATCH`,
//! `READER_FIELD_MISSING_DEFAULT_VALUE`, `MISSING_ENUM_SYMBOLS`,
//! `MISSING_UNION_BRANCH`, `FIXED_SIZE_MISMATCH`).
//!
//! Written here rather than taken from `apache-avro`, whose checker accepts
//! a union narrowed to one of its branches (a nullable field made
//! required) and removed enum symbols, and refuses a record renamed with
//! an alias — each the opposite of what Confluent and the specification
//! say.

use std::collections::HashSet;

use apache_avro::schema::{
    EnumSchema, FixedSchema, InnerDecimalSchema, Name, NamesRef, RecordSchema, UuidSchema,
};
use apache_avro::Schema;

/// One reason the reader cannot read the writer's data, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub error_type: &'static str,
    pub location: String,
    pub description: String,
}

/// A schema as resolution sees it: logical types as the type they are
/// written as, references followed.
enum Node<'a> {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Array(&'a Schema),
    Map(&'a Schema),
    Union(&'a [Schema]),
    Record(&'a RecordSchema),
    Enum(&'a EnumSchema),
    Fixed(&'a FixedSchema),
    /// A reference to a name neither schema defines (cannot happen for a
    /// schema that parsed).
    Unresolved(&'a Name),
}

impl Node<'_> {
    fn type_name(&self) -> String {
        match self {
            Node::Null => "null".into(),
            Node::Boolean => "boolean".into(),
            Node::Int => "int".into(),
            Node::Long => "long".into(),
            Node::Float => "float".into(),
            Node::Double => "double".into(),
            Node::Bytes => "bytes".into(),
            Node::String => "string".into(),
            Node::Array(_) => "array".into(),
            Node::Map(_) => "map".into(),
            Node::Union(_) => "union".into(),
            Node::Record(r) => format!("record {}", r.name.fullname(None)),
            Node::Enum(e) => format!("enum {}", e.name.fullname(None)),
            Node::Fixed(f) => format!("fixed {}", f.name.fullname(None)),
            Node::Unresolved(n) => n.fullname(None),
        }
    }
}

/// The named types one side can refer to: its own and its references'.
pub struct Side<'a> {
    pub schema: &'a Schema,
    pub names: &'a NamesRef<'a>,
}

/// Every problem that keeps `reader` from reading data written with
/// `writer`; empty when it can.
pub fn check(writer: &Side<'_>, reader: &Side<'_>) -> Vec<Problem> {
    let mut c = Checker {
        writer_names: writer.names,
        reader_names: reader.names,
        assumed: HashSet::new(),
        problems: Vec::new(),
    };
    c.check(writer.schema, reader.schema, "/");
    c.problems
}

struct Checker<'a> {
    writer_names: &'a NamesRef<'a>,
    reader_names: &'a NamesRef<'a>,
    /// Pairs of named types being compared further up: a recursive type
    /// met again is taken as compatible (its other parts are checked
    /// where it was first met).
    assumed: HashSet<(String, String)>,
    problems: Vec<Problem>,
}

impl<'a> Checker<'a> {
    fn problem(&mut self, error_type: &'static str, location: &str, description: String) -> bool {
        self.problems.push(Problem {
            error_type,
            location: location.to_string(),
            description,
        });
        false
    }

    /// Checks one pair, recording its problems; true when compatible.
    fn check(&mut self, writer: &'a Schema, reader: &'a Schema, at: &str) -> bool {
        let w = node(writer, self.writer_names);
        let r = node(reader, self.reader_names);
        match (&w, &r) {
            // Every branch the writer may have written must be readable.
            (Node::Union(branches), _) => {
                let mut ok = true;
                for (i, b) in branches.iter().enumerate() {
                    ok &= self.check(b, reader, &format!("{at}{i}/"));
                }
                ok
            }
            (_, Node::Union(branches)) => {
                let before = self.problems.len();
                for b in branches.iter() {
                    if self.check(writer, b, at) {
                        self.problems.truncate(before);
                        return true;
                    }
                }
                self.problems.truncate(before);
                self.problem(
                    "MISSING_UNION_BRANCH",
                    at,
                    format!(
                        "The new schema's union at '{at}' has no branch that reads the old schema's {}",
                        w.type_name()
                    ),
                )
            }
            (Node::Null, Node::Null)
            | (Node::Boolean, Node::Boolean)
            | (Node::Int, Node::Int | Node::Long | Node::Float | Node::Double)
            | (Node::Long, Node::Long | Node::Float | Node::Double)
            | (Node::Float, Node::Float | Node::Double)
            | (Node::Double, Node::Double)
            | (Node::Bytes | Node::String, Node::Bytes | Node::String) => true,
            (Node::Array(wi), Node::Array(ri)) => self.check(wi, ri, &format!("{at}items/")),
            (Node::Map(wv), Node::Map(rv)) => self.check(wv, rv, &format!("{at}values/")),
            (Node::Record(wr), Node::Record(rr)) => self.records(wr, rr, at),
            (Node::Enum(we), Node::Enum(re)) => {
                if !names_match(&we.name, &re.name, re.aliases.as_deref()) {
                    return self.name_mismatch(&we.name, &re.name, at);
                }
                let missing: Vec<&str> = we
                    .symbols
                    .iter()
                    .filter(|s| !re.symbols.contains(s))
                    .map(String::as_str)
                    .collect();
                if missing.is_empty() || re.default.is_some() {
                    return true;
                }
                self.problem(
                    "MISSING_ENUM_SYMBOLS",
                    &format!("{at}symbols"),
                    format!(
                        "The new schema is missing enum symbols '{}' at path '{at}symbols' in the old schema",
                        missing.join(", ")
                    ),
                )
            }
            (Node::Fixed(wf), Node::Fixed(rf)) => {
                if !names_match(&wf.name, &rf.name, rf.aliases.as_deref()) {
                    return self.name_mismatch(&wf.name, &rf.name, at);
                }
                if wf.size == rf.size {
                    return true;
                }
                self.problem(
                    "FIXED_SIZE_MISMATCH",
                    &format!("{at}size"),
                    format!(
                        "The size of FIXED type field at path '{at}size' in the new schema ({}) does not match with the old schema ({})",
                        rf.size, wf.size
                    ),
                )
            }
            _ => self.problem(
                "TYPE_MISMATCH",
                at,
                format!(
                    "The type (path '{at}') of a field in the new schema ({}) does not match with the old schema ({})",
                    r.type_name(),
                    w.type_name()
                ),
            ),
        }
    }

    fn records(&mut self, writer: &'a RecordSchema, reader: &'a RecordSchema, at: &str) -> bool {
        if !names_match(&writer.name, &reader.name, reader.aliases.as_deref()) {
            return self.name_mismatch(&writer.name, &reader.name, at);
        }
        let pair = (writer.name.fullname(None), reader.name.fullname(None));
        if !self.assumed.insert(pair.clone()) {
            return true;
        }
        let mut ok = true;
        for (i, field) in reader.fields.iter().enumerate() {
            let written = writer
                .fields
                .iter()
                .find(|w| w.name == field.name || field.aliases.contains(&w.name));
            match written {
                Some(w) => {
                    ok &= self.check(&w.schema, &field.schema, &format!("{at}fields/{i}/type/"))
                }
                None if field.default.is_some() => {}
                None => {
                    ok = self.problem(
                        "READER_FIELD_MISSING_DEFAULT_VALUE",
                        &format!("{at}fields/{i}"),
                        format!(
                            "The field '{}' at path '{at}fields/{i}' in the new schema has no default value and is missing in the old schema",
                            field.name
                        ),
                    );
                }
            }
        }
        self.assumed.remove(&pair);
        ok
    }

    fn name_mismatch(&mut self, writer: &Name, reader: &Name, at: &str) -> bool {
        self.problem(
            "NAME_MISMATCH",
            &format!("{at}name"),
            format!(
                "The name of the schema at path '{at}name' has changed from '{}' (old) to '{}' (new)",
                writer.fullname(None),
                reader.fullname(None)
            ),
        )
    }
}

/// Named types match by unqualified name (as Avro's Java checker, which
/// Confluent runs, compares them), or when the reader lists the writer's
/// full name among its aliases.
fn names_match(
    writer: &Name,
    reader: &Name,
    reader_aliases: Option<&[apache_avro::schema::Alias]>,
) -> bool {
    writer.name() == reader.name()
        || reader_aliases.is_some_and(|aliases| {
            aliases
                .iter()
                .any(|a| a.fullname(reader.namespace()) == writer.fullname(None))
        })
}

/// The resolution view of a schema: references followed through NAMES,
/// logical types as their underlying type.
fn node<'a>(schema: &'a Schema, names: &'a NamesRef<'a>) -> Node<'a> {
    match schema {
        Schema::Null => Node::Null,
        Schema::Boolean => Node::Boolean,
        Schema::Int | Schema::Date | Schema::TimeMillis => Node::Int,
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => Node::Long,
        Schema::Float => Node::Float,
        Schema::Double => Node::Double,
        Schema::Bytes | Schema::BigDecimal => Node::Bytes,
        Schema::String => Node::String,
        Schema::Array(a) => Node::Array(&a.items),
        Schema::Map(m) => Node::Map(&m.types),
        Schema::Union(u) => Node::Union(u.variants()),
        Schema::Record(r) => Node::Record(r),
        Schema::Enum(e) => Node::Enum(e),
        Schema::Fixed(f) | Schema::Duration(f) => Node::Fixed(f),
        Schema::Decimal(d) => match &d.inner {
            InnerDecimalSchema::Bytes => Node::Bytes,
            InnerDecimalSchema::Fixed(f) => Node::Fixed(f),
        },
        Schema::Uuid(u) => match u {
            UuidSchema::String => Node::String,
            UuidSchema::Bytes => Node::Bytes,
            UuidSchema::Fixed(f) => Node::Fixed(f),
        },
        Schema::Ref { name } => match names.get(name) {
            Some(target) => node(target, names),
            None => Node::Unresolved(name),
        },
    }
}
