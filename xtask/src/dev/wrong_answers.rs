//! Patches of a solution, each a diff against files of the solution's `src/` (usually
//! `src/lib.rs`; paths `a/src/...`):
//! - plausible wrong answers, `solutions/NN_topic/wrong_answers/*.diff`, headed by what the
//!   mistake is (`# Mistake:`) and which tests must catch it (`# Must fail:`);
//! - alternative correct solutions, `solutions/NN_topic/alternatives/*.diff`, headed by the
//!   approach they take (`# Approach:`): every test must accept them.
//!
//! Each is built in a scratch copy of the workspace (under the runner's target directory, one
//! per topic so topics can be checked at once) in which only that solution crate is patched;
//! the shared target directory keeps the stack's build, so a patch costs one crate's compile.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cargo;
use crate::manifest::{self, Topic};

pub struct WrongAnswer {
    pub name: String,
    /// What the mistake is, or (for an alternative) the approach it takes.
    pub mistake: String,
    /// Empty for an alternative (every test must pass), and for a wrong answer whose header
    /// says `# Must fail: ?` (not named yet: check lists the tests that fail on it).
    pub must_fail: Vec<String>,
    pub patch: String,
}

/// An alternative correct solution is a patch that no test may fail.
pub type Alternative = WrongAnswer;

pub fn load(topic: &Topic) -> Result<Vec<WrongAnswer>> {
    diffs(&topic.solution_dir().join("wrong_answers"))?
        .iter()
        .map(|p| parse(p, false))
        .collect()
}

/// The topic's alternative correct solutions (none when it has no `alternatives/`).
pub fn load_alternatives(topic: &Topic) -> Result<Vec<Alternative>> {
    let dir = topic.solution_dir().join("alternatives");
    if !dir.exists() {
        return Ok(Vec::new());
    }
    diffs(&dir)?.iter().map(|p| parse(p, true)).collect()
}

fn diffs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{} is missing", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "diff"))
        .collect();
    paths.sort();
    Ok(paths)
}

fn parse(path: &Path, alternative: bool) -> Result<WrongAnswer> {
    let text = std::fs::read_to_string(path)?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
    };
    let (mistake, must_fail) = if alternative {
        let Some(approach) = field("# Approach:") else {
            bail!("{} needs the header line `# Approach: ...`", path.display());
        };
        (approach, Vec::new())
    } else {
        let (Some(mistake), Some(must_fail)) = (field("# Mistake:"), field("# Must fail:")) else {
            bail!(
                "{} needs the header lines `# Mistake: ...` and `# Must fail: test, ...`",
                path.display()
            );
        };
        // `?`: a new wrong answer whose catching tests are not named yet.
        let must_fail: Vec<String> = must_fail
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && s != "?")
            .collect();
        (mistake, must_fail)
    };
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

/// Prepares the topic's scratch workspace with `wrong` applied and returns its manifest path.
pub fn workspace(topic: &Topic, wrong: &WrongAnswer) -> Result<PathBuf> {
    let root = manifest::root();
    let scratch = cargo::target_dir()
        .join("wrong-answer-workspace")
        .join(&topic.id);
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
    // All of `src/`: a solution may `include_str!` templates or migrations beside lib.rs.
    copy_dir(&topic.solution_dir().join("src"), &copy.join("src"))?;
    std::fs::copy(
        topic.solution_dir().join("Cargo.toml"),
        copy.join("Cargo.toml"),
    )?;
    for (path, patch) in file_patches(&wrong.patch) {
        let file = safe_src_path(&path).with_context(|| {
            format!(
                "wrong answer {}: {path} is not a file under src/",
                wrong.name
            )
        })?;
        let original = std::fs::read_to_string(copy.join(&file)).with_context(|| {
            format!(
                "wrong answer {} patches {path}, which the solution lacks",
                wrong.name
            )
        })?;
        let patch = diffy::Patch::from_str(&patch)
            .with_context(|| format!("wrong answer {} is not a valid diff", wrong.name))?;
        let patched = diffy::apply(&original, &patch).with_context(|| {
            format!(
                "wrong answer {} no longer applies to the solution's {path}: regenerate the diff",
                wrong.name
            )
        })?;
        std::fs::write(copy.join(&file), patched)?;
    }
    Ok(scratch.join("Cargo.toml"))
}

/// Splits a diff into (path relative to the crate, that file's patch): one diff may patch
/// several files (`--- a/src/lib.rs`, `--- a/src/Dockerfile`, ...). Accepts what `diff -ru`
/// and `git diff` write around the patches: a timestamp after the path, and `diff ...`,
/// `index ...` or `Only in ...` lines between files.
fn file_patches(diff: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = Vec::new();
    let mut in_file = false;
    for line in diff.split_inclusive('\n') {
        if let Some(header) = line.strip_prefix("--- a/") {
            let path = header.split('\t').next().unwrap_or_default().trim_end();
            files.push((path.to_string(), String::new()));
            in_file = true;
        } else if ["diff ", "index ", "Only in "]
            .iter()
            .any(|p| line.starts_with(p))
        {
            in_file = false;
        }
        if let (true, Some((_, patch))) = (in_file, files.last_mut()) {
            patch.push_str(line);
        }
    }
    files
}

/// Only files under `src/`, with no way out of it.
fn safe_src_path(path: &str) -> Option<PathBuf> {
    let path = Path::new(path);
    let inside = path.starts_with("src")
        && path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    inside.then(|| path.to_path_buf())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)?.flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_is_split_per_file_and_stays_inside_src() {
        let diff = "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1 +1 @@\n-a\n+b\n\
                    --- a/src/Dockerfile\n+++ b/src/Dockerfile\n@@ -1 +1 @@\n-FROM x\n+FROM y\n";

        let files = file_patches(diff);

        let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["src/lib.rs", "src/Dockerfile"]);
        assert!(
            files[1].1.starts_with("--- a/src/Dockerfile\n") && files[1].1.ends_with("+FROM y\n")
        );
        assert!(safe_src_path("src/migrations/0001.sql").is_some());
        for outside in [
            "Cargo.toml",
            "src/../Cargo.toml",
            "/etc/passwd",
            "tests/x.rs",
        ] {
            assert!(
                safe_src_path(outside).is_none(),
                "{outside} must be refused"
            );
        }
    }

    #[test]
    fn a_diff_written_by_diff_ru_is_split_like_a_plain_one() {
        let diff = "diff -ru a/src/lib.rs b/src/lib.rs\n\
                    --- a/src/lib.rs\t2026-12-05 10:40:56.19 +0000\n\
                    +++ b/src/lib.rs\t2026-12-05 10:41:02.57 +0000\n@@ -1 +1 @@\n-a\n+b\n\
                    diff -ru a/src/main.rs b/src/main.rs\n\
                    --- a/src/main.rs\t2026-12-05 10:40:56.19 +0000\n\
                    +++ b/src/main.rs\t2026-12-05 10:41:02.57 +0000\n@@ -1 +1 @@\n-c\n+d\n";

        let files = file_patches(diff);

        let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["src/lib.rs", "src/main.rs"]);
        assert!(files[0].1.ends_with("+b\n"), "{:?}", files[0].1);
        let patched = diffy::apply("a\n", &diffy::Patch::from_str(&files[0].1).unwrap());
        assert_eq!(patched.unwrap(), "b\n");
    }
}
