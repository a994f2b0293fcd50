//! `exercises/katas.toml`: the ordered list of topics, the single source of truth.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    /// `NN_name`: the directory under `exercises/` and `solutions/`.
    pub id: String,
    pub title: String,
    pub weight: u32,
    #[serde(default)]
    pub services: Vec<Service>,
    /// Optional shares of `weight` per test (`[topic.test_weights]`, test name = share); tests
    /// not named get a share of 1. See `grade` for how points are computed.
    #[serde(default)]
    pub test_weights: BTreeMap<String, u32>,
    /// Base images the engine tests build from (`services = ["docker"]`), as
    /// `VARIABLE=default` (the tests read the same variable): when the engine cannot get
    /// them, those tests are reported as not graded.
    #[serde(default)]
    pub images: Vec<String>,
    /// When Gradescope shows this topic's tests to the student (`visibility = "after_due_date"`
    /// withholds their names, scores and messages until the due date has passed).
    #[serde(default)]
    pub visibility: Visibility,
    /// An external acceptance suite the topic's server is also graded by (`acceptance =
    /// "realworld"`: the capstone's `conduit` binary against the RealWorld Hurl suite).
    #[serde(default)]
    pub acceptance: Option<Acceptance>,
}

/// Gradescope's visibility of a test, as its autograder specification spells it.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    #[default]
    Visible,
    /// Never shown to students (Gradescope: for tests worth no points).
    Hidden,
    AfterDueDate,
    /// Shown once the instructor publishes the grades.
    AfterPublished,
}

impl Visibility {
    pub fn is_visible(&self) -> bool {
        *self == Visibility::Visible
    }
}

/// An external acceptance suite (`acceptance = "..."` in the manifest).
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Acceptance {
    /// The RealWorld API suite against the topic's `conduit` server.
    Realworld,
}

impl Acceptance {
    /// The binary the learner's crate builds for the suite.
    pub fn server(self) -> &'static str {
        match self {
            Acceptance::Realworld => "conduit",
        }
    }
    /// The same binary of the topic's reference solution.
    pub fn solution_server(self) -> &'static str {
        match self {
            Acceptance::Realworld => "conduit-solution",
        }
    }
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Postgres,
    Redis,
    /// A Docker engine that can build images (not a server the runner starts).
    Docker,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    topic: Vec<Topic>,
}

impl Topic {
    /// The crate's name: the id without its number.
    pub fn name(&self) -> &str {
        self.id.split_once('_').map_or(&self.id, |(_, name)| name)
    }
    pub fn exercise_dir(&self) -> PathBuf {
        root().join("exercises").join(&self.id)
    }
    pub fn solution_dir(&self) -> PathBuf {
        root().join("solutions").join(&self.id)
    }
    pub fn solution_package(&self) -> String {
        format!("{}_solution", self.name())
    }
}

/// The servers a set of topics needs, each once.
pub fn services_needed(topics: &[&Topic]) -> Vec<Service> {
    [Service::Postgres, Service::Redis]
        .into_iter()
        .filter(|s| topics.iter().any(|t| t.services.contains(s)))
        .collect()
}

/// The repository root.
pub fn root() -> PathBuf {
    kata_testkit::services::workspace_root()
}

pub fn load() -> Result<Vec<Topic>> {
    load_from(&root())
}

/// The manifest of the repository at `root` (grading reads other checkouts and scratch copies).
pub fn load_from(root: &Path) -> Result<Vec<Topic>> {
    let path = root.join("exercises/katas.toml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("Failed to read {}", path.display()))?;
    let file: File = toml::from_str(&text)
        .with_context(|| format!("{} is not a valid manifest", path.display()))?;
    Ok(file.topic)
}

/// The topic whose server an acceptance suite judges (`acceptance = ...`): the capstone.
pub fn with_acceptance(topics: &[Topic], suite: Acceptance) -> Result<&Topic> {
    topics
        .iter()
        .find(|t| t.acceptance == Some(suite))
        .with_context(|| format!("exercises/katas.toml has no topic with acceptance = {suite:?}"))
}

/// Finds a topic by id (`11_transfer`), name (`transfer`) or number (`11`).
pub fn find<'a>(topics: &'a [Topic], wanted: &str) -> Result<&'a Topic> {
    let found = topics
        .iter()
        .find(|t| t.id == wanted || t.name() == wanted || t.id.split('_').next() == Some(wanted));
    match found {
        Some(topic) => Ok(topic),
        None => bail!(
            "There is no topic {wanted:?}. Run `cargo xtask list` to see them all; topics are named like {:?}.",
            topics.first().map_or("transfer", |t| t.name())
        ),
    }
}

/// Files that make up a topic's hidden tests (everything but the learner's code and prose).
pub fn test_files(topic: &Topic) -> Vec<PathBuf> {
    let mut files = Vec::new();
    collect(&topic.exercise_dir(), &mut files);
    files.retain(|p| {
        let rel = p.strip_prefix(topic.exercise_dir()).unwrap_or(p);
        !rel.starts_with("src") && !matches!(rel.to_str(), Some("README.md" | "hint.md"))
    });
    files.sort();
    files
}

/// The test-support crate every hidden test uses (`testkit/`: its manifest and sources, sorted):
/// a change there can change any topic's verdict.
pub fn testkit_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("testkit/Cargo.toml")];
    collect(&root.join("testkit/src"), &mut files);
    files.sort();
    files
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}
