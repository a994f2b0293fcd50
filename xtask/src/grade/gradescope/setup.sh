#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image (its Ubuntu base
# image). Written by `cargo xtask gradescope-bundle` for assignment @ASSIGNMENT@.
set -euo pipefail

export HOME="${HOME:-/root}"
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
export DEBIAN_FRONTEND=noninteractive

# git (the trusted commit below), a C toolchain for linking, curl for rustup, the Postgres
# and Redis servers (the runner starts them itself, on Unix sockets, for each submission), and
# what hurl's build needs (the capstone's acceptance suite; grading installs hurl itself).
apt-get update
apt-get install -y --no-install-recommends \
    ca-certificates curl git build-essential pkg-config postgresql redis-server \
    libcurl4-openssl-dev libxml2-dev libclang-dev

# Rust at the version rust-toolchain.toml pins.
curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
    sh -s -- -y --profile minimal --default-toolchain @TOOLCHAIN@
export PATH="$HOME/.cargo/bin:$PATH"

cd "$SOURCE"
cargo fetch --quiet
# The trusted commit: grading takes everything but exercises/*/src/** from it.
git init --quiet
git add -A
git -c user.name=autograder -c user.email=autograder@localhost commit --quiet -m "trusted copy"

# Build the runner, then the assignment's topics exactly as grading builds them (grading the
# stubs), so that each submission compiles only its own code.
cargo build --quiet --package xtask --target-dir target/kata
cargo xtask grade --root "$SOURCE" --base HEAD --assignment @ASSIGNMENT@ \
    --work-dir "$ROOT/work" --format json --output /tmp/warm-up.json ||
    echo "warm-up grading failed: each submission will build the stack from scratch"
