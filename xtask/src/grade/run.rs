//! Builds one topic's tests in the graded workspace ([`build`]), then runs every test in its
//! own process (the harness's isolated mode), a few at a time, within the per-test limit and
//! the topic's time budget ([`topic`]), and turns the outcomes into points.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Result;

use crate::cargo;
use crate::grade::report::{TestReport, TopicReport, round};
use crate::harness::{self, Build, Status, TestOutcome};
use crate::manifest::Topic;

/// Where and how to grade.
pub struct Workspace {
    /// The root of the workspace built (the learner's checkout or a scratch copy).
    pub root: PathBuf,
    pub target_dir: PathBuf,
    /// Servers' URLs for the tests.
    pub env: Vec<(String, String)>,
    /// How long one test may run.
    pub limit: Duration,
    /// How long all of a topic's tests may take together.
    pub budget: Duration,
    pub jobs: usize,
}

/// What building a topic gave: its test executables (and the capstone's server), or the
/// compiler's errors.
pub type Built = std::result::Result<Executables, String>;

pub struct Executables {
    tests: Vec<PathBuf>,
    /// The `conduit` binary of a topic graded by the RealWorld suite too.
    server: Option<Result<PathBuf>>,
}

impl Workspace {
    /// Cargo in the graded workspace, with none of the caller's build settings (see `confine`).
    fn cargo(&self) -> Command {
        let mut cmd = cargo::cargo();
        crate::grade::confine::scrub_build_env(&mut cmd);
        cmd.current_dir(&self.root)
            .env("CARGO_TARGET_DIR", &self.target_dir);
        cmd
    }

    /// Machine paths out of compiler output: relative to the graded workspace, `~` for home.
    pub fn clean(&self, text: &str) -> String {
        let mut text = text.replace(&format!("{}/", self.root.display()), "");
        text = cargo::clean_paths(&text);
        text.replace(&format!("{}/", self.target_dir.display()), "target/")
    }
}

/// Builds one topic's tests (and the capstone's server) without running anything.
pub fn build(ws: &Workspace, topic: &Topic) -> Built {
    let manifest_path = ws.root.join("Cargo.toml");
    let tests = match harness::build_tests_with(ws.cargo(), topic.name(), Some(&manifest_path)) {
        Ok(Build::Built(executables)) => executables,
        Ok(Build::Failed(errors)) => return Err(ws.clean(&errors)),
        Err(e) => return Err(ws.clean(&format!("{e:#}"))),
    };
    let server = topic.acceptance.map(|suite| {
        crate::acceptance::realworld::build_binary(
            ws.cargo(),
            topic.name(),
            suite.server(),
            &ws.target_dir,
        )
    });
    Ok(Executables { tests, server })
}

/// Grades one built topic: `weight` points split over its tests (see `grade` for the shares).
pub fn topic(ws: &Workspace, topic: &Topic, weight: f64, built: Built) -> TopicReport {
    let mut report = TopicReport {
        id: topic.id.clone(),
        title: topic.title.clone(),
        score: 0.0,
        max_score: round(weight),
        build_error: None,
        visibility: topic.visibility,
        tests: Vec::new(),
    };
    let executables = match built {
        Ok(executables) => executables,
        Err(errors) => return failed_build(report, errors),
    };
    let cwd = ws.root.join("exercises").join(&topic.id);
    let engine = crate::services::engine::usable(topic);
    let run = harness::Run {
        cwd: &cwd,
        env: harness::Env::Only(&ws.env),
        limit: ws.limit,
        engine: &engine,
        only: None,
        mode: harness::Mode::Isolated {
            jobs: ws.jobs,
            budget: Some(ws.budget),
        },
    };
    let outcomes = match harness::run(&executables.tests, &run) {
        Ok(outcomes) => outcomes,
        Err(e) => return failed_build(report, format!("{e:#}")),
    };
    let Some(server) = executables.server else {
        let (tests, score) = score(topic, weight, outcomes);
        report.tests = tests;
        report.score = round(score);
        return report;
    };
    // The capstone: the RealWorld suite's share of the points, the hidden tests the rest.
    let suite_weight = weight * crate::acceptance::realworld::SUITE_SHARE;
    let (mut tests, mut earned) = score(topic, weight - suite_weight, outcomes);
    let (suite, suite_earned) = realworld_tests(ws, server, suite_weight);
    tests.extend(suite);
    earned += suite_earned;
    report.tests = tests;
    report.score = round(earned);
    report
}

/// The RealWorld suite run against the learner's `conduit` binary: one entry per file, worth
/// its share of the suite's requests (`weight` split over all of them), a request earning
/// its part when every assert of it holds. A run that cannot happen (no server, no hurl) is
/// an error in every file.
fn realworld_tests(ws: &Workspace, server: Result<PathBuf>, weight: f64) -> (Vec<TestReport>, f64) {
    use crate::acceptance::realworld::{FILES, REQUESTS};
    let run = server.and_then(|binary| {
        let hurl = crate::acceptance::realworld::install_hurl()?;
        crate::acceptance::realworld::run_binary(&hurl, &binary, &ws.env)
    });
    let each = weight / REQUESTS as f64;
    let entry = |file: &str, requests: f64| TestReport {
        name: format!("realworld: {file}"),
        target: "realworld".into(),
        status: Status::Error,
        points: 0.0,
        max_points: round(each * requests),
        message: String::new(),
        duration_ms: 0,
    };
    let run = match run {
        Ok(run) => run,
        Err(e) => {
            let message = format!("the suite did not run: {}", ws.clean(&format!("{e:#}")));
            let counts = crate::acceptance::realworld::file_requests();
            let tests = FILES
                .iter()
                .enumerate()
                .map(|(i, (file, _))| TestReport {
                    message: message.clone(),
                    // Without the suite's files, an even split.
                    ..entry(
                        file,
                        counts
                            .as_ref()
                            .map_or(REQUESTS as f64 / FILES.len() as f64, |c| c[i] as f64),
                    )
                })
                .collect();
            return (tests, 0.0);
        }
    };
    let mut earned = 0.0;
    let tests = run
        .files
        .into_iter()
        .map(|file| {
            let points = each * file.passed as f64;
            earned += points;
            let mut message = format!("{} of {} requests pass", file.passed, file.requests);
            if let Some(failure) = &file.first_failure {
                message = format!("{message}; the first failure:\n{failure}");
            }
            TestReport {
                status: if file.passed == file.requests {
                    Status::Pass
                } else {
                    Status::Fail
                },
                points: round(points),
                message,
                ..entry(&file.file, file.requests as f64)
            }
        })
        .collect();
    (tests, earned)
}

/// A topic that did not build: one `build` entry, in error, worth the whole topic.
fn failed_build(mut report: TopicReport, errors: String) -> TopicReport {
    report.tests = vec![TestReport {
        name: "build".into(),
        target: String::new(),
        status: Status::Error,
        points: 0.0,
        max_points: report.max_score,
        message: format!("the code does not compile:\n{errors}"),
        duration_ms: 0,
    }];
    report.build_error = Some(errors);
    report
}

/// Points per test: `weight` split in proportion to the shares (`test_weights`, default 1).
/// A test the manifest weighs but the build lacks is an error worth its share. Also returns
/// the topic's score before rounding (seven tests of 10/7 points each make 10, not 9.94).
pub fn score(
    topic: &Topic,
    weight: f64,
    outcomes: Vec<(String, TestOutcome)>,
) -> (Vec<TestReport>, f64) {
    let mut tests: Vec<(String, TestOutcome)> = outcomes;
    for name in topic.test_weights.keys() {
        if !tests.iter().any(|(_, t)| &t.name == name) {
            tests.push((
                String::new(),
                TestOutcome {
                    name: name.clone(),
                    status: Status::Error,
                    message:
                        "this test is missing from the build (was a test file removed or renamed?)"
                            .into(),
                    duration_ms: 0,
                },
            ));
        }
    }
    // A test not graded here is worth nothing either way: the report says so instead.
    let share = |t: &TestOutcome| match t.status {
        Status::NotGraded => 0.0,
        _ => f64::from(topic.test_weights.get(&t.name).copied().unwrap_or(1)),
    };
    let total: f64 = tests.iter().map(|(_, t)| share(t)).sum();
    let mut earned = 0.0;
    let reports = tests
        .into_iter()
        .map(|(target, t)| {
            let max_points = if total > 0.0 {
                weight * share(&t) / total
            } else {
                0.0
            };
            let points = if t.status == Status::Pass {
                max_points
            } else {
                0.0
            };
            earned += points;
            TestReport {
                name: t.name,
                target,
                status: t.status,
                points: round(points),
                max_points: round(max_points),
                message: t.message,
                duration_ms: t.duration_ms,
            }
        })
        .collect();
    (reports, earned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(name: &str, status: Status) -> (String, TestOutcome) {
        let t = TestOutcome {
            name: name.into(),
            status,
            message: String::new(),
            duration_ms: 1,
        };
        ("t".into(), t)
    }

    fn topic(weights: &[(&str, u32)]) -> Topic {
        let text = format!(
            "id = \"01_x\"\ntitle = \"X\"\nweight = 10\n[test_weights]\n{}",
            weights
                .iter()
                .map(|(n, w)| format!("{n} = {w}\n"))
                .collect::<String>()
        );
        toml::from_str(&text).expect("a valid topic")
    }

    #[test]
    fn the_weight_is_split_evenly_without_test_weights() {
        let (tests, earned) = score(
            &topic(&[]),
            10.0,
            vec![
                outcome("a", Status::Pass),
                outcome("b", Status::Fail),
                outcome("c", Status::Pass),
            ],
        );
        let points: Vec<f64> = tests.iter().map(|t| t.points).collect();
        assert_eq!(points, [3.33, 0.0, 3.33]);
        assert_eq!(round(earned), 6.67);
    }

    #[test]
    fn test_weights_are_shares_and_missing_weighted_tests_count() {
        let (tests, _) = score(
            &topic(&[("a", 3), ("gone", 1)]),
            10.0,
            vec![outcome("a", Status::Pass), outcome("b", Status::Pass)],
        );
        let points: Vec<(&str, f64, f64)> = tests
            .iter()
            .map(|t| (t.name.as_str(), t.points, t.max_points))
            .collect();
        assert_eq!(
            points,
            [("a", 6.0, 6.0), ("b", 2.0, 2.0), ("gone", 0.0, 2.0)]
        );
    }
}
