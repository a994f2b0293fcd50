//! `cargo xtask grade`: scores the hidden tests with partial credit and writes a report for
//! the learner, the instructor and CI (text, JSON, JUnit XML, Markdown, GitHub Classroom).
//!
//! # Points
//! A topic is worth its `weight` in `exercises/katas.toml` (or the assignment's weight for it),
//! split over its tests in proportion to their shares. A test's share is 1 unless the topic
//! names it in an optional table:
//!
//! ```toml
//! [[topic]]
//! id = "11_transfer"
//! weight = 10
//! [topic.test_weights]            # test name = share; unnamed tests have share 1
//! concurrent_transfers_never_lose_money = 3
//! ```
//!
//! A test named there but absent from the build counts as an error worth its share (so
//! deleting a failing test does not raise the score). A topic that does not compile scores 0
//! and is reported as one `build` test in status `error` carrying the compiler's messages.
//!
//! # Outcomes
//! Every test runs in its own process with a time limit (see `harness::isolated`): learner code that
//! panics, aborts, exits (even with status 0), prints imitation test output, leaves threads or
//! child processes behind, or loops forever loses that test only.
//!
//! # Threat model
//! The README's "What grading defends against" is the full table. In short: learner code is
//! isolated per test process (above); with `--base`, nothing from the submission but its
//! `exercises/*/src/**` reaches the build: the graded copy is built outside its tree with a
//! scrubbed environment (see [`confine`]), and every topic is built before any test runs.
//! Code written to defeat the grader still runs with the grader's user (no sandbox).
//!
//! # Sources
//! Without `--base`, this working tree is graded as it is (another checkout, `--root`, is
//! copied first). With `--base REF`, a scratch copy of REF (`<work dir>/scratch`, from
//! `git archive`, built in `<work dir>/target`) receives the learner's `exercises/*/src/**`
//! (regular files only) and is graded instead, by the running grader (the CI workflow runs it
//! from a checkout it trusts). `--extra-tests DIR` copies
//! `DIR/<topic id>/*.rs` into that copy as extra test targets `extra_<file>` (and merges
//! `DIR/<topic id>/weights.toml`, test name = share, into the topic's `test_weights`).

mod assignments;
mod base;
mod class;
mod confine;
mod formats;
pub mod gradescope;
mod markdown;
mod render;
mod report;
mod rollup;
mod run;
mod submission;
mod summary;
pub mod template;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::cli::{GradeAction, GradeArgs, GradeCommand};
use crate::manifest::{self, Topic};
use crate::services::servers::{self, Prefer};
use report::{Report, SCHEMA_VERSION, round};

pub use formats::Format;

pub fn grade(command: GradeCommand) -> Result<ExitCode> {
    match command.action {
        Some(GradeAction::RollUp {
            reports,
            csv,
            markdown,
            summary,
            due,
        }) => rollup::roll_up(
            &reports,
            rollup::Outputs {
                csv: csv.as_deref(),
                markdown: markdown.as_deref(),
                summary: summary.as_deref(),
            },
            due.as_deref(),
        ),
        Some(GradeAction::Class(args)) => class::class(*args),
        Some(GradeAction::Render {
            report,
            formats,
            output,
            out_dir,
        }) => {
            let plan = formats::plan(&formats, output.as_deref(), out_dir.as_deref())?;
            render::render(&report, &plan)?;
            Ok(ExitCode::SUCCESS)
        }
        None => grade_submission(command.args),
    }
}

fn grade_submission(args: GradeArgs) -> Result<ExitCode> {
    let source = match &args.root {
        Some(root) => std::fs::canonicalize(root)
            .with_context(|| format!("Failed to find the repository {}", root.display()))?,
        None => manifest::root(),
    };
    let formats = formats::plan(
        &args.formats,
        args.output.as_deref(),
        args.out_dir.as_deref(),
    )?;
    // The base is looked up in the submission first, then in this grader's own repository
    // (a submission made from a template does not share its history).
    let base = args
        .base
        .as_deref()
        .map(|reference| base::Base::resolve(reference, &[&source, &manifest::root()]))
        .transpose()?;
    // The workspace graded: this working tree as it is, or a fresh scratch copy (of the base
    // with the learner's sources, or of another checkout) built in a work directory outside
    // the graded checkout, where cargo reads no configuration the submission could write
    // (see `confine`). Cargo names a path package's outputs after its path inside the
    // workspace, which is the same in every copy: the copy gets a target directory of its own.
    let place = if base.is_some() || args.extra_tests.is_some() || source != manifest::root() {
        let work = confine::work_dir(args.work_dir.as_deref(), &source)?;
        Place::Copy {
            scratch: work.join("scratch"),
            target: work.join("target"),
        }
    } else {
        Place::InPlace
    };
    let job = Job {
        source: &source,
        base: base.as_ref(),
        place,
        args: &args,
    };
    let report = grade_one(&job, None, &|line| eprintln!("{line}"))?;
    formats::emit(&report, &formats)?;
    Ok(ExitCode::SUCCESS)
}

/// Where the graded workspace is built.
pub(crate) enum Place {
    /// This working tree, as it is, in the runner's target directory.
    InPlace,
    /// A fresh copy at `scratch` (of the base with the learner's sources, or of the checkout),
    /// built in `target`.
    Copy { scratch: PathBuf, target: PathBuf },
}

/// One submission to grade.
pub(crate) struct Job<'a> {
    /// The learner's checkout.
    pub source: &'a Path,
    pub base: Option<&'a base::Base>,
    pub place: Place,
    /// What to grade and how (topics or assignment, private tests, limits, student).
    pub args: &'a GradeArgs,
}

/// Grades one submission: builds every chosen topic, then runs the tests on `servers` (the
/// servers' environment; started for this submission alone when `None`). `log` hears progress.
pub(crate) fn grade_one(
    job: &Job,
    servers: Option<&[(String, String)]>,
    log: &dyn Fn(&str),
) -> Result<Report> {
    let submission = submission::identify(job.source, job.args.student.clone());
    let (root, base, target_dir) = match (&job.place, job.base) {
        (Place::Copy { scratch, target }, Some(base)) => {
            let info = base::prepare(job.source, base, scratch)?;
            (scratch.clone(), Some(info), target.clone())
        }
        (Place::Copy { scratch, target }, None) => {
            let root = base::copy_working_tree(job.source, scratch)?;
            (root, None, target.clone())
        }
        (Place::InPlace, _) => {
            let target = std::path::absolute(crate::cargo::target_dir())
                .context("Failed to resolve the target directory")?;
            (job.source.to_path_buf(), None, target)
        }
    };
    let all = manifest::load_from(&root)?;
    let mut args = job.args.clone();
    if args.assignment.as_deref() == Some(AUTO) {
        (args.assignment, args.topics) = scope_of_changes(job.source, &root, &all, base.as_ref())?;
        log(&format!(
            "graded on what the submission changed: {}",
            match (&args.assignment, args.topics.is_empty()) {
                (Some(name), _) => format!("assignment {name}"),
                (None, true) => "no topic, so every topic".to_string(),
                (None, false) => args.topics.join(", "),
            }
        ));
    }
    let (mut chosen, assignment) = choose(&root, &all, &args)?;
    if let Some(dir) = &args.extra_tests {
        base::check_extra_tests(dir, &all)?;
        for (topic, _) in &mut chosen {
            base::add_extra_tests(&root, dir, topic)?;
        }
    }

    let ws = run::Workspace {
        root: root.clone(),
        target_dir,
        env: Vec::new(),
        limit: Duration::from_secs(args.timeout),
        budget: Duration::from_secs(args.topic_budget),
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get().min(4))),
    };
    // Every topic is built before any learner code runs: code run by one topic's tests
    // cannot change how another is built.
    let builds: Vec<run::Built> = chosen
        .iter()
        .map(|(topic, _)| {
            log(&format!("building {} ...", topic.id));
            run::build(&ws, topic)
        })
        .collect();
    let topics: Vec<&Topic> = chosen.iter().map(|(t, _)| t).collect();
    let started = match servers {
        Some(_) => None,
        None => {
            let run = servers::start(&manifest::services_needed(&topics), Prefer::Auto)?;
            for line in &run.described {
                log(line);
            }
            Some(run)
        }
    };
    let env = servers.unwrap_or_else(|| started.as_ref().map_or(&[], |run| &run.env));
    let ws = run::Workspace {
        env: confine::test_env(env),
        ..ws
    };
    let mut reports = Vec::new();
    for ((topic, weight), built) in chosen.iter().zip(builds) {
        log(&format!("grading {} ...", topic.id));
        reports.push(run::topic(&ws, topic, *weight, built));
    }
    drop(started);

    let assignment = assignment.map(|a| a.info(submission.commit_time.as_deref()));
    Ok(Report {
        schema_version: SCHEMA_VERSION,
        graded_at: jiff::Timestamp::now()
            .round(jiff::Unit::Second)?
            .to_string(),
        submission,
        assignment,
        base,
        extra_tests: args.extra_tests.is_some(),
        limits: Some(report::Limits {
            test_seconds: args.timeout,
            topic_seconds: args.topic_budget,
        }),
        score: round(reports.iter().map(|t| t.score).sum()),
        max_score: round(reports.iter().map(|t| t.max_score).sum()),
        topics: reports,
    })
}

/// `--assignment auto`: grade what the submission worked on.
const AUTO: &str = "auto";

/// The topics whose sources the submission changed since it branched from the base: the
/// first assignment holding them all, else those topics, else (no topic changed) every topic.
/// As (`--assignment`, `--topic`s).
fn scope_of_changes(
    source: &Path,
    root: &Path,
    all: &[Topic],
    base: Option<&report::BaseInfo>,
) -> Result<(Option<String>, Vec<String>)> {
    let Some(base) = base else {
        bail!("--assignment auto grades what changed since the base: give --base REF too.");
    };
    let changed: Vec<String> = base::changed_topics(source, &base.commit)?
        .into_iter()
        .filter(|id| all.iter().any(|t| &t.id == id))
        .collect();
    if changed.is_empty() {
        return Ok((None, Vec::new()));
    }
    let assignments = assignments::load(root, all)?;
    let holding = assignments.iter().find(|a| {
        changed
            .iter()
            .all(|id| a.topics.iter().any(|(topic, _)| topic == id))
    });
    Ok(match holding {
        Some(a) => (Some(a.name.clone()), Vec::new()),
        None => (None, changed),
    })
}

/// A topic and the points it is worth.
type Weighted = (Topic, f64);

/// The topics to grade with the points each is worth, and the assignment if one was named.
fn choose(
    root: &Path,
    all: &[Topic],
    args: &GradeArgs,
) -> Result<(Vec<Weighted>, Option<assignments::Assignment>)> {
    if let Some(name) = &args.assignment {
        let assignment = assignments::find(root, all, name)?;
        let topics = assignment
            .topics
            .iter()
            .map(|(id, weight)| {
                let topic = manifest::find(all, id)?.clone();
                Ok((topic, *weight))
            })
            .collect::<Result<_>>()?;
        return Ok((topics, Some(assignment)));
    }
    let topics: Vec<Topic> = if args.topics.is_empty() {
        all.to_vec()
    } else {
        args.topics
            .iter()
            .map(|name| manifest::find(all, name).cloned())
            .collect::<Result<_>>()?
    };
    if topics.is_empty() {
        bail!("exercises/katas.toml lists no topic to grade");
    }
    Ok((
        topics
            .into_iter()
            .map(|t| {
                let weight = f64::from(t.weight);
                (t, weight)
            })
            .collect(),
        None,
    ))
}

/// Writes `text` to `path` atomically: a temporary file beside it, then a rename.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("Failed to create the directory {}", dir.display()))?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&temporary, text)
        .with_context(|| format!("Failed to write {}", temporary.display()))?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("Failed to move the report into {}", path.display()))
}
