//! # A production server: graceful shutdown, timeouts, limits, probes, config, client IP
//!
//! Read `README.md` first.
// The stub does not use its arguments yet: delete this line when you implement it.
#![allow(unused_variables)]

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::net::TcpListener;

/// How long `/readyz` waits for each dependency before calling it down.
pub const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// The server's settings, read from the environment by [`Config::from_env`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `PORT`: where to listen (default 8080).
    pub port: u16,
    /// `DATABASE_URL` (required): a `postgres://` or `postgresql://` URL.
    pub database_url: String,
    /// `REDIS_URL` (required): a `redis://`, `rediss://` or `redis+unix://` URL.
    pub redis_url: String,
    /// `REQUEST_TIMEOUT_MS`: the most a request may take (default 30 s).
    pub request_timeout: Duration,
    /// `BODY_LIMIT_BYTES`: the largest request body accepted (default 1 MiB).
    pub body_limit_bytes: usize,
    /// `TRUSTED_PROXIES`: comma-separated IP addresses of the proxies in front (default none).
    pub trusted_proxies: Vec<IpAddr>,
}

/// One problem with one environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable's name, e.g. `"PORT"`.
    pub var: &'static str,
    /// What is wrong, quoting the value when there is one.
    pub problem: String,
}

/// Every problem found in the environment, in the order of the variables in the README.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.var, self.problem)
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration:")?;
        self.0
            .iter()
            .try_for_each(|error| write!(f, "\n  - {error}"))
    }
}

impl std::error::Error for ConfigError {}
impl std::error::Error for ConfigErrors {}

/// What `/readyz` answers (as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// `"ready"` or `"unavailable"`.
    pub status: String,
    /// The dependencies that did not answer in time: `"postgres"`, `"redis"`, in that order.
    pub failed: Vec<String>,
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Postgres (only `/readyz` uses it here).
    pub db: PgPool,
    /// Redis (only `/readyz` uses it here): a connection is opened per check.
    pub redis: redis::Client,
    pub config: Arc<Config>,
}

impl Config {
    /// Reads and validates the settings from `vars` (pass `std::env::vars()` in `main`; tests
    /// pass their own pairs, so nobody mutates the process environment). A variable set to an
    /// empty value counts as unset. Every problem is reported, not only the first one.
    pub fn from_env(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigErrors> {
        // TODO: collect `vars` into a HashMap (an empty value counts as unset), then read every
        // variable, pushing a `ConfigError` for each problem instead of returning at the first
        // one; return `Err(ConfigErrors(all of them))` if there is any.
        todo!("Config::from_env")
    }
}

/// The client's IP address. The peer (the TCP connection's other end) is the client unless it
/// is one of the `trusted` proxies; then `X-Forwarded-For` (all its headers, in order, each a
/// comma-separated list) is read from the right, skipping trusted proxies: the first address
/// that is not one is the client. Anything left of it was written by the client and proves
/// nothing. When the walk meets a value that is not an IP address, or runs out, the client is
/// the last address it reached.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    // TODO: the peer, unless it is trusted; then walk the X-Forwarded-For entries from the
    // right (`headers.get_all`, split on ','), skipping trusted proxies.
    todo!("client_ip")
}

/// Wraps `router` in the layers every route needs in production: requests that take longer
/// than `config.request_timeout` get `503 Service Unavailable`, and bodies larger than
/// `config.body_limit_bytes` get `413 Payload Too Large`.
pub fn production_layers(router: Router, config: &Config) -> Router {
    // TODO: `tower_http::timeout::TimeoutLayer::with_status_code` (503) and
    // `tower_http::limit::RequestBodyLimitLayer`, plus `axum::extract::DefaultBodyLimit::disable()`
    // so that axum's own 2 MB default does not apply on top.
    todo!("production_layers")
}

/// The app: `GET /healthz`, `GET /readyz`, `GET /ip`, `POST /upload`, behind
/// [`production_layers`].
pub fn app(state: AppState) -> Router {
    // TODO: the four routes with the state, then `production_layers`.
    todo!("app")
}

/// Serves `app` on `listener` (with `ConnectInfo<SocketAddr>` for every request) until
/// `shutdown` completes; then stops accepting connections, lets the requests in flight
/// finish, and only then returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // TODO: `axum::serve` with `into_make_service_with_connect_info::<SocketAddr>()` and
    // `.with_graceful_shutdown(shutdown)`.
    todo!("serve")
}

/// Liveness: the process is up and serving, so it answers `ok`. Touches no dependency, so a
/// database outage does not make the orchestrator restart every healthy instance.
pub async fn healthz() -> &'static str {
    // TODO: answer at once, without touching Postgres or Redis.
    todo!("healthz")
}

/// Readiness: `200` with `{"status":"ready","failed":[]}` when Postgres answers `SELECT 1`
/// and Redis answers `PING`, each within [`READY_TIMEOUT`]; otherwise `503` with
/// `{"status":"unavailable","failed":[...]}` naming each dependency that did not.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    // TODO: `SELECT 1` on the pool and `PING` on a Redis connection, each bounded by
    // READY_TIMEOUT (`tokio::time::timeout`), both at once (`tokio::join!`).
    todo!("readyz")
}

/// The client's IP address as [`client_ip`] resolves it, as text.
pub async fn ip(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> String {
    // TODO: `client_ip` with the configured trusted proxies.
    todo!("ip")
}

/// Answers the number of bytes received (given).
pub async fn upload(body: Bytes) -> String {
    body.len().to_string()
}
