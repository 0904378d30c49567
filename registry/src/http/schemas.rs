//! `/schemas`: schemas by id, and the types this registry knows.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Serialize;

use super::{flag, ok, raw_schema, Params, SchemaFields, Shared};
use crate::error::RegistryError;
use crate::schema::SUPPORTED;
use crate::types::SchemaType;

type Answer = Result<Response, RegistryError>;

/// An id that is not a number names no resource: 404, as Confluent's
/// router answers it.
fn parse_id(s: &str) -> Result<i32, RegistryError> {
    s.parse().map_err(|_| RegistryError::NotFound)
}

pub async fn by_id(
    State(reg): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Answer {
    let id = parse_id(&id)?;
    let content = reg.in_format(reg.schema(id)?, q.get("format").map(String::as_str))?;
    Ok(ok(&SchemaFields::from(&content)))
}

pub async fn raw_by_id(State(reg): State<Shared>, Path(id): Path<String>) -> Answer {
    let id = parse_id(&id)?;
    Ok(raw_schema(&reg.schema(id)?))
}

#[derive(Serialize)]
struct SubjectVersionRef {
    subject: String,
    version: i32,
}

pub async fn versions(
    State(reg): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Answer {
    let id = parse_id(&id)?;
    let uses: Vec<SubjectVersionRef> = reg
        .uses_of(id, flag(&q, "deleted"))?
        .into_iter()
        .map(|(subject, version)| SubjectVersionRef { subject, version })
        .collect();
    Ok(ok(&uses))
}

pub async fn subjects(
    State(reg): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Answer {
    let id = parse_id(&id)?;
    let mut subjects: Vec<String> = reg
        .uses_of(id, flag(&q, "deleted"))?
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    subjects.dedup();
    Ok(ok(&subjects))
}

#[derive(Serialize)]
struct ListedSchema {
    subject: String,
    version: i32,
    id: i32,
    #[serde(flatten)]
    schema: SchemaFields,
}

/// Every subject version's schema (`?subjectPrefix=`, `?deleted=`,
/// `?latestOnly=`).
pub async fn list(State(reg): State<Shared>, Query(q): Query<Params>) -> Answer {
    let prefix = q.get("subjectPrefix").map(String::as_str).unwrap_or("");
    let mut all = reg.all_schemas(prefix, flag(&q, "deleted"));
    if flag(&q, "latestOnly") {
        let mut latest: Vec<crate::registry::SubjectVersion> = Vec::new();
        for v in all {
            match latest.last_mut() {
                Some(last) if last.subject == v.subject => *last = v,
                _ => latest.push(v),
            }
        }
        all = latest;
    }
    let out: Vec<ListedSchema> = all
        .iter()
        .map(|v| ListedSchema {
            subject: v.subject.clone(),
            version: v.version,
            id: v.id,
            schema: SchemaFields::from(&v.content),
        })
        .collect();
    Ok(ok(&out))
}

pub async fn types() -> Response {
    let names: Vec<&str> = SchemaType::ALL
        .into_iter()
        .filter(|t| SUPPORTED.contains(t))
        .map(SchemaType::name)
        .collect();
    ok(&names)
}
