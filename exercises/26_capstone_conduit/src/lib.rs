//! # Capstone: Conduit, the RealWorld API
//!
//! Read `README.md` first. The schema is in `migrations/0001_conduit.sql`. This file holds the
//! router, the shared state, the authentication (Argon2id passwords, JWTs in
//! `Authorization: Token <jwt>`), the authorization rule and the one query that lists
//! articles; the handlers are in `users.rs`, `articles.rs` and `comments.rs`. The router, the types and the errors are
//! given; every `todo!()` is yours, stage by stage as the README says.

// The stubs do not use their arguments yet.
#![allow(unused_variables)]

pub mod articles;
pub mod comments;
pub mod error;
pub mod model;
pub mod users;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use argon2::Argon2;
use axum::Router;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::migrate::Migrator;

pub use error::ApiError;
use model::{Article, ListQuery, MultipleArticles};

/// The schema, run by the `conduit` binary at start (the tests load the same file).
pub static MIGRATOR: Migrator = sqlx::migrate!("../../exercises/26_capstone_conduit/migrations");

/// How long a token is valid, in seconds: `exp = now + TOKEN_TTL_SECS`.
pub const TOKEN_TTL_SECS: u64 = 24 * 60 * 60;
/// `limit` when the query string has none.
pub const DEFAULT_LIMIT: i64 = 20;
/// The largest `limit` honoured: a bigger one is lowered to this.
pub const MAX_LIMIT: i64 = 100;

/// What every handler can reach: the pool, the secret that signs the tokens, and the
/// password checker (given: the dummy hash and a count of the checks made).
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub jwt_secret: Arc<[u8]>,
    /// The Argon2id hash of a random password, with the parameters [`hash_password`] gives
    /// users' passwords (the crate's defaults): a login for an unknown email is checked
    /// against it, so that it costs as much as a wrong password (the `19_login_flow` kata).
    pub dummy_hash: Arc<str>,
    password_checks: Arc<AtomicU64>,
}

impl AppState {
    /// The state of one service: computes the dummy hash (given).
    pub fn new(pool: PgPool, jwt_secret: &[u8]) -> Result<AppState, ApiError> {
        let random = uuid::Uuid::new_v4().to_string();
        let dummy = argon2::PasswordHasher::hash_password(&Argon2::default(), random.as_bytes())
            .map_err(|e| ApiError::Internal(format!("hashing failed: {e}")))?;
        Ok(AppState {
            pool,
            jwt_secret: Arc::from(jwt_secret),
            dummy_hash: Arc::from(dummy.to_string()),
            password_checks: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Checks `password` against the PHC string `stored` with [`verify_password`], on a
    /// blocking thread (Argon2 takes tens of milliseconds of CPU), and counts the check
    /// (given). Every login makes exactly one.
    pub async fn check_password(&self, password: String, stored: String) -> Result<bool, ApiError> {
        self.password_checks.fetch_add(1, Ordering::SeqCst);
        users::blocking(move || verify_password(&password, &stored)).await
    }

    /// How many password checks this service made so far (the tests read it).
    pub fn password_checks(&self) -> u64 {
        self.password_checks.load(Ordering::SeqCst)
    }
}

impl FromRef<AppState> for PgPool {
    fn from_ref(state: &AppState) -> PgPool {
        state.pool.clone()
    }
}

/// The whole API under `/api`, as the RealWorld spec lists it.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/api/users", post(users::register))
        .route("/api/users/login", post(users::login))
        .route(
            "/api/user",
            get(users::current_user).put(users::update_user),
        )
        .route("/api/profiles/{username}", get(users::get_profile))
        .route(
            "/api/profiles/{username}/follow",
            post(users::follow).delete(users::unfollow),
        )
        .route(
            "/api/articles",
            get(articles::list_articles).post(articles::create_article),
        )
        .route("/api/articles/feed", get(articles::feed))
        .route(
            "/api/articles/{slug}",
            get(articles::get_article)
                .put(articles::update_article)
                .delete(articles::delete_article),
        )
        .route(
            "/api/articles/{slug}/favorite",
            post(articles::favorite).delete(articles::unfavorite),
        )
        .route(
            "/api/articles/{slug}/comments",
            get(comments::list_comments).post(comments::add_comment),
        )
        .route(
            "/api/articles/{slug}/comments/{id}",
            delete(comments::delete_comment),
        )
        .route("/api/tags", get(articles::tags))
        .with_state(state)
}

// ---------------------------------------------------------------- stage 1: passwords and tokens

/// Hashes `password` with Argon2id (the crate's defaults: m=19456 KiB, t=2, p=1) and a fresh
/// random salt; returns the PHC string. CPU-heavy: call it from `spawn_blocking`.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    // TODO(stage 1): Argon2id with a fresh random salt, as in `15_password_hashing`.
    todo!("hash the password with Argon2id")
}

/// Checks `password` against a stored PHC string: `Ok(false)` when it does not match.
pub fn verify_password(password: &str, stored: &str) -> Result<bool, ApiError> {
    // TODO(stage 1): parse the PHC string and let argon2 verify (constant time); never
    // compare strings yourself.
    todo!("verify the password against the stored hash")
}

/// The claims of a Conduit token: the user's id and the expiry (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: i64,
    pub exp: u64,
}

/// Signs an HS256 token for `user_id`, valid for [`TOKEN_TTL_SECS`].
pub fn issue_token(secret: &[u8], user_id: i64) -> Result<String, ApiError> {
    // TODO(stage 1): HS256 with `Claims { sub: user_id, exp: now + TOKEN_TTL_SECS }`.
    todo!("sign a token")
}

/// Verifies an HS256 token (signature, algorithm, expiry) and returns its claims.
pub fn verify_token(secret: &[u8], token: &str) -> Result<Claims, ApiError> {
    // TODO(stage 2): pin HS256 and check the signature and `exp` (`16_jwt`); any failure
    // is `ApiError::InvalidToken`.
    todo!("verify a token")
}

/// A request with a valid `Authorization: Token <jwt>` header; anything else is a 401
/// (`token: ["is missing"]` without the header, `token: ["is invalid"]` otherwise).
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// `users.id` of the token's subject.
    pub id: i64,
    /// The token as presented, echoed back in the `user` responses.
    pub token: String,
}

/// A request that may be anonymous: no header gives `None`; a header with a bad token is
/// still a 401 (the client believes it is logged in and must be told it is not).
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<AuthUser>);

impl MaybeUser {
    /// The viewer's id, if any: what `following` and `favorited` are computed for.
    pub fn id(&self) -> Option<i64> {
        self.0.as_ref().map(|user| user.id)
    }
}

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // TODO(stage 2): no `Authorization` header: `MaybeUser(None)`. `Token <jwt>` (the
        // spec's scheme, not `Bearer`): verify it. Anything else: `ApiError::InvalidToken`.
        todo!("read the optional Authorization header")
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // TODO(stage 2): like `MaybeUser`, but no header at all is `ApiError::MissingToken`.
        todo!("require a valid token")
    }
}

/// Only the author may change or delete what they wrote: 403 `{"<resource>": ["forbidden"]}`
/// for anyone else (`resource` is `"article"` or `"comment"`).
pub fn ensure_author(
    resource: &'static str,
    author_id: i64,
    user: &AuthUser,
) -> Result<(), ApiError> {
    // TODO(stage 4): `Ok(())` for the author, `ApiError::Forbidden(resource)` for anyone else.
    todo!("only the author")
}

// ---------------------------------------------------------------- stages 4-5: authorization, listing

/// Which articles to list. `None` filters nothing.
#[derive(Debug, Default, Clone)]
pub struct ArticleFilter {
    pub tag: Option<String>,
    pub author: Option<String>,
    pub favorited: Option<String>,
    /// The one article of this slug, with its `body` (lists leave bodies out, as the spec's
    /// `MultipleArticlesResponse` does).
    pub slug: Option<String>,
    /// Only articles by authors the viewer follows (the feed).
    pub feed: bool,
    pub limit: i64,
    pub offset: i64,
}

impl ArticleFilter {
    /// The filters of `GET /api/articles`, with the defaults and bounds applied.
    pub fn from_query(query: ListQuery) -> ArticleFilter {
        // TODO(stage 5): limit defaults to DEFAULT_LIMIT and is kept within 0..=MAX_LIMIT;
        // offset defaults to 0 and is never negative.
        todo!("the filters of the query string")
    }
}

/// ISO 8601 in UTC with milliseconds, as the spec's clients parse it: `iso!("a.created_at")`
/// is the SQL expression giving `2024-05-01T12:00:00.000Z` (a literal, for `concat!`).
#[macro_export]
macro_rules! iso {
    ($column:literal) => {
        concat!(
            "to_char(",
            $column,
            r#" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"#
        )
    };
}

/// One page of the articles `filter` selects, newest first, as `viewer` sees them.
///
/// ONE statement whatever the page size (the `08_n_plus_one` kata): authors come with a JOIN,
/// tags, favorites and follows with correlated subqueries, never one query per article.
pub async fn load_articles(
    pool: &PgPool,
    viewer: Option<i64>,
    filter: &ArticleFilter,
) -> Result<Vec<Article>, ApiError> {
    // TODO(stage 5): ONE statement whatever the page size: JOIN the author, tags (in their
    // `position` order), favorites and follows as subqueries (`08_n_plus_one`). Newest
    // first. `body` only when `filter.slug` is set.
    todo!("one page of articles")
}

/// The page `filter` selects and how many articles match in all (ignoring limit and offset):
/// two statements.
pub async fn list(
    pool: &PgPool,
    viewer: Option<i64>,
    filter: &ArticleFilter,
) -> Result<MultipleArticles, ApiError> {
    // TODO(stage 5): the page, plus how many articles match in all.
    todo!("a page and the count")
}
