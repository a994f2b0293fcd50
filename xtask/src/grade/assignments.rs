//! `exercises/assignments.toml`: sets of topics handed out and graded as one unit.
//!
//! ```toml
//! [[assignment]]
//! name = "week-2-data"                  # what `--assignment` takes
//! title = "Week 2: data"
//! due = "2026-12-07T23:59:00+01:00"     # optional, RFC 3339 with an offset
//! topics = ["11_transfer", "20_cache_aside"]   # ids, names or numbers of katas.toml
//! [assignment.weights]                  # optional: points per topic instead of its weight
//! "11_transfer" = 20
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::grade::report::AssignmentInfo;
use crate::manifest::{self, Topic};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    assignment: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    title: String,
    #[serde(default)]
    due: Option<String>,
    topics: Vec<String>,
    #[serde(default)]
    weights: BTreeMap<String, u32>,
}

/// An assignment with its topics resolved to ids and their points.
pub struct Assignment {
    pub name: String,
    pub title: String,
    pub due: Option<jiff::Timestamp>,
    pub topics: Vec<(String, f64)>,
}

impl Assignment {
    /// The report's view, with lateness judged from the commit time.
    pub fn info(&self, commit_time: Option<&str>) -> AssignmentInfo {
        let committed = commit_time.and_then(|t| t.parse::<jiff::Timestamp>().ok());
        AssignmentInfo {
            name: self.name.clone(),
            title: self.title.clone(),
            due: self.due.map(|d| d.to_string()),
            late: self.due.zip(committed).map(|(due, at)| at > due),
        }
    }
}

/// Reads the file, checks every assignment against the manifest, and returns the one named.
pub fn find(root: &Path, topics: &[Topic], name: &str) -> Result<Assignment> {
    let all = load(root, topics)?;
    let names: Vec<String> = all.iter().map(|a| a.name.clone()).collect();
    all.into_iter().find(|a| a.name == name).with_context(|| {
        format!(
            "There is no assignment {name:?} in exercises/assignments.toml; there are: {}.",
            names.join(", ")
        )
    })
}

pub fn load(root: &Path, topics: &[Topic]) -> Result<Vec<Assignment>> {
    let path = root.join("exercises/assignments.toml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("Failed to read {}", path.display()))?;
    let file: File = toml::from_str(&text)
        .with_context(|| format!("{} is not a valid assignments file", path.display()))?;
    file.assignment
        .into_iter()
        .map(|entry| resolve(entry, topics))
        .collect::<Result<_>>()
        .with_context(|| format!("{} does not match exercises/katas.toml", path.display()))
}

fn resolve(entry: Entry, topics: &[Topic]) -> Result<Assignment> {
    let name = &entry.name;
    let unknown = |wanted: &str| {
        let known: Vec<&str> = topics.iter().map(|t| t.id.as_str()).collect();
        anyhow::anyhow!(
            "assignment {name:?} names the topic {wanted:?}, which is not in exercises/katas.toml (topics: {}). Fix the name, or add the topic to katas.toml.",
            known.join(", ")
        )
    };
    if entry.topics.is_empty() {
        bail!("assignment {name:?} names no topic");
    }
    let mut resolved: Vec<(String, f64)> = Vec::new();
    for wanted in &entry.topics {
        let topic = manifest::find(topics, wanted).map_err(|_| unknown(wanted))?;
        if resolved.iter().any(|(id, _)| id == &topic.id) {
            bail!("assignment {name:?} names the topic {} twice", topic.id);
        }
        resolved.push((topic.id.clone(), f64::from(topic.weight)));
    }
    for (wanted, weight) in &entry.weights {
        let topic = manifest::find(topics, wanted).map_err(|_| unknown(wanted))?;
        let Some(slot) = resolved.iter_mut().find(|(id, _)| id == &topic.id) else {
            bail!(
                "assignment {name:?} gives a weight to {}, which is not among its topics",
                topic.id
            );
        };
        slot.1 = f64::from(*weight);
    }
    let due = entry
        .due
        .as_deref()
        .map(|d| {
            d.parse::<jiff::Timestamp>().with_context(|| {
                format!(
                    "assignment {name:?}: due {d:?} is not an RFC 3339 time with an offset (like 2026-12-07T23:59:00+01:00)"
                )
            })
        })
        .transpose()?;
    Ok(Assignment {
        name: entry.name,
        title: entry.title,
        due,
        topics: resolved,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics() -> Vec<Topic> {
        let text = "[[topic]]\nid = \"11_transfer\"\ntitle = \"T\"\nweight = 10\n[[topic]]\nid = \"16_jwt\"\ntitle = \"J\"\nweight = 5\n";
        #[derive(Deserialize)]
        struct F {
            topic: Vec<Topic>,
        }
        toml::from_str::<F>(text).expect("valid").topic
    }

    fn entry(topics: &[&str], weights: &[(&str, u32)]) -> Entry {
        Entry {
            name: "w".into(),
            title: "W".into(),
            due: Some("2026-12-07T23:59:00+01:00".into()),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            weights: weights.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }

    #[test]
    fn topics_resolve_by_name_and_weights_override() {
        let a = resolve(entry(&["transfer", "16"], &[("jwt", 20)]), &topics()).expect("valid");
        assert_eq!(
            a.topics,
            [
                ("11_transfer".to_string(), 10.0),
                ("16_jwt".to_string(), 20.0)
            ]
        );
        assert_eq!(a.info(Some("2026-12-08T00:00:00+01:00")).late, Some(true));
        assert_eq!(a.info(Some("2026-12-07T22:00:00Z")).late, Some(false));
    }

    #[test]
    fn the_repository_assignments_name_topics_of_the_manifest() {
        let root = manifest::root();
        let topics = manifest::load_from(&root).expect("exercises/katas.toml loads");
        if let Err(e) = load(&root, &topics) {
            panic!("{e:#}");
        }
    }

    #[test]
    fn an_unknown_topic_is_named_in_the_error() {
        let error = resolve(entry(&["transfer", "99_nope"], &[]), &topics())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("\"99_nope\""), "{error}");
        assert!(error.contains("11_transfer, 16_jwt"), "{error}");
    }
}
