//! `cargo xtask`: the learner's runner (`next`, `watch`, `hint` ...) and the maintainers'
//! check. A binary of the workspace rather than an installed tool, so a fresh clone needs
//! nothing but Rust.

// Who each part serves: the learner's commands, the maintainers' (`check`, `bench`), grading
// (`grade`, `gradescope-bundle`, `export-template`), then what they all share.
mod dev;
mod grade;
mod learner;

mod acceptance;
mod cargo;
mod cli;
mod harness;
mod manifest;
mod process;
mod services;
mod ui;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command, ServicesAction};
use dev::{bench, check, mutants};
use grade::template;
use learner::{doctor, topic_files, watch};
use services::warm;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Next => learner::next().map(|()| ExitCode::SUCCESS),
        Command::List { json } => learner::list(json).map(|()| ExitCode::SUCCESS),
        Command::Verify { topic, all, json } => learner::verify(topic, all, json),
        Command::Hint { topic } => topic_files::hint(topic).map(|()| ExitCode::SUCCESS),
        Command::Watch => watch::watch().map(|()| ExitCode::SUCCESS),
        Command::Reset { topic, yes, undo } => if undo {
            topic_files::undo_reset(topic)
        } else {
            topic_files::reset(topic, yes)
        }
        .map(|()| ExitCode::SUCCESS),
        Command::Solution { topic } => topic_files::solution(topic).map(|()| ExitCode::SUCCESS),
        Command::Services { action } => match action {
            ServicesAction::Up { prefer } => warm::up(prefer),
            ServicesAction::Down => warm::down(),
            ServicesAction::Status => warm::status(),
            ServicesAction::Hold {
                prefer,
                idle_seconds,
            } => warm::hold(prefer, idle_seconds.map(std::time::Duration::from_secs)),
        }
        .map(|()| ExitCode::SUCCESS),
        Command::Doctor => doctor::doctor().map(|()| ExitCode::SUCCESS),
        Command::Check {
            topics,
            no_lint,
            repeat,
        } => check::check(topics, no_lint, repeat),
        Command::Grade(command) => grade::grade(*command),
        Command::GradescopeBundle {
            assignment,
            out,
            reference,
            root,
        } => grade::gradescope::bundle(&assignment, &out, root.as_deref(), &reference)
            .map(|()| ExitCode::SUCCESS),
        Command::ExportTemplate { dir, root } => {
            template::run(&dir, root.as_deref()).map(|()| ExitCode::SUCCESS)
        }
        Command::Mutants { topics, jobs } => mutants::mutants(topics, jobs),
        Command::Realworld { url } => acceptance::realworld::cli(&url),
        Command::Bench { check, capstone } => {
            bench::bench(check, capstone).map(|()| ExitCode::SUCCESS)
        }
    };
    // 1 is a verdict (a test failed); 2 is the runner failing to give one.
    outcome.unwrap_or_else(|e| {
        eprintln!("{} {e:#}", ui::red("error:"));
        ExitCode::from(2)
    })
}
