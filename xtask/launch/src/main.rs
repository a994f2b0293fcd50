//! `cargo xtask ARGS`: runs the katas' runner, `target/kata/debug/xtask ARGS`, building it first
//! when it is missing or older than any file it was built from.
//!
//! `cargo run --package xtask` would do the same, but cargo reads the whole workspace's lockfile
//! and checks the runner's ~290 crates before every command: 0.2 s of a learner's save-to-verdict
//! that buys nothing, since the runner changes only when the repository does. Which files it is
//! built from, cargo says itself (`xtask.d` beside the binary, written on every build); the
//! manifests, the lockfile and the toolchain pin are added here.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::SystemTime;

/// The runner's own status for "could not run" (`verify` keeps 1 for a failing test).
const COULD_NOT_RUN: u8 = 2;

/// Files that change the runner's build without being one of its sources.
const BUILD_INPUTS: [&str; 6] = [
    "Cargo.toml",
    "Cargo.lock",
    "rust-toolchain.toml",
    ".cargo/config.toml",
    "xtask/Cargo.toml",
    "testkit/Cargo.toml",
];

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target_dir =
        std::env::var_os("KATA_TARGET_DIR").map_or_else(|| root.join("target/kata"), PathBuf::from);
    let runner = target_dir
        .join("debug/xtask")
        .with_extension(std::env::consts::EXE_EXTENSION);
    if !is_fresh(&root, &runner) {
        let started = SystemTime::now();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let built = Command::new(cargo)
            .args(["build", "--package", "xtask", "--manifest-path"])
            .arg(root.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target_dir)
            .status();
        match built {
            // Cargo may find nothing to rebuild (an edited alias, a touched file): the stamp
            // says the runner is up to date with everything as it was when the build started.
            Ok(status) if status.success() => stamp(&runner, started),
            Ok(_) => return ExitCode::from(COULD_NOT_RUN), // cargo has said why
            Err(e) => {
                eprintln!("Failed to run cargo to build the runner: {e}");
                return ExitCode::from(COULD_NOT_RUN);
            }
        }
    }
    run(
        Command::new(&runner).args(std::env::args_os().skip(1)),
        &runner,
    )
}

/// The runner exists and is newer than every file it was built from (or than the last build
/// this launcher asked for). A source that is gone (a module removed) counts as changed; a build
/// input that does not exist cannot be newer.
fn is_fresh(root: &Path, runner: &Path) -> bool {
    let (Some(linked), Ok(dep_info)) = (
        modified(runner),
        std::fs::read_to_string(runner.with_extension("d")),
    ) else {
        return false;
    };
    let built = linked.max(modified(&runner.with_extension("built")).unwrap_or(linked));
    let sources = dep_info_sources(&dep_info);
    !sources.is_empty()
        && sources
            .iter()
            .all(|source| modified(source).is_some_and(|changed| changed <= built))
        && BUILD_INPUTS
            .iter()
            .all(|file| modified(&root.join(file)).is_none_or(|changed| changed <= built))
}

/// `xtask.built`, dated `at`. Without it, the next command would ask cargo again. Not fatal:
/// the runner is built.
fn stamp(runner: &Path, at: SystemTime) {
    let stamp = runner.with_extension("built");
    if let Err(e) = std::fs::write(&stamp, "").and_then(|()| {
        std::fs::File::options()
            .write(true)
            .open(&stamp)?
            .set_modified(at)
    }) {
        eprintln!("Could not write {}: {e}", stamp.display());
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The sources in a Makefile-style dep-info file, `target: source source ...`, in which a space
/// inside a path is written `\ `.
fn dep_info_sources(dep_info: &str) -> Vec<PathBuf> {
    let Some((_, sources)) = dep_info.lines().next().and_then(|l| l.split_once(": ")) else {
        return Vec::new();
    };
    let mut paths = Vec::new();
    let mut path = String::new();
    let mut chars = sources.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => path.push(chars.next().expect("peeked")),
            ' ' => {
                paths.extend((!path.is_empty()).then(|| PathBuf::from(std::mem::take(&mut path))))
            }
            _ => path.push(c),
        }
    }
    paths.extend((!path.is_empty()).then(|| PathBuf::from(path)));
    paths
}

/// Becomes the runner (same process, so signals and the exit status are the runner's own).
#[cfg(unix)]
fn run(command: &mut Command, runner: &Path) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let e = command.exec();
    eprintln!("Failed to start the runner {}: {e}", runner.display());
    ExitCode::from(COULD_NOT_RUN)
}

#[cfg(not(unix))]
fn run(command: &mut Command, runner: &Path) -> ExitCode {
    match command.status() {
        Ok(status) => ExitCode::from(
            status
                .code()
                .map_or(COULD_NOT_RUN, |c| u8::try_from(c).unwrap_or(COULD_NOT_RUN)),
        ),
        Err(e) => {
            eprintln!("Failed to start the runner {}: {e}", runner.display());
            ExitCode::from(COULD_NOT_RUN)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dep_info_sources_are_split_on_unescaped_spaces() {
        let dep_info = "/t/debug/xtask: /a/src/main.rs /my\\ katas/src/cli.rs\n\n/a/src/main.rs:\n";
        assert_eq!(
            dep_info_sources(dep_info),
            [
                PathBuf::from("/a/src/main.rs"),
                PathBuf::from("/my katas/src/cli.rs")
            ]
        );
    }

    #[test]
    fn a_runner_older_than_a_source_or_missing_is_not_fresh() {
        let dir = std::env::temp_dir().join(format!("xtask-launch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (source, runner, lock) = (
            dir.join("main.rs"),
            dir.join("xtask"),
            dir.join("Cargo.lock"),
        );
        let now = SystemTime::now();
        let at = |secs| now + std::time::Duration::from_secs(secs);
        let touch = |path: &Path, at: SystemTime| {
            std::fs::write(path, "").expect("write");
            std::fs::File::options()
                .write(true)
                .open(path)
                .and_then(|f| f.set_modified(at))
                .expect("set mtime");
        };
        assert!(!is_fresh(&dir, &runner), "no runner yet");
        touch(&source, at(0));
        touch(&runner, at(1));
        std::fs::write(
            runner.with_extension("d"),
            format!("{}: {}\n", runner.display(), source.display()),
        )
        .expect("write dep-info");
        assert!(is_fresh(&dir, &runner), "runner newer than its source");

        touch(&source, at(2));
        assert!(!is_fresh(&dir, &runner), "source edited after the build");
        touch(&runner, at(3));
        touch(&lock, at(4));
        assert!(!is_fresh(&dir, &runner), "lockfile changed after the build");
        stamp(&runner, at(5));
        assert!(
            is_fresh(&dir, &runner),
            "built (nothing to do) after the lockfile changed"
        );
        std::fs::remove_file(&runner).expect("remove runner");
        assert!(
            !is_fresh(&dir, &runner),
            "the runner is gone, its stamp is not"
        );
        touch(&runner, at(6));
        std::fs::remove_file(&source).expect("remove source");
        assert!(!is_fresh(&dir, &runner), "a source is gone");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
