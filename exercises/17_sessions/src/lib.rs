//! # Server-side sessions in Redis
//!
//! Read `README.md` first.
// The stub does not use its arguments (nor the struct's fields) yet: delete this line when you
// implement it.
#![allow(unused_variables, dead_code)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use redis::RedisResult;
use redis::aio::ConnectionManager;
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
    // TODO: fill SESSION_ID_BYTES bytes from `rand::rng()` (a CSPRNG) and hex-encode them.
    todo!("new_session_id")
}

/// Whether `id` has the shape [`new_session_id`] produces: exactly `2 * SESSION_ID_BYTES`
/// characters of `0-9a-f`.
pub fn is_well_formed(id: &str) -> bool {
    // TODO: check the length first, then every byte.
    todo!("is_well_formed")
}

/// The `Set-Cookie` header value that hands `id` to the browser:
/// `session=<id>; HttpOnly; Secure; SameSite=Lax; Path=/`.
pub fn set_cookie_header(id: &str) -> String {
    // TODO: `cookie::Cookie::build((COOKIE_NAME, id))` with the four attributes.
    todo!("set_cookie_header")
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
        // TODO: store "" under a new id, with the TTL.
        todo!("SessionStore::start_anonymous")
    }

    /// Logs `user_id` (not empty) in and returns the id of a NEW session.
    ///
    /// `current` is the session the request came with, if any: it is destroyed, so an id an
    /// attacker planted before the login (session fixation) is worth nothing after it.
    pub async fn login(&self, user_id: &str, current: Option<&str>) -> RedisResult<String> {
        // TODO: destroy `current`; store a new id with the TTL and add it to the user's
        // index set (which gets the TTL too).
        todo!("SessionStore::login")
    }

    /// The session `id` resolves to, resetting its TTL (sliding expiry). Unknown, expired and
    /// tampered ids are `Ok(None)`; a malformed id is `Ok(None)` without asking Redis.
    pub async fn lookup(&self, id: &str) -> RedisResult<Option<Session>> {
        // TODO: validate, then read the session and reset its TTL (and its user's index TTL).
        todo!("SessionStore::lookup")
    }

    /// Destroys session `id` and its entry in its user's index. Unknown or malformed ids are
    /// fine (`Ok(())`); a malformed one does not reach Redis.
    pub async fn logout(&self, id: &str) -> RedisResult<()> {
        // TODO: delete the session key and remove the id from its user's index set.
        todo!("SessionStore::logout")
    }

    /// Destroys every session of `user_id` and returns how many there were.
    pub async fn logout_everywhere(&self, user_id: &str) -> RedisResult<usize> {
        // TODO: find the sessions through the user's index set (no KEYS/SCAN), delete them
        // and their index entries.
        todo!("SessionStore::logout_everywhere")
    }

    /// The ids of the live sessions of `user_id`, sorted. Index entries whose session has
    /// expired are dropped from the index.
    pub async fn sessions_of(&self, user_id: &str) -> RedisResult<Vec<String>> {
        // TODO: the index set's members whose session key still exists.
        todo!("SessionStore::sessions_of")
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
    // TODO: two routes with the store as state; find the `session` cookie in the `Cookie`
    // header(s) with `cookie::Cookie::split_parse`.
    todo!("app")
}
