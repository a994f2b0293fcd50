//! `cargo xtask mutants [TOPIC...]`: mutation testing of the reference solutions with
//! cargo-mutants, against the topic's hidden tests and the run's servers. A missed mutant is a
//! missing test, unless it cannot change behaviour a user could observe: then it is listed,
//! with the reason, in `solutions/NN_topic/mutants-accepted.toml`:
//!
//! ```toml
//! [[accepted]]
//! mutant = "src/lib.rs:42:9: replace < with <= in transfer"
//! why = "amount 0 is refused earlier; both comparisons agree for every amount that reaches it"
//! ```
//!
//! Too long for CI (each mutant is a build and a test run): a maintainer's analysis.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use kata_testkit::services as kit;
use serde::Deserialize;

use crate::cargo;
use crate::manifest::{self, Topic};
use crate::process;
use crate::services::servers::{self, Prefer};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Accepted {
    #[serde(default)]
    accepted: Vec<AcceptedMutant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptedMutant {
    mutant: String,
    why: String,
}

/// One topic's outcome.
struct Tally {
    caught: usize,
    missed: Vec<String>,
    accepted: usize,
    unviable: usize,
    timeout: usize,
}

impl Tally {
    /// Caught (timeouts count: the tests did not pass) and accepted misses, over the viable.
    fn percent(&self) -> f64 {
        let viable = self.caught + self.timeout + self.missed.len() + self.accepted;
        if viable == 0 {
            return 100.0;
        }
        100.0 * (self.caught + self.timeout + self.accepted) as f64 / viable as f64
    }
}

pub fn mutants(only: Vec<String>, jobs: usize) -> Result<ExitCode> {
    if !process::succeeds(Command::new("cargo").args(["mutants", "--version"])) {
        bail!(
            "cargo-mutants is not installed: `cargo install cargo-mutants --locked`, then run this again."
        );
    }
    let all = manifest::load()?;
    let topics: Vec<&Topic> = if only.is_empty() {
        all.iter().collect()
    } else {
        only.iter()
            .map(|name| manifest::find(&all, name))
            .collect::<Result<_>>()?
    };
    let servers = servers::start(&manifest::services_needed(&topics), Prefer::Local)?;
    let mut rows = Vec::new();
    for topic in &topics {
        eprintln!("mutating {} ...", topic.id);
        let tally = run_topic(topic, &servers.env, jobs)?;
        println!(
            "{}: {:.0} % ({} caught, {} timed out, {} missed, {} accepted, {} unviable)",
            topic.id,
            tally.percent(),
            tally.caught,
            tally.timeout,
            tally.missed.len(),
            tally.accepted,
            tally.unviable
        );
        for missed in &tally.missed {
            println!("  missed: {missed}");
        }
        rows.push((topic.id.clone(), tally));
    }
    println!("\n| Topic | Caught | Timed out | Missed | Accepted | Unviable | Score |");
    println!("|---|--:|--:|--:|--:|--:|--:|");
    for (id, t) in &rows {
        println!(
            "| {id} | {} | {} | {} | {} | {} | {:.0} % |",
            t.caught,
            t.timeout,
            t.missed.len(),
            t.accepted,
            t.unviable,
            t.percent()
        );
    }
    Ok(if rows.iter().all(|(_, t)| t.percent() >= 90.0) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn run_topic(topic: &Topic, env: &[(String, String)], jobs: usize) -> Result<Tally> {
    let out = cargo::target_dir().join("mutants").join(&topic.id);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;
    let status = process::status(
        cargo::cargo()
            .env("CARGO_TARGET_DIR", mutants_target()?)
            .args(["mutants", "--package", &topic.solution_package()])
            .arg("--output")
            .arg(&out)
            .args([
                "--jobs",
                &jobs.to_string(),
                "--timeout",
                "120",
                "--no-shuffle",
            ])
            // Not marked as the run's own servers: each test then drops its database and Redis
            // user when it ends. One server serves every mutant, and hundreds of mutants times
            // dozens of tests' databases would fill the disk (the capstone's took 17 GB).
            .envs(
                env.iter()
                    .filter(|(k, _)| k != kit::EPHEMERAL_VAR)
                    .map(|(k, v)| (k, v)),
            ),
    )?;
    // Exit 2 means "some mutants missed": the files say which.
    if !matches!(status.code(), Some(0..=3)) {
        bail!("cargo mutants failed for {} ({status})", topic.id);
    }
    let read = |name: &str| -> Vec<String> {
        std::fs::read_to_string(out.join("mutants.out").join(name))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect()
    };
    let accepted = accepted(&topic.solution_dir())?;
    let (accepted_misses, missed): (Vec<String>, Vec<String>) = read("missed.txt")
        .into_iter()
        .partition(|m| accepted.contains(m));
    Ok(Tally {
        caught: read("caught.txt").len(),
        missed,
        accepted: accepted_misses.len(),
        unviable: read("unviable.txt").len(),
        timeout: read("timeout.txt").len(),
    })
}

/// The target directory the mutated copies build in. Not the runner's own: cargo names a path
/// crate's outputs after its path inside the workspace, the same in cargo-mutants' copy, so a
/// mutant's build would take the place of the real solution's (and pass for up to date there).
/// Seeded once with a copy of the runner's, so only the path crates build.
fn mutants_target() -> Result<std::path::PathBuf> {
    let runner = cargo::target_dir();
    let mut name = runner.file_name().unwrap_or_default().to_os_string();
    name.push("-mutants");
    let target = runner.with_file_name(name);
    if !target.exists() {
        let copied = process::status(Command::new("cp").arg("-a").arg(&runner).arg(&target))?;
        if !copied.success() {
            let _ = std::fs::remove_dir_all(&target);
        }
    }
    Ok(target)
}

/// The mutants a topic accepts as missed, each with a reason (checked non-empty).
fn accepted(solution: &Path) -> Result<BTreeSet<String>> {
    let path = solution.join("mutants-accepted.toml");
    if !path.exists() {
        return Ok(BTreeSet::new());
    }
    let text = std::fs::read_to_string(&path)?;
    let file: Accepted =
        toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))?;
    let mut names = BTreeSet::new();
    for entry in file.accepted {
        if entry.why.trim().is_empty() {
            bail!(
                "{}: `{}` needs a reason (`why`)",
                path.display(),
                entry.mutant
            );
        }
        names.insert(entry.mutant);
    }
    Ok(names)
}
