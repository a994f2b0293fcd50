//! # A login flow: passwords in, JWTs out, brute force throttled
//!
//! Read `README.md` first. The table is in `schema.sql`.

// The stub does not use its arguments yet: delete this line when you implement it.
#![allow(unused_variables)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::password_hash::Error as PhcError;
use argon2::{Argon2, PasswordHash, PasswordVerifier as _};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

/// Everything the service is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// The HMAC secret that signs and verifies the HS256 tokens.
    pub jwt_secret: Vec<u8>,
    /// Lifetime of a token: `exp = iat + token_ttl` (whole seconds).
    pub token_ttl: Duration,
    /// Every Redis key the service touches starts with `"{redis_prefix}:"`.
    pub redis_prefix: String,
    /// Failed logins for one email allowed within `failure_window`; the next attempt is a 429.
    pub max_failures: u64,
    /// How long the failure count of an email lives, from its first failure (a Redis TTL in ms).
    pub failure_window: Duration,
}

/// Given, complete: the only place the service runs an Argon2 verification.
///
/// It is **blocking** CPU work (tens of milliseconds): never call it on an async task. It
/// counts every verification that really ran Argon2, so the tests can check that an unknown
/// email costs the same work as a wrong password. Tests may install a hook that runs on the
/// calling thread right before each verification.
#[derive(Clone, Default)]
pub struct PasswordVerifier {
    verifications: Arc<AtomicUsize>,
    hook: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl PasswordVerifier {
    /// A verifier whose `hook` runs on the calling thread before every verification (tests).
    pub fn with_hook(hook: impl Fn() + Send + Sync + 'static) -> PasswordVerifier {
        let hook: Arc<dyn Fn() + Send + Sync> = Arc::new(hook);
        PasswordVerifier {
            hook: Some(hook),
            ..PasswordVerifier::default()
        }
    }

    /// `true` when `password` matches the Argon2 PHC string `phc`. Blocking.
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        if let Some(hook) = &self.hook {
            hook();
        }
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false; // not a PHC string: no Argon2 work was done, nothing is counted
        };
        let result = Argon2::default().verify_password(password.as_bytes(), &parsed);
        if matches!(result, Ok(()) | Err(PhcError::PasswordInvalid)) {
            self.verifications.fetch_add(1, Ordering::SeqCst);
        }
        result.is_ok()
    }

    /// How many Argon2 verifications ran so far (shared by all clones).
    pub fn verifications(&self) -> usize {
        self.verifications.load(Ordering::SeqCst)
    }
}

/// The router's state: cheap to clone, shared by every request (and by every instance of the
/// service that points at the same Postgres and Redis).
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    /// Holds the failure counters: shared by every instance of the service.
    pub redis: ConnectionManager,
    pub config: Arc<Config>,
    /// An Argon2id hash of a random password, as costly as a user's: unknown emails are
    /// verified against it so that they take as long as a wrong password.
    pub dummy_hash: Arc<str>,
    pub verifier: PasswordVerifier,
}

/// The body of `POST /login`.
#[derive(Debug, Clone, Deserialize)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// The body of a successful login (the shape of OAuth 2's token response, RFC 6749 §5.1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `"Bearer"`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

/// The claims inside a token. Times are Unix timestamps in seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id (`users.id`) as a string.
    pub sub: String,
    pub email: String,
    pub iat: u64,
    pub exp: u64,
}

/// The body of `GET /me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub id: i64,
    pub email: String,
}

/// A request that carried a valid `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Claims);

/// Every way a request can fail. The response body is always `{"error": "<Display>"}`.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Wrong password or unknown email (indistinguishable on purpose): 401.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// No bearer token: 401 with `WWW-Authenticate: Bearer`.
    #[error("a bearer token is required")]
    MissingToken,
    /// A token that does not verify: 401 with `WWW-Authenticate: Bearer error="invalid_token"`.
    #[error("the token is invalid or expired")]
    InvalidToken,
    /// Too many failures for this email: 429 with `Retry-After: <retry_after_secs>`.
    #[error("too many failed logins; retry in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    /// The body is not the JSON we expect: axum's status (400, 415 or 422) and message.
    #[error(transparent)]
    BadRequest(#[from] JsonRejection),
    /// Postgres, Redis or a panicked task: 500, details stay in the server.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl AppState {
    /// Connects to Redis (through a `ConnectionManager`) and computes the dummy hash.
    pub async fn new(
        pool: PgPool,
        redis: redis::Client,
        config: Config,
    ) -> anyhow::Result<AppState> {
        // TODO: connect a `ConnectionManager` (with response timeouts), and hash a random
        // password with the users' algorithm and parameters, off the async executor.
        todo!("AppState::new")
    }

    /// The Redis key counting the failed logins of a (normalised) email.
    pub fn failures_key(&self, email: &str) -> String {
        // TODO: `"{redis_prefix}:login_failures:{email}"`.
        todo!("AppState::failures_key")
    }
}

/// `POST /login` and `GET /me`.
pub fn app(state: AppState) -> Router {
    // TODO: route `POST /login` to `login` and `GET /me` to `me`.
    todo!("app")
}

/// `POST /login`: checks the throttle, then the password, then issues a token.
pub async fn login(
    State(state): State<AppState>,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Json<TokenResponse>, AppError> {
    // TODO, in this order:
    // - the body's rejection becomes `AppError::BadRequest`;
    // - trim and lowercase the email;
    // - throttle: count this attempt in Redis in the same atomic step as the check (the
    //   window's TTL set in ms when the count starts, never extended); past `max_failures`
    //   -> `TooManyAttempts` (seconds left on the counter's PTTL, rounded up), before any
    //   database or Argon2 work;
    // - look the user up; verify the password against their hash, or against `dummy_hash`
    //   when there is no such user, with `state.verifier` inside `spawn_blocking`;
    // - failure: `InvalidCredentials` (the attempt is counted already); success: delete the
    //   counter and sign an HS256 token.
    todo!("login")
}

/// `GET /me`: who the token says the caller is.
pub async fn me(AuthUser(claims): AuthUser) -> Result<Json<Me>, AppError> {
    // TODO: `Me` from the claims (`sub` holds the id).
    todo!("me")
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        // TODO: read `Authorization: Bearer <token>` (scheme case-insensitive) and verify it
        // with HS256 pinned; no token -> `MissingToken`, a bad one -> `InvalidToken`.
        todo!("AuthUser::from_request_parts")
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        // TODO: the status of each variant, `{"error": "<message>"}` as the body, and the
        // `WWW-Authenticate` / `Retry-After` headers (see the README).
        todo!("AppError::into_response")
    }
}
