#!/usr/bin/env bash
# Append and replay throughput against the store's own limits, side by side in one run, on a
# local Ceph RGW (scripts/rgw.sh), and on MemoryStore pinned to one core (run first, while
# the RGW daemons are idle). Writes
# docs/benchmarks.md (the table, the targets met or missed) and docs/benchmarks.png (events/s
# against event size).
#
#   scripts/bench.sh            the full run (a few minutes); RGW is restarted empty first
#                               and stopped at the end (up to 8 GiB of memory)
#   scripts/bench.sh --quick    fewer events, for a smoke test (docs written to $OUT_DIR)
#   scripts/bench.sh --pipelining   only the pipelining section (scripts/bench_pipelining.sh:
#                               RGW behind a delay relay, window 1 against window 8), written
#                               into the existing docs/benchmarks.md
#   scripts/bench.sh --python   only the Python package's section (scripts/bench_python.sh:
#                               append_many against the Rust library on MemoryStore, and
#                               per-event loops against boto3's put_object on moto)
#   scripts/bench.sh --tamper   only the tamper-evidence section (scripts/bench_tamper.sh: append
#                               CPU with and without signed checkpoints, verify --key), on
#                               MemoryStore, a directory store, and the running RGW if there
#                               is one (its bucket is deleted after), into docs/benchmarks.md
#
# The sections below the pipelining one measure one segment in flight (--in-flight 1), the
# serial writer, against serial baselines; the pipelining section measures window 8
# against window 1 and against raw PutObjects 8 in flight.
# For each event size, in this order, on one fresh bucket:
#   (c) wormlog bench --replay      append through a real writer, then replay vs raw GETs
#   (a) wormlog bench --mode raw-put --object-bytes <wormlog's mean segment size>
#                                   plain PutObjects of the same bytes, as many in flight as
#                                   the writer keeps (--in-flight): the ceiling
#   (b) wormlog bench --mode per-event   one create-only PUT per event: the naive log
# Then, on the same RGW:
#   documents   a 100 MB file: wormlog bench --mode document (one streamed PUT of the
#               attachment, then its event) against --mode document-put (one plain PutObject
#               of the same file), alternating, 7 rounds; and 3 rounds of the multipart path
#               (--parts-above 1 MiB) for its memory
#   payloads    at 256 B and 4 KiB, --payload json | base64-json | raw, also on MemoryStore
#               pinned to one core; and on RGW, 5 rounds alternating raw events with JSON
#               events whose lines are as long as the raw events' lines
# The document runs delete what they wrote; everything else goes when RGW stops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0 PIPE_ONLY=0 TAMPER_ONLY=0 PYTHON_ONLY=0
[[ "${1:-}" == "--quick" ]] && QUICK=1
[[ "${1:-}" == "--python" ]] && PYTHON_ONLY=1
[[ "${1:-}" == "--pipelining" ]] && PIPE_ONLY=1
[[ "${1:-}" == "--tamper" ]] && TAMPER_ONLY=1
OUT_DIR=${OUT_DIR:-docs}
SIZES=(64 256 1024 4096)
RAW=target/bench-raw
mkdir -p "$RAW" "$OUT_DIR"

say() { printf '\n== %s\n' "$*" >&2; }

say "release build"
cargo build -q --release -p wormlog
BIN=target/release/wormlog

if (( PYTHON_ONLY )); then
  scripts/bench_python.sh "$BIN" "$RAW" "$OUT_DIR"
  exit 0
fi

if (( TAMPER_ONLY )); then
  STORE=""
  if scripts/rgw.sh status >/dev/null 2>&1; then
    eval "$(scripts/rgw.sh env)"
    export AWS_ACCESS_KEY_ID="$WORMLOG_RGW_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$WORMLOG_RGW_SECRET_KEY"
    BUCKET="wl-bench-tamper-$(date +%s)"
    STORE="s3://${BUCKET}/bench?endpoint=${WORMLOG_RGW_ENDPOINT}&region=us-east-1&path_style=true"
    "$BIN" --store "$STORE" init >&2
    trap 'scripts/rgw.sh drop-bucket "$BUCKET" >&2 || true' EXIT
  fi
  scripts/bench_tamper.sh "$BIN" "$RAW" "$STORE"
  say "writing the tamper-evidence section of $OUT_DIR/benchmarks.md"
  python3 scripts/bench_tamper.py "$RAW" "$OUT_DIR"
  exit 0
fi

# First, before the RGW runs leave its daemons busy on the same cores.
if (( ! PIPE_ONLY )); then
MEM_EVENTS=$(( QUICK ? 100000 : 1000000 ))
say "MemoryStore, one core (taskset -c 0): $MEM_EVENTS events of 256 B"
taskset -c 0 "$BIN" --store mem:// bench --events "$MEM_EVENTS" --event-bytes 256 --in-flight 1 --json >"$RAW/memory-256.json"
say "MemoryStore, one core: the same with a window of 8 (what pipelining costs a CPU-bound writer)"
taskset -c 0 "$BIN" --store mem:// bench --events "$MEM_EVENTS" --event-bytes 256 --in-flight 8 --json >"$RAW/memory-256-w8.json"
PAYLOAD_SIZES=(256 4096)
PAYLOADS=(json base64-json raw)
for size in "${PAYLOAD_SIZES[@]}"; do
  n=$(( (QUICK ? 12800000 : 102400000) / size ))
  for payload in "${PAYLOADS[@]}"; do
    say "MemoryStore, one core: $n events of $size B, --payload $payload"
    taskset -c 0 "$BIN" --store mem:// bench --events "$n" --event-bytes "$size" --payload "$payload" --in-flight 1 --json >"$RAW/memory-payload-$payload-$size.json"
  done
done
fi

say "Ceph RGW, restarted empty (its memstore OSD holds 8 GiB; a full one blocks writes)"
scripts/rgw.sh stop >&2 || true
scripts/rgw.sh start >&2
trap 'scripts/rgw.sh stop >&2 || true' EXIT  # frees the memory; scripts/test.sh starts it again
eval "$(scripts/rgw.sh env)"
export AWS_ACCESS_KEY_ID="$WORMLOG_RGW_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$WORMLOG_RGW_SECRET_KEY"
BUCKET="wl-bench-$(date +%s)"
STORE="s3://${BUCKET}/bench?endpoint=${WORMLOG_RGW_ENDPOINT}&region=us-east-1&path_style=true"
"$BIN" --store "$STORE" init >&2
python3 -c 'import matplotlib' 2>/dev/null || {
  say "installing matplotlib from PyPI (for the plots)"
  python3 -m pip install -q --disable-pip-version-check matplotlib 2>&1 | grep -v 'as the .root. user' >&2 || true
}
pipelining() {
  say "pipelining: RGW behind a delay relay, window 1 against window ${PIPELINE_K:-8}"
  scripts/bench_pipelining.sh "$BIN" "$STORE" "$RAW" $( (( QUICK )) && echo --quick )
}
if (( PIPE_ONLY )); then
  pipelining
  say "writing the pipelining section of $OUT_DIR/benchmarks.md"
  python3 scripts/bench_pipelining.py "$RAW" "$OUT_DIR"
  exit 0
fi
say "warm-up (not recorded): a fresh RGW is slow for its first writes"
"$BIN" --store "$STORE" bench --events 100000 --event-bytes 256 --json >/dev/null

# Documents first, while the OSD is nearly empty (what they write is deleted at once).
DOC="$RAW/document-100MB.bin"
head -c 100000000 /dev/urandom >"$DOC"
ROUNDS=$(( QUICK ? 2 : 7 ))
for round in $(seq 1 "$ROUNDS"); do
  say "100 MB document, round $round of $ROUNDS: wormlog append, one PutObject the server checks, one plain PutObject"
  "$BIN" --store "$STORE" bench --mode document --file "$DOC" --json >"$RAW/document-$round.json"
  "$BIN" --store "$STORE" bench --mode document-put-checked --file "$DOC" --json >"$RAW/document-put-checked-$round.json"
  "$BIN" --store "$STORE" bench --mode document-put --file "$DOC" --json >"$RAW/document-put-$round.json"
done
# The SHA-256 of the file alone (OpenSSL's, through Python: as fast as wormlog's sha2 on
# SHA-NI): the part of an append that must come before its PUT (the key is the hash).
python3 - "$DOC" >"$RAW/document-sha256.json" <<'PY'
import hashlib, json, statistics, sys, time
data = open(sys.argv[1], "rb").read()
times = []
for _ in range(5):
    t = time.perf_counter()
    hashlib.sha256(data).digest()
    times.append(time.perf_counter() - t)
print(json.dumps({"secs": statistics.median(times), "bytes": len(data)}))
PY
for round in 1 2 3; do
  say "100 MB document in 8 MiB parts, round $round of 3"
  "$BIN" --store "$STORE" bench --mode document --file "$DOC" --parts-above 1048576 --json >"$RAW/document-parts-$round.json"
done
rm -f "$DOC"

# What one append costs a new process: requests, objects, latency, against one plain PUT.
say "cold appends: doctor keeps the verdict, then $(( QUICK ? 10 : 50 )) in-process rounds on a 400-slot stream"
"$BIN" --store "$STORE" doctor >/dev/null
"$BIN" --store "$STORE" bench --mode cold-append --events $(( QUICK ? 10 : 50 )) --prefill 400 --json >"$RAW/cold-append.json"
say "cold appends: the command itself, 20 processes, against 20 process starts (wormlog --version)"
"$BIN" --store "$STORE" --stream bench-cli-cold append --epoch 1 '{"n":0}' >/dev/null
python3 - "$BIN" "$STORE" >"$RAW/cold-cli.json" <<'PY'
import json, subprocess, sys, time
bin, store = sys.argv[1], sys.argv[2]
def timed(args):
    t = time.perf_counter()
    subprocess.run([bin] + args, check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - t) * 1e3
start = sorted(timed(["--version"]) for _ in range(20))
cli = sorted(timed(["--store", store, "--stream", "bench-cli-cold", "append", "--epoch", "1", '{"n":%d}' % i]) for i in range(20))
print(json.dumps({"process_start_ms": start[10], "cli_append_ms": cli[10], "cli_append_max_ms": cli[-1]}))
PY

python3 -c 'import matplotlib' 2>/dev/null || {
  say "installing matplotlib from PyPI (for the plot)"
  python3 -m pip install -q --disable-pip-version-check matplotlib 2>&1 | grep -v 'as the .root. user' >&2 || true
}

events_for() { # enough events for a few seconds per run; fewer with --quick
  local n=$(( 256000000 / $1 )); (( n > 400000 )) && n=400000
  (( QUICK )) && n=$(( n / 20 ))
  echo "$n"
}
PER_EVENT=$(( QUICK ? 100 : 1000 ))

for size in "${SIZES[@]}"; do
  n=$(events_for "$size")
  say "event size $size B: wormlog ($n events, then replay)"
  "$BIN" --store "$STORE" bench --events "$n" --event-bytes "$size" --replay --in-flight 1 --json >"$RAW/wormlog-$size.json"
  # The same objects wormlog wrote: as many bytes, in objects of its mean segment size.
  read -r mean raw_n < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); t=r["object_bytes_total"]; print(max(1, t // max(1, r["segments"])), max(1, t // int(sys.argv[2])))' "$RAW/wormlog-$size.json" "$size")
  say "event size $size B: raw PutObject of $mean-byte objects, the same bytes"
  "$BIN" --store "$STORE" bench --mode raw-put --events "$raw_n" --event-bytes "$size" --object-bytes "$mean" --in-flight 1 --json >"$RAW/raw-$size.json"
  say "event size $size B: per-event conditional PUT loop ($PER_EVENT events)"
  "$BIN" --store "$STORE" bench --mode per-event --events "$PER_EVENT" --event-bytes "$size" --json >"$RAW/per-event-$size.json"
done

# JSON data as long as a raw event's whole line makes a JSON event of the same size in the log.
PAIR_ROUNDS=$(( QUICK ? 1 : 5 ))
same_line_bytes() { # same_line_bytes RAW_REPORT JSON_REPORT SIZE
  python3 -c 'import json,sys; r,j=(json.load(open(p)) for p in sys.argv[1:3]); s=int(sys.argv[3]); over=j["object_bytes_total"]/j["events"]-s; print(max(2, round(r["object_bytes_total"]/r["events"]-over)))' "$@"
}
for size in "${PAYLOAD_SIZES[@]}"; do
  n=$(events_for "$size")
  for payload in "${PAYLOADS[@]}"; do
    say "event size $size B: --payload $payload ($n events)"
    "$BIN" --store "$STORE" bench --events "$n" --event-bytes "$size" --payload "$payload" --in-flight 1 --json >"$RAW/payload-$payload-$size.json"
  done
  line=$(same_line_bytes "$RAW/payload-raw-$size.json" "$RAW/payload-json-$size.json" "$size")
  # A single pair of runs on RGW varies by +-10%: the ratio is the median of rounds that
  # alternate the two.
  # Each round in a bucket of its own, deleted after: the rounds write more than the memstore
  # OSD holds (a full one stalls writes), and each starts on an equally empty store.
  # Odd rounds run the raw events first, even rounds the JSON events: neither always meets
  # the empty bucket.
  for round in $(seq 1 "$PAIR_ROUNDS"); do
    order=(raw json); (( round % 2 == 0 )) && order=(json raw)
    say "event size $size B, round $round of $PAIR_ROUNDS: ${order[0]} events first, then ${order[1]} (JSON events as large in the log: $line B of data)"
    pair_bucket="wl-bench-pairs-$(date +%s%N)"
    pair_store="s3://${pair_bucket}/bench?endpoint=${WORMLOG_RGW_ENDPOINT}&region=us-east-1&path_style=true"
    "$BIN" --store "$pair_store" init >&2
    for which in "${order[@]}"; do
      case $which in
        raw) "$BIN" --store "$pair_store" bench --events "$n" --event-bytes "$size" --payload raw --in-flight 1 --json >"$RAW/pair-raw-$size-$round.json" ;;
        json) "$BIN" --store "$pair_store" bench --events "$n" --event-bytes "$line" --in-flight 1 --json >"$RAW/pair-json-same-line-$size-$round.json" ;;
      esac
    done
    scripts/rgw.sh drop-bucket "$pair_bucket" >&2
  done
done


pipelining
scripts/bench_tamper.sh "$BIN" "$RAW" "$STORE" $( (( QUICK )) && echo --quick )

say "writing $OUT_DIR/benchmarks.md and $OUT_DIR/benchmarks.png"
python3 scripts/bench_report.py "$RAW" "$OUT_DIR" "${SIZES[@]}"
python3 scripts/bench_pipelining.py "$RAW" "$OUT_DIR"
python3 scripts/bench_tamper.py "$RAW" "$OUT_DIR"

say "the Python package against the Rust library and against boto3"
scripts/bench_python.sh "$BIN" "$RAW" "$OUT_DIR" $( (( QUICK )) && echo --quick )
