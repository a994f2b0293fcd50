//! `cargo xtask check`: the repository's own test command. For every topic: the files are
//! complete, every test fails on the stub, every test passes on the solution, and every
//! plausible wrong answer is caught by the tests it names. Plus lint, the runner's and the
//! harness's own tests, and the container path where a Docker engine answers.
//! Ends with one line: `N passed, N failed`.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Result, bail};

use crate::acceptance::realworld;
use crate::cargo;
use crate::dev::workflows;
use crate::dev::wrong_answers;
use crate::grade::template;
use crate::harness::{self, Status, TestOutcome};
use crate::learner::verify::TEST_LIMIT;
use crate::manifest::{self, Service, Topic};
use crate::services::engine;
use crate::services::servers::{self, Prefer};
use crate::ui;

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

impl Tally {
    fn record(&mut self, what: &str, problems: Vec<String>) {
        if problems.is_empty() {
            self.passed += 1;
            println!("{} {what}", ui::green("ok  "));
        } else {
            self.failed += 1;
            println!("{} {what}", ui::red("FAIL"));
            for problem in problems {
                for line in problem.lines() {
                    println!("       {line}");
                }
            }
        }
    }
    fn result(&mut self, what: &str, outcome: Result<Vec<String>>) {
        let problems = outcome.unwrap_or_else(|e| vec![format!("{e:#}")]);
        self.record(what, problems);
    }
    /// One line for the acceptance suite's run; its asserts also count in the tally.
    fn suite(&mut self, what: &str, outcome: Result<realworld::SuiteRun>) {
        let run = match outcome {
            Ok(run) => run,
            Err(e) => return self.record(what, vec![format!("{e:#}")]),
        };
        let (asserts, failed) = (
            run.asserts_passed() + run.asserts_failed(),
            run.asserts_failed(),
        );
        let mut problems = Vec::new();
        for file in run.files.iter().filter(|f| f.passed < f.requests) {
            problems.push(format!(
                "{}: {} of {} requests pass",
                file.file, file.passed, file.requests
            ));
            problems.extend(file.first_failure.clone());
        }
        if run.requests() != realworld::REQUESTS || asserts != realworld::ASSERTS {
            problems.push(format!(
                "the suite ran {} requests and {asserts} asserts; realworld::REQUESTS and \
                 ASSERTS say {} and {}: grading scores against them",
                run.requests(),
                realworld::REQUESTS,
                realworld::ASSERTS
            ));
        }
        self.record(
            &format!(
                "{what} ({} of {} requests, {} of {asserts} asserts)",
                run.passed(),
                run.requests(),
                asserts - failed
            ),
            problems,
        );
        self.passed += asserts - failed;
        self.failed += failed;
    }
}

pub fn check(only: Vec<String>, no_lint: bool, repeat: u32) -> Result<ExitCode> {
    let all = manifest::load()?;
    let whole = only.is_empty();
    let topics: Vec<&Topic> = if whole {
        all.iter().collect()
    } else {
        only.iter()
            .map(|name| manifest::find(&all, name))
            .collect::<Result<_>>()?
    };
    let mut tally = Tally::default();

    tally.result(
        "every topic directory is in exercises/katas.toml",
        Ok(orphans(&all)),
    );
    for topic in &topics {
        tally.result(
            &format!(
                "{}: task, hint, stub and solution files are complete",
                topic.id
            ),
            Ok(files(topic)),
        );
    }
    if !no_lint {
        tally.result(
            "cargo fmt --check",
            command(cargo::cargo().args(["fmt", "--all", "--check"])),
        );
        tally.result(
            "cargo clippy (all targets, warnings denied)",
            command(cargo::cargo().args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--quiet",
                "--",
                "-D",
                "warnings",
            ])),
        );
        tally.result(
            "GitHub workflows: actionlint and zizmor find nothing",
            workflows::lint(),
        );
    }
    // Repository-wide, so only in a whole check: `--topic` is a maintainer's quick loop.
    if whole {
        tally.result(
            "the runner's and the harness's own tests",
            command(cargo::cargo().args([
                "test",
                "--quiet",
                "--package",
                "xtask",
                "--package",
                "kata-testkit",
            ])),
        );
        tally.result(
            &format!("the student template builds and `verify {TEMPLATE_TOPIC}` fails on its stub"),
            student_template(),
        );
    }

    for topic in &topics {
        // Fresh servers for each topic (the container path gets its own pass below; here, the
        // fastest): a topic's hundreds of test databases go with them, so a whole check does
        // not pile up tens of gigabytes of them.
        let run = servers::start(&manifest::services_needed(&[*topic]), Prefer::Local)?;
        for line in &run.described {
            println!("     {line}");
        }
        tally.result(
            &format!("{}: every test fails on the stub", topic.id),
            stub_fails(topic, &run),
        );
        tally.result(
            &format!("{}: every test passes on the solution", topic.id),
            repeated(repeat, || solution_passes(topic, &run)),
        );
        match wrong_answers::load(topic) {
            Ok(wrongs) => {
                tally.record(
                    &format!("{}: ships at least two wrong answers", topic.id),
                    if wrongs.len() >= 2 {
                        vec![]
                    } else {
                        vec![format!("found {}", wrongs.len())]
                    },
                );
                for wrong in wrongs {
                    let what = format!(
                        "{}: wrong answer `{}` is caught ({})",
                        topic.id, wrong.name, wrong.mistake
                    );
                    tally.result(
                        &what,
                        repeated(repeat, || wrong_answer_caught(topic, &wrong, &run)),
                    );
                }
            }
            Err(e) => tally.record(
                &format!("{}: wrong answers", topic.id),
                vec![format!("{e:#}")],
            ),
        }
        match wrong_answers::load_alternatives(topic) {
            Ok(alternatives) => {
                for alternative in alternatives {
                    let what = format!(
                        "{}: alternative `{}` passes every test ({})",
                        topic.id, alternative.name, alternative.mistake
                    );
                    tally.result(
                        &what,
                        repeated(repeat, || alternative_passes(topic, &alternative, &run)),
                    );
                }
            }
            Err(e) => tally.record(
                &format!("{}: alternative solutions", topic.id),
                vec![format!("{e:#}")],
            ),
        }
        if topic.acceptance.is_some() {
            tally.suite(
                &format!(
                    "{}: the RealWorld suite (Hurl, commit {}) passes on the solution",
                    topic.id,
                    &realworld::COMMIT[..12]
                ),
                realworld::check_solution(topic, &run),
            );
        }
    }

    container_path(&topics, &mut tally);

    println!("{} passed, {} failed", tally.passed, tally.failed);
    Ok(if tally.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A topic without services that the student template's check verifies.
const TEMPLATE_TOPIC: &str = "password_hashing";

/// `export-template` into a temporary directory, then that copy's own runner verifies one
/// topic: it must build without `solutions/` and report the stub as not started, exiting
/// non-zero. Built in a target directory of its own (`target/kata-template`), kept between
/// checks: cargo names a path crate's outputs after its path inside the workspace, the same in
/// both copies, so sharing this checkout's would have each build overwrite the other's. The
/// first check seeds it with a copy of this checkout's (the registry crates' outputs are the
/// same), so only the path crates build there.
fn student_template() -> Result<Vec<String>> {
    let dir = std::env::temp_dir().join(format!("kata-template-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let outcome = (|| {
        template::export(&dir, None)?;
        let target = manifest::root().join("target/kata-template");
        if !target.exists() {
            let copied = Command::new("cp")
                .arg("-a")
                .arg(cargo::target_dir())
                .arg(&target)
                .status()?;
            if !copied.success() {
                let _ = std::fs::remove_dir_all(&target);
            }
        }
        let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(&dir)
            .args(["run", "--quiet", "--package", "xtask", "--target-dir"])
            .arg(&target)
            .args(["--", "verify", TEMPLATE_TOPIC])
            .env("KATA_TARGET_DIR", &target)
            .output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut problems = Vec::new();
        if out.status.success() {
            problems.push("`verify` exited 0 on a stub".to_string());
        }
        if !text.contains("Not started") {
            let lines: Vec<&str> = text.lines().collect();
            problems.push(format!(
                "`verify {TEMPLATE_TOPIC}` did not report the stub as not started:\n{}",
                lines[lines.len().saturating_sub(30)..].join("\n")
            ));
        }
        Ok(problems)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

fn command(cmd: &mut Command) -> Result<Vec<String>> {
    let out = cmd.output()?;
    if out.status.success() {
        return Ok(vec![]);
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    Ok(vec![format!(
        "{cmd:?} failed:\n{}",
        lines[lines.len().saturating_sub(40)..].join("\n")
    )])
}

fn orphans(topics: &[Topic]) -> Vec<String> {
    let mut problems = Vec::new();
    for area in ["exercises", "solutions"] {
        for entry in std::fs::read_dir(manifest::root().join(area))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() && !topics.iter().any(|t| t.id == name) {
                problems.push(format!(
                    "{area}/{name} is not listed in exercises/katas.toml"
                ));
            }
        }
    }
    problems
}

fn files(topic: &Topic) -> Vec<String> {
    let mut problems = Vec::new();
    let read = |path: std::path::PathBuf| std::fs::read_to_string(&path).unwrap_or_default();
    let exercise = topic.exercise_dir();
    let readme = read(exercise.join("README.md"));
    for section in [
        "## What to implement",
        "## Rules the tests enforce",
        "## Further reading",
    ] {
        if !readme.contains(section) {
            problems.push(format!(
                "exercises/{}/README.md lacks the section `{section}`",
                topic.id
            ));
        }
    }
    if read(exercise.join("hint.md")).trim().len() < 80 {
        problems.push(format!(
            "exercises/{}/hint.md is missing or too short to help",
            topic.id
        ));
    }
    let stub = read(exercise.join("src/lib.rs"));
    if !stub.contains("todo!(") || !stub.contains("// TODO") {
        problems.push(format!(
            "exercises/{}/src/lib.rs must be a stub: `todo!()` bodies and `// TODO` edit points",
            topic.id
        ));
    }
    let solution = read(topic.solution_dir().join("src/lib.rs"));
    if solution.is_empty() || solution.contains("todo!(") || solution.contains("unimplemented!(") {
        problems.push(format!(
            "solutions/{}/src/lib.rs is missing or unfinished",
            topic.id
        ));
    }
    if manifest::test_files(topic)
        .iter()
        .all(|p| p.extension().is_none_or(|e| e != "rs"))
    {
        problems.push(format!("exercises/{}/tests/ holds no test", topic.id));
    }
    problems
}

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
    match harness::build_and_run(cargo::cargo(), package, manifest_path, &run)? {
        Ok(outcomes) => Ok(outcomes.into_iter().map(|(_, t)| t).collect()),
        Err(errors) => bail!("does not compile:\n{errors}"),
    }
}

/// How many test processes run at once (the tests are written for 4 at a time).
const JOBS: usize = 4;

fn stub_fails(topic: &Topic, run: &servers::RunServers) -> Result<Vec<String>> {
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

fn solution_passes(topic: &Topic, run: &servers::RunServers) -> Result<Vec<String>> {
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
fn repeated(times: u32, mut verdict: impl FnMut() -> Result<Vec<String>>) -> Result<Vec<String>> {
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

fn wrong_answer_caught(
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

fn alternative_passes(
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

/// testcontainers is the path learners' laptops and GitHub Actions take: where an engine
/// answers, run the solutions of the topics that need servers against containers.
fn container_path(topics: &[&Topic], tally: &mut Tally) {
    let with_services: Vec<&&Topic> = topics.iter().filter(|t| !t.services.is_empty()).collect();
    if with_services.is_empty() {
        return;
    }
    if !servers::docker_answers() {
        println!(
            "{} container path not tested: no Docker engine answers (start one to test it)",
            ui::yellow("skip")
        );
        return;
    }
    let run = match servers::start(&[Service::Postgres, Service::Redis], Prefer::Container) {
        Ok(run) => run,
        Err(e) => {
            return tally.record(
                "container path: start Postgres and Redis with testcontainers",
                vec![format!("{e:#}")],
            );
        }
    };
    tally.record(
        &format!("container path: {}", run.described.join("; ")),
        vec![],
    );
    for topic in with_services {
        tally.result(
            &format!("container path: {} solution passes", topic.id),
            solution_passes(topic, &run),
        );
    }
}
