//! Hurl itself: finding or installing the binary, running the suite's files with a bounded
//! wait, and reading its JSON report.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::{FILES, FileResult, SuiteRun};
use crate::manifest;
use crate::process::{self, Group};

/// The version `cargo install` builds: 8.1 needs a newer rustc than the pinned toolchain.
pub const VERSION: &str = "8.0.1";
/// What hurl's build needs from Debian (libcurl's and libxml2's headers, bindgen's libclang).
const BUILD_PACKAGES: [&str; 4] = [
    "libcurl4-openssl-dev",
    "libxml2-dev",
    "libclang-dev",
    "pkg-config",
];
/// The whole suite's run may take this long (a server that hangs must not stall the run).
const RUN_LIMIT: Duration = Duration::from_secs(300);

fn local_root() -> PathBuf {
    manifest::root().join(".kata/tools/hurl")
}

/// Where `check` and `grade` install it: cargo's own bin directory, shared by every checkout
/// on the machine (a CI clone, a grading copy), not rebuilt for each.
fn shared_root() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
}

/// The `hurl` executable: the project-local install, cargo's bin directory, else the `PATH`.
pub fn hurl() -> Option<PathBuf> {
    let local = local_root().join("bin/hurl");
    if local.exists() {
        return Some(local);
    }
    if let Some(shared) = shared_root().map(|r| r.join("bin/hurl"))
        && shared.exists()
    {
        return Some(shared);
    }
    kata_testkit::install::which("hurl")
}

/// How to get hurl, for the messages that need it.
pub fn install_hint() -> String {
    format!(
        "hurl is not installed. Install it (a few minutes; Debian/Ubuntu first need `sudo apt-get \
         install -y {}`):\n    cargo install hurl --version {VERSION} --locked --root .kata/tools/hurl\n\
         (or from https://hurl.dev: brew install hurl, ...), then run this again",
        BUILD_PACKAGES.join(" ")
    )
}

/// hurl, installed now into `.kata/tools/hurl` when missing (for `check` and `grade`): as
/// root, Debian's build packages first, with apt-get.
pub fn install_hurl() -> Result<PathBuf> {
    if let Some(found) = hurl() {
        return Ok(found);
    }
    if process::is_root() {
        println!(
            "     installing {} (apt-get, for hurl's build)",
            BUILD_PACKAGES.join(" ")
        );
        // A fresh machine's package lists may be missing or stale.
        let _ = process::status(
            Command::new("apt-get")
                .args(["update", "-q"])
                .stdout(Stdio::null()),
        );
        let _ = process::status(
            Command::new("apt-get")
                .args(["install", "-y", "-q"])
                .args(BUILD_PACKAGES)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdout(Stdio::null()),
        );
    }
    let root = shared_root().unwrap_or_else(local_root);
    println!(
        "     installing hurl {VERSION} into {} (cargo install, a few minutes)",
        root.display()
    );
    let out = process::output(
        Command::new("cargo")
            .current_dir(manifest::root())
            .env_remove("CARGO_TARGET_DIR")
            .args([
                "install",
                "hurl",
                "--version",
                VERSION,
                "--locked",
                "--quiet",
                "--root",
            ])
            .arg(&root),
    )?;
    match hurl() {
        Some(found) if out.status.success() => Ok(found),
        _ => {
            let said = String::from_utf8_lossy(&out.stderr);
            let lines: Vec<&str> = said.lines().collect();
            bail!(
                "`cargo install hurl --version {VERSION}` failed:\n{}\n{}",
                lines[lines.len().saturating_sub(20)..].join("\n"),
                install_hint()
            )
        }
    }
}

/// Runs every file of the suite in `dir` against `origin` with `uid`, one request at a time,
/// going on after a failure (so that every request is judged), and reads the report.
pub fn run(hurl: &Path, dir: &Path, origin: &str, uid: &str) -> Result<SuiteRun> {
    let scratch = std::env::temp_dir().join(format!("kata-hurl-{uid}"));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    let stderr_path = scratch.join("stderr.txt");
    let mut child = Group::spawn(
        Command::new(hurl)
            .current_dir(dir)
            .args(["--test", "--jobs", "1", "--continue-on-error", "--no-color"])
            .args(["--connect-timeout", "5", "--max-time", "10"])
            .args(["--variable", &format!("host={origin}")])
            .args(["--variable", &format!("uid={uid}")])
            .arg("--report-json")
            .arg(scratch.join("report"))
            .args(FILES.map(|(file, _)| file))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr_path)?),
    )?;
    if child.wait_within(RUN_LIMIT)?.is_none() {
        let _ = child.stop();
        bail!("the suite did not finish within {} s", RUN_LIMIT.as_secs());
    }
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let report = std::fs::read_to_string(scratch.join("report/report.json"))
        .with_context(|| format!("hurl wrote no report:\n{stderr}"));
    let _ = std::fs::remove_dir_all(&scratch);
    let mut run = parse_report(&report?, &stderr)?;
    for file in &mut run.files {
        let text = std::fs::read_to_string(dir.join(&file.file)).unwrap_or_default();
        file.requests = file.requests.max(count_requests(&text));
    }
    Ok(run)
}

/// The requests of a Hurl file: its lines that start with an HTTP method.
pub fn count_requests(text: &str) -> usize {
    const METHODS: [&str; 7] = [
        "GET ", "POST ", "PUT ", "DELETE ", "PATCH ", "HEAD ", "OPTIONS ",
    ];
    text.lines()
        .filter(|l| METHODS.iter().any(|m| l.starts_with(m)))
        .count()
}

/// Reads hurl's `--report-json` report (`[{filename, entries: [{line, asserts: [{success,
/// message}]}]}]`); `stderr` gives the message of a request that failed before its asserts.
pub fn parse_report(text: &str, stderr: &str) -> Result<SuiteRun> {
    let report: Value = serde_json::from_str(text).context("hurl's JSON report")?;
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let mut files = Vec::new();
    for file in list(&report) {
        let name = file["filename"].as_str().unwrap_or_default();
        let name = Path::new(name)
            .file_name()
            .map_or(name.to_owned(), |n| n.to_string_lossy().into_owned());
        let mut result = FileResult {
            file: name.clone(),
            requests: 0,
            passed: 0,
            asserts_passed: 0,
            asserts_failed: 0,
            first_failure: None,
        };
        for entry in list(&file["entries"]) {
            result.requests += 1;
            let asserts = list(&entry["asserts"]);
            let failed: Vec<&Value> = asserts.iter().filter(|a| a["success"] != true).collect();
            result.asserts_failed += failed.len();
            result.asserts_passed += asserts.len() - failed.len();
            if !asserts.is_empty() && failed.is_empty() {
                result.passed += 1;
            } else if result.first_failure.is_none() {
                let message = failed
                    .first()
                    .and_then(|a| a["message"].as_str())
                    .map(str::to_owned);
                let line = entry["line"].as_u64().unwrap_or(0);
                result.first_failure = Some(message.unwrap_or_else(|| {
                    first_error(stderr, &name).unwrap_or_else(|| {
                        format!(
                            "{name}: the request at line {line} got no answer that could be checked"
                        )
                    })
                }));
            }
        }
        files.push(result);
    }
    Ok(SuiteRun { files })
}

/// hurl's first `error:` block about `file` in its standard error.
fn first_error(stderr: &str, file: &str) -> Option<String> {
    // Progress lines may come before a block: it starts at its `error:` line.
    stderr
        .split("\n\n")
        .filter_map(|chunk| chunk.find("error:").map(|i| chunk[i..].trim_end()))
        .find(|block| block.contains(&format!("--> {file}:")))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_gives_requests_asserts_and_the_first_failure_per_file() {
        let report = r#"[{"filename": "tags.hurl", "success": false, "entries": [
            {"line": 2, "asserts": [{"line": 10, "success": true}, {"line": 10, "success": true}]},
            {"line": 30, "asserts": [{"line": 31, "success": true},
                                     {"line": 31, "success": false, "message": "Assert status code\n  --> tags.hurl:31:6"}]},
            {"line": 41, "asserts": []}]},
            {"filename": "auth.hurl", "success": false, "entries": [{"line": 2, "asserts": []}]}]"#;
        let stderr = "auth.hurl: Running [1/2]\nerror: HTTP connection\n  --> auth.hurl:2:6\n   |\n\nerror: other\n  --> tags.hurl:41:1";
        let run = parse_report(report, stderr).expect("a valid report");
        let tags = &run.files[0];
        assert_eq!(
            (
                tags.requests,
                tags.passed,
                tags.asserts_passed,
                tags.asserts_failed
            ),
            (3, 1, 3, 1)
        );
        assert_eq!(
            tags.first_failure.as_deref(),
            Some("Assert status code\n  --> tags.hurl:31:6")
        );
        assert_eq!(
            run.files[1].first_failure.as_deref(),
            Some("error: HTTP connection\n  --> auth.hurl:2:6\n   |")
        );
        assert_eq!((run.requests(), run.passed()), (4, 1));
    }

    #[test]
    fn requests_are_the_lines_that_start_with_a_method() {
        let text = "# Register\nPOST {{host}}/api/users\n{\n}\nHTTP 201\n\nGET {{host}}/api/user\nHTTP 200\n";
        assert_eq!(count_requests(text), 2);
    }
}
