//! What a graded build and a graded test may see of the world.
//!
//! A submission owns `exercises/*/src/**` and nothing else, yet cargo and rustc take orders
//! from far more: every `.cargo/config.toml` of the directories above the one cargo runs in
//! (`build.rustc-wrapper`, `[env]`, `build.rustflags`, `[patch]`, `target.*.runner`), a
//! `rust-toolchain.toml` there, and variables such as `RUSTC_WRAPPER` or `RUSTFLAGS`. So:
//! - the scratch workspace and its target directory live in a work directory outside the
//!   submission's tree, under no directory holding cargo configuration ([`work_dir`]);
//! - cargo runs with a scrubbed environment ([`scrub_build_env`]);
//! - every topic is built before any learner code runs, so code run by one topic's tests
//!   cannot change how another topic is built (see `grade`);
//! - test processes start from an empty environment plus an allow-list ([`test_env`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Variables a build must not inherit: they choose the compiler, wrap it, add flags to it or
/// run the test binaries through something else.
fn steers_the_build(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "RUSTC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTDOC",
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "RUSTUP_TOOLCHAIN",
        "RUSTC_BOOTSTRAP",
    ];
    // Every cargo setting can be given as CARGO_<KEY>; only where the registry cache lives
    // and which cargo to run are the grader's own.
    EXACT.contains(&name)
        || (name.starts_with("CARGO_") && !matches!(name, "CARGO_HOME" | "CARGO_TERM_COLOR"))
}

/// Clears from `cmd` every inherited variable that could steer the build.
pub fn scrub_build_env(cmd: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_none_or(steers_the_build) {
            cmd.env_remove(name);
        }
    }
}

/// Variables a graded test process keeps: enough to find programs, a home and a temporary
/// directory, and a container engine for the engine tests. Everything else is dropped.
const TEST_ENV_ALLOWED: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "TZ",
    "DOCKER_HOST",
    "DOCKER_CONFIG",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS_VERIFY",
];

/// The whole environment of a graded test: the allow-list, then the servers' URLs.
pub fn test_env(servers: &[(String, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = TEST_ENV_ALLOWED
        .iter()
        .filter_map(|name| Some((name.to_string(), std::env::var(name).ok()?)))
        .collect();
    env.extend(servers.iter().cloned());
    env
}

/// Where grading builds: `--work-dir`, else `KATA_GRADE_DIR`, else `$RUNNER_TEMP/kata-grade`
/// (GitHub Actions), else `<temp>/kata-grade-<user>`. Refused when it lies inside the graded
/// checkout, or below a directory whose cargo configuration cargo would read.
pub fn work_dir(chosen: Option<&Path>, source: &Path) -> Result<PathBuf> {
    let dir = match chosen {
        Some(dir) => dir.to_path_buf(),
        None => match (
            std::env::var_os("KATA_GRADE_DIR"),
            std::env::var_os("RUNNER_TEMP"),
        ) {
            (Some(dir), _) => PathBuf::from(dir),
            (None, Some(temp)) => Path::new(&temp).join("kata-grade"),
            (None, None) => {
                let user = std::env::var("USER").unwrap_or_else(|_| "user".into());
                std::env::temp_dir().join(format!("kata-grade-{user}"))
            }
        },
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("Failed to create the grading directory {}", dir.display()))?;
    let dir = std::fs::canonicalize(&dir)
        .with_context(|| format!("Failed to resolve {}", dir.display()))?;
    if dir.starts_with(source) {
        bail!(
            "The grading directory {} is inside the graded checkout {}: cargo would read the submission's configuration. Pass --work-dir outside it.",
            dir.display(),
            source.display()
        );
    }
    if let Some(config) = foreign_cargo_config(&dir) {
        bail!(
            "Grading in {} would make cargo read {}, which the grader did not choose. Pass --work-dir elsewhere (or remove that file).",
            dir.display(),
            config.display()
        );
    }
    Ok(dir)
}

/// A cargo configuration file in `dir` or above it, other than cargo's home's own.
fn foreign_cargo_config(dir: &Path) -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .and_then(|h| std::fs::canonicalize(h).ok());
    dir.ancestors()
        .map(|d| d.join(".cargo"))
        .filter(|d| Some(d) != home.as_ref())
        .flat_map(|d| [d.join("config.toml"), d.join("config")])
        .find(|f| f.exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_that_steer_a_build_are_recognised() {
        for name in [
            "RUSTC_WRAPPER",
            "RUSTC_WORKSPACE_WRAPPER",
            "RUSTFLAGS",
            "RUSTUP_TOOLCHAIN",
            "CARGO_BUILD_RUSTFLAGS",
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER",
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_PROFILE_DEV_OPT_LEVEL",
        ] {
            assert!(steers_the_build(name), "{name} must be cleared");
        }
        for name in ["CARGO_HOME", "PATH", "HOME", "RUSTUP_HOME"] {
            assert!(!steers_the_build(name), "{name} must be kept");
        }
    }

    #[test]
    fn a_work_dir_inside_the_checkout_or_below_cargo_config_is_refused() {
        let root = std::env::temp_dir().join(format!("kata-confine-{}", std::process::id()));
        let checkout = root.join("checkout");
        std::fs::create_dir_all(checkout.join(".cargo")).expect("create");
        std::fs::write(checkout.join(".cargo/config.toml"), "").expect("write");
        let checkout = std::fs::canonicalize(&checkout).expect("canonical");

        let inside = work_dir(Some(&checkout.join("target/g")), &checkout);
        let beside = work_dir(Some(&root.join("grade")), &checkout);

        assert!(
            inside.is_err(),
            "a work dir inside the checkout was accepted"
        );
        assert!(
            beside.is_ok(),
            "a work dir beside it was refused: {beside:?}"
        );
        std::fs::write(root.join("config.toml"), "").expect("write");
        std::fs::create_dir_all(root.join(".cargo")).expect("create");
        std::fs::write(root.join(".cargo/config.toml"), "").expect("write");
        let below_config = work_dir(Some(&root.join("grade")), &checkout);
        assert!(
            below_config.is_err(),
            "a work dir below a .cargo/config.toml was accepted"
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
