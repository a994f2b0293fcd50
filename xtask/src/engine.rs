//! Topics whose tests need a Docker engine that can build images (`services = ["docker"]`):
//! those tests are `#[ignore]`d in the code and run only when the engine can build here. Where
//! it cannot, they are reported as "not graded" with the reason, never as passed.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::manifest::{Service, Topic};
use crate::servers;

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
    for image in &topic.images {
        let image = std::env::var(image_override(image)).unwrap_or_else(|_| image.clone());
        if !present(&image) && !pull(&image) {
            return Err(format!(
                "the engine cannot get the base image {image} (no registry reachable?)"
            ));
        }
    }
    Ok(())
}

/// `rust:1.95-slim` can be replaced with a local image through `KATA_DOCKER_IMAGE_RUST`.
pub fn image_override(image: &str) -> String {
    let name = image.rsplit('/').next().unwrap_or(image);
    let name = name.split([':', '@']).next().unwrap_or(name);
    format!(
        "KATA_DOCKER_IMAGE_{}",
        name.to_uppercase().replace(['-', '.'], "_")
    )
}

fn present(image: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", image])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn pull(image: &str) -> bool {
    let Ok(mut child) = Command::new("docker")
        .args(["pull", "--quiet", image])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let deadline = Instant::now() + PULL_LIMIT;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status.success();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_images_map_to_override_variables() {
        assert_eq!(
            image_override("rust:1.95-slim-bookworm"),
            "KATA_DOCKER_IMAGE_RUST"
        );
        assert_eq!(
            image_override("gcr.io/distroless/cc-debian12:nonroot"),
            "KATA_DOCKER_IMAGE_CC_DEBIAN12"
        );
    }
}
