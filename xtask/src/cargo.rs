//! The runner's cargo: its own target directory, and compiler output shown from the repository.
//! Test builds are the harness's (`harness::build`); every other process goes through
//! `process`.

use std::path::PathBuf;
use std::process::Command;

use crate::manifest;

/// The runner's cargo runs use their own target directory, so an open editor's rust-analyzer
/// (which locks `target/`) never blocks the learner's loop, and vice versa.
pub fn target_dir() -> PathBuf {
    std::env::var_os("KATA_TARGET_DIR")
        .map_or_else(|| manifest::root().join("target/kata"), PathBuf::from)
}

pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(manifest::root())
        .env("CARGO_TARGET_DIR", target_dir());
    cmd
}

/// Compiler output names files by absolute path on this machine; show them from the repository.
pub fn clean_paths(text: &str) -> String {
    let root = manifest::root();
    let home = std::env::var("HOME").unwrap_or_default();
    let mut text = text.replace(&format!("{}/", root.display()), "");
    if !home.is_empty() {
        text = text.replace(&home, "~");
    }
    text
}
