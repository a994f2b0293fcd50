//! The runtime image must be able to run the binary: a binary built against glibc (every Debian
//! based `rust` image) does not start on an image without glibc. Read statically, like the
//! other rules, so that it is graded where no Docker engine runs too.

use super::dockerfile::{Dockerfile, Stage, name_and_tag};

type Rule = Result<(), String>;

/// The accepted runtime images that carry no glibc: nothing at all, musl, or only CA
/// certificates and time zones.
fn without_glibc(image: &str) -> bool {
    let (name, _) = name_and_tag(image);
    name == "scratch"
        || name == "alpine"
        || name.starts_with("gcr.io/distroless/static")
        || name == "cgr.dev/chainguard/static"
}

/// Does this stage build a binary that needs no glibc: on an Alpine (musl) image, for a musl
/// target, or with the C runtime linked in statically?
fn builds_without_glibc(df: &Dockerfile, stage: &Stage) -> bool {
    let (name, tag) = name_and_tag(&df.root_image(stage));
    let text = |i: &super::dockerfile::Instruction| i.args.to_ascii_lowercase();
    let musl = |text: &str| text.contains("musl") || text.contains("crt-static");
    name.contains("alpine")
        || tag.contains("alpine")
        || df
            .global_args
            .values()
            .any(|v| musl(&v.to_ascii_lowercase()))
        || stage.instructions.iter().any(|i| musl(&text(i)))
}

pub fn runtime_image_can_run_the_binary(df: &Dockerfile) -> Rule {
    let Some(last) = df.stages.last() else {
        return Err(
            "rule `runtime can run the binary`: src/Dockerfile has no FROM instruction yet"
                .to_string(),
        );
    };
    let image = df.root_image(last);
    if !without_glibc(&image) {
        return Ok(());
    }
    // A compatibility layer installed in the runtime stage (Alpine's gcompat) also does.
    let compat = last.instructions.iter().any(|i| {
        let args = i.args.to_ascii_lowercase();
        args.contains("gcompat") || args.contains("libc6-compat")
    });
    if compat
        || df.stages[..last.index]
            .iter()
            .any(|stage| builds_without_glibc(df, stage))
    {
        return Ok(());
    }
    Err(format!(
        "rule `runtime can run the binary`: line {}: the final stage runs on `{image}`, which has \
         no glibc, but the build stage builds a glibc binary (a Debian-based rust image, no musl \
         target, no `+crt-static`): the container cannot even start kata-service (\"no such file \
         or directory\"). Run it on gcr.io/distroless/cc-debian12 or debian:<release>-slim, or \
         build a static binary (rust:*-alpine, a *-musl target, or -C target-feature=+crt-static)",
        last.line
    ))
}
