//! Topics whose tests need a Docker engine that can build images (`services = ["docker"]`):
//! those tests are `#[ignore]`d in the code and run only when the engine can build here. Where
//! it cannot, they are reported as "not graded" with the reason, never as passed.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use crate::manifest::{Service, Topic};
use crate::process;
use crate::services::servers;

/// How long pulling one base image may take before the engine counts as unable to build.
const PULL_LIMIT: Duration = Duration::from_secs(120);

/// Whether `topic`'s engine tests run here: `Ok` to include them, `Err(reason)` to report
/// them as not graded. Decided once per topic and run.
pub fn usable(topic: &Topic) -> Result<(), String> {
    static DECIDED: Mutex<BTreeMap<String, Result<(), String>>> = Mutex::new(BTreeMap::new());
    if !topic.services.contains(&Service::Docker) {
        return Err("this topic has no engine tests".into());
    }
    let mut decided = DECIDED.lock().unwrap_or_else(|e| e.into_inner());
    decided
        .entry(topic.id.clone())
        .or_insert_with(|| decide(topic))
        .clone()
}

fn decide(topic: &Topic) -> Result<(), String> {
    if !servers::docker_answers() {
        return Err("no Docker engine answers (start Docker to grade the image)".into());
    }
    // The tests build with BuildKit (a Dockerfile-specific .dockerignore needs it).
    if !process::succeeds(Command::new("docker").args(["buildx", "version"])) {
        return Err("the Docker client has no BuildKit builder (install docker-buildx)".into());
    }
    for entry in &topic.images {
        let image = resolve(entry);
        if !present(&image) && !pull(&image) {
            return Err(format!(
                "the engine cannot get the base image {image} (no registry reachable?)"
            ));
        }
    }
    Ok(())
}

/// A manifest entry is `VARIABLE=default image`: the tests read the same variable, so a
/// local mirror of the image can stand in for the default.
fn resolve(entry: &str) -> String {
    match entry.split_once('=') {
        Some((variable, default)) => std::env::var(variable).unwrap_or_else(|_| default.into()),
        None => entry.to_string(),
    }
}

fn present(image: &str) -> bool {
    process::succeeds(Command::new("docker").args(["image", "inspect", image]))
}

fn pull(image: &str) -> bool {
    process::succeeds_within(
        Command::new("docker").args(["pull", "--quiet", image]),
        PULL_LIMIT,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_entry_is_a_variable_and_its_default() {
        assert_eq!(
            resolve("KATA_TEST_UNSET_IMAGE_VARIABLE=rust:1.95-slim-bookworm"),
            "rust:1.95-slim-bookworm"
        );
        assert_eq!(resolve("alpine:3.20"), "alpine:3.20");
    }
}
