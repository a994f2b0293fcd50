//! Who and what is graded: the student, the repository, the commit and its time, from git
//! and the CI's environment. Missing pieces stay empty rather than failing the grade.

use std::path::Path;
use std::process::Command;

use crate::grade::report::Submission;

pub fn identify(root: &Path, student: Option<String>) -> Submission {
    let git = |args: &[&str]| git_output(root, args);
    let repository = std::env::var("GITHUB_REPOSITORY")
        .ok()
        .filter(|r| !r.is_empty())
        .or_else(|| git(&["remote", "get-url", "origin"]).map(|url| without_credentials(&url)));
    Submission {
        student,
        repository,
        commit: git(&["rev-parse", "HEAD"]),
        commit_time: git(&["log", "-1", "--format=%cI", "HEAD"]),
        dirty: git(&["status", "--porcelain", "--untracked-files=normal"])
            .is_some_and(|s| !s.is_empty()),
    }
}

/// The trimmed standard output of a successful `git` command in `root`.
pub fn git_output(root: &Path, args: &[&str]) -> Option<String> {
    let out = crate::process::output(Command::new("git").arg("-C").arg(root).args(args)).ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `https://user:token@host/x` becomes `https://host/x`: a report must never carry a token.
fn without_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}/{path}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::without_credentials;

    #[test]
    fn tokens_are_cut_out_of_remote_urls() {
        assert_eq!(
            without_credentials("https://x-access-token:ghs_abc@github.com/org/repo.git"),
            "https://github.com/org/repo.git"
        );
        assert_eq!(
            without_credentials("git@github.com:org/repo.git"),
            "git@github.com:org/repo.git"
        );
    }
}
