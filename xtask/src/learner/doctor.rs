//! `cargo xtask doctor`: what this machine has for the katas, and what to install.

use std::process::Command;

use anyhow::Result;
use kata_testkit::services::{self, Service};

use crate::process;
use crate::services::servers;
use crate::ui;

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
            "answers: tests use containers (testcontainers)"
        } else {
            "not answering: tests use local servers or KATA_DATABASE_URL/KATA_REDIS_URL"
        },
    );
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
        if let Some(found) = services::configured(service) {
            line(true, name, &format!("from {}", found.origin));
            continue;
        }
        let binary = match service {
            Service::Postgres => kata_testkit::install::postgres_bindir()
                .ok()
                .filter(|_| true),
            Service::Redis => kata_testkit::install::which("redis-server"),
        };
        match binary {
            Some(path) => line(true, name, &format!("local binaries at {}", path.display())),
            None if docker => line(true, name, "via Docker"),
            None => line(
                false,
                name,
                &format!("no server found. Install one: {install}"),
            ),
        }
    }
    Ok(())
}
