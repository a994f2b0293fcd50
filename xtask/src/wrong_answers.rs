//! Plausible wrong answers: `solutions/NN_topic/wrong_answers/*.diff`, each a patch against
//! the solution's `src/lib.rs` headed by what the mistake is and which tests must catch it.
//!
//! Each is built in a scratch copy of the workspace (under the runner's target directory) in
//! which only that solution crate is patched; the shared target directory keeps the stack's
//! build, so a wrong answer costs one crate's compile.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cargo;
use crate::manifest::{self, Topic};

pub struct WrongAnswer {
    pub name: String,
    pub mistake: String,
    pub must_fail: Vec<String>,
    pub patch: String,
}

pub fn load(topic: &Topic) -> Result<Vec<WrongAnswer>> {
    let dir = topic.solution_dir().join("wrong_answers");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("{} is missing", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "diff"))
        .collect();
    paths.sort();
    paths.iter().map(|p| parse(p)).collect()
}

fn parse(path: &Path) -> Result<WrongAnswer> {
    let text = std::fs::read_to_string(path)?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
    };
    let (Some(mistake), Some(must_fail)) = (field("# Mistake:"), field("# Must fail:")) else {
        bail!(
            "{} needs the header lines `# Mistake: ...` and `# Must fail: test, ...`",
            path.display()
        );
    };
    let must_fail: Vec<String> = must_fail
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if must_fail.is_empty() {
        bail!("{}: `# Must fail:` names no test", path.display());
    }
    let start = text
        .find("\n--- ")
        .map(|i| i + 1)
        .with_context(|| format!("{} holds no unified diff", path.display()))?;
    Ok(WrongAnswer {
        name: path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned(),
        mistake: mistake.to_string(),
        must_fail,
        patch: text[start..].to_string(),
    })
}

/// Prepares the scratch workspace with `wrong` applied and returns its manifest path.
pub fn workspace(topic: &Topic, wrong: &WrongAnswer) -> Result<PathBuf> {
    let root = manifest::root();
    let scratch = cargo::target_dir().join("wrong-answer-workspace");
    std::fs::create_dir_all(scratch.join("solutions"))?;
    for file in ["Cargo.toml", "Cargo.lock", "rust-toolchain.toml"] {
        if root.join(file).exists() {
            std::fs::copy(root.join(file), scratch.join(file))?;
        }
    }
    std::fs::create_dir_all(scratch.join(".cargo"))?;
    std::fs::copy(
        root.join(".cargo/config.toml"),
        scratch.join(".cargo/config.toml"),
    )?;
    for dir in ["testkit", "xtask", "exercises"] {
        link(&root.join(dir), &scratch.join(dir))?;
    }
    // Cargo names a path package's build outputs after its path inside the workspace: the
    // patched copy needs a path of its own (`NN_topic.wrong`), or its outputs would overwrite
    // the real solution's in the shared target directory.
    for entry in std::fs::read_dir(scratch.join("solutions"))?.flatten() {
        if entry.file_name().to_string_lossy().ends_with(".wrong") {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    for entry in std::fs::read_dir(root.join("solutions"))?.flatten() {
        let target = scratch.join("solutions").join(entry.file_name());
        if entry.file_name() == topic.id.as_str() {
            if target.is_symlink() {
                std::fs::remove_file(&target)?;
            }
        } else {
            link(&entry.path(), &target)?;
        }
    }
    let copy = scratch
        .join("solutions")
        .join(format!("{}.wrong", topic.id));
    std::fs::create_dir_all(copy.join("src"))?;
    std::fs::copy(
        topic.solution_dir().join("Cargo.toml"),
        copy.join("Cargo.toml"),
    )?;
    let solution = std::fs::read_to_string(topic.solution_dir().join("src/lib.rs"))?;
    let patch = diffy::Patch::from_str(&wrong.patch)
        .with_context(|| format!("wrong answer {} is not a valid diff", wrong.name))?;
    let patched = diffy::apply(&solution, &patch).with_context(|| {
        format!(
            "wrong answer {} no longer applies to the solution: regenerate the diff",
            wrong.name
        )
    })?;
    std::fs::write(copy.join("src/lib.rs"), patched)?;
    Ok(scratch.join("Cargo.toml"))
}

fn link(from: &Path, to: &Path) -> Result<()> {
    if to.is_symlink() || to.exists() {
        if to.is_symlink() && std::fs::read_link(to)? == from {
            return Ok(());
        }
        if to.is_dir() && !to.is_symlink() {
            std::fs::remove_dir_all(to)?;
        } else {
            std::fs::remove_file(to)?;
        }
    }
    std::os::unix::fs::symlink(from, to)?;
    Ok(())
}
