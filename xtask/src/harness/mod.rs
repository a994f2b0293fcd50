//! The one test harness behind the learner's `verify`/`next`, the maintainer's `check` and
//! `grade`: it builds a package's tests ([`build`]), then runs them ([`run`]) in one of two
//! ways, reading every outcome from libtest's JSON events ([`events`]):
//! - [`Mode::Batched`]: one process per test executable, its tests on threads, the learner's
//!   fast loop (see [`batched`]);
//! - [`Mode::Isolated`]: one process per test, a few at a time, judged strictly: what grading
//!   (and `check`, which proves the tests with the runner that grades) uses (see [`isolated`]).
//!
//! Either way each test process leads a process group of its own that is killed whole when it
//! is done (a child the code leaves holding the output hangs nothing), its output is read up
//! to a cap, and every test has a time limit.

pub mod batched;
pub mod build;
pub mod events;
pub mod isolated;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

pub use build::{Build, build_tests_with};

/// Each output stream of a test process is read up to this much (the rest is drained).
pub const OUTPUT_CAP: u64 = 8 << 20;

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// The process died or a test never reported (crash, exit, hang).
    Error,
    Timeout,
    /// An engine test (`#[ignore]`d) that could not run here: neither passed nor failed.
    #[serde(rename = "not_graded")]
    NotGraded,
}

#[derive(Serialize, Debug, Clone)]
pub struct TestOutcome {
    pub name: String,
    pub status: Status,
    /// What to tell the learner: the assertion's message, without the panic's plumbing.
    pub message: String,
    pub duration_ms: u64,
}

impl TestOutcome {
    /// A `todo!()` body that was reached: the learner has not started this part.
    pub fn not_started(&self) -> bool {
        self.status == Status::Fail && self.message.starts_with("not yet implemented")
    }
}

/// The environment of a test process: the runner's own plus `vars`, or `vars` alone.
#[derive(Clone, Copy)]
pub enum Env<'a> {
    Inherit(&'a [(String, String)]),
    Only(&'a [(String, String)]),
}

/// How the tests run.
#[derive(Clone, Copy)]
pub enum Mode {
    /// One process per test executable, 4 tests at a time on its threads.
    Batched,
    /// One process per test, `jobs` at a time; with a `budget`, all of a topic's tests
    /// together may take that long (tests not started by then time out unrun).
    Isolated {
        jobs: usize,
        budget: Option<Duration>,
    },
}

/// One run of a package's tests.
pub struct Run<'a> {
    /// Where the tests run (the topic's exercise directory).
    pub cwd: &'a Path,
    pub env: Env<'a>,
    /// How long one test may take.
    pub limit: Duration,
    /// Whether the engine tests (`#[ignore]`d) run here; when they cannot, why: they are
    /// reported as not graded, with that reason.
    pub engine: &'a std::result::Result<(), String>,
    /// Only these tests (those of each executable that it holds); `None`: every test.
    pub only: Option<&'a [String]>,
    pub mode: Mode,
}

/// A test's outcome, with the test target (`tests/<target>.rs`) that holds it.
pub type Outcome = (String, TestOutcome);

/// Runs every test of `exes` as `run` says.
pub fn run(exes: &[PathBuf], run: &Run) -> Result<Vec<Outcome>> {
    match run.mode {
        Mode::Batched => {
            let mut outcomes = Vec::new();
            for exe in exes {
                let target = target_name(exe);
                for outcome in batched::run(exe, run)? {
                    outcomes.push((target.clone(), outcome));
                }
            }
            Ok(outcomes)
        }
        Mode::Isolated { jobs, budget } => isolated::run_all(exes, run, jobs, budget),
    }
}

impl Run<'_> {
    /// `exe` set to report in libtest's JSON events (per-test times included), in `cwd`, with
    /// `env`, both output streams piped; the caller adds its own arguments.
    fn command(&self, exe: &Path) -> Command {
        let mut command = Command::new(exe);
        let vars = match self.env {
            Env::Inherit(vars) => vars,
            Env::Only(vars) => {
                command.env_clear();
                vars
            }
        };
        command
            .args(self.engine.is_ok().then_some("--include-ignored"))
            .args([
                "-Z",
                "unstable-options",
                "--format",
                "json",
                "--report-time",
            ])
            // libtest's JSON output is unstable: this lets the stable toolchain's libtest emit it.
            .env("RUSTC_BOOTSTRAP", "1")
            .env("RUST_BACKTRACE", "0")
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .current_dir(self.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// The tests of `exe` this run covers.
    fn tests_of(&self, exe: &Path) -> Result<Vec<String>> {
        let mut names = list(exe)?;
        if let Some(only) = self.only {
            names.retain(|name| only.contains(name));
        }
        Ok(names)
    }

    /// The message of an engine test that does not run here.
    fn not_graded(&self) -> Option<String> {
        self.engine
            .as_ref()
            .err()
            .map(|reason| format!("not graded: {reason}"))
    }
}

/// Lists the tests an executable holds.
pub fn list(exe: &Path) -> Result<Vec<String>> {
    list_with(exe, &[])
}

/// Lists the `#[ignore]`d tests an executable holds (the engine tests).
pub fn list_ignored(exe: &Path) -> Result<Vec<String>> {
    list_with(exe, &["--ignored"])
}

fn list_with(exe: &Path, filter: &[&str]) -> Result<Vec<String>> {
    let out = crate::process::output(
        Command::new(exe)
            .args(["--list", "--format", "terse"])
            .args(filter),
    )?;
    if !out.status.success() {
        bail!(
            "Failed to list the tests of {} ({})",
            exe.display(),
            out.status
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_owned)
        .collect())
}

/// `password_hashing-0123abcd` is the `password_hashing` target.
pub fn target_name(exe: &Path) -> String {
    let file = exe.file_stem().unwrap_or_default().to_string_lossy();
    file.rsplit_once('-')
        .map_or(file.to_string(), |(name, _)| name.to_string())
}

/// What building and running a package's tests gave: the outcomes, or the compiler's errors.
pub type Tested = std::result::Result<Vec<Outcome>, String>;

/// Builds `package`'s tests with `cargo` (a cargo command set up by the caller; in the
/// workspace at `manifest_path`, or its own) and runs them as `run` says.
pub fn build_and_run(
    cargo: Command,
    package: &str,
    manifest_path: Option<&Path>,
    run: &Run,
) -> Result<Tested> {
    match build_tests_with(cargo, package, manifest_path)? {
        Build::Built(exes) => Ok(Ok(self::run(&exes, run)?)),
        Build::Failed(errors) => Ok(Err(errors)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A stand-in test binary whose one test passes but leaves a child holding the output.
    const LINGERING: &str = r#"#!/bin/sh
case "$*" in
  *--ignored*) exit 0 ;;
  *--list*) echo "a: test"; exit 0 ;;
esac
echo '{ "type": "suite", "event": "started", "test_count": 1 }'
echo '{ "type": "test", "event": "started", "name": "a" }'
sleep MARKER &
echo '{ "type": "test", "name": "a", "event": "ok", "exec_time": 0.001 }'
echo '{ "type": "suite", "event": "ok", "passed": 1, "failed": 0 }'
"#;

    #[test]
    fn a_child_left_holding_the_output_neither_hangs_the_run_nor_outlives_it() {
        use std::os::unix::fs::PermissionsExt;
        let isolated = Mode::Isolated {
            jobs: 2,
            budget: Some(Duration::from_secs(60)),
        };
        for (i, mode) in [Mode::Batched, isolated].into_iter().enumerate() {
            let dir = std::env::temp_dir().join(format!("kata-harness-{}-{i}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("dir");
            let marker = format!("37.{}{i}", std::process::id());
            let exe = dir.join("lingering");
            std::fs::write(&exe, LINGERING.replace("MARKER", &marker)).expect("write");
            std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
            let started = Instant::now();
            let engine = Err("no engine here".to_string());

            let outcomes = run(
                std::slice::from_ref(&exe),
                &Run {
                    cwd: &dir,
                    env: Env::Inherit(&[]),
                    limit: Duration::from_secs(60),
                    engine: &engine,
                    only: None,
                    mode,
                },
            )
            .expect("runs");

            assert_eq!(outcomes.len(), 1, "mode {i}");
            let (target, outcome) = &outcomes[0];
            assert_eq!(target, "lingering");
            assert_eq!(outcome.status, Status::Pass, "mode {i}: {outcome:?}");
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "mode {i}: the run waited {:?} for a child that kept the output open",
                started.elapsed()
            );
            let left = Command::new("pgrep")
                .args(["-f", &format!("sleep {marker}")])
                .output()
                .expect("pgrep");
            assert!(
                left.stdout.is_empty(),
                "mode {i}: the child outlived the run"
            );
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
