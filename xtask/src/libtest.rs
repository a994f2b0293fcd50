//! Runs a test executable and reads its outcome per test from libtest's JSON events, never from
//! the text a test (or learner code) prints, so fake "test result: ok" lines change nothing.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

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

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    event: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    stdout: Option<String>,
    #[serde(default)]
    exec_time: Option<f64>,
    /// The reason of an `ignored` event.
    #[serde(default)]
    message: Option<String>,
}

/// The environment of a test process: the runner's own plus `vars`, or `vars` alone.
pub enum Env<'a> {
    Inherit(&'a [(String, String)]),
    Only(&'a [(String, String)]),
}

/// `exe` set to report in libtest's JSON events (per-test times included), with the run's
/// servers in `env`, both output streams piped; the caller adds its own arguments.
pub fn json_command(exe: &Path, cwd: &Path, env: &Env, include_ignored: bool) -> Command {
    let mut command = Command::new(exe);
    let vars = match env {
        Env::Inherit(vars) => vars,
        Env::Only(vars) => {
            command.env_clear();
            vars
        }
    };
    command
        .args(include_ignored.then_some("--include-ignored"))
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
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
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
    let out = Command::new(exe)
        .args(["--list", "--format", "terse"])
        .args(filter)
        .output()
        .with_context(|| format!("Failed to run {}", exe.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_owned)
        .collect())
}

/// Runs every test of `exe` with `env`, each test given at most `limit` (the whole run at most
/// `limit` times the number of tests, as tests run in parallel). Tests that never report an
/// outcome (the process exited, crashed or hung) come back as `Error` or `Timeout`.
/// Only the tests named in `only` run (those of this executable; `None`: every test).
pub fn run_only(
    exe: &Path,
    cwd: &Path,
    env: &[(String, String)],
    limit: Duration,
    include_ignored: bool,
    only: Option<&[String]>,
) -> Result<Vec<TestOutcome>> {
    let mut expected = list(exe)?;
    if let Some(only) = only {
        expected.retain(|name| only.contains(name));
        if expected.is_empty() {
            return Ok(Vec::new());
        }
    }
    let filter: Vec<&str> = match only {
        Some(_) => std::iter::once("--exact")
            .chain(expected.iter().map(String::as_str))
            .collect(),
        None => Vec::new(),
    };
    // A group of its own: processes the tests leave behind are killed with it, and cannot
    // keep the output open after the tests are done.
    let mut child = json_command(exe, cwd, &Env::Inherit(env), include_ignored)
        .args(["--test-threads", "4"])
        .args(&filter)
        .process_group(0)
        .spawn()
        .with_context(|| format!("Failed to run {}", exe.display()))?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let stderr_reader =
        std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    let started = Instant::now();
    let deadline = started + limit * (expected.len().max(1) as u32).div_ceil(4).max(1);
    let mut outcomes: BTreeMap<String, TestOutcome> = BTreeMap::new();
    let mut timed_out = false;
    let mut exited_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if now >= deadline {
            timed_out = true;
            let _ = child.kill();
            break;
        }
        // Once the test process is gone, whatever it started goes too; what is left of the
        // output is read for a moment, not waited on.
        if exited_at.is_none() && child.try_wait()?.is_some() {
            crate::grade::kill_group(child.id());
            exited_at = Some(now);
        }
        if exited_at.is_some_and(|at| now >= at + Duration::from_secs(2)) {
            break;
        }
        match lines.recv_timeout((deadline - now).min(Duration::from_millis(50))) {
            Ok(line) => {
                let Ok(event) = serde_json::from_str::<Event>(&line) else {
                    continue;
                };
                if event.kind != "test" || !expected.contains(&event.name) {
                    continue;
                }
                let status = match event.event.as_str() {
                    "ok" => Status::Pass,
                    "failed" => Status::Fail,
                    "ignored" => Status::NotGraded,
                    "timeout" | "started" => continue,
                    _ => Status::Error,
                };
                let message = if status == Status::NotGraded {
                    format!(
                        "not graded here: {}",
                        event.message.as_deref().unwrap_or("ignored")
                    )
                } else {
                    event
                        .stdout
                        .as_deref()
                        .map(panic_message)
                        .unwrap_or_default()
                };
                let duration_ms = event.exec_time.map_or(0, |s| (s * 1000.0) as u64);
                outcomes.insert(
                    event.name.clone(),
                    TestOutcome {
                        name: event.name,
                        status,
                        message,
                        duration_ms,
                    },
                );
            }
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    crate::grade::kill_group(child.id());
    let status = child.wait()?;
    let grace = Instant::now() + Duration::from_secs(2);
    while !stderr_reader.is_finished() && Instant::now() < grace {
        std::thread::sleep(Duration::from_millis(10));
    }
    let stderr = if stderr_reader.is_finished() {
        stderr_reader.join().unwrap_or_default()
    } else {
        String::new()
    };
    let elapsed = started.elapsed().as_millis() as u64;
    for name in expected {
        outcomes.entry(name.clone()).or_insert_with(|| {
            let (status, message) = if timed_out {
                (
                    Status::Timeout,
                    format!("did not finish within {} s", limit.as_secs()),
                )
            } else {
                let said = last_lines(&stderr, 5);
                (
                    Status::Error,
                    format!(
                        "the test process ended ({status}) before this test reported a result{said}"
                    ),
                )
            };
            TestOutcome {
                name,
                status,
                message,
                duration_ms: elapsed,
            }
        });
    }
    Ok(outcomes.into_values().collect())
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    format!(":\n{}", lines[lines.len().saturating_sub(n)..].join("\n"))
}

/// From a failed test's captured output, the panic's message alone:
/// "thread 'x' panicked at tests/a.rs:10:5:\nexpected ..." becomes "expected ...".
pub fn panic_message(captured: &str) -> String {
    let Some(start) = captured.find("panicked at ") else {
        return captured.trim().to_owned();
    };
    let after = &captured[start..];
    let body = after.split_once('\n').map_or("", |(_, rest)| rest);
    let end = [
        "\nnote: run with `RUST_BACKTRACE",
        "\nstack backtrace:",
        "\nthread '",
    ]
    .iter()
    .filter_map(|marker| body.find(marker))
    .min()
    .unwrap_or(body.len());
    body[..end].trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let dir = std::env::temp_dir().join(format!("kata-libtest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let marker = format!("37.{}", std::process::id());
        let exe = dir.join("lingering");
        std::fs::write(&exe, LINGERING.replace("MARKER", &marker)).expect("write");
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let started = Instant::now();

        let outcomes =
            run_only(&exe, &dir, &[], Duration::from_secs(60), false, None).expect("runs");

        assert_eq!(outcomes.len(), 1);
        assert_eq!(outcomes[0].status, Status::Pass, "{:?}", outcomes[0]);
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the run waited {:?} for a child that kept the output open",
            started.elapsed()
        );
        let left = Command::new("pgrep")
            .args(["-f", &format!("sleep {marker}")])
            .output()
            .expect("pgrep");
        assert!(left.stdout.is_empty(), "the child outlived the run");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_panic_message_is_cut_out_of_the_captured_output() {
        let captured = "some print\nthread 'a_test' (77) panicked at tests/x.rs:3:5:\nexpected 1, got 2\n  left: 1\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(panic_message(captured), "expected 1, got 2\n  left: 1");
    }

    #[test]
    fn a_todo_panic_reads_as_not_yet_implemented() {
        let captured = "thread 'x' panicked at src/lib.rs:9:5:\nnot yet implemented: transfer\n";
        assert_eq!(panic_message(captured), "not yet implemented: transfer");
    }
}
