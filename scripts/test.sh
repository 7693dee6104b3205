#!/usr/bin/env bash
# Runs every wormlog test: formatting, lints, unit and integration tests on every store
# (memory, directory, and S3Store on a local Ceph RGW and a local moto server), real-process
# tests, and the Criterion benches in test mode. On a fresh machine it installs what it needs:
# cargo-nextest, Debian's radosgw/ceph-mon/ceph-osd and prometheus, PyPI's moto[server].
#
# Usage: scripts/test.sh
# A server that cannot be started fails the run (never a skip), with its log printed.
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

# Nothing here may reach an instance metadata service: every server is on 127.0.0.1.
export AWS_EC2_METADATA_DISABLED=true

say "starting the real S3 servers (127.0.0.1 only)"
scripts/rgw.sh start
scripts/moto.sh start
say "installing Prometheus (Debian) for the metrics test; the test starts its own, on 127.0.0.1"
scripts/prometheus.sh install

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

say "Criterion benches, each run once as a test"
cargo test -q -p wormlog-benches --benches

say "examples/controller.rs: two controllers hand the lease over on one store"
ctl=$(mktemp -d)
cargo run -q -p wormlog --example controller -- --store "$ctl" --holder ctl-a --seconds 2 >"$ctl/a.log" &
ctl_a=$!
sleep 0.5
cargo run -q -p wormlog --example controller -- --store "$ctl" --holder ctl-b --seconds 3 >"$ctl/b.log"
wait "$ctl_a"
grep -q "leading with epoch" "$ctl/a.log" && grep -q "leading with epoch" "$ctl/b.log"
cargo run -q -p wormlog -- --store "$ctl" --stream controller cat >/dev/null   # the log reads back whole
rm -rf "$ctl"

say "deterministic simulation: 300 seeds of every fault profile, each checked against the invariants"
scripts/sim.sh 300 --profile all

say "the protocol suites again with a window of 8 (pipelined writers) on every store"
# The two-process split-brain races run pipelined here too, on RGW and moto.
WORMLOG_TEST_IN_FLIGHT=8 cargo nextest run -p wormlog-tests -p wormlog

say "tests: conformance, writer protocol and reader rules on memory, directory, Ceph RGW and moto; CLI; processes"
cargo nextest run --workspace --all-features
