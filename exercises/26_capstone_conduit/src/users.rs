//! Stage 1 to 3: registration, login, the current user, profiles and follows.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sqlx::PgPool;

use crate::model::{ApiJson, LoginUser, NewUser, Profile, ProfileBody, UpdateUser, User, UserBody};
use crate::{ApiError, AppState, AuthUser, MaybeUser};

/// The shortest password accepted (NIST SP 800-63B: at least 8 characters, no composition
/// rules; 64 and more must be accepted).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Runs `work` (Argon2: tens of milliseconds of CPU) off the async worker threads.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// `POST /api/users`: 201 with the new user and a token; 422 naming every blank field (or a
/// password too short); 409 for a taken username or email.
pub async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<UserBody<NewUser>>,
) -> Result<(StatusCode, Json<UserBody<User>>), ApiError> {
    // TODO(stage 1): 422 naming every blank field (`crate::error::Invalid` collects them);
    // hash with `blocking(|| hash_password(..))`; INSERT and let the UNIQUE constraints
    // reject duplicates (see `From<sqlx::Error>`: 409); 201 with the user and
    // `issue_token(..)`.
    todo!("register")
}

/// `POST /api/users/login`: 200 with the user and a fresh token; 401 for an unknown email or
/// a wrong password: the same answer, and the same cost (one password check either way).
pub async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<UserBody<LoginUser>>,
) -> Result<Json<UserBody<User>>, ApiError> {
    // TODO(stage 1): find the user by email; `state.check_password(..)` against their hash,
    // or against `state.dummy_hash` when there is no such user (never skip the check); the
    // same `ApiError::InvalidCredentials` for an unknown email and a wrong password.
    todo!("log in")
}

/// `GET /api/user`: the token's user, with the token they sent.
pub async fn current_user(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<UserBody<User>>, ApiError> {
    // TODO(stage 2): the token's user, with the token they sent.
    todo!("the current user")
}

/// `PUT /api/user`: changes the fields present (a new password is hashed); 422 for a blank
/// email, username or password, or a taken one.
pub async fn update_user(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<UserBody<UpdateUser>>,
) -> Result<Json<UserBody<User>>, ApiError> {
    // TODO(stage 2): change only the fields present, in ONE statement; hash a new password;
    // 422 for a null or blank email, username or password (or one too short); an empty or
    // null bio/image is stored as NULL.
    todo!("update the current user")
}

/// The profile of `username` as `viewer` sees it (one statement); `None` if no such user.
pub async fn profile_of(
    pool: &PgPool,
    username: &str,
    viewer: Option<i64>,
) -> Result<Option<(i64, Profile)>, ApiError> {
    // TODO(stage 3): one statement: the user and whether `viewer` follows them.
    todo!("a profile")
}

/// `GET /api/profiles/{username}`: 404 if there is no such user.
pub async fn get_profile(
    State(state): State<AppState>,
    viewer: MaybeUser,
    Path(username): Path<String>,
) -> Result<Json<ProfileBody>, ApiError> {
    // TODO(stage 3)
    todo!("get a profile")
}

/// `POST /api/profiles/{username}/follow`: idempotent; `following: true`.
pub async fn follow(
    State(state): State<AppState>,
    user: AuthUser,
    Path(username): Path<String>,
) -> Result<Json<ProfileBody>, ApiError> {
    // TODO(stage 3): INSERT ... ON CONFLICT DO NOTHING: following twice is not an error.
    todo!("follow")
}

/// `DELETE /api/profiles/{username}/follow`: idempotent; `following: false`.
pub async fn unfollow(
    State(state): State<AppState>,
    user: AuthUser,
    Path(username): Path<String>,
) -> Result<Json<ProfileBody>, ApiError> {
    // TODO(stage 3)
    todo!("unfollow")
}
