//! `hint`, `reset` and `solution`: the files around a topic.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::grade::template;
use crate::learner;
use crate::learner::progress::Progress;
use crate::manifest::{self, Topic};

fn chosen(topics: &[Topic], wanted: Option<String>) -> Result<Topic> {
    match wanted {
        Some(name) => Ok(manifest::find(topics, &name)?.clone()),
        None => learner::current(topics, &Progress::load())
            .cloned()
            .context("Every topic is done: name one, e.g. `cargo xtask hint transfer`"),
    }
}

pub fn hint(wanted: Option<String>) -> Result<()> {
    let topics = manifest::load()?;
    let topic = chosen(&topics, wanted)?;
    let path = topic.exercise_dir().join("hint.md");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("Failed to read {}", path.display()))?;
    println!(
        "Hint for {} ({}):\n\n{}",
        topic.id,
        topic.title,
        text.trim_end()
    );
    Ok(())
}

pub fn reset(wanted: String, yes: bool) -> Result<()> {
    let topics = manifest::load()?;
    let topic = chosen(&topics, Some(wanted))?;
    let src = topic.exercise_dir().join("src");
    if !yes {
        print!(
            "Put back the stub of {} and drop your code in exercises/{}/src? (a copy goes to .kata/backup/) [y/N] ",
            topic.id, topic.id
        );
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("Nothing changed.");
            return Ok(());
        }
    }
    let backup = backup_dir()?.join(format!("{}-{}", topic.id, now()?));
    if src.exists() {
        copy_dir(&src, &backup)?;
    }
    // The stub is the version the repository shipped (see `template::stub_commit`); files
    // the learner added are dropped with the rest (they are in the backup).
    let path = format!("exercises/{}/src", topic.id);
    let commit = stub_source(&path)?;
    if src.exists() {
        std::fs::remove_dir_all(&src).with_context(|| {
            format!(
                "Failed to clear {path}; your code is safe in {}",
                backup.display()
            )
        })?;
    }
    let status = crate::process::status(
        std::process::Command::new("git")
            .current_dir(manifest::root())
            .args(["checkout", &commit, "--"])
            .arg(&path),
    )
    .context("Failed to run git: is it installed?")?;
    if !status.success() {
        bail!(
            "git could not restore {path}; your code is safe in {}",
            backup.display()
        );
    }
    let mut progress = Progress::load();
    progress.record(&topic, false);
    progress.save()?;
    println!(
        "Restored the stub of {}. Your code is in {} (`cargo xtask reset --undo {}` brings it back).",
        topic.id,
        backup.display(),
        topic.name()
    );
    Ok(())
}

/// `reset --undo`: puts back the code the last reset of the topic saved (the current code
/// goes to `.kata/backup/undone/` first).
pub fn undo_reset(wanted: String) -> Result<()> {
    let topics = manifest::load()?;
    let topic = chosen(&topics, Some(wanted))?;
    let dir = backup_dir()?;
    let prefix = format!("{}-", topic.id);
    let latest = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stamp: u64 = name.strip_prefix(&prefix)?.parse().ok()?;
            entry
                .path()
                .join("src")
                .is_dir()
                .then_some((stamp, entry.path()))
        })
        .max();
    let Some((_, backup)) = latest else {
        bail!(
            "There is no saved code of {} in {}: `cargo xtask reset {}` saves it there first.",
            topic.id,
            dir.display(),
            topic.name()
        );
    };
    let src = topic.exercise_dir().join("src");
    let undone = dir.join("undone").join(format!("{}-{}", topic.id, now()?));
    if src.exists() {
        copy_dir(&src, &undone)?;
        std::fs::remove_dir_all(&src)
            .with_context(|| format!("Failed to clear {}", src.display()))?;
    }
    crate::process::run(
        std::process::Command::new("cp")
            .arg("-R")
            .arg(backup.join("src"))
            .arg(&src),
    )?;
    std::fs::remove_dir_all(&backup)
        .with_context(|| format!("Failed to remove {}", backup.display()))?;
    println!(
        "Brought back your code of {} from {}. The stub it replaced is in {}. Run `cargo xtask verify {}`.",
        topic.id,
        backup.display(),
        undone.display(),
        topic.name()
    );
    Ok(())
}

fn backup_dir() -> Result<PathBuf> {
    let dir = kata_testkit::services::state_dir().join("backup");
    std::fs::create_dir_all(&dir).with_context(|| format!("Failed to create {}", dir.display()))?;
    Ok(dir)
}

/// Milliseconds since 1970: backups sort by it.
fn now() -> Result<u128> {
    Ok(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis())
}

/// `DEST/src` becomes a copy of `src`.
fn copy_dir(src: &Path, dest: &Path) -> Result<()> {
    std::fs::create_dir_all(dest)
        .with_context(|| format!("Failed to create {}", dest.display()))?;
    crate::process::run(
        std::process::Command::new("cp")
            .arg("-R")
            .arg(src)
            .arg(dest),
    )
}

/// The commit holding `path` as shipped: the stub commit, or (a topic the instructor added
/// later) the first commit that has it.
fn stub_source(path: &str) -> Result<String> {
    let root = manifest::root();
    let commit = template::stub_commit(&root)?;
    if template::git(&root, &["cat-file", "-e", &format!("{commit}:{path}")]).is_ok() {
        return Ok(commit);
    }
    let added = template::git(&root, &["rev-list", "--reverse", "HEAD", "--", path])?;
    String::from_utf8(added)?
        .lines()
        .next()
        .map(str::to_string)
        .with_context(|| format!("No commit of this repository has {path}: it cannot be reset"))
}

pub fn solution(wanted: String) -> Result<()> {
    let topics = manifest::load()?;
    let topic = chosen(&topics, Some(wanted))?;
    if template::is_student_copy() {
        bail!(
            "The reference solutions are not part of this copy of the katas: ask your instructor. Your tests passing is the proof that yours works; compare notes with `cargo xtask hint {}`.",
            topic.name()
        );
    }
    if !Progress::load().is_done(&topic) {
        bail!(
            "Finish {} first: the solution opens once its tests pass. Run `cargo xtask verify {}` (stuck? `cargo xtask hint {}`).",
            topic.id,
            topic.name(),
            topic.name()
        );
    }
    let path = topic.solution_dir().join("src/lib.rs");
    println!(
        "{}\n",
        path.strip_prefix(manifest::root())
            .unwrap_or(&path)
            .display()
    );
    println!("{}", std::fs::read_to_string(&path)?);
    println!(
        "Compare with yours: diff -u exercises/{0}/src/lib.rs solutions/{0}/src/lib.rs",
        topic.id
    );
    Ok(())
}
