//! The static rules, read from `src/Dockerfile` and `src/Dockerfile.dockerignore`. Each returns
//! `Err` with a sentence that names the rule and, where there is one, the line.

use std::collections::HashMap;

use super::dockerfile::{
    DockerIgnore, Dockerfile, Stage, exec_form, name_and_tag, shell_commands, substitute,
};

pub const BINARY: &str = "kata-service";
pub const PACKAGE: &str = "docker";
/// The crate's place in the build context (the repository root).
pub const CRATE_PATH: &str = "exercises/25_docker";

type Rule = Result<(), String>;

fn final_stage<'a>(df: &'a Dockerfile, rule: &str) -> Result<&'a Stage, String> {
    df.stages.last().ok_or_else(|| {
        format!(
            "rule `{rule}`: src/Dockerfile has no FROM instruction yet, so no stage at all: \
             start with `FROM <rust image> AS build`"
        )
    })
}

/// The ARG values visible in a stage: its own over the global defaults.
fn known_args(df: &Dockerfile, stage: &Stage) -> HashMap<String, String> {
    let mut known = df.global_args.clone();
    known.extend(stage.args.clone());
    known
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

pub fn multi_stage(df: &Dockerfile) -> Rule {
    let last = final_stage(df, "multi-stage")?;
    if df.stages.len() < 2 {
        return Err(format!(
            "rule `multi-stage`: expected at least two stages (a build stage `FROM <rust image> AS \
             build` and a small runtime stage), but the only FROM is at line {}: the toolchain, \
             the sources and target/ all ship in the image",
            last.line
        ));
    }
    for stage in &df.stages[..df.stages.len() - 1] {
        if stage.name.is_none() {
            return Err(format!(
                "rule `multi-stage`: line {}: the stage `FROM {}` has no name: write `FROM {} AS \
                 build` so the runtime stage can `COPY --from=build`",
                stage.line, stage.base, stage.base
            ));
        }
    }
    Ok(())
}

/// `cargo build` invocations in a stage: (line, the command's words after `build`).
fn cargo_builds(df: &Dockerfile, stage: &Stage) -> Vec<(usize, Vec<String>)> {
    let known = known_args(df, stage);
    let mut builds = Vec::new();
    for run in stage.all("RUN") {
        let (_, command) = run.flags();
        for words in shell_commands(&substitute(command, &known)) {
            let Some(at) = words
                .iter()
                .position(|w| w == "cargo" || w.ends_with("/cargo"))
            else {
                continue;
            };
            let mut rest = words[at + 1..].iter().skip_while(|w| w.starts_with('+'));
            if rest.next().map(String::as_str) == Some("build") {
                builds.push((run.line, rest.cloned().collect()));
            }
        }
    }
    builds
}

fn has_option(args: &[String], short: Option<&str>, long: &str, value: &str) -> bool {
    args.iter().enumerate().any(|(i, a)| {
        let next = args.get(i + 1).map(String::as_str);
        let is = |flag: &str| {
            (a == flag && next == Some(value))
                || *a == format!("{flag}={value}")
                || (flag.len() == 2 && *a == format!("{flag}{value}"))
        };
        is(long) || short.is_some_and(is)
    })
}

pub fn locked_release_build(df: &Dockerfile) -> Rule {
    let last = final_stage(df, "locked release build")?;
    let builds: Vec<(usize, Vec<String>)> = df.stages[..last.index]
        .iter()
        .flat_map(|stage| cargo_builds(df, stage))
        .collect();
    let Some(first) = builds.first() else {
        return Err(format!(
            "rule `locked release build`: no stage before the final one runs `cargo build`: \
             expected `RUN cargo build --release --locked -p {PACKAGE} --bin {BINARY}` in the \
             build stage"
        ));
    };
    let missing = |args: &[String]| {
        let mut missing = Vec::new();
        if !(args.iter().any(|a| a == "--release" || a == "-r")
            || has_option(args, None, "--profile", "release"))
        {
            missing.push("--release (a debug build is several times slower and larger)");
        }
        if !args.iter().any(|a| a == "--locked" || a == "--frozen") {
            missing.push(
                "--locked (without it cargo may resolve newer versions than Cargo.lock pins, \
                 so the image is not the build you tested)",
            );
        }
        if !has_option(args, Some("-p"), "--package", PACKAGE) {
            missing.push("-p docker (the workspace has many packages; build this kata's)");
        }
        missing
    };
    if builds.iter().any(|(_, args)| missing(args).is_empty()) {
        return Ok(());
    }
    Err(format!(
        "rule `locked release build`: line {}: `cargo build {}` lacks {}",
        first.0,
        first.1.join(" "),
        missing(&first.1).join("; and ")
    ))
}

/// The runtime images the rule accepts: small, and none of them carries a compiler.
pub fn small_image(reference: &str) -> bool {
    let (name, tag) = name_and_tag(reference);
    if name.contains("rust") || name.contains("cargo") {
        return false;
    }
    name == "scratch"
        || name == "alpine"
        || name.starts_with("gcr.io/distroless/")
        || name.starts_with("cgr.dev/chainguard/")
        || (name == "debian" && tag.ends_with("-slim"))
}

pub fn small_runtime_image(df: &Dockerfile) -> Rule {
    let last = final_stage(df, "small runtime image")?;
    let image = df.root_image(last);
    if image.contains('$') {
        return Err(format!(
            "rule `small runtime image`: line {}: the final stage starts FROM `{image}`, an ARG \
             without a default: give it one (`ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot`)",
            last.line
        ));
    }
    if small_image(&image) {
        return Ok(());
    }
    Err(format!(
        "rule `small runtime image`: line {}: the final stage runs on `{image}`; expected a small \
         image without the Rust toolchain: debian:<release>-slim, gcr.io/distroless/*, \
         cgr.dev/chainguard/* (not its rust image), alpine or scratch",
        last.line
    ))
}

pub fn copies_only_the_binary(df: &Dockerfile) -> Rule {
    let last = final_stage(df, "copy only the binary")?;
    let mut copied = false;
    for copy in last
        .instructions
        .iter()
        .filter(|i| i.keyword == "COPY" || i.keyword == "ADD")
    {
        let line = copy.line;
        if copy.keyword == "ADD" {
            return Err(format!(
                "rule `copy only the binary`: line {line}: ADD in the final stage; the runtime \
                 image needs only the binary: `COPY --from=build /app/target/release/{BINARY} ...`"
            ));
        }
        let (_, rest) = copy.flags();
        let Some(from) = copy.flag("from") else {
            return Err(format!(
                "rule `copy only the binary`: line {line}: `COPY {}` copies from the build \
                 context into the final stage; copy only the binary, --from the build stage",
                copy.args
            ));
        };
        if df.stage_ref(&from, last.index).is_none() {
            return Err(format!(
                "rule `copy only the binary`: line {line}: --from={from} is not an earlier stage \
                 of this Dockerfile"
            ));
        }
        let words = exec_form(rest)
            .unwrap_or_else(|| rest.split_whitespace().map(str::to_string).collect());
        for source in words.iter().take(words.len().saturating_sub(1)) {
            if source.ends_with('/') || file_name(source) != BINARY || source.contains("/debug/") {
                return Err(format!(
                    "rule `copy only the binary`: line {line}: copies `{source}` from stage \
                     `{from}`; copy only the release binary (`/app/target/release/{BINARY}`), not \
                     a directory, the sources or a debug build"
                ));
            }
        }
        copied = true;
    }
    if copied {
        Ok(())
    } else {
        Err(format!(
            "rule `copy only the binary`: the final stage ({}) never copies `{BINARY}` --from \
             the build stage",
            last.label()
        ))
    }
}

pub fn non_root_user(df: &Dockerfile) -> Rule {
    let last = final_stage(df, "non-root user")?;
    let Some(user) = last.last("USER") else {
        return Err(format!(
            "rule `non-root user`: the final stage ({}) has no USER instruction, so the service \
             runs as root (uid 0): a bug in it is a bug with root's powers in the container; add \
             `USER 65532:65532` (distroless' `nonroot`) or another unprivileged account",
            last.label()
        ));
    };
    let value = substitute(&user.args, &known_args(df, last));
    let name = value.split(':').next().unwrap_or_default().trim();
    if name.contains('$') || name.is_empty() {
        return Err(format!(
            "rule `non-root user`: line {}: cannot tell who `USER {}` is: give its ARG a default",
            user.line, user.args
        ));
    }
    if name == "root" || name.parse::<u64>() == Ok(0) {
        return Err(format!(
            "rule `non-root user`: line {}: `USER {value}` is root; expected an unprivileged \
             user such as `USER 65532:65532`",
            user.line
        ));
    }
    Ok(())
}

pub fn healthcheck(df: &Dockerfile) -> Rule {
    let last = final_stage(df, "healthcheck")?;
    let Some(check) = last.last("HEALTHCHECK") else {
        return Err(format!(
            "rule `healthcheck`: the final stage ({}) has no HEALTHCHECK, so Docker reports the \
             container as running even when the service is stuck; add `HEALTHCHECK CMD \
             [\"/usr/local/bin/{BINARY}\", \"healthcheck\"]`",
            last.label()
        ));
    };
    let line = check.line;
    let (_, rest) = check.flags();
    let Some(command) = rest
        .get(..3)
        .filter(|w| w.eq_ignore_ascii_case("cmd"))
        .map(|_| &rest[3..])
    else {
        return Err(format!(
            "rule `healthcheck`: line {line}: `HEALTHCHECK {}` does not run a check; expected \
             `HEALTHCHECK [--interval=...] CMD [\"/usr/local/bin/{BINARY}\", \"healthcheck\"]`",
            check.args
        ));
    };
    let Some(words) = exec_form(command) else {
        return Err(format!(
            "rule `healthcheck`: line {line}: the check `{}` is in shell form, which needs \
             /bin/sh (distroless and scratch have none); use the exec form \
             [\"/usr/local/bin/{BINARY}\", \"healthcheck\"]",
            command.trim()
        ));
    };
    let runs_probe = words.first().is_some_and(|w| file_name(w) == BINARY)
        && words.iter().any(|w| w == "healthcheck");
    if !runs_probe {
        return Err(format!(
            "rule `healthcheck`: line {line}: the check runs {words:?}; expected the service's \
             own probe, [\"/usr/local/bin/{BINARY}\", \"healthcheck\"] (the runtime image has \
             no curl or wget)"
        ));
    }
    Ok(())
}

pub fn exposes_8080(df: &Dockerfile) -> Rule {
    let last = final_stage(df, "expose")?;
    let exposed = last
        .all("EXPOSE")
        .flat_map(|e| e.args.split_whitespace())
        .any(|port| port == "8080" || port.eq_ignore_ascii_case("8080/tcp"));
    if exposed {
        Ok(())
    } else {
        Err(format!(
            "rule `expose`: the final stage ({}) does not `EXPOSE 8080`, the port kata-service \
             listens on by default",
            last.label()
        ))
    }
}

pub fn exec_form_start(df: &Dockerfile) -> Rule {
    let last = final_stage(df, "exec form")?;
    for start in last
        .instructions
        .iter()
        .filter(|i| i.keyword == "ENTRYPOINT" || i.keyword == "CMD")
    {
        if exec_form(&start.args).is_none() {
            return Err(format!(
                "rule `exec form`: line {}: `{} {}` is shell form: Docker runs `/bin/sh -c` as PID \
                 1, and `docker stop`'s SIGTERM never reaches the service (distroless has no \
                 /bin/sh at all); write `{} [\"/usr/local/bin/{BINARY}\"]`",
                start.line, start.keyword, start.args, start.keyword
            ));
        }
    }
    let program = |keyword| {
        last.last(keyword)
            .and_then(|i| exec_form(&i.args))
            .and_then(|words| words.into_iter().next())
    };
    match program("ENTRYPOINT").or_else(|| program("CMD")) {
        Some(program) if file_name(&program) == BINARY => Ok(()),
        Some(program) => Err(format!(
            "rule `exec form`: the final stage starts `{program}`; expected it to start \
             `{BINARY}` itself, as PID 1"
        )),
        None => Err(format!(
            "rule `exec form`: the final stage ({}) has no ENTRYPOINT or CMD; expected \
             `ENTRYPOINT [\"/usr/local/bin/{BINARY}\"]`",
            last.label()
        )),
    }
}

pub fn dockerignore(text: &str) -> Rule {
    let ignore = DockerIgnore::parse(text);
    let left_in: Vec<&str> = [
        ("target/release/kata-service", "target/"),
        (".git/HEAD", ".git/"),
        (".kata/progress.json", ".kata/"),
    ]
    .iter()
    .filter(|(path, _)| !ignore.excludes(path))
    .map(|(_, name)| *name)
    .collect();
    if !left_in.is_empty() {
        return Err(format!(
            "rule `dockerignore`: src/Dockerfile.dockerignore leaves {} in the build context: \
             gigabytes of build outputs, the repository's history and the runner's state are \
             sent to the engine on every build (and may end up in a layer)",
            left_in.join(", ")
        ));
    }
    for needed in [
        "Cargo.toml".to_string(),
        "Cargo.lock".to_string(),
        format!("{CRATE_PATH}/Cargo.toml"),
        format!("{CRATE_PATH}/src/main.rs"),
        format!("{CRATE_PATH}/src/lib.rs"),
    ] {
        if ignore.excludes(&needed) {
            return Err(format!(
                "rule `dockerignore`: src/Dockerfile.dockerignore leaves out {needed}, which \
                 `cargo build --locked -p {PACKAGE}` needs"
            ));
        }
    }
    Ok(())
}
