//! The Markdown report, for `$GITHUB_STEP_SUMMARY` and pull-request comments.
//!
//! Test names, messages and paths can come from the learner (a panic message is whatever the
//! code passed to `panic!`), so none is pasted raw: inline text is HTML-escaped with Markdown
//! punctuation backslash-escaped and `@` neutralised (no mentions), messages go in fenced code
//! blocks whose fence is longer than any backtick run inside, and everything is truncated.

use crate::grade::report::{Report, status_word};
use crate::harness::Status;

/// Per message: at most this many lines and characters.
const MESSAGE_LINES: usize = 15;
const MESSAGE_CHARS: usize = 1200;
/// Failures shown (a PR comment holds at most 65536 characters).
const FAILURES_SHOWN: usize = 30;

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let title = match &report.assignment {
        Some(a) => format!("Grade: {}", inline(&a.title)),
        None => "Grade".to_string(),
    };
    out += &format!("## {title}: {} / {}\n\n", report.score, report.max_score);
    out += "| Topic | Score | Tests passed |\n|---|---:|---:|\n";
    for topic in &report.topics {
        let passed = topic
            .tests
            .iter()
            .filter(|t| t.status == Status::Pass)
            .count();
        out += &format!(
            "| {} {} | {} / {} | {passed} / {} |\n",
            inline(&topic.id),
            inline(&topic.title),
            topic.score,
            topic.max_score,
            topic
                .tests
                .iter()
                .filter(|t| t.status != Status::NotGraded)
                .count()
        );
    }
    if let Some(base) = &report.base
        && !(base.protected_changes.is_empty() && base.refused_files.is_empty())
    {
        out += &format!(
            "\n### Changes outside `exercises/*/src/` (graded from the base, {})\n\n",
            inline(&base.commit)
        );
        for path in base.protected_changes.iter().take(50) {
            out += &format!("- {}\n", inline(path));
        }
        for path in base.refused_files.iter().take(50) {
            out += &format!("- {} (not a regular file: not graded)\n", inline(path));
        }
    }
    let not_graded: Vec<_> = report
        .tests()
        .filter(|(_, t)| t.status == Status::NotGraded)
        .collect();
    if let Some((_, first)) = not_graded.first() {
        out += &format!(
            "\n**Not graded here** ({} tests, worth no points either way): {}\n",
            not_graded.len(),
            inline(&first.message)
        );
    }
    let failures: Vec<_> = report
        .tests()
        .filter(|(_, t)| !matches!(t.status, Status::Pass | Status::NotGraded))
        .collect();
    if !failures.is_empty() {
        out += "\n### What to fix\n\n";
    }
    for (topic, test) in failures.iter().take(FAILURES_SHOWN) {
        out += &format!(
            "**{}** {} ({}, 0 / {})\n\n{}\n",
            inline(&topic.id),
            inline(&test.name),
            status_word(test.status),
            test.max_points,
            fenced(&test.message)
        );
    }
    if failures.len() > FAILURES_SHOWN {
        out += &format!("... and {} more.\n", failures.len() - FAILURES_SHOWN);
    }
    out
}

/// Text safe inside a Markdown paragraph or table cell.
pub fn inline(text: &str) -> String {
    let mut out = String::new();
    for c in truncate(text, 200).chars() {
        match c {
            '&' => out += "&amp;",
            '<' => out += "&lt;",
            '>' => out += "&gt;",
            '@' => out += "&#64;",
            '|' => out += "&#124;",
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '!' | '~' | '{'
            | '}' | '.' | '"' | '\'' | ':' | '=' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A fenced code block holding `text` literally, however many backticks it contains.
pub fn fenced(text: &str) -> String {
    let text: String = truncate(text, MESSAGE_CHARS)
        .lines()
        .take(MESSAGE_LINES)
        .map(|l| {
            let kept: String = l
                .chars()
                .filter(|c| !c.is_control() || *c == '\t')
                .collect();
            kept + "\n"
        })
        .collect();
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}text\n{text}{fence}\n")
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept}… (truncated)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_text_cannot_open_html_links_or_mentions() {
        let hostile = "<img src=x onerror=alert(1)> [click](http://evil) @octocat | **bold**";
        let safe = inline(hostile);
        assert!(!safe.contains('<'), "{safe}");
        assert!(!safe.contains("[click]"), "{safe}");
        assert!(!safe.contains("@octocat"), "{safe}");
        assert!(!safe.contains('|'), "{safe}");
        assert!(!safe.contains("**"), "{safe}");
    }

    #[test]
    fn a_fence_inside_a_message_cannot_close_the_block() {
        let hostile = "boom\n```\n# Fake heading\n<script>x</script>\n````";
        let block = fenced(hostile);
        let fence = block
            .lines()
            .next()
            .unwrap_or_default()
            .trim_end_matches("text");
        assert_eq!(fence, "`````");
        assert!(block.trim_end().ends_with(fence));
        let inner: Vec<&str> = block.lines().collect();
        assert!(
            inner[1..inner.len() - 1]
                .iter()
                .all(|l| !l.starts_with(fence))
        );
    }

    #[test]
    fn long_messages_are_truncated() {
        let block = fenced(&"x".repeat(10_000));
        assert!(block.len() < MESSAGE_CHARS + 100);
        assert!(block.contains("(truncated)"));
    }
}
