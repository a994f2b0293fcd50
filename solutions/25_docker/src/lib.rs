//! A service made to live in a container: it reads its port from `$PORT` and answers its own
//! health probe, so the image's `HEALTHCHECK` needs neither a shell nor curl. The Dockerfile
//! and its `.dockerignore` beside this file are the other half of the kata (see the README).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

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
    let Some(value) = value else {
        return Ok(DEFAULT_PORT);
    };
    // Fail at start-up, loudly: a service that quietly falls back to a default port is
    // "healthy" on a port that no probe and no load balancer looks at.
    match value.trim().parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(ConfigError::InvalidPort(value.to_string())),
    }
}

/// Is the service at `addr` healthy? Sends `GET /healthz` over HTTP/1.1 on a plain
/// `tokio::net::TcpStream` and returns `true` only if the status line says `200`.
///
/// - `false` when nothing listens, when the server answers anything but 200 (a 500 means the
///   service knows it is broken), or when the answer does not come within [`PROBE_TIMEOUT`]
///   (a hung server is as unhealthy as a dead one);
/// - never panics: `kata-service healthcheck` turns the result into its exit code.
pub async fn probe(addr: SocketAddr) -> bool {
    // One deadline around the whole exchange: a server that accepts and never answers must
    // fail the check, not hang it (Docker's own --timeout would kill it, nothing else would).
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, status_of_healthz(addr)).await,
        Ok(Ok(200))
    )
}

/// The status code of `GET /healthz`: the second word of the status line `HTTP/1.1 200 OK`.
async fn status_of_healthz(addr: SocketAddr) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    // The status line is all we need; `take` bounds what a misbehaving server can send us.
    let mut status_line = String::new();
    BufReader::new(stream.take(1024))
        .read_line(&mut status_line)
        .await?;
    match status_line.split_whitespace().collect::<Vec<_>>()[..] {
        [version, code, ..] if version.starts_with("HTTP/1.") => code
            .parse()
            .map_err(|_| std::io::Error::other("status code is not a number")),
        _ => Err(std::io::Error::other("not an HTTP/1.x status line")),
    }
}
