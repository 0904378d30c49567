//! `/subjects`: subjects, their versions, registering and deleting.

use axum::extract::{Path, Query, State};
use axum::response::Response;

use super::{flag, ok, JsonBody, Params, SchemaBody, Shared, VersionBody};
use crate::error::RegistryError;
use crate::registry::{SubjectVersion, VersionSpec};

type Answer = Result<Response, RegistryError>;

pub async fn list(State(reg): State<Shared>, Query(q): Query<Params>) -> Answer {
    let prefix = q.get("subjectPrefix").map(String::as_str).unwrap_or("");
    let mut subjects = reg.subjects(flag(&q, "deleted") || flag(&q, "deletedOnly"), prefix);
    if flag(&q, "deletedOnly") {
        let live = reg.subjects(false, prefix);
        subjects.retain(|s| !live.contains(s));
    }
    Ok(ok(&subjects))
}

pub async fn versions(
    State(reg): State<Shared>,
    Path(subject): Path<String>,
    Query(q): Query<Params>,
) -> Answer {
    Ok(ok(&reg.versions(&subject, flag(&q, "deleted"))?))
}

pub async fn register(
    State(reg): State<Shared>,
    Path(subject): Path<String>,
    JsonBody(body): JsonBody<SchemaBody>,
) -> Answer {
    let req = body.into_request()?;
    let id = reg.register(&subject, &req).await?;
    Ok(ok(&serde_json::json!({ "id": id })))
}

/// The version a path names (a number, `latest` or -1), soft-deleted ones
/// included with `?deleted=true`.
fn find(
    reg: &Shared,
    subject: &str,
    version: &str,
    q: &Params,
) -> Result<SubjectVersion, RegistryError> {
    reg.version(subject, VersionSpec::parse(version)?, flag(q, "deleted"))
}

pub async fn version(
    State(reg): State<Shared>,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Query<Params>,
) -> Answer {
    let mut v = find(&reg, &subject, &version, &q)?;
    v.content = reg.in_format(v.content, q.get("format").map(String::as_str))?;
    Ok(ok(&VersionBody::from(&v)))
}

/// The schema text alone, as JSON (an Avro schema is JSON itself).
pub async fn version_schema(
    State(reg): State<Shared>,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Query<Params>,
) -> Answer {
    let v = find(&reg, &subject, &version, &q)?;
    Ok(super::raw_schema(&v.content))
}

pub async fn referenced_by(
    State(reg): State<Shared>,
    Path((subject, version)): Path<(String, String)>,
) -> Answer {
    let spec = VersionSpec::parse(&version)?;
    Ok(ok(&reg.referenced_by(&subject, spec)?))
}

pub async fn delete_version(
    State(reg): State<Shared>,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Query<Params>,
) -> Answer {
    let spec = VersionSpec::parse(&version)?;
    let n = reg
        .delete_version(&subject, spec, flag(&q, "permanent"))
        .await?;
    Ok(ok(&n))
}

/// Is this schema registered under the subject, and as which version?
pub async fn lookup(
    State(reg): State<Shared>,
    Path(subject): Path<String>,
    Query(q): Query<Params>,
    JsonBody(body): JsonBody<SchemaBody>,
) -> Answer {
    let req = body.into_request()?;
    let v = reg.lookup(&subject, &req, flag(&q, "deleted"))?;
    Ok(ok(&VersionBody::from(&v)))
}

pub async fn delete(
    State(reg): State<Shared>,
    Path(subject): Path<String>,
    Query(q): Query<Params>,
) -> Answer {
    Ok(ok(&reg
        .delete_subject(&subject, flag(&q, "permanent"))
        .await?))
}
