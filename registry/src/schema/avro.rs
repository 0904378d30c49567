//! Avro: schemas parsed by `apache-avro`; compatibility is Avro's schema
//! resolution (can a reader with one schema read what a writer wrote with
//! another, see [`super::avro_resolution`]), as Confluent defines its AVRO
//! levels.

use apache_avro::schema::ResolvedSchema;
use apache_avro::Schema;

use super::avro_resolution::{self, Side};
use super::Dependency;
use crate::error::RegistryError;

/// A parsed Avro schema with the schemas it references, which define the
/// named types it uses by name.
#[derive(Debug, Clone)]
pub struct Avro {
    pub schema: Schema,
    pub deps: Vec<Schema>,
}

pub fn parse(text: &str, deps: &[Dependency]) -> Result<Avro, RegistryError> {
    let parsed = if deps.is_empty() {
        Schema::parse_str(text).map(|schema| Avro {
            schema,
            deps: Vec::new(),
        })
    } else {
        Schema::parse_str_with_list(text, deps.iter().map(|d| d.text.as_str()))
            .map(|(schema, deps)| Avro { schema, deps })
    };
    parsed.map_err(|e| RegistryError::InvalidSchema(format!("Invalid schema {text}, details: {e}")))
}

/// Compact JSON with Avro's own field order; named types used again
/// appear by name, as Avro's `Schema.toString()` writes them.
pub fn canonical(schema: &Schema) -> String {
    serde_json::to_string(schema).unwrap_or_else(|_| "null".into())
}

/// Whether data written with `writer` can be read with `reader`; the
/// error lists every reason it cannot, in Confluent's form.
pub fn can_read(writer: &Avro, reader: &Avro) -> Result<(), String> {
    let writer_names = resolved(writer);
    let reader_names = resolved(reader);
    let empty = Default::default();
    let problems = avro_resolution::check(
        &Side {
            schema: &writer.schema,
            names: writer_names.as_ref().map_or(&empty, |r| r.get_names()),
        },
        &Side {
            schema: &reader.schema,
            names: reader_names.as_ref().map_or(&empty, |r| r.get_names()),
        },
    );
    if problems.is_empty() {
        return Ok(());
    }
    Err(problems
        .iter()
        .map(|p| {
            format!(
                "{{errorType:'{}', description:'{}', additionalInfo:'{}'}}",
                p.error_type, p.description, p.location
            )
        })
        .collect::<Vec<_>>()
        .join(", "))
}

/// The named types a schema and its references define.
fn resolved(a: &Avro) -> Option<ResolvedSchema<'_>> {
    let all: Vec<&Schema> = a.deps.iter().chain(std::iter::once(&a.schema)).collect();
    ResolvedSchema::new_with_schemata(all).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Avro {
        parse(s, &[]).expect("valid schema")
    }

    fn c(a: &Avro) -> String {
        canonical(&a.schema)
    }

    #[test]
    fn one_schema_written_two_ways_has_one_canonical_text() {
        assert_eq!(c(&p(r#"{"type": "string"}"#)), c(&p(r#""string""#)));
        let a = p(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#);
        let b = p(r#"{ "fields" : [ {"type":"int", "name":"a"} ], "name":"R", "type":"record" }"#);
        assert_eq!(c(&a), c(&b));
    }

    #[test]
    fn a_new_field_needs_a_default_to_read_old_data() {
        let v1 = p(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#);
        let no_default = p(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}"#,
        );
        let with_default = p(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":""}]}"#,
        );
        assert!(can_read(&v1, &no_default).is_err());
        assert!(can_read(&v1, &with_default).is_ok());
        // Old readers ignore the new field either way.
        assert!(can_read(&no_default, &v1).is_ok());
    }

    #[test]
    fn not_a_schema_is_refused() {
        assert!(parse(r#"{"type":"recrod"}"#, &[]).is_err());
        assert!(parse("not json", &[]).is_err());
    }

    #[test]
    fn references_resolve_by_full_name() {
        let dep = Dependency {
            name: "com.acme.Address".into(),
            text: r#"{"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"city","type":"string"}]}"#.into(),
        };
        let s = parse(
            r#"{"type":"record","name":"User","namespace":"com.acme","fields":[{"name":"home","type":"com.acme.Address"}]}"#,
            &[dep],
        )
        .expect("references resolve");
        assert!(c(&s).contains(r#""type":"com.acme.Address""#));
        assert!(parse(
            r#"{"type":"record","name":"User","fields":[{"name":"home","type":"com.acme.Address"}]}"#,
            &[]
        )
        .is_err());
    }

    fn reads(writer: &str, reader: &str) -> Result<(), String> {
        can_read(&p(writer), &p(reader))
    }

    #[test]
    fn a_nullable_field_made_required_cannot_read_old_nulls() {
        let nullable =
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":["null","string"]}]}"#;
        let required = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}"#;
        let e = reads(nullable, required).unwrap_err();
        assert!(e.contains("TYPE_MISMATCH"), "{e}");
        assert!(reads(required, nullable).is_ok());
    }

    #[test]
    fn removed_enum_symbols_need_a_reader_default() {
        let abc = r#"{"type":"enum","name":"E","symbols":["A","B","C"]}"#;
        let ab = r#"{"type":"enum","name":"E","symbols":["A","B"]}"#;
        let ab_default = r#"{"type":"enum","name":"E","symbols":["A","B"],"default":"A"}"#;
        assert!(reads(abc, ab).unwrap_err().contains("MISSING_ENUM_SYMBOLS"));
        assert!(reads(abc, ab_default).is_ok());
        assert!(reads(ab, abc).is_ok());
    }

    #[test]
    fn a_record_renamed_with_an_alias_reads_the_old_name() {
        let old = r#"{"type":"record","name":"Old","fields":[{"name":"a","type":"int"}]}"#;
        let renamed = r#"{"type":"record","name":"New","aliases":["Old"],"fields":[{"name":"a","type":"int"}]}"#;
        let no_alias = r#"{"type":"record","name":"New","fields":[{"name":"a","type":"int"}]}"#;
        assert!(reads(old, renamed).is_ok());
        assert!(reads(old, no_alias).unwrap_err().contains("NAME_MISMATCH"));
    }

    #[test]
    fn a_field_renamed_with_an_alias_keeps_its_data() {
        let old = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;
        let renamed =
            r#"{"type":"record","name":"R","fields":[{"name":"b","type":"int","aliases":["a"]}]}"#;
        assert!(reads(old, renamed).is_ok());
    }

    #[test]
    fn promotions_go_one_way() {
        assert!(reads(r#""int""#, r#""long""#).is_ok());
        assert!(reads(r#""int""#, r#""double""#).is_ok());
        assert!(reads(r#""float""#, r#""double""#).is_ok());
        assert!(reads(r#""string""#, r#""bytes""#).is_ok());
        assert!(reads(r#""long""#, r#""int""#).is_err());
        assert!(reads(r#""double""#, r#""float""#).is_err());
        assert!(reads(r#""int""#, r#""string""#).is_err());
    }

    #[test]
    fn unions_need_a_branch_for_every_written_type() {
        assert!(reads(r#""int""#, r#"["null","long"]"#).is_ok());
        assert!(reads(r#"["null","int"]"#, r#"["null","int","string"]"#).is_ok());
        let e = reads(r#"["null","int","string"]"#, r#"["null","int"]"#).unwrap_err();
        assert!(e.contains("MISSING_UNION_BRANCH"), "{e}");
    }

    #[test]
    fn containers_and_fixed_are_checked_inside() {
        assert!(reads(
            r#"{"type":"array","items":"int"}"#,
            r#"{"type":"array","items":"long"}"#
        )
        .is_ok());
        assert!(reads(
            r#"{"type":"map","values":"long"}"#,
            r#"{"type":"map","values":"int"}"#
        )
        .is_err());
        let f4 = r#"{"type":"fixed","name":"F","size":4}"#;
        let f8 = r#"{"type":"fixed","name":"F","size":8}"#;
        assert!(reads(f4, f8).unwrap_err().contains("FIXED_SIZE_MISMATCH"));
    }

    #[test]
    fn recursive_types_terminate() {
        let list = r#"{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}"#;
        let wider = r#"{"type":"record","name":"Node","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","Node"]}]}"#;
        assert!(reads(list, list).is_ok());
        assert!(reads(list, wider).is_ok());
        assert!(reads(wider, list).is_err());
    }

    #[test]
    fn referenced_types_are_resolved_on_both_sides() {
        let dep = |fields: &str| Dependency {
            name: "com.acme.Address".into(),
            text: format!(
                r#"{{"type":"record","name":"Address","namespace":"com.acme","fields":[{fields}]}}"#
            ),
        };
        let user = r#"{"type":"record","name":"User","namespace":"com.acme","fields":[{"name":"home","type":"com.acme.Address"}]}"#;
        let v1 = parse(user, &[dep(r#"{"name":"city","type":"string"}"#)]).unwrap();
        let v2 = parse(
            user,
            &[dep(
                r#"{"name":"city","type":"string"},{"name":"zip","type":"string"}"#,
            )],
        )
        .unwrap();
        let e = can_read(&v1, &v2).unwrap_err();
        assert!(
            e.contains("READER_FIELD_MISSING_DEFAULT_VALUE") && e.contains("zip"),
            "{e}"
        );
        assert!(can_read(&v2, &v1).is_ok());
    }
}
