//! The registry's errors, each with the HTTP status and `error_code` that
//! Confluent's Schema Registry answers it with, so its clients (which
//! branch on `error_code`) see the same thing.

use axum::http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    #[error("Version {0} not found.")]
    VersionNotFound(String),
    #[error("Schema {0} not found")]
    SchemaIdNotFound(i32),
    /// A lookup (`POST /subjects/{s}`) of a schema the subject never had.
    #[error("Schema not found")]
    SchemaNotFound,
    #[error("Subject '{0}' was soft deleted.Set permanent=true to delete permanently")]
    SubjectSoftDeleted(String),
    #[error("Subject '{0}' was not deleted first before being permanently deleted")]
    SubjectNotSoftDeleted(String),
    #[error("Subject '{0}' Version {1} was soft deleted.Set permanent=true to delete permanently")]
    VersionSoftDeleted(String, i32),
    #[error("Subject '{0}' Version {1} was not deleted first before being permanently deleted")]
    VersionNotSoftDeleted(String, i32),
    #[error("Subject '{0}' does not have subject-level compatibility configured")]
    SubjectCompatibilityNotConfigured(String),
    #[error("Subject '{0}' does not have subject-level mode configured")]
    SubjectModeNotConfigured(String),
    #[error("{0}")]
    InvalidSchema(String),
    #[error("The specified version '{0}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"")]
    InvalidVersion(String),
    #[error("Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive")]
    InvalidCompatibilityLevel,
    #[error("Invalid mode. Valid values are READWRITE, READONLY, READONLY_OVERRIDE, IMPORT")]
    InvalidMode,
    #[error("{0}")]
    OperationNotPermitted(String),
    #[error("One or more references exist to the schema {{magic=1,keytype=SCHEMA,subject={subject},version={version}}}.")]
    ReferenceExists { subject: String, version: i32 },
    /// The new schema breaks the subject's compatibility level.
    #[error("Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]", details.join(", "))]
    Incompatible {
        subject: String,
        details: Vec<String>,
    },
    /// A request body that is not the JSON the endpoint takes.
    #[error("{0}")]
    BadRequest(String),
    #[error("Request body is larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("HTTP 404 Not Found")]
    NotFound,
    #[error("HTTP 405 Method Not Allowed")]
    MethodNotAllowed,
    /// The `_schemas` topic could not be read or written.
    #[error("Error in the backend data store: {0}")]
    Store(String),
    #[error("Operation timed out: {0}")]
    Timeout(String),
    #[error("Error while forwarding the request to the leader: {0}")]
    Forward(String),
    #[error("Error while registering schema: {0}")]
    NoLeader(String),
}

impl RegistryError {
    pub fn status(&self) -> StatusCode {
        use RegistryError::*;
        match self {
            SubjectNotFound(_)
            | VersionNotFound(_)
            | SchemaIdNotFound(_)
            | SchemaNotFound
            | SubjectSoftDeleted(_)
            | SubjectNotSoftDeleted(_)
            | VersionSoftDeleted(..)
            | VersionNotSoftDeleted(..)
            | SubjectCompatibilityNotConfigured(_)
            | SubjectModeNotConfigured(_)
            | NotFound => StatusCode::NOT_FOUND,
            InvalidSchema(_)
            | InvalidVersion(_)
            | InvalidCompatibilityLevel
            | InvalidMode
            | OperationNotPermitted(_)
            | ReferenceExists { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Incompatible { .. } => StatusCode::CONFLICT,
            BadRequest(_) => StatusCode::BAD_REQUEST,
            BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Store(_) | Timeout(_) | Forward(_) | NoLeader(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Confluent's `error_code`: the HTTP status followed by a detail digit
    /// pair, or the bare status where Confluent has none.
    pub fn error_code(&self) -> u32 {
        use RegistryError::*;
        match self {
            SubjectNotFound(_) => 40401,
            VersionNotFound(_) => 40402,
            SchemaIdNotFound(_) | SchemaNotFound => 40403,
            SubjectSoftDeleted(_) => 40404,
            SubjectNotSoftDeleted(_) => 40405,
            VersionSoftDeleted(..) => 40406,
            VersionNotSoftDeleted(..) => 40407,
            SubjectCompatibilityNotConfigured(_) => 40408,
            SubjectModeNotConfigured(_) => 40409,
            InvalidSchema(_) => 42201,
            InvalidVersion(_) => 42202,
            InvalidCompatibilityLevel => 42203,
            InvalidMode => 42204,
            OperationNotPermitted(_) => 42205,
            ReferenceExists { .. } => 42206,
            Incompatible { .. } => 409,
            BadRequest(_) => 400,
            BodyTooLarge(_) => 413,
            NotFound => 404,
            MethodNotAllowed => 405,
            Store(_) => 50001,
            Timeout(_) => 50002,
            Forward(_) => 50003,
            NoLeader(_) => 50004,
        }
    }
}
