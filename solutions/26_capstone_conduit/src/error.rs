//! Errors in the RealWorld shape: `{"errors": {"<key>": ["<message>"]}}`, the key naming the
//! field or the resource at fault, with the status code the failure calls for (the
//! `02_status_codes` kata).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why a request failed, and the one body the spec gives it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 `{"errors": {"token": ["is missing"]}}`: no `Authorization` header where one is
    /// required.
    #[error("token is missing")]
    MissingToken,
    /// 401 `{"errors": {"token": ["is invalid"]}}`: a header that is not `Token <jwt>`, a bad
    /// signature, an expired token, or a token whose user no longer exists.
    #[error("token is invalid")]
    InvalidToken,
    /// 401 `{"errors": {"credentials": ["invalid"]}}`: a login with an unknown email or a wrong
    /// password (the same answer for both).
    #[error("credentials are invalid")]
    InvalidCredentials,
    /// 403 `{"errors": {"<resource>": ["forbidden"]}}`, e.g. `article` for someone else's.
    #[error("{0} is forbidden")]
    Forbidden(&'static str),
    /// 404 `{"errors": {"<resource>": ["not found"]}}`: `article`, `profile` or `comment`.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 409 `{"errors": {"<field>": ["has already been taken"]}}`: `username` or `email`.
    #[error("{0} has already been taken")]
    Taken(&'static str),
    /// 422 `{"errors": {"<field>": ["<message>", ...], ...}}`: every invalid field at once.
    #[error("invalid fields: {0:?}")]
    Invalid(BTreeMap<String, Vec<String>>),
    /// 500: the database or the hasher failed. The details are logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 422 for one field: `ApiError::invalid("title", "can't be blank")`.
    pub fn invalid(field: &str, message: &str) -> ApiError {
        let mut fields = BTreeMap::new();
        fields.insert(field.to_owned(), vec![message.to_owned()]);
        ApiError::Invalid(fields)
    }
}

/// Collects the invalid fields of one request body, so a 422 names all of them at once.
#[derive(Debug, Default)]
pub struct Invalid(BTreeMap<String, Vec<String>>);

impl Invalid {
    /// Records `message` for `field`.
    pub fn add(&mut self, field: &str, message: &str) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.to_owned());
    }
    /// `field: ["can't be blank"]` when `value` is empty or only spaces.
    pub fn blank(&mut self, field: &str, value: &str) {
        if value.trim().is_empty() {
            self.add(field, "can't be blank");
        }
    }
    /// `Ok` when nothing was recorded, else the 422 naming every field.
    pub fn check(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Invalid(self.0))
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let one = |key: &str, message: &str| json!({ key: [message] });
        let (status, errors) = match self {
            ApiError::MissingToken => (StatusCode::UNAUTHORIZED, one("token", "is missing")),
            ApiError::InvalidToken => (StatusCode::UNAUTHORIZED, one("token", "is invalid")),
            ApiError::InvalidCredentials => {
                (StatusCode::UNAUTHORIZED, one("credentials", "invalid"))
            }
            ApiError::Forbidden(resource) => (StatusCode::FORBIDDEN, one(resource, "forbidden")),
            ApiError::NotFound(resource) => (StatusCode::NOT_FOUND, one(resource, "not found")),
            ApiError::Taken(field) => (StatusCode::CONFLICT, one(field, "has already been taken")),
            ApiError::Invalid(fields) => (StatusCode::UNPROCESSABLE_ENTITY, json!(fields)),
            ApiError::Internal(detail) => {
                eprintln!("conduit: {detail}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    one("server", "internal error"),
                )
            }
        };
        (status, Json(json!({ "errors": errors }))).into_response()
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        // A UNIQUE constraint is the only race-free duplicate check: map it to a 409 by name.
        if let Some(db) = e.as_database_error() {
            match db.constraint() {
                Some("users_username_key") => return ApiError::Taken("username"),
                Some("users_email_key") => return ApiError::Taken("email"),
                _ => {}
            }
        }
        ApiError::Internal(e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        ApiError::invalid("request", &rejection.body_text())
    }
}
