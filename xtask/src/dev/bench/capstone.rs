//! The capstone's figure: requests per second and p99 latency of `GET /api/articles` on a
//! seeded database, measured with wrk (Debian's package) against the reference solution's
//! release build, printed beside the statements each request cost (`pg_stat_statements`).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::acceptance::conduit::{self, Conduit};
use crate::cargo;
use crate::manifest::{self, Acceptance, Service};
use crate::process;
use crate::services::servers::{self, Prefer};

/// The seeded blog: authors, articles (each with two tags) and favorites.
const AUTHORS: u32 = 50;
const ARTICLES: u32 = 2_000;
/// wrk's load: threads, open connections, seconds.
const LOAD: [&str; 6] = ["-t2", "-c16", "-d10s", "--latency", "--timeout", "5s"];

/// One line per figure, ready to print.
pub fn figures() -> Result<Vec<String>> {
    let wrk = wrk()?;
    let run = servers::start(&[Service::Postgres], Prefer::Local)?;
    let admin_url = run
        .env
        .iter()
        .find(|(var, _)| var == "KATA_POSTGRES_URL")
        .map(|(_, url)| url.clone())
        .context("no Postgres for the capstone's figure")?;
    let binary = build()?;
    let conduit = Conduit::start(&binary, &admin_url)?;
    seed(&conduit)?;
    // The statistics live in the server's `postgres` database, for every database.
    conduit::admin(
        &admin_url,
        &[
            "CREATE EXTENSION IF NOT EXISTS pg_stat_statements".to_string(),
            "SELECT pg_stat_statements_reset()".to_string(),
        ],
    )?;
    let url = format!("http://{}/api/articles", conduit.address);
    let out = process::output(Command::new(&wrk).args(LOAD).arg(&url))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "wrk failed:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let statements = statements(&admin_url, &conduit.name)?;
    let wrk = parse(&text).with_context(|| format!("Failed to read wrk's output:\n{text}"))?;
    let per_request = statements as f64 / wrk.requests.max(1) as f64;
    Ok(vec![
        format!(
            "capstone GET /api/articles ({ARTICLES} articles, 20 per page, release build, wrk {}):",
            LOAD.join(" ")
        ),
        format!(
            "  {:.0} requests/s, p99 {}, {} requests, {} non-2xx, {per_request:.2} statements per request",
            wrk.per_second, wrk.p99, wrk.requests, wrk.non_2xx
        ),
    ])
}

fn wrk() -> Result<PathBuf> {
    if let Some(found) = kata_testkit::install::which("wrk") {
        return Ok(found);
    }
    if process::is_root()
        && process::status(Command::new("apt-get").args(["install", "-y", "-q", "wrk"]))
            .is_ok_and(|s| s.success())
        && let Some(found) = kata_testkit::install::which("wrk")
    {
        return Ok(found);
    }
    bail!("the capstone's figure needs wrk: sudo apt-get install -y wrk (or brew install wrk)")
}

/// The reference solution's server, optimised as it would be served.
fn build() -> Result<PathBuf> {
    let topics = manifest::load()?;
    let topic = manifest::with_acceptance(&topics, Acceptance::Realworld)?;
    let package = topic.solution_package();
    let bin = Acceptance::Realworld.solution_server();
    let status = process::status(
        cargo::cargo()
            .current_dir(manifest::root())
            .env("CARGO_TARGET_DIR", cargo::target_dir())
            .args([
                "build",
                "--quiet",
                "--release",
                "--package",
                &package,
                "--bin",
                bin,
            ]),
    )?;
    if !status.success() {
        bail!("`cargo build --release -p {package} --bin {bin}` failed");
    }
    Ok(cargo::target_dir().join("release").join(bin))
}

/// Authors, articles with two tags each, and favorites, straight into the server's database.
fn seed(conduit: &Conduit) -> Result<()> {
    let statements = [
        format!(
            "INSERT INTO users (username, email, password_hash) \
             SELECT 'author' || i, 'author' || i || '@example.com', 'not a login' \
             FROM generate_series(1, {AUTHORS}) i"
        ),
        format!(
            "INSERT INTO articles (slug, title, description, body, author_id, created_at) \
             SELECT 'article-' || i, 'Article ' || i, 'About ' || i, repeat('Text. ', 50), \
                    1 + i % {AUTHORS}, now() - make_interval(mins => i) \
             FROM generate_series(1, {ARTICLES}) i"
        ),
        "INSERT INTO article_tags (article_id, tag, position) \
         SELECT id, t, n - 1 FROM articles, \
                unnest(ARRAY['tag' || id % 10, 'tag' || id % 7 + 10]) WITH ORDINALITY AS x(t, n)"
            .to_string(),
        format!(
            "INSERT INTO favorites (user_id, article_id) \
             SELECT 1 + (a.id * 7 + u) % {AUTHORS}, a.id FROM articles a, generate_series(1, 3) u \
             ON CONFLICT DO NOTHING"
        ),
        "ANALYZE".to_string(),
    ];
    conduit::admin(&conduit.database_admin_url(), &statements)
}

/// Statements the server's role (named like its database) ran since the reset.
fn statements(admin_url: &str, role: &str) -> Result<i64> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(admin_url).await?;
        let calls: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(s.calls), 0)::int8 FROM pg_stat_statements s \
             JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = $1",
        )
        .bind(role)
        .fetch_one(&mut admin)
        .await?;
        Ok(calls)
    })
}

struct Wrk {
    requests: u64,
    per_second: f64,
    p99: String,
    non_2xx: u64,
}

/// The figures of wrk's text report.
fn parse(text: &str) -> Option<Wrk> {
    let after = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix).map(str::trim))
    };
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(Wrk {
        requests,
        per_second: after("Requests/sec:")?.parse().ok()?,
        p99: after("99%")?.to_string(),
        non_2xx: after("Non-2xx or 3xx responses:")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrks_report_is_read() {
        let text = "Running 10s test @ http://127.0.0.1:1/api/articles\n  Latency Distribution\n     \
                    50%    3.10ms\n     99%   12.52ms\n  48210 requests in 10.00s, 9.1MB read\n\
                    Requests/sec:   4820.41\nTransfer/sec:      0.91MB\n";
        let wrk = parse(text).expect("a report");
        assert_eq!(
            (wrk.requests, wrk.p99.as_str(), wrk.non_2xx),
            (48210, "12.52ms", 0)
        );
        assert!((wrk.per_second - 4820.41).abs() < 1e-9);
    }
}
