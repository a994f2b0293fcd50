//! Helpers of the rate limiting tests: the router driven with `oneshot`, Redis inspected with
//! an admin connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, header};
use kata_testkit::TestRedis;
pub use kata_testkit::http::{self, Reply};
use rate_limiting::{API_KEY, LimiterConfig, RateLimiter};

/// Long enough never to end during a test that does not wait for it.
pub const LONG: Duration = Duration::from_millis(45_000);
/// Only detects a request that hangs or a window that never ends.
pub const HANG: Duration = Duration::from_secs(20);

pub fn limiter(r: &TestRedis, limit: u64, window: Duration) -> RateLimiter {
    let prefix = r.key("rl");
    RateLimiter::new(
        r.client(),
        LimiterConfig {
            limit,
            window,
            prefix,
        },
    )
}

/// The Redis key of a client key (see `client_key`).
pub fn counter(r: &TestRedis, client: &str) -> String {
    r.key(&format!("rl:{client}"))
}

/// The number in header `name`; fails the test, showing the header, when there is none.
pub fn number(reply: &Reply, name: &header::HeaderName) -> u64 {
    let value = reply.header_value(name);
    let number = value.and_then(|v| v.parse().ok());
    number.unwrap_or_else(|| panic!("expected a number in {name}, got {value:?}"))
}

/// `GET /hello` through the router, with an API key or from a peer address.
pub async fn get(app: &Router, api_key: Option<&str>, peer: &str) -> Reply {
    let mut request = Request::get("/hello");
    if let Some(key) = api_key {
        request = request.header(API_KEY, key);
    }
    let mut request = request.body(Body::empty()).expect("a valid request");
    let addr: SocketAddr = format!("{peer}:40000").parse().expect("a valid address");
    request.extensions_mut().insert(ConnectInfo(addr));
    let reply = tokio::time::timeout(HANG, http::send(app, request)).await;
    reply.unwrap_or_else(|_| panic!("expected an answer, it hung for {HANG:?}"))
}

pub async fn key_of(app: &Router, key: &str) -> Reply {
    get(app, Some(key), "10.0.0.1").await
}

pub fn assert_status(reply: &Reply, expected: u16, what: &str) {
    assert_eq!(
        reply.status.as_u16(),
        expected,
        "{what}: expected {expected}, got {} with body {:?}",
        reply.status,
        reply.text()
    );
}

/// A limiter whose Redis is at `url` (a closed port, a silent server).
pub fn limiter_at(url: &str, limit: u64) -> RateLimiter {
    let client = redis::Client::open(url).expect("a valid URL");
    let prefix = "kata_unreachable".to_owned();
    let window = LONG;
    RateLimiter::new(
        client,
        LimiterConfig {
            limit,
            window,
            prefix,
        },
    )
}

/// `GET /hello` over a new TCP connection; the whole response, lowercased.
pub async fn get_over_tcp(addr: SocketAddr) -> String {
    let response = http::raw(addr, "GET /hello HTTP/1.1", "").await;
    response.to_ascii_lowercase()
}

/// Counts the warnings (and errors) logged through `tracing` on the thread it is the default
/// subscriber of: a current-thread test runs the whole app there.
pub struct Warnings(pub Arc<AtomicUsize>);

impl tracing::Subscriber for Warnings {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() <= tracing::Level::WARN {
            self.0.fetch_add(1, SeqCst);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
