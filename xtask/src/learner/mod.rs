//! The learner's commands: the loop (`next`, `verify`, `list`, here), `watch`, the files
//! around a topic (`hint`, `reset`, `solution`), `doctor`, and the progress they record. Tests
//! run batched (the harness's fast mode).

pub mod doctor;
pub mod progress;
pub mod show;
pub mod topic_files;
pub mod verify;
pub mod watch;

use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;

use crate::learner::progress::Progress;
use crate::manifest::{self, Topic};
use crate::services::servers::{self, Prefer};
use crate::ui;
use verify::TopicResult;

/// The first topic not done against its current tests.
pub fn current<'a>(topics: &'a [Topic], progress: &Progress) -> Option<&'a Topic> {
    topics.iter().find(|t| !progress.is_done(t))
}

/// Starts the servers these topics need (none if they need none), builds and runs their tests.
pub fn run_topics(topics: &[&Topic], show_servers: bool) -> Result<Vec<TopicResult>> {
    let needs = manifest::services_needed(topics);
    crate::services::warm::ensure(&needs);
    let servers = servers::start(&needs, Prefer::Auto)?;
    if show_servers {
        for line in &servers.described {
            eprintln!("{line}");
        }
    }
    topics
        .iter()
        .map(|t| verify::run_learner(t, &servers))
        .collect()
}

pub fn next() -> Result<()> {
    let topics = manifest::load()?;
    let mut progress = Progress::load();
    let Some(topic) = current(&topics, &progress) else {
        println!(
            "{}",
            ui::green("Every topic is done. Congratulations! `cargo xtask list` shows them all.")
        );
        return Ok(());
    };
    let result = run_topics(&[topic], true)?.remove(0);
    show::show(topic, &result, true);
    progress.record(topic, result.passed());
    progress.save()?;
    if result.passed() {
        match current(&topics, &progress) {
            Some(upcoming) => println!(
                "\n{} {} {}\nRead exercises/{}/README.md, then run `cargo xtask next`.",
                ui::bold("Next up:"),
                upcoming.id,
                upcoming.title,
                upcoming.id
            ),
            None => println!("{}", ui::green("That was the last topic. Congratulations!")),
        }
    }
    Ok(())
}

/// Exits non-zero when a chosen topic does not build or a test fails (for scripts and editors).
pub fn verify(topic: Option<String>, all: bool, json: bool) -> Result<ExitCode> {
    let topics = manifest::load()?;
    let mut progress = Progress::load();
    let chosen: Vec<&Topic> = match (&topic, all) {
        (_, true) => topics.iter().collect(),
        (Some(wanted), _) => vec![manifest::find(&topics, wanted)?],
        (None, _) => match current(&topics, &progress) {
            Some(t) => vec![t],
            None => topics.iter().collect(),
        },
    };
    let results = run_topics(&chosen, !json)?;
    let current_id = current(&topics, &progress).map(|t| t.id.clone());
    for (topic, result) in chosen.iter().zip(&results) {
        progress.record(topic, result.passed());
        if !json {
            show::show(topic, result, current_id.as_ref() == Some(&topic.id));
        }
    }
    progress.save()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    Ok(if results.iter().all(TopicResult::passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub fn list(json: bool) -> Result<()> {
    let topics = manifest::load()?;
    let progress = Progress::load();
    let status = |t: &Topic| {
        if progress.is_done(t) {
            "done"
        } else if progress.is_stale(t) {
            "stale"
        } else {
            "todo"
        }
    };
    if json {
        let rows: Vec<_> = topics
            .iter()
            .map(|t| json!({"id": t.id, "title": t.title, "weight": t.weight, "status": status(t)}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let current = current(&topics, &progress).map(|t| t.id.clone());
    for t in &topics {
        let mark = match status(t) {
            "done" => ui::green("done "),
            "stale" => ui::yellow("stale"),
            _ if current.as_ref() == Some(&t.id) => ui::bold("next "),
            _ => "     ".to_string(),
        };
        println!("{mark} {:<24} {}", t.id, t.title);
    }
    let done = topics.iter().filter(|t| progress.is_done(t)).count();
    println!(
        "\n{} {done}/{} topics done",
        ui::bar(done, topics.len(), 30),
        topics.len()
    );
    if topics.iter().any(|t| progress.is_stale(t)) {
        println!(
            "\"stale\": the topic's tests changed since you passed them; `cargo xtask verify TOPIC` re-checks it."
        );
    }
    Ok(())
}
