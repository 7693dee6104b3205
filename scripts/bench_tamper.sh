#!/usr/bin/env bash
# Tamper evidence, side by side (called by scripts/bench.sh; `scripts/bench.sh --tamper` runs
# this section alone and writes it into docs/benchmarks.md):
#   append CPU   taskset -c 0 wormlog bench on MemoryStore, 256 B events, --in-flight 1,
#                without and with --checkpoint-key, alternating, ROUNDS rounds each; and
#                the same on Ceph RGW when a STORE is given (the client's own CPU)
#   verify       a directory store of 1,000,000 events of 256 B in a temporary directory,
#                one checkpoint, then `verify` and `verify --key` alternating on one core
#                (taskset -c 0), ROUNDS rounds; the directory is deleted after
#   proof        the Criterion bench's inclusion proof over ten million leaves from tiles:
#                hashes in the proof, tiles read
#
#   scripts/bench_tamper.sh BIN RAW_DIR [STORE] [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$1 RAW=$2
STORE=${3:-}
QUICK=0
[[ "${*: -1}" == "--quick" ]] && QUICK=1
[[ "$STORE" == "--quick" ]] && STORE=""
ROUNDS=$(( QUICK ? 2 : 5 ))
EVENTS=$(( QUICK ? 200000 : 1000000 ))
say() { printf '\n== %s\n' "$*" >&2; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$BIN" keygen --name bench.example/tamper --out "$WORK/key" >/dev/null 2>&1

for round in $(seq 1 "$ROUNDS"); do
  say "append CPU, MemoryStore, one core, round $round of $ROUNDS: plain, then signing checkpoints"
  taskset -c 0 "$BIN" --store mem:// bench --events "$EVENTS" --event-bytes 256 --in-flight 1 --json >"$RAW/tamper-mem-plain-$round.json"
  taskset -c 0 "$BIN" --store mem:// bench --events "$EVENTS" --event-bytes 256 --in-flight 1 --checkpoint-key "$WORK/key" --json >"$RAW/tamper-mem-signed-$round.json"
done
rm -f "$RAW"/tamper-rgw-*.json
if [[ -n "$STORE" ]]; then
  RGW_EVENTS=$(( QUICK ? 50000 : 300000 ))
  for round in $(seq 1 "$(( ROUNDS < 3 ? ROUNDS : 3 ))"); do
    say "append CPU, Ceph RGW, round $round: plain, then signing checkpoints ($RGW_EVENTS events)"
    "$BIN" --store "$STORE" bench --events "$RGW_EVENTS" --event-bytes 256 --in-flight 1 --json >"$RAW/tamper-rgw-plain-$round.json"
    "$BIN" --store "$STORE" bench --events "$RGW_EVENTS" --event-bytes 256 --in-flight 1 --checkpoint-key "$WORK/key" --json >"$RAW/tamper-rgw-signed-$round.json"
  done
fi

say "verify --key: a directory store of $EVENTS events of 256 B"
DIR="$WORK/store"
"$BIN" --store "$DIR" bench --events "$EVENTS" --event-bytes 256 --json >/dev/null
STREAM=$(ls "$DIR/objects" | grep -v -- '-idle$' | head -1)
"$BIN" --store "$DIR" --stream "$STREAM" checkpoint --key "$WORK/key" >&2
python3 - "$BIN" "$DIR" "$STREAM" "$WORK/key.pub" "$ROUNDS" >"$RAW/tamper-verify.json" <<'PY'
import json, os, resource, subprocess, sys, time
bin, store, stream, pub, rounds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
log = os.path.join(store, "objects", stream, "log")
segment_bytes = sum(os.path.getsize(os.path.join(log, f)) for f in os.listdir(log))
def run(extra):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(["taskset", "-c", "0", bin, "--store", store, "--stream", stream, "verify", *extra],
                   check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.perf_counter() - t, cpu
out = {"segment_bytes": segment_bytes, "plain": [], "key": []}
for _ in range(rounds):
    out["plain"].append(run([]))
    out["key"].append(run(["--key", pub]))
json.dump(out, sys.stdout)
PY

say "inclusion proof over ten million leaves (Criterion bench tlog_proof)"
cargo bench -q -p wormlog-benches --bench tlog -- tlog_proof --warm-up-time 1 --measurement-time 2 2>&1 \
  | grep -E "^tlog: inclusion proof" >"$RAW/tamper-proof.txt" || true
cat "$RAW/tamper-proof.txt" >&2
