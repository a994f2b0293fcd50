//! `cargo xtask export-template DIR`: the repository students clone. The tracked files without
//! the reference solutions (`solutions/`: answers, wrong answers, alternatives, the capstone's
//! reference) and without the maintainers' and instructors' machinery (`.ci/`, `.github/`),
//! plus a student README and a `.github/workflows/submission.yml` that calls the instructor's
//! grading workflow. The result is one git repository with one commit: the stubs `reset`
//! restores come from that root commit.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::manifest;
use crate::process;

/// Tracked paths a student copy leaves out.
const LEFT_OUT: [&str; 3] = ["solutions/", ".ci/", ".github/"];

/// README sections for instructors and maintainers, left out of the student README.
const INSTRUCTOR_SECTIONS: [&str; 2] = [
    "## Grading: instructors and CI",
    "## Testing this repository",
];

/// The grading workflow of the student copy.
const SUBMISSION_YML: &str = include_str!("template/submission.yml");
const STUDENT_SECTION: &str = include_str!("template/student.md");

/// A student copy: a checkout without `solutions/`.
pub fn is_student_copy() -> bool {
    !manifest::root().join("solutions").exists()
}

/// Whether a tracked path stays out of the student copy.
pub fn left_out(path: &str) -> bool {
    LEFT_OUT.iter().any(|prefix| path.starts_with(prefix))
}

/// Files the export rewrites for students.
const REWRITTEN: [&str; 3] = ["README.md", "Cargo.toml", "Cargo.lock"];

/// Whether a path of a student copy differs from this repository's by the export's own
/// doing: left out, rewritten, or added (the student workflow).
pub fn made_by_export(path: &str) -> bool {
    left_out(path) || REWRITTEN.contains(&path)
}

pub fn run(dir: &Path, root: Option<&Path>) -> Result<()> {
    let copied = export(dir, root)?;
    println!(
        "Exported {copied} files into {} (one commit; solutions/, .ci/ and the instructors' workflows left out).\nNext: push it to a template repository, and set INSTRUCTOR_ORG/INSTRUCTOR_REPO in .github/workflows/submission.yml.",
        dir.display()
    );
    Ok(())
}

/// Writes the student copy into `dir`; the number of files copied.
pub fn export(dir: &Path, root: Option<&Path>) -> Result<usize> {
    let root = match root {
        Some(dir) => std::fs::canonicalize(dir)
            .with_context(|| format!("Failed to find the repository {}", dir.display()))?,
        None => manifest::root(),
    };
    if dir.exists()
        && std::fs::read_dir(dir)
            .with_context(|| format!("Failed to read {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} is not empty: export the template into a new directory (for example `cargo xtask export-template ../katas-template`).",
            dir.display()
        );
    }
    let dir = std::path::absolute(dir)?;
    if dir.starts_with(&root) {
        bail!(
            "{} is inside the repository: export the template outside it.",
            dir.display()
        );
    }
    if !git(&root, &["status", "--porcelain", "--untracked-files=no"])?.is_empty() {
        eprintln!(
            "note: the working tree has uncommitted changes to tracked files: they are exported too"
        );
    }
    let listing = git(&root, &["ls-files", "-z"])?;
    let mut copied = 0;
    for path in listing.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let path = std::str::from_utf8(path).context("a tracked path is not UTF-8")?;
        if left_out(path) {
            continue;
        }
        let (from, to) = (root.join(path), dir.join(path));
        // A tracked file deleted from the working tree is not exported.
        let Ok(meta) = std::fs::symlink_metadata(&from) else {
            continue;
        };
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("Failed to create {}", parent.display()))?;
        }
        if meta.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
        } else if meta.is_file() {
            std::fs::copy(&from, &to).with_context(|| format!("Failed to copy {path}"))?;
        }
        copied += 1;
    }
    let manifest_path = dir.join("Cargo.toml");
    let cargo_toml = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("Failed to read {}", manifest_path.display()))?;
    std::fs::write(&manifest_path, without_solutions(&cargo_toml)?)?;
    let readme = dir.join("README.md");
    let text = std::fs::read_to_string(&readme).unwrap_or_default();
    std::fs::write(&readme, student_readme(&text))?;
    let workflows = dir.join(".github/workflows");
    std::fs::create_dir_all(&workflows)?;
    std::fs::write(workflows.join("submission.yml"), SUBMISSION_YML)?;
    if dir.join("Cargo.lock").exists() {
        prune_lockfile(&dir);
    }

    git(&dir, &["init", "--quiet"])?;
    git(&dir, &["add", "--all"])?;
    git(
        &dir,
        &[
            "-c",
            "user.name=Rust Backend Katas",
            "-c",
            "user.email=katas@invalid",
            "commit",
            "--quiet",
            "--message",
            "Rust Backend Katas: the student template",
        ],
    )?;
    Ok(copied)
}

/// The workspace manifest without the `solutions/*` member (cargo reads a glob that matches
/// nothing as a missing path).
pub fn without_solutions(cargo_toml: &str) -> Result<String> {
    let text = cargo_toml
        .replace(", \"solutions/*\"", "")
        .replace("\"solutions/*\", ", "")
        .replace("\"solutions/*\"", "");
    let value: toml::Value = toml::from_str(&text).context("Cargo.toml does not parse")?;
    let members = value
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .context("Cargo.toml lists no [workspace] members")?;
    if members
        .iter()
        .any(|m| m.as_str().is_some_and(|m| m.starts_with("solutions")))
    {
        bail!(
            "Cargo.toml's workspace members name solutions/ in a way the export does not know: list them as \"solutions/*\""
        );
    }
    Ok(text)
}

/// The README with a section for students and without the instructors' sections.
fn student_readme(text: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    let mut added = false;
    for line in text.lines() {
        if line.starts_with("## ") {
            skipping = INSTRUCTOR_SECTIONS.contains(&line);
            if !added && !skipping {
                out += STUDENT_SECTION;
                out += "\n";
                added = true;
            }
        }
        if !skipping {
            out += line;
            out += "\n";
        }
    }
    if !added {
        out += "\n";
        out += STUDENT_SECTION;
    }
    out
}

/// Drops the solutions' packages from `Cargo.lock` (cargo would on the first build, leaving a
/// change behind). Offline: nothing is fetched; on failure the first build does it.
fn prune_lockfile(dir: &Path) {
    let done = process::output(
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(dir)
            .args(["update", "--workspace", "--offline", "--quiet"]),
    );
    if !done.is_ok_and(|out| out.status.success()) {
        eprintln!(
            "note: Cargo.lock still lists the solutions' packages: the first build drops them"
        );
    }
}

/// The commit a reference names.
pub fn commit_of(root: &Path, reference: &str) -> Result<String> {
    let out = git(
        root,
        &["rev-parse", "--verify", &format!("{reference}^{{commit}}")],
    )
    .with_context(|| format!("There is no commit {reference:?} in {}", root.display()))?;
    Ok(String::from_utf8(out)?.trim().to_string())
}

/// The commit the stubs come from: in a student copy, its root commit (what the template
/// shipped, whatever the student committed since); in the maintainers' repository, `HEAD`.
pub fn stub_commit(root: &Path) -> Result<String> {
    if root.join("solutions").exists() {
        return Ok("HEAD".to_string());
    }
    let roots = git(root, &["rev-list", "--max-parents=0", "HEAD"])?;
    let roots = String::from_utf8(roots)?;
    // Oldest last; several roots only after merging unrelated histories.
    roots
        .lines()
        .last()
        .map(str::to_string)
        .context("This repository has no commit: clone your copy of the template again")
}

/// Runs git in `dir`; its standard output, or an error naming the command.
pub fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let out = process::output(Command::new("git").arg("-C").arg(dir).args(args))
        .context("Failed to run git: is it installed?")?;
    if !out.status.success() {
        bail!(
            "`git {}` failed in {}: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(root: &Path, file: &str, text: &str) -> String {
        std::fs::create_dir_all(root.join(file).parent().unwrap()).unwrap();
        std::fs::write(root.join(file), text).unwrap();
        git(root, &["add", "."]).unwrap();
        let author = ["-c", "user.name=t", "-c", "user.email=t@example.com"];
        git(
            root,
            &[&author[..], &["commit", "--quiet", "-m", file]].concat(),
        )
        .unwrap();
        String::from_utf8(git(root, &["rev-parse", "HEAD"]).unwrap())
            .unwrap()
            .trim()
            .to_string()
    }

    #[test]
    fn a_student_copy_resets_to_its_first_commit_and_the_maintainers_repository_to_head() {
        let root = std::env::temp_dir().join(format!("kata-stub-commit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        git(&root, &["init", "--quiet"]).unwrap();
        let shipped = commit(&root, "exercises/01_a/src/lib.rs", "todo!()");
        commit(&root, "exercises/01_a/src/lib.rs", "the learner's work");
        assert_eq!(stub_commit(&root).unwrap(), shipped);
        std::fs::create_dir_all(root.join("solutions")).unwrap();
        assert_eq!(stub_commit(&root).unwrap(), "HEAD");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_workspace_loses_its_solutions_member_only() {
        let text = "[workspace]\nmembers = [\"xtask\", \"exercises/*\", \"solutions/*\"]\n";
        assert_eq!(
            without_solutions(text).unwrap(),
            "[workspace]\nmembers = [\"xtask\", \"exercises/*\"]\n"
        );
        assert!(without_solutions("[workspace]\nmembers = [\"solutions/a\"]\n").is_err());
    }
}
