//! The learner's loop, whole process: `cargo xtask verify TOPIC` with the reference solution
//! in place, servers kept warm and started per run, and rustlings for comparison.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kata_testkit::services as kit;

use super::{LOOP_RUNS, Row, Target, millis};
use crate::manifest;

/// Puts a file back exactly as it was (or removes it, if it did not exist) when dropped: on
/// success, error or panic alike (only a signal such as Ctrl-C skips it).
struct Restore {
    path: PathBuf,
    original: Option<Vec<u8>>,
}

impl Restore {
    fn new(path: PathBuf) -> Result<Restore> {
        let original = match std::fs::read(&path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("Failed to read {}", path.display())),
        };
        Ok(Restore { path, original })
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        let outcome = match &self.original {
            Some(bytes) => std::fs::write(&self.path, bytes),
            None => std::fs::remove_file(&self.path).or_else(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            }),
        };
        if let Err(e) = outcome {
            eprintln!(
                "bench: FAILED to restore {}: {e}; restore it by hand (e.g. `git diff` it)",
                self.path.display()
            );
        }
    }
}

/// The topics of the learner's-loop figures, with their targets (ms, median): one without
/// services, one per service, and the heaviest database topic.
const LOOP_TOPICS: [(&str, f64); 4] = [
    ("password_hashing", 900.0),
    ("n_plus_one", 1200.0),
    ("transfer", 1500.0),
    ("cache_aside", 1200.0),
];

/// 3. The learner's loop, whole process as a learner runs it: the reference solution in
///    `exercises/`, save `src/lib.rs`, `cargo xtask verify TOPIC`. Twice: with the servers
///    kept warm between runs (what the loop does by itself) and with every run starting its
///    own (`KATA_SERVICES_IDLE_MINUTES=0`). Each round appends a different comment, so each
///    round really recompiles the crate.
pub(super) fn warm_loop(rows: &mut Vec<Row>) -> Result<()> {
    let topics = manifest::load()?;
    // Verifying records progress: leave the learner's record as it was.
    let _progress = Restore::new(kit::state_dir().join("progress.json"))?;
    if kit::read_services_file().is_some() {
        bail!(
            "Services are running (`cargo xtask services status`): stop them with `cargo xtask services down`, then bench again."
        );
    }
    for (name, target_ms) in LOOP_TOPICS {
        let topic = manifest::find(&topics, name)?;
        // The reference solution in place of the learner's code, put back afterwards.
        let mut restores = Vec::new();
        for entry in std::fs::read_dir(topic.solution_dir().join("src"))?.flatten() {
            let to = topic.exercise_dir().join("src").join(entry.file_name());
            restores.push(Restore::new(to.clone())?);
            std::fs::copy(entry.path(), &to)
                .with_context(|| format!("Failed to put the solution into {}", to.display()))?;
        }
        let lib = topic.exercise_dir().join("src/lib.rs");
        let original = std::fs::read(&lib)?;
        for warm in [true, false] {
            let verify = |round: usize| -> Result<f64> {
                let mut edited = original.clone();
                edited.extend(format!("\n// cargo xtask bench: edit {round}\n").as_bytes());
                std::fs::write(&lib, &edited)
                    .with_context(|| format!("Failed to write {}", lib.display()))?;
                let started = Instant::now();
                let mut verify = crate::cargo::cargo();
                verify
                    .args(["xtask", "verify", topic.name()])
                    // Docker may answer with no image pulled: measure the local-server path.
                    .env("KATA_NO_DOCKER", "1")
                    .env("KATA_SERVICES_IDLE_MINUTES", if warm { "15" } else { "0" })
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped());
                let out = crate::process::output(&mut verify)?;
                let time = millis(started.elapsed());
                if !out.status.success() {
                    bail!(
                        "`cargo xtask verify {}` on the solution failed ({}):\n{}",
                        topic.name(),
                        out.status,
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                if warm {
                    holder_idle()?;
                }
                Ok(time)
            };
            eprintln!(
                "bench: {}: servers {}: warming up, then {LOOP_RUNS} edit-and-verify rounds",
                topic.id,
                if warm { "kept warm" } else { "per run" }
            );
            verify(0)?;
            let samples = (1..=LOOP_RUNS).map(verify).collect::<Result<Vec<_>>>()?;
            let services = if topic.services.is_empty() {
                "no services"
            } else if warm {
                "servers kept warm"
            } else {
                "servers started per run"
            };
            rows.push(Row::new(
                format!("Learner loop: touch + cargo xtask verify {name} ({services})"),
                samples,
                warm.then_some(Target {
                    limit_ms: target_ms,
                    inclusive: true,
                }),
            ));
            if topic.services.is_empty() {
                break;
            }
        }
        drop(restores);
        // The warm servers this topic started: stopped before the next topic's cold rounds.
        let _ = crate::services::warm::down();
    }
    rustlings(rows);
    Ok(())
}

/// Waits until the warm servers' holder has stopped making spare databases after a run (as it
/// has by a learner's next save, seconds later): rounds back to back would otherwise measure
/// the next build competing with those copies for the 2 cores. Stopped when the spares' count
/// has not changed over 3 looks 0.7 s apart (the holder pauses 0.5 s when a look finds the
/// server busy), or after 30 s.
fn holder_idle() -> Result<()> {
    let Some(url) = kit::read_services_file().and_then(|s| s.postgres) else {
        return Ok(());
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(30);
        let (mut last, mut same) = (None, 0);
        while same < 3 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(700)).await;
            let spares = super::spare_count(&url).await?;
            same = if last == Some(spares) { same + 1 } else { 0 };
            last = Some(spares);
        }
        anyhow::Ok(())
    })
}

/// rustlings' own loop on this machine, for comparison, when rustlings is installed and an
/// exercises directory is given (`KATA_RUSTLINGS_DIR`).
fn rustlings(rows: &mut Vec<Row>) {
    let Some(dir) = std::env::var_os("KATA_RUSTLINGS_DIR") else {
        eprintln!("bench: rustlings not measured (set KATA_RUSTLINGS_DIR to a rustlings checkout)");
        return;
    };
    let samples: Vec<f64> = (0..LOOP_RUNS)
        .filter_map(|_| {
            let started = Instant::now();
            let out = crate::process::output(
                Command::new("rustlings")
                    .args(["run", "errors2"])
                    .current_dir(&dir)
                    .stdin(Stdio::null()),
            )
            .ok()?;
            let _ = out;
            Some(millis(started.elapsed()))
        })
        .collect();
    if !samples.is_empty() {
        rows.push(Row::new(
            "rustlings run errors2 (for comparison)",
            samples,
            None,
        ));
    }
}
