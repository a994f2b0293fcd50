//! The learner's run of a topic: its tests, built and run batched (one process per test
//! executable: the fast loop), then its acceptance suite if it has one.

use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use crate::acceptance::realworld::{self, SuiteOutcome};
use crate::cargo;
use crate::harness::{self, Status, TestOutcome};
use crate::manifest::Topic;
use crate::services::engine;
use crate::services::servers::RunServers;

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

/// Builds the learner's tests of `topic` and runs them the learner's way (batched).
pub fn run(topic: &Topic, servers: &RunServers) -> Result<TopicResult> {
    let engine = engine::usable(topic);
    let cwd = topic.exercise_dir();
    let run = harness::Run {
        cwd: &cwd,
        env: harness::Env::Inherit(&servers.env),
        limit: TEST_LIMIT,
        engine: &engine,
        only: None,
        mode: harness::Mode::Batched,
    };
    let tested = harness::build_and_run(cargo::cargo(), topic.name(), None, &run)?;
    let (build_error, tests) = match tested {
        Ok(outcomes) => (None, outcomes.into_iter().map(|(_, t)| t).collect()),
        Err(errors) => (Some(errors), Vec::new()),
    };
    Ok(TopicResult {
        topic: topic.id.clone(),
        build_error,
        tests,
        suite: None,
    })
}

/// The learner's run of a topic: its tests, then its acceptance suite if it has one (the
/// capstone: the RealWorld suite against the learner's `conduit`), even when tests fail, so
/// that both show how far the service has come.
pub fn run_learner(topic: &Topic, servers: &RunServers) -> Result<TopicResult> {
    let mut result = run(topic, servers)?;
    if topic.acceptance.is_some() && result.build_error.is_none() {
        result.suite = Some(realworld::verify_learner(topic, servers));
    }
    Ok(result)
}
