//! A service made to live in a container: it reads its port from `$PORT` and answers its own
//! health probe, so the image's `HEALTHCHECK` needs neither a shell nor curl. The Dockerfile
//! and its `.dockerignore` beside this file are the other half of the kata (see the README).

#![allow(unused_variables)] // The stub does not use its arguments yet: delete this line when done.

use std::net::SocketAddr;
use std::time::Duration;

/// The port the service listens on when `$PORT` is not set.
pub const DEFAULT_PORT: u16 = 8080;

/// How long `probe` may take in all (connect, send, read the status line) before it gives up.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `$PORT` is set, but not to a port a server can listen on.
    #[error("PORT must be a whole number from 1 to 65535, got {0:?}")]
    InvalidPort(String),
}

/// The port to listen on, from the value of `$PORT` (`None` when it is not set).
///
/// - not set: [`DEFAULT_PORT`];
/// - `"1"` to `"65535"` (surrounding whitespace ignored): that port;
/// - anything else (`""`, `"http"`, `"-1"`, `"70000"`, and `"0"`, which would make the OS pick
///   a random port that nobody publishes or probes): `ConfigError::InvalidPort(value)`.
pub fn port_from_env(value: Option<&str>) -> Result<u16, ConfigError> {
    // TODO: default when unset, parse as u16 when set, reject 0 and junk with InvalidPort.
    todo!("read the port")
}

/// Is the service at `addr` healthy? Sends `GET /healthz` over HTTP/1.1 on a plain
/// `tokio::net::TcpStream` and returns `true` only if the status line says `200`.
///
/// - `false` when nothing listens, when the server answers anything but 200 (a 500 means the
///   service knows it is broken), or when the answer does not come within [`PROBE_TIMEOUT`]
///   (a hung server is as unhealthy as a dead one);
/// - never panics: `kata-service healthcheck` turns the result into its exit code.
pub async fn probe(addr: SocketAddr) -> bool {
    // TODO: under one `tokio::time::timeout(PROBE_TIMEOUT, ...)`: connect, write
    // "GET /healthz HTTP/1.1\r\nHost: ...\r\nConnection: close\r\n\r\n", read the status line
    // ("HTTP/1.1 200 OK") and check its code. Any error or timeout is `false`.
    todo!("probe /healthz")
}
