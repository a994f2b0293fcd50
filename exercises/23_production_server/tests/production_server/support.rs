//! Helpers of the production server tests: states whose dependencies are up (TestDb,
//! TestRedis) or down (closed ports), requests through `oneshot` and over raw TCP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use axum::routing::get as get_route;
use kata_testkit::http::{self, Reply};
use kata_testkit::{TestDb, TestRedis};
use production_server::{AppState, Config, Readiness, app, production_layers};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

/// Only detects a call that hangs: a correct server answers in a fraction of this.
pub const HANG: Duration = Duration::from_secs(20);

/// A port nothing listens on.
pub fn closed_port() -> u16 {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr());
    closed.expect("a free port").port()
}

/// A valid configuration: 60 s timeout, 1024-byte bodies, no trusted proxy.
pub fn config() -> Config {
    Config {
        port: 8080,
        database_url: "postgres://app@127.0.0.1/app".into(),
        redis_url: "redis://127.0.0.1".into(),
        request_timeout: Duration::from_secs(60),
        body_limit_bytes: 1024,
        trusted_proxies: Vec::new(),
    }
}

/// Postgres and Redis that refuse every connection.
pub fn state_down(config: Config) -> AppState {
    let redis_url = format!("redis://127.0.0.1:{}", closed_port());
    AppState {
        db: kata_testkit::postgres::unreachable_pool(),
        redis: redis::Client::open(redis_url).expect("a valid Redis URL"),
        config: Arc::new(config),
    }
}

/// `state_down`, with the dependencies the test brings replaced by real ones.
pub async fn state_with(db: Option<&TestDb>, redis: Option<&TestRedis>) -> AppState {
    let mut state = state_down(config());
    if let Some(db) = db {
        state.db = db.pool().await;
    }
    if let Some(redis) = redis {
        state.redis = redis.client();
    }
    state
}

/// Awaits `call`, failing the test if it has not finished after [`HANG`].
pub async fn within<F: Future>(what: &str, call: F) -> F::Output {
    let result = tokio::time::timeout(HANG, call).await;
    result.unwrap_or_else(|_| panic!("expected {what} to finish, but it hung for {HANG:?}"))
}

/// Sends `request` through the router's real stack.
pub async fn send(app: &Router, request: Request<Body>) -> Reply {
    let what = format!("{} {}", request.method(), request.uri());
    within(&what, http::send(app, request)).await
}

pub async fn get(app: &Router, uri: &str) -> Reply {
    let request = Request::get(uri).body(Body::empty());
    send(app, request.expect("a valid request")).await
}

/// Writes a `GET` with `Connection: close` and the extra header lines on `stream`.
pub async fn write_get(stream: &mut tokio::net::TcpStream, path: &str, extra: &str) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: kata\r\n{extra}Connection: close\r\n\r\n");
    let sent = stream.write_all(request.as_bytes()).await;
    sent.unwrap_or_else(|e| panic!("could not send GET {path}: {e}"));
}

/// The whole response on `stream` ("" if the connection was closed or reset unanswered).
pub async fn read_all(stream: &mut tokio::net::TcpStream) -> String {
    let mut response = Vec::new();
    let read = tokio::time::timeout(HANG, stream.read_to_end(&mut response)).await;
    match read {
        Ok(Ok(_)) | Ok(Err(_)) => String::from_utf8_lossy(&response).into_owned(),
        Err(_) => panic!("expected a response or a closed connection, it hung for {HANG:?}"),
    }
}

/// `GET path` over a new connection to `addr`.
pub async fn get_over_tcp(addr: SocketAddr, path: &str, extra: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    write_get(&mut stream, path, extra).await;
    read_all(&mut stream).await
}

/// The environment as `Config::from_env` takes it.
pub fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let pairs = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    pairs.collect()
}

/// `GET /readyz`: its status and its JSON body.
pub async fn readiness(app: &Router) -> (StatusCode, Readiness) {
    let reply = get(app, "/readyz").await;
    let body: Result<Readiness, _> = serde_json::from_slice(&reply.body);
    let body = body.unwrap_or_else(|e| {
        panic!(
            "expected a JSON body {{\"status\":..,\"failed\":[..]}}, got {:?} ({e})",
            reply.text()
        )
    });
    (reply.status, body)
}

/// `GET /ip` as if it came from `peer`, with these X-Forwarded-For header lines.
pub async fn ip_seen(trusted: &[&str], peer: &str, forwarded: &[&str]) -> String {
    let trusted_proxies = trusted.iter().map(|ip| ip.parse().unwrap()).collect();
    let state = state_down(Config {
        trusted_proxies,
        ..config()
    });
    let peer: SocketAddr = format!("{peer}:40000").parse().expect("a valid peer");
    let app = app(state).layer(MockConnectInfo(peer));
    let mut request = Request::get("/ip");
    for line in forwarded {
        request = request.header("x-forwarded-for", *line);
    }
    let reply = send(&app, request.body(Body::empty()).expect("a valid request")).await;
    assert_eq!(reply.status, StatusCode::OK, "GET /ip: {:?}", reply.text());
    reply.text().trim().to_owned()
}

/// A router behind `production_layers` whose `/slow` handler reports that it `started`, waits
/// until the `gate` opens, then records that it `finished`; `/fast` answers at once.
pub struct Parked {
    pub app: Router,
    pub started: mpsc::UnboundedReceiver<()>,
    pub gate: watch::Sender<bool>,
    pub finished: Arc<AtomicBool>,
}

pub fn parked_app() -> Parked {
    let (started_tx, started) = mpsc::unbounded_channel::<()>();
    let (gate, gate_rx) = watch::channel(false);
    let finished = Arc::new(AtomicBool::new(false));
    let slow = {
        let finished = finished.clone();
        move || async move {
            let _ = started_tx.send(());
            let _ = gate_rx.clone().wait_for(|open| *open).await;
            finished.store(true, SeqCst);
            "slow done"
        }
    };
    let routes = Router::new()
        .route("/slow", get_route(slow))
        .route("/fast", get_route(|| async { "fast" }));
    let app = production_layers(routes, &config());
    Parked {
        app,
        started,
        gate,
        finished,
    }
}

/// Returns once a new connection to `addr` is refused, or accepted by the kernel and closed
/// unanswered; fails if the server still answers after [`HANG`].
pub async fn new_connections_go_unanswered(addr: SocketAddr) {
    let deadline = Instant::now() + HANG;
    loop {
        let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
            return;
        };
        let request = "GET /fast HTTP/1.1\r\nHost: kata\r\nConnection: close\r\n\r\n";
        if stream.write_all(request.as_bytes()).await.is_err() {
            return;
        }
        let response = read_all(&mut stream).await;
        if response.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "after shutdown was triggered, new connections are still served {HANG:?} later:\n\
             {response}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
