//! The command line, declared once: help text comes from here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::grade::Format;
use crate::services::servers::Prefer;

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
        /// Bring back the code the last reset saved (from .kata/backup/).
        #[arg(long)]
        undo: bool,
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
        /// Run every verdict this many times (a verdict that changes between runs is luck).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
        repeat: u32,
    },
    /// Instructors and CI: score the hidden tests with partial credit and write a report.
    Grade(Box<GradeCommand>),
    /// Instructors: write Gradescope's autograder zip for an assignment (upload it as is).
    GradescopeBundle {
        /// The assignment of exercises/assignments.toml the autograder grades.
        #[arg(long)]
        assignment: String,
        /// Where to write the zip.
        #[arg(long, value_name = "FILE", default_value = "autograder.zip")]
        out: PathBuf,
        /// The commit to bundle (the trusted copy every submission is graded against).
        #[arg(long = "ref", value_name = "REF", default_value = "HEAD")]
        reference: String,
        /// Bundle the repository at DIR (default: the one this runner belongs to).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Instructors: write the repository students clone, without solutions/, into DIR.
    ExportTemplate {
        /// A new (or empty) directory outside this repository.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Export the repository at DIR (default: the one this runner belongs to).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Maintainers: mutation testing of the solutions with cargo-mutants (long: not for CI).
    Mutants {
        /// Only these topics (default: every topic).
        #[arg(long = "topic")]
        topics: Vec<String>,
        /// Mutants built and tested at once.
        #[arg(long, default_value_t = 1)]
        jobs: usize,
    },
    /// Run the RealWorld acceptance suite (Hurl) against a server you started.
    Realworld {
        /// The server's origin, without `/api`.
        #[arg(long, value_name = "http://HOST:PORT")]
        url: String,
    },
    /// Maintainers: print speed figures (servers, per-test database, learner loop).
    Bench {
        /// Also time the whole `cargo xtask check --no-lint`.
        #[arg(long)]
        check: bool,
        /// Only the capstone's figure: requests/s and p99 of GET /api/articles (wrk).
        #[arg(long, conflicts_with = "check")]
        capstone: bool,
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
        /// Stop after this long without a run.
        #[arg(long)]
        idle_seconds: Option<u64>,
    },
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct GradeCommand {
    #[command(subcommand)]
    pub action: Option<GradeAction>,
    #[command(flatten)]
    pub args: GradeArgs,
}

#[derive(Args, Clone)]
pub struct GradeArgs {
    /// Only these topics (name, id or number; repeatable). Default: every topic.
    #[arg(long = "topic")]
    pub topics: Vec<String>,
    /// Grade an assignment of exercises/assignments.toml (its topics, weights and due date).
    /// `auto` (with --base): the assignment holding every topic the submission changed.
    #[arg(long, conflicts_with = "topics")]
    pub assignment: Option<String>,
    /// Tamper evidence: take everything but `exercises/*/src/**` from this git ref.
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    /// An instructor's private tests: DIR/<topic id>/*.rs become extra test targets.
    #[arg(long, value_name = "DIR")]
    pub extra_tests: Option<PathBuf>,
    /// Report format (repeatable; more than one needs --out-dir).
    #[arg(long = "format", value_enum)]
    pub formats: Vec<Format>,
    /// Write the report to FILE (atomically) instead of the standard output.
    #[arg(long, value_name = "FILE", conflicts_with = "out_dir")]
    pub output: Option<PathBuf>,
    /// Write each format to DIR/grade.<json|md|xml|txt> (classroom: DIR/classroom.json).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// The student's name for the report (roll-up falls back to the repository).
    #[arg(long)]
    pub student: Option<String>,
    /// Seconds each test may run.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub timeout: u64,
    /// Seconds all of a topic's tests may take together: past it, tests still running are
    /// stopped and tests not started are reported as timed out without being run.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub topic_budget: u64,
    /// Where the scratch copy and its build go (default: `KATA_GRADE_DIR`, `$RUNNER_TEMP/kata-grade`
    /// or the temporary directory); never inside the graded checkout.
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Tests run at once (default: the number of cores, at most 4).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Grade the repository at DIR (default: the one this runner belongs to).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum GradeAction {
    /// Grade a whole class: ROSTER is a CSV `student,repo[,ref][,due]`; each repository is
    /// fetched and graded as `--base` does, then one gradebook and a per-topic summary.
    Class(Box<ClassArgs>),
    /// Render a saved JSON report again (checked first: CI treats it as untrusted input).
    Render {
        #[arg(value_name = "REPORT")]
        report: PathBuf,
        /// Report format (repeatable; more than one needs --out-dir).
        #[arg(long = "format", value_enum)]
        formats: Vec<Format>,
        /// Write the report to FILE (atomically) instead of the standard output.
        #[arg(long, value_name = "FILE", conflicts_with = "out_dir")]
        output: Option<PathBuf>,
        /// Write each format to DIR/grade.<json|md|xml|txt> (classroom: DIR/classroom.json).
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Turn many JSON reports (files, or directories searched for *.json) into one gradebook.
    RollUp {
        #[arg(required = true, value_name = "REPORTS")]
        reports: Vec<PathBuf>,
        /// Write the gradebook as CSV to FILE.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        /// Write the gradebook as Markdown to FILE (default: print it).
        #[arg(long, value_name = "FILE")]
        markdown: Option<PathBuf>,
        /// Write the per-topic summary (mean, median, passes per test) as Markdown to FILE.
        #[arg(long, value_name = "FILE")]
        summary: Option<PathBuf>,
        /// Due date (RFC 3339) for lateness, instead of each report's assignment due date.
        #[arg(long, value_name = "TIME")]
        due: Option<String>,
    },
}

#[derive(Args, Clone)]
pub struct ClassArgs {
    /// CSV with a header: student,repo and optional ref (branch, tag or commit) and due
    /// (RFC 3339, this student's due date). Relative repository paths are relative to it.
    #[arg(value_name = "ROSTER")]
    pub roster: PathBuf,
    /// Only these topics (name, id or number; repeatable). Default: every topic.
    #[arg(long = "topic")]
    pub topics: Vec<String>,
    /// Grade an assignment of exercises/assignments.toml.
    #[arg(long, conflicts_with = "topics")]
    pub assignment: Option<String>,
    /// This repository's trusted commit: tests, harness and manifests come from it.
    #[arg(long, value_name = "REF", default_value = "HEAD")]
    pub base: Option<String>,
    /// An instructor's private tests: DIR/<topic id>/*.rs become extra test targets.
    #[arg(long, value_name = "DIR")]
    pub extra_tests: Option<PathBuf>,
    /// Grade each student's last commit at or before this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub deadline: Option<String>,
    /// Students graded at once.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Reports go to DIR/<student>/, the gradebook and summary to DIR.
    #[arg(long, value_name = "DIR", default_value = "class-grades")]
    pub out_dir: PathBuf,
    /// Report formats per student (comma-separated; JSON is always written).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub formats: Vec<Format>,
    /// Grade every student again, even those whose commit, base and scope are unchanged.
    #[arg(long)]
    pub force: bool,
    /// Seconds each test may run.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub timeout: u64,
    /// Seconds all of a topic's tests may take together.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub topic_budget: u64,
    /// Where repositories, scratch copies and the shared build go (default as for `grade`).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Grade only the students at positions I, I+N, ... of the roster (from 0), for a CI matrix.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// The instructor's repository the base is taken from (default: the one this runner
    /// belongs to).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// `only`: fetch every repository and stop (run it while credentials are set up);
    /// `never`: grade the repositories fetched before (after removing the credentials, so
    /// learner code cannot read them).
    #[arg(long, value_enum, default_value_t = Fetch::Always)]
    pub fetch: Fetch,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fetch {
    Always,
    Only,
    Never,
}
