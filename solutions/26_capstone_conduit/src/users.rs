//! Stage 1 to 3: registration, login, the current user, profiles and follows.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sqlx::PgPool;

use crate::error::Invalid;
use crate::model::{ApiJson, LoginUser, NewUser, Profile, ProfileBody, UpdateUser, User, UserBody};
use crate::{ApiError, AppState, AuthUser, MaybeUser, hash_password, issue_token};

/// The shortest password accepted (NIST SP 800-63B: at least 8 characters, no composition
/// rules; 64 and more must be accepted).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Records what is wrong with a new password, if anything.
fn check_password_rules(invalid: &mut Invalid, password: &str) {
    if password.is_empty() {
        invalid.add("password", "can't be blank");
    } else if password.chars().count() < MIN_PASSWORD_CHARS {
        invalid.add("password", "is too short (minimum is 8 characters)");
    }
}

/// An optional text as stored: an empty string is no value (`null`), as the spec says for
/// `bio` and `image`.
fn normalise(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// Runs `work` (Argon2: tens of milliseconds of CPU) off the async worker threads.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    email: String,
    username: String,
    bio: Option<String>,
    image: Option<String>,
    password_hash: String,
}

impl UserRow {
    fn into_user(self, token: String) -> UserBody<User> {
        UserBody {
            user: User {
                email: self.email,
                token,
                username: self.username,
                bio: self.bio,
                image: self.image,
            },
        }
    }
}

/// `POST /api/users`: 201 with the new user and a token; 422 naming every blank field (or a
/// password too short); 409 for a taken username or email.
pub async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<UserBody<NewUser>>,
) -> Result<(StatusCode, Json<UserBody<User>>), ApiError> {
    let new = body.user;
    let mut invalid = Invalid::default();
    invalid.blank("username", &new.username);
    invalid.blank("email", &new.email);
    check_password_rules(&mut invalid, &new.password);
    invalid.check()?;
    let password = new.password;
    let hash = blocking(move || hash_password(&password)).await?;
    // No "SELECT then INSERT": the UNIQUE constraints decide, and `From<sqlx::Error>` turns
    // their violation into the 409.
    let row: UserRow = sqlx::query_as(
        "INSERT INTO users (username, email, password_hash) VALUES ($1, $2, $3)
         RETURNING id, email, username, bio, image, password_hash",
    )
    .bind(&new.username)
    .bind(&new.email)
    .bind(&hash)
    .fetch_one(&state.pool)
    .await?;
    let token = issue_token(&state.jwt_secret, row.id)?;
    Ok((StatusCode::CREATED, Json(row.into_user(token))))
}

/// `POST /api/users/login`: 200 with the user and a fresh token; 401 for an unknown email or
/// a wrong password: the same answer, and the same cost (one password check either way).
pub async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<UserBody<LoginUser>>,
) -> Result<Json<UserBody<User>>, ApiError> {
    let login = body.user;
    let mut invalid = Invalid::default();
    invalid.blank("email", &login.email);
    invalid.blank("password", &login.password);
    invalid.check()?;
    let row: Option<UserRow> = sqlx::query_as(
        "SELECT id, email, username, bio, image, password_hash FROM users WHERE email = $1",
    )
    .bind(&login.email)
    .fetch_optional(&state.pool)
    .await?;
    // An unknown email is checked against the dummy hash: skipping the check would answer it
    // tens of milliseconds sooner, and the timing would tell which emails have an account.
    let stored = row
        .as_ref()
        .map_or_else(|| state.dummy_hash.to_string(), |r| r.password_hash.clone());
    let matches = state.check_password(login.password, stored).await?;
    match row {
        Some(row) if matches => {
            let token = issue_token(&state.jwt_secret, row.id)?;
            Ok(Json(row.into_user(token)))
        }
        _ => Err(ApiError::InvalidCredentials),
    }
}

/// `GET /api/user`: the token's user, with the token they sent.
pub async fn current_user(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<UserBody<User>>, ApiError> {
    let row: UserRow = sqlx::query_as(
        "SELECT id, email, username, bio, image, password_hash FROM users WHERE id = $1",
    )
    .bind(user.id)
    .fetch_optional(&state.pool)
    .await?
    .ok_or(ApiError::InvalidToken)?;
    Ok(Json(row.into_user(user.token)))
}

/// `PUT /api/user`: changes the fields present, in one statement (a new password is hashed;
/// an empty or null `bio`/`image` is stored as null); 422 for a blank or null email, username
/// or password, or a password too short; 409 for a taken username or email, changing nothing.
pub async fn update_user(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<UserBody<UpdateUser>>,
) -> Result<Json<UserBody<User>>, ApiError> {
    let update = body.user;
    let mut invalid = Invalid::default();
    for (field, value) in [("email", &update.email), ("username", &update.username)] {
        if let Some(value) = value {
            invalid.blank(field, value.as_deref().unwrap_or_default());
        }
    }
    if let Some(password) = &update.password {
        check_password_rules(&mut invalid, password.as_deref().unwrap_or_default());
    }
    invalid.check()?;
    let hash = match update.password.flatten() {
        Some(password) => Some(blocking(move || hash_password(&password)).await?),
        None => None,
    };
    let row: UserRow = sqlx::query_as(
        "UPDATE users SET email = COALESCE($2, email), username = COALESCE($3, username),
                password_hash = COALESCE($4, password_hash),
                bio = CASE WHEN $5 THEN $6 ELSE bio END,
                image = CASE WHEN $7 THEN $8 ELSE image END
         WHERE id = $1 RETURNING id, email, username, bio, image, password_hash",
    )
    .bind(user.id)
    .bind(update.email.flatten())
    .bind(update.username.flatten())
    .bind(&hash)
    .bind(update.bio.is_some())
    .bind(normalise(update.bio.flatten()))
    .bind(update.image.is_some())
    .bind(normalise(update.image.flatten()))
    .fetch_optional(&state.pool)
    .await?
    .ok_or(ApiError::InvalidToken)?;
    Ok(Json(row.into_user(user.token)))
}

/// The profile of `username` as `viewer` sees it (one statement); `None` if no such user.
pub async fn profile_of(
    pool: &PgPool,
    username: &str,
    viewer: Option<i64>,
) -> Result<Option<(i64, Profile)>, ApiError> {
    type Row = (i64, String, Option<String>, Option<String>, bool);
    let row: Option<Row> = sqlx::query_as(
        "SELECT u.id, u.username, u.bio, u.image,
                EXISTS (SELECT 1 FROM follows WHERE follower_id = $2 AND followee_id = u.id)
         FROM users u WHERE u.username = $1",
    )
    .bind(username)
    .bind(viewer)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(id, username, bio, image, following)| {
        (
            id,
            Profile {
                username,
                bio,
                image,
                following,
            },
        )
    }))
}

/// `GET /api/profiles/{username}`: 404 if there is no such user.
pub async fn get_profile(
    State(state): State<AppState>,
    viewer: MaybeUser,
    Path(username): Path<String>,
) -> Result<Json<ProfileBody>, ApiError> {
    let (_, profile) = profile_of(&state.pool, &username, viewer.id())
        .await?
        .ok_or(ApiError::NotFound("profile"))?;
    Ok(Json(ProfileBody { profile }))
}

/// `POST /api/profiles/{username}/follow`: idempotent; `following: true`.
pub async fn follow(
    State(state): State<AppState>,
    user: AuthUser,
    Path(username): Path<String>,
) -> Result<Json<ProfileBody>, ApiError> {
    let (id, mut profile) = profile_of(&state.pool, &username, Some(user.id))
        .await?
        .ok_or(ApiError::NotFound("profile"))?;
    sqlx::query(
        "INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(user.id)
    .bind(id)
    .execute(&state.pool)
    .await?;
    profile.following = true;
    Ok(Json(ProfileBody { profile }))
}

/// `DELETE /api/profiles/{username}/follow`: idempotent; `following: false`.
pub async fn unfollow(
    State(state): State<AppState>,
    user: AuthUser,
    Path(username): Path<String>,
) -> Result<Json<ProfileBody>, ApiError> {
    let (id, mut profile) = profile_of(&state.pool, &username, Some(user.id))
        .await?
        .ok_or(ApiError::NotFound("profile"))?;
    sqlx::query("DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2")
        .bind(user.id)
        .bind(id)
        .execute(&state.pool)
        .await?;
    profile.following = false;
    Ok(Json(ProfileBody { profile }))
}
