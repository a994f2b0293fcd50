//! What the runner's own tests share: a tiny kata (`mini`: three functions, three tests) and
//! throwaway directories.
#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};

/// The mini kata's hidden tests.
pub const TESTS: &str = r#"use mini::*;

#[test]
fn adds() {
    assert_eq!(add(2, 3), 5);
}

#[test]
fn doubles() {
    assert_eq!(double(4), 8);
}

#[test]
fn greets() {
    assert_eq!(greet("Ann"), "Hello, Ann!");
}
"#;

/// The mini kata's correct solution.
pub const CORRECT: &str = r#"pub fn add(a: i32, b: i32) -> i32 {
    a + b
}
pub fn double(x: i32) -> i32 {
    x * 2
}
pub fn greet(name: &str) -> String {
    format!("Hello, {name}!")
}
"#;

/// A directory removed when the test is done.
pub struct Scratch(pub PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("create dir");
    std::fs::write(path, text).expect("write");
}
