//! `cargo xtask grade roll-up REPORTS...`: many students' JSON reports (files, or directories
//! of CI artifacts searched for `*.json`) become one gradebook, as CSV and Markdown. One row
//! per student (the latest report by grading time wins), lateness from the commit time
//! against the due date.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::grade::markdown::inline;
use crate::grade::report::Report;
use crate::grade::write_atomically;

/// One student's line of the gradebook.
pub struct Row {
    pub student: String,
    repository: String,
    commit: String,
    commit_time: String,
    late: String,
    pub score: f64,
    pub max_score: f64,
    topics: BTreeMap<String, f64>,
    protected_changes: usize,
    graded_at: String,
    file: String,
    /// Why a student has no grade, or what else an instructor should know.
    pub note: String,
}

impl Row {
    /// A student who could not be graded, and why.
    pub fn failed(student: &str, repository: &str, why: &str) -> Row {
        Row {
            student: student.to_string(),
            repository: repository.to_string(),
            commit: String::new(),
            commit_time: String::new(),
            late: String::new(),
            score: 0.0,
            max_score: 0.0,
            topics: BTreeMap::new(),
            protected_changes: 0,
            graded_at: String::new(),
            file: String::new(),
            note: why.to_string(),
        }
    }
}

/// Where the gradebook goes.
pub struct Outputs<'a> {
    pub csv: Option<&'a Path>,
    pub markdown: Option<&'a Path>,
    pub summary: Option<&'a Path>,
}

pub fn roll_up(inputs: &[PathBuf], out: Outputs, due: Option<&str>) -> Result<ExitCode> {
    let due = due
        .map(|d| {
            d.parse::<jiff::Timestamp>().with_context(|| {
                format!("--due {d:?} is not an RFC 3339 time (like 2026-12-07T23:59:00+01:00)")
            })
        })
        .transpose()?;
    let mut files = Vec::new();
    for input in inputs {
        collect(input, &mut files)?;
    }
    let mut latest: BTreeMap<String, Row> = BTreeMap::new();
    let mut reports: BTreeMap<String, Box<Report>> = BTreeMap::new();
    let mut refused = 0;
    for file in &files {
        let report = match read(file) {
            Read::Report(report) => report,
            Read::NotGraded(note) => {
                latest
                    .entry(note.student.clone())
                    .or_insert_with(|| Row::failed(&note.student, &note.repository, &note.why));
                continue;
            }
            Read::Other => {
                eprintln!("skipped {}: not a grade report", file.display());
                continue;
            }
            Read::Refused(e) => {
                eprintln!("refused {}: {e:#}", file.display());
                refused += 1;
                continue;
            }
        };
        let row = row(&report, file, due);
        if latest
            .get(&row.student)
            .is_none_or(|old| old.graded_at <= row.graded_at)
        {
            reports.insert(row.student.clone(), report);
            latest.insert(row.student.clone(), row);
        }
    }
    if latest.is_empty() {
        bail!(
            "No grade reports found in {}: pass the JSON files written by `cargo xtask grade --format json` (or directories holding them).",
            inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let rows: Vec<Row> = latest.into_values().collect();
    write_gradebook(&rows, out.csv, out.markdown)?;
    if let Some(path) = out.summary {
        let reports: Vec<Report> = reports.into_values().map(|r| *r).collect();
        write_atomically(path, &crate::grade::summary::summary(&reports))?;
        eprintln!("wrote {}", path.display());
    }
    if refused > 0 {
        eprintln!(
            "{refused} report(s) refused (see above): their students are not in the gradebook."
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The gradebook as CSV (to `csv`) and Markdown (to `markdown`, else printed when no CSV).
pub fn write_gradebook(rows: &[Row], csv: Option<&Path>, markdown: Option<&Path>) -> Result<()> {
    let topics: Vec<String> = {
        let mut ids: Vec<String> = rows.iter().flat_map(|r| r.topics.keys().cloned()).collect();
        ids.sort();
        ids.dedup();
        ids
    };
    if let Some(path) = csv {
        write_atomically(path, &to_csv(rows, &topics)?)?;
        eprintln!("wrote {}", path.display());
    }
    let table = to_markdown(rows, &topics);
    match markdown {
        Some(path) => {
            write_atomically(path, &table)?;
            eprintln!("wrote {}", path.display());
        }
        None if csv.is_none() => print!("{table}"),
        None => {}
    }
    Ok(())
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("Failed to read {}", path.display()))?;
    if meta.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("Failed to read {}", path.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            collect(&entry, out)?;
        } else if entry.extension().is_some_and(|e| e == "json") {
            out.push(entry);
        }
    }
    Ok(())
}

/// The file `grade class` writes for a student it could not grade (`<student>/not-graded.json`).
pub const NOT_GRADED: &str = "not-graded.json";

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotGraded {
    pub student: String,
    pub repository: String,
    pub why: String,
}

enum Read {
    Report(Box<Report>),
    NotGraded(NotGraded),
    /// Other JSON files live among CI artifacts.
    Other,
    /// It claims to be a grade report but is not a valid one.
    Refused(anyhow::Error),
}

/// A report is JSON with a `schema_version`; it must then pass the checks `render` makes.
fn read(path: &Path) -> Read {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Read::Other;
    };
    if path.file_name().is_some_and(|n| n == NOT_GRADED) {
        return match serde_json::from_str(&text) {
            Ok(note) => Read::NotGraded(note),
            Err(e) => Read::Refused(e.into()),
        };
    }
    let claims = serde_json::from_str::<serde_json::Value>(&text)
        .is_ok_and(|v| v.get("schema_version").is_some());
    if !claims {
        return Read::Other;
    }
    match Report::parse_checked(&text) {
        Ok(report) => Read::Report(Box::new(report)),
        Err(e) => Read::Refused(e),
    }
}

/// A cell a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab, carriage return
/// first) gets a leading `'`, as OWASP's CSV injection guidance advises.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// The gradebook line of a report read from `file`, lateness against `due` if given, else
/// against the report's assignment.
pub fn row(report: &Report, file: &Path, due: Option<jiff::Timestamp>) -> Row {
    let s = &report.submission;
    let due = due.or_else(|| {
        report
            .assignment
            .as_ref()
            .and_then(|a| a.due.as_deref())
            .and_then(|d| d.parse().ok())
    });
    let committed = s
        .commit_time
        .as_deref()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let late = match (due, committed) {
        (Some(due), Some(at)) if at > due => {
            let minutes = (at.as_second() - due.as_second()) / 60;
            format!("late by {}h{:02}m", minutes / 60, minutes % 60)
        }
        (Some(_), Some(_)) => "on time".to_string(),
        _ => String::new(),
    };
    let student = s
        .student
        .clone()
        .or_else(|| s.repository.clone())
        .unwrap_or_else(|| file.display().to_string());
    Row {
        student,
        repository: s.repository.clone().unwrap_or_default(),
        commit: s.commit.clone().unwrap_or_default(),
        commit_time: s.commit_time.clone().unwrap_or_default(),
        late,
        score: report.score,
        max_score: report.max_score,
        topics: report
            .topics
            .iter()
            .map(|t| (t.id.clone(), t.score))
            .collect(),
        protected_changes: report
            .base
            .as_ref()
            .map_or(0, |b| b.protected_changes.len()),
        graded_at: report.graded_at.clone(),
        file: file.display().to_string(),
        note: String::new(),
    }
}

fn percent(row: &Row) -> String {
    if row.max_score > 0.0 {
        format!("{:.1}", 100.0 * row.score / row.max_score)
    } else {
        String::new()
    }
}

fn to_csv(rows: &[Row], topics: &[String]) -> Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "student",
        "repository",
        "commit",
        "commit_time",
        "lateness",
        "score",
        "max_score",
        "percent",
    ]
    .map(String::from)
    .to_vec();
    header.extend(topics.iter().cloned());
    header.extend(["protected_changes", "graded_at", "report", "note"].map(String::from));
    writer.write_record(header.iter().map(|c| cell(c)))?;
    for r in rows {
        let mut record = vec![
            r.student.clone(),
            r.repository.clone(),
            r.commit.clone(),
            r.commit_time.clone(),
            r.late.clone(),
            r.score.to_string(),
            r.max_score.to_string(),
            percent(r),
        ];
        record.extend(
            topics
                .iter()
                .map(|t| r.topics.get(t).map(f64::to_string).unwrap_or_default()),
        );
        record.extend([
            r.protected_changes.to_string(),
            r.graded_at.clone(),
            r.file.clone(),
            r.note.clone(),
        ]);
        writer.write_record(record.iter().map(|c| cell(c)))?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| anyhow::anyhow!("Failed to write the CSV: {e}"))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn to_markdown(rows: &[Row], topics: &[String]) -> String {
    let mut out = String::from("| Student | Score | % | Lateness | Protected files changed |");
    for t in topics {
        out += &format!(" {} |", inline(t));
    }
    out += " Note |\n|---|---:|---:|---|---:|";
    out += &"---:|".repeat(topics.len());
    out += "---|\n";
    for r in rows {
        out += &format!(
            "| {} | {} / {} | {} | {} | {} |",
            inline(&r.student),
            r.score,
            r.max_score,
            percent(r),
            r.late,
            r.protected_changes
        );
        for t in topics {
            out += &format!(
                " {} |",
                r.topics.get(t).map(f64::to_string).unwrap_or_default()
            );
        }
        out += &format!(" {} |\n", inline(&r.note));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn csv_cells_a_spreadsheet_would_run_are_neutralised() {
        for formula in [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-1+2",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            assert_eq!(cell(formula), format!("'{formula}"));
        }
        for plain in ["ann", "10.5", "2026-12-04T00:00:00Z", ""] {
            assert_eq!(cell(plain), plain);
        }
    }
}
