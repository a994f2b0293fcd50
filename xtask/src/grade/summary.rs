//! The class's per-topic summary: mean and median score, and how many passed each test.

use std::collections::BTreeMap;

use crate::grade::report::Report;

/// One topic across the class: its points, every student's score, and per test how many
/// passed of how many graded.
#[derive(Default)]
struct TopicTally<'a> {
    max: f64,
    scores: Vec<f64>,
    tests: BTreeMap<&'a str, (usize, usize)>,
}

/// Per topic: how many students, mean and median score; per test: how many passed.
pub fn summary(reports: &[Report]) -> String {
    let mut topics: BTreeMap<&str, TopicTally> = BTreeMap::new();
    for report in reports {
        for topic in &report.topics {
            let tally = topics.entry(&topic.id).or_default();
            tally.max = topic.max_score;
            tally.scores.push(topic.score);
            for test in &topic.tests {
                let counts = tally.tests.entry(&test.name).or_insert((0, 0));
                counts.1 += 1;
                if test.status == crate::harness::Status::Pass {
                    counts.0 += 1;
                }
            }
        }
    }
    let mut out = String::from("# Class summary\n");
    for (id, mut tally) in topics {
        let scores = &mut tally.scores;
        scores.sort_by(f64::total_cmp);
        let mean = scores.iter().sum::<f64>() / scores.len() as f64;
        let median = match scores.len() {
            0 => 0.0,
            n if n % 2 == 1 => scores[n / 2],
            n => (scores[n / 2 - 1] + scores[n / 2]) / 2.0,
        };
        let max = tally.max;
        out += &format!(
            "\n## {}\n\n{} students, mean {:.2} / {max}, median {:.2} / {max}\n\n| Test | Passed |\n|---|---:|\n",
            crate::grade::markdown::inline(id),
            scores.len(),
            mean,
            median
        );
        for (name, (passed, of)) in tally.tests {
            out += &format!(
                "| {} | {passed} / {of} |\n",
                crate::grade::markdown::inline(name)
            );
        }
    }
    out
}
