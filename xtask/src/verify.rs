//! Builds a topic's tests against one implementation (the learner's stub, the solution, or a
//! wrong answer) and runs them with the run's servers.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use crate::cargo::{self, Build};
use crate::engine;
use crate::libtest::{self, Status, TestOutcome};
use crate::manifest::Topic;
use crate::realworld::{self, SuiteOutcome};
use crate::servers::RunServers;

/// The limit for a single test (a learner's infinite loop must not stall the run).
pub const TEST_LIMIT: Duration = Duration::from_secs(60);

#[derive(Serialize, Debug)]
pub struct TopicResult {
    pub topic: String,
    /// The compiler's errors, when the code did not build.
    pub build_error: Option<String>,
    pub tests: Vec<TestOutcome>,
    /// A topic with an external acceptance suite (the capstone's RealWorld suite): how the
    /// learner's server did against it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suite: Option<SuiteOutcome>,
}

impl TopicResult {
    /// Every test that ran passed (engine tests that could not run here do not count), and
    /// the acceptance suite too when it ran.
    pub fn passed(&self) -> bool {
        let suite_ok = match &self.suite {
            Some(SuiteOutcome::Ran(run)) => run.all_passed(),
            Some(SuiteOutcome::Failed(_)) => false,
            Some(SuiteOutcome::Skipped(_)) | None => true,
        };
        suite_ok
            && self.build_error.is_none()
            && self.tests.iter().any(|t| t.status == Status::Pass)
            && self
                .tests
                .iter()
                .all(|t| matches!(t.status, Status::Pass | Status::NotGraded))
    }
    /// Every test stopped at a `todo!()`: nothing written yet.
    pub fn not_started(&self) -> bool {
        self.build_error.is_none()
            && !self.tests.is_empty()
            && self.tests.iter().all(TestOutcome::not_started)
    }
    pub fn passing(&self) -> usize {
        self.tests
            .iter()
            .filter(|t| t.status == Status::Pass)
            .count()
    }
}

/// Runs `package`'s tests (from the workspace at `manifest_path`, or the main one).
pub fn run(
    topic: &Topic,
    package: &str,
    manifest_path: Option<&Path>,
    servers: &RunServers,
) -> Result<TopicResult> {
    run_only(topic, package, manifest_path, servers, None)
}

/// [`run`], running only the tests named in `only` (none: all).
pub fn run_only(
    topic: &Topic,
    package: &str,
    manifest_path: Option<&Path>,
    servers: &RunServers,
    only: Option<&[String]>,
) -> Result<TopicResult> {
    let executables = match cargo::build_tests(package, manifest_path)? {
        Build::Built(executables) => executables,
        Build::Failed(errors) => {
            return Ok(TopicResult {
                topic: topic.id.clone(),
                build_error: Some(errors),
                tests: Vec::new(),
                suite: None,
            });
        }
    };
    let engine = engine::usable(topic);
    let mut tests = Vec::new();
    for exe in executables {
        tests.extend(libtest::run_only(
            &exe,
            &topic.exercise_dir(),
            &servers.env,
            TEST_LIMIT,
            engine.is_ok(),
            only,
        )?);
    }
    if let Err(reason) = engine {
        for test in tests.iter_mut().filter(|t| t.status == Status::NotGraded) {
            test.message = format!("not graded: {reason}");
        }
    }
    Ok(TopicResult {
        topic: topic.id.clone(),
        build_error: None,
        tests,
        suite: None,
    })
}

/// The learner's run of a topic: its tests, then its acceptance suite if it has one (the
/// capstone: the RealWorld suite against the learner's `conduit`), even when tests fail, so
/// that both show how far the service has come.
pub fn run_learner(topic: &Topic, servers: &RunServers) -> Result<TopicResult> {
    let mut result = run(topic, topic.name(), None, servers)?;
    if topic.acceptance.is_some() && result.build_error.is_none() {
        result.suite = Some(realworld::verify_learner(topic, servers));
    }
    Ok(result)
}
