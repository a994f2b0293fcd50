//! Errors in the RealWorld shape: `{"errors": {"body": ["..."]}}` with the status code the
//! failure calls for (the `02_status_codes` kata).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why a request failed. Every variant answers `{"errors": {"body": [message]}}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: no `Authorization: Token ...` header where one is required, a token that does not
    /// verify, or a login with an unknown email or a wrong password.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403: authenticated, but not allowed (e.g. editing someone else's article).
    #[error("{0}")]
    Forbidden(&'static str),
    /// 404: no such article, profile or comment.
    #[error("{0}")]
    NotFound(&'static str),
    /// 422: the body is malformed, a field is blank, or a username/email is taken.
    #[error("{0}")]
    Unprocessable(String),
    /// 500: the database or the hasher failed. The details are logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match &self {
            ApiError::Internal(detail) => {
                eprintln!("conduit: {detail}");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        (status, Json(json!({ "errors": { "body": [message] } }))).into_response()
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        // A UNIQUE constraint is the only race-free duplicate check: map it to a 422 by name.
        if let Some(db) = e.as_database_error() {
            match db.constraint() {
                Some("users_username_key") => {
                    return ApiError::Unprocessable("username has already been taken".into());
                }
                Some("users_email_key") => {
                    return ApiError::Unprocessable("email has already been taken".into());
                }
                _ => {}
            }
        }
        ApiError::Internal(e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        ApiError::Unprocessable(rejection.body_text())
    }
}
