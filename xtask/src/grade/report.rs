//! The grade report: one value every format is rendered from, and the JSON schema that
//! `grade roll-up` reads back (documented in `SCHEMA.md`, next to this file).

use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};

use crate::harness::Status;
use crate::manifest::Visibility;

/// Bumped on a removal or a change of meaning (SCHEMA.md); added fields keep it.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub schema_version: u32,
    /// When the grade was computed (RFC 3339, UTC).
    pub graded_at: String,
    pub submission: Submission,
    /// The assignment graded, when `--assignment` chose the topics.
    #[serde(default)]
    pub assignment: Option<AssignmentInfo>,
    /// Tamper evidence, when `--base` was given.
    #[serde(default)]
    pub base: Option<BaseInfo>,
    /// Whether an instructor's private tests (`--extra-tests`) were added.
    #[serde(default)]
    pub extra_tests: bool,
    /// The time limits the tests ran under (absent from reports of older graders).
    #[serde(default)]
    pub limits: Option<Limits>,
    pub score: f64,
    pub max_score: f64,
    pub topics: Vec<TopicReport>,
}

/// How long a test, and all of a topic's tests together, may run.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub test_seconds: u64,
    pub topic_seconds: u64,
}

/// Who and what was graded.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// `--student`, else none (roll-up then falls back to the repository).
    pub student: Option<String>,
    /// `GITHUB_REPOSITORY`, else the `origin` remote without credentials.
    pub repository: Option<String>,
    pub commit: Option<String>,
    /// The commit's committer date (RFC 3339). Set by the learner's machine: see SCHEMA.md.
    pub commit_time: Option<String>,
    /// Uncommitted changes were graded too.
    pub dirty: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct AssignmentInfo {
    pub name: String,
    pub title: String,
    pub due: Option<String>,
    /// `commit_time` is after `due` (none when either is unknown).
    pub late: Option<bool>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct BaseInfo {
    /// The reference as given (`--base REF`) and the commit it named.
    pub reference: String,
    pub commit: String,
    /// Files outside `exercises/*/src/**` that differ from the base: graded from the base.
    pub protected_changes: Vec<String>,
    /// Symbolic links (and other non-regular files) in the learner's sources: not graded.
    pub refused_files: Vec<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct TopicReport {
    pub id: String,
    pub title: String,
    pub score: f64,
    pub max_score: f64,
    /// The compiler's errors (paths relative to the repository) when the topic did not build.
    #[serde(default)]
    pub build_error: Option<String>,
    /// The topic's `visibility` in `exercises/katas.toml` (Gradescope), when not `visible`.
    #[serde(default, skip_serializing_if = "Visibility::is_visible")]
    pub visibility: Visibility,
    pub tests: Vec<TestReport>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct TestReport {
    pub name: String,
    /// The test target (file) the test belongs to: the topic's, or `extra_*` for private tests.
    pub target: String,
    pub status: Status,
    pub points: f64,
    pub max_points: f64,
    /// What to tell the learner: the assertion's message, why the process ended, or the
    /// compiler's errors. Learner-controlled text: escape it before rendering.
    pub message: String,
    pub duration_ms: u64,
}

impl Report {
    /// A report read back from JSON that a job running learner code produced: known fields
    /// only, a version this grader reads, and points that add up.
    pub fn parse_checked(text: &str) -> Result<Report> {
        let report: Report =
            serde_json::from_str(text).context("not a grade report (xtask/src/grade/SCHEMA.md)")?;
        if report.schema_version != SCHEMA_VERSION {
            bail!(
                "schema_version {} (this grader reads {SCHEMA_VERSION})",
                report.schema_version
            );
        }
        report.validate().context("its points do not add up")?;
        Ok(report)
    }

    fn validate(&self) -> Result<()> {
        // Points are stored rounded to 0.01: n of them may drift from their total by n x 0.005.
        let close = |a: f64, b: f64, n: usize| (a - b).abs() <= 0.005 * n as f64 + 0.011;
        for topic in &self.topics {
            for test in &topic.tests {
                ensure!(
                    test.points.is_finite() && (0.0..=test.max_points).contains(&test.points),
                    "{}::{} has {} of {} points",
                    topic.id,
                    test.name,
                    test.points,
                    test.max_points
                );
            }
            let points = round(topic.tests.iter().map(|t| t.points).sum());
            ensure!(
                close(points, topic.score, topic.tests.len()) && topic.score <= topic.max_score,
                "topic {} claims {} of {} points, its tests add up to {points}",
                topic.id,
                topic.score,
                topic.max_score
            );
        }
        let score = round(self.topics.iter().map(|t| t.score).sum());
        let max = round(self.topics.iter().map(|t| t.max_score).sum());
        ensure!(
            close(score, self.score, self.topics.len())
                && close(max, self.max_score, self.topics.len())
                && self.score <= self.max_score,
            "the report claims {} of {}, its topics add up to {score} of {max}",
            self.score,
            self.max_score
        );
        Ok(())
    }

    pub fn tests(&self) -> impl Iterator<Item = (&TopicReport, &TestReport)> {
        self.topics
            .iter()
            .flat_map(|t| t.tests.iter().map(move |test| (t, test)))
    }
    pub fn all_passed(&self) -> bool {
        self.tests().all(|(_, t)| t.status == Status::Pass)
    }
}

/// The status as the JSON spells it.
pub fn status_word(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Error => "error",
        Status::Timeout => "timeout",
        Status::NotGraded => "not_graded",
    }
}

/// Points are shown and stored with two decimals.
pub fn round(points: f64) -> f64 {
    (points * 100.0).round() / 100.0
}
