//! # Status codes: one error type, RFC 9457 problem details
//!
//! Read `README.md` first. The table is in `schema.sql`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
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
        let (status, detail, errors) = match &self {
            ApiError::Validation(errors) => (
                StatusCode::BAD_REQUEST,
                "Some fields are invalid, see errors.".to_owned(),
                errors.clone(),
            ),
            ApiError::MalformedBody(why) | ApiError::MalformedPath(why) => {
                (StatusCode::BAD_REQUEST, why.clone(), vec![])
            }
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, self.to_string(), vec![])
            }
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, self.to_string(), vec![]),
            ApiError::Forbidden => (StatusCode::FORBIDDEN, self.to_string(), vec![]),
            ApiError::NotFound => (StatusCode::NOT_FOUND, self.to_string(), vec![]),
            ApiError::MethodNotAllowed => {
                (StatusCode::METHOD_NOT_ALLOWED, self.to_string(), vec![])
            }
            ApiError::Conflict(_) => (StatusCode::CONFLICT, self.to_string(), vec![]),
            ApiError::RateLimited { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, self.to_string(), vec![])
            }
            ApiError::Internal(err) => {
                // The details go to the logs, where operators look; the client gets a
                // generic sentence (the error text can name tables, queries, hosts).
                eprintln!("internal error: {err:?}");
                let detail = "An unexpected error occurred.".to_owned();
                (StatusCode::INTERNAL_SERVER_ERROR, detail, vec![])
            }
        };
        let problem = Problem {
            type_uri: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            errors,
        };
        let mut response = (status, Json(problem)).into_response();
        let headers = response.headers_mut();
        // `Json` says application/json; RFC 9457 bodies have their own media type.
        let problem_json = HeaderValue::from_static("application/problem+json");
        headers.insert(header::CONTENT_TYPE, problem_json);
        match self {
            // RFC 9110 §15.5.2: a 401 MUST say how to authenticate.
            ApiError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::RateLimited { retry_after } => {
                let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            }
            _ => {}
        }
        response
    }
}

/// `Json<T>` whose rejections are [`ApiError`]s, so a bad body is a problem+json answer too.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AppJson<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        // axum says 415 for a missing content type and 422 for a wrong shape; this API says
        // 400 for every bad body, in its own format. Its messages describe the body only.
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            other => ApiError::MalformedBody(other.body_text()),
        }
    }
}

/// `Path<T>` whose rejections are [`ApiError`]s: `/users/abc` is a 400 problem too.
#[derive(FromRequestParts)]
#[from_request(via(Path), rejection(ApiError))]
pub struct AppPath<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        // axum's own answer is the same 400, but as plain text.
        ApiError::MalformedPath(rejection.body_text())
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        // A unique violation is the client's conflict; anything else is our problem.
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                ApiError::Conflict("this username is taken".to_owned())
            }
            _ => ApiError::Internal(err),
        }
    }
}

impl NewUser {
    /// Every rule this user breaks, as one [`ApiError::Validation`]:
    /// - `username`: 3 to 20 characters, ASCII letters, digits or `_`;
    /// - `email`: one `@` with something on both sides.
    pub fn validate(&self) -> Result<(), ApiError> {
        let mut errors = Vec::new();
        let name = &self.username;
        let name_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !(3..=20).contains(&name.len()) || !name_chars {
            errors.push(FieldError {
                field: "username".to_owned(),
                message: "3 to 20 ASCII letters, digits or underscores".to_owned(),
            });
        }
        let email_ok = matches!(self.email.split_once('@'),
            Some((user, domain)) if !user.is_empty() && !domain.is_empty() && !domain.contains('@'));
        if !email_ok {
            errors.push(FieldError {
                field: "email".to_owned(),
                message: "an address like name@example.com".to_owned(),
            });
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(errors))
        }
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
        let header = parts.headers.get(header::AUTHORIZATION);
        let token = header
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        let role = *state.tokens.get(token).ok_or(ApiError::Unauthorized)?;
        let allowed = state.limiter.check(token);
        allowed.map_err(|retry_after| ApiError::RateLimited { retry_after })?;
        let token = token.to_owned();
        Ok(Caller { token, role })
    }
}

/// `POST /users` (201 + the user), `GET /users/{id}` (200 + the user) and
/// `DELETE /users/{id}` (204, admins only), every failure an [`ApiError`], even for an unknown
/// route (404) or method (405).
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/users", post(users_create))
        .route("/users/{id}", get(users_get).delete(users_delete))
        // axum's own 404 and 405 have empty bodies; these answer in this API's format.
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state)
}

/// `POST /users`: validates, stores, answers 201 with the user.
pub async fn users_create(
    State(state): State<AppState>,
    _caller: Caller,
    AppJson(new_user): AppJson<NewUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    new_user.validate()?;
    let user = sqlx::query_as(
        "INSERT INTO users (username, email) VALUES ($1, $2) RETURNING id, username, email",
    )
    .bind(&new_user.username)
    .bind(&new_user.email)
    .fetch_one(&state.pool)
    .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// `GET /users/{id}`: the user, or 404.
pub async fn users_get(
    State(state): State<AppState>,
    _caller: Caller,
    AppPath(id): AppPath<i64>,
) -> Result<Json<User>, ApiError> {
    let user = sqlx::query_as("SELECT id, username, email FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&state.pool)
        .await?;
    user.map(Json).ok_or(ApiError::NotFound)
}

/// `DELETE /users/{id}`: admins only (403 otherwise); 204, or 404.
pub async fn users_delete(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(id): AppPath<i64>,
) -> Result<StatusCode, ApiError> {
    if caller.role != Role::Admin {
        return Err(ApiError::Forbidden);
    }
    let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(&state.pool)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}
