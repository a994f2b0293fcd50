//! One fresh Postgres database per test, cloned from a template that already holds the
//! topic's schema (cloning a small template takes milliseconds; migrating takes longer).
//!
//! Learner code connects as a per-test role that is not a superuser and owns only its own
//! database; measurements (statement counts, activity) go through a separate admin
//! connection, and the template is closed to everyone but the admin.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

use crate::services::{self, Service};

/// Owner of every template's objects; each per-test role is a member, so it may alter them.
const TEMPLATE_OWNER: &str = "kata_template_owner";
/// Serialises role and template creation among all test processes sharing a server.
const SETUP_LOCK: i64 = 0x6b61_7461;

/// A database of this test's own, with the topic's schema applied.
pub struct TestDb {
    name: String,
    role: String,
    url: String,
    pub(crate) admin_url: String,
    /// [`TestDb::inspect`]'s connection, opened on first use.
    inspector: tokio::sync::OnceCell<tokio::sync::Mutex<PgConnection>>,
    at_end: AtEnd,
}

/// What becomes of a test's database and role when the test ends.
enum AtEnd {
    /// Nothing: the run's own server goes away whole.
    Kept,
    /// Dropped by the test, on a server the run does not own (see `cleanup`).
    Dropped { server: String },
    /// Marked done on the warm servers: their holder drops it between runs (see `spares`),
    /// so the checkpoint of `DROP DATABASE` does not hold up the test.
    HandedOver { server: String },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.at_end, AtEnd::Kept) {
            AtEnd::Kept => {}
            AtEnd::Dropped { server } => crate::cleanup::drop_database(server, self.name.clone()),
            AtEnd::HandedOver { server } => crate::spares::hand_over(server, self.name.clone()),
        }
    }
}

impl TestDb {
    /// A fresh database holding `schema` (SQL run by the template's owner), for this test only.
    pub async fn new(schema: &str) -> TestDb {
        let mut attempt = 1;
        loop {
            match Self::create(schema).await {
                Ok(db) => return db,
                // Postgres refuses some catalog updates that race with another session's DDL
                // instead of waiting; parallel tests' set-ups can meet it. Each attempt uses new
                // names, so trying again is safe.
                Err(e)
                    if attempt < 3 && format!("{e:#}").contains("tuple concurrently updated") =>
                {
                    attempt += 1;
                }
                Err(e) => panic!("could not set up the test database: {e:#}"),
            }
        }
    }

    /// A fresh, empty database (for katas that create the schema themselves).
    pub async fn empty() -> TestDb {
        Self::new("").await
    }

    async fn create(schema: &str) -> Result<TestDb> {
        let (server, admin) = tokio::task::spawn_blocking(|| {
            let server = services::endpoint(Service::Postgres)?;
            let admin = crate::admin::for_server(&server.url)
                .with_context(|| format!("Failed to connect to Postgres from {}", server.origin))?;
            anyhow::Ok((server, admin))
        })
        .await??;
        let (id, password) = (
            crate::cleanup::new_name(),
            format!("{:032x}", rand::random::<u128>()),
        );
        let (schema, name, secret, for_setup) = (
            schema.to_string(),
            id.clone(),
            password.clone(),
            server.clone(),
        );
        admin
            .run(move |pool| async move {
                let mut conn = pool.acquire().await?;
                let made = set_up(&mut conn, &for_setup, &schema, &name, &secret).await;
                if made.is_err() {
                    // It may still hold the template lock: it goes, and the lock with it.
                    conn.close_on_drop();
                }
                made
            })
            .await?;
        let admin_url = replace_credentials(&server.url, None, &id);
        let url = replace_credentials(&server.url, Some((&id, &password)), &id);
        Ok(TestDb {
            name: id.clone(),
            role: id,
            url,
            admin_url,
            inspector: tokio::sync::OnceCell::new(),
            at_end: match (server.ephemeral, server.tended) {
                (true, _) => AtEnd::Kept,
                (false, true) => AtEnd::HandedOver { server: server.url },
                (false, false) => AtEnd::Dropped { server: server.url },
            },
        })
    }

    /// The database's URL, for the learner's role.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Connection options for the learner's role.
    pub fn options(&self) -> PgConnectOptions {
        self.url.parse().expect("the harness builds valid URLs")
    }

    /// A pool for the learner's role (at most `max` connections).
    pub async fn pool_with_max(&self, max: u32) -> PgPool {
        PgPoolOptions::new()
            .max_connections(max)
            .connect_with(self.options())
            .await
            .unwrap_or_else(|e| panic!("could not connect to the test database: {e}"))
    }

    /// A pool for the learner's role (at most 10 connections).
    pub async fn pool(&self) -> PgPool {
        self.pool_with_max(10).await
    }

    /// A superuser connection to this test's database, for inspecting what learner code did
    /// without it showing up in the learner role's statistics.
    pub async fn admin(&self) -> PgConnection {
        PgConnection::connect(&self.admin_url)
            .await
            .unwrap_or_else(|e| panic!("could not open the admin connection: {e}"))
    }

    /// The test's own superuser connection to this database, opened on first use and kept
    /// for the test's seeding and reads: each [`TestDb::admin`] is a new Postgres backend
    /// (about 3 ms of the server's CPU). Take it for one statement at a time
    /// (`.fetch_all(&mut *db.inspect().await)`): a second `inspect` while the first guard
    /// lives waits for it.
    pub async fn inspect(&self) -> tokio::sync::MutexGuard<'_, PgConnection> {
        self.inspector
            .get_or_init(|| async { tokio::sync::Mutex::new(self.admin().await) })
            .await
            .lock()
            .await
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The learner role's name (as seen in `pg_stat_activity.usename`).
    pub fn role(&self) -> &str {
        &self.role
    }

    /// Forces a race without sleeping: polls `pg_stat_activity` until `ready(waiting)` holds,
    /// `waiting` being how many of the learner role's sessions wait for a lock (held by the
    /// test), and returns that number. After 60 s it fails the test, saying `expected`.
    ///
    /// ```ignore
    /// db.wait_for_lock_waiters("every transfer to wait for the locks the test holds", |waiting| {
    ///     waiting + calls.iter().filter(|c| c.is_finished()).count() >= calls.len()
    /// }).await;
    /// ```
    pub async fn wait_for_lock_waiters(
        &self,
        expected: &str,
        mut ready: impl FnMut(usize) -> bool,
    ) -> usize {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE usename = $1 AND wait_event_type = 'Lock'",
            )
            .bind(&self.role)
            .fetch_one(&mut *self.inspect().await)
            .await
            .expect("the test could not read pg_stat_activity");
            let waiting = waiting as usize;
            if ready(waiting) {
                return waiting;
            }
            assert!(
                Instant::now() < deadline,
                "expected {expected}, but after 60 s only {waiting} of your sessions wait for a lock"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// How many statements the learner's role has executed in this database so far, counted
    /// as [`TestDb::statements_so_far`] counts them; `None` where the server does not load
    /// `pg_stat_statements` (the test is then not graded here rather than passed).
    pub async fn statements_executed(&self) -> Option<i64> {
        let mut admin =
            PgConnection::connect(&replace_credentials(&self.admin_url, None, "postgres"))
                .await
                .ok()?;
        let ran = self.learner_statements(&mut admin).await.ok();
        ran.map(|ran| ran.statements)
    }
}

/// On the admin connection: the template (once), the test's role and its database `id`.
async fn set_up(
    admin: &mut PgConnection,
    server: &services::Endpoint,
    schema: &str,
    id: &str,
    password: &str,
) -> Result<()> {
    if !server.ephemeral {
        crate::cleanup::sweep_postgres_once(&mut *admin, &server.url).await;
    }
    let template = ensure_template(&mut *admin, &server.url, schema).await?;

    // A member of the templates' owner: the clone's objects are the test role's to alter
    // and drop without `REASSIGN OWNED` (a connection to the clone and a catalog rewrite).
    // Other tests' databases stay closed to it: CONNECT is only their own role's.
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE ROLE {id} LOGIN PASSWORD '{password}' NOSUPERUSER NOCREATEDB NOCREATEROLE \
             IN ROLE {TEMPLATE_OWNER};
         -- A wrong answer that blocks should fail with a message, not hang the run.
         ALTER ROLE {id} SET statement_timeout = '30s';
         ALTER ROLE {id} SET lock_timeout = '10s';
         ALTER ROLE {id} SET idle_in_transaction_session_timeout = '30s';"
    )))
    .execute(&mut *admin)
    .await?;
    // Warm servers hold spare clones (see `spares`); others never do.
    if !(server.tended && crate::spares::claim(&mut *admin, &template, id).await?) {
        let file_copy = if server_version(&mut *admin, &server.url).await? >= 150_000 {
            "STRATEGY FILE_COPY"
        } else {
            ""
        };
        // A statement of its own: CREATE DATABASE cannot run in a transaction.
        sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE DATABASE {id} TEMPLATE {template} {file_copy}"
        )))
        .execute(&mut *admin)
        .await?;
    }
    sqlx::raw_sql(AssertSqlSafe(format!(
        "ALTER DATABASE {id} OWNER TO {id};
         REVOKE ALL ON DATABASE {id} FROM PUBLIC; GRANT ALL ON DATABASE {id} TO {id};"
    )))
    .execute(&mut *admin)
    .await?;
    Ok(())
}

/// A pool whose every connection is refused (`127.0.0.1:9`, where nothing listens), for code
/// that must answer before any query, or that must see Postgres down: a query fails after
/// 100 ms (a refusal is immediate; the pool retries it until then, and correct code that
/// checks a down Postgres waits that long on every run).
pub fn unreachable_pool() -> PgPool {
    PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(100))
        .connect_lazy("postgres://kata@127.0.0.1:9/no_database_here")
        .expect("a valid database URL")
}

/// Per server URL, once per process: what this process already knows of each server (its
/// version, the templates it has seen built), so later tests skip those round trips.
#[derive(Default, Clone)]
struct Known {
    version: Option<i32>,
    templates: std::collections::BTreeSet<String>,
}

fn known<T>(url: &str, f: impl FnOnce(&mut Known) -> T) -> T {
    static KNOWN: Mutex<BTreeMap<String, Known>> = Mutex::new(BTreeMap::new());
    let mut all = KNOWN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    f(all.entry(url.to_string()).or_default())
}

async fn server_version(admin: &mut PgConnection, url: &str) -> Result<i32> {
    if let Some(version) = known(url, |k| k.version) {
        return Ok(version);
    }
    let version: String = sqlx::query_scalar("SHOW server_version_num")
        .fetch_one(admin)
        .await?;
    let version: i32 = version.parse()?;
    known(url, |k| k.version = Some(version));
    Ok(version)
}

/// Creates, once per server and schema, a template database holding `schema`.
async fn ensure_template(
    admin: &mut PgConnection,
    server_url: &str,
    schema: &str,
) -> Result<String> {
    let mut hasher = std::hash::DefaultHasher::new();
    schema.hash(&mut hasher);
    let template = format!("kata_tpl_{:016x}", hasher.finish());
    // Templates are never dropped while a run uses them: once seen, no lock is needed.
    if known(server_url, |k| k.templates.contains(&template)) {
        return Ok(template);
    }
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(SETUP_LOCK)
        .execute(&mut *admin)
        .await?;
    let created = create_template(admin, server_url, &template, schema).await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(SETUP_LOCK)
        .execute(&mut *admin)
        .await?;
    created.with_context(|| {
        format!("Failed to create the template database from the schema:\n{schema}")
    })?;
    known(server_url, |k| k.templates.insert(template.clone()));
    Ok(template)
}

async fn create_template(
    admin: &mut PgConnection,
    server_url: &str,
    template: &str,
    schema: &str,
) -> Result<()> {
    let exists: bool =
        sqlx::query_scalar("SELECT exists(SELECT FROM pg_database WHERE datname = $1)")
            .bind(template)
            .fetch_one(&mut *admin)
            .await?;
    if exists {
        return Ok(());
    }
    let owner_exists: bool =
        sqlx::query_scalar("SELECT exists(SELECT FROM pg_roles WHERE rolname = $1)")
            .bind(TEMPLATE_OWNER)
            .fetch_one(&mut *admin)
            .await?;
    if !owner_exists {
        sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE ROLE {TEMPLATE_OWNER} NOLOGIN"
        )))
        .execute(&mut *admin)
        .await?;
        // Best effort: statement counting needs it, and servers without it are reported as such.
        let _ = sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .execute(&mut *admin)
            .await;
    }
    let building = format!("{template}_building");
    sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {building}")))
        .execute(&mut *admin)
        .await?;
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE DATABASE {building} OWNER {TEMPLATE_OWNER}"
    )))
    .execute(&mut *admin)
    .await?;
    {
        let mut conn =
            PgConnection::connect(&replace_credentials(server_url, None, &building)).await?;
        let sql = format!("SET ROLE {TEMPLATE_OWNER};\n{schema}");
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await?;
        conn.close().await?;
    }
    for sql in [
        format!("ALTER DATABASE {building} RENAME TO {template}"),
        // The template owner owns no shared object: its members (every test's role) must not
        // be able to alter the template database itself.
        format!("ALTER DATABASE {template} OWNER TO CURRENT_USER"),
        format!("REVOKE ALL ON DATABASE {template} FROM PUBLIC"),
        format!("ALTER DATABASE {template} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"),
    ] {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut *admin)
            .await?;
    }
    Ok(())
}

/// The same server URL with other credentials (`None` keeps the admin's) and database.
pub fn replace_credentials(url: &str, credentials: Option<(&str, &str)>, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((userinfo, host)) => (Some(userinfo), host),
        None => (None, authority),
    };
    let query = path
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    let userinfo = match credentials {
        Some((user, password)) => format!("{user}:{password}@"),
        None => userinfo.map(|u| format!("{u}@")).unwrap_or_default(),
    };
    format!("{scheme}://{userinfo}{host}/{database}{query}")
}

#[cfg(test)]
mod tests {
    use super::replace_credentials;

    #[test]
    fn replacing_credentials_keeps_host_and_socket_query() {
        let url = "postgres://kata:secret@localhost/postgres?host=/tmp/kata-pg";
        assert_eq!(
            replace_credentials(url, None, "db1"),
            "postgres://kata:secret@localhost/db1?host=/tmp/kata-pg"
        );
        assert_eq!(
            replace_credentials(url, Some(("u", "p")), "db1"),
            "postgres://u:p@localhost/db1?host=/tmp/kata-pg"
        );
        assert_eq!(
            replace_credentials("postgres://h:5432", None, "x"),
            "postgres://h:5432/x"
        );
    }
}
