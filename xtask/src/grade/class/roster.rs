//! The roster (`student,repo[,ref][,due]`) and the shard of it a run grades.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Student {
    pub student: String,
    pub repo: String,
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
    #[serde(default)]
    pub due: Option<String>,
}

pub fn read(path: &Path) -> Result<Vec<Student>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("Failed to read the roster {}", path.display()))?;
    let mut students: Vec<Student> = Vec::new();
    for (i, row) in reader.deserialize::<Student>().enumerate() {
        let line = i + 2;
        let student = row.with_context(|| {
            format!(
                "{} line {line}: expected the columns student,repo[,ref][,due]",
                path.display()
            )
        })?;
        let name = &student.student;
        let safe = !name.is_empty()
            && name != "."
            && name != ".."
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
        if !safe {
            bail!(
                "{} line {line}: the student {name:?} must be letters, digits, `.`, `_`, `-` or `@` (it names a directory)",
                path.display()
            );
        }
        if students.iter().any(|s| &s.student == name) {
            bail!(
                "{} line {line}: the student {name:?} is listed twice",
                path.display()
            );
        }
        if let Some(due) = &student.due
            && due.parse::<jiff::Timestamp>().is_err()
        {
            bail!(
                "{} line {line}: due {due:?} is not an RFC 3339 time",
                path.display()
            );
        }
        students.push(student);
    }
    if students.is_empty() {
        bail!("The roster {} lists no student", path.display());
    }
    Ok(students)
}

/// `--shard I/N`: this run grades the students at positions I, I+N, I+2N, ... (from 0).
pub fn parse_shard(shard: Option<&str>) -> Result<(usize, usize)> {
    let Some(shard) = shard else {
        return Ok((0, 1));
    };
    let parsed = shard
        .split_once('/')
        .and_then(|(i, n)| Some((i.parse::<usize>().ok()?, n.parse::<usize>().ok()?)));
    match parsed {
        Some((i, n)) if n > 0 && i < n => Ok((i, n)),
        _ => bail!("--shard {shard:?} must be I/N with 0 <= I < N (like 0/4)"),
    }
}
