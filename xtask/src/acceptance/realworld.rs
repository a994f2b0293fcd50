//! The RealWorld API acceptance suite (realworld-apps/realworld, formerly gothinkster/realworld:
//! 13 Hurl files, 154 requests) run against a `conduit` server: the capstone's external
//! yardstick, for `check`, `verify`, `grade` and `cargo xtask realworld --url`.
//!
//! The suite is third-party and never committed: it is read from `KATA_REALWORLD_HURL_DIR`
//! when set (machines without internet), else downloaded once from the pinned upstream commit
//! into `.kata/cache/`; either way every file's SHA-256 is checked. `hurl` comes from
//! `.kata/tools/hurl` (a project-local `cargo install --root`) or the `PATH`.

mod hurl;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::cargo;
use crate::manifest::{self, Acceptance, Topic};
use crate::process;
use crate::services::servers::RunServers;
use crate::ui;

pub use hurl::{hurl, install_hint, install_hurl};

/// The upstream commit the suite is pinned to, and each file's SHA-256 there.
pub const COMMIT: &str = "5d510ce6ec41bb97723e92fbd8d3e3458a381c09";
pub const FILES: [(&str, &str); 13] = [
    (
        "articles.hurl",
        "9fd8dad11a38629dc33770ee34ad60eb1320e3e0f20b04da4f6b71b7778a8e3d",
    ),
    (
        "auth.hurl",
        "07f4fc200bc0b6fd05082f98a40731b6c65fce13836dd66920232f17a79ce480",
    ),
    (
        "comments.hurl",
        "327e73f67e0e13749db480087bfb690e9360c422bf9776f5ff80862055fd3cdd",
    ),
    (
        "errors_articles.hurl",
        "b04e73edf2219f3ffe482483ea34cba2486da478a1fe3e7ed2346116296047e4",
    ),
    (
        "errors_auth.hurl",
        "b96c9b7b486ef350b1ba7e2844227fb9ed50642274debbd16b8b85ccb9f73a6c",
    ),
    (
        "errors_authorization.hurl",
        "ee6e64b4bff8b253cc8e2189b7abf9f5b4cfe24c5cfdfc8c415567ea928bdb2f",
    ),
    (
        "errors_comments.hurl",
        "65872755780cc65bb8b9a6ec087ce2375bed42f4f86046d7714d8de02e87013a",
    ),
    (
        "errors_profiles.hurl",
        "1dcd3e85726472d1a118c2b85feb820130d954b2fa890d382e2b2729cb2ccf46",
    ),
    (
        "favorites.hurl",
        "ce1fa01173cd34e791610ea91fac465823610de35f8b67634a486d73798ffe68",
    ),
    (
        "feed.hurl",
        "d6139d2ae6515f5f55bf940272844b2e9c93c06a0c4995e6310c0c24aa75ce77",
    ),
    (
        "pagination.hurl",
        "98840a2bb0ea37a02625f05c8bd16b32bf574d2f81b6b2d170c76b67c3ac3b81",
    ),
    (
        "profiles.hurl",
        "8f23c34591c2ca5b643b040e4bf289838c5edf4f1d5cda153973d3cdfe2c2b9f",
    ),
    (
        "tags.hurl",
        "0fbefb82fedec23bcc5fda85d3d3dc1cfd3c1fe356df3f9beb3076b514056f89",
    ),
];
/// The suite's requests, and its asserts when every request gets the answer it expects (the
/// reference solution's run; `check` fails if either changes). A request whose status is
/// wrong skips its other asserts, so `grade` scores requests, not asserts.
pub const REQUESTS: usize = 154;
pub const ASSERTS: usize = 692;
/// The share of the capstone's points `grade` gives the suite (the README says half).
pub const SUITE_SHARE: f64 = 0.5;
/// Where a local copy of the suite's files can be given instead of a download.
pub const DIR_VAR: &str = "KATA_REALWORLD_HURL_DIR";

fn url(file: &str) -> String {
    format!(
        "https://raw.githubusercontent.com/realworld-apps/realworld/{COMMIT}/specs/api/hurl/{file}"
    )
}

/// One file of the suite against one server.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileResult {
    pub file: String,
    pub requests: usize,
    /// Requests whose every assert held.
    pub passed: usize,
    pub asserts_passed: usize,
    pub asserts_failed: usize,
    /// hurl's own message for the file's first failing request.
    pub first_failure: Option<String>,
}

/// The whole suite against one server.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct SuiteRun {
    pub files: Vec<FileResult>,
}

impl SuiteRun {
    pub fn requests(&self) -> usize {
        self.files.iter().map(|f| f.requests).sum()
    }
    pub fn passed(&self) -> usize {
        self.files.iter().map(|f| f.passed).sum()
    }
    pub fn asserts_passed(&self) -> usize {
        self.files.iter().map(|f| f.asserts_passed).sum()
    }
    pub fn asserts_failed(&self) -> usize {
        self.files.iter().map(|f| f.asserts_failed).sum()
    }
    pub fn all_passed(&self) -> bool {
        self.passed() == self.requests() && self.requests() > 0
    }
}

/// What `verify` says about the suite: its run, or why it did not run.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SuiteOutcome {
    Ran(SuiteRun),
    /// hurl is not installed: the message says how to install it.
    Skipped(String),
    /// The server did not build or start, or the suite could not be read.
    Failed(String),
}

/// The suite's directory: `$KATA_REALWORLD_HURL_DIR`, the cache, or a fresh download, every
/// file's SHA-256 checked in every case.
pub fn suite_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(DIR_VAR).filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        for (file, sha) in FILES {
            check_sha(&dir.join(file), sha)
                .with_context(|| format!("{DIR_VAR}={}", dir.display()))?;
        }
        return Ok(dir);
    }
    let dir = manifest::root()
        .join(".kata/cache")
        .join(format!("realworld-hurl-{COMMIT}"));
    std::fs::create_dir_all(&dir)?;
    for (file, sha) in FILES {
        let path = dir.join(file);
        if path.exists() && check_sha(&path, sha).is_ok() {
            continue;
        }
        let partial = path.with_extension("part");
        // One attempt: offline, curl's retries cost 3 s on every capstone verify, for the same
        // message; a passing verify runs the suite, and so tries again, on the next save.
        let status = process::status(
            Command::new("curl")
                .args("-fsSL --connect-timeout 5 --max-time 60 -o".split(' '))
                .arg(&partial)
                .arg(url(file)),
        );
        if !status.is_ok_and(|s| s.success()) {
            let _ = std::fs::remove_file(&partial);
            bail!(
                "could not download the RealWorld suite from {} (no internet, or no curl?).\n\
                 Download the 13 files of specs/api/hurl/ at commit {COMMIT} elsewhere and point \
                 to their directory: {DIR_VAR}=/path/to/hurl",
                url(file)
            );
        }
        if let Err(e) = check_sha(&partial, sha) {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        std::fs::rename(&partial, &path)?;
    }
    Ok(dir)
}

fn check_sha(path: &Path, expected: &str) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let found: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if found != expected {
        bail!(
            "{} has SHA-256 {found}, not {expected} (the file at commit {COMMIT})",
            path.display()
        );
    }
    Ok(())
}

/// How many requests each file of the suite holds, in the order of [`FILES`].
pub fn file_requests() -> Result<Vec<usize>> {
    let dir = suite_dir()?;
    FILES
        .iter()
        .map(|(file, _)| {
            let text = std::fs::read_to_string(dir.join(file))?;
            Ok(hurl::count_requests(&text))
        })
        .collect()
}

/// A `uid` no earlier run used: the suite's usernames and emails are built from it.
fn fresh_uid() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:x}{:x}", nanos & 0xffff_ffff_ffff, std::process::id())
}

/// Runs the suite against the server at `origin` (`http://HOST:PORT`, without `/api`).
pub fn run_against(hurl: &Path, origin: &str) -> Result<SuiteRun> {
    let dir = suite_dir()?;
    hurl::run(hurl, &dir, origin.trim_end_matches('/'), &fresh_uid())
}

/// For `cargo xtask check`: builds the solution's server (`conduit-solution`) and runs the
/// suite against it on the run's Postgres (installing hurl when missing).
pub fn check_solution(topic: &Topic, run: &RunServers) -> Result<SuiteRun> {
    suite_dir()?;
    let hurl = install_hurl()?;
    let (root, target) = (manifest::root(), cargo::target_dir());
    let mut build = cargo::cargo();
    build.current_dir(&root).env("CARGO_TARGET_DIR", &target);
    let binary = build_binary(
        build,
        &topic.solution_package(),
        Acceptance::Realworld.solution_server(),
        &target,
    )?;
    run_binary(&hurl, &binary, &run.env)
}

/// For `verify`: the learner's `conduit` against the suite, or why it did not run.
pub fn verify_learner(topic: &Topic, run: &RunServers) -> SuiteOutcome {
    let Some(hurl) = hurl() else {
        return SuiteOutcome::Skipped(install_hint());
    };
    let outcome = suite_dir().and_then(|_| {
        let (root, target) = (manifest::root(), cargo::target_dir());
        let mut build = cargo::cargo();
        build.current_dir(&root).env("CARGO_TARGET_DIR", &target);
        let binary = build_binary(build, topic.name(), Acceptance::Realworld.server(), &target)?;
        run_binary(&hurl, &binary, &run.env)
    });
    match outcome {
        Ok(run) => SuiteOutcome::Ran(run),
        Err(e) => SuiteOutcome::Failed(cargo::clean_paths(&format!("{e:#}"))),
    }
}

/// `cargo build -p package --bin bin` with `cmd` (a cargo command set up by the caller);
/// returns the binary's path.
pub fn build_binary(
    mut cmd: Command,
    package: &str,
    bin: &str,
    target_dir: &Path,
) -> Result<PathBuf> {
    let out = process::output(cmd.args(["build", "--quiet", "--package", package, "--bin", bin]))?;
    if !out.status.success() {
        bail!(
            "`cargo build -p {package} --bin {bin}` failed:\n{}",
            cargo::clean_paths(&String::from_utf8_lossy(&out.stderr))
        );
    }
    Ok(target_dir.join("debug").join(bin))
}

/// Starts `binary` (a `conduit` server) on a fresh database of the run's Postgres (`env`),
/// runs the suite against it with a fresh `uid`, stops it and drops the database.
pub fn run_binary(hurl: &Path, binary: &Path, env: &[(String, String)]) -> Result<SuiteRun> {
    let admin_url = env
        .iter()
        .find(|(var, _)| var == "KATA_POSTGRES_URL")
        .map(|(_, url)| url.clone())
        .context("the RealWorld suite needs Postgres, and this run started none")?;
    let dir = suite_dir()?;
    let conduit = crate::acceptance::conduit::Conduit::start(binary, &admin_url)?;
    let uid = format!("{}{}", &conduit.name[8..], fresh_uid());
    hurl::run(hurl, &dir, &format!("http://{}", conduit.address), &uid)
}

/// Per file: requests passed, and hurl's message for the first failing one.
pub fn show(outcome: &SuiteOutcome) {
    println!(
        "{}",
        ui::bold("The RealWorld acceptance suite (Hurl) against your `conduit`:")
    );
    let run = match outcome {
        SuiteOutcome::Ran(run) => run,
        SuiteOutcome::Skipped(why) => {
            println!("  {} not run: {why}", ui::yellow("-"));
            return;
        }
        SuiteOutcome::Failed(why) => {
            println!("  {} did not run:", ui::red("✗"));
            for line in why.lines() {
                println!("      {line}");
            }
            return;
        }
    };
    for file in &run.files {
        let mark = if file.passed == file.requests {
            ui::green("✓")
        } else {
            ui::red("✗")
        };
        println!(
            "  {mark} {:<26} {:>3}/{:<3} requests",
            file.file, file.passed, file.requests
        );
        if let Some(message) = &file.first_failure {
            for line in message.lines() {
                println!("      {line}");
            }
        }
    }
    println!(
        "{} of {} requests pass ({} of {} asserts).",
        run.passed(),
        run.requests(),
        run.asserts_passed(),
        run.asserts_passed() + run.asserts_failed()
    );
}

/// `cargo xtask realworld --url http://HOST:PORT`: the suite against a server the user started.
pub fn cli(url: &str) -> Result<std::process::ExitCode> {
    let hurl = hurl().with_context(install_hint)?;
    println!(
        "Running the RealWorld suite (commit {}) against {url}",
        &COMMIT[..12]
    );
    let run = run_against(&hurl, url)?;
    show(&SuiteOutcome::Ran(run.clone()));
    Ok(if run.all_passed() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}
