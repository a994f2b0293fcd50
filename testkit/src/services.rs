//! Where the test servers are. The first that works wins:
//! 1. the runner's choice (`KATA_POSTGRES_URL` / `KATA_REDIS_URL`, set by `cargo xtask`);
//! 2. the environment (`KATA_DATABASE_URL` / `KATA_REDIS_URL`: GitHub Actions services, your
//!    own servers; never the generic `DATABASE_URL` an application of yours may use, since the
//!    tests create a database, a role and a Redis user per test there);
//! 3. servers started by `cargo xtask services up` (recorded in `.kata/services.json`);
//! 4. local servers started from installed binaries for this process alone.
//!
//! Containers (testcontainers) are started by the runner, which hands them over through (1):
//! the Docker client stays out of the test binaries.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::local;

/// The servers recorded by `cargo xtask services up`.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct ServicesFile {
    pub postgres: Option<String>,
    pub redis: Option<String>,
    /// How they were started: "local" or "container".
    pub origin: String,
    /// The process holding them; `services down` stops it.
    pub holder_pid: u32,
    /// Seconds without a run after which the holder stops them (none: until `services down`).
    #[serde(default)]
    pub idle_seconds: Option<u64>,
    /// The holder started that Postgres itself and tends it: it keeps spare test databases
    /// there and drops the ones tests are done with (see `spares`).
    #[serde(default)]
    pub tends_postgres: bool,
}

/// A server's admin URL and, in words, where it came from.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: String,
    pub origin: String,
    /// The server goes away with this run (the runner's or this process's own): what a test
    /// creates there needs no cleaning up. Otherwise every test drops what it created.
    pub ephemeral: bool,
    /// The warm servers' Postgres, tended by their holder (see `spares`): tests take spare
    /// databases there and leave dropping theirs to the holder, between runs.
    pub tended: bool,
}

/// Set by the runner to the services it started itself (`postgres,redis`): they go away with
/// the run, so tests need not clean up after themselves there.
pub const EPHEMERAL_VAR: &str = "KATA_EPHEMERAL";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Postgres,
    Redis,
}

impl Service {
    /// As `KATA_EPHEMERAL` lists it.
    pub fn name(self) -> &'static str {
        match self {
            Service::Postgres => "postgres",
            Service::Redis => "redis",
        }
    }
    fn runner_var(self) -> &'static str {
        match self {
            Service::Postgres => "KATA_POSTGRES_URL",
            Service::Redis => "KATA_REDIS_URL",
        }
    }
    fn env_var(self) -> &'static str {
        match self {
            Service::Postgres => "KATA_DATABASE_URL",
            Service::Redis => "KATA_REDIS_URL",
        }
    }
}

/// The repository root (this crate sits one level below it).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit lives in the workspace")
        .to_path_buf()
}

/// `.kata/`: the git-ignored state of this checkout (progress, running services, caches);
/// `KATA_STATE_DIR` moves it (the runner's own tests use a directory of their own).
pub fn state_dir() -> PathBuf {
    std::env::var_os("KATA_STATE_DIR").map_or_else(|| workspace_root().join(".kata"), PathBuf::from)
}

/// Touched by every run that uses the held services: the holder's idle clock.
pub fn services_used_file() -> PathBuf {
    state_dir().join("services.used")
}

pub fn services_file() -> PathBuf {
    state_dir().join("services.json")
}

/// Reads `.kata/services.json`; a missing or unreadable file means "none running".
pub fn read_services_file() -> Option<ServicesFile> {
    let text = std::fs::read_to_string(services_file()).ok()?;
    let file: ServicesFile = serde_json::from_str(&text).ok()?;
    // A holder that is gone left a stale file behind.
    Path::new(&format!("/proc/{}", file.holder_pid))
        .exists()
        .then_some(file)
}

/// Resolves a server from (1)-(3), without starting anything.
pub fn configured(service: Service) -> Option<Endpoint> {
    for var in [service.runner_var(), service.env_var()] {
        if let Ok(url) = std::env::var(var)
            && !url.is_empty()
        {
            let ephemeral = var == service.runner_var()
                && std::env::var(EPHEMERAL_VAR)
                    .is_ok_and(|list| list.split(',').any(|s| s == service.name()));
            return Some(Endpoint {
                tended: tended(service, &url),
                url,
                origin: format!("environment ({var})"),
                ephemeral,
            });
        }
    }
    let file = read_services_file()?;
    let url = match service {
        Service::Postgres => file.postgres?,
        Service::Redis => file.redis?,
    };
    // Keeps the holder from stopping them while they are in use (best effort).
    let _ = std::fs::File::create(services_used_file());
    Some(Endpoint {
        tended: service == Service::Postgres && file.tends_postgres,
        url,
        origin: format!(
            "running services ({}, `cargo xtask services up`)",
            file.origin
        ),
        ephemeral: false,
    })
}

/// Whether `url` is the warm servers' Postgres and their holder tends it (the runner passes
/// the warm servers on by URL, so the file says whose they are).
fn tended(service: Service, url: &str) -> bool {
    service == Service::Postgres
        && read_services_file()
            .is_some_and(|f| f.tends_postgres && f.postgres.as_deref() == Some(url))
}

/// Resolves a server, starting a local one for this process if nothing is configured.
pub fn endpoint(service: Service) -> Result<Endpoint> {
    if let Some(found) = configured(service) {
        return Ok(found);
    }
    let url = match service {
        Service::Postgres => start_once(&POSTGRES, || {
            local::start_postgres(&state_dir().join("cache"))
        })?,
        Service::Redis => start_once(&REDIS, local::start_redis)?,
    };
    Ok(Endpoint {
        url,
        origin: "local server started by this test process".into(),
        ephemeral: true,
        tended: false,
    })
}

static POSTGRES: OnceLock<Result<String, String>> = OnceLock::new();
static REDIS: OnceLock<Result<String, String>> = OnceLock::new();

fn start_once(
    cell: &OnceLock<Result<String, String>>,
    start: impl FnOnce() -> Result<local::LocalServer>,
) -> Result<String> {
    let started = cell.get_or_init(|| {
        start()
            .map(|server| {
                let url = server.url.clone();
                server.keep_until_exit();
                url
            })
            .map_err(|e| format!("{e:#}"))
    });
    started.clone().map_err(anyhow::Error::msg)
}

/// Answers once the Postgres server at `url` accepts a connection, or fails after `timeout`.
pub async fn wait_for_postgres(url: &str, timeout: std::time::Duration) -> Result<()> {
    use sqlx::Connection;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match sqlx::PgConnection::connect(url).await {
            Ok(conn) => return Ok(conn.close().await?),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e.into()),
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
}

/// Answers once the Redis server at `url` answers PING, or fails after `timeout`.
pub async fn wait_for_redis(url: &str, timeout: std::time::Duration) -> Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let ping = async {
            redis::cmd("PING")
                .query_async::<String>(&mut crate::redis::connect(url).await?)
                .await
        };
        match ping.await {
            Ok(_) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e.into()),
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
}
