//! API errors as JSON that names the field at fault, so a merchant's developer (or the
//! CSV report) can point at the exact input to fix.

use crate::payments::invoice::FieldError;
use crate::store::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer of the HTTP API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing or unknown API key.
    #[error("missing or invalid API key")]
    Unauthorized,
    /// Unknown resource (also for another merchant's resources).
    #[error("not found")]
    NotFound,
    /// The body is not JSON, or not an object.
    #[error("request body: {0}")]
    BadBody(String),
    /// A query parameter is malformed (not an integer, unknown, repeated): the
    /// parameter's name as given and what is wrong.
    #[error("{message}")]
    BadQuery {
        /// The parameter at fault (`query` when the string itself is not URL-encoded).
        field: String,
        /// For a person.
        message: String,
    },
    /// One or more fields are invalid.
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    /// A conflicting state (reference reused, invoice not payable, operation not
    /// allowed in the transaction's status).
    #[error("{message}")]
    Conflict {
        /// The field whose value conflicts (reference, status), when there is one.
        field: Option<&'static str>,
        /// For a person.
        message: String,
    },
    /// A well-formed request the server cannot carry out (e.g. a dialplan that does not
    /// check), with details for the operator.
    #[error("{message}")]
    Unprocessable {
        /// Machine-readable reason (e.g. `invalid_dialplan`).
        code: &'static str,
        /// What was refused.
        field: &'static str,
        /// For a person.
        message: String,
        /// Everything the operator needs to fix it (paths, lines).
        details: serde_json::Value,
    },
    /// The payment platform refused an operation (its responseCode); for a duplicate,
    /// `transaction` names the REFUSED transaction recorded.
    #[error("{message}")]
    PlatformRefused {
        /// validate, cancel, refund or duplicate.
        operation: &'static str,
        /// Sips responseCode.
        response_code: String,
        /// For a person.
        message: String,
        /// The transaction recorded (a refused duplicate), if any.
        transaction: Option<String>,
    },
    /// The payment platform could not be reached or its answer could not be trusted.
    #[error("{message}")]
    PlatformUnavailable {
        /// validate, cancel, refund or duplicate.
        operation: &'static str,
        /// For a person.
        message: String,
        /// The transaction recorded (a duplicate closed as REFUSED 90), if any.
        transaction: Option<String>,
    },
    /// `If-Match` named a state the transaction is no longer in (HTTP 412): the
    /// operation was not applied; read the transaction again before deciding.
    #[error("{message}")]
    PreconditionFailed {
        /// For a person.
        message: String,
    },
    /// The database failed; details are logged, not returned.
    #[error("internal error")]
    Internal(#[from] StoreError),
    /// The ledger failed under a payment operation; details are logged, not returned.
    #[error("internal error")]
    Ledger(#[from] crate::payments::ledger::LedgerError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ApiError::Unauthorized => {
                (StatusCode::UNAUTHORIZED, json!({"error": {"code": "unauthorized", "message": self.to_string()}}))
            }
            ApiError::NotFound => {
                (StatusCode::NOT_FOUND, json!({"error": {"code": "not_found", "message": "no such resource"}}))
            }
            ApiError::BadBody(m) => (StatusCode::BAD_REQUEST, json!({"error": {"code": "bad_body", "message": m}})),
            ApiError::BadQuery { field, message } => (
                StatusCode::BAD_REQUEST,
                json!({"error": {"code": "invalid_query", "field": field, "message": message}}),
            ),
            ApiError::Invalid(errs) => {
                let first = errs.first().map(|e| e.field).unwrap_or("");
                let fields: Vec<_> = errs.iter().map(|e| json!({"field": e.field, "message": e.message})).collect();
                let message = errs.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({"error": {"code": "invalid_field", "field": first, "message": message, "fields": fields}}),
                )
            }
            ApiError::Conflict { field, message } => {
                (StatusCode::CONFLICT, json!({"error": {"code": "conflict", "field": field, "message": message}}))
            }
            ApiError::Unprocessable { code, field, message, details } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"error": {"code": code, "field": field, "message": message, "details": details}}),
            ),
            ApiError::PlatformRefused { operation, response_code, message, transaction } => (
                StatusCode::CONFLICT,
                json!({"error": {"code": "platform_refused", "operation": operation, "response_code": response_code, "message": message, "transaction": transaction}}),
            ),
            ApiError::PlatformUnavailable { operation, message, transaction } => (
                StatusCode::BAD_GATEWAY,
                json!({"error": {"code": "platform_unavailable", "operation": operation, "message": message, "transaction": transaction}}),
            ),
            ApiError::PreconditionFailed { message } => (
                StatusCode::PRECONDITION_FAILED,
                json!({"error": {"code": "precondition_failed", "field": "If-Match", "message": message}}),
            ),
            ApiError::Internal(e) => internal(e),
            ApiError::Ledger(e) => internal(e),
        };
        (status, axum::Json(body)).into_response()
    }
}

/// A failure of ours: logged with its cause, answered 500 without it.
fn internal(e: &dyn std::error::Error) -> (StatusCode, serde_json::Value) {
    tracing::error!(error = %e, "API request failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"error": {"code": "internal", "message": "internal error; retry later"}}),
    )
}
