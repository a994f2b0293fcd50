//! Stage 1 to 3: registration, login, the current user, profiles and follows.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sqlx::PgPool;

use crate::model::{ApiJson, LoginUser, NewUser, Profile, ProfileBody, UpdateUser, User, UserBody};
use crate::{ApiError, AppState, AuthUser, MaybeUser};

/// Rejects a blank required field with the spec's 422.
pub fn required(field: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        Err(ApiError::Unprocessable(format!("{field} can't be blank")))
    } else {
        Ok(())
    }
}

/// Runs `work` (Argon2: tens of milliseconds of CPU) off the async worker threads.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// `POST /api/users`: 201 with the new user and a token; 422 for a blank field or a taken
/// username or email.
pub async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<UserBody<NewUser>>,
) -> Result<(StatusCode, Json<UserBody<User>>), ApiError> {
    // TODO(stage 1): 422 for a blank field; hash with `blocking(|| hash_password(..))`;
    // INSERT and let the UNIQUE constraints reject duplicates (see `From<sqlx::Error>`);
    // 201 with the user and `issue_token(..)`.
    todo!("register")
}

/// `POST /api/users/login`: 200 with the user and a fresh token; 401 for an unknown email or
/// a wrong password (the same answer for both).
pub async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<UserBody<LoginUser>>,
) -> Result<Json<UserBody<User>>, ApiError> {
    // TODO(stage 1): find the user by email, `verify_password` off the async threads; the
    // same 401 for an unknown email and a wrong password.
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
    // TODO(stage 2): change only the fields present (COALESCE); hash a new password.
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
