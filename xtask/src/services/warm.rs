//! Servers kept warm between runs: a background holder process owns Postgres and Redis and
//! records them in `.kata/services.json`, where every later run (and test) finds them.
//!
//! - The learner's loop starts one by itself on its first run that needs a server, and it
//!   stops after `KATA_SERVICES_IDLE_MINUTES` (default 15) without a run; 0 turns this off.
//! - `cargo xtask services up` starts one that stays until `services down`.
//!
//! The holder runs in a process group of its own (a closed terminal does not stop it mid-run)
//! and owns the servers through their supervisors' lifelines: however it ends (idle, `down`,
//! SIGKILL), the servers stop and their directories go.

use std::io::{BufRead, BufReader, Write};

use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use anyhow::{Result, bail};
use kata_testkit::services::{self as kit, ServicesFile};

use crate::manifest::Service;
use crate::process;
use crate::services::servers::{self, Prefer};

/// How long the learner loop's servers wait for another run.
fn idle_limit() -> Option<Duration> {
    let minutes = std::env::var("KATA_SERVICES_IDLE_MINUTES")
        .ok()
        .and_then(|m| m.trim().parse::<u64>().ok())
        .unwrap_or(15);
    (minutes > 0).then(|| Duration::from_secs(minutes * 60))
}

/// For the learner's loop: when a run needs servers and none is configured or held, start a
/// holder with the idle limit, so this run and the next ones reuse its servers. Failing
/// that, the run starts its own (and says why once).
pub fn ensure(needs: &[Service]) {
    let Some(idle) = idle_limit() else { return };
    let missing = needs.iter().any(|service| match service {
        Service::Postgres => kit::configured(kit::Service::Postgres).is_none(),
        Service::Redis => kit::configured(kit::Service::Redis).is_none(),
        Service::Docker => false,
    });
    if !missing || kit::read_services_file().is_some() {
        return;
    }
    if let Err(e) = start_holder(Prefer::Auto, Some(idle)) {
        eprintln!("Could not keep the servers warm between runs ({e:#}); this run starts its own.");
    } else {
        eprintln!(
            "Postgres and Redis now stay up between runs ({} min after the last; `cargo xtask services down` stops them).",
            idle.as_secs() / 60
        );
    }
}

/// `cargo xtask services up`: servers that stay until `services down`.
pub fn up(prefer: Prefer) -> Result<()> {
    if let Some(file) = kit::read_services_file() {
        println!(
            "Services are already running (pid {}): see `cargo xtask services status`.",
            file.holder_pid
        );
        return Ok(());
    }
    start_holder(prefer, None)?;
    status()
}

fn start_holder(prefer: Prefer, idle: Option<Duration>) -> Result<()> {
    let exe = std::env::current_exe()?;
    // The holder outlives this command: it must not keep the terminal's (or a CI step's) pipes.
    let log_path = kit::state_dir().join("services.log");
    std::fs::create_dir_all(kit::state_dir())?;
    let log = std::fs::File::create(&log_path)?;
    let mut holder = Command::new(exe);
    holder
        .args(["services", "hold", "--prefer"])
        .arg(format!("{prefer:?}").to_lowercase());
    if let Some(idle) = idle {
        holder.arg("--idle-seconds").arg(idle.as_secs().to_string());
    }
    holder
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
    let mut holder = process::spawn_detached(&mut holder)?;
    let mut first_line = String::new();
    BufReader::new(holder.stdout.take().expect("piped")).read_line(&mut first_line)?;
    if !first_line.starts_with("ready") {
        let status = holder.wait()?;
        let said = std::fs::read_to_string(&log_path).unwrap_or_default();
        bail!("The services did not start ({status}):\n{said}Then run: cargo xtask doctor");
    }
    Ok(())
}

/// The hidden `services hold` command: keeps servers until `services down` stops this process
/// or, with `idle`, until no run has used them for that long.
pub fn hold(prefer: Prefer, idle: Option<Duration>) -> Result<()> {
    let servers = servers::start(&[Service::Postgres, Service::Redis], prefer)?;
    let url = |var: &str| {
        servers
            .env
            .iter()
            .find(|(k, _)| k == var)
            .map(|(_, v)| v.clone())
    };
    // Servers of its own (not a configured one): spare test databases make each test's instant.
    let own = url(kit::EPHEMERAL_VAR).unwrap_or_default();
    let tends_postgres = own.contains("postgres");
    let file = ServicesFile {
        postgres: url("KATA_POSTGRES_URL"),
        redis: url("KATA_REDIS_URL"),
        origin: servers.described.join("; "),
        holder_pid: std::process::id(),
        idle_seconds: idle.map(|d| d.as_secs()),
        tends_postgres,
    };
    let path = kit::services_file();
    std::fs::create_dir_all(kit::state_dir())?;
    let _ = std::fs::File::create(kit::services_used_file());
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, serde_json::to_string_pretty(&file)?)?;
    std::fs::rename(&temporary, &path)?;
    if let Some(postgres) = file.postgres.clone().filter(|_| tends_postgres) {
        kata_testkit::spares::keep(postgres);
    }
    println!("ready");
    std::io::stdout().flush()?;
    let Some(idle) = idle else {
        loop {
            std::thread::park();
        }
    };
    while idle_for() < idle {
        std::thread::sleep(Duration::from_secs(1).min(idle / 4));
    }
    // Gone from the file first, so no new run picks servers that are about to stop.
    if kit::read_services_file().is_some_and(|f| f.holder_pid == std::process::id()) {
        let _ = std::fs::remove_file(&path);
    }
    drop(servers);
    Ok(())
}

/// How long since a run last used the held servers.
fn idle_for() -> Duration {
    std::fs::metadata(kit::services_used_file())
        .and_then(|m| m.modified())
        .ok()
        .and_then(|at| SystemTime::now().duration_since(at).ok())
        .unwrap_or(Duration::MAX)
}

/// `cargo xtask services down`.
pub fn down() -> Result<()> {
    let path = kit::services_file();
    match kit::read_services_file() {
        Some(file) => {
            let _ = process::status(Command::new("kill").arg(file.holder_pid.to_string()));
            let _ = std::fs::remove_file(&path);
            println!("Stopped the services (pid {}).", file.holder_pid);
        }
        None => {
            let _ = std::fs::remove_file(&path);
            println!("No services are running.");
        }
    }
    Ok(())
}

/// `cargo xtask services status`.
pub fn status() -> Result<()> {
    match kit::read_services_file() {
        Some(file) => {
            println!("Services held by pid {} ({})", file.holder_pid, file.origin);
            println!("  Postgres: {}", file.postgres.as_deref().unwrap_or("-"));
            println!("  Redis:    {}", file.redis.as_deref().unwrap_or("-"));
            match file.idle_seconds.map(Duration::from_secs) {
                Some(idle) => {
                    let left = idle.saturating_sub(idle_for());
                    println!(
                        "They stop {} min {} s from now unless a run uses them; `cargo xtask services down` stops them now.",
                        left.as_secs() / 60,
                        left.as_secs() % 60
                    );
                }
                None => println!("Stop them with: cargo xtask services down"),
            }
        }
        None => println!(
            "No services are running. The first run that needs them starts them (they stop after {} min without a run); `cargo xtask services up` keeps a pair until `services down`.",
            idle_limit().map_or(0, |d| d.as_secs() / 60)
        ),
    }
    Ok(())
}
