//! `cargo xtask gradescope-bundle` end to end, without Gradescope: the bundle of a tiny
//! repository (two topics, no services) is unpacked into a temporary root laid out as
//! Gradescope lays out `/autograder` (`source/`, `submission/`, `results/`), its
//! `run_autograder` runs (as Gradescope does, as root, with `AUTOGRADER_ROOT` pointing there and
//! this build's runner as `KATA_XTASK`) and `results.json` is checked field by field against
//! Gradescope's documented format.

mod common;

use common::{CORRECT, Scratch, TESTS, write};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const STUB: &str = r#"pub fn add(_a: i32, _b: i32) -> i32 {
    todo!()
}
pub fn double(_x: i32) -> i32 {
    todo!()
}
pub fn greet(_name: &str) -> String {
    todo!()
}
"#;

const LATE_TESTS: &str = "#[test]\nfn answers() {\n    assert_eq!(late::answer(), 42, \"\\u{1b}[31mred\\u{1b}[0m <b>bold</b>\");\n}\n";

/// A test's scratch directory, outside the kata repository; removed when the test ends.
fn scratch(case: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!(
        "kata-gradescope-tests-{}-{case}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    Scratch(dir)
}

fn git(root: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .arg("-C")
        .arg(root)
        .args(args)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

/// The instructor's repository: stubs, tests, a solution, an assignment of both topics.
fn repository(base: &Path) -> PathBuf {
    let root = base.join("repo");
    write(
        &root,
        "rust-toolchain.toml",
        include_str!("../../rust-toolchain.toml"),
    );
    write(
        &root,
        "Cargo.toml",
        "[workspace]\nresolver = \"3\"\nmembers = [\"exercises/*\", \"solutions/*\"]\n",
    );
    write(&root, ".gitignore", "/target\n");
    write(
        &root,
        "exercises/katas.toml",
        "[[topic]]\nid = \"01_mini\"\ntitle = \"Mini\"\nweight = 6\n\n[[topic]]\nid = \"02_late\"\ntitle = \"Late\"\nweight = 4\nvisibility = \"after_due_date\"\n",
    );
    write(
        &root,
        "exercises/assignments.toml",
        "[[assignment]]\nname = \"week-1\"\ntitle = \"Week 1\"\ntopics = [\"mini\", \"late\"]\n",
    );
    for (id, name, tests, lib) in [
        ("01_mini", "mini", TESTS, STUB),
        (
            "02_late",
            "late",
            LATE_TESTS,
            "pub fn answer() -> u32 {\n    todo!()\n}\n",
        ),
    ] {
        write(
            &root,
            &format!("exercises/{id}/Cargo.toml"),
            &format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[lib]\ndoctest = false\n"
            ),
        );
        write(&root, &format!("exercises/{id}/tests/{name}.rs"), tests);
        write(&root, &format!("exercises/{id}/src/lib.rs"), lib);
    }
    write(
        &root,
        "solutions/01_mini/Cargo.toml",
        "[package]\nname = \"mini_solution\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
    );
    write(&root, "solutions/01_mini/src/lib.rs", CORRECT);
    git(&root, &["init", "--quiet"]);
    git(&root, &["add", "."]);
    git(&root, &["commit", "--quiet", "-m", "base"]);
    root
}

fn bundle(base: &Path) -> PathBuf {
    let root = repository(base);
    let zip = base.join("autograder.zip");
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["gradescope-bundle", "--assignment", "week-1", "--out"])
        .arg(&zip)
        .arg("--root")
        .arg(&root)
        .output()
        .expect("xtask runs");
    assert!(
        out.status.success(),
        "gradescope-bundle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    zip
}

/// Unpacks the bundle as Gradescope does, puts `files` in `submission/`, runs
/// `run_autograder` and returns `results/results.json`.
fn autograde(base: &Path, zip: &Path, case: &str, files: &[(&str, &str)]) -> Value {
    let root = base.join(case);
    let source = root.join("source");
    let archive = std::fs::File::open(zip).expect("the bundle");
    zip::ZipArchive::new(archive)
        .expect("a zip")
        .extract(&source)
        .expect("unpacks");
    for (path, text) in files {
        write(&root.join("submission"), path, text);
    }
    std::fs::create_dir_all(root.join("results")).expect("results dir");
    let out = Command::new(source.join("run_autograder"))
        .current_dir(&root)
        .env("AUTOGRADER_ROOT", &root)
        .env("KATA_XTASK", env!("CARGO_BIN_EXE_xtask"))
        .env_remove("GITHUB_REPOSITORY")
        .output()
        .expect("run_autograder runs");
    assert!(
        out.status.success(),
        "run_autograder failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(root.join("results/results.json")).expect("results.json");
    serde_json::from_str(&text).expect("results.json is JSON")
}

fn test<'a>(results: &'a Value, name: &str) -> &'a Value {
    results["tests"]
        .as_array()
        .and_then(|tests| tests.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("no test {name} in {results:#}"))
}

/// The fields Gradescope documents, and nothing else.
fn assert_documented(results: &Value) {
    let top = [
        "score",
        "execution_time",
        "output",
        "output_format",
        "test_output_format",
        "test_name_format",
        "visibility",
        "stdout_visibility",
        "tests",
    ];
    for key in results.as_object().expect("an object").keys() {
        assert!(top.contains(&key.as_str()), "undocumented field {key}");
    }
    assert!(results["execution_time"].is_u64());
    assert_eq!(results["visibility"], "visible");
    assert_eq!(results["stdout_visibility"], "hidden");
    assert_eq!(results["output_format"], "text");
    let per_test = [
        "name",
        "name_format",
        "score",
        "max_score",
        "status",
        "output",
        "output_format",
        "visibility",
    ];
    for test in results["tests"].as_array().expect("tests") {
        for key in test.as_object().expect("an object").keys() {
            assert!(per_test.contains(&key.as_str()), "undocumented field {key}");
        }
        assert!(matches!(test["status"].as_str(), Some("passed" | "failed")));
        assert_eq!(test["output_format"], "text");
    }
}

#[test]
fn the_bundle_holds_the_scripts_and_the_repository_without_solutions() {
    let scratch = scratch("contents");
    let base = &scratch.0;
    let zip = bundle(base);
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip).expect("zip")).expect("zip");
    let names: Vec<String> = archive
        .file_names()
        .map(|n| n.expect("a name").to_string())
        .collect();
    for script in ["setup.sh", "run_autograder"] {
        let file = archive.by_name(script).expect(script);
        assert_eq!(file.unix_mode().map(|m| m & 0o777), Some(0o755), "{script}");
    }
    assert!(names.contains(&"exercises/01_mini/tests/mini.rs".to_string()));
    assert!(
        !names.iter().any(|n| n.starts_with("solutions/")),
        "{names:?}"
    );
    let mut manifest = String::new();
    archive
        .by_name("Cargo.toml")
        .expect("Cargo.toml")
        .read_to_string(&mut manifest)
        .expect("text");
    assert!(
        manifest.contains("members = [\"exercises/*\"]"),
        "{manifest}"
    );
    let mut setup = String::new();
    archive
        .by_name("setup.sh")
        .expect("setup.sh")
        .read_to_string(&mut setup)
        .expect("text");
    let pinned = include_str!("../../rust-toolchain.toml")
        .lines()
        .find_map(|l| l.strip_prefix("channel = "))
        .expect("a channel")
        .trim_matches('"')
        .to_string();
    assert!(
        setup.contains(&format!("--default-toolchain {pinned}")),
        "{setup}"
    );
    assert!(setup.contains("postgresql redis-server"), "{setup}");
}

#[test]
fn an_honest_submission_scores_full_marks_and_a_stub_scores_nothing() {
    let scratch = scratch("runs");
    let base = &scratch.0;
    let zip = bundle(base);

    // Uploaded as a zip of the repository's folder: one directory holding it.
    let honest = autograde(
        base,
        &zip,
        "honest",
        &[
            ("katas-main/exercises/01_mini/src/lib.rs", CORRECT),
            (
                "katas-main/exercises/02_late/src/lib.rs",
                "pub fn answer() -> u32 {\n    42\n}\n",
            ),
        ],
    );
    assert_documented(&honest);
    assert_eq!(honest["score"], 10.0);
    assert_eq!(honest["tests"].as_array().map(Vec::len), Some(4));
    let adds = test(&honest, "01_mini / adds");
    assert_eq!(adds["status"], "passed");
    assert_eq!(adds["score"], 2.0);
    assert_eq!(adds["max_score"], 2.0);
    assert_eq!(adds["output"], "");
    assert_eq!(adds["visibility"], "visible");
    let late = test(&honest, "02_late / answers");
    assert_eq!(late["status"], "passed");
    assert_eq!(late["max_score"], 4.0);
    assert_eq!(late["visibility"], "after_due_date");
    let output = honest["output"].as_str().expect("output");
    assert!(output.contains("Assignment week-1: Week 1"), "{output}");
    assert!(output.contains("01_mini Mini: 6 / 6"), "{output}");
    // A topic shown after the due date does not leak its score, nor the total, before.
    assert!(
        output.contains("02_late Late: results shown later"),
        "{output}"
    );
    assert!(!output.contains("Score:"), "{output}");

    // The stub, with its tests rewritten to pass (the tests come from the trusted copy), and a
    // wrong answer whose assertion message carries terminal escapes and markup.
    let stub = autograde(
        base,
        &zip,
        "stub",
        &[
            ("exercises/01_mini/src/lib.rs", STUB),
            ("exercises/01_mini/tests/mini.rs", "#[test]\nfn adds() {}\n"),
            (
                "exercises/02_late/src/lib.rs",
                "pub fn answer() -> u32 {\n    41\n}\n",
            ),
        ],
    );
    assert_documented(&stub);
    assert_eq!(stub["score"], 0.0);
    for name in [
        "01_mini / adds",
        "01_mini / doubles",
        "01_mini / greets",
        "02_late / answers",
    ] {
        let t = test(&stub, name);
        assert_eq!(t["status"], "failed", "{name}");
        assert_eq!(t["score"], 0.0, "{name}");
    }
    let greets = test(&stub, "01_mini / greets")["output"]
        .as_str()
        .expect("output");
    assert!(greets.contains("not yet implemented"), "{greets}");
    // Learner-controlled text arrives as plain text: no terminal escapes.
    let late = test(&stub, "02_late / answers")["output"]
        .as_str()
        .expect("output");
    assert!(!late.contains('\u{1b}'), "{late:?}");
    assert!(
        late.contains("red") && late.contains("<b>bold</b>"),
        "{late:?}"
    );
}

#[test]
fn a_symbolic_link_in_the_submission_is_not_followed() {
    let scratch = scratch("symlink");
    let base = &scratch.0;
    let zip = bundle(base);
    let root = base.join("linked");
    let outside = base.join("outside");
    write(&outside, "lib.rs", CORRECT);
    std::fs::create_dir_all(root.join("submission/exercises/01_mini")).expect("dir");
    std::os::unix::fs::symlink(&outside, root.join("submission/exercises/01_mini/src"))
        .expect("symlink");
    let results = autograde(base, &zip, "linked", &[]);
    assert_eq!(results["score"], 0.0);
    assert_eq!(test(&results, "01_mini / adds")["status"], "failed");
    let mode = std::fs::metadata(root.join("source/run_autograder"))
        .expect("run_autograder")
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111);
}
