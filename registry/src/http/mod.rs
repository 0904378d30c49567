//! Confluent's Schema Registry REST API v1 over axum: one module per
//! resource, as Confluent's own resources are split.
//!
//! Every answer is JSON with Confluent's content type; every error is
//! `{"error_code": …, "message": …}` with the status Confluent gives it.

mod compatibility;
mod config;
mod forward;
mod schemas;
mod subjects;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::election::Leader;
use crate::error::RegistryError;
use crate::registry::{Registry, SchemaRequest};
use crate::types::{Reference, SchemaType};

/// Confluent's media type, which its clients ask for and accept.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// The largest request body taken (a schema with its references).
pub const MAX_BODY: usize = 16 << 20;

pub type Shared = Arc<Registry>;

/// The REST API; writes go through LEADER (served here or forwarded).
pub fn router(registry: Shared, leader: watch::Receiver<Leader>) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/subjects", get(subjects::list))
        .route(
            "/subjects/{subject}",
            post(subjects::lookup).delete(subjects::delete),
        )
        .route(
            "/subjects/{subject}/versions",
            get(subjects::versions).post(subjects::register),
        )
        .route(
            "/subjects/{subject}/versions/{version}",
            get(subjects::version).delete(subjects::delete_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(subjects::version_schema),
        )
        .route(
            "/subjects/{subject}/versions/{version}/referencedby",
            get(subjects::referenced_by),
        )
        .route("/schemas", get(schemas::list))
        .route("/schemas/types", get(schemas::types))
        .route("/schemas/ids/{id}", get(schemas::by_id))
        .route("/schemas/ids/{id}/schema", get(schemas::raw_by_id))
        .route("/schemas/ids/{id}/versions", get(schemas::versions))
        .route("/schemas/ids/{id}/subjects", get(schemas::subjects))
        .route(
            "/config",
            get(config::get_global)
                .put(config::put_global)
                .delete(config::delete_global),
        )
        .route(
            "/config/{subject}",
            get(config::get_subject)
                .put(config::put_subject)
                .delete(config::delete_subject),
        )
        .route("/mode", get(config::get_mode).put(config::put_mode))
        .route(
            "/mode/{subject}",
            get(config::get_subject_mode)
                .put(config::put_subject_mode)
                .delete(config::delete_subject_mode),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(compatibility::against_version),
        )
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(compatibility::against_all),
        )
        .fallback(|| async { RegistryError::NotFound })
        .layer(axum::middleware::from_fn_with_state(
            leader,
            forward::writes_to_leader,
        ))
        .layer(axum::middleware::map_response(method_not_allowed))
        .with_state(registry)
}

async fn root() -> Response {
    json(StatusCode::OK, &serde_json::json!({}))
}

/// axum answers a known path with the wrong method with an empty 405;
/// Confluent's clients expect the JSON error body.
async fn method_not_allowed(resp: Response) -> Response {
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED
        && !resp.headers().contains_key(header::CONTENT_TYPE)
    {
        return RegistryError::MethodNotAllowed.into_response();
    }
    resp
}

/// A JSON answer with Confluent's content type.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    resp
}

pub fn ok<T: Serialize>(body: &T) -> Response {
    json(StatusCode::OK, body)
}

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        json(
            self.status(),
            &serde_json::json!({"error_code": self.error_code(), "message": self.to_string()}),
        )
    }
}

/// A JSON request body, whatever content type the client labelled it with
/// (Confluent takes its own, `application/json` and
/// `application/octet-stream`), refused with Confluent's errors.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = RegistryError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| RegistryError::BodyTooLarge(MAX_BODY))?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| RegistryError::BadRequest(format!("Invalid JSON body: {e}")))
    }
}

/// Query parameters; a flag is on when it is `true`.
pub type Params = HashMap<String, String>;

pub fn flag(params: &Params, name: &str) -> bool {
    params
        .get(name)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The body of register, lookup and compatibility requests.
#[derive(Debug, Deserialize)]
pub struct SchemaBody {
    schema: Option<String>,
    #[serde(rename = "schemaType")]
    schema_type: Option<String>,
    references: Option<Vec<Reference>>,
    id: Option<i32>,
    version: Option<i32>,
}

impl SchemaBody {
    pub fn into_request(self) -> Result<SchemaRequest, RegistryError> {
        let schema = self
            .schema
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| RegistryError::InvalidSchema("Empty schema".into()))?;
        Ok(SchemaRequest {
            schema,
            schema_type: SchemaType::parse(self.schema_type.as_deref())?,
            references: self.references.unwrap_or_default(),
            id: self.id.filter(|&id| id >= 0),
            version: self.version.filter(|&v| v >= 1),
        })
    }
}

/// A schema's fields as responses carry them: `schemaType` only when it
/// is not AVRO, `references` only when there are some.
#[derive(Debug, Serialize)]
pub struct SchemaFields {
    #[serde(rename = "schemaType", skip_serializing_if = "Option::is_none")]
    pub schema_type: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    pub schema: String,
}

impl From<&crate::store::Content> for SchemaFields {
    fn from(c: &crate::store::Content) -> Self {
        SchemaFields {
            schema_type: c.schema_type.field(),
            references: c.references.clone(),
            schema: c.text.clone(),
        }
    }
}

/// A subject version as `GET /subjects/{s}/versions/{v}` and lookups
/// answer it.
#[derive(Debug, Serialize)]
pub struct VersionBody {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    #[serde(flatten)]
    pub schema: SchemaFields,
}

impl From<&crate::registry::SubjectVersion> for VersionBody {
    fn from(v: &crate::registry::SubjectVersion) -> Self {
        VersionBody {
            subject: v.subject.clone(),
            version: v.version,
            id: v.id,
            schema: SchemaFields::from(&v.content),
        }
    }
}

/// A schema's text as the body itself (`…/schema` endpoints): JSON for
/// Avro and JSON Schema, a JSON string for Protobuf's text.
pub fn raw_schema(c: &crate::store::Content) -> Response {
    match serde_json::from_str::<serde_json::Value>(&c.text) {
        Ok(v) => ok(&v),
        Err(_) => ok(&c.text),
    }
}
