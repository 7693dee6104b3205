#!/usr/bin/env bash
# Runs every wormlog test: formatting, lints, unit and integration tests on every store the
# project has (memory and directory today), real-process tests, and the Criterion benches in
# test mode. On a fresh machine it installs what it needs (cargo-nextest).
#
# Usage: scripts/test.sh            (CI=true makes a missing prerequisite a failure)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

if ! command -v cargo >/dev/null 2>&1; then
  echo "scripts/test.sh: cargo is not installed; install Rust (rustup) first" >&2
  exit 1
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  say "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

say "Criterion benches, each run once as a test"
cargo test -q -p wormlog-benches --benches

say "tests (memory and directory stores, writer protocol, reader rules, CLI, processes)"
cargo nextest run --workspace --all-features
