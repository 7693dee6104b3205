#!/usr/bin/env bash
# Pipelining on a store with real network latency: Ceph RGW behind scripts/delay_proxy.py,
# which adds a fixed one-way latency per direction. Window 1 against window K, side by side
# in one run, at 0, 5 and 20 ms added, for 256 B and 4 KiB events; the raw PutObject
# ceiling at the same concurrency and object size; append latency at half of saturation;
# and peak memory while the producer offers 10x what the store takes. Called by
# scripts/bench.sh with RGW running; writes its raw figures to $RAW/pipe-*.json.
#
#   scripts/bench_pipelining.sh BIN STORE_URL_OF_A_BUCKET RAW [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$1 STORE=$2 RAW=$3 QUICK=0
[[ "${4:-}" == "--quick" ]] && QUICK=1
K=${PIPELINE_K:-8}
SEGMENT=65536            # segments of up to 64 KiB: a writer that wants its events out soon
BUDGET=$(( 16 << 20 ))   # max_unacked_bytes for the memory run
PORT=${PIPELINE_PROXY_PORT:-7491}
say() { printf '\n== %s\n' "$*" >&2; }

eval "$(scripts/rgw.sh env)"
proxy_pid=
stop_proxy() { [[ -n "$proxy_pid" ]] && kill "$proxy_pid" 2>/dev/null && wait "$proxy_pid" 2>/dev/null; proxy_pid=; }
trap stop_proxy EXIT
# The store URL through the relay (0 ms: RGW itself).
through() { # through DELAY_MS
  if (( $1 == 0 )); then echo "$STORE"; return; fi
  echo "${STORE/${WORMLOG_RGW_ENDPOINT#http://}/127.0.0.1:$PORT}"
}
json() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"r": r}))' "$@"; }

for delay in 0 5 20; do
  if (( delay > 0 )); then
    python3 scripts/delay_proxy.py --listen "127.0.0.1:$PORT" --to "${WORMLOG_RGW_ENDPOINT#http://}" --delay-ms "$delay" &
    proxy_pid=$!
    sleep 0.5
  fi
  url=$(through "$delay")
  for size in 256 4096; do
    # About 8 s of window 1 at 20 ms: segment / (2 x 20 ms) per second.
    bytes=$(( (QUICK ? 2 : 12) << 20 ))
    n=$(( bytes / size ))
    tag="$delay-$size"
    say "+$delay ms, $size B events: window 1 ($n events)"
    "$BIN" --store "$url" --stream "pipe-1-$tag" bench --events "$n" --event-bytes "$size" --max-batch-bytes "$SEGMENT" --in-flight 1 --json >"$RAW/pipe-w1-$tag.json"
    say "+$delay ms, $size B events: window $K"
    "$BIN" --store "$url" --stream "pipe-k-$tag" bench --events "$n" --event-bytes "$size" --max-batch-bytes "$SEGMENT" --in-flight "$K" --json >"$RAW/pipe-wk-$tag.json"
    mean=$(json "$RAW/pipe-wk-$tag.json" 'max(1, r["object_bytes_total"] // max(1, r["segments"]))')
    total=$(json "$RAW/pipe-wk-$tag.json" 'r["object_bytes_total"]')
    say "+$delay ms, $size B events: raw PutObject, $mean-byte objects, $K in flight"
    "$BIN" --store "$url" --stream "pipe-raw-$tag" bench --mode raw-put --events $(( total / size )) --event-bytes "$size" --object-bytes "$mean" --in-flight "$K" --json >"$RAW/pipe-raw-$tag.json"
  done
  if (( delay == 20 )); then
    sat=$(json "$RAW/pipe-wk-20-256.json" 'int(r["events_per_sec"])')
    half=$(( sat / 2 )) ; (( half < 1 )) && half=1
    n=$(( half * (QUICK ? 3 : 8) ))
    say "+20 ms, 256 B: window $K at half its saturation ($half events/s, open loop)"
    "$BIN" --store "$url" --stream "pipe-half" bench --events "$n" --event-bytes 256 --max-batch-bytes "$SEGMENT" --in-flight "$K" --rate "$half" --json >"$RAW/pipe-half.json"
    sat4=$(json "$RAW/pipe-wk-20-4096.json" 'int(r["events_per_sec"])')
    fast4=$(( sat4 * 10 ))
    n4=$(( QUICK ? fast4 / 3 : fast4 ))
    say "+20 ms, 4 KiB: window $K offered 10x its saturation ($fast4 events/s), max_unacked_bytes $BUDGET"
    "$BIN" --store "$url" --stream "pipe-flood" bench --events "$n4" --event-bytes 4096 --max-batch-bytes "$SEGMENT" --in-flight "$K" --rate "$fast4" --max-unacked-bytes "$BUDGET" --json >"$RAW/pipe-flood.json"
  fi
  stop_proxy
done
echo "$K $SEGMENT $BUDGET" >"$RAW/pipe-settings.txt"
