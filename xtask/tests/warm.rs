//! Servers kept warm between runs stop by themselves: after the idle period, and when their
//! holder is killed. Each case uses a state directory of its own (`KATA_STATE_DIR`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn state_dir(case: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kata-warm-{}-{case}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

/// Starts a holder and returns it once it says "ready", with the socket directories of its
/// servers (they go away with the servers).
fn hold(state: &Path, idle_seconds: Option<u64>) -> (Child, Vec<PathBuf>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command
        .args(["services", "hold", "--prefer", "local"])
        .env("KATA_STATE_DIR", state)
        .env_remove("KATA_DATABASE_URL")
        .env_remove("KATA_REDIS_URL")
        .env_remove("KATA_POSTGRES_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(idle) = idle_seconds {
        command.args(["--idle-seconds", &idle.to_string()]);
    }
    let mut holder = command.spawn().expect("the holder starts");
    let mut line = String::new();
    BufReader::new(holder.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("a line");
    assert_eq!(line.trim(), "ready");
    let file: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(state.join("services.json")).expect("services.json"),
    )
    .expect("json");
    let postgres = file["postgres"].as_str().expect("a Postgres URL");
    let redis = file["redis"].as_str().expect("a Redis URL");
    let pg_dir = postgres.split("host=").nth(1).expect("a socket directory");
    let redis_dir = Path::new(redis.trim_start_matches("redis+unix://"))
        .parent()
        .expect("a socket directory");
    let dirs = vec![PathBuf::from(pg_dir), redis_dir.to_path_buf()];
    assert!(dirs.iter().all(|d| d.exists()), "{dirs:?}");
    (holder, dirs)
}

/// Waits (bounded) until `done` holds; false if it never did.
fn within(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}

#[test]
fn held_servers_stop_after_the_idle_period_and_leave_nothing() {
    let state = state_dir("idle");
    let (mut holder, dirs) = hold(&state, Some(2));

    let stopped = within(Duration::from_secs(60), || {
        holder.try_wait().ok().flatten().is_some()
    });

    assert!(
        stopped,
        "the holder was still running a minute after a 2 s idle period"
    );
    assert!(
        !state.join("services.json").exists(),
        "services.json names servers that are gone"
    );
    assert!(
        within(Duration::from_secs(10), || dirs.iter().all(|d| !d.exists())),
        "left behind: {dirs:?}"
    );
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn a_killed_holder_takes_its_servers_with_it() {
    let state = state_dir("killed");
    let (mut holder, dirs) = hold(&state, None);

    holder.kill().expect("SIGKILL");
    let _ = holder.wait();

    assert!(
        within(Duration::from_secs(20), || dirs.iter().all(|d| !d.exists())),
        "left behind after SIGKILL: {dirs:?}"
    );
    let _ = std::fs::remove_dir_all(&state);
}
