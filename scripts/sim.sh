#!/usr/bin/env bash
# The deterministic simulation (tests/src/sim.rs): leaders with leases, pauses past the lease,
# crashes, a tailing reader, random store faults, all from one seed; each run is checked
# against protocol.md's invariants.
#
#   scripts/sim.sh [SEEDS]     seeds 1..SEEDS (default 300); ends with "N of M seeds passed"
#   scripts/sim.sh --seed N    replays seed N exactly and prints its history
#
# Exits non-zero naming the first failing seed.
set -euo pipefail
cd "$(dirname "$0")/.."
# The debug build: scripts/test.sh has built it already; time is simulated, so it is quick.
cargo build -q -p wormlog-tests --bin sim
exec target/debug/sim "${@:-300}"
