//! # Rate limiting with Redis: one budget per client, shared by every instance
//!
//! Read `README.md` first.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

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

/// Counts this request and starts the window if it is the first one: INCR, and PEXPIRE only
/// when the key has no expiry yet. Redis runs a script as one command, so no other request
/// sees the counter between the two steps. Returns `{count, milliseconds left}`.
static FIXED_WINDOW: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        local count = redis.call('INCR', KEYS[1])
        local ttl = redis.call('PTTL', KEYS[1])
        if ttl < 0 then
            redis.call('PEXPIRE', KEYS[1], ARGV[1])
            ttl = tonumber(ARGV[1])
        end
        return {count, ttl}
        ",
    )
});

impl RateLimiter {
    /// A limiter counting in the Redis behind `client`. Does not connect: the connection is
    /// made on first use (and made again after it breaks), so this works while Redis is down.
    /// Connecting and every reply are bounded by [`REDIS_TIMEOUT`]. Call inside a Tokio runtime.
    pub fn new(client: redis::Client, config: LimiterConfig) -> RateLimiter {
        // No retries: a limiter that waits for Redis to come back stalls every request.
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(0);
        let redis = ConnectionManager::new_lazy_with_config(client, manager)
            .expect("a ConnectionManagerConfig without push settings is always valid");
        RateLimiter {
            redis,
            config: Arc::new(config),
        }
    }

    /// Counts one request of `client` (a key from [`client_key`]) in Redis, atomically, and
    /// says whether it is allowed. The counter is `"{prefix}:{client}"`; the first request of a
    /// window creates it with a TTL of one window, and later requests never move that expiry.
    pub async fn check(&self, client: &str) -> redis::RedisResult<Decision> {
        let key = format!("{}:{client}", self.config.prefix);
        let window_ms = u64::try_from(self.config.window.as_millis()).unwrap_or(u64::MAX);
        let (count, ttl_ms): (u64, i64) = FIXED_WINDOW
            .key(&key)
            .arg(window_ms.max(1))
            .invoke_async(&mut self.redis.clone())
            .await?;
        let limit = self.config.limit;
        Ok(Decision {
            allowed: count <= limit,
            limit,
            remaining: limit.saturating_sub(count),
            reset_after: Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0)),
        })
    }
}

/// Whose budget a request spends: `"key:{X-Api-Key}"` when the header is present and not
/// empty, else `"ip:{peer IP}"` (no port) when the peer address is known, else `"anonymous"`.
pub fn client_key(headers: &HeaderMap, peer: Option<SocketAddr>) -> String {
    let api_key = headers.get(API_KEY).and_then(|value| value.to_str().ok());
    match (api_key, peer) {
        (Some(key), _) if !key.is_empty() => format!("key:{key}"),
        (_, Some(peer)) => format!("ip:{}", peer.ip()),
        _ => "anonymous".to_owned(),
    }
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
    // `ConnectInfo` is only there when the server was started with
    // `into_make_service_with_connect_info` (or a test inserted it).
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr);
    let client = client_key(request.headers(), peer);
    let decision = match limiter.check(&client).await {
        Ok(decision) => decision,
        Err(error) => {
            // Fail open: an outage of the limiter must not become an outage of the API.
            tracing::warn!(%error, %client, "rate limiter unavailable, request let through");
            return next.run(request).await;
        }
    };
    let reset = seconds_rounded_up(decision.reset_after);
    let mut response = if decision.allowed {
        next.run(request).await
    } else {
        // Never "0": a client told to retry after 0 s retries at once.
        let retry_after = [(header::RETRY_AFTER, reset.max(1))];
        let body = "rate limit exceeded, retry later\n";
        (StatusCode::TOO_MANY_REQUESTS, retry_after, body).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(RATELIMIT_LIMIT, decision.limit.into());
    headers.insert(RATELIMIT_REMAINING, decision.remaining.into());
    headers.insert(RATELIMIT_RESET, reset.into());
    response
}

/// HTTP counts in whole seconds: 300 ms left is "1", never "0".
fn seconds_rounded_up(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis().div_ceil(1000)).unwrap_or(u64::MAX)
}

/// The app: `GET /hello` answers `hello`, behind [`rate_limit`].
pub fn app(limiter: RateLimiter) -> Router {
    // `layer` wraps every route added before it; the limiter is its state.
    Router::new()
        .route("/hello", get(hello))
        .layer(middleware::from_fn_with_state(limiter, rate_limit))
}

/// The protected resource (given).
pub async fn hello() -> &'static str {
    "hello\n"
}
