//! `cargo xtask check`: the repository's own test command. For every topic: the files are
//! complete, every test fails on the stub, every test passes on the solution, and every
//! plausible wrong answer is caught by the tests it names. Plus lint, the runner's and the
//! harness's own tests, and the container path where a Docker engine answers.
//! Ends with one line: `N passed, N failed`.

mod repository;
mod verdicts;

use std::process::{Command, ExitCode};

use anyhow::Result;

use crate::acceptance::realworld;
use crate::cargo;
use crate::dev::workflows;
use crate::dev::wrong_answers;
use crate::manifest::{self, Service, Topic};
use crate::services::servers::{self, Prefer};
use crate::ui;
use repository::{TEMPLATE_TOPIC, files, orphans, student_template};
use verdicts::{alternative_passes, repeated, solution_passes, stub_fails, wrong_answer_caught};

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
            "the launcher (a workspace of its own): cargo fmt --check, clippy",
            launcher(&["fmt", "--check"]).and_then(|mut problems| {
                problems.extend(launcher(&[
                    "clippy",
                    "--all-targets",
                    "--quiet",
                    "--",
                    "-D",
                    "warnings",
                ])?);
                Ok(problems)
            }),
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
        tally.result("the launcher's own tests", launcher(&["test", "--quiet"]));
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

/// `cargo ARGS` on the launcher behind `cargo xtask` (xtask/launch), which the workspace's
/// commands do not reach.
fn launcher(args: &[&str]) -> Result<Vec<String>> {
    let (subcommand, rest) = args.split_first().expect("a cargo subcommand");
    let manifest = manifest::root().join("xtask/launch/Cargo.toml");
    command(
        cargo::cargo()
            .args([subcommand, "--manifest-path"])
            .arg(manifest)
            .args(rest),
    )
}

fn command(cmd: &mut Command) -> Result<Vec<String>> {
    let out = crate::process::output(cmd)?;
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
