//! `cargo xtask bench`: the speed figures the runner is built around, measured on this
//! machine and printed next to their targets. A command that prints numbers, never a timed
//! test: how fast a machine is decides nothing about correctness.
//!
//! 1. local Postgres and Redis: time until ready to accept connections;
//! 2. a test's own database (`TestDb::new`), cloned from the transfer kata's schema template;
//! 3. the learner's loop, whole process: the solution in place, touch `src/lib.rs`,
//!    `cargo xtask verify TOPIC`, with servers kept warm and started per run;
//! 4. with `--check`, the whole `cargo xtask check --no-lint`;
//! 5. the capstone's `GET /api/articles` under wrk (`--capstone` for this figure alone).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kata_testkit::local;
use kata_testkit::services as kit;

use crate::manifest;

mod capstone;
mod learner;

/// Starts of each server.
const SERVER_RUNS: usize = 5;
/// Databases created for the per-test figure.
const DATABASES: usize = 30;
/// The same on warm servers: fewer than the spares a holder keeps per template.
const WARM_DATABASES: usize = 20;
/// Edit-and-verify rounds per topic.
const LOOP_RUNS: usize = 5;
/// Set on the child process that times `TestDb::new`: it holds the number of databases.
const CHILD_VAR: &str = "KATA_BENCH_TESTDB_CHILD";
/// The schema the per-test database figure is measured with.
const SCHEMA: &str = "exercises/11_transfer/schema.sql";

pub fn bench(check: bool, capstone_only: bool) -> Result<()> {
    if let Ok(count) = std::env::var(CHILD_VAR) {
        return testdb_child(count.parse().context("bad database count")?);
    }
    if capstone_only {
        for line in capstone::figures()? {
            println!("{line}");
        }
        return Ok(());
    }
    let load_before = load_average();
    let mut rows = Vec::new();
    servers(&mut rows)?;
    databases(&mut rows)?;
    learner::warm_loop(&mut rows)?;
    if check {
        check_wall_time(&mut rows)?;
    }
    // Other builds on the machine slow every figure: say how busy it was.
    let machine = format!(
        "{} cores, load average {load_before} before, {} after",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    print_table(&rows, &machine);
    print_markdown(&rows, &machine);
    for line in capstone::figures()? {
        println!("{line}");
    }
    Ok(())
}

/// The 1-minute load average, from `/proc/loadavg`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "unknown".into())
}

/// One line of the report: samples in milliseconds and, maybe, the target their median meets.
struct Row {
    what: String,
    samples: Vec<f64>,
    target: Option<Target>,
}

#[derive(Clone, Copy)]
struct Target {
    limit_ms: f64,
    /// `<=` rather than `<`.
    inclusive: bool,
}

impl Target {
    fn describe(self) -> String {
        let op = if self.inclusive { "<=" } else { "<" };
        format!("median {op} {}", ms(self.limit_ms))
    }
    fn met(self, value: f64) -> bool {
        if self.inclusive {
            value <= self.limit_ms
        } else {
            value < self.limit_ms
        }
    }
}

impl Row {
    fn new(what: impl Into<String>, samples: Vec<f64>, target: Option<Target>) -> Row {
        let mut samples = samples;
        samples.sort_by(f64::total_cmp);
        Row {
            what: what.into(),
            samples,
            target,
        }
    }
    /// Nearest-rank percentile of the sorted samples.
    fn percentile(&self, p: f64) -> f64 {
        let rank = ((p / 100.0) * self.samples.len() as f64).ceil() as usize;
        self.samples[rank.clamp(1, self.samples.len()) - 1]
    }
    fn median(&self) -> f64 {
        let n = self.samples.len();
        if n % 2 == 1 {
            self.samples[n / 2]
        } else {
            (self.samples[n / 2 - 1] + self.samples[n / 2]) / 2.0
        }
    }
    /// `[runs, min, median, p90, max, target, verdict]`, formatted.
    fn cells(&self) -> [String; 7] {
        let (target, verdict) = match self.target {
            Some(t) => (
                t.describe(),
                if t.met(self.median()) { "ok" } else { "over" }.to_string(),
            ),
            None => ("-".to_string(), String::new()),
        };
        [
            self.samples.len().to_string(),
            ms(self.samples[0]),
            ms(self.median()),
            ms(self.percentile(90.0)),
            ms(self.samples[self.samples.len() - 1]),
            target,
            verdict,
        ]
    }
}

fn ms(value: f64) -> String {
    if value < 100.0 {
        format!("{value:.1} ms")
    } else if value < 10_000.0 {
        format!("{value:.0} ms")
    } else {
        format!("{:.1} s", value / 1000.0)
    }
}

fn millis(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1000.0
}

/// Runs `f`, returning how long it took and what it returned.
fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(f64, T)> {
    let started = Instant::now();
    let value = f()?;
    Ok((millis(started.elapsed()), value))
}

const HEADERS: [&str; 8] = [
    "Figure", "Runs", "Min", "Median", "p90", "Max", "Target", "",
];

fn print_table(rows: &[Row], machine: &str) {
    let lines: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let mut line = vec![row.what.clone()];
            line.extend(row.cells());
            line
        })
        .collect();
    let widths: Vec<usize> = (0..HEADERS.len())
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].len())
                .chain([HEADERS[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let render = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                // Text columns left-aligned, figures right-aligned.
                if i == 0 || i >= 6 {
                    format!("{c:<w$}", w = widths[i])
                } else {
                    format!("{c:>w$}", w = widths[i])
                }
            })
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    println!();
    println!("cargo xtask bench ({machine})");
    println!("{}", render(&HEADERS.map(String::from)));
    println!(
        "{}",
        "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1))
    );
    for line in &lines {
        println!("{}", render(line));
    }
}

fn print_markdown(rows: &[Row], machine: &str) {
    println!();
    println!("Markdown (for README.md):");
    println!();
    println!("<!-- cargo xtask bench: {machine} -->");
    println!("| {} |", HEADERS.join(" | "));
    println!("|---|--:|--:|--:|--:|--:|---|---|");
    for row in rows {
        println!("| {} | {} |", row.what, row.cells().join(" | "));
    }
}

/// Whether an `initdb` cluster is cached already (then the "cold" start only copies it).
fn cluster_cached(cache: &Path) -> bool {
    std::fs::read_dir(cache)
        .into_iter()
        .flatten()
        .flatten()
        .any(|entry| {
            entry.file_name().to_string_lossy().starts_with("postgres-")
                && entry.path().join("data/PG_VERSION").exists()
        })
}

/// 1. Local servers: from spawning to "ready to accept connections".
fn servers(rows: &mut Vec<Row>) -> Result<()> {
    let cache = kit::state_dir().join("cache");
    let cached = cluster_cached(&cache);
    eprintln!(
        "bench: starting local Postgres ({SERVER_RUNS}+1 times) and Redis ({SERVER_RUNS} times)"
    );
    let (cold, server) = timed(|| local::start_postgres(&cache))?;
    drop(server);
    let cold_what = if cached {
        "Postgres ready, first start (initdb cache present)"
    } else {
        "Postgres ready, cold (includes initdb)"
    };
    rows.push(Row::new(cold_what, vec![cold], None));
    let ready = Target {
        limit_ms: 1000.0,
        inclusive: false,
    };
    let mut samples = Vec::new();
    for _ in 0..SERVER_RUNS {
        let (time, server) = timed(|| local::start_postgres(&cache))?;
        drop(server);
        samples.push(time);
    }
    rows.push(Row::new("Postgres ready (local)", samples, Some(ready)));
    let mut samples = Vec::new();
    for _ in 0..SERVER_RUNS {
        let (time, server) = timed(local::start_redis)?;
        drop(server);
        samples.push(time);
    }
    rows.push(Row::new("Redis ready (local)", samples, Some(ready)));
    Ok(())
}

/// 2. `TestDb::new` against a local Postgres. The testkit finds its server through
///    `KATA_POSTGRES_URL`, which this process may not set on itself (no `unsafe`): a child
///    process of this binary gets it through `Command::env` and prints its timings.
fn databases(rows: &mut Vec<Row>) -> Result<()> {
    eprintln!("bench: creating {DATABASES} test databases");
    let server = local::start_postgres(&kit::state_dir().join("cache"))?;
    // The servers a run starts itself (check, CI): each test's `CREATE DATABASE`.
    let samples = testdb_times(&server.url, DATABASES, true)?;
    let Some((&first, rest)) = samples.split_first() else {
        bail!("The per-test database child printed no timings");
    };
    rows.push(Row::new(
        "Per-test database, first (builds the template)",
        vec![first],
        None,
    ));
    rows.push(Row::new(
        "Per-test database, a run's own servers (CREATE DATABASE)",
        rest.to_vec(),
        None,
    ));
    // The learner's loop: servers kept warm, whose holder makes spares between runs.
    kata_testkit::spares::keep(server.url.clone());
    let samples = testdb_times(&server.url, WARM_DATABASES, false)?;
    rows.push(Row::new(
        "Per-test database, warm servers (TestDb::new, transfer schema)",
        samples,
        Some(Target {
            limit_ms: 20.0,
            inclusive: false,
        }),
    ));
    drop(server);
    Ok(())
}

/// Runs the child that times `count + 1` `TestDb::new` calls (in milliseconds) on `url`; on
/// a server the run started itself (`ephemeral`), or on warm ones once their spares are made.
fn testdb_times(url: &str, count: usize, ephemeral: bool) -> Result<Vec<f64>> {
    let mut child = Command::new(std::env::current_exe()?);
    child
        .arg("bench")
        .env(CHILD_VAR, count.to_string())
        .env("KATA_POSTGRES_URL", url)
        .env_remove(kit::EPHEMERAL_VAR)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    // Warm servers are the ones a holder tends (this process, see `databases`): the child
    // learns it from a services file of its own, as a learner's tests learn it from theirs.
    let state = std::env::temp_dir().join(format!("kata-bench-{}", std::process::id()));
    if ephemeral {
        child.env(kit::EPHEMERAL_VAR, "postgres");
    } else {
        let tended = kit::ServicesFile {
            postgres: Some(url.to_string()),
            origin: "local".into(),
            holder_pid: std::process::id(),
            tends_postgres: true,
            ..kit::ServicesFile::default()
        };
        std::fs::create_dir_all(&state)?;
        std::fs::write(state.join("services.json"), serde_json::to_string(&tended)?)?;
        child.env("KATA_STATE_DIR", &state);
    }
    let out = crate::process::output(&mut child);
    let _ = std::fs::remove_dir_all(&state);
    let out = out.context("Failed to start the per-test database child process")?;
    if !out.status.success() {
        bail!(
            "The per-test database child process failed ({})",
            out.status
        );
    }
    let samples: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|micros| micros.parse::<f64>().map(|m| m / 1000.0))
        .collect::<Result<_, _>>()
        .context("The per-test database child printed something else than timings")?;
    if samples.len() != count + 1 {
        bail!(
            "The per-test database child printed {} timings",
            samples.len()
        );
    }
    Ok(samples)
}

/// The child side of [`testdb_times`]: prints `count + 1` creation times in microseconds, the
/// first of which also builds the schema's template database. On warm servers it first waits
/// for the holder's spares (polling with short connections: the holder makes spares only
/// while nothing else is connected).
fn testdb_child(count: usize) -> Result<()> {
    let path = manifest::root().join(SCHEMA);
    let schema = std::fs::read_to_string(&path)
        .with_context(|| format!("Failed to read {}", path.display()))?;
    let warm = std::env::var_os(kit::EPHEMERAL_VAR).is_none();
    let url = std::env::var("KATA_POSTGRES_URL").context("KATA_POSTGRES_URL is not set")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let times: Vec<String> = runtime.block_on(async {
        if warm {
            drop(kata_testkit::TestDb::new(&schema).await);
            wait_for_spares(&url, count + 1).await?;
        }
        let mut times = Vec::new();
        let mut keep = Vec::new();
        for _ in 0..=count {
            let started = Instant::now();
            let db = kata_testkit::TestDb::new(&schema).await;
            times.push(started.elapsed().as_micros().to_string());
            keep.push(db);
        }
        anyhow::Ok(times)
    })?;
    println!("{}", times.join(" "));
    Ok(())
}

async fn wait_for_spares(url: &str, count: usize) -> Result<()> {
    let deadline = Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let spares = spare_count(url).await?;
        if spares as usize >= count {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("The warm servers made {spares} of {count} spare databases in 2 min");
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// How many spare databases the warm servers at `url` hold, over a short connection of its own
/// (the holder makes spares only while nothing else is connected).
async fn spare_count(url: &str) -> Result<i64> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let spares = sqlx::query_scalar(
        "SELECT count(*) FROM pg_database WHERE datname LIKE 'kata\\_tpl\\_%\\_s\\_%'",
    )
    .fetch_one(&mut conn)
    .await?;
    conn.close().await?;
    Ok(spares)
}

/// 4. The maintainers' whole check, without fmt and clippy.
fn check_wall_time(rows: &mut Vec<Row>) -> Result<()> {
    eprintln!("bench: running `cargo xtask check --no-lint`");
    let (time, out) = timed(|| {
        crate::process::output(
            Command::new(std::env::current_exe()?)
                .args(["check", "--no-lint"])
                .stdin(Stdio::null())
                .stderr(Stdio::null()),
        )
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout.lines().last().unwrap_or("no output");
    eprintln!("bench: check ended with: {summary}");
    for failure in stdout.lines().filter(|l| l.contains("FAIL")) {
        eprintln!("bench:   {failure}");
    }
    rows.push(Row::new(
        format!("cargo xtask check --no-lint ({summary})"),
        vec![time],
        None,
    ));
    Ok(())
}
