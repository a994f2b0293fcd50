//! A topic's result as the learner reads it: each test, what failed and why, and what to run
//! next.

use crate::harness::Status;
use crate::learner::verify::TopicResult;
use crate::manifest::Topic;
use crate::ui::{bold, green, red, yellow};

/// The verdict on one topic, as the learner should read it.
/// A topic's result. `current`: the topic `cargo xtask next` runs, so the footer names
/// `next`; otherwise it names the commands for this topic.
pub fn show(topic: &Topic, result: &TopicResult, current: bool) {
    let (again, hint) = if current {
        (
            "cargo xtask next".to_string(),
            "cargo xtask hint".to_string(),
        )
    } else {
        (
            format!("cargo xtask verify {}", topic.name()),
            format!("cargo xtask hint {}", topic.name()),
        )
    };
    println!("{} {}", bold(&topic.id), topic.title);
    if let Some(errors) = &result.build_error {
        println!(
            "{}",
            red("Your code does not compile yet. The compiler says:")
        );
        println!("{errors}");
        println!("Fix the first error, then run `{again}` again.");
        return;
    }
    if result.not_started() {
        println!(
            "{} all {} tests wait for you: each reaches a todo!(). Read exercises/{}/README.md, then edit exercises/{}/src/lib.rs and run `{again}`.",
            yellow("Not started:"),
            result.tests.len(),
            topic.id,
            topic.id
        );
        if let Some(suite) = &result.suite {
            crate::acceptance::realworld::show(suite);
        }
        return;
    }
    for test in &result.tests {
        match test.status {
            Status::Pass => println!("  {} {}", green("✓"), test.name),
            Status::NotGraded => {
                println!("  {} {} ({})", yellow("-"), test.name, test.message)
            }
            status => {
                let what = match status {
                    Status::Timeout => " (timed out)",
                    Status::Error => " (crashed)",
                    _ => "",
                };
                println!("  {} {}{what}", red("✗"), test.name);
                for line in test.message.lines() {
                    println!("      {line}");
                }
            }
        }
    }
    if let Some(suite) = &result.suite {
        crate::acceptance::realworld::show(suite);
    }
    let (passing, total) = (result.passing(), result.tests.len());
    let not_graded = result
        .tests
        .iter()
        .filter(|t| t.status == Status::NotGraded)
        .count();
    if result.passed() && not_graded > 0 {
        println!(
            "{}",
            yellow(&format!(
                "{passing} tests pass; {not_graded} were not graded here (see above): they run where a Docker engine can build."
            ))
        );
    } else if result.passed() {
        println!("{}", green(&format!("All {total} tests pass.")));
    } else {
        let watch = if current {
            " (or `cargo xtask watch`)"
        } else {
            ""
        };
        println!(
            "{passing} of {total} tests pass. Fix the first failure above, then run `{again}` again{watch}; stuck? `{hint}`."
        );
    }
}
