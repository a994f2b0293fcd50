//! Local Postgres and Redis servers started from installed binaries, in a temporary
//! directory, listening on Unix sockets only (no port to race for between test processes).
//!
//! Each server runs under a tiny `sh` supervisor whose stdin is a pipe held by the process
//! that started it. When that process ends, however it ends (panic, Ctrl-C, SIGKILL), the
//! pipe reads EOF and the supervisor stops the server and deletes its directory: nothing
//! is left behind, without relying on `Drop`.

use std::fs;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::install;

const SUPERVISOR: &str = r#"
dir=$1; signal=$2; shift 2
"$@" >"$dir/server.log" 2>&1 </dev/null &
pid=$!
cat >/dev/null
kill -"$signal" "$pid" 2>/dev/null
wait "$pid"
rm -rf "$dir"
"#;

/// The unprivileged account servers run as when we are root (`initdb` and `postgres` refuse root).
const NOBODY: u32 = 65534;

/// A server that lives as long as this value (or, at the latest, as long as this process).
pub struct LocalServer {
    /// Admin URL (superuser for Postgres, default user for Redis).
    pub url: String,
    pub pid: u32,
    supervisor: Child,
    lifeline: Option<ChildStdin>,
}

impl LocalServer {
    /// Keeps the server running until this process exits, whatever way it exits.
    pub fn keep_until_exit(mut self) {
        // The pipe's write end stays open for the process's lifetime; the OS closes it at exit.
        std::mem::forget(self.lifeline.take());
        std::mem::forget(self);
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        drop(self.lifeline.take());
        let _ = self.supervisor.wait();
    }
}

pub(crate) fn is_root() -> bool {
    // Reading our own uid needs no libc: /proc/self is owned by the effective user.
    fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

fn as_server_user(cmd: &mut Command) -> &mut Command {
    if is_root() {
        cmd.uid(NOBODY).gid(NOBODY)
    } else {
        cmd
    }
}

fn give_to_server_user(path: &Path) -> Result<()> {
    if is_root() {
        let status = Command::new("chown")
            .args(["-R", &format!("{NOBODY}:{NOBODY}")])
            .arg(path)
            .status()?;
        if !status.success() {
            bail!("chown -R nobody {} failed", path.display());
        }
    }
    Ok(())
}

/// A fresh directory for one server, its socket and its data: mode 0700, so only the user
/// the server runs as (and root) can reach the socket.
fn run_dir(kind: &str) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    crate::cleanup::sweep_abandoned_run_dirs(&std::env::temp_dir());
    let dir = std::env::temp_dir().join(format!(
        "kata-{kind}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    fs::create_dir(&dir).with_context(|| format!("Failed to create {}", dir.display()))?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
    Ok(dir)
}

/// Where the `initdb` cache lives. As root the server user runs `initdb` there, and may not
/// be able to reach the checkout (under /root, or a `mktemp -d` directory): then it lives in
/// the temporary directory instead, reachable (mode 0711) by the server user only through it.
fn cluster_cache(cache: &Path) -> Result<PathBuf> {
    if !is_root() {
        return Ok(cache.to_path_buf());
    }
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let shared = std::env::temp_dir().join("kata-postgres-cache");
    fs::create_dir_all(&shared)
        .with_context(|| format!("Failed to create {}", shared.display()))?;
    // Made by someone else (another user could have planted it): not ours to trust.
    if fs::symlink_metadata(&shared)?.uid() != 0 || shared.is_symlink() {
        bail!(
            "{} exists and is not root's: remove it, then run again",
            shared.display()
        );
    }
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o711))?;
    Ok(shared)
}

fn supervise(
    dir: &Path,
    signal: &str,
    server: &Path,
    args: &[String],
    ready_line: &str,
    url: String,
) -> Result<LocalServer> {
    give_to_server_user(dir)?;
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(SUPERVISOR)
        .arg("kata-supervisor")
        .arg(dir)
        .arg(signal)
        .arg(server)
        .args(args);
    // Own process group: a Ctrl-C in the terminal reaches the runner, not the servers, so the
    // supervisor (not the signal) decides when to stop them and always cleans up.
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let mut supervisor = as_server_user(&mut cmd)
        .spawn()
        .with_context(|| format!("Failed to start {}", server.display()))?;
    let lifeline = supervisor.stdin.take();
    let server_name = server
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let log = dir.join("server.log");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = fs::read_to_string(&log).unwrap_or_default();
        if text.to_lowercase().contains(ready_line) {
            break;
        }
        let exited = supervisor.try_wait()?.is_some();
        if exited || text.contains("FATAL") || text.contains("# Fatal") || Instant::now() > deadline
        {
            drop(lifeline);
            let _ = supervisor.wait();
            bail!(
                "{server_name} did not start in {}:\n{}",
                dir.display(),
                last_lines(&text, 15)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(LocalServer {
        url,
        pid: supervisor.id(),
        supervisor,
        lifeline,
    })
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Starts Postgres from a cached `initdb` cluster, with the settings the katas' tests rely on.
pub fn start_postgres(cache: &Path) -> Result<LocalServer> {
    let bin = install::postgres_bindir()?;
    let template = cached_cluster(&bin, &cluster_cache(cache)?)?;
    let password = fs::read_to_string(template.join("password"))?
        .trim()
        .to_owned();
    let dir = run_dir("pg")?;
    let status = Command::new("cp")
        .arg("-a")
        .arg(template.join("data"))
        .arg(dir.join("data"))
        .status()?;
    if !status.success() {
        bail!(
            "Failed to copy the cached Postgres cluster into {}",
            dir.display()
        );
    }
    // Only the socket, in a 0700 directory: whoever reaches it is this user (or root), so no
    // password exchange (SCRAM costs every test's connections milliseconds each).
    let hba = dir.join("pg_hba.conf");
    fs::write(&hba, "local all all trust\n")?;
    let hba_file = hba.display().to_string();
    let settings = [
        ("hba_file", hba_file.as_str()),
        ("listen_addresses", ""),
        ("unix_socket_permissions", "0777"),
        ("max_connections", "300"),
        ("fsync", "off"),
        ("synchronous_commit", "off"),
        ("full_page_writes", "off"),
        // Tests count the statements a call executed (the N+1 katas).
        ("shared_preload_libraries", "pg_stat_statements"),
        ("pg_stat_statements.track_utility", "off"),
        // Room for a whole check's statements, so no test's are evicted before it reads them.
        ("pg_stat_statements.max", "20000"),
        // A deadlock surfaces in 50 ms instead of 1 s, so a wrong answer fails fast.
        ("deadlock_timeout", "50ms"),
        ("log_min_messages", "warning"),
    ];
    let mut args = vec![
        "-D".into(),
        dir.join("data").display().to_string(),
        "-k".into(),
        dir.display().to_string(),
    ];
    for (name, value) in settings {
        args.extend(["-c".into(), format!("{name}={value}")]);
    }
    let url = format!(
        "postgres://kata:{password}@localhost/postgres?host={}",
        dir.display()
    );
    supervise(
        &dir,
        "INT",
        &bin.join("postgres"),
        &args,
        "ready to accept connections",
        url,
    )
}

/// An `initdb` cluster made once and copied for every run (copying is ~10x faster than `initdb`).
fn cached_cluster(bin: &Path, cache: &Path) -> Result<PathBuf> {
    let version = Command::new(bin.join("postgres"))
        .arg("--version")
        .output()?;
    let version = String::from_utf8_lossy(&version.stdout);
    let major = version
        .split_whitespace()
        .nth(2)
        .and_then(|v| v.split('.').next())
        .unwrap_or("unknown");
    let done = cache.join(format!("postgres-{major}"));
    if done.join("data/PG_VERSION").exists() {
        return Ok(done);
    }
    fs::create_dir_all(cache)?;
    let work = cache.join(format!(
        "postgres-{major}.tmp-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work)?;
    let password = format!("{:032x}", rand::random::<u128>());
    fs::File::create(work.join("password"))?.write_all(password.as_bytes())?;
    give_to_server_user(&work)?;
    let out = as_server_user(Command::new(bin.join("initdb")).current_dir(&work))
        .args([
            "-D",
            "data",
            "-U",
            "kata",
            "--pwfile",
            "password",
            "-A",
            "scram-sha-256",
            "-E",
            "UTF8",
        ])
        .args(["--locale", "C", "--no-sync", "--no-instructions"])
        .output()
        .context("Failed to run initdb")?;
    if !out.status.success() {
        let _ = fs::remove_dir_all(&work);
        bail!("initdb failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    // Another process may have won the race: either cluster is as good.
    if fs::rename(&work, &done).is_err() {
        let _ = fs::remove_dir_all(&work);
    }
    Ok(done)
}

/// Starts `redis-server` without persistence, on a Unix socket.
pub fn start_redis() -> Result<LocalServer> {
    let bin = install::redis_server()?;
    let dir = run_dir("redis")?;
    let socket = dir.join("redis.sock");
    let args: Vec<String> = [
        "--port",
        "0",
        "--unixsocket",
        &socket.display().to_string(),
        "--unixsocketperm",
        "777",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        &dir.display().to_string(),
        // For the sweep of a run that could not stop its server (`sweep_abandoned_run_dirs`).
        "--pidfile",
        &dir.join("redis.pid").display().to_string(),
    ]
    .map(String::from)
    .into();
    let url = format!("redis+unix://{}", socket.display());
    supervise(
        &dir,
        "TERM",
        &bin,
        &args,
        "ready to accept connections",
        url,
    )
}
