//! libtest's JSON events (`--format json`, unstable, enabled on the stable toolchain by
//! `RUSTC_BOOTSTRAP=1`) as one tagged enum, read the same way by both ways of running tests.
//! A test's outcome comes from these events, never from the text a test (or learner code)
//! prints, so fake "test result: ok" lines change nothing.

use serde::Deserialize;

/// One line of a test executable's JSON output.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Event {
    /// The run as a whole: `started` (with `test_count`), then `ok` or `failed`.
    Suite {
        event: Phase,
        #[serde(default)]
        test_count: Option<u64>,
        #[serde(default)]
        passed: Option<u64>,
        #[serde(default)]
        failed: Option<u64>,
    },
    /// One test: `started`, then `ok`, `failed` or `ignored` (`timeout` warns of a slow one).
    Test {
        event: Phase,
        #[serde(default)]
        name: String,
        /// What the test printed (captured), with a failed test's panic.
        #[serde(default)]
        stdout: Option<String>,
        /// Seconds, with `--report-time`.
        #[serde(default)]
        exec_time: Option<f64>,
        /// The reason of an `ignored` event.
        #[serde(default)]
        message: Option<String>,
    },
    /// Benchmarks and whatever later versions add.
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Started,
    Ok,
    Failed,
    Ignored,
    Timeout,
    #[serde(other)]
    Other,
}

impl Event {
    /// The event of a line, if it is one (a test may print anything else on a line of its own
    /// when output is not captured).
    pub fn parse(line: &str) -> Option<Event> {
        serde_json::from_str(line.trim()).ok()
    }

    /// `Some(phase)` when this is test `name`'s event.
    pub fn of_test(&self, wanted: &str) -> Option<Phase> {
        match self {
            Event::Test { event, name, .. } if name == wanted => Some(*event),
            _ => None,
        }
    }

    /// libtest's own timing of a test, in milliseconds.
    pub fn exec_ms(&self) -> Option<u64> {
        match self {
            Event::Test { exec_time, .. } => exec_time.map(|s| (s * 1000.0) as u64),
            _ => None,
        }
    }

    /// A failed test's message: its panic's, without the plumbing (empty when none).
    pub fn failure_message(&self) -> String {
        match self {
            Event::Test {
                stdout: Some(captured),
                ..
            } => panic_message(captured),
            _ => String::new(),
        }
    }
}

/// From a failed test's captured output, the panic's message alone:
/// "thread 'x' panicked at tests/a.rs:10:5:\nexpected ..." becomes "expected ...".
pub fn panic_message(captured: &str) -> String {
    let Some(start) = captured.find("panicked at ") else {
        return captured.trim().to_owned();
    };
    let after = &captured[start..];
    let body = after.split_once('\n').map_or("", |(_, rest)| rest);
    let end = [
        "\nnote: run with `RUST_BACKTRACE",
        "\nstack backtrace:",
        "\nthread '",
    ]
    .iter()
    .filter_map(|marker| body.find(marker))
    .min()
    .unwrap_or(body.len());
    body[..end].trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_lines_read_as_events() {
        let lines = [
            r#"{ "type": "suite", "event": "started", "test_count": 2 }"#,
            r#"{ "type": "test", "event": "started", "name": "a" }"#,
            r#"{ "type": "test", "name": "a", "event": "ok", "exec_time": 0.25 }"#,
            r#"{ "type": "test", "name": "b", "event": "ignored", "message": "engine" }"#,
            r#"{ "type": "bench", "name": "c", "median": 1, "deviation": 0 }"#,
            r#"{ "type": "suite", "event": "ok", "passed": 1, "failed": 0, "ignored": 1, "exec_time": 0.3 }"#,
            "test a ... ok",
        ];
        let events: Vec<Option<Event>> = lines.iter().map(|l| Event::parse(l)).collect();
        assert_eq!(
            events[0],
            Some(Event::Suite {
                event: Phase::Started,
                test_count: Some(2),
                passed: None,
                failed: None
            })
        );
        let ok = events[2].as_ref().expect("an event");
        assert_eq!(ok.of_test("a"), Some(Phase::Ok));
        assert_eq!(ok.of_test("b"), None);
        assert_eq!(ok.exec_ms(), Some(250));
        assert_eq!(
            events[3].as_ref().and_then(|e| e.of_test("b")),
            Some(Phase::Ignored)
        );
        assert_eq!(events[4], Some(Event::Other));
        assert!(matches!(
            events[5],
            Some(Event::Suite {
                event: Phase::Ok,
                passed: Some(1),
                ..
            })
        ));
        assert_eq!(events[6], None);
    }

    #[test]
    fn the_panic_message_is_cut_out_of_the_captured_output() {
        let captured = "some print\nthread 'a_test' (77) panicked at tests/x.rs:3:5:\nexpected 1, got 2\n  left: 1\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(panic_message(captured), "expected 1, got 2\n  left: 1");
    }

    #[test]
    fn a_todo_panic_reads_as_not_yet_implemented() {
        let captured = "thread 'x' panicked at src/lib.rs:9:5:\nnot yet implemented: transfer\n";
        assert_eq!(panic_message(captured), "not yet implemented: transfer");
    }
}
