//! # Capstone: Conduit, the RealWorld API
//!
//! Read `README.md` first. The schema is in `migrations/0001_conduit.sql`. This file holds the
//! router, the shared state, the authentication (Argon2id passwords, JWTs in
//! `Authorization: Token <jwt>`), the authorization rule and the one query that lists
//! articles; the handlers are in `users.rs`, `articles.rs` and `comments.rs`.

pub mod articles;
pub mod comments;
pub mod error;
pub mod model;
pub mod users;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use argon2::password_hash::Error as PhcError;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use axum::Router;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::routing::{delete, get, post};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::migrate::Migrator;

pub use error::ApiError;
use model::{Article, ListQuery, MultipleArticles, Profile};

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
    // As in `15_password_hashing`: a new random salt per call, the parameters in the string.
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| ApiError::Internal(format!("hashing failed: {e}")))
}

/// Checks `password` against a stored PHC string: `Ok(false)` when it does not match.
pub fn verify_password(password: &str, stored: &str) -> Result<bool, ApiError> {
    let parsed = PasswordHash::new(stored)
        .map_err(|e| ApiError::Internal(format!("stored hash is malformed: {e}")))?;
    // Constant-time comparison of the re-derived hash, parameters read from `stored`.
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(PhcError::PasswordInvalid) => Ok(false),
        Err(e) => Err(ApiError::Internal(format!("verifying failed: {e}"))),
    }
}

/// The claims of a Conduit token: the user's id and the expiry (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: i64,
    pub exp: u64,
}

/// Signs an HS256 token for `user_id`, valid for [`TOKEN_TTL_SECS`].
pub fn issue_token(secret: &[u8], user_id: i64) -> Result<String, ApiError> {
    let claims = Claims {
        sub: user_id,
        exp: jsonwebtoken::get_current_timestamp() + TOKEN_TTL_SECS,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(|e| ApiError::Internal(format!("signing failed: {e}")))
}

/// Verifies an HS256 token (signature, algorithm, expiry) and returns its claims.
pub fn verify_token(secret: &[u8], token: &str) -> Result<Claims, ApiError> {
    // As in `16_jwt`: the algorithm is pinned, never read from the attacker's header.
    let validation = Validation::new(Algorithm::HS256);
    jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(secret), &validation)
        .map(|data| data.claims)
        .map_err(|_| ApiError::InvalidToken)
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
        let Some(header) = parts.headers.get(AUTHORIZATION) else {
            return Ok(MaybeUser(None));
        };
        // The spec's scheme is `Token`, not `Bearer`.
        let token = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Token "))
            .map(str::trim)
            .ok_or(ApiError::InvalidToken)?;
        let claims = verify_token(&state.jwt_secret, token)?;
        Ok(MaybeUser(Some(AuthUser {
            id: claims.sub,
            token: token.to_owned(),
        })))
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        MaybeUser::from_request_parts(parts, state)
            .await?
            .0
            .ok_or(ApiError::MissingToken)
    }
}

/// Only the author may change or delete what they wrote: 403 `{"<resource>": ["forbidden"]}`
/// for anyone else (`resource` is `"article"` or `"comment"`).
pub fn ensure_author(
    resource: &'static str,
    author_id: i64,
    user: &AuthUser,
) -> Result<(), ApiError> {
    if author_id == user.id {
        Ok(())
    } else {
        Err(ApiError::Forbidden(resource))
    }
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
        ArticleFilter {
            tag: query.tag,
            author: query.author,
            favorited: query.favorited,
            slug: None,
            feed: false,
            limit: query.limit.unwrap_or(DEFAULT_LIMIT).clamp(0, MAX_LIMIT),
            offset: query.offset.unwrap_or(0).max(0),
        }
    }
}

/// The rows `filter` selects, shared by the page and the count. $1 = viewer.
macro_rules! matching {
    () => {
        " FROM articles a JOIN users u ON u.id = a.author_id
          WHERE ($2::text IS NULL OR EXISTS (SELECT 1 FROM article_tags t
                                             WHERE t.article_id = a.id AND t.tag = $2))
            AND ($3::text IS NULL OR u.username = $3)
            AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM favorites f JOIN users fu ON fu.id = f.user_id
                                             WHERE f.article_id = a.id AND fu.username = $4))
            AND ($5::text IS NULL OR a.slug = $5)
            AND (NOT $6 OR EXISTS (SELECT 1 FROM follows fo
                                   WHERE fo.follower_id = $1 AND fo.followee_id = a.author_id))"
    };
}

/// ISO 8601 in UTC with milliseconds, as the spec's clients parse it.
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

#[derive(sqlx::FromRow)]
struct ArticleRow {
    slug: String,
    title: String,
    description: String,
    body: Option<String>,
    tag_list: Vec<String>,
    created_at: String,
    updated_at: String,
    favorited: bool,
    favorites_count: i64,
    username: String,
    bio: Option<String>,
    image: Option<String>,
    following: bool,
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
    let rows: Vec<ArticleRow> = sqlx::query_as(concat!(
        "SELECT a.slug, a.title, a.description,
                CASE WHEN $5::text IS NULL THEN NULL ELSE a.body END AS body, ",
        iso!("a.created_at"),
        " AS created_at, ",
        iso!("a.updated_at"),
        " AS updated_at,
           ARRAY(SELECT t.tag FROM article_tags t WHERE t.article_id = a.id ORDER BY t.position) AS tag_list,
           EXISTS (SELECT 1 FROM favorites f WHERE f.article_id = a.id AND f.user_id = $1) AS favorited,
           (SELECT count(*) FROM favorites f WHERE f.article_id = a.id) AS favorites_count,
           u.username, u.bio, u.image,
           EXISTS (SELECT 1 FROM follows fo WHERE fo.follower_id = $1 AND fo.followee_id = u.id) AS following",
        matching!(),
        " ORDER BY a.created_at DESC, a.id DESC LIMIT $7 OFFSET $8"
    ))
    .bind(viewer)
    .bind(&filter.tag)
    .bind(&filter.author)
    .bind(&filter.favorited)
    .bind(&filter.slug)
    .bind(filter.feed)
    .bind(filter.limit)
    .bind(filter.offset)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Article {
            slug: row.slug,
            title: row.title,
            description: row.description,
            body: row.body,
            tag_list: row.tag_list,
            created_at: row.created_at,
            updated_at: row.updated_at,
            favorited: row.favorited,
            favorites_count: row.favorites_count,
            author: Profile {
                username: row.username,
                bio: row.bio,
                image: row.image,
                following: row.following,
            },
        })
        .collect())
}

/// The page `filter` selects and how many articles match in all (ignoring limit and offset):
/// two statements.
pub async fn list(
    pool: &PgPool,
    viewer: Option<i64>,
    filter: &ArticleFilter,
) -> Result<MultipleArticles, ApiError> {
    let articles = load_articles(pool, viewer, filter).await?;
    let articles_count: i64 = sqlx::query_scalar(concat!("SELECT count(*)", matching!()))
        .bind(viewer)
        .bind(&filter.tag)
        .bind(&filter.author)
        .bind(&filter.favorited)
        .bind(&filter.slug)
        .bind(filter.feed)
        .fetch_one(pool)
        .await?;
    Ok(MultipleArticles {
        articles,
        articles_count,
    })
}
