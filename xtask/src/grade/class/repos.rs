//! The students' repositories: a cache of clones, fetched again on each run, checked out at
//! the commit graded.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::process;

/// Clones `url` into `dir`, or fetches it again; git's own words on failure.
pub fn fetch(url: &str, dir: &Path) -> Result<()> {
    let output = if dir.join(".git").exists() {
        process::output(
            git(dir)
                .args(["fetch", "--quiet", "--force", "--tags", "--prune", "origin"])
                .arg("+refs/heads/*:refs/remotes/origin/*"),
        )
    } else {
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let _ = std::fs::remove_dir_all(dir);
        process::output(
            Command::new("git")
                .args(["clone", "--quiet", "--no-checkout", "--", url])
                .arg(dir)
                // Never ask for a password: a private repository without credentials is a
                // row that says so, not a hung run.
                .env("GIT_TERMINAL_PROMPT", "0"),
        )
    }
    .context("Failed to run git: is it installed?")?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        bail!(
            "could not fetch {url}: {}",
            said.lines().last().unwrap_or("git failed").trim()
        );
    }
    Ok(())
}

/// The commit to grade, and how many commits of that ref came after the deadline.
pub fn pick_commit(
    dir: &Path,
    reference: Option<&str>,
    deadline: Option<jiff::Timestamp>,
) -> Result<(String, usize)> {
    let candidates: Vec<String> = match reference {
        Some(r) => vec![format!("origin/{r}"), r.to_string()],
        None => vec!["origin/HEAD".into(), "HEAD".into()],
    };
    let tip = candidates
        .iter()
        .find_map(|r| {
            git_text(
                dir,
                &[
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    &format!("{r}^{{commit}}"),
                ],
            )
        })
        .with_context(|| {
            format!(
                "the repository has no {}",
                reference.map_or("default branch".to_string(), |r| format!("ref {r:?}"))
            )
        })?;
    let Some(deadline) = deadline else {
        return Ok((tip, 0));
    };
    let before = format!("--before={}", deadline.as_second());
    let commit = git_text(dir, &["rev-list", "-1", &before, &tip])
        .filter(|c| !c.is_empty())
        .with_context(|| format!("no commit at or before the deadline {deadline}"))?;
    let after = format!("--after={}", deadline.as_second());
    let late = git_text(dir, &["rev-list", "--count", &after, &tip])
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Ok((commit, late))
}

/// The checkout shows exactly `commit` (the cache belongs to the grader).
pub fn checkout_commit(dir: &Path, commit: &str) -> Result<()> {
    for args in [
        &["checkout", "--quiet", "--force", "--detach", commit][..],
        &["clean", "-q", "-f", "-d", "-x"][..],
    ] {
        let status = process::status(git(dir).args(args))?;
        if !status.success() {
            bail!("`git {}` failed in {}", args.join(" "), dir.display());
        }
    }
    Ok(())
}

fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir).env("GIT_TERMINAL_PROMPT", "0");
    cmd
}

fn git_text(dir: &Path, args: &[&str]) -> Option<String> {
    let out = process::output(git(dir).args(args)).ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
