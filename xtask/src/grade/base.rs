//! The scratch workspace grading can run in: `--base REF` (everything from REF but the
//! learner's `exercises/*/src/**`, plus the list of protected files the submission changed),
//! a plain copy of the working tree (for `--extra-tests` alone), and the private tests added
//! to it. The learner's checkout is never written to.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::grade::report::BaseInfo;
use crate::grade::submission::git_output;
use crate::manifest::Topic;
use crate::process;

/// The trusted commit grading takes everything but the learner's sources from.
pub struct Base {
    /// As given (`--base REF`).
    pub reference: String,
    pub commit: String,
    /// The repository holding `commit`.
    pub repo: PathBuf,
}

impl Base {
    /// `reference` resolved in the first of `repos` that has it.
    pub fn resolve(reference: &str, repos: &[&Path]) -> Result<Base> {
        for repo in repos {
            let commit = git_output(
                repo,
                &[
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    &format!("{reference}^{{commit}}"),
                ],
            );
            if let Some(commit) = commit.filter(|c| !c.is_empty()) {
                return Ok(Base {
                    reference: reference.to_string(),
                    commit,
                    repo: repo.to_path_buf(),
                });
            }
        }
        let places: Vec<String> = repos.iter().map(|r| r.display().to_string()).collect();
        bail!(
            "There is no commit {reference:?} in {}: fetch it first (for example `git fetch origin main`, then `--base origin/main`).",
            places.join(" nor in ")
        )
    }
}

/// Builds the scratch copy of the base with the learner's sources at `scratch`.
pub fn prepare(source: &Path, base: &Base, scratch: &Path) -> Result<BaseInfo> {
    fresh_dir(scratch)?;
    extract(&base.repo, &base.commit, scratch)?;
    // Before the learner's sources go in: the scratch copy is the base, file for file.
    let protected_changes = if has_commit(source, &base.commit) {
        protected_changes(source, &base.commit)?
    } else {
        differing_files(source, scratch)?
    };
    let mut refused = Vec::new();
    let exercises = scratch.join("exercises");
    for entry in std::fs::read_dir(&exercises)
        .with_context(|| format!("Failed to read {}", exercises.display()))?
        .flatten()
    {
        let id = entry.file_name();
        if !entry.path().is_dir() {
            continue;
        }
        let rel = Path::new("exercises").join(&id).join("src");
        let target = scratch.join(&rel);
        if target.exists() {
            std::fs::remove_dir_all(&target)
                .with_context(|| format!("Failed to clear {}", target.display()))?;
        }
        copy_regular_tree(&source.join(&rel), &target, &rel, &mut refused)?;
    }
    Ok(BaseInfo {
        reference: base.reference.clone(),
        commit: base.commit.clone(),
        protected_changes,
        refused_files: refused,
    })
}

fn has_commit(repo: &Path, commit: &str) -> bool {
    git_output(repo, &["cat-file", "-e", &format!("{commit}^{{commit}}")]).is_some()
}

/// Without shared history (a repository made from a template): the files outside the
/// learner's sources whose content differs between the checkout and the base's copy, less
/// those `export-template` leaves out or rewrites (they differ in every student's copy; they
/// are graded from the base all the same).
fn differing_files(source: &Path, base_copy: &Path) -> Result<Vec<String>> {
    let listed = git_output(
        source,
        &["ls-files", "--cached", "--others", "--exclude-standard"],
    )
    .context("Failed to list the submission's files: is it a git checkout?")?;
    let mut paths: Vec<String> = listed.lines().map(str::to_string).collect();
    let mut in_base = Vec::new();
    list_files(base_copy, Path::new(""), &mut in_base)?;
    paths.extend(in_base);
    paths.sort();
    paths.dedup();
    paths.retain(|p| {
        !p.is_empty()
            && !is_learner_source(p)
            && !crate::grade::template::made_by_export(p)
            && std::fs::read(source.join(p)).ok() != std::fs::read(base_copy.join(p)).ok()
    });
    Ok(paths)
}

fn list_files(dir: &Path, rel: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in std::fs::read_dir(dir)
        .with_context(|| format!("Failed to read {}", dir.display()))?
        .flatten()
    {
        let rel = rel.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            list_files(&entry.path(), &rel, out)?;
        } else {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

/// `exercises/<id>/src/**`: the only paths a submission owns.
pub fn is_learner_source(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    parts.len() >= 4 && parts[0] == "exercises" && parts[2] == "src"
}

/// The topics whose learner sources the submission changed since it branched from `commit`.
pub fn changed_topics(source: &Path, commit: &str) -> Result<Vec<String>> {
    let mut topics: Vec<String> = changed_paths(source, commit)?
        .iter()
        .filter(|p| is_learner_source(p))
        .filter_map(|p| p.split('/').nth(1).map(str::to_string))
        .collect();
    topics.dedup();
    Ok(topics)
}

/// Files outside the learner's sources that the submission changed (tracked or untracked):
/// compared with where it branched from the base (their merge-base), so files the base
/// changed after the student branched are not taken for the student's changes.
fn protected_changes(source: &Path, commit: &str) -> Result<Vec<String>> {
    let mut paths = changed_paths(source, commit)?;
    paths.retain(|p| !is_learner_source(p));
    Ok(paths)
}

/// Every path changed (tracked or untracked), sorted, since the merge-base with `commit`.
fn changed_paths(source: &Path, commit: &str) -> Result<Vec<String>> {
    let since = git_output(source, &["merge-base", commit, "HEAD"])
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| commit.to_string());
    let changed = git_output(source, &["diff", "--name-only", "--no-renames", &since])
        .context("Failed to run `git diff` against the base")?;
    let untracked =
        git_output(source, &["ls-files", "--others", "--exclude-standard"]).unwrap_or_default();
    let mut paths: Vec<String> = changed
        .lines()
        .chain(untracked.lines())
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    paths.sort();
    paths.dedup();
    Ok(paths)
}

/// `git archive COMMIT | tar -x -C scratch`.
fn extract(source: &Path, commit: &str, scratch: &Path) -> Result<()> {
    let mut archive = process::spawn(
        Command::new("git")
            .arg("-C")
            .arg(source)
            .args(["archive", "--format=tar", commit])
            .stdout(Stdio::piped()),
    )
    .context("Failed to run `git archive`: is git installed?")?;
    let stdout = archive
        .stdout
        .take()
        .context("Failed to read `git archive`")?;
    let tar = process::status(
        Command::new("tar")
            .arg("-x")
            .arg("-C")
            .arg(scratch)
            .stdin(stdout),
    )?;
    let archived = archive.wait()?;
    if !archived.success() || !tar.success() {
        bail!(
            "Failed to extract {commit} into {} (git archive {archived}, tar {tar})",
            scratch.display()
        );
    }
    Ok(())
}

/// Copies regular files and directories; anything else (symbolic links, devices) is listed
/// in `refused` by its repository path and left out.
fn copy_regular_tree(from: &Path, to: &Path, rel: &Path, refused: &mut Vec<String>) -> Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(from) else {
        return Ok(()); // deleted by the learner: the build says so
    };
    if meta.is_dir() {
        std::fs::create_dir_all(to)
            .with_context(|| format!("Failed to create {}", to.display()))?;
        let mut entries: Vec<_> = std::fs::read_dir(from)
            .with_context(|| format!("Failed to read {}", from.display()))?
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name();
            copy_regular_tree(
                &from.join(&name),
                &to.join(&name),
                &rel.join(&name),
                refused,
            )?;
        }
    } else if meta.is_file() {
        std::fs::copy(from, to)
            .with_context(|| format!("Failed to copy {} to {}", from.display(), to.display()))?;
    } else {
        refused.push(rel.to_string_lossy().into_owned());
    }
    Ok(())
}

/// A copy of the working tree (tracked and untracked, not ignored), for private tests without
/// a base.
pub fn copy_working_tree(source: &Path, scratch: &Path) -> Result<PathBuf> {
    fresh_dir(scratch)?;
    let files = git_output(
        source,
        &["ls-files", "--cached", "--others", "--exclude-standard"],
    )
    .context("Failed to list the repository's files: `--extra-tests` needs a git checkout")?;
    for file in files.lines().filter(|f| !f.is_empty()) {
        let (from, to) = (source.join(file), scratch.join(file));
        let Ok(meta) = std::fs::symlink_metadata(&from) else {
            continue;
        };
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if meta.is_file() {
            std::fs::copy(&from, &to).with_context(|| format!("Failed to copy {file}"))?;
        } else if meta.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
        }
    }
    Ok(scratch.to_path_buf())
}

/// Every directory of `dir` must be named after a topic (a typo would silently drop tests).
pub fn check_extra_tests(dir: &Path, topics: &[Topic]) -> Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| {
        format!(
            "Failed to read the private tests directory {}",
            dir.display()
        )
    })?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && !topics.iter().any(|t| t.id == name) {
            let ids: Vec<&str> = topics.iter().map(|t| t.id.as_str()).collect();
            bail!(
                "{} is not named after a topic of exercises/katas.toml (topics: {}): rename it to the topic's id.",
                entry.path().display(),
                ids.join(", ")
            );
        }
    }
    Ok(())
}

/// `DIR/<topic id>/*.rs` become test targets `extra_<name>` of the topic in the scratch copy;
/// `DIR/<topic id>/weights.toml` (test name = share) joins the topic's `test_weights`.
pub fn add_extra_tests(root: &Path, dir: &Path, topic: &mut Topic) -> Result<()> {
    if !dir.is_dir() {
        bail!(
            "The private tests directory {} does not exist.",
            dir.display()
        );
    }
    let source = dir.join(&topic.id);
    if !source.is_dir() {
        return Ok(());
    }
    let crate_dir = root.join("exercises").join(&topic.id);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&source)
        .with_context(|| format!("Failed to read {}", source.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    let mut targets = String::new();
    std::fs::create_dir_all(crate_dir.join("tests"))?;
    for file in files {
        let stem: String = file
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        let name = format!("extra_{stem}");
        std::fs::copy(&file, crate_dir.join("tests").join(format!("{name}.rs")))
            .with_context(|| format!("Failed to copy {}", file.display()))?;
        targets += &format!("\n[[test]]\nname = \"{name}\"\npath = \"tests/{name}.rs\"\n");
    }
    let manifest = crate_dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("Failed to read {}", manifest.display()))?;
    std::fs::write(&manifest, text + &targets)
        .with_context(|| format!("Failed to write {}", manifest.display()))?;
    let weights = source.join("weights.toml");
    if weights.exists() {
        let text = std::fs::read_to_string(&weights)
            .with_context(|| format!("Failed to read {}", weights.display()))?;
        let shares: std::collections::BTreeMap<String, u32> =
            toml::from_str(&text).with_context(|| {
                format!("{} must hold `test_name = share` lines", weights.display())
            })?;
        topic.test_weights.extend(shares);
    }
    Ok(())
}

/// An empty directory at `dir` (it belongs to the grader: anything there is replaced).
fn fresh_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("Failed to clear {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("Failed to create {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::is_learner_source;

    #[test]
    fn only_exercise_sources_belong_to_the_learner() {
        assert!(is_learner_source("exercises/11_transfer/src/lib.rs"));
        assert!(is_learner_source("exercises/11_transfer/src/a/b.rs"));
        assert!(!is_learner_source(
            "exercises/11_transfer/tests/transfer.rs"
        ));
        assert!(!is_learner_source("exercises/11_transfer/Cargo.toml"));
        assert!(!is_learner_source("exercises/katas.toml"));
        assert!(!is_learner_source("solutions/11_transfer/src/lib.rs"));
        assert!(!is_learner_source("xtask/src/main.rs"));
    }
}
