//! The learner's fast loop: one process per test executable, its tests on 4 threads, each
//! outcome read from libtest's events as they come. A test that never reports (the process
//! exited, crashed or hung) is an error or a timeout.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::events::{Event, Phase};
use super::{OUTPUT_CAP, Run, Status, TestOutcome};
use crate::process::{self, Group};

/// How many tests run at once in the one process.
const THREADS: u32 = 4;
/// How long the output is still read once the test process is gone.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// Runs the tests of `exe` that `run` covers in one process, each test given at most
/// `run.limit` (the whole run at most that times the number of tests over the threads).
pub fn run(exe: &Path, run: &Run) -> Result<Vec<TestOutcome>> {
    let expected = run.tests_of(exe)?;
    if expected.is_empty() && run.only.is_some() {
        return Ok(Vec::new());
    }
    let filter: Vec<&str> = match run.only {
        Some(_) => std::iter::once("--exact")
            .chain(expected.iter().map(String::as_str))
            .collect(),
        None => Vec::new(),
    };
    // A group of its own: processes the tests leave behind are killed with it, and cannot
    // keep the output open after the tests are done.
    let mut group = Group::spawn(
        run.command(exe)
            .args(["--test-threads", &THREADS.to_string()])
            .args(&filter),
    )?;
    let stdout = group.child().stdout.take().expect("piped");
    let stderr = process::read_capped(group.child().stderr.take(), OUTPUT_CAP);
    let lines = process::lines_capped(stdout, OUTPUT_CAP);

    let started = Instant::now();
    let deadline = started + run.limit * (expected.len().max(1) as u32).div_ceil(THREADS).max(1);
    let mut outcomes: BTreeMap<String, TestOutcome> = BTreeMap::new();
    let mut timed_out = false;
    let mut exited_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if now >= deadline {
            timed_out = true;
            break;
        }
        // Once the test process is gone, whatever it started goes too; what is left of the
        // output is read for a moment, not waited on.
        if exited_at.is_none() && group.child().try_wait()?.is_some() {
            process::kill_group(group.id());
            exited_at = Some(now);
        }
        if exited_at.is_some_and(|at| now >= at + DRAIN_GRACE) {
            break;
        }
        match lines.recv_timeout((deadline - now).min(Duration::from_millis(50))) {
            Ok(line) => {
                if let Some(outcome) = Event::parse(&line).and_then(|e| judge(e, &expected, run)) {
                    outcomes.insert(outcome.name.clone(), outcome);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = group.stop()?;
    let stderr = stderr.recv_timeout(DRAIN_GRACE).unwrap_or_default();
    let elapsed = started.elapsed().as_millis() as u64;
    for name in expected {
        outcomes.entry(name.clone()).or_insert_with(|| {
            let (status, message) = if timed_out {
                (
                    Status::Timeout,
                    format!("did not finish within {} s", run.limit.as_secs()),
                )
            } else {
                let said = process::last_lines(&stderr, 5);
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

/// The outcome an event gives, when it gives one for a test of this run.
fn judge(event: Event, expected: &[String], run: &Run) -> Option<TestOutcome> {
    let exec_ms = event.exec_ms();
    let failure = event.failure_message();
    let Event::Test {
        event: phase,
        name,
        message,
        ..
    } = event
    else {
        return None;
    };
    if !expected.contains(&name) {
        return None;
    }
    let status = match phase {
        Phase::Ok => Status::Pass,
        Phase::Failed => Status::Fail,
        Phase::Ignored => Status::NotGraded,
        Phase::Timeout | Phase::Started => return None,
        Phase::Other => Status::Error,
    };
    let message = if status == Status::NotGraded {
        run.not_graded().unwrap_or_else(|| {
            format!(
                "not graded here: {}",
                message.as_deref().unwrap_or("ignored")
            )
        })
    } else {
        failure
    };
    Some(TestOutcome {
        name,
        status,
        message,
        duration_ms: exec_ms.unwrap_or(0),
    })
}
