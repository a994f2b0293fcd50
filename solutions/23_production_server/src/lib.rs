//! # A production server: graceful shutdown, timeouts, limits, probes, config, client IP
//!
//! Read `README.md` first.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use redis::AsyncConnectionConfig;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

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
        let vars: HashMap<String, String> = vars
            .into_iter()
            .filter(|(_, value)| !value.trim().is_empty())
            .collect();
        // Each reader records its problem and returns a placeholder, so reading goes on and
        // the operator fixes every variable in one deploy instead of one per attempt.
        let errors = &mut Vec::new();
        let database_url = required(
            &vars,
            "DATABASE_URL",
            &["postgres://", "postgresql://"],
            errors,
        );
        let redis_url = required(
            &vars,
            "REDIS_URL",
            &["redis://", "rediss://", "redis+unix://"],
            errors,
        );
        let port = optional(
            &vars,
            "PORT",
            8080,
            "a port number from 1 to 65535",
            errors,
            |v| v.parse().ok().filter(|port| *port > 0),
        );
        let timeout_ms = optional(
            &vars,
            "REQUEST_TIMEOUT_MS",
            30_000,
            "a positive number of milliseconds",
            errors,
            |v| v.parse().ok().filter(|ms| *ms > 0),
        );
        let body_limit_bytes = optional(
            &vars,
            "BODY_LIMIT_BYTES",
            1_048_576,
            "a positive number of bytes",
            errors,
            |v| v.parse().ok().filter(|bytes| *bytes > 0),
        );
        let trusted_proxies = optional(
            &vars,
            "TRUSTED_PROXIES",
            Vec::new(),
            "IP addresses separated by commas",
            errors,
            |v| v.split(',').map(|ip| ip.trim().parse().ok()).collect(),
        );
        if !errors.is_empty() {
            return Err(ConfigErrors(std::mem::take(errors)));
        }
        Ok(Config {
            port,
            database_url,
            redis_url,
            request_timeout: Duration::from_millis(timeout_ms),
            body_limit_bytes,
            trusted_proxies,
        })
    }
}

/// A required URL with one of `schemes`; on a problem, records it and returns "".
fn required(
    vars: &HashMap<String, String>,
    var: &'static str,
    schemes: &[&str],
    errors: &mut Vec<ConfigError>,
) -> String {
    let problem = match vars.get(var) {
        Some(url) if schemes.iter().any(|scheme| url.starts_with(scheme)) => return url.clone(),
        Some(url) => format!("expected a {} URL, got {url:?}", schemes.join(" or ")),
        None => "is required".to_owned(),
    };
    errors.push(ConfigError { var, problem });
    String::new()
}

/// An optional setting: `default` when unset; on a value `parse` refuses, records the problem
/// and returns `default`.
fn optional<T>(
    vars: &HashMap<String, String>,
    var: &'static str,
    default: T,
    expected: &str,
    errors: &mut Vec<ConfigError>,
    parse: impl Fn(&str) -> Option<T>,
) -> T {
    let Some(value) = vars.get(var) else {
        return default;
    };
    parse(value.trim()).unwrap_or_else(|| {
        let problem = format!("expected {expected}, got {value:?}");
        errors.push(ConfigError { var, problem });
        default
    })
}

/// The client's IP address. The peer (the TCP connection's other end) is the client unless it
/// is one of the `trusted` proxies; then `X-Forwarded-For` (all its headers, in order, each a
/// comma-separated list) is read from the right, skipping trusted proxies: the first address
/// that is not one is the client. Anything left of it was written by the client and proves
/// nothing. When the walk meets a value that is not an IP address, or runs out, the client is
/// the last address it reached.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|list| list.split(','))
        .collect();
    let mut client = peer;
    // Right to left: each proxy appended the address it received the request from.
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            break;
        };
        client = ip;
        if !trusted.contains(&ip) {
            break;
        }
    }
    client
}

/// Wraps `router` in the layers every route needs in production: requests that take longer
/// than `config.request_timeout` get `503 Service Unavailable`, and bodies larger than
/// `config.body_limit_bytes` get `413 Payload Too Large`.
pub fn production_layers(router: Router, config: &Config) -> Router {
    // The last layer added runs first: the size check, then the clock.
    router
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            config.request_timeout,
        ))
        // One limit for every route: the configured one, not axum's 2 MB extractor default.
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(config.body_limit_bytes))
}

/// The app: `GET /healthz`, `GET /readyz`, `GET /ip`, `POST /upload`, behind
/// [`production_layers`].
pub fn app(state: AppState) -> Router {
    let config = state.config.clone();
    let routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/ip", get(ip))
        .route("/upload", post(upload))
        .with_state(state);
    production_layers(routes, &config)
}

/// Serves `app` on `listener` (with `ConnectInfo<SocketAddr>` for every request) until
/// `shutdown` completes; then stops accepting connections, lets the requests in flight
/// finish, and only then returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // `with_graceful_shutdown` closes the listener when `shutdown` fires, tells every
    // connection to finish its current request, and resolves once they have all closed.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Liveness: the process is up and serving. Touches no dependency, so a database outage does
/// not make the orchestrator restart every healthy instance.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: `200` with `{"status":"ready","failed":[]}` when Postgres answers `SELECT 1`
/// and Redis answers `PING`, each within [`READY_TIMEOUT`]; otherwise `503` with
/// `{"status":"unavailable","failed":[...]}` naming each dependency that did not.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    // Both checks at once, each bounded: a probe must answer before the orchestrator's own
    // timeout, whatever the dependencies do.
    let (postgres, redis) = tokio::join!(
        tokio::time::timeout(READY_TIMEOUT, postgres_answers(&state.db)),
        tokio::time::timeout(READY_TIMEOUT, redis_answers(&state.redis)),
    );
    let failed: Vec<String> = [("postgres", postgres), ("redis", redis)]
        .into_iter()
        .filter(|(_, answered)| !matches!(answered, Ok(true)))
        .map(|(name, _)| name.to_owned())
        .collect();
    let (code, status) = if failed.is_empty() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    let status = status.to_owned();
    (code, Json(Readiness { status, failed }))
}

async fn postgres_answers(db: &PgPool) -> bool {
    sqlx::query("SELECT 1").execute(db).await.is_ok()
}

async fn redis_answers(client: &redis::Client) -> bool {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(READY_TIMEOUT))
        .set_response_timeout(Some(READY_TIMEOUT));
    let Ok(mut connection) = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
    else {
        return false;
    };
    let pong: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut connection).await;
    pong.is_ok()
}

/// The client's IP address as [`client_ip`] resolves it, as text.
pub async fn ip(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> String {
    client_ip(peer.ip(), &headers, &state.config.trusted_proxies).to_string()
}

/// Answers the number of bytes received.
pub async fn upload(body: Bytes) -> String {
    body.len().to_string()
}
