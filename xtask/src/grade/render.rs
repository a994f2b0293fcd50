//! `cargo xtask grade render REPORT.json`: renders a saved JSON report again, after checking
//! it. In CI the JSON comes from the job that ran learner code, so the job that publishes
//! the Markdown treats it as untrusted input: known fields only, the right schema version,
//! and points that add up. Learner text is escaped by the renderers as always.

use std::path::Path;

use anyhow::{Context, Result};

use crate::grade::formats::{self, Plan};
use crate::grade::report::Report;

pub fn render(path: &Path, plan: &Plan) -> Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("Failed to read the report {}", path.display()))?;
    let report = Report::parse_checked(&text).with_context(|| format!("{}", path.display()))?;
    formats::emit(&report, plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::report::SCHEMA_VERSION;

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
        Report::parse_checked(&value.to_string()).map(|_| ())
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
