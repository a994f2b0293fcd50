//! # Rate limiting with Redis: one budget per client, shared by every instance
//!
//! Read `README.md` first.
// The stub does not use its arguments (nor the struct's fields) yet: delete this line when you
// implement it.
#![allow(unused_variables, dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName};
use axum::middleware::Next;
use axum::response::Response;
use redis::aio::ConnectionManager;

/// How long the limiter waits for Redis to accept a connection, and then for each reply,
/// before it gives up and lets the request through (it fails open: see the README).
pub const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// The request header that names an API client.
pub const API_KEY: HeaderName = HeaderName::from_static("x-api-key");
/// The requests a client may make per window.
pub const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
/// The requests left in the current window.
pub const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
/// Whole seconds (rounded up) until the window ends and the budget is full again.
pub const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// What the limiter allows, and where its counters live.
#[derive(Debug, Clone)]
pub struct LimiterConfig {
    /// Requests allowed per client and window.
    pub limit: u64,
    /// The window's length (whole milliseconds, at least 1 ms).
    pub window: Duration,
    /// Every Redis key the limiter touches is `"{prefix}:{client key}"`.
    pub prefix: String,
}

/// The outcome of one request's check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether this request fits in the client's budget.
    pub allowed: bool,
    /// The configured limit.
    pub limit: u64,
    /// Requests left in this window after this one (0 once the budget is spent).
    pub remaining: u64,
    /// Time until the current window ends.
    pub reset_after: Duration,
}

/// A fixed-window rate limiter whose counters live in Redis, so every instance of the app that
/// shares the Redis shares the budgets. Cheap to clone.
#[derive(Clone)]
pub struct RateLimiter {
    /// One auto-reconnecting, multiplexed connection shared by every request.
    redis: ConnectionManager,
    config: Arc<LimiterConfig>,
}

impl RateLimiter {
    /// A limiter counting in the Redis behind `client`. Does not connect: the connection is
    /// made on first use (and made again after it breaks), so this works while Redis is down.
    /// Connecting and every reply are bounded by [`REDIS_TIMEOUT`]. Call inside a Tokio runtime.
    pub fn new(client: redis::Client, config: LimiterConfig) -> RateLimiter {
        // TODO: a lazy `ConnectionManager` (`ConnectionManager::new_lazy_with_config`) whose
        // `ConnectionManagerConfig` sets both timeouts to REDIS_TIMEOUT and does not retry.
        todo!("RateLimiter::new")
    }

    /// Counts one request of `client` (a key from [`client_key`]) in Redis, atomically, and
    /// says whether it is allowed. The counter is `"{prefix}:{client}"`; the first request of a
    /// window creates it with a TTL of one window, and later requests never move that expiry.
    pub async fn check(&self, client: &str) -> redis::RedisResult<Decision> {
        // TODO: INCR the counter and give it its TTL in ONE atomic step (a Lua script run with
        // `redis::Script`, or INCR + `PEXPIRE ... NX` + PTTL in a MULTI), then compare the
        // count with the limit. The key's PTTL is the time left in the window.
        todo!("RateLimiter::check")
    }
}

/// Whose budget a request spends: `"key:{X-Api-Key}"` when the header is present and not
/// empty, else `"ip:{peer IP}"` (no port) when the peer address is known, else `"anonymous"`.
pub fn client_key(headers: &HeaderMap, peer: Option<SocketAddr>) -> String {
    // TODO: the API key if there is one, else the peer's IP address.
    todo!("client_key")
}

/// The middleware (`axum::middleware::from_fn_with_state`): checks the request's client key,
/// answers 429 with `Retry-After` past the limit, and adds the `RateLimit-*` headers to
/// allowed and rejected responses alike. When Redis cannot answer, it lets the request
/// through without `RateLimit-*` headers and logs a warning (fail open).
pub async fn rate_limit(
    State(limiter): State<RateLimiter>,
    request: Request,
    next: Next,
) -> Response {
    // TODO: the peer is the `ConnectInfo<SocketAddr>` request extension (when present);
    // `limiter.check(..)`; on Err log with `tracing::warn!` and `next.run(request)`; past the
    // limit a 429 with Retry-After; then the three RateLimit-* headers (seconds rounded up).
    todo!("rate_limit")
}

/// The app: `GET /hello` answers `hello`, behind [`rate_limit`].
pub fn app(limiter: RateLimiter) -> Router {
    // TODO: a `Router` with the route, layered with
    // `axum::middleware::from_fn_with_state(limiter, rate_limit)`.
    todo!("app")
}

/// The protected resource (given).
pub async fn hello() -> &'static str {
    "hello\n"
}
