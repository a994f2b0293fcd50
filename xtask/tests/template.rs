//! `cargo xtask export-template` on a tiny repository laid out like this one: what students
//! clone has no solutions and none of the maintainers' or instructors' machinery, calls the
//! instructor's grading workflow, is one commit, and is a workspace cargo can load.

mod common;

use common::{Scratch, write};
use std::path::{Path, PathBuf};
use std::process::Command;

fn git(root: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const README: &str = "# Katas\n\nIntro.\n\n## Start\n\nRun it.\n\n## Grading: instructors and CI\n\nSecret sauce.\n\n### Threats\n\nMore.\n\n## Testing this repository\n\ncargo xtask check\n";

fn repository(base: &Path) -> PathBuf {
    let root = base.join("repo");
    write(
        &root,
        "Cargo.toml",
        "[workspace]\nresolver = \"3\"\nmembers = [\"exercises/*\", \"solutions/*\"]\n",
    );
    write(&root, ".gitignore", "/target\n/.kata\n");
    write(&root, "README.md", README);
    write(&root, ".ci/run", "#!/bin/sh\n");
    write(&root, ".github/workflows/ci.yml", "name: ci\n");
    write(&root, ".github/workflows/grade.yml", "name: grade\n");
    write(
        &root,
        "exercises/01_mini/Cargo.toml",
        "[package]\nname = \"mini\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
    );
    write(
        &root,
        "exercises/01_mini/src/lib.rs",
        "pub fn f() {\n    todo!()\n}\n",
    );
    write(
        &root,
        "solutions/01_mini/Cargo.toml",
        "[package]\nname = \"mini_solution\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
    );
    write(&root, "solutions/01_mini/src/lib.rs", "pub fn f() {}\n");
    write(&root, "solutions/01_mini/wrong_answers/a.diff", "");
    git(&root, &["init", "--quiet"]);
    git(&root, &["add", "."]);
    git(&root, &["commit", "--quiet", "-m", "base"]);
    // Not tracked: not exported.
    write(&root, "notes.txt", "maintainer's notes\n");
    root
}

#[test]
fn the_student_template_has_no_solutions_and_calls_the_instructors_workflow() {
    let base = std::env::temp_dir().join(format!("kata-template-tests-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let scratch = Scratch(base.clone());
    let root = repository(&scratch.0);
    let dir = base.join("template");
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("export-template")
        .arg(&dir)
        .arg("--root")
        .arg(&root)
        .output()
        .expect("xtask runs");
    assert!(
        out.status.success(),
        "export-template failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let files = git(&dir, &["ls-files"]);
    let files: Vec<&str> = files.lines().collect();
    assert_eq!(
        files,
        [
            ".github/workflows/submission.yml",
            ".gitignore",
            "Cargo.toml",
            "README.md",
            "exercises/01_mini/Cargo.toml",
            "exercises/01_mini/src/lib.rs",
        ]
    );
    assert!(!dir.join("solutions").exists());
    assert!(!dir.join("notes.txt").exists());
    // One commit: the stubs `reset` restores.
    assert_eq!(git(&dir, &["rev-list", "--count", "HEAD"]).trim(), "1");
    assert_eq!(git(&dir, &["status", "--porcelain"]), "");

    let workflow = std::fs::read_to_string(dir.join(".github/workflows/submission.yml"))
        .expect("submission.yml");
    assert!(
        workflow.contains(
            "uses: INSTRUCTOR_ORG/INSTRUCTOR_REPO/.github/workflows/grade-reusable.yml@main"
        ),
        "{workflow}"
    );
    assert!(workflow.contains("replace INSTRUCTOR_ORG/INSTRUCTOR_REPO"));

    let readme = std::fs::read_to_string(dir.join("README.md")).expect("README");
    assert!(readme.contains("## Your copy of the katas"), "{readme}");
    assert!(readme.contains("## Start"), "{readme}");
    for gone in ["Secret sauce", "### Threats", "## Testing this repository"] {
        assert!(!readme.contains(gone), "{gone} in {readme}");
    }

    // The workspace loads without solutions/.
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml");
    assert!(
        manifest.contains("members = [\"exercises/*\"]"),
        "{manifest}"
    );
    let metadata = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--offline",
            "--no-deps",
            "--format-version",
            "1",
        ])
        .current_dir(&dir)
        .output()
        .expect("cargo runs");
    assert!(
        metadata.status.success(),
        "{}",
        String::from_utf8_lossy(&metadata.stderr)
    );

    // Never into a directory that holds something.
    let again = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("export-template")
        .arg(&dir)
        .arg("--root")
        .arg(&root)
        .output()
        .expect("xtask runs");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"));
}
