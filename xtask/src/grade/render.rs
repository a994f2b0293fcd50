//! `cargo xtask grade render REPORT.json`: renders a saved JSON report again, after checking
//! it. In CI the JSON comes from the job that ran learner code, so the job that publishes
//! the Markdown treats it as untrusted input: known fields only, the right schema version,
//! and points that add up. Learner text is escaped by the renderers as always.

use std::path::Path;

use anyhow::{Context, Result, bail, ensure};

use crate::grade::formats::{self, Plan};
use crate::grade::report::{Report, SCHEMA_VERSION, round};

pub fn render(path: &Path, plan: &Plan) -> Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("Failed to read the report {}", path.display()))?;
    let report: Report = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a grade report (xtask/src/grade/SCHEMA.md)",
            path.display()
        )
    })?;
    validate(&report).with_context(|| format!("{} does not add up", path.display()))?;
    formats::emit(&report, plan)
}

fn validate(report: &Report) -> Result<()> {
    if report.schema_version != SCHEMA_VERSION {
        bail!(
            "schema_version {} (this grader reads {SCHEMA_VERSION})",
            report.schema_version
        );
    }
    // Points are stored rounded to 0.01: n of them may drift from their total by n x 0.005.
    let close = |a: f64, b: f64, n: usize| (a - b).abs() <= 0.005 * n as f64 + 0.011;
    for topic in &report.topics {
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
    let score = round(report.topics.iter().map(|t| t.score).sum());
    let max = round(report.topics.iter().map(|t| t.max_score).sum());
    ensure!(
        close(score, report.score, report.topics.len())
            && close(max, report.max_score, report.topics.len()),
        "the report claims {} of {}, its topics add up to {score} of {max}",
        report.score,
        report.max_score
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> serde_json::Value {
        serde_json::json!({
            "schema_version": SCHEMA_VERSION,
            "graded_at": "2026-11-24T00:00:00Z",
            "submission": { "student": null, "repository": null, "commit": null,
                            "commit_time": null, "dirty": false },
            "score": 1.0, "max_score": 2.0,
            "topics": [{ "id": "01_x", "title": "X", "score": 1.0, "max_score": 2.0,
                "tests": [
                    { "name": "a", "target": "x", "status": "pass", "points": 1.0,
                      "max_points": 1.0, "message": "", "duration_ms": 1 },
                    { "name": "b", "target": "x", "status": "fail", "points": 0.0,
                      "max_points": 1.0, "message": "no", "duration_ms": 1 }
                ] }]
        })
    }

    fn check(value: serde_json::Value) -> Result<()> {
        validate(&serde_json::from_value(value)?)
    }

    #[test]
    fn a_consistent_report_is_accepted() {
        check(report()).expect("a report whose points add up");
    }

    #[test]
    fn rounding_drift_over_many_tests_is_accepted() {
        // 18 tests of 10/18 points: each stored as 0.56, together 10.08 for a score of 10.
        let mut many = report();
        let test = many["topics"][0]["tests"][0].clone();
        let mut tests = Vec::new();
        for i in 0..18 {
            let mut t = test.clone();
            t["name"] = format!("t{i}").into();
            t["points"] = 0.56.into();
            t["max_points"] = 0.56.into();
            tests.push(t);
        }
        many["topics"][0]["tests"] = tests.into();
        for (path, value) in [("score", 10.0), ("max_score", 10.0)] {
            many[path] = value.into();
            many["topics"][0][path] = value.into();
        }
        check(many).expect("rounded points drift by at most half a cent each");
    }

    #[test]
    fn inflated_scores_unknown_fields_and_other_versions_are_refused() {
        let mut inflated = report();
        inflated["score"] = 2.0.into();
        inflated["topics"][0]["score"] = 2.0.into();
        let mut test_points = report();
        test_points["topics"][0]["tests"][1]["points"] = 5.0.into();
        let mut unknown = report();
        unknown["topics"][0]["tests"][0]["html"] = "<script>".into();
        let mut version = report();
        version["schema_version"] = 99.into();

        for (what, value) in [
            ("an inflated score", inflated),
            ("a test above its points", test_points),
            ("an unknown field", unknown),
            ("another schema version", version),
        ] {
            assert!(check(value).is_err(), "{what} must be refused");
        }
    }
}
