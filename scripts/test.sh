#!/usr/bin/env bash
# Runs every wormlog test: formatting, lints, unit and integration tests on every store
# (memory, directory, and S3Store on a local Ceph RGW and a local moto server), real-process
# tests, the Criterion benches in test mode, and the Python package's pytest suite. On a
# fresh machine it installs what it needs: cargo-nextest, Debian's radosgw/ceph-mon/ceph-osd
# and prometheus, PyPI's moto[server], maturin (as the package's build backend) and pytest.
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

say "the Python package: pip install ./crates/wormlog-py (maturin, a dev build), then pytest on the directory store and moto"
# A dev-profile wheel reuses the dependencies the test runs above already compiled: about a
# minute instead of a ten-minute release build, and the suite runs as fast (it waits on the
# servers, not on CPU). Users' `pip install` and scripts/bench_python.sh build release.
# pipefail: a failed build fails the run (grep's own status, nothing left to print, does not).
MATURIN_PEP517_ARGS="--profile dev" python3 -m pip install -q --disable-pip-version-check ./crates/wormlog-py "pytest>=7" 2>&1 | { grep -v 'as the .root. user' >&2 || true; }
python3 -c 'import wormlog' || { echo "scripts/test.sh: the wormlog Python package did not install" >&2; exit 1; }
(
  eval "$(scripts/moto.sh env)"
  export WORMLOG_MOTO_ENDPOINT AWS_ACCESS_KEY_ID="$WORMLOG_MOTO_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$WORMLOG_MOTO_SECRET_KEY"
  python3 -m pytest -q -p no:cacheprovider crates/wormlog-py/tests
)
