//! # Status codes: one error type, RFC 9457 problem details
//!
//! Read `README.md` first. The table is in `schema.sql`.
// The stub does not use its arguments yet: delete this line when you implement it.
#![allow(unused_variables)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

/// What a bearer token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Member,
    Admin,
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    /// The valid bearer tokens and their roles.
    pub tokens: Arc<HashMap<String, Role>>,
    /// Requests allowed per token.
    pub limiter: Arc<RateLimiter>,
}

/// Given (not the topic of this kata): a fixed-window request counter per key.
pub struct RateLimiter {
    limit: u32,
    window: Duration,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// At most `limit` requests per key in each `window`.
    pub fn new(limit: u32, window: Duration) -> Self {
        let windows = Mutex::default();
        RateLimiter {
            limit,
            window,
            windows,
        }
    }

    /// Counts one request for `key`: `Ok(())` if it is allowed, otherwise `Err(wait)`, the
    /// time until the key's window resets.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut windows = self
            .windows
            .lock()
            .expect("the limiter's lock is never poisoned");
        let (start, count) = windows.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(*start) >= self.window {
            (*start, *count) = (now, 0);
        }
        if *count >= self.limit {
            return Err(self.window - now.duration_since(*start));
        }
        *count += 1;
        Ok(())
    }
}

/// A user as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
}

/// The body of `POST /users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    pub username: String,
    pub email: String,
}

/// One invalid field, listed in a 400 problem's `errors` member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// An RFC 9457 problem details object, sent as `application/problem+json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// A URI naming the problem type; `about:blank` when the status code says it all.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// A short summary of the problem type (with `about:blank`: the status's reason phrase).
    pub title: String,
    /// The HTTP status code, the same as the response's.
    pub status: u16,
    /// What went wrong with this request, for a human, without internals.
    pub detail: String,
    /// Extension member for 400: the invalid fields (omitted when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// Every way a request can fail, each with its own status code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with one `FieldError` per invalid field.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// 400: the body is not JSON, or not the expected shape.
    #[error("the request body is malformed: {0}")]
    MalformedBody(String),
    /// 400: a path parameter does not parse (`/users/abc`).
    #[error("the URL is malformed: {0}")]
    MalformedPath(String),
    /// 415: the body is not sent as `application/json`.
    #[error("the request body must be sent as application/json")]
    UnsupportedMediaType,
    /// 401 with `WWW-Authenticate: Bearer`: no valid bearer token.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// 403: a valid token that may not do this.
    #[error("this token may not do that")]
    Forbidden,
    /// 404: no such resource, or no such route.
    #[error("no such resource")]
    NotFound,
    /// 405: the route exists but not with this method (axum adds the `Allow` header).
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    /// 409: the request conflicts with the current state (e.g. a taken username).
    #[error("conflict: {0}")]
    Conflict(String),
    /// 429 with `Retry-After` (whole seconds, rounded up).
    #[error("too many requests, retry in {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// 500: a bug or an outage on our side. Its text must never reach the client.
    #[error("internal error: {0}")]
    Internal(sqlx::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // TODO: pick the status code for each variant and send a `Problem` (type "about:blank",
        // title = the status's reason phrase, status = the code, a detail sentence, the field
        // errors for Validation) with `Content-Type: application/problem+json`; add
        // `WWW-Authenticate: Bearer` to 401 and `Retry-After` (whole seconds, rounded up) to
        // 429. Internal: log the error, send a generic detail.
        todo!("turn the error into a problem+json response")
    }
}

/// `Json<T>` whose rejections are [`ApiError`]s, so a bad body is a problem+json answer too.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AppJson<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        // TODO: MissingJsonContentType is UnsupportedMediaType; every other rejection (bad
        // syntax, wrong shape) is MalformedBody with the rejection's `body_text()`.
        todo!("map axum's JSON rejection")
    }
}

/// `Path<T>` whose rejections are [`ApiError`]s: `/users/abc` is a 400 problem too.
#[derive(FromRequestParts)]
#[from_request(via(Path), rejection(ApiError))]
pub struct AppPath<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        // TODO: MalformedPath with the rejection's `body_text()`.
        todo!("map axum's path rejection")
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        // TODO: a unique violation (`sqlx::Error::Database(e)` with `e.is_unique_violation()`)
        // is a Conflict; every other error is Internal.
        todo!("map a database error")
    }
}

impl NewUser {
    /// Every rule this user breaks, as one [`ApiError::Validation`]:
    /// - `username`: 3 to 20 characters, ASCII letters, digits or `_`;
    /// - `email`: one `@` with something on both sides.
    pub fn validate(&self) -> Result<(), ApiError> {
        // TODO: collect one FieldError per broken rule (field "username", "email"); return
        // Validation(errors) if there is any.
        todo!("validate the new user")
    }
}

/// The authenticated caller: extracting it checks `Authorization: Bearer <token>` against
/// `AppState::tokens` (401) and counts the request against the token's rate limit (429).
#[derive(Debug, Clone)]
pub struct Caller {
    pub token: String,
    pub role: Role,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // TODO: read `Authorization: Bearer <token>`; no header, another scheme or an unknown
        // token is Unauthorized. Then `state.limiter.check(token)`: Err(wait) is RateLimited.
        todo!("authenticate the caller")
    }
}

/// `POST /users` (201 + the user), `GET /users/{id}` (200 + the user) and
/// `DELETE /users/{id}` (204, admins only), every failure an [`ApiError`], even for an unknown
/// route (404) or method (405).
pub fn app(state: AppState) -> Router {
    // TODO: route POST /users, GET /users/{id} and DELETE /users/{id} to the handlers below;
    // then `.fallback(...)` (no such route: NotFound) and `.method_not_allowed_fallback(...)`
    // (MethodNotAllowed), each a handler returning the ApiError.
    todo!("build the router")
}

/// `POST /users`: validates, stores, answers 201 with the user.
pub async fn users_create(
    State(state): State<AppState>,
    _caller: Caller,
    AppJson(new_user): AppJson<NewUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    // TODO: validate, insert (RETURNING the user), answer 201. A taken username must end up a
    // 409 (the `?` on the sqlx error goes through `From<sqlx::Error>`).
    todo!("create a user")
}

/// `GET /users/{id}`: the user, or 404.
pub async fn users_get(
    State(state): State<AppState>,
    _caller: Caller,
    AppPath(id): AppPath<i64>,
) -> Result<Json<User>, ApiError> {
    // TODO: the user, or NotFound.
    todo!("read a user")
}

/// `DELETE /users/{id}`: admins only (403 otherwise); 204, or 404.
pub async fn users_delete(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(id): AppPath<i64>,
) -> Result<StatusCode, ApiError> {
    // TODO: Forbidden unless the caller is an Admin; NotFound when nothing was deleted; 204.
    todo!("delete a user")
}
