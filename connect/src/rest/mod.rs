//! Kafka Connect's REST API v1 over axum, with Kafka's JSON shapes,
//! status codes and error bodies (`{"error_code": 404, "message":
//! "Connector foo not found"}`).
//!
//! * [`connectors`]: `/connectors` and everything under a connector.
//! * [`plugins`]: `/connector-plugins` and config validation.

mod connectors;
mod plugins;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

use crate::error::ConnectError;
use crate::herder::Herder;
use crate::KAFKA_VERSION;

/// The largest request body taken.
const MAX_BODY: usize = 4 << 20;

pub struct RestState {
    pub herder: Arc<Herder>,
    /// The cluster's id as Metadata gives it (`GET /`).
    pub cluster_id: Option<String>,
}

pub type Shared = Arc<RestState>;

pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/", get(root))
        .route(
            "/connectors",
            get(connectors::list).post(connectors::create),
        )
        .route(
            "/connectors/{name}",
            get(connectors::info).delete(connectors::delete),
        )
        .route(
            "/connectors/{name}/config",
            get(connectors::config).put(connectors::put_config),
        )
        .route("/connectors/{name}/status", get(connectors::status))
        .route("/connectors/{name}/tasks", get(connectors::tasks))
        .route(
            "/connectors/{name}/tasks/{task}/status",
            get(connectors::task_status),
        )
        .route(
            "/connectors/{name}/tasks/{task}/restart",
            post(connectors::restart_task),
        )
        .route("/connectors/{name}/pause", put(connectors::pause))
        .route("/connectors/{name}/resume", put(connectors::resume))
        .route("/connectors/{name}/stop", put(connectors::stop))
        .route("/connectors/{name}/restart", post(connectors::restart))
        .route(
            "/connectors/{name}/offsets",
            get(connectors::offsets)
                .patch(connectors::alter_offsets)
                .delete(connectors::reset_offsets),
        )
        .route("/connector-plugins", get(plugins::list))
        .route(
            "/connector-plugins/{plugin}/config",
            get(plugins::config_defs),
        )
        .route(
            "/connector-plugins/{plugin}/config/validate",
            put(plugins::validate),
        )
        .fallback(|| async { error_body(StatusCode::NOT_FOUND, "HTTP 404 Not Found") })
        .layer(axum::middleware::map_response(method_not_allowed))
        .with_state(state)
}

async fn root(State(state): State<Shared>) -> Response {
    ok(&json!({
        "version": KAFKA_VERSION,
        "commit": concat!("runnel-", env!("CARGO_PKG_VERSION")),
        "kafka_cluster_id": state.cluster_id,
    }))
}

/// axum answers a known path with the wrong method with an empty 405;
/// Kafka's clients expect the JSON error body.
async fn method_not_allowed(resp: Response) -> Response {
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED
        && !resp.headers().contains_key(header::CONTENT_TYPE)
    {
        return error_body(
            StatusCode::METHOD_NOT_ALLOWED,
            "HTTP 405 Method Not Allowed",
        );
    }
    resp
}

pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub fn ok<T: Serialize>(body: &T) -> Response {
    json_response(StatusCode::OK, body)
}

/// An answer with no body (204, 202).
pub fn empty(status: StatusCode) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status;
    resp
}

fn error_body(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        &json!({"error_code": status.as_u16(), "message": message}),
    )
}

impl IntoResponse for ConnectError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        error_body(self.status(), &self.to_string())
    }
}

/// A JSON request body, whatever content type it was labelled with;
/// unreadable JSON is a 400 with the parser's message.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ConnectError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| {
                ConnectError::BadRequest(format!("Request body is larger than {MAX_BODY} bytes"))
            })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            ConnectError::BadRequest(format!("Cannot deserialize the request body: {e}"))
        })
    }
}

/// Query parameters in order, repeated ones kept (`?expand=status&expand=info`).
pub fn query_params(raw: Option<&str>) -> Vec<(String, String)> {
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// A boolean query parameter: `true` (any case) is on.
pub fn flag(params: &[(String, String)], name: &str) -> bool {
    params
        .iter()
        .any(|(k, v)| k == name && v.eq_ignore_ascii_case("true"))
}
