//! Processes for the tests: the service binary, a raw HTTP status check, and the `docker` CLI
//! with a guard that removes what a test created even when the test fails.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, SystemTime};

/// The `kata-service` binary of the package under test. `CARGO_BIN_EXE_kata-service` is
/// `target/<profile>/kata-service`, which the exercise and the solution share (both have the
/// bin; the latest build of either is linked there). If that one does not say it is this
/// package's (`--version`), take the newest hashed copy in `deps/` that rustc built from this
/// package's `src/main.rs` (its dep-info file says so), whatever it answers: a `main` that
/// fails `--version` is still the one to test, never an older build that passes.
pub fn service_binary() -> PathBuf {
    let shared = PathBuf::from(env!("CARGO_BIN_EXE_kata-service"));
    if is_this_packages(&shared) {
        return shared;
    }
    let deps = shared
        .parent()
        .map(|dir| dir.join("deps"))
        .unwrap_or_default();
    let mut copies: Vec<(SystemTime, PathBuf)> = std::fs::read_dir(&deps)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("kata_service-") && !name.contains('.')
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    copies.sort();
    copies.reverse();
    let newest: Vec<PathBuf> = copies.into_iter().map(|(_, path)| path).collect();
    if let Some(built) = newest.iter().find(|path| built_from_this_package(path)) {
        return built.clone();
    }
    newest
        .into_iter()
        .find(|path| is_this_packages(path))
        .unwrap_or_else(|| {
            panic!(
                "found no kata-service binary of package {} (looked at {} and in {})",
                env!("CARGO_PKG_NAME"),
                shared.display(),
                deps.display()
            )
        })
}

/// Whether rustc built `binary` from this package's `src/main.rs`, by the dep-info file
/// (`<binary>.d`) it wrote beside it. Its paths are relative to the workspace root, so they are
/// compared by the package's last two directories (`solutions/25_docker`, `exercises/25_docker`).
fn built_from_this_package(binary: &Path) -> bool {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let name = |path: &Path| {
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let main = format!(
        "{}/{}/src/main.rs",
        dir.parent().map(name).unwrap_or_default(),
        name(dir)
    );
    std::fs::read_to_string(binary.with_extension("d")).is_ok_and(|deps| {
        deps.split_whitespace()
            .map(|path| path.trim_end_matches(':'))
            .any(|path| path == main || path.ends_with(&format!("/{main}")))
    })
}

fn is_this_packages(binary: &Path) -> bool {
    let expected = format!("(package {})", env!("CARGO_PKG_NAME"));
    Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains(&expected))
}

/// A port nothing listens on right now (the OS picked it; the listener is closed again).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free test port");
    listener.local_addr().expect("a bound address").port()
}

/// The status code of `GET /healthz` at `addr`, read with plain std sockets (independent of the
/// code under test); `None` if there is no HTTP answer within five seconds.
pub fn healthz_status(addr: SocketAddr) -> Option<u16> {
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).ok()?;
    let head = String::from_utf8_lossy(&head[..n]);
    head.split_whitespace().nth(1)?.parse().ok()
}

/// A child process killed when the guard is dropped (a failing test leaves no server behind).
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a finished process printed on stderr, for failure messages.
pub fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut text);
    }
    text
}

/// Runs a command to completion: its stdout, or a sentence with its status and output.
pub fn run(command: &mut Command) -> Result<String, String> {
    let shown = format!("{command:?}");
    let Output {
        status,
        stdout,
        stderr,
    } = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not start {shown}: {e}"))?;
    let stdout = String::from_utf8_lossy(&stdout).trim().to_string();
    if status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&stderr);
    let tail: Vec<&str> = stdout.lines().chain(stderr.lines()).collect();
    Err(format!(
        "{shown} failed ({status}); last lines of its output:\n{}",
        tail[tail.len().saturating_sub(40)..].join("\n")
    ))
}

pub fn docker(args: &[&str]) -> Result<String, String> {
    run(Command::new("docker").args(args))
}

/// Removes the test's container and image when dropped, whatever happened.
pub struct DockerCleanup {
    pub image: String,
    pub container: Option<String>,
}

impl Drop for DockerCleanup {
    fn drop(&mut self) {
        let quiet = |args: &[&str]| {
            let _ = Command::new("docker")
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        if let Some(container) = &self.container {
            quiet(&["rm", "-f", container]);
        }
        quiet(&["image", "rm", "-f", &self.image]);
    }
}
