//! `/config` (compatibility levels) and `/mode`, global and per subject.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::{flag, ok, JsonBody, Params, Shared};
use crate::error::RegistryError;
use crate::types::{Compatibility, Mode};

type Answer = Result<Response, RegistryError>;

#[derive(Deserialize)]
pub struct ConfigBody {
    compatibility: Option<String>,
    /// Some clients send the name GET answers with.
    #[serde(rename = "compatibilityLevel")]
    compatibility_level: Option<String>,
}

impl ConfigBody {
    fn level(self) -> Result<Compatibility, RegistryError> {
        let s = self
            .compatibility
            .or(self.compatibility_level)
            .ok_or(RegistryError::InvalidCompatibilityLevel)?;
        Compatibility::parse(&s)
    }
}

fn level_body(level: Compatibility) -> Response {
    ok(&serde_json::json!({ "compatibilityLevel": level.name() }))
}

pub async fn get_global(State(reg): State<Shared>) -> Answer {
    Ok(level_body(reg.compatibility(None, true)?))
}

pub async fn put_global(State(reg): State<Shared>, JsonBody(body): JsonBody<ConfigBody>) -> Answer {
    let level = body.level()?;
    reg.set_compatibility(None, level).await?;
    Ok(ok(&serde_json::json!({ "compatibility": level.name() })))
}

pub async fn delete_global(State(reg): State<Shared>) -> Answer {
    Ok(level_body(reg.delete_compatibility(None).await?))
}

pub async fn get_subject(
    State(reg): State<Shared>,
    Path(subject): Path<String>,
    Query(q): Query<Params>,
) -> Answer {
    Ok(level_body(reg.compatibility(
        Some(&subject),
        flag(&q, "defaultToGlobal"),
    )?))
}

pub async fn put_subject(
    State(reg): State<Shared>,
    Path(subject): Path<String>,
    JsonBody(body): JsonBody<ConfigBody>,
) -> Answer {
    let level = body.level()?;
    reg.set_compatibility(Some(&subject), level).await?;
    Ok(ok(&serde_json::json!({ "compatibility": level.name() })))
}

pub async fn delete_subject(State(reg): State<Shared>, Path(subject): Path<String>) -> Answer {
    Ok(level_body(reg.delete_compatibility(Some(&subject)).await?))
}

#[derive(Deserialize)]
pub struct ModeBody {
    mode: Option<String>,
}

fn mode_body(mode: Mode) -> Response {
    ok(&serde_json::json!({ "mode": mode.name() }))
}

pub async fn get_mode(State(reg): State<Shared>) -> Answer {
    Ok(mode_body(reg.mode(None, true)?))
}

pub async fn put_mode(
    State(reg): State<Shared>,
    Query(q): Query<Params>,
    JsonBody(body): JsonBody<ModeBody>,
) -> Answer {
    let mode = Mode::parse(body.mode.as_deref().unwrap_or(""))?;
    reg.set_mode(None, mode, flag(&q, "force")).await?;
    Ok(mode_body(mode))
}

pub async fn get_subject_mode(
    State(reg): State<Shared>,
    Path(subject): Path<String>,
    Query(q): Query<Params>,
) -> Answer {
    Ok(mode_body(
        reg.mode(Some(&subject), flag(&q, "defaultToGlobal"))?,
    ))
}

pub async fn put_subject_mode(
    State(reg): State<Shared>,
    Path(subject): Path<String>,
    Query(q): Query<Params>,
    JsonBody(body): JsonBody<ModeBody>,
) -> Answer {
    let mode = Mode::parse(body.mode.as_deref().unwrap_or(""))?;
    reg.set_mode(Some(&subject), mode, flag(&q, "force"))
        .await?;
    Ok(mode_body(mode))
}

pub async fn delete_subject_mode(State(reg): State<Shared>, Path(subject): Path<String>) -> Answer {
    Ok(mode_body(reg.delete_mode(&subject).await?))
}
