//! Building a package's tests (`cargo test --no-run`, JSON messages): the test executables, or
//! the compiler's errors rendered once each. The first build of the stack takes minutes: a
//! terminal shows what is compiling.

use std::io::{BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;

use crate::cargo::clean_paths;

/// What building a package's tests produced.
pub enum Build {
    /// The test executables.
    Built(Vec<PathBuf>),
    /// The compiler's errors, rendered, with machine paths made relative to the repository.
    Failed(String),
}

#[derive(Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    target: Option<Target>,
    #[serde(default)]
    executable: Option<PathBuf>,
    #[serde(default)]
    message: Option<Diagnostic>,
    #[serde(default)]
    package_id: Option<String>,
}

#[derive(Deserialize)]
struct Target {
    kind: Vec<String>,
    name: String,
}

#[derive(Deserialize)]
struct Diagnostic {
    level: String,
    rendered: Option<String>,
}

/// Builds the tests of `package` (in the workspace at `manifest_path`, or the command's own)
/// with `cmd`, a cargo command set up by the caller (its directory and target directory).
pub fn build_tests_with(
    mut cmd: Command,
    package: &str,
    manifest_path: Option<&Path>,
) -> Result<Build> {
    cmd.args([
        "test",
        "--no-run",
        "--message-format=json-diagnostic-short",
        "--package",
        package,
    ]);
    if let Some(path) = manifest_path {
        cmd.arg("--manifest-path").arg(path);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .context("Failed to run cargo: is Rust installed? See https://rustup.rs")?;
    let progress = Progress::new();
    let stderr = child.stderr.take().expect("piped");
    let stderr_reader =
        std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let (mut executables, mut errors, mut compiled) = (Vec::new(), Vec::new(), 0);
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let Ok(message) = serde_json::from_str::<Message>(&line?) else {
            continue;
        };
        match message.reason.as_str() {
            "compiler-artifact" => {
                compiled += 1;
                let target = message.target.as_ref();
                if let (Some(exe), Some(t)) = (message.executable, target)
                    && t.kind.iter().any(|k| k == "test")
                {
                    executables.push(exe);
                }
                let name = target.map_or_else(
                    || message.package_id.unwrap_or_default(),
                    |t| t.name.clone(),
                );
                progress.set(format!("building ({compiled} crates ready, last: {name})"));
            }
            "compiler-message" => {
                if let Some(d) = message.message
                    && d.level == "error"
                    && let Some(text) = d.rendered
                    // A library's errors come once per target built from it: say them once.
                    && !errors.contains(&text)
                {
                    errors.push(text);
                }
            }
            _ => {}
        }
    }
    progress.finish();
    let status = child.wait()?;
    let stderr = stderr_reader.join().unwrap_or_default();
    if status.success() {
        return Ok(Build::Built(executables));
    }
    if errors.is_empty() {
        bail!("`cargo test --no-run --package {package}` failed:\n{stderr}");
    }
    Ok(Build::Failed(clean_paths(&errors.join(""))))
}

/// One status line while cargo works (a spinner on a terminal, nothing otherwise).
struct Progress(Option<ProgressBar>);

impl Progress {
    fn new() -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar.set_message("building");
        Progress(Some(bar))
    }
    fn set(&self, message: String) {
        if let Some(bar) = &self.0 {
            bar.set_message(message);
        }
    }
    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
