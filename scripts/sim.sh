#!/usr/bin/env bash
# The deterministic simulation (tests/sim): leaders with leases, pauses past the lease,
# crashes mid-request, stale and reused epochs, purges, snapshots and seeded store faults on
# one log; each run is checked against protocol.md's invariants. Builds without the AWS SDK.
#
#   scripts/sim.sh [SEEDS] [--profile NAME|all]   seeds 1..SEEDS (default 300) of a profile
#                                                 (default: all); one line per profile
#   scripts/sim.sh --seed N --profile NAME        replays seed N exactly, prints its history
#   scripts/sim.sh --profiles                     lists the profiles
#
# Thousands of seeds: scripts/sim.sh 5000 --profile heavy-put (about 6 s per 100 seeds).
# Exits non-zero naming the first failing seed and profile.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p wormlog-sim --bin sim
sim="${CARGO_TARGET_DIR:-target}/debug/sim"
case " $* " in
  *" --profile "*|*" --profiles "*) exec "$sim" "$@" ;;
  *) exec "$sim" "$@" --profile all ;;
esac
