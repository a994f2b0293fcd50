//! Runs each test in a process of its own and decides its outcome from signals learner code
//! does not produce by accident.
//!
//! Each test runs alone (`<exe> --exact NAME --test-threads 1 --format json`) in its own
//! process group, with stdout and stderr captured apart and `--nocapture` not given, so what
//! the learner's code prints with `print!` lands in the event's `stdout` field, not among the
//! events. A test passes only when all of these hold:
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

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::events::{Event, Phase};
use super::{OUTPUT_CAP, Outcome, Run, Status, TestOutcome, list_ignored, target_name};
use crate::process::{self, Group};

/// How long the output may stay open once the test process is gone.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

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
struct Limits {
    test: Duration,
    /// When the budget ends, and how long it was.
    budget: Option<(Instant, Duration)>,
}

impl Limits {
    fn budget_spent(&self, now: Instant) -> Option<Duration> {
        self.budget
            .filter(|(ends, _)| now >= *ends)
            .map(|(_, budget)| budget)
    }
}

/// Every test `run` covers in every executable, `jobs` processes at a time, in the order
/// listed. Engine tests (`#[ignore]`d) that cannot run here come last, not graded.
pub fn run_all(
    exes: &[PathBuf],
    run: &Run,
    jobs: usize,
    budget: Option<Duration>,
) -> Result<Vec<Outcome>> {
    let mut work = Vec::new();
    let mut not_graded = Vec::new();
    for exe in exes {
        let ignored = list_ignored(exe)?;
        for name in run.tests_of(exe)? {
            match run.not_graded() {
                Some(message) if ignored.contains(&name) => not_graded.push((
                    target_name(exe),
                    TestOutcome {
                        name,
                        status: Status::NotGraded,
                        message,
                        duration_ms: 0,
                    },
                )),
                _ => work.push((exe.clone(), name)),
            }
        }
    }
    // The budget runs from the first test's start: a topic whose tests all hang costs it
    // once, not once per test.
    let limits = Limits {
        test: run.limit,
        budget: budget.map(|budget| (Instant::now() + budget, budget)),
    };
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, work.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((exe, name)) = work.get(i) else {
                        break;
                    };
                    let outcome = run_one(exe, name, run, limits);
                    if let Ok(mut results) = results.lock() {
                        results.push((i, target_name(exe), outcome));
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _, _)| *i);
    let mut outcomes: Vec<Outcome> = results
        .into_iter()
        .map(|(_, target, outcome)| Ok((target, outcome?)))
        .collect::<Result<_>>()?;
    outcomes.extend(not_graded);
    Ok(outcomes)
}

/// Runs test `name` of `exe` in its own process and judges it.
fn run_one(exe: &Path, name: &str, run: &Run, limits: Limits) -> Result<TestOutcome> {
    let started = Instant::now();
    if let Some(budget) = limits.budget_spent(started) {
        return Ok(TestOutcome {
            name: name.to_string(),
            status: Status::Timeout,
            message: format!(
                "not run: the topic's tests had used up their {} s together (do some of them hang?)",
                budget.as_secs()
            ),
            duration_ms: 0,
        });
    }
    let mut group = Group::spawn(
        run.command(exe)
            .args(["--exact", name, "--test-threads", "1"]),
    )?;
    let stdout = process::read_capped(group.child().stdout.take(), OUTPUT_CAP);
    let stderr = process::read_capped(group.child().stderr.take(), OUTPUT_CAP);
    let own_deadline = started + limits.test;
    let end = loop {
        if let Some(status) = group.child().try_wait()? {
            break End::Exited(status);
        }
        let now = Instant::now();
        if now >= own_deadline {
            break End::TimedOut;
        }
        if limits.budget_spent(now).is_some() {
            break End::BudgetSpent;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // Whatever the test left running (threads die with the process; child processes do not).
    let _ = group.stop();
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
    let events: Vec<Event> = stdout.lines().filter_map(Event::parse).collect();
    let result = events
        .iter()
        .find(|e| matches!(e.of_test(name), Some(Phase::Ok | Phase::Failed)));
    let exec_ms = result.and_then(Event::exec_ms);
    if let Some(failed) = events
        .iter()
        .find(|e| e.of_test(name) == Some(Phase::Failed))
    {
        let message = failed.failure_message();
        let message = if message.is_empty() {
            "the test failed".into()
        } else {
            message
        };
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
                    limits.budget.map_or(0, |(_, budget)| budget.as_secs())
                ),
                None,
            );
        }
        End::Exited(status) => *status,
    };
    if status.success() && well_formed(name, &events) {
        return (Status::Pass, String::new(), exec_ms);
    }
    let listed_none = events.iter().any(|e| {
        matches!(
            e,
            Event::Suite {
                event: Phase::Started,
                test_count: Some(0),
                ..
            }
        )
    });
    if listed_none {
        return (
            Status::Error,
            format!("the test `{name}` does not exist in this build"),
            None,
        );
    }
    let said = process::last_lines(stderr, 5);
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
    matches!(
        suite_started,
        Event::Suite {
            event: Phase::Started,
            test_count: Some(1),
            ..
        }
    ) && test_started.of_test(name) == Some(Phase::Started)
        && test_ok.of_test(name) == Some(Phase::Ok)
        && matches!(
            suite_ok,
            Event::Suite {
                event: Phase::Ok,
                passed: Some(1),
                failed: Some(0),
                ..
            }
        )
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
            budget: Some((Instant::now(), Duration::from_secs(1))),
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
