//! # Server-side sessions in Redis
//!
//! Read `README.md` first.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Json, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cookie::{Cookie, SameSite};
use rand::RngCore;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Expiry, RedisResult};
use serde::Deserialize;

/// The name of the session cookie.
pub const COOKIE_NAME: &str = "session";

/// Random bytes in a session id; the id is their lowercase hex: `2 * SESSION_ID_BYTES` chars.
pub const SESSION_ID_BYTES: usize = 32;

/// What a session id resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The session id (what the cookie carries).
    pub id: String,
    /// The logged-in user, or `None` for an anonymous (pre-login) session.
    pub user_id: Option<String>,
}

/// Sessions stored in Redis, shared by all requests (wrap it in an `Arc`).
///
/// Keys (all under `prefix`):
/// - `{prefix}:session:{id}`: a string, the session's user id (`""` when anonymous), with the
///   TTL;
/// - `{prefix}:user:{user_id}:sessions`: a set of the user's session ids, with the TTL too.
pub struct SessionStore {
    redis: ConnectionManager,
    prefix: String,
    ttl: Duration,
}

/// A fresh session id: [`SESSION_ID_BYTES`] bytes from a cryptographically secure random
/// generator, as lowercase hex.
pub fn new_session_id() -> String {
    // `rand::rng()` is a CSPRNG (ChaCha, seeded and reseeded from the OS). A counter, a
    // timestamp or a 32-bit random number can be guessed or enumerated by an attacker.
    let mut bytes = [0u8; SESSION_ID_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Whether `id` has the shape [`new_session_id`] produces: exactly `2 * SESSION_ID_BYTES`
/// characters of `0-9a-f`.
pub fn is_well_formed(id: &str) -> bool {
    id.len() == 2 * SESSION_ID_BYTES && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The `Set-Cookie` header value that hands `id` to the browser:
/// `session=<id>; HttpOnly; Secure; SameSite=Lax; Path=/`.
pub fn set_cookie_header(id: &str) -> String {
    // HttpOnly: page scripts (and so XSS) cannot read it. Secure: never sent over plain HTTP.
    // SameSite=Lax: not sent on cross-site POSTs (CSRF), still sent when following a link.
    Cookie::build((COOKIE_NAME, id))
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Lax)
        .path("/")
        .build()
        .to_string()
}

impl SessionStore {
    /// A store keeping its keys under `prefix` for `ttl` (whole milliseconds, at least 1 ms)
    /// after their last use.
    pub fn new(redis: ConnectionManager, prefix: &str, ttl: Duration) -> SessionStore {
        SessionStore {
            redis,
            prefix: prefix.to_owned(),
            ttl,
        }
    }

    /// Starts an anonymous (pre-login) session and returns its id.
    pub async fn start_anonymous(&self) -> RedisResult<String> {
        let id = new_session_id();
        let () = self
            .redis
            .clone()
            .pset_ex(self.session_key(&id), "", self.ttl_ms())
            .await?;
        Ok(id)
    }

    /// Logs `user_id` (not empty) in and returns the id of a NEW session.
    ///
    /// `current` is the session the request came with, if any: it is destroyed, so an id an
    /// attacker planted before the login (session fixation) is worth nothing after it.
    pub async fn login(&self, user_id: &str, current: Option<&str>) -> RedisResult<String> {
        if let Some(current) = current {
            self.logout(current).await?;
        }
        let (id, ttl) = (new_session_id(), self.ttl_ms());
        let index = self.index_key(user_id);
        // One MULTI/EXEC: the session never exists without its index entry, and both get the
        // TTL in the same breath (a key without a TTL lives forever).
        redis::pipe()
            .atomic()
            .pset_ex(self.session_key(&id), user_id, ttl)
            .ignore()
            .sadd(&index, &id)
            .ignore()
            .pexpire(&index, ttl as i64)
            .ignore()
            .query_async::<()>(&mut self.redis.clone())
            .await?;
        Ok(id)
    }

    /// The session `id` resolves to, resetting its TTL (sliding expiry). Unknown, expired and
    /// tampered ids are `Ok(None)`; a malformed id is `Ok(None)` without asking Redis.
    pub async fn lookup(&self, id: &str) -> RedisResult<Option<Session>> {
        // Reject junk before it costs a round trip (or a 1 MB key) in Redis.
        if !is_well_formed(id) {
            return Ok(None);
        }
        let mut redis = self.redis.clone();
        // GETEX reads the value and resets the TTL in one command: no window in which the
        // session was read but not refreshed.
        let user: Option<String> = redis
            .get_ex(self.session_key(id), Expiry::PX(self.ttl_ms()))
            .await?;
        let Some(user) = user else {
            return Ok(None);
        };
        let user_id = (!user.is_empty()).then_some(user);
        if let Some(user_id) = &user_id {
            // The index must outlive every session it lists, or "log out everywhere" misses some.
            let _: bool = redis
                .pexpire(self.index_key(user_id), self.ttl_ms() as i64)
                .await?;
        }
        Ok(Some(Session {
            id: id.to_owned(),
            user_id,
        }))
    }

    /// Destroys session `id` and its entry in its user's index. Unknown or malformed ids are
    /// fine (`Ok(())`); a malformed one does not reach Redis.
    pub async fn logout(&self, id: &str) -> RedisResult<()> {
        if !is_well_formed(id) {
            return Ok(());
        }
        let mut redis = self.redis.clone();
        // GETDEL: whoever deletes the session learns its user, so the index entry goes too.
        let user: Option<String> = redis.get_del(self.session_key(id)).await?;
        if let Some(user_id) = user.filter(|user| !user.is_empty()) {
            let _: usize = redis.srem(self.index_key(&user_id), id).await?;
        }
        Ok(())
    }

    /// Destroys every session of `user_id` and returns how many there were.
    pub async fn logout_everywhere(&self, user_id: &str) -> RedisResult<usize> {
        let mut redis = self.redis.clone();
        let index = self.index_key(user_id);
        // The per-user set is the only way to find a user's sessions: scanning the keyspace
        // (KEYS, SCAN) blocks or crawls a production Redis, and is not allowed here.
        let ids: HashSet<String> = redis.smembers(&index).await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let keys: Vec<String> = ids.iter().map(|id| self.session_key(id)).collect();
        // SREM exactly the ids deleted (the set disappears with its last member): a session
        // created meanwhile by a concurrent login stays listed.
        let (deleted, _): (usize, usize) = redis::pipe()
            .atomic()
            .del(&keys)
            .srem(&index, &ids)
            .query_async(&mut redis)
            .await?;
        Ok(deleted)
    }

    /// The ids of the live sessions of `user_id`, sorted. Index entries whose session has
    /// expired are dropped from the index.
    pub async fn sessions_of(&self, user_id: &str) -> RedisResult<Vec<String>> {
        let mut redis = self.redis.clone();
        let index = self.index_key(user_id);
        let ids: Vec<String> = redis.smembers(&index).await?;
        if ids.is_empty() {
            return Ok(ids);
        }
        let mut exists = redis::pipe();
        for id in &ids {
            exists.exists(self.session_key(id));
        }
        let alive: Vec<bool> = exists.query_async(&mut redis).await?;
        let (mut live, dead): (Vec<_>, Vec<_>) =
            ids.into_iter().zip(alive).partition(|(_, alive)| *alive);
        if !dead.is_empty() {
            let dead: Vec<String> = dead.into_iter().map(|(id, _)| id).collect();
            let _: usize = redis.srem(&index, dead).await?;
        }
        live.sort();
        Ok(live.into_iter().map(|(id, _)| id).collect())
    }

    fn session_key(&self, id: &str) -> String {
        format!("{}:session:{id}", self.prefix)
    }

    fn index_key(&self, user_id: &str) -> String {
        format!("{}:user:{user_id}:sessions", self.prefix)
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }
}

/// The body of `POST /login`. Checking a password is another kata: here the user is trusted.
#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    pub user_id: String,
}

/// The HTTP side:
/// - `POST /login` with a JSON [`LoginRequest`]: 204 with `Set-Cookie: `[`set_cookie_header`].
///   A `session` cookie sent with the request is the `current` session, rotated away.
/// - `GET /me`: 200 with the user id as a plain-text body when the `session` cookie resolves
///   to a logged-in session; 401 otherwise (no cookie, unknown, anonymous).
/// - A Redis failure is a 500.
pub fn app(store: Arc<SessionStore>) -> Router {
    Router::new()
        .route("/login", post(login_create))
        .route("/me", get(me_show))
        .with_state(store)
}

async fn login_create(
    State(store): State<Arc<SessionStore>>,
    headers: HeaderMap,
    Json(login): Json<LoginRequest>,
) -> Response {
    let current = session_cookie(&headers);
    match store.login(&login.user_id, current.as_deref()).await {
        Ok(id) => (
            StatusCode::NO_CONTENT,
            [(SET_COOKIE, set_cookie_header(&id))],
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn me_show(State(store): State<Arc<SessionStore>>, headers: HeaderMap) -> Response {
    let Some(id) = session_cookie(&headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match store.lookup(&id).await {
        Ok(Some(Session {
            user_id: Some(user),
            ..
        })) => (StatusCode::OK, user).into_response(),
        Ok(_) => StatusCode::UNAUTHORIZED.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The value of the `session` cookie, from any `Cookie` header of the request.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == COOKIE_NAME)
        .map(|cookie| cookie.value().to_owned())
}
