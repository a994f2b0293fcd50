//! What the class run shows while it works.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

use super::Outcome;

/// One line per event when the output is not a terminal (a CI log); a bar when it is.
pub struct Progress {
    bar: Option<ProgressBar>,
    total: usize,
    done: AtomicUsize,
}

impl Progress {
    pub fn new(total: usize) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} students  {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        Progress {
            bar,
            total,
            done: AtomicUsize::new(0),
        }
    }
    pub fn start(&self, student: &str) {
        self.say(student, "starting");
    }
    pub fn say(&self, student: &str, line: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(format!("{student}: {line}")),
            None => eprintln!("[{student}] {line}"),
        }
    }
    pub fn done(&self, student: &str, outcome: &Outcome) {
        let n = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        let what = match outcome {
            Outcome::Graded(r, ..) => format!("graded: {} / {}", r.score, r.max_score),
            Outcome::Unchanged(r, ..) => format!("unchanged: {} / {}", r.score, r.max_score),
            Outcome::Fetched(commit) => format!("fetched: would grade {commit}"),
            Outcome::Failed(why) => format!("not graded: {}", why.lines().next().unwrap_or("")),
        };
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                bar.println(format!("{student}: {what}"));
            }
            None => eprintln!("[{student}] {what} ({n} of {})", self.total),
        }
    }
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
