//! `cargo xtask grade class ROSTER`: a whole class in one command, for instructors without
//! GitHub Classroom.
//!
//! The roster is a CSV file with a header: `student,repo` and optional `ref` (branch, tag or
//! commit; default the repository's default branch) and `due` (this student's due date, for
//! an extension). For each student: fetch the repository into a cache, pick the commit (the
//! last at or before `--deadline`), grade it exactly as `grade --base` does, and write
//! `OUT/<student>/grade.json` (and the other formats). A student whose repository is missing,
//! private without credentials, or has no commit before the deadline gets a gradebook row that
//! says why; the run goes on. It ends with `OUT/gradebook.csv`, `OUT/gradebook.md` and a
//! per-topic summary, `OUT/summary.md`.
//!
//! Speed: the services start once for the class; every student is graded against the same
//! base in a scratch copy at a fixed path per job, all sharing one target directory, so the
//! stack is built once and each student costs only their own crates. Rerunning skips students
//! whose graded commit, base and scope are unchanged (`--force` regrades).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};

mod progress;
mod repos;
mod roster;

use crate::cli::{ClassArgs, Fetch, GradeArgs};
use crate::grade::base::Base;
use crate::grade::report::Report;
use crate::grade::rollup::{self, Row};
use crate::grade::{Job, Place, confine, formats, grade_one};
use crate::manifest;
use crate::services::servers::{self, Prefer};
use progress::Progress;
use repos::{checkout_commit, fetch, pick_commit};
use roster::Student;

/// What happened to one student.
enum Outcome {
    /// Graded now: the report, its file, and how many commits came after the deadline.
    Graded(Box<Report>, PathBuf, usize),
    /// Graded by an earlier run from the same commit, base and scope.
    Unchanged(Box<Report>, PathBuf, usize),
    /// `--fetch only`: fetched, this commit would be graded.
    Fetched(String),
    Failed(String),
}

pub fn class(args: ClassArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let roster = roster::read(&args.roster)?;
    let (shard, shards) = roster::parse_shard(args.shard.as_deref())?;
    let mine: Vec<Student> = roster
        .iter()
        .enumerate()
        .filter(|(i, _)| i % shards == shard)
        .map(|(_, s)| s.clone())
        .collect();
    let deadline = args
        .deadline
        .as_deref()
        .map(|d| {
            d.parse::<jiff::Timestamp>().with_context(|| {
                format!("--deadline {d:?} is not an RFC 3339 time (like 2026-12-07T23:59:00+01:00)")
            })
        })
        .transpose()?;
    // The base comes from this repository, the instructor's: never from a student's.
    let trusted = match &args.root {
        Some(root) => std::fs::canonicalize(root)
            .with_context(|| format!("Failed to find the repository {}", root.display()))?,
        None => manifest::root(),
    };
    let base = Base::resolve(args.base.as_deref().unwrap_or("HEAD"), &[&trusted])?;
    let work = confine::work_dir(args.work_dir.as_deref(), &trusted)?;
    let formats_wanted = if args.formats.is_empty() {
        vec![formats::Format::Json]
    } else {
        args.formats.clone()
    };
    let grade_args = GradeArgs {
        topics: args.topics.clone(),
        assignment: args.assignment.clone(),
        base: None,
        extra_tests: args.extra_tests.clone(),
        formats: Vec::new(),
        output: None,
        out_dir: None,
        student: None,
        timeout: args.timeout,
        topic_budget: args.topic_budget,
        jobs: None,
        root: None,
        work_dir: None,
    };
    let scope = format!(
        "base={} assignment={:?} topics={:?} extra_tests={:?} timeout={} budget={} deadline={:?}",
        base.commit,
        args.assignment,
        args.topics,
        args.extra_tests,
        args.timeout,
        args.topic_budget,
        args.deadline
    );

    let all = manifest::load_from(&trusted)?;
    let needed = {
        let chosen = super::choose(&trusted, &all, &grade_args)
            .map(|(chosen, _)| chosen)
            .unwrap_or_default();
        let topics: Vec<&manifest::Topic> = chosen.iter().map(|(t, _)| t).collect();
        manifest::services_needed(&topics)
    };
    let needed = if args.fetch == Fetch::Only {
        Vec::new()
    } else {
        needed
    };
    let servers = servers::start(&needed, Prefer::Auto)?;
    for line in &servers.described {
        eprintln!("{line}");
    }

    let progress = Progress::new(mine.len());
    let next = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    let jobs = args.jobs.clamp(1, mine.len().max(1));
    std::thread::scope(|scope_| {
        for job in 0..jobs {
            let (work, base, grade_args, scope, mine, progress, next, outcomes) = (
                &work,
                &base,
                &grade_args,
                &scope,
                &mine,
                &progress,
                &next,
                &outcomes,
            );
            let servers_env = &servers.env;
            let formats_wanted = &formats_wanted;
            let roster_dir = args.roster.parent().unwrap_or(Path::new("."));
            let (out_dir, force, fetch) = (&args.out_dir, args.force, args.fetch);
            scope_.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(student) = mine.get(i) else { break };
                    progress.start(&student.student);
                    let place = Place::Copy {
                        scratch: work.join(format!("job-{job}")).join("scratch"),
                        target: work.join("target"),
                    };
                    let one = OneStudent {
                        student,
                        roster_dir,
                        cache: &work.join("repos"),
                        out: &out_dir.join(&student.student),
                        deadline,
                        scope,
                        force,
                        fetch,
                    };
                    let outcome = one
                        .grade(
                            base,
                            place,
                            grade_args,
                            servers_env,
                            formats_wanted,
                            &|line| progress.say(&student.student, line),
                        )
                        .unwrap_or_else(|e| Outcome::Failed(format!("{e:#}")));
                    if let Err(e) = record(&out_dir.join(&student.student), student, &outcome) {
                        progress.say(&student.student, &format!("{e:#}"));
                    }
                    progress.done(&student.student, &outcome);
                    if let Ok(mut all) = outcomes.lock() {
                        all.push((i, outcome));
                    }
                }
            });
        }
    });
    drop(servers);
    progress.finish();

    let mut outcomes = outcomes.into_inner().unwrap_or_default();
    outcomes.sort_by_key(|(i, _)| *i);
    let mut rows = Vec::new();
    let mut reports = Vec::new();
    let (mut graded, mut skipped, mut failed) = (0, 0, 0);
    for ((_, outcome), student) in outcomes.into_iter().zip(&mine) {
        let outcome_kind = match &outcome {
            Outcome::Unchanged(..) => Kind::Unchanged,
            _ => Kind::Other,
        };
        let due = student
            .due
            .as_deref()
            .and_then(|d| d.parse().ok())
            .or(deadline);
        match outcome {
            Outcome::Graded(report, file, late) | Outcome::Unchanged(report, file, late) => {
                if matches!(outcome_kind, Kind::Unchanged) {
                    skipped += 1;
                } else {
                    graded += 1;
                }
                let mut row = rollup::row(&report, &file, due);
                row.student = student.student.clone();
                if late > 0 {
                    row.note = format!("{late} commit(s) after the deadline, not graded");
                }
                rows.push(row);
                reports.push(*report);
            }
            Outcome::Failed(why) => {
                failed += 1;
                rows.push(Row::failed(&student.student, &student.repo, &why));
            }
            Outcome::Fetched(_) => graded += 0,
        }
    }
    if args.fetch == Fetch::Only {
        println!(
            "{} of {} repositories fetched ({failed} could not be); grade them with --fetch never",
            mine.len() - failed,
            mine.len()
        );
        return Ok(if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("Failed to create {}", args.out_dir.display()))?;
    rollup::write_gradebook(
        &rows,
        Some(&args.out_dir.join("gradebook.csv")),
        Some(&args.out_dir.join("gradebook.md")),
    )?;
    super::write_atomically(
        &args.out_dir.join("summary.md"),
        &crate::grade::summary::summary(&reports),
    )?;
    eprintln!("wrote {}", args.out_dir.join("summary.md").display());

    println!("\n{:<24} {:>14}  note", "student", "score");
    for row in &rows {
        println!(
            "{:<24} {:>14}  {}",
            row.student,
            format!("{} / {}", row.score, row.max_score),
            row.note.lines().next().unwrap_or_default()
        );
    }
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    println!(
        "\n{} students: {graded} graded, {skipped} unchanged since the last run, {failed} could not be graded; {:.1} min ({:.1} graded per minute)",
        mine.len(),
        minutes,
        if minutes > 0.0 {
            graded as f64 / minutes
        } else {
            0.0
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// A student's output directory says what happened: a report, or `not-graded.json` (which
/// `grade roll-up` reads as that student's row), never a stale mix of both.
fn record(out: &Path, student: &Student, outcome: &Outcome) -> Result<()> {
    match outcome {
        Outcome::Failed(why) => {
            std::fs::create_dir_all(out)?;
            for stale in ["grade.json", KEY_FILE] {
                let _ = std::fs::remove_file(out.join(stale));
            }
            let note = rollup::NotGraded {
                student: student.student.clone(),
                repository: student.repo.clone(),
                why: why.clone(),
            };
            super::write_atomically(
                &out.join(rollup::NOT_GRADED),
                &serde_json::to_string_pretty(&note)?,
            )
        }
        Outcome::Graded(..) | Outcome::Unchanged(..) => {
            let _ = std::fs::remove_file(out.join(rollup::NOT_GRADED));
            Ok(())
        }
        Outcome::Fetched(_) => Ok(()),
    }
}

enum Kind {
    Unchanged,
    Other,
}

/// What a student's grade was computed from: commit, base and scope.
const KEY_FILE: &str = ".graded-from";

/// The per-student work: fetch, pick the commit, grade, write.
struct OneStudent<'a> {
    student: &'a Student,
    roster_dir: &'a Path,
    cache: &'a Path,
    out: &'a Path,
    deadline: Option<jiff::Timestamp>,
    scope: &'a str,
    force: bool,
    fetch: Fetch,
}

impl OneStudent<'_> {
    fn grade(
        &self,
        base: &Base,
        place: Place,
        args: &GradeArgs,
        servers: &[(String, String)],
        wanted: &[formats::Format],
        log: &dyn Fn(&str),
    ) -> Result<Outcome> {
        let checkout = self.cache.join(&self.student.student);
        match self.fetch {
            Fetch::Never if !checkout.join(".git").exists() => {
                bail!("not fetched: run with --fetch only first")
            }
            Fetch::Never => {}
            Fetch::Always | Fetch::Only => {
                log("fetching");
                fetch(&self.repo_url(), &checkout)?;
            }
        }
        let (commit, late) =
            pick_commit(&checkout, self.student.reference.as_deref(), self.deadline)?;
        if self.fetch == Fetch::Only {
            return Ok(Outcome::Fetched(commit));
        }
        checkout_commit(&checkout, &commit)?;
        let key = format!("commit={commit} {}\n", self.scope);
        let report_file = self.out.join("grade.json");
        if !self.force
            && std::fs::read_to_string(self.out.join(KEY_FILE)).is_ok_and(|k| k == key)
            && let Ok(text) = std::fs::read_to_string(&report_file)
            && let Ok(report) = Report::parse_checked(&text)
        {
            return Ok(Outcome::Unchanged(Box::new(report), report_file, late));
        }
        let _ = std::fs::remove_file(self.out.join(KEY_FILE));
        let mut args = args.clone();
        args.student = Some(self.student.student.clone());
        let job = Job {
            source: &checkout,
            base: Some(base),
            place,
            args: &args,
        };
        let report = grade_one(&job, Some(servers), log)?;
        std::fs::create_dir_all(self.out)
            .with_context(|| format!("Failed to create {}", self.out.display()))?;
        // Files only (plan() also echoes a text summary to the log).
        let mut plan: Vec<_> = formats::plan(wanted, None, Some(self.out))?
            .into_iter()
            .filter(|(_, to)| to.is_some())
            .collect();
        if !plan.iter().any(|(f, _)| *f == formats::Format::Json) {
            plan.push((formats::Format::Json, Some(report_file.clone())));
        }
        formats::emit(&report, &plan)?;
        std::fs::write(self.out.join(KEY_FILE), key)?;
        Ok(Outcome::Graded(Box::new(report), report_file, late))
    }

    /// A relative path in the roster is relative to the roster's directory.
    fn repo_url(&self) -> String {
        let repo = &self.student.repo;
        let local = Path::new(repo);
        if !repo.contains("://") && !repo.contains('@') && local.is_relative() {
            return self.roster_dir.join(local).display().to_string();
        }
        repo.clone()
    }
}
