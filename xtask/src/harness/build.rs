//! Building a package's tests (`cargo test --no-run`, JSON messages): the test executables, or
//! the compiler's errors rendered once each. The first build of the stack takes minutes: a
//! terminal shows what is compiling.

use std::io::{BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    /// Up to date: nothing was compiled for it.
    #[serde(default)]
    fresh: bool,
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
/// Only the integration tests (`--test '*'`, the hidden tests): the library's own unit-test
/// executable is never run, and linking it cost every save and every wrong answer's build.
pub fn build_tests_with(
    mut cmd: Command,
    package: &str,
    manifest_path: Option<&Path>,
) -> Result<Build> {
    cmd.args([
        "test",
        "--no-run",
        "--test",
        "*",
        "--message-format=json-diagnostic-short",
        "--package",
        package,
    ]);
    if let Some(path) = manifest_path {
        cmd.arg("--manifest-path").arg(path);
    }
    let mut progress = Progress::new(unit_graph(&cmd, package, manifest_path));
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .context("Failed to run cargo: is Rust installed? See https://rustup.rs")?;
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
                progress.set(compiled, message.fresh, &name);
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
    progress.finish(compiled);
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

/// While cargo works: a spinner on a terminal. Piped (a CI log), a build that compiles for
/// longer than [`PLAIN_EVERY`] prints a plain line that often with how many of its crates are
/// ready, so a first build of minutes shows it is moving (a quick rebuild prints nothing).
enum Progress {
    Bar(ProgressBar),
    Plain {
        /// Asks cargo how many crates the build holds (`--unit-graph`, nothing built).
        query: Box<Command>,
        /// The build's crates, once asked (`None` inside: cargo could not say).
        total: Option<Option<usize>>,
        /// The build's start, then the last line's time.
        last: Instant,
    },
}

/// How often a plain progress line may be printed (and how long a build runs before the first).
const PLAIN_EVERY: Duration = Duration::from_secs(10);

impl Progress {
    fn new(query: Command) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress::Plain {
                query: Box::new(query),
                total: None,
                last: Instant::now(),
            };
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar.set_message("building");
        Progress::Bar(bar)
    }

    /// `ready` crates are built, the last `name` (`fresh`: it was up to date).
    fn set(&mut self, ready: usize, fresh: bool, name: &str) {
        match self {
            Progress::Bar(bar) => {
                bar.set_message(format!("building ({ready} crates ready, last: {name})"));
            }
            Progress::Plain { query, total, last } => {
                if fresh || last.elapsed() < PLAIN_EVERY {
                    return;
                }
                let count = *total.get_or_insert_with(|| unit_count(query));
                *last = Instant::now();
                eprintln!(
                    "building: {ready} of {} crates ready (last: {name})",
                    of(count)
                );
            }
        }
    }

    fn finish(&self, ready: usize) {
        match self {
            Progress::Bar(bar) => bar.finish_and_clear(),
            Progress::Plain {
                total: Some(total), ..
            } => eprintln!("building: {ready} of {} crates ready, done", of(*total)),
            Progress::Plain { .. } => {}
        }
    }
}

fn of(total: Option<usize>) -> String {
    total.map_or_else(|| "?".to_string(), |n| n.to_string())
}

/// `cmd` (a cargo command set up by the caller) asking for the build's unit graph instead:
/// the same package, directory and environment, in a target directory of its own so that it
/// never waits on the build's lock.
fn unit_graph(cmd: &Command, package: &str, manifest_path: Option<&Path>) -> Command {
    let mut query = Command::new(cmd.get_program());
    if let Some(dir) = cmd.get_current_dir() {
        query.current_dir(dir);
    }
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => query.env(key, value),
            None => query.env_remove(key),
        };
    }
    query
        .args(["test", "--no-run", "--test", "*", "--package", package])
        .args(["--unit-graph", "-Z", "unstable-options"])
        .args(
            manifest_path
                .map(|p| ["--manifest-path".as_ref(), p.as_os_str()])
                .into_iter()
                .flatten(),
        )
        // The unit graph is unstable: this lets the stable toolchain's cargo print it.
        .env("RUSTC_BOOTSTRAP", "1")
        .env(
            "CARGO_TARGET_DIR",
            std::env::temp_dir().join("kata-unit-graph"),
        )
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    query
}

/// The crates a build compiles (its units but the build scripts' runs), if cargo says.
fn unit_count(query: &mut Command) -> Option<usize> {
    #[derive(Deserialize)]
    struct Graph {
        units: Vec<Unit>,
    }
    #[derive(Deserialize)]
    struct Unit {
        mode: String,
    }
    let out = crate::process::output(query).ok()?;
    let graph: Graph = serde_json::from_slice(&out.stdout).ok()?;
    Some(
        graph
            .units
            .iter()
            .filter(|u| u.mode != "run-custom-build")
            .count(),
    )
}
