"""The Python package against the Rust library and against boto3, side by side in one run
(called by scripts/bench_python.sh, which builds and installs the package first):

  append_many   MemoryStore, events of 256 B (a JSON string, as `wormlog bench` appends),
                pinned to one core (taskset -c 0): the Rust library through `wormlog bench`
                and the Python package's `Writer.append_many`, alternating, ROUNDS rounds
  per-event     on one S3 server (moto): a boto3 `put_object(IfNoneMatch="*")` loop, one
                object per event (the event store of examples/python/boto3_event_store.py),
                against a Python loop of `Writer.append(event, wait=False)` and one
                `flush()`, and a loop of `Writer.append(event)` that waits for each

  python3 scripts/bench_python.py BIN RAW_DIR OUT_DIR S3_URL ENDPOINT [--quick]
"""

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from urllib.parse import urlparse

sys.path.insert(0, os.path.dirname(__file__))
from bench_section import write_section  # noqa: E402

import wormlog  # noqa: E402

BIN, RAW, OUT, S3_URL, ENDPOINT = sys.argv[1:6]
QUICK = "--quick" in sys.argv
ROUNDS = 2 if QUICK else 5
MEM_EVENTS = 100_000 if QUICK else 400_000
BOTO_EVENTS = 100 if QUICK else 300
LOOP_EVENTS = 2_000 if QUICK else 10_000
BEGIN = "<!-- begin: python (scripts/bench.sh) -->"
END = "<!-- end: python -->"


def say(msg):
    print(f"\n== {msg}", file=sys.stderr, flush=True)


def rust_mem():
    out = subprocess.run(
        ["taskset", "-c", "0", BIN, "--store", "mem://", "bench", "--events", str(MEM_EVENTS),
         "--event-bytes", "256", "--in-flight", "1", "--json"],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)["events_per_sec"]


PY_MEM = """
import sys, time, wormlog
n = int(sys.argv[1])
data = "x" * 254  # 256 B of JSON, as `wormlog bench` appends
store = wormlog.open_store("mem://")
w = wormlog.Writer(store, "bench", epoch=1, in_flight=1)
items = [data] * n
t = time.perf_counter()
w.append_many(items)
elapsed = time.perf_counter() - t
w.close()
print(n / elapsed)
"""


def python_mem():
    out = subprocess.run(
        ["taskset", "-c", "0", sys.executable, "-c", PY_MEM, str(MEM_EVENTS)],
        check=True, capture_output=True, text=True,
    ).stdout
    return float(out)


def event(i):
    return {"kind": "reconcile", "object": f"orders/o-{i}", "state": "ready", "pad": "x" * 180}


def boto3_loop(n):
    import boto3

    u = urlparse(S3_URL)
    s3 = boto3.client("s3", endpoint_url=ENDPOINT, region_name="us-east-1")
    prefix = f"{u.path.strip('/')}/boto3-{uuid.uuid4().hex[:8]}/"
    t = time.perf_counter()
    for i in range(n):
        s3.put_object(Bucket=u.netloc, Key=f"{prefix}{i:020}.json", Body=json.dumps(event(i)).encode(), IfNoneMatch="*")
    return n / (time.perf_counter() - t)


def wormlog_loop(n, wait):
    store = wormlog.open_store(S3_URL)
    w = wormlog.Writer(store, "py-" + uuid.uuid4().hex[:8], epoch=1)
    w.append("warm-up")
    t = time.perf_counter()
    for i in range(n):
        w.append(event(i), wait=wait)
    w.flush()
    elapsed = time.perf_counter() - t
    w.close()
    return n / elapsed


def main():
    os.makedirs(RAW, exist_ok=True)
    raw = {"rust_mem": [], "python_mem": [], "boto3": [], "loop_nowait": [], "loop_wait": []}
    for r in range(ROUNDS):
        say(f"append_many vs the Rust library, MemoryStore, one core, round {r + 1} of {ROUNDS}")
        raw["rust_mem"].append(rust_mem())
        raw["python_mem"].append(python_mem())
    for r in range(min(ROUNDS, 3)):
        say(f"per-event loops on moto, round {r + 1}: boto3 put_object, wormlog append (no wait), wormlog append (wait)")
        raw["boto3"].append(boto3_loop(BOTO_EVENTS))
        raw["loop_nowait"].append(wormlog_loop(LOOP_EVENTS, wait=False))
        raw["loop_wait"].append(wormlog_loop(BOTO_EVENTS, wait=True))
    json.dump(raw, open(os.path.join(RAW, "python.json"), "w"), indent=1)

    med = {k: statistics.median(v) for k, v in raw.items()}
    many = med["python_mem"] / med["rust_mem"]
    nowait = med["loop_nowait"] / med["boto3"]
    wait = med["loop_wait"] / med["boto3"]
    lines = [
        BEGIN,
        "## Python package",
        "",
        "The `wormlog` Python package (crates/wormlog-py) side by side with the Rust library and",
        "with boto3, in one run of `scripts/bench.sh --python` (medians of the rounds; each figure",
        "is a ratio of two runs on the same store, measured alternately).",
        "",
        "| what | Python | baseline | ratio | target |",
        "|---|---|---|---|---|",
        f"| `append_many`, 256 B events, MemoryStore, one core ({MEM_EVENTS:,} events, {ROUNDS} rounds) "
        f"| {med['python_mem']:,.0f} events/s | Rust library (`wormlog bench`): {med['rust_mem']:,.0f} events/s "
        f"| {many:.2f}x | at least 0.5x: {'met' if many >= 0.5 else 'missed'} |",
        f"| per-event `append(e, wait=False)` loop + `flush()`, moto ({LOOP_EVENTS:,} events) "
        f"| {med['loop_nowait']:,.0f} events/s | boto3 `put_object` loop ({BOTO_EVENTS} events): {med['boto3']:,.0f} events/s "
        f"| {nowait:.1f}x | at least 20x: {'met' if nowait >= 20 else 'missed'} |",
        f"| per-event `append(e)` loop, each waiting for its commit, moto ({BOTO_EVENTS} events) "
        f"| {med['loop_wait']:,.0f} events/s | the same boto3 loop | {wait:.2f}x | (one PUT per event either way) |",
        "",
        "A loop that waits for each event's commit pays one PUT per event, as boto3 does, and gains",
        "only the fencing: the speed comes from letting appends be in flight together",
        "(`wait=False`, several threads, or `asyncio.gather` on `AsyncWriter.append`), which",
        "wormlog commits in shared segments, in order. The events of a loop that does not wait",
        "are acknowledged by `flush()` (or each `Pending.result()`) before the program acts on them.",
        END,
    ]
    write_section(OUT, BEGIN, END, lines)
    print("\n".join(lines[7:12]), file=sys.stderr)


main()
