//! Finds the server binaries, installing them with `apt-get` where we may (root on
//! Debian or Ubuntu: containers and CI), and otherwise says exactly what to install.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use anyhow::{Result, bail};

/// The directory holding `initdb` and `postgres`.
pub fn postgres_bindir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("KATA_PG_BINDIR") {
        return Ok(dir.into());
    }
    if let Some(dir) = find_postgres() {
        return Ok(dir);
    }
    apt_install("postgresql", "PostgreSQL server (initdb, postgres)")?;
    find_postgres()
        .ok_or_else(|| anyhow::anyhow!("apt-get installed postgresql but initdb is still missing"))
}

/// The `redis-server` binary.
pub fn redis_server() -> Result<PathBuf> {
    if let Some(path) = which("redis-server") {
        return Ok(path);
    }
    apt_install("redis-server", "Redis server (redis-server)")?;
    which("redis-server")
        .ok_or_else(|| anyhow::anyhow!("apt-get installed redis-server but it is still missing"))
}

/// Whether the Postgres server binaries are here already (nothing is installed).
pub fn has_postgres() -> bool {
    std::env::var_os("KATA_PG_BINDIR").is_some() || find_postgres().is_some()
}

/// Whether `redis-server` is here already (nothing is installed).
pub fn has_redis() -> bool {
    which("redis-server").is_some()
}

fn find_postgres() -> Option<PathBuf> {
    // Debian/Ubuntu keep server binaries off PATH, one directory per major version: take the newest.
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return Some(bin);
    }
    which("initdb").and_then(|p| p.parent().map(Path::to_path_buf))
}

pub fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn apt_install(package: &str, what: &str) -> Result<()> {
    static APT: Mutex<()> = Mutex::new(());
    let _one_at_a_time = APT.lock().unwrap_or_else(|e| e.into_inner());
    if !crate::local::is_root() || which("apt-get").is_none() {
        bail!(
            "{what} is not installed. Install it, or run Docker, or point KATA_DATABASE_URL/KATA_REDIS_URL at your own servers:\n  \
             Debian/Ubuntu: sudo apt-get install -y {package}\n  macOS:         brew install {}\n\
             Then run: cargo xtask doctor",
            if package == "postgresql" {
                "postgresql@16"
            } else {
                "redis"
            }
        );
    }
    eprintln!(
        "kata: {what} is missing; installing it with `apt-get install -y {package}` (running as root)"
    );
    let quiet = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
    };
    if !quiet(&["install", "-y", "-q", package])?.success() {
        // A fresh machine has no package lists yet.
        quiet(&["update", "-q"])?;
        if !quiet(&["install", "-y", "-q", package])?.success() {
            bail!(
                "apt-get install -y {package} failed; install it by hand and run `cargo xtask doctor`"
            );
        }
    }
    Ok(())
}
