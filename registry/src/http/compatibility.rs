//! `/compatibility`: would this schema be accepted under the subject's
//! level? (`?verbose=true` also says why not.)

use axum::extract::{Path, Query, State};
use axum::response::Response;

use super::{flag, ok, JsonBody, Params, SchemaBody, Shared};
use crate::error::RegistryError;
use crate::registry::VersionSpec;

type Answer = Result<Response, RegistryError>;

fn answer(problems: Vec<String>, verbose: bool) -> Response {
    let compatible = problems.is_empty();
    if verbose {
        ok(&serde_json::json!({ "is_compatible": compatible, "messages": problems }))
    } else {
        ok(&serde_json::json!({ "is_compatible": compatible }))
    }
}

pub async fn against_version(
    State(reg): State<Shared>,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Query<Params>,
    JsonBody(body): JsonBody<SchemaBody>,
) -> Answer {
    let spec = VersionSpec::parse(&version)?;
    let req = body.into_request()?;
    let problems = reg.check_compatibility(&subject, Some(spec), &req)?;
    Ok(answer(problems, flag(&q, "verbose")))
}

pub async fn against_all(
    State(reg): State<Shared>,
    Path(subject): Path<String>,
    Query(q): Query<Params>,
    JsonBody(body): JsonBody<SchemaBody>,
) -> Answer {
    let req = body.into_request()?;
    let problems = reg.check_compatibility(&subject, None, &req)?;
    Ok(answer(problems, flag(&q, "verbose")))
}
