//! The repository's own checks: every topic directory is listed, each topic's files are
//! complete, and the student template builds and runs on its own.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::cargo;
use crate::grade::template;
use crate::manifest::{self, Topic};
use crate::process;

/// A topic without services that the student template's check verifies.
pub(super) const TEMPLATE_TOPIC: &str = "password_hashing";

/// `export-template` into a temporary directory, then that copy's own runner verifies one
/// topic: it must build without `solutions/` and report the stub as not started, exiting
/// non-zero. Built in a target directory of its own (`target/kata-template`), kept between
/// checks: cargo names a path crate's outputs after its path inside the workspace, the same in
/// both copies, so sharing this checkout's would have each build overwrite the other's.
pub(super) fn student_template() -> Result<Vec<String>> {
    let dir = std::env::temp_dir().join(format!("kata-template-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let outcome = (|| {
        template::export(&dir, None)?;
        let target = manifest::root().join("target/kata-template");
        if !target.exists() {
            let own = workspace_crates(&manifest::load()?);
            if let Err(e) = seed_with_registry_outputs(&cargo::target_dir(), &target, &own) {
                let _ = std::fs::remove_dir_all(&target);
                return Err(e.into());
            }
        }
        // As a learner runs it: `cargo xtask`, through the template's own alias and launcher.
        let out = process::output(
            Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                .current_dir(&dir)
                .args(["xtask", "verify", TEMPLATE_TOPIC])
                .env("KATA_TARGET_DIR", &target)
                // Built once per check: an incremental cache would only take disk.
                .env("CARGO_INCREMENTAL", "0"),
        )?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut problems = Vec::new();
        if out.status.success() {
            problems.push("`verify` exited 0 on a stub".to_string());
        }
        if !text.contains("Not started") {
            let lines: Vec<&str> = text.lines().collect();
            problems.push(format!(
                "`verify {TEMPLATE_TOPIC}` did not report the stub as not started:\n{}",
                lines[lines.len().saturating_sub(30)..].join("\n")
            ));
        }
        Ok(problems)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

/// The workspace's own crates, as they name their outputs (`-` as `_`).
fn workspace_crates(topics: &[Topic]) -> Vec<String> {
    let mut own = vec!["xtask".to_string(), "kata_testkit".to_string()];
    for topic in topics {
        own.push(topic.name().to_string());
        own.push(topic.solution_package());
    }
    own
}

/// Seeds the template's target directory with this checkout's registry crates, which the
/// template builds the same (same sources, flags and hashes), so only its own crates build
/// there. Outputs are hard links: a full copy would double the disk a check needs. Cargo's
/// fingerprints, which it rewrites in place, are copied instead.
fn seed_with_registry_outputs(from: &Path, to: &Path, own: &[String]) -> std::io::Result<()> {
    for dir in ["deps", "build", ".fingerprint"] {
        let (from, to) = (from.join("debug").join(dir), to.join("debug").join(dir));
        std::fs::create_dir_all(&to)?;
        for entry in std::fs::read_dir(&from)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().replace('-', "_");
            let crate_name = name.rsplit_once('_').map_or(name.as_str(), |(c, _)| c);
            let crate_name = crate_name.strip_prefix("lib").unwrap_or(crate_name);
            if own.iter().any(|o| o == crate_name) {
                continue;
            }
            link_tree(
                &entry.path(),
                &to.join(entry.file_name()),
                dir == ".fingerprint",
            )?;
        }
    }
    Ok(())
}

fn link_tree(from: &Path, to: &Path, copy: bool) -> std::io::Result<()> {
    let kind = std::fs::symlink_metadata(from)?.file_type();
    if kind.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            link_tree(&entry.path(), &to.join(entry.file_name()), copy)?;
        }
    } else if kind.is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(from)?, to)?;
    } else if copy {
        std::fs::copy(from, to)?;
    } else {
        std::fs::hard_link(from, to)?;
    }
    Ok(())
}

pub(super) fn orphans(topics: &[Topic]) -> Vec<String> {
    let mut problems = Vec::new();
    for area in ["exercises", "solutions"] {
        for entry in std::fs::read_dir(manifest::root().join(area))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() && !topics.iter().any(|t| t.id == name) {
                problems.push(format!(
                    "{area}/{name} is not listed in exercises/katas.toml"
                ));
            }
        }
    }
    problems
}

pub(super) fn files(topic: &Topic) -> Vec<String> {
    let mut problems = Vec::new();
    let read = |path: std::path::PathBuf| std::fs::read_to_string(&path).unwrap_or_default();
    let exercise = topic.exercise_dir();
    let readme = read(exercise.join("README.md"));
    for section in [
        "## What to implement",
        "## Rules the tests enforce",
        "## Further reading",
    ] {
        if !readme.contains(section) {
            problems.push(format!(
                "exercises/{}/README.md lacks the section `{section}`",
                topic.id
            ));
        }
    }
    if read(exercise.join("hint.md")).trim().len() < 80 {
        problems.push(format!(
            "exercises/{}/hint.md is missing or too short to help",
            topic.id
        ));
    }
    let stub = read(exercise.join("src/lib.rs"));
    if !stub.contains("todo!(") || !stub.contains("// TODO") {
        problems.push(format!(
            "exercises/{}/src/lib.rs must be a stub: `todo!()` bodies and `// TODO` edit points",
            topic.id
        ));
    }
    let solution = read(topic.solution_dir().join("src/lib.rs"));
    if solution.is_empty() || solution.contains("todo!(") || solution.contains("unimplemented!(") {
        problems.push(format!(
            "solutions/{}/src/lib.rs is missing or unfinished",
            topic.id
        ));
    }
    if manifest::test_files(topic)
        .iter()
        .all(|p| p.extension().is_none_or(|e| e != "rs"))
    {
        problems.push(format!("exercises/{}/tests/ holds no test", topic.id));
    }
    problems
}
