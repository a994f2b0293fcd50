//! `cargo xtask doctor`: what this machine has for the katas, what a run will actually use
//! (in the order the runner picks servers), and what to install.

use std::process::Command;
use std::time::Duration;

use anyhow::Result;
use kata_testkit::services::{self, Service};

use crate::manifest;
use crate::process;
use crate::services::{engine, servers};
use crate::ui;

/// How long doctor waits for the engine to pull a missing image.
const PULL_LIMIT: Duration = Duration::from_secs(60);

fn version(program: &str, arg: &str) -> Option<String> {
    let out = process::output(Command::new(program).arg(arg)).ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string()
    })
}

fn line(ok: bool, what: &str, detail: &str) {
    let mark = if ok {
        ui::green("ok  ")
    } else {
        ui::yellow("note")
    };
    println!("{mark} {what:<18} {detail}");
}

/// What the container engine can do for a server's image.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Engine {
    /// No Docker engine answers (the client alone is not enough).
    Absent,
    /// The engine has the image, or pulled it just now.
    HasImage(String),
    /// The engine answers but cannot get the image (no registry reachable?).
    CannotPull(String),
}

/// What a run will use for one server, in the runner's order (`Prefer::Auto`): a configured
/// server, installed binaries, a container, binaries installed with apt-get as root.
fn will_use(
    configured: Option<&str>,
    binaries: Option<&str>,
    engine: &Engine,
    root: bool,
    install: &str,
) -> (bool, String) {
    if let Some(origin) = configured {
        return (true, format!("uses the server from {origin}"));
    }
    if let Some(path) = binaries {
        return (true, format!("uses local binaries at {path}"));
    }
    let fallback = if root {
        "installs local binaries with apt-get on the first run (you are root)".to_string()
    } else {
        format!("finds no server: install one ({install})")
    };
    match engine {
        Engine::HasImage(image) => (true, format!("uses a container from {image}")),
        Engine::CannotPull(image) => (
            root,
            format!(
                "the container engine answers but cannot pull {image} (no registry reachable?): a run {fallback}; or load the image into the engine, or set the image variable to one it has"
            ),
        ),
        Engine::Absent => (
            root,
            format!("no container engine answers: a run {fallback}"),
        ),
    }
}

/// Whether the engine has `image`, pulling it (within [`PULL_LIMIT`]) when it does not.
fn image_state(image: &str) -> Engine {
    let has = || process::succeeds(Command::new("docker").args(["image", "inspect", image]));
    if has()
        || process::succeeds_within(
            Command::new("docker").args(["pull", "--quiet", image]),
            PULL_LIMIT,
        )
    {
        Engine::HasImage(image.to_string())
    } else {
        Engine::CannotPull(image.to_string())
    }
}

pub fn doctor() -> Result<()> {
    let rustc = version("rustc", "--version");
    line(
        rustc.is_some(),
        "Rust",
        rustc
            .as_deref()
            .unwrap_or("missing: install from https://rustup.rs"),
    );
    let git = version("git", "--version");
    line(
        git.is_some(),
        "git",
        git.as_deref()
            .unwrap_or("missing: needed by `cargo xtask reset`"),
    );
    let docker = servers::docker_answers();
    line(
        docker,
        "Docker engine",
        if docker {
            "answers"
        } else {
            "not answering: tests use local servers or KATA_DATABASE_URL/KATA_REDIS_URL"
        },
    );
    let root = process::is_root();
    for (service, name, install) in [
        (
            Service::Postgres,
            "Postgres",
            "sudo apt-get install -y postgresql  |  brew install postgresql@16",
        ),
        (
            Service::Redis,
            "Redis",
            "sudo apt-get install -y redis-server  |  brew install redis",
        ),
    ] {
        let configured = services::configured(service).map(|found| found.origin);
        // Only what is here: doctor installs nothing.
        let binaries = match service {
            Service::Postgres => kata_testkit::install::has_postgres()
                .then(kata_testkit::install::postgres_bindir)
                .and_then(Result::ok),
            Service::Redis => kata_testkit::install::which("redis-server"),
        };
        let engine = match (&configured, &binaries, docker) {
            (None, None, true) => image_state(&servers::image_reference(service)),
            _ => Engine::Absent,
        };
        let binaries = binaries.map(|p| p.display().to_string());
        let (ok, detail) = will_use(
            configured.as_deref(),
            binaries.as_deref(),
            &engine,
            root,
            install,
        );
        line(ok, name, &detail);
    }
    // The engine tests (`services = ["docker"]`): they run only where the engine can build.
    if let Ok(topics) = manifest::load() {
        for topic in topics
            .iter()
            .filter(|t| t.services.contains(&manifest::Service::Docker))
        {
            match engine::usable(topic) {
                Ok(()) => line(
                    true,
                    "Image builds",
                    &format!("{}: engine tests run", topic.id),
                ),
                Err(reason) => line(
                    false,
                    "Image builds",
                    &format!("{}: engine tests are not graded here: {reason}", topic.id),
                ),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_that_cannot_pull_reads_apart_from_no_engine() {
        let no_engine = will_use(None, None, &Engine::Absent, false, "apt-get install x");
        let no_registry = will_use(
            None,
            None,
            &Engine::CannotPull("postgres:17.6-alpine".into()),
            false,
            "apt-get install x",
        );
        assert!(!no_engine.0 && !no_registry.0);
        assert!(
            no_engine.1.starts_with("no container engine answers"),
            "{}",
            no_engine.1
        );
        assert!(
            no_registry
                .1
                .starts_with("the container engine answers but cannot pull postgres:17.6-alpine"),
            "{}",
            no_registry.1
        );
    }

    #[test]
    fn configured_servers_come_first_then_binaries_then_a_container() {
        let image = Engine::HasImage("redis:7.4-alpine".into());
        assert_eq!(
            will_use(Some("services up"), Some("/bin"), &image, false, "x").1,
            "uses the server from services up"
        );
        assert_eq!(
            will_use(None, Some("/bin"), &image, false, "x").1,
            "uses local binaries at /bin"
        );
        assert_eq!(
            will_use(None, None, &image, false, "x"),
            (true, "uses a container from redis:7.4-alpine".to_string())
        );
        assert_eq!(
            will_use(None, None, &Engine::Absent, true, "x"),
            (
                true,
                "no container engine answers: a run installs local binaries with apt-get on the first run (you are root)".to_string()
            )
        );
    }
}
