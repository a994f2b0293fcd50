//! Helpers of the rate limiting tests: the router driven with `oneshot`, Redis inspected with
//! an admin connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use kata_testkit::TestRedis;
use rate_limiting::{API_KEY, LimiterConfig, RateLimiter};
use redis::AsyncCommands;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

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

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &header::HeaderName) -> Option<String> {
        let value = self.headers.get(name)?;
        Some(value.to_str().unwrap_or("(not text)").to_owned())
    }

    pub fn number(&self, name: &header::HeaderName) -> u64 {
        let value = self.header(name);
        let number = value.as_deref().and_then(|v| v.parse().ok());
        number.unwrap_or_else(|| panic!("expected a number in {name}, got {value:?}"))
    }
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
    let call = app.clone().oneshot(request);
    let response = tokio::time::timeout(HANG, call).await;
    let response = response.unwrap_or_else(|_| panic!("expected an answer, it hung for {HANG:?}"));
    let response = response.expect("the router never fails");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("a readable body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

pub async fn key_of(app: &Router, key: &str) -> Reply {
    get(app, Some(key), "10.0.0.1").await
}

pub async fn pttl(r: &TestRedis, key: &str) -> i64 {
    let got = r.admin().await.pttl(key).await;
    got.unwrap_or_else(|e| panic!("could not PTTL {key}: {e}"))
}

/// When `key` expires, in ms on Redis's clock (TIME and PTTL in one MULTI), or its PTTL (-1:
/// no expiry, -2: no key).
pub async fn expiry(r: &TestRedis, key: &str) -> Result<i64, i64> {
    let got: redis::RedisResult<((i64, i64), i64)> = redis::pipe()
        .atomic()
        .cmd("TIME")
        .cmd("PTTL")
        .arg(key)
        .query_async(&mut r.admin().await)
        .await;
    let ((secs, micros), pttl) = got.unwrap_or_else(|e| panic!("could not read TIME/PTTL: {e}"));
    if pttl < 0 {
        return Err(pttl);
    }
    Ok(secs * 1000 + micros / 1000 + pttl)
}

/// Redis's clock, in ms since the epoch: the clock `expiry` counts on.
pub async fn expiry_clock(r: &TestRedis) -> i64 {
    let got: redis::RedisResult<(i64, i64)> =
        redis::cmd("TIME").query_async(&mut r.admin().await).await;
    let (secs, micros) = got.unwrap_or_else(|e| panic!("could not read Redis's TIME: {e}"));
    secs * 1000 + micros / 1000
}

pub fn assert_status(reply: &Reply, expected: u16, what: &str) {
    assert_eq!(
        reply.status.as_u16(),
        expected,
        "{what}: expected {expected}, got {} with body {:?}",
        reply.status,
        reply.body
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
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET /hello HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut response = String::new();
    let read = tokio::time::timeout(HANG, stream.read_to_string(&mut response)).await;
    read.expect("an answer in time")
        .expect("a readable response");
    response.to_ascii_lowercase()
}

/// A server that accepts connections and never writes a byte back (a frozen Redis): its port,
/// and the task to abort.
pub async fn silent_redis() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await;
    let listener = listener.expect("a free port");
    let port = listener.local_addr().expect("a bound address").port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (port, silent)
}

/// A server that accepts every connection and closes it at once (a Redis restarting, a proxy
/// without a backend): its port, how many connections it accepted, and the task to abort.
pub async fn dropping_redis() -> (u16, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await;
    let listener = listener.expect("a free port");
    let port = listener.local_addr().expect("a bound address").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let server = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, SeqCst);
            drop(socket);
        }
    });
    (port, accepted, server)
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
