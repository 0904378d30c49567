//! The worker's errors, each with the HTTP status Kafka Connect's REST API
//! answers it with; the body is `{"error_code": <status>, "message": …}`.

use axum::http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("Connector {0} not found")]
    ConnectorNotFound(String),
    #[error("Connector {0} already exists")]
    AlreadyExists(String),
    /// Any other missing thing, with Kafka's message.
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Internal(String),
}

impl ConnectError {
    pub fn status(&self) -> StatusCode {
        match self {
            ConnectError::ConnectorNotFound(_) | ConnectError::NotFound(_) => StatusCode::NOT_FOUND,
            ConnectError::AlreadyExists(_) | ConnectError::Conflict(_) => StatusCode::CONFLICT,
            ConnectError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConnectError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}
