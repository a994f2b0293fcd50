//! Runs one test in one process and decides its outcome from signals learner code does not
//! produce by accident.
//!
//! Each test runs alone (`<exe> --exact NAME --test-threads 1 --format json`, libtest's JSON
//! enabled on the stable toolchain by `RUSTC_BOOTSTRAP=1`) in its own process group, with
//! stdout and stderr captured apart and `--nocapture` not given, so what the learner's code
//! prints with `print!` lands in the event's `stdout` field, not among the events. A test
//! passes only when all of these hold:
//! - the process exited by itself, with status 0, within the time limit;
//! - its stdout holds exactly libtest's four events for one test, in order: suite `started`
//!   with `test_count` 1, test `started` with the exact name, test `ok` with the exact name,
//!   suite `ok` with `passed` 1 and `failed` 0 (any extra event, e.g. a fake one printed by the
//!   code, makes the run an error).
//!
//! A `failed` event gives a failure with the panic's message; a process that ended without
//! one (a `process::exit`, even with status 0, an abort, a signal) is an error; one that ran
//! past the limit is killed with its whole process group (stray children too) and is a
//! timeout. Code that deliberately writes the exact protocol to the real stdout and exits 0 is
//! not detected: see the threat model in `grade`'s documentation.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::libtest::{self, Status, TestOutcome};

/// Each stream is read up to this much (the rest is drained and dropped).
const OUTPUT_CAP: u64 = 8 << 20;
/// How long the output may stay open once the test process is gone.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    event: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    test_count: Option<u64>,
    #[serde(default)]
    passed: Option<u64>,
    #[serde(default)]
    failed: Option<u64>,
    #[serde(default)]
    stdout: Option<String>,
    #[serde(default)]
    exec_time: Option<f64>,
}

/// How the process ended.
enum End {
    Exited(ExitStatus),
    /// Killed at the test's own limit.
    TimedOut,
    /// Killed when the topic's budget ran out.
    BudgetSpent,
}

/// The time a test may take: its own limit, cut short where the topic's budget ends.
#[derive(Clone, Copy)]
pub struct Limits {
    pub test: Duration,
    pub budget_ends: Instant,
    pub budget: Duration,
}

/// Runs test `name` of `exe` in its own process and judges it.
pub fn run_one(
    exe: &Path,
    name: &str,
    cwd: &Path,
    env: &[(String, String)],
    limits: Limits,
    include_ignored: bool,
) -> Result<TestOutcome> {
    let started = Instant::now();
    if started >= limits.budget_ends {
        return Ok(TestOutcome {
            name: name.to_string(),
            status: Status::Timeout,
            message: format!(
                "not run: the topic's tests had used up their {} s together (do some of them hang?)",
                limits.budget.as_secs()
            ),
            duration_ms: 0,
        });
    }
    // `env` is the whole environment (grade's allow-list and the servers' URLs).
    let mut child = libtest::json_command(exe, cwd, &libtest::Env::Only(env), include_ignored)
        .args(["--exact", name, "--test-threads", "1"])
        .process_group(0)
        .spawn()
        .with_context(|| format!("Failed to run {}", exe.display()))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let own_deadline = started + limits.test;
    let end = loop {
        if let Some(status) = child.try_wait()? {
            break End::Exited(status);
        }
        let now = Instant::now();
        if now >= own_deadline {
            break End::TimedOut;
        }
        if now >= limits.budget_ends {
            break End::BudgetSpent;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // Whatever the test left running (threads die with the process; child processes do not).
    kill_group(child.id());
    if matches!(end, End::TimedOut | End::BudgetSpent) {
        let _ = child.kill();
        let _ = child.wait();
    }
    let duration_ms = started.elapsed().as_millis() as u64;
    let stdout = stdout.recv_timeout(DRAIN_GRACE).ok();
    let stderr = stderr.recv_timeout(DRAIN_GRACE).unwrap_or_default();
    let (status, message, exec_ms) = judge(name, &end, stdout.as_deref(), &stderr, limits);
    Ok(TestOutcome {
        name: name.to_string(),
        status,
        message,
        duration_ms: exec_ms.unwrap_or(duration_ms),
    })
}

/// Reads a stream on a thread, up to [`OUTPUT_CAP`]; the text arrives once the stream closes.
fn drain(stream: Option<impl Read + Send + 'static>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Some(mut stream) = stream else {
            let _ = tx.send(String::new());
            return;
        };
        let mut kept = Vec::new();
        let _ = (&mut stream).take(OUTPUT_CAP).read_to_end(&mut kept);
        let _ = std::io::copy(&mut stream, &mut std::io::sink());
        let _ = tx.send(String::from_utf8_lossy(&kept).into_owned());
    });
    rx
}

/// SIGKILL to the process group the test leads (no `libc`: the workspace forbids `unsafe`).
pub fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The verdict, the learner-facing message and libtest's own timing when it gave one.
fn judge(
    name: &str,
    end: &End,
    stdout: Option<&str>,
    stderr: &str,
    limits: Limits,
) -> (Status, String, Option<u64>) {
    let Some(stdout) = stdout else {
        return (
            Status::Error,
            "the test's output stayed open after it ended: a process it started kept running"
                .into(),
            None,
        );
    };
    let events: Vec<Event> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Event>(l.trim()).ok())
        .collect();
    let result = events.iter().find(|e| {
        e.kind == "test"
            && e.name.as_deref() == Some(name)
            && matches!(e.event.as_str(), "ok" | "failed")
    });
    let exec_ms = result
        .and_then(|e| e.exec_time)
        .map(|s| (s * 1000.0) as u64);
    if let Some(failed) = events
        .iter()
        .find(|e| e.kind == "test" && e.name.as_deref() == Some(name) && e.event == "failed")
    {
        let message = failed.stdout.as_deref().map(libtest::panic_message);
        let message = message
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "the test failed".into());
        return (Status::Fail, message, exec_ms);
    }
    let status = match end {
        End::TimedOut => {
            return (
                Status::Timeout,
                format!(
                    "did not finish within {} s (an endless loop, or waiting on something that never comes?)",
                    limits.test.as_secs()
                ),
                None,
            );
        }
        End::BudgetSpent => {
            return (
                Status::Timeout,
                format!(
                    "stopped: the topic's tests had used up their {} s together (do some of them hang?)",
                    limits.budget.as_secs()
                ),
                None,
            );
        }
        End::Exited(status) => *status,
    };
    if status.success() && well_formed(name, &events) {
        return (Status::Pass, String::new(), exec_ms);
    }
    if events
        .iter()
        .any(|e| e.kind == "suite" && e.event == "started" && e.test_count == Some(0))
    {
        return (
            Status::Error,
            format!("the test `{name}` does not exist in this build"),
            None,
        );
    }
    let said = last_lines(stderr, 5);
    let message = if result.is_some() {
        format!(
            "the test reported a result, but not in the harness's exact sequence (did the code print imitation test events, or exit early?); process {status}{said}"
        )
    } else if status.success() {
        format!(
            "the test process exited with status 0 before the test reported a result: does the code call `std::process::exit`?{said}"
        )
    } else {
        format!("the test process ended ({status}) before the test reported a result{said}")
    };
    (Status::Error, message, None)
}

/// Exactly libtest's four events for one passing test, in order.
fn well_formed(name: &str, events: &[Event]) -> bool {
    let [suite_started, test_started, test_ok, suite_ok] = events else {
        return false;
    };
    let named = |e: &Event, event: &str| {
        e.kind == "test" && e.event == event && e.name.as_deref() == Some(name)
    };
    suite_started.kind == "suite"
        && suite_started.event == "started"
        && suite_started.test_count == Some(1)
        && named(test_started, "started")
        && named(test_ok, "ok")
        && suite_ok.kind == "suite"
        && suite_ok.event == "ok"
        && suite_ok.passed == Some(1)
        && suite_ok.failed == Some(0)
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    format!(":\n{}", lines[lines.len().saturating_sub(n)..].join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    const GOOD: &str = r#"{ "type": "suite", "event": "started", "test_count": 1 }
{ "type": "test", "event": "started", "name": "a" }
{ "type": "test", "name": "a", "event": "ok", "exec_time": 0.002 }
{ "type": "suite", "event": "ok", "passed": 1, "failed": 0, "ignored": 0, "measured": 0, "filtered_out": 2, "exec_time": 0.003 }
"#;

    fn verdict(stdout: &str, code: i32) -> Status {
        let end = End::Exited(ExitStatus::from_raw(code << 8));
        let limits = Limits {
            test: Duration::from_secs(1),
            budget_ends: Instant::now(),
            budget: Duration::from_secs(1),
        };
        judge("a", &end, Some(stdout), "", limits).0
    }

    #[test]
    fn the_exact_sequence_and_status_0_pass() {
        assert_eq!(verdict(GOOD, 0), Status::Pass);
    }

    #[test]
    fn a_nonzero_exit_after_a_good_sequence_is_an_error() {
        assert_eq!(verdict(GOOD, 3), Status::Error);
    }

    #[test]
    fn an_exit_before_the_result_is_an_error() {
        let cut: String = GOOD.lines().take(2).map(|l| format!("{l}\n")).collect();
        assert_eq!(verdict(&cut, 0), Status::Error);
    }

    #[test]
    fn a_duplicated_ok_event_is_an_error() {
        let fake = GOOD.replace(
            "{ \"type\": \"test\", \"name\": \"a\", \"event\": \"ok\"",
            "{\"type\":\"test\",\"name\":\"a\",\"event\":\"ok\"}\n{ \"type\": \"test\", \"name\": \"a\", \"event\": \"ok\"",
        );
        assert_eq!(verdict(&fake, 0), Status::Error);
    }

    #[test]
    fn text_imitating_the_harness_is_not_an_event() {
        assert_eq!(
            verdict("test a ... ok\ntest result: ok. 1 passed\n", 0),
            Status::Error
        );
    }
}
