//! The capstone's server (`conduit`) started for a run: the RealWorld suite (`check`,
//! `verify`, `grade`) and the capstone's benchmark (`bench`) talk to it over HTTP.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

use crate::process::Group;

/// How long the binary may take to print `listening on ...` (it runs the migrations first).
const START_LIMIT: Duration = Duration::from_secs(60);

/// A `conduit` server on a database and a role of its own (not a superuser: in `grade` the
/// binary is the learner's code). Dropping it stops the server and everything it started
/// (its process group), then drops the database and the role.
pub struct Conduit {
    /// `127.0.0.1:NNNN`, as the binary printed it.
    pub address: String,
    /// The database's and the role's name.
    pub name: String,
    /// A superuser URL of the server, for seeding and statistics.
    pub admin_url: String,
    server: Group,
}

impl Conduit {
    pub fn start(binary: &Path, admin_url: &str) -> Result<Conduit> {
        let nonce = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos()
            ^ u128::from(std::process::id());
        let name = format!("conduit_{:x}", nonce & 0xffff_ffff_ffff);
        let password = format!("{:x}", nonce.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        admin(
            admin_url,
            &[
                format!(
                    "CREATE ROLE {name} LOGIN PASSWORD '{password}' NOSUPERUSER NOCREATEDB NOCREATEROLE"
                ),
                format!("CREATE DATABASE {name} OWNER {name}"),
                format!("REVOKE ALL ON DATABASE {name} FROM PUBLIC"),
            ],
        )?;
        let database_url =
            kata_testkit::postgres::replace_credentials(admin_url, Some((&name, &password)), &name);
        // The server's panics and logs are not the run's output (asserts report failures),
        // but they say why a server did not start.
        let log = std::env::temp_dir().join(format!("{name}.stderr"));
        let stderr = std::fs::File::create(&log).map_or(Stdio::null(), Stdio::from);
        let spawned = Group::spawn(
            Command::new(binary)
                .env("DATABASE_URL", &database_url)
                .env("PORT", "0")
                .env("HOST", "127.0.0.1")
                .env("JWT_SECRET", format!("realworld-run-{nonce:x}"))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(stderr),
        );
        let mut conduit = Conduit {
            address: String::new(),
            name,
            admin_url: admin_url.to_string(),
            server: match spawned {
                Ok(child) => child,
                Err(e) => {
                    drop_database(
                        admin_url,
                        &format!("conduit_{:x}", nonce & 0xffff_ffff_ffff),
                    );
                    return Err(e);
                }
            },
        };
        let stdout = conduit.server.child().stdout.take().context("no stdout")?;
        // The binary prints `listening on 127.0.0.1:NNNN` once bound: no port race, no polling.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("listening on ") {
                    let _ = tx.send(address.trim().to_owned());
                }
            }
        });
        let started = rx.recv_timeout(START_LIMIT);
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        conduit.address = started.with_context(|| {
            let lines: Vec<&str> = said.lines().take(12).collect();
            format!(
                "{} did not print `listening on <address>` within {} s (does main print it, \
                 with PORT=0?); it said:\n{}",
                binary.file_name().unwrap_or_default().to_string_lossy(),
                START_LIMIT.as_secs(),
                lines.join("\n")
            )
        })?;
        Ok(conduit)
    }

    /// A superuser URL of this conduit's own database.
    pub fn database_admin_url(&self) -> String {
        kata_testkit::postgres::replace_credentials(&self.admin_url, None, &self.name)
    }
}

impl Drop for Conduit {
    fn drop(&mut self) {
        let _ = self.server.stop();
        drop_database(&self.admin_url, &self.name);
    }
}

fn drop_database(admin_url: &str, name: &str) {
    let _ = admin(
        admin_url,
        &[
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("DROP ROLE IF EXISTS {name}"),
        ],
    );
}

/// Runs `statements` as the superuser of `admin_url`, one after the other.
pub fn admin(admin_url: &str, statements: &[String]) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut conn = PgConnection::connect(admin_url)
            .await
            .context("cannot connect to Postgres as its superuser")?;
        for sql in statements {
            sqlx::raw_sql(AssertSqlSafe(sql.clone()))
                .execute(&mut conn)
                .await
                .with_context(|| format!("{sql:?}"))?;
        }
        Ok(())
    })
}
