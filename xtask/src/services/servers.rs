//! The runner owns the servers: it starts them once per run (every `tests/*.rs` is its own
//! process) and hands their addresses to the test processes through `KATA_POSTGRES_URL` and
//! `KATA_REDIS_URL`. Order: environment or `services up`, then a container (testcontainers,
//! when a Docker engine answers within 2 s), then local binaries.

use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kata_testkit::local::{self, LocalServer};
use kata_testkit::services as kit;
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

use crate::manifest::Service;

/// How to start servers nobody configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Prefer {
    /// Configured servers, else installed local binaries (they start in milliseconds, a
    /// container in seconds), else a container when Docker answers, else local binaries
    /// (installed with apt-get as root).
    Auto,
    /// Always a fresh container.
    Container,
    /// Configured servers, else local binaries.
    Local,
}

/// Servers for one run; dropping it stops what it started.
pub struct RunServers {
    pub env: Vec<(String, String)>,
    /// One line per service: where it came from.
    pub described: Vec<String>,
    locals: Vec<LocalServer>,
    containers: Vec<ContainerAsync<GenericImage>>,
    reaper: Option<(Child, ChildStdin)>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for RunServers {
    fn drop(&mut self) {
        self.locals.clear();
        if let Some(runtime) = &self.runtime {
            for container in self.containers.drain(..) {
                let _ = runtime.block_on(container.rm());
            }
        }
        if let Some((mut reaper, lifeline)) = self.reaper.take() {
            drop(lifeline);
            let _ = reaper.wait();
        }
    }
}

pub fn start(needs: &[Service], prefer: Prefer) -> Result<RunServers> {
    let mut run = RunServers {
        env: Vec::new(),
        described: Vec::new(),
        locals: Vec::new(),
        containers: Vec::new(),
        reaper: None,
        runtime: None,
    };
    // The services this run starts (and so stops): tests need not clean up on them.
    let mut ephemeral = Vec::new();
    for &service in needs {
        let (kit_service, var, label) = match service {
            Service::Postgres => (kit::Service::Postgres, "KATA_POSTGRES_URL", "Postgres"),
            Service::Redis => (kit::Service::Redis, "KATA_REDIS_URL", "Redis"),
            // An engine that builds images is the tests' own business (see `engine`).
            Service::Docker => continue,
        };
        let started = Instant::now();
        let configured = kit::configured(kit_service).filter(|_| prefer != Prefer::Container);
        if configured.is_none() {
            ephemeral.push(kit_service.name());
        }
        let (url, origin) = if let Some(found) = configured {
            (found.url, found.origin)
        } else if prefer == Prefer::Container {
            (
                start_container(&mut run, service)?,
                "container (testcontainers)".to_string(),
            )
        } else if prefer == Prefer::Auto && !installed(service) && docker_answers() {
            // Docker answering is not Docker working (offline, no image, full disk): a learner
            // still gets a run, from local binaries, and is told why.
            match start_container(&mut run, service) {
                Ok(url) => (url, "container (testcontainers)".to_string()),
                Err(e) => {
                    eprintln!(
                        "{label}: the container did not start ({e:#}); using local binaries instead"
                    );
                    (
                        start_local(&mut run, service)?,
                        "local server from installed binaries".to_string(),
                    )
                }
            }
        } else {
            (
                start_local(&mut run, service)?,
                "local server from installed binaries".to_string(),
            )
        };
        run.described.push(format!(
            "{label}: {origin}, ready in {} ms",
            started.elapsed().as_millis()
        ));
        run.env.push((var.to_string(), url));
    }
    if !ephemeral.is_empty() {
        run.env
            .push((kit::EPHEMERAL_VAR.to_string(), ephemeral.join(",")));
    }
    Ok(run)
}

fn installed(service: Service) -> bool {
    match service {
        Service::Postgres => kata_testkit::install::has_postgres(),
        Service::Redis => kata_testkit::install::has_redis(),
        Service::Docker => false,
    }
}

fn start_local(run: &mut RunServers, service: Service) -> Result<String> {
    let server = match service {
        Service::Postgres => local::start_postgres(&kit::state_dir().join("cache"))?,
        Service::Redis => local::start_redis()?,
        Service::Docker => bail!("Docker is not a server the runner starts"),
    };
    let url = server.url.clone();
    run.locals.push(server);
    Ok(url)
}

/// Whether a Docker engine answers within 2 s (the client alone is not enough).
pub fn docker_answers() -> bool {
    if std::env::var_os("KATA_NO_DOCKER").is_some() {
        return false;
    }
    crate::process::succeeds_within(
        Command::new("docker").args(["version", "--format", "{{.Server.Version}}"]),
        Duration::from_secs(2),
    )
}

/// The variable naming each server's image, and the pinned default.
const POSTGRES_IMAGE: (&str, &str) = ("KATA_POSTGRES_IMAGE", "postgres:17.6-alpine");
const REDIS_IMAGE: (&str, &str) = ("KATA_REDIS_IMAGE", "redis:7.4-alpine");

/// The image a container of `service` starts from, as `name:tag`.
pub fn image_reference(service: kit::Service) -> String {
    let (var, default) = match service {
        kit::Service::Postgres => POSTGRES_IMAGE,
        kit::Service::Redis => REDIS_IMAGE,
    };
    let (name, tag) = image(var, default);
    format!("{name}:{tag}")
}

/// `name:tag` from the environment, or the pinned default.
fn image(var: &str, default: &str) -> (String, String) {
    let reference = std::env::var(var).unwrap_or_else(|_| default.to_string());
    match reference.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name.to_string(), tag.to_string()),
        _ => (reference, "latest".to_string()),
    }
}

fn start_container(run: &mut RunServers, service: Service) -> Result<String> {
    if run.reaper.is_none() {
        run.reaper = Some(spawn_reaper()?);
        run.runtime = Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()?,
        );
    }
    let runtime = run.runtime.as_ref().expect("created above");
    let label = run
        .reaper
        .as_ref()
        .map(|(child, _)| child.id().to_string())
        .unwrap_or_default();
    let (url, container) = runtime.block_on(async {
        match service {
            Service::Postgres => {
                let (name, tag) = image(POSTGRES_IMAGE.0, POSTGRES_IMAGE.1);
                let password = format!("{:08x}{:08x}", rand_u32(), rand_u32());
                let container = GenericImage::new(name, tag)
                    .with_exposed_port(5432.tcp())
                    .with_wait_for(WaitFor::message_on_stderr(
                        "database system is ready to accept connections",
                    ))
                    .with_env_var("POSTGRES_PASSWORD", &password)
                    .with_cmd(POSTGRES_SETTINGS.iter().copied())
                    .with_label("kata.reaper", &label)
                    .with_startup_timeout(Duration::from_secs(120))
                    .start()
                    .await
                    .context("Failed to start the Postgres container")?;
                let port = container.get_host_port_ipv4(5432).await?;
                let url = format!("postgres://postgres:{password}@127.0.0.1:{port}/postgres");
                // The official image restarts once after initialising: wait for the real server.
                kit::wait_for_postgres(&url, Duration::from_secs(60)).await?;
                anyhow::Ok((url, container))
            }
            Service::Redis => {
                let (name, tag) = image(REDIS_IMAGE.0, REDIS_IMAGE.1);
                let container = GenericImage::new(name, tag)
                    .with_exposed_port(6379.tcp())
                    .with_wait_for(WaitFor::message_on_stdout("Ready to accept connections"))
                    .with_cmd(["redis-server", "--save", "", "--appendonly", "no"])
                    .with_label("kata.reaper", &label)
                    .with_startup_timeout(Duration::from_secs(60))
                    .start()
                    .await
                    .context("Failed to start the Redis container")?;
                let port = container.get_host_port_ipv4(6379).await?;
                let url = format!("redis://127.0.0.1:{port}");
                kit::wait_for_redis(&url, Duration::from_secs(30)).await?;
                anyhow::Ok((url, container))
            }
            Service::Docker => bail!("Docker is not a server the runner starts"),
        }
    })?;
    run.containers.push(container);
    Ok(url)
}

/// The settings the tests rely on (see testkit's local servers for why).
const POSTGRES_SETTINGS: &[&str] = &[
    "postgres",
    "-c",
    "shared_preload_libraries=pg_stat_statements",
    "-c",
    "pg_stat_statements.track_utility=off",
    "-c",
    "pg_stat_statements.max=20000",
    "-c",
    "max_connections=300",
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off",
    "-c",
    "deadlock_timeout=50ms",
];

/// testcontainers has no reaper and Ctrl-C skips `Drop`: this process removes the run's
/// containers (labelled with its pid) once our end of its stdin closes, however we exit.
fn spawn_reaper() -> Result<(Child, ChildStdin)> {
    let script = r#"cat >/dev/null; ids=$(docker ps -aq --filter "label=kata.reaper=$$"); [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1"#;
    let mut child = crate::process::spawn_detached(
        Command::new("sh")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .context("Failed to start the container reaper")?;
    let stdin = child.stdin.take().expect("piped");
    Ok((child, stdin))
}

fn rand_u32() -> u32 {
    let mut bytes = [0u8; 4];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .ok();
    u32::from_ne_bytes(bytes) ^ std::process::id()
}
