//! Each topic's verdicts: every test fails on the stub, passes on the solution and on every
//! alternative, and each wrong answer fails the tests it names. The tests run as `grade` runs
//! them (the harness's isolated mode), so what `check` proves is what grading sees.

use std::path::Path;

use anyhow::{Result, bail};

use crate::cargo;
use crate::dev::wrong_answers;
use crate::harness::{self, Status, TestOutcome};
use crate::learner::verify::TEST_LIMIT;
use crate::manifest::Topic;
use crate::services::{engine, servers};
use crate::ui;

/// The check proves the tests with the runner that grades: each test in a process of its own,
/// judged strictly (see `harness::isolated`), with the run's servers.
fn test(
    topic: &Topic,
    package: &str,
    manifest_path: Option<&Path>,
    servers: &servers::RunServers,
    only: Option<&[String]>,
) -> Result<Vec<TestOutcome>> {
    let engine = engine::usable(topic);
    let cwd = topic.exercise_dir();
    let run = harness::Run {
        cwd: &cwd,
        env: harness::Env::Inherit(&servers.env),
        limit: TEST_LIMIT,
        engine: &engine,
        only,
        mode: harness::Mode::Isolated {
            jobs: JOBS,
            budget: None,
        },
    };
    let mut cargo = cargo::cargo();
    if manifest_path.is_some() {
        // A wrong answer's or alternative's crate builds once: an incremental cache for each
        // would only take disk (gigabytes over a whole check).
        cargo.env("CARGO_INCREMENTAL", "0");
    }
    match harness::build_and_run(cargo, package, manifest_path, &run)? {
        Ok(outcomes) => Ok(outcomes.into_iter().map(|(_, t)| t).collect()),
        Err(errors) => bail!("does not compile:\n{errors}"),
    }
}

/// How many test processes run at once (the tests are written for 4 at a time).
const JOBS: usize = 4;

pub(super) fn stub_fails(topic: &Topic, run: &servers::RunServers) -> Result<Vec<String>> {
    let tests = test(topic, topic.name(), None, run, None)?;
    if tests.is_empty() {
        return Ok(vec!["no tests ran".into()]);
    }
    Ok(tests
        .iter()
        .filter(|t| t.status == Status::Pass)
        .map(|t| format!("{} passes on the stub", t.name))
        .collect())
}

pub(super) fn solution_passes(topic: &Topic, run: &servers::RunServers) -> Result<Vec<String>> {
    let tests = test(topic, &topic.solution_package(), None, run, None)?;
    if tests.is_empty() {
        return Ok(vec!["no tests ran".into()]);
    }
    let not_graded: Vec<&str> = tests
        .iter()
        .filter(|t| t.status == Status::NotGraded)
        .map(|t| t.message.as_str())
        .collect();
    if let Some(reason) = not_graded.first() {
        println!(
            "{} {}: engine tests not run on the solution: {} ({reason})",
            ui::yellow("skip"),
            topic.id,
            not_graded.len()
        );
    }
    let mut problems = failing_tests(&tests);
    // A weight for a test that does not exist would cost every learner its points in `grade`.
    for name in topic.test_weights.keys() {
        if !tests.iter().any(|t| &t.name == name) {
            problems.push(format!(
                "exercises/katas.toml weighs a test that does not exist: {name}"
            ));
        }
    }
    Ok(problems)
}

/// Runs a verdict `times` times (`check --repeat`): a verdict that holds only on some runs is
/// luck, so every run's problems count (each said once, with the run it first appeared in).
pub(super) fn repeated(
    times: u32,
    mut verdict: impl FnMut() -> Result<Vec<String>>,
) -> Result<Vec<String>> {
    let mut problems: Vec<String> = Vec::new();
    for run in 1..=times {
        for problem in verdict()? {
            if !problems.iter().any(|p| p.ends_with(&problem)) {
                problems.push(if times > 1 {
                    format!("run {run} of {times}: {problem}")
                } else {
                    problem
                });
            }
        }
    }
    Ok(problems)
}

pub(super) fn wrong_answer_caught(
    topic: &Topic,
    wrong: &wrong_answers::WrongAnswer,
    run: &servers::RunServers,
) -> Result<Vec<String>> {
    let manifest_path = wrong_answers::workspace(topic, wrong)?;
    if wrong.must_fail.is_empty() {
        return unnamed_wrong_answer(topic, &manifest_path, run);
    }
    let tests = test(
        topic,
        &topic.solution_package(),
        Some(&manifest_path),
        run,
        // Only the tests it must fail: the others' verdicts change nothing here.
        Some(&wrong.must_fail),
    )?;
    let mut problems = Vec::new();
    for name in &wrong.must_fail {
        match tests.iter().find(|t| &t.name == name) {
            None => problems.push(format!("names a test that does not exist: {name}")),
            Some(t) if t.status == Status::Pass => {
                problems.push(format!("{name} passes on this wrong answer"))
            }
            // A wrong answer must be caught everywhere: name a test that always runs.
            Some(t) if t.status == Status::NotGraded => problems.push(format!(
                "{name} is an engine test, not run here: name a test that always runs"
            )),
            Some(_) => {}
        }
    }
    Ok(problems)
}

/// A new wrong answer (`# Must fail: ?`): run every test and say which ones to name, or that
/// none catches it. Always a problem, so an unnamed wrong answer never lands.
fn unnamed_wrong_answer(
    topic: &Topic,
    manifest_path: &Path,
    run: &servers::RunServers,
) -> Result<Vec<String>> {
    let tests = test(
        topic,
        &topic.solution_package(),
        Some(manifest_path),
        run,
        None,
    )?;
    let failing: Vec<&str> = tests
        .iter()
        .filter(|t| !matches!(t.status, Status::Pass | Status::NotGraded))
        .map(|t| t.name.as_str())
        .collect();
    Ok(vec![if failing.is_empty() {
        "no test fails on it: the tests miss this mistake".to_string()
    } else {
        format!(
            "name the tests it must fail: `# Must fail: {}`",
            failing.join(", ")
        )
    }])
}

pub(super) fn alternative_passes(
    topic: &Topic,
    alternative: &wrong_answers::Alternative,
    run: &servers::RunServers,
) -> Result<Vec<String>> {
    let manifest_path = wrong_answers::workspace(topic, alternative)?;
    let tests = test(
        topic,
        &topic.solution_package(),
        Some(&manifest_path),
        run,
        None,
    )?;
    if tests.is_empty() {
        return Ok(vec!["no tests ran".into()]);
    }
    Ok(failing_tests(&tests))
}

/// Every test that neither passed nor was left ungraded (engine tests), with its message:
/// what the solution and each alternative must not have.
fn failing_tests(tests: &[TestOutcome]) -> Vec<String> {
    tests
        .iter()
        .filter(|t| !matches!(t.status, Status::Pass | Status::NotGraded))
        .map(|t| format!("{} ({:?}): {}", t.name, t.status, t.message))
        .collect()
}
