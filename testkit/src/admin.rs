//! One admin pool per test process and Postgres server, on a runtime of its own.
//!
//! Each `#[tokio::test]` has a runtime of its own, and a connection belongs to the runtime that
//! opened it: so each test used to open an admin connection to set up its database and another
//! to drop it (or hand it over). A Postgres backend costs about 3 ms of the server's CPU on
//! the 2-core machine. Here a process's set-ups and drops share a small pool living on a thread
//! of its own, and any runtime hands it work: transfer's 14 tests start 136 backends, not 159.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// Admin connections a process keeps: enough for its tests' set-ups running side by side.
const CONNECTIONS: u32 = 8;
/// Their `application_name`: the warm servers' holder waits for a run to end before it works,
/// and a process's idle admin connections do not count as a run (see `spares`).
pub(crate) const APPLICATION_NAME: &str = "kata-admin";

pub(crate) struct Admin {
    runtime: tokio::runtime::Handle,
    pool: PgPool,
}

/// The process's admin pool for the server at `url`, made (and connected once, so that a
/// server that is down says so at once) on first use.
pub(crate) fn for_server(url: &str) -> Result<Arc<Admin>> {
    static ADMINS: Mutex<BTreeMap<String, Arc<Admin>>> = Mutex::new(BTreeMap::new());
    let mut admins = ADMINS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(admin) = admins.get(url) {
        return Ok(admin.clone());
    }
    let (made, made_here) = std::sync::mpsc::channel();
    let owned_url = url.to_string();
    std::thread::Builder::new()
        .name("kata-admin".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => return drop(made.send(Err(anyhow!(e)))),
            };
            let pool = runtime.block_on(async {
                let options = owned_url
                    .parse::<PgConnectOptions>()?
                    .application_name(APPLICATION_NAME);
                PgPoolOptions::new()
                    .max_connections(CONNECTIONS)
                    // Parallel tests' set-ups wait here for the one building a template.
                    .acquire_timeout(Duration::from_secs(120))
                    .connect_with(options)
                    .await
            });
            let pool = pool.map_err(anyhow::Error::from);
            let ok = pool.is_ok();
            let _ = made.send(pool.map(|pool| (runtime.handle().clone(), pool)));
            if ok {
                // Serves the process's tests until it exits.
                runtime.block_on(std::future::pending::<()>());
            }
        })
        .context("Failed to start the admin connections' thread")?;
    let (runtime, pool) = made_here
        .recv()
        .context("The admin connections' thread stopped")??;
    let admin = Arc::new(Admin { runtime, pool });
    admins.insert(url.to_string(), admin.clone());
    Ok(admin)
}

impl Admin {
    /// Runs `work` with the pool on the admin runtime, awaited from any runtime.
    pub(crate) async fn run<T, F>(&self, work: impl FnOnce(PgPool) -> F) -> Result<T>
    where
        F: Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        self.runtime
            .spawn(work(self.pool.clone()))
            .await
            .context("The admin connections' task failed")?
    }

    /// [`Admin::run`] for code that cannot await (a `Drop`): blocks until `work` is done.
    pub(crate) fn run_blocking<T, F>(&self, work: impl FnOnce(PgPool) -> F) -> Result<T>
    where
        F: Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        let (done, done_here) = std::sync::mpsc::channel();
        let work = work(self.pool.clone());
        self.runtime.spawn(async move {
            let _ = done.send(work.await);
        });
        done_here
            .recv()
            .context("The admin connections' task failed")?
    }
}
