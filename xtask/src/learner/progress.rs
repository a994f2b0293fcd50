//! `.kata/progress.json`: which topics the learner finished, against which version of their
//! tests. Written atomically; a corrupt file is set aside and rebuilt, never fatal.

use std::collections::BTreeMap;
use std::path::PathBuf;

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

/// SHA-256 over the topic's hidden test files (names and contents).
pub fn fingerprint(topic: &Topic) -> String {
    let mut hash = Sha256::new();
    for file in manifest::test_files(topic) {
        hash.update(
            file.strip_prefix(manifest::root())
                .unwrap_or(&file)
                .to_string_lossy()
                .as_bytes(),
        );
        hash.update(std::fs::read(&file).unwrap_or_default());
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
