//! # A login flow: passwords in, JWTs out, brute force throttled
//!
//! Read `README.md` first. The table is in `schema.sql`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use argon2::password_hash::Error as PhcError;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier as _};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
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
        let redis_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        let redis = ConnectionManager::new_with_config(redis, redis_config)
            .await
            .context("Failed to connect to Redis")?;
        // Same algorithm and parameters as the users' hashes (argon2's defaults: Argon2id,
        // m=19456, t=2, p=1), or an unknown email would answer faster than a known one.
        // Hashing is blocking work, even at startup.
        let dummy_hash = tokio::task::spawn_blocking(|| {
            let password = uuid::Uuid::new_v4().to_string();
            Argon2::default()
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
        })
        .await?
        .map_err(|e| anyhow::anyhow!("Failed to hash the dummy password: {e}"))?;
        Ok(AppState {
            pool,
            redis,
            config: Arc::new(config),
            dummy_hash: dummy_hash.into(),
            verifier: PasswordVerifier::default(),
        })
    }

    /// The Redis key counting the failed logins of a (normalised) email.
    pub fn failures_key(&self, email: &str) -> String {
        format!("{}:login_failures:{email}", self.config.redis_prefix)
    }
}

/// `POST /login` and `GET /me`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/login", post(login))
        .route("/me", get(me))
        .with_state(state)
}

/// `POST /login`: checks the throttle, then the password, then issues a token.
pub async fn login(
    State(state): State<AppState>,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Json<TokenResponse>, AppError> {
    // Taking the rejection ourselves keeps the error body in our `{"error": ...}` shape.
    let Json(request) = body?;
    // One account, one counter: `Alice@Example.com ` must not get five fresh attempts.
    let email = request.email.trim().to_lowercase();
    let key = state.failures_key(&email);
    let mut redis = state.redis.clone();

    // The throttle comes first, and counts this attempt in the same atomic step as the check:
    // a check followed by a separate count lets parallel guesses all read "one attempt left".
    // SET NX PX starts the window with its TTL (only if none is running), INCR counts without
    // touching the TTL, PTTL says what is left. A locked account costs no database query and
    // no Argon2 work, and even the right password is refused until the window ends.
    let window_ms = state.config.failure_window.as_millis() as u64;
    let (attempts, pttl): (u64, i64) = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg(&key)
        .arg(0)
        .arg("PX")
        .arg(window_ms)
        .arg("NX")
        .ignore()
        .incr(&key, 1)
        .pttl(&key)
        .query_async(&mut redis)
        .await
        .context("Failed to count the attempt")?;
    if attempts > state.config.max_failures {
        let remaining_ms = u64::try_from(pttl).unwrap_or(window_ms);
        return Err(AppError::TooManyAttempts {
            retry_after_secs: remaining_ms.div_ceil(1000).max(1),
        });
    }

    let user: Option<(i64, String)> =
        sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1")
            .bind(&email)
            .fetch_optional(&state.pool)
            .await
            .context("Failed to look the user up")?;
    // An unknown email is verified against the dummy hash: the same Argon2 work, the same
    // time, so the response time does not tell an attacker which emails have accounts.
    let hash = user
        .as_ref()
        .map_or_else(|| state.dummy_hash.to_string(), |(_, hash)| hash.clone());
    let verifier = state.verifier.clone();
    let password = request.password;
    // Argon2 is CPU-bound for tens of milliseconds: on the async executor it would stall
    // every other request served by that thread. `spawn_blocking` moves it to tokio's
    // blocking pool.
    let matches = tokio::task::spawn_blocking(move || verifier.verify(&password, &hash))
        .await
        .context("The password verification panicked")?;

    // A failure needs no further write: the attempt is already counted.
    let Some((user_id, _)) = user.filter(|_| matches) else {
        return Err(AppError::InvalidCredentials);
    };
    let () = redis
        .del(&key)
        .await
        .context("Failed to reset the failure count")?;

    let iat = jsonwebtoken::get_current_timestamp();
    let ttl = state.config.token_ttl.as_secs();
    let claims = Claims {
        sub: user_id.to_string(),
        email,
        iat,
        exp: iat + ttl,
    };
    let key = EncodingKey::from_secret(&state.config.jwt_secret);
    let access_token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .context("Failed to sign the token")?;
    Ok(Json(TokenResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: ttl,
    }))
}

/// `GET /me`: who the token says the caller is.
pub async fn me(AuthUser(claims): AuthUser) -> Result<Json<Me>, AppError> {
    let id = claims.sub.parse().map_err(|_| AppError::InvalidToken)?;
    Ok(Json(Me {
        id,
        email: claims.email,
    }))
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
            .map(|(_, token)| token.trim())
            .ok_or(AppError::MissingToken)?;
        // Pin HS256: the token's header must not choose how it is checked. `exp` is required
        // and checked against the wall clock by the default `Validation`.
        let key = DecodingKey::from_secret(&state.config.jwt_secret);
        let validation = Validation::new(Algorithm::HS256);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|_| AppError::InvalidToken)?;
        Ok(AuthUser(data.claims))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, challenge) = match &self {
            AppError::InvalidCredentials | AppError::MissingToken => {
                (StatusCode::UNAUTHORIZED, Some("Bearer"))
            }
            AppError::InvalidToken => (
                StatusCode::UNAUTHORIZED,
                Some(r#"Bearer error="invalid_token""#),
            ),
            AppError::TooManyAttempts { .. } => (StatusCode::TOO_MANY_REQUESTS, None),
            AppError::BadRequest(rejection) => (rejection.status(), None),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, None),
        };
        let message = match &self {
            AppError::BadRequest(rejection) => rejection.body_text(),
            other => other.to_string(),
        };
        let mut response = (status, Json(serde_json::json!({ "error": message }))).into_response();
        let headers = response.headers_mut();
        if let Some(challenge) = challenge {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let AppError::TooManyAttempts { retry_after_secs } = self {
            headers.insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}
