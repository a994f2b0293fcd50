//! The report's renderings (text, JSON, JUnit XML, Markdown, GitHub Classroom) and where each
//! goes: the standard output, `--output FILE`, or `--out-dir DIR` (one file per format).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};
use serde_json::json;

use crate::grade::report::{Report, status_word};
use crate::grade::{markdown, write_atomically};
use crate::harness::Status;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// For a terminal or a CI log.
    Text,
    /// The documented schema (xtask/src/grade/SCHEMA.md); `grade roll-up` reads it.
    Json,
    /// JUnit XML: one suite per topic, one case per test.
    Junit,
    /// For $GITHUB_STEP_SUMMARY or a pull-request comment (learner text escaped).
    Markdown,
    /// GitHub Classroom's autograding result (base64-encode it into `<ID>_RESULTS`).
    Classroom,
    /// Gradescope's autograder `results.json` (learner text as plain text, bounded).
    Gradescope,
}

impl Format {
    fn file_name(self) -> &'static str {
        match self {
            Format::Text => "grade.txt",
            Format::Json => "grade.json",
            Format::Junit => "grade.xml",
            Format::Markdown => "grade.md",
            Format::Classroom => "classroom.json",
            Format::Gradescope => "results.json",
        }
    }
}

/// Where one rendering goes (`None`: the standard output).
pub type Plan = Vec<(Format, Option<PathBuf>)>;

pub fn plan(wanted: &[Format], output: Option<&Path>, out_dir: Option<&Path>) -> Result<Plan> {
    let mut formats: Vec<Format> = Vec::new();
    for format in wanted {
        if !formats.contains(format) {
            formats.push(*format);
        }
    }
    if formats.is_empty() {
        formats.push(Format::Text);
    }
    if let Some(dir) = out_dir {
        let mut plan: Plan = formats
            .iter()
            .map(|f| (*f, Some(dir.join(f.file_name()))))
            .collect();
        // The log shows the outcome too.
        plan.push((Format::Text, None));
        return Ok(plan);
    }
    if formats.len() > 1 {
        bail!(
            "Several formats need a directory to write them to: add `--out-dir DIR` (for example `--out-dir target/grade`)."
        );
    }
    Ok(vec![(formats[0], output.map(Path::to_path_buf))])
}

pub fn emit(report: &Report, plan: &Plan) -> Result<()> {
    for (format, destination) in plan {
        let text = render(report, *format)?;
        match destination {
            Some(path) => {
                write_atomically(path, &text)?;
                eprintln!("wrote {}", path.display());
            }
            None => print!("{text}"),
        }
    }
    Ok(())
}

pub fn render(report: &Report, format: Format) -> Result<String> {
    Ok(match format {
        Format::Text => text(report),
        Format::Json => serde_json::to_string_pretty(report)? + "\n",
        Format::Junit => junit(report)?,
        Format::Markdown => markdown::render(report),
        Format::Classroom => serde_json::to_string_pretty(&classroom(report))? + "\n",
        Format::Gradescope => {
            serde_json::to_string_pretty(&crate::grade::gradescope::results(report))? + "\n"
        }
    })
}

fn text(report: &Report) -> String {
    let mut out = String::new();
    if let Some(a) = &report.assignment {
        out += &format!("Assignment {}: {}\n", a.name, a.title);
    }
    for topic in &report.topics {
        out += &format!(
            "{} {}: {} / {}\n",
            topic.id, topic.title, topic.score, topic.max_score
        );
        for test in &topic.tests {
            let mark = match test.status {
                Status::Pass => "ok  ",
                Status::NotGraded => "skip",
                _ => "FAIL",
            };
            out += &format!(
                "  {mark} {} ({}, {} / {})\n",
                test.name,
                status_word(test.status),
                test.points,
                test.max_points
            );
            if test.status != Status::Pass {
                for line in test.message.lines().take(20) {
                    out += &format!("       {line}\n");
                }
            }
        }
    }
    if let Some(base) = &report.base {
        for path in &base.protected_changes {
            out += &format!(
                "protected file changed (graded from {}): {path}\n",
                base.reference
            );
        }
        for path in &base.refused_files {
            out += &format!("not graded (not a regular file): {path}\n");
        }
    }
    out += &format!("Score: {} / {}\n", report.score, report.max_score);
    out
}

fn junit(report: &Report) -> Result<String> {
    let mut junit = quick_junit::Report::new("cargo xtask grade");
    for topic in &report.topics {
        let mut suite = TestSuite::new(topic.id.as_str());
        suite.add_property(Property::new("score", topic.score.to_string()));
        suite.add_property(Property::new("max_score", topic.max_score.to_string()));
        for test in &topic.tests {
            let status = match test.status {
                Status::Pass => TestCaseStatus::success(),
                Status::NotGraded => {
                    let mut status = TestCaseStatus::skipped();
                    status.set_message(test.message.as_str());
                    status
                }
                other => {
                    let kind = if other == Status::Fail {
                        NonSuccessKind::Failure
                    } else {
                        NonSuccessKind::Error
                    };
                    let mut status = TestCaseStatus::non_success(kind);
                    let first = test.message.lines().next().unwrap_or_default();
                    status
                        .set_message(first)
                        .set_type(status_word(other))
                        .set_description(test.message.as_str());
                    status
                }
            };
            let mut case = TestCase::new(test.name.as_str(), status);
            case.set_classname(format!("{}.{}", topic.id, test.target))
                .set_time(Duration::from_millis(test.duration_ms))
                .add_property(Property::new("points", test.points.to_string()))
                .add_property(Property::new("max_points", test.max_points.to_string()));
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit
        .to_string()
        .context("Failed to render the JUnit report")
}

/// GitHub Classroom's autograding result, as `autograding-grading-reporter` reads it from
/// `<ID>_RESULTS` (base64 of this JSON): version 1, status pass/fail/error, max_score, tests.
fn classroom(report: &Report) -> serde_json::Value {
    let status = if report.all_passed() {
        "pass"
    } else if report.topics.iter().any(|t| t.build_error.is_some()) {
        "error"
    } else {
        "fail"
    };
    let tests: Vec<_> = report
        .tests()
        .map(|(topic, t)| {
            json!({
                "name": format!("{} / {}", topic.id, t.name),
                "status": match t.status {
                    Status::Pass => "pass",
                    Status::Fail | Status::NotGraded => "fail",
                    _ => "error",
                },
                "score": t.points,
                "max_score": t.max_points,
                "message": t.message,
                "test_code": format!("cargo xtask grade --topic {}", topic.id),
                "filename": "",
                "line_no": 0,
                "execution_time": format!("{:.3}s", t.duration_ms as f64 / 1000.0),
            })
        })
        .collect();
    json!({
        "version": 1,
        "status": status,
        "max_score": report.max_score,
        "tests": tests,
    })
}
