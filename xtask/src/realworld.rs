//! The official RealWorld API test collection (gothinkster/realworld, run with `newman`)
//! against a `conduit` binary: the capstone's external yardstick.
//!
//! The collection is third-party and never committed: it is read from
//! `KATA_REALWORLD_COLLECTION` when set (machines without internet), else downloaded once
//! from the pinned upstream commit into `.kata/cache/`; either way its SHA-256 is checked.
//! `newman` comes from `.kata/tools/newman` (a project-local npm prefix) or the `PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::cargo;
use crate::manifest::{self, Topic};
use crate::servers::RunServers;

/// The upstream commit the collection is pinned to, and the file's SHA-256 there.
pub const COMMIT: &str = "747190ecf0bb27d461cf1100f6cb3468c6c914ed";
pub const SHA256: &str = "d6e9a7e5ea83e60afff7e1ed171995e268d9be1486d2616475c995f0cdfea8b1";
/// The collection's assertions when every request gets the answer its scripts expect (the
/// reference solution's run; `check` fails if it changes). A server that fails requests runs
/// fewer, so `grade` scores against this number, not against what ran.
pub const ASSERTIONS: u64 = 311;
/// Where a local copy of the collection can be given instead of a download.
pub const COLLECTION_VAR: &str = "KATA_REALWORLD_COLLECTION";
/// The newman version installed by the command the errors suggest.
const NEWMAN: &str = "newman@6.2.2";

fn url() -> String {
    let file = "api/Conduit.postman_collection.json";
    format!("https://raw.githubusercontent.com/gothinkster/realworld/{COMMIT}/{file}")
}

/// The outcome of one newman run, from its JSON report.
#[derive(Debug, Default)]
pub struct Assertions {
    pub requests: u64,
    pub failed_requests: u64,
    pub passed: u64,
    pub failed: u64,
    /// One line per failed assertion or request: `request: assertion: message`.
    pub failures: Vec<String>,
    /// Every assertion in run order (`request: assertion`), which `grade` lists as tests.
    pub results: Vec<AssertionResult>,
    /// newman's own (cli reporter) output, for a human to read.
    pub output: String,
}

/// One assertion of the collection and, if it failed, why.
#[derive(Debug)]
pub struct AssertionResult {
    pub name: String,
    pub failure: Option<String>,
}

/// The collection's path: `$KATA_REALWORLD_COLLECTION`, the cache, or a fresh download, its
/// SHA-256 checked in every case.
pub fn collection() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(COLLECTION_VAR).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        check_sha(&path).with_context(|| format!("{COLLECTION_VAR}={}", path.display()))?;
        return Ok(path);
    }
    let cache = manifest::root().join(".kata/cache");
    let path = cache.join(format!("realworld-{COMMIT}.postman_collection.json"));
    if path.exists() && check_sha(&path).is_ok() {
        return Ok(path);
    }
    std::fs::create_dir_all(&cache)?;
    let partial = path.with_extension("part");
    let curl = "-fsSL --retry 2 --connect-timeout 10 --max-time 120 -o";
    let status = Command::new("curl")
        .args(curl.split(' '))
        .arg(&partial)
        .arg(url())
        .status();
    if !status.is_ok_and(|s| s.success()) {
        let _ = std::fs::remove_file(&partial);
        bail!(
            "could not download the RealWorld collection from {} (no internet, or no curl?).\n\
             Download it elsewhere and point to it: {COLLECTION_VAR}=/path/to/Conduit.postman_collection.json",
            url()
        );
    }
    if let Err(e) = check_sha(&partial) {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, &path)?;
    Ok(path)
}

fn check_sha(path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let found: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if found != SHA256 {
        bail!(
            "{} has SHA-256 {found}, not {SHA256} (the collection at commit {COMMIT})",
            path.display()
        );
    }
    Ok(())
}

/// The `newman` executable: the project-local install, else one on the `PATH`, else the
/// project-local install made now with npm.
pub fn newman() -> Result<PathBuf> {
    let prefix = manifest::root().join(".kata/tools/newman");
    let local = prefix.join("node_modules/.bin/newman");
    if local.exists() {
        return Ok(local);
    }
    if let Some(found) = kata_testkit::install::which("newman") {
        return Ok(found);
    }
    println!("     installing {NEWMAN} into .kata/tools/newman (npm)");
    let installed = Command::new("npm")
        .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
        .arg(&prefix)
        .arg(NEWMAN)
        .output();
    match installed {
        Ok(out) if out.status.success() && local.exists() => Ok(local),
        outcome => {
            let said = outcome
                .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                .unwrap_or_else(|e| format!("npm did not start: {e}"));
            bail!(
                "newman (the RealWorld collection's runner) is missing and npm could not install \
                 it:\n{said}\nInstall Node.js and npm, then: npm install --prefix .kata/tools/newman {NEWMAN}"
            )
        }
    }
}

/// For `cargo xtask check`: builds the solution's server (`conduit-solution`) and runs the
/// collection against it on the run's Postgres.
pub fn check_solution(topic: &Topic, run: &RunServers) -> Result<Assertions> {
    let (root, target) = (manifest::root(), cargo::target_dir());
    run_package(
        &root,
        &target,
        &topic.solution_package(),
        "conduit-solution",
        &run.env,
    )
}

/// Builds `bin` of `package` in the workspace `root` (into `target_dir`) and runs the
/// collection on it, on the Postgres of `env`'s `KATA_POSTGRES_URL`. For `grade`: the
/// learner's `capstone_conduit` / `conduit` in the graded workspace.
pub fn run_package(
    root: &Path,
    target_dir: &Path,
    package: &str,
    bin: &str,
    env: &[(String, String)],
) -> Result<Assertions> {
    // Fail before the build when a tool is missing: the message says how to get it.
    collection()?;
    newman()?;
    let mut build = cargo::cargo();
    build.current_dir(root).env("CARGO_TARGET_DIR", target_dir);
    let binary = build_binary(build, package, bin, target_dir)?;
    println!("     running the RealWorld collection against {bin}");
    run_binary(&binary, env)
}

/// `cargo build -p package --bin bin` with `cmd` (a cargo command set up by the caller);
/// returns the binary's path.
pub fn build_binary(
    mut cmd: Command,
    package: &str,
    bin: &str,
    target_dir: &Path,
) -> Result<PathBuf> {
    let out = cmd
        .args(["build", "--quiet", "--package", package, "--bin", bin])
        .output()?;
    if !out.status.success() {
        bail!(
            "`cargo build -p {package} --bin {bin}` failed:\n{}",
            cargo::clean_paths(&String::from_utf8_lossy(&out.stderr))
        );
    }
    Ok(target_dir.join("debug").join(bin))
}

/// Runs the collection against an already built `binary`, on the run's Postgres (`env`).
pub fn run_binary(binary: &Path, env: &[(String, String)]) -> Result<Assertions> {
    let admin_url = env
        .iter()
        .find(|(var, _)| var == "KATA_POSTGRES_URL")
        .map(|(_, url)| url.clone())
        .context("the RealWorld collection needs Postgres, and this run started none")?;
    run_collection(binary, &admin_url)
}

/// Builds nothing: starts `binary` (a `conduit` server) on a fresh database of the Postgres
/// server at `admin_url`, runs the collection against it, stops it and drops the database.
pub fn run_collection(binary: &Path, admin_url: &str) -> Result<Assertions> {
    let collection = collection()?;
    let newman = newman()?;
    let conduit = crate::conduit::Conduit::start(binary, admin_url)?;
    let report = std::env::temp_dir().join(format!("realworld-report-{}.json", conduit.name));
    let user = format!("u{}", &conduit.name[8..]);
    let output = Command::new(newman.as_path())
        .arg("run")
        .arg(&collection)
        // No `--delay-request 0`: newman 6 rejects 0 ("must be a positive integer"), and no
        // delay is its default anyway.
        .args(["--reporters", "cli,json"])
        // A server that stops answering must not stall the run: 10 s per request, 5 min in all.
        .args(["--timeout-request", "10000", "--timeout", "300000"])
        .arg("--reporter-json-export")
        .arg(&report)
        .args([
            "--global-var",
            &format!("APIURL=http://{}/api", conduit.address),
        ])
        .args(["--global-var", &format!("USERNAME={user}")])
        .args(["--global-var", &format!("EMAIL={user}@mail.com")])
        .args(["--global-var", "PASSWORD=password"])
        .output()
        .with_context(|| format!("cannot run {}", newman.display()))?;
    drop(conduit);
    let text = std::fs::read_to_string(&report).with_context(|| {
        format!(
            "newman wrote no report:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    let _ = std::fs::remove_file(&report);
    let mut assertions = parse_report(&text)?;
    assertions.output = String::from_utf8_lossy(&output.stdout).into_owned();
    Ok(assertions)
}

/// Reads newman's JSON report: `run.stats`, `run.executions[].assertions[]`, `run.failures`.
pub fn parse_report(text: &str) -> Result<Assertions> {
    let report: Value = serde_json::from_str(text).context("newman's JSON report")?;
    let run = &report["run"];
    let count = |what: &str, field: &str| {
        run["stats"][what][field]
            .as_u64()
            .with_context(|| format!("newman's report has no run.stats.{what}.{field}"))
    };
    let (total, failed) = (
        count("assertions", "total")?,
        count("assertions", "failed")?,
    );
    let list = |value: &Value| value.as_array().cloned().unwrap_or_default();
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    let mut results = Vec::new();
    for execution in list(&run["executions"]) {
        for assertion in list(&execution["assertions"]) {
            results.push(AssertionResult {
                name: format!(
                    "{}: {}",
                    text(&execution["item"]["name"]),
                    text(&assertion["assertion"])
                ),
                failure: assertion.get("error").map(|e| text(&e["message"])),
            });
        }
    }
    let failures = list(&run["failures"])
        .iter()
        .map(|f| {
            let (request, error) = (text(&f["source"]["name"]), &f["error"]);
            match error["test"].as_str() {
                Some(test) => format!("{request}: {test}: {}", text(&error["message"])),
                None => format!("{request}: {}", text(&error["message"])),
            }
        })
        .collect();
    Ok(Assertions {
        requests: count("requests", "total")?,
        failed_requests: count("requests", "failed")?,
        passed: total - failed,
        failed,
        failures,
        results,
        output: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_gives_the_assertion_counts_and_the_failures() {
        let report = r#"{"run": {"stats": {"requests": {"total": 32, "failed": 0},
            "assertions": {"total": 10, "failed": 1}},
            "failures": [{"source": {"name": "Login"},
                          "error": {"test": "User has \"token\" property", "message": "expected false"}}]}}"#;
        let got = parse_report(report).expect("a valid report");
        assert_eq!((got.requests, got.passed, got.failed), (32, 9, 1));
        assert_eq!(
            got.failures,
            vec!["Login: User has \"token\" property: expected false"]
        );
    }

    /// `cargo test -p xtask realworld -- --ignored --nocapture`: the path `cargo xtask check`
    /// takes for the capstone (build, start, run newman, parse), on local Postgres.
    #[test]
    #[ignore = "needs newman, the collection and Postgres; builds the capstone's solution"]
    fn the_solution_passes_the_collection() {
        let run = crate::servers::start(
            &[crate::manifest::Service::Postgres],
            crate::servers::Prefer::Local,
        )
        .expect("a Postgres server");
        let (root, target) = (crate::manifest::root(), crate::cargo::target_dir());
        let package = "capstone_conduit_solution";
        let got =
            run_package(&root, &target, package, "conduit-solution", &run.env).expect("a run");
        println!("{}", got.output);
        assert_eq!(
            (got.failed, got.failed_requests),
            (0, 0),
            "{:#?}",
            got.failures
        );
        assert_eq!(
            got.results.len() as u64,
            got.passed,
            "one result per assertion"
        );
    }
}
