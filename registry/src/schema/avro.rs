//! Avro: schemas parsed by `apache-avro`; compatibility is Avro's schema
//! resolution (can a reader with one schema read what a writer wrote with
//! another), as Confluent defines its AVRO levels.

use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::Schema;

use super::Dependency;
use crate::error::RegistryError;

pub fn parse(text: &str, deps: &[Dependency]) -> Result<Schema, RegistryError> {
    let parsed = if deps.is_empty() {
        Schema::parse_str(text)
    } else {
        Schema::parse_str_with_list(text, deps.iter().map(|d| d.text.as_str())).map(|(s, _)| s)
    };
    parsed.map_err(|e| RegistryError::InvalidSchema(format!("Invalid schema {text}, details: {e}")))
}

/// Compact JSON with Avro's own field order; named types used again
/// appear by name, as Avro's `Schema.toString()` writes them.
pub fn canonical(schema: &Schema) -> String {
    serde_json::to_string(schema).unwrap_or_else(|_| "null".into())
}

/// Whether data written with `writer` can be read with `reader`.
pub fn can_read(writer: &Schema, reader: &Schema) -> Result<(), String> {
    SchemaCompatibility::can_read(writer, reader)
        .map(|_| ())
        .map_err(|e| {
            format!(
                "{{errorType:'READER_INCOMPATIBLE', description:'{e}', readerSchema:'{}', writerSchema:'{}'}}",
                canonical(reader),
                canonical(writer)
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Schema {
        parse(s, &[]).expect("valid schema")
    }

    #[test]
    fn one_schema_written_two_ways_has_one_canonical_text() {
        assert_eq!(
            canonical(&p(r#"{"type": "string"}"#)),
            canonical(&p(r#""string""#))
        );
        let a = p(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#);
        let b = p(r#"{ "fields" : [ {"type":"int", "name":"a"} ], "name":"R", "type":"record" }"#);
        assert_eq!(canonical(&a), canonical(&b));
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
        assert!(canonical(&s).contains(r#""type":"com.acme.Address""#));
        assert!(parse(
            r#"{"type":"record","name":"User","fields":[{"name":"home","type":"com.acme.Address"}]}"#,
            &[]
        )
        .is_err());
    }
}
