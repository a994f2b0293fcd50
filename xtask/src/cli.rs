//! The command line, declared once: help text comes from here.

use clap::{Parser, Subcommand};

use crate::servers::Prefer;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Rust Backend Katas: learn backend engineering in Rust, one graded topic at a time."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the first unfinished topic's tests and explain what failed (start here).
    Next,
    /// Show every topic and your progress.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Re-run one topic's tests (or all of them) and record the result.
    Verify {
        /// Topic name, id or number (default: the current topic).
        topic: Option<String>,
        #[arg(long, conflicts_with = "topic")]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show the hint for a topic (default: the current topic).
    Hint { topic: Option<String> },
    /// Re-run the current topic's tests every time you save (Enter re-runs, q quits).
    Watch,
    /// Put a topic's stub back (your code is first saved under .kata/backup/).
    Reset {
        topic: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Show the reference solution of a topic you have finished.
    Solution { topic: String },
    /// Manage the Postgres and Redis servers the tests use.
    Services {
        #[command(subcommand)]
        action: ServicesAction,
    },
    /// Say what this machine has and what to install.
    Doctor,
    /// Maintainers: prove every topic (stub fails, solution passes, wrong answers rejected).
    Check {
        /// Only these topics.
        #[arg(long = "topic")]
        topics: Vec<String>,
        /// Skip cargo fmt and clippy.
        #[arg(long)]
        no_lint: bool,
    },
    /// Maintainers: print speed figures (servers, per-test database, learner loop).
    Bench {
        /// Also time the whole `cargo xtask check --no-lint`.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Subcommand)]
pub enum ServicesAction {
    /// Start Postgres and Redis in the background and keep them for every run.
    Up {
        #[arg(long, value_enum, default_value = "auto")]
        prefer: Prefer,
    },
    /// Stop them.
    Down,
    /// Show what is running.
    Status,
    #[command(hide = true)]
    Hold {
        #[arg(long, value_enum, default_value = "auto")]
        prefer: Prefer,
    },
}
