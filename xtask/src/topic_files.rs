//! `hint`, `reset` and `solution`: the files around a topic.

use std::io::{BufRead, Write};

use anyhow::{Context, Result, bail};

use crate::learn;
use crate::manifest::{self, Topic};
use crate::progress::Progress;

fn chosen(topics: &[Topic], wanted: Option<String>) -> Result<Topic> {
    match wanted {
        Some(name) => Ok(manifest::find(topics, &name)?.clone()),
        None => learn::current(topics, &Progress::load())
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
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let backup = kata_testkit::services::state_dir()
        .join("backup")
        .join(format!("{}-{stamp}", topic.id));
    std::fs::create_dir_all(&backup)?;
    crate::cargo::run(
        std::process::Command::new("cp")
            .arg("-R")
            .arg(&src)
            .arg(&backup),
    )?;
    // The stub is the version the repository shipped: git's copy of the file at HEAD.
    let status = std::process::Command::new("git")
        .current_dir(manifest::root())
        .args(["checkout", "HEAD", "--"])
        .arg(format!("exercises/{}/src", topic.id))
        .status()
        .context("Failed to run git: is it installed?")?;
    if !status.success() {
        bail!(
            "git could not restore exercises/{}/src; your code is safe in {}",
            topic.id,
            backup.display()
        );
    }
    let mut progress = Progress::load();
    progress.record(&topic, false);
    progress.save()?;
    println!(
        "Restored the stub of {}. Your code is in {}.",
        topic.id,
        backup.display()
    );
    Ok(())
}

pub fn solution(wanted: String) -> Result<()> {
    let topics = manifest::load()?;
    let topic = chosen(&topics, Some(wanted))?;
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
