//! Gradescope: the report as its autograder's `results.json`, and `gradescope-bundle`, the
//! autograder zip an instructor uploads (`setup.sh`, `run_autograder` and this repository at a
//! trusted commit, without `solutions/`).
//!
//! Gradescope's specification (its "Autograder Specifications" page) documents these fields of
//! `results.json`: top level `score`, `execution_time` (seconds), `output`, `output_format`,
//! `test_output_format`, `test_name_format`, `visibility`, `stdout_visibility`, `extra_data`,
//! `tests`, `leaderboard`; per test `score`, `max_score`, `status` (`passed` | `failed`),
//! `name`, `name_format`, `number`, `output`, `output_format`, `tags`, `visibility`,
//! `extra_data`. There is no top-level `max_score`: the assignment's points are set on
//! Gradescope, and the tests' `max_score` add up to them.

use std::io::{Cursor, Read, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::grade::assignments;
use crate::grade::report::{Report, status_word};
use crate::grade::template;
use crate::harness::Status;
use crate::manifest::{self, Visibility};

/// A test's output shown to the student: at most this many lines and characters.
const MESSAGE_LINES: usize = 40;
const MESSAGE_CHARS: usize = 2_000;
/// All the tests' outputs together (the capstone alone has hundreds of tests).
const OUTPUT_BUDGET: usize = 200_000;
const NAME_CHARS: usize = 200;

/// `results.json`: learner text as plain text (`output_format: text`), without control
/// characters or terminal escapes, bounded per test and in total.
pub fn results(report: &Report) -> Value {
    let mut budget = OUTPUT_BUDGET;
    let tests: Vec<Value> = report
        .tests()
        .map(|(topic, test)| {
            let mut output = match test.status {
                Status::Pass => String::new(),
                Status::Fail => test.message.clone(),
                Status::NotGraded => format!("not graded here: {}", test.message),
                status => format!("{}: {}", status_word(status), test.message),
            };
            output = plain(&output, MESSAGE_LINES, MESSAGE_CHARS);
            if output.len() > budget {
                output = "(output left out: the report reached its size limit)".to_string();
            }
            budget = budget.saturating_sub(output.len());
            json!({
                "name": plain(&format!("{} / {}", topic.id, test.name), 1, NAME_CHARS),
                "name_format": "text",
                "score": test.points,
                "max_score": test.max_points,
                "status": if test.status == Status::Pass { "passed" } else { "failed" },
                "output": output,
                "output_format": "text",
                "visibility": topic.visibility,
            })
        })
        .collect();
    let execution_ms: u64 = report.tests().map(|(_, t)| t.duration_ms).sum();
    json!({
        "score": report.score,
        "execution_time": execution_ms.div_ceil(1000),
        "output": plain(&summary(report), 200, 20_000),
        "output_format": "text",
        "test_output_format": "text",
        "test_name_format": "text",
        "visibility": Visibility::Visible,
        // The grader's log (paths, build output) is for the instructor.
        "stdout_visibility": Visibility::Hidden,
        "tests": tests,
    })
}

/// The text above the tests: the assignment, each topic's score (only where its tests are
/// visible: Gradescope hides the total while some are not) and what was not graded.
fn summary(report: &Report) -> String {
    let mut out = String::new();
    if let Some(a) = &report.assignment {
        out += &format!("Assignment {}: {}\n", a.name, a.title);
    }
    let all_visible = report.topics.iter().all(|t| t.visibility.is_visible());
    for topic in &report.topics {
        if !topic.visibility.is_visible() {
            out += &format!("{} {}: results shown later\n", topic.id, topic.title);
        } else if topic.build_error.is_some() {
            out += &format!(
                "{} {}: 0 / {} (does not compile: see its `build` test)\n",
                topic.id, topic.title, topic.max_score
            );
        } else {
            let passed = topic
                .tests
                .iter()
                .filter(|t| t.status == Status::Pass)
                .count();
            out += &format!(
                "{} {}: {} / {} ({passed} of {} tests pass)\n",
                topic.id,
                topic.title,
                topic.score,
                topic.max_score,
                topic.tests.len()
            );
        }
    }
    if let Some(base) = &report.base {
        for path in &base.protected_changes {
            out += &format!("graded from the course's copy, not yours: {path}\n");
        }
        for path in &base.refused_files {
            out += &format!("not graded (not a regular file): {path}\n");
        }
    }
    if all_visible {
        out += &format!("Score: {} / {}\n", report.score, report.max_score);
    }
    out
}

/// `text` as plain text: no terminal escapes, control characters (but newlines and tabs) or
/// bidirectional overrides, at most `lines` lines and `chars` characters.
pub fn plain(text: &str, lines: usize, chars: usize) -> String {
    let mut clean = String::with_capacity(text.len().min(chars + 64));
    let mut it = text.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\u{1b}' => {
                // CSI `ESC [ ... final` or a two-character escape.
                if it.peek() == Some(&'[') {
                    it.next();
                    for d in it.by_ref() {
                        if ('@'..='~').contains(&d) {
                            break;
                        }
                    }
                } else {
                    it.next();
                }
            }
            '\n' | '\t' => clean.push(c),
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {}
            c if c.is_control() => {}
            c => clean.push(c),
        }
    }
    let total_lines = clean.lines().count();
    let mut out: String = clean.lines().take(lines).collect::<Vec<_>>().join("\n");
    let mut cut = total_lines > lines;
    if out.chars().count() > chars {
        out = out.chars().take(chars).collect();
        cut = true;
    }
    if cut {
        out += "\n... (cut short)";
    }
    out
}

/// `cargo xtask gradescope-bundle`: writes the autograder zip for `assignment`.
pub fn bundle(assignment: &str, out: &Path, root: Option<&Path>, reference: &str) -> Result<()> {
    let root = match root {
        Some(dir) => std::fs::canonicalize(dir)
            .with_context(|| format!("Failed to find the repository {}", dir.display()))?,
        None => manifest::root(),
    };
    let topics = manifest::load_from(&root)?;
    let found = assignments::find(&root, &topics, assignment)?;
    if !found
        .name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
    {
        bail!(
            "The assignment's name {:?} goes into the autograder's scripts: use letters, digits, '.', '-' and '_' only.",
            found.name
        );
    }
    let toolchain = toolchain(&root)?;
    let commit = template::commit_of(&root, reference)?;
    let archive = template::git(&root, &["archive", "--format=zip", &commit])?;
    let mut source = ZipArchive::new(Cursor::new(archive))
        .context("Failed to read the archive `git archive --format=zip` wrote")?;

    let temporary = out.with_extension(format!("zip.{}.tmp", std::process::id()));
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("Failed to create {}", dir.display()))?;
    }
    let file = std::fs::File::create(&temporary)
        .with_context(|| format!("Failed to create {}", temporary.display()))?;
    let mut zip = ZipWriter::new(file);
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let script = options.unix_permissions(0o755);
    zip.start_file("setup.sh", script)?;
    zip.write_all(setup_sh(&found.name, &toolchain).as_bytes())?;
    zip.start_file("run_autograder", script)?;
    zip.write_all(run_autograder(&found.name, &commit).as_bytes())?;
    for i in 0..source.len() {
        let mut entry = source.by_index(i)?;
        let name = entry.name()?.to_string();
        // The reference solutions stay out: learner code compiled here could include them.
        if entry.is_dir() || name.starts_with("solutions/") {
            continue;
        }
        if matches!(name.as_str(), "setup.sh" | "run_autograder") {
            bail!("the repository has its own {name}: the bundle's would replace it");
        }
        let mode = entry.unix_mode().unwrap_or(0o644) & 0o777;
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .with_context(|| format!("Failed to read {name} from the archive"))?;
        if entry.is_symlink() {
            zip.add_symlink(name.as_str(), String::from_utf8(bytes)?, options)?;
            continue;
        }
        if name == "Cargo.toml" {
            bytes = template::without_solutions(&String::from_utf8(bytes)?)?.into_bytes();
        }
        zip.start_file(name.as_str(), options.unix_permissions(mode))?;
        zip.write_all(&bytes)?;
    }
    zip.finish().context("Failed to finish the zip")?;
    std::fs::rename(&temporary, out)
        .with_context(|| format!("Failed to move the bundle into {}", out.display()))?;
    println!(
        "wrote {} (assignment {}, {} topics, commit {}): upload it as the assignment's autograder on Gradescope.",
        out.display(),
        found.name,
        found.topics.len(),
        &commit[..12.min(commit.len())]
    );
    Ok(())
}

/// The toolchain `rust-toolchain.toml` pins.
fn toolchain(root: &Path) -> Result<String> {
    let path = root.join("rust-toolchain.toml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("Failed to read {}", path.display()))?;
    let value: toml::Value = toml::from_str(&text)?;
    let channel = value
        .get("toolchain")
        .and_then(|t| t.get("channel"))
        .and_then(|c| c.as_str())
        .with_context(|| format!("{} names no [toolchain] channel", path.display()))?;
    if !channel
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
    {
        bail!("{channel:?} in {} is not a toolchain name", path.display());
    }
    Ok(channel.to_string())
}

fn setup_sh(assignment: &str, toolchain: &str) -> String {
    include_str!("gradescope/setup.sh")
        .replace("@ASSIGNMENT@", assignment)
        .replace("@TOOLCHAIN@", toolchain)
}

fn run_autograder(assignment: &str, commit: &str) -> String {
    include_str!("gradescope/run_autograder")
        .replace("@ASSIGNMENT@", assignment)
        .replace("@COMMIT@", commit)
}

#[cfg(test)]
mod tests {
    use super::plain;

    #[test]
    fn learner_text_loses_escapes_and_controls_and_is_cut_short() {
        assert_eq!(
            plain(
                "\u{1b}[31mred\u{1b}[0m\r\n<b>\u{202e}x\u{0}</b>\tok",
                10,
                100
            ),
            "red\n<b>x</b>\tok"
        );
        let long = "line\n".repeat(50);
        let cut = plain(&long, 3, 1000);
        assert_eq!(cut, "line\nline\nline\n... (cut short)");
        assert_eq!(plain(&"é".repeat(10), 1, 4), "éééé\n... (cut short)");
    }
}
