//! `.kata/progress.json`: which topics the learner finished, against which version of their
//! tests. Written atomically; a corrupt file is set aside and rebuilt, never fatal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::manifest::{self, Topic};

#[derive(Serialize, Deserialize, Default, Debug)]
pub struct Progress {
    /// Topic id -> the fingerprint of the tests it passed.
    pub done: BTreeMap<String, String>,
}

fn path() -> PathBuf {
    kata_testkit::services::state_dir().join("progress.json")
}

impl Progress {
    pub fn load() -> Progress {
        let path = path();
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Progress::default();
        };
        match serde_json::from_str(&text) {
            Ok(progress) => progress,
            Err(e) => {
                let aside = path.with_extension("json.corrupt");
                let _ = std::fs::rename(&path, &aside);
                eprintln!(
                    "kata: {} was unreadable ({e}); kept it as {} and starting a fresh record. \
                     `cargo xtask verify --all` re-checks every topic.",
                    path.display(),
                    aside.display()
                );
                Progress::default()
            }
        }
    }

    pub fn save(&self) -> Result<()> {
        let path = path();
        std::fs::create_dir_all(path.parent().expect("in .kata"))?;
        let temporary = path.with_extension(format!("json.{}", std::process::id()));
        std::fs::write(&temporary, serde_json::to_string_pretty(self)?)?;
        std::fs::rename(&temporary, &path)?;
        Ok(())
    }

    /// Done, and against the tests as they are now (a changed test makes it stale).
    pub fn is_done(&self, topic: &Topic) -> bool {
        self.done
            .get(&topic.id)
            .is_some_and(|f| *f == fingerprint(topic))
    }

    pub fn is_stale(&self, topic: &Topic) -> bool {
        self.done.contains_key(&topic.id) && !self.is_done(topic)
    }

    pub fn record(&mut self, topic: &Topic, passed: bool) {
        if passed {
            self.done.insert(topic.id.clone(), fingerprint(topic));
        } else {
            self.done.remove(&topic.id);
        }
    }
}

/// SHA-256 over what decides a topic's verdict besides the learner's code (names and
/// contents): its hidden test files and testkit's sources, the helpers those tests run.
pub fn fingerprint(topic: &Topic) -> String {
    let root = manifest::root();
    let mut files = manifest::test_files(topic);
    files.extend(manifest::testkit_files(&root));
    fingerprint_of(&root, &files)
}

fn fingerprint_of(root: &Path, files: &[PathBuf]) -> String {
    let mut hash = Sha256::new();
    for file in files {
        let name = file.strip_prefix(root).unwrap_or(file);
        hash.update(name.to_string_lossy().as_bytes());
        hash.update(std::fs::read(file).unwrap_or_default());
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn a_change_in_testkit_makes_a_recorded_verdict_stale() {
        let root = std::env::temp_dir().join(format!("kata-fingerprint-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("testkit/src")).expect("a scratch testkit");
        fs::create_dir_all(root.join("exercises/01_x/tests")).expect("a scratch topic");
        let test = root.join("exercises/01_x/tests/x.rs");
        for (file, text) in [
            (root.join("testkit/Cargo.toml"), "[package]"),
            (root.join("testkit/src/lib.rs"), "pub mod http;"),
            (root.join("testkit/src/http.rs"), "pub fn send() {}"),
            (test.clone(), "#[test] fn t() {}"),
        ] {
            fs::write(file, text).expect("a scratch file");
        }
        let fingerprint = || {
            let mut files = vec![test.clone()];
            files.extend(manifest::testkit_files(&root));
            fingerprint_of(&root, &files)
        };

        let recorded = fingerprint();
        let same = fingerprint();
        fs::write(
            root.join("testkit/src/http.rs"),
            "pub fn send() { todo!() }",
        )
        .expect("edit");
        let after_edit = fingerprint();
        fs::write(root.join("testkit/src/race.rs"), "").expect("a new module");
        let after_new_module = fingerprint();
        let _ = fs::remove_dir_all(&root);

        assert_eq!(
            recorded, same,
            "the same files must give the same fingerprint"
        );
        assert_ne!(
            recorded, after_edit,
            "an edited testkit source must change it"
        );
        assert_ne!(
            after_edit, after_new_module,
            "a new testkit source must change it"
        );
    }
}
