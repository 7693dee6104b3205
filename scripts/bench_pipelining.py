#!/usr/bin/env python3
"""Writes the pipelining section of docs/benchmarks.md (between its markers, replacing an
older one) and docs/benchmarks-pipelining.png from scripts/bench_pipelining.sh's figures.

    scripts/bench_pipelining.py RAW OUT_DIR
"""
import json
import os
import sys

from bench_section import write_section

BEGIN, END = "<!-- pipelining:begin -->", "<!-- pipelining:end -->"


def load(raw, name):
    with open(os.path.join(raw, name)) as f:
        return json.load(f)


def stored(r):
    """Bytes stored per second (segments with their headers and event framing, or the raw
    objects): the same bytes in objects of the same size, so the time to store them compares."""
    return r["object_bytes_total"] / r["elapsed_secs"] / 1e6


def main(raw, out):
    k, segment, budget = (int(x) for x in open(os.path.join(raw, "pipe-settings.txt")).read().split())
    lines = []
    add = lines.append
    add(BEGIN)
    add("## Pipelining: one stream on a store with network latency")
    add("")
    add("Ceph RGW behind `scripts/delay_proxy.py`, a TCP relay that adds a fixed one-way latency in each")
    add("direction (a round trip gains twice it) without limiting throughput. One stream, segments of up")
    add("to {} KiB, `wormlog bench --in-flight 1` against `--in-flight {}`, and plain PutObjects of the".format(segment // 1024, k))
    add("same bytes in objects of the window's mean segment size, {} in flight (`--mode raw-put".format(k))
    add("--in-flight {}`), in one run. Append MB/s counts event data; stored MB/s counts what went to".format(k))
    add("the store (segments with their headers and each event's id, type and time), which is what the")
    add("raw PutObjects write too: their ratio compares the time to store the same objects.")
    add("")
    add("| added latency | event | append MB/s, window 1 | window {} | ratio | stored MB/s, window {} | raw PutObject | window {} / raw | append p99 w1 / w{} ms |".format(k, k, k, k))
    add("|---|---|---|---|---|---|---|---|---|")
    rows = {}
    for delay in (0, 5, 20):
        for size in (256, 4096):
            tag = "%d-%d" % (delay, size)
            w1, wk, rp = (load(raw, "pipe-%s-%s.json" % (m, tag)) for m in ("w1", "wk", "raw"))
            rows[(delay, size)] = (w1, wk, rp)
            add("| {} ms | {} B | {:.2f} | {:.2f} | {:.2f}x | {:.2f} | {:.2f} | {:.0%} | {:.0f} / {:.0f} |".format(
                delay, size, w1["mb_per_sec"], wk["mb_per_sec"], wk["mb_per_sec"] / w1["mb_per_sec"],
                stored(wk), stored(rp), stored(wk) / stored(rp),
                w1["latency_ms"]["p99"], wk["latency_ms"]["p99"]))
    add("")
    half = load(raw, "pipe-half.json")
    flood = load(raw, "pipe-flood.json")
    raw20 = rows[(20, 256)][2]
    targets = []
    for size in (256, 4096):
        w1, wk, rp = rows[(20, size)]
        targets.append(("+20 ms, {} B: window {} >= 3x window 1".format(size, k),
                        "{:.2f}x".format(wk["mb_per_sec"] / w1["mb_per_sec"]),
                        wk["mb_per_sec"] >= 3 * w1["mb_per_sec"]))
        targets.append(("+20 ms, {} B: window {} >= 90% of raw PutObject at {} in flight (the same bytes stored)".format(size, k, k),
                        "{:.0%}".format(stored(wk) / stored(rp)),
                        stored(wk) >= 0.9 * stored(rp)))
    targets.append(("+20 ms: append p99 at half of saturation ({} events/s) <= 2x PUT p99".format(half["rate"]),
                    "{:.0f} ms against {:.0f} ms".format(half["latency_ms"]["p99"], raw20["latency_ms"]["p99"]),
                    half["latency_ms"]["p99"] <= 2 * raw20["latency_ms"]["p99"]))
    for size in (256, 4096):
        w1, wk, _ = rows[(0, size)]
        targets.append(("+0 ms, {} B: no regression against window 1".format(size),
                        "{:.2f}x".format(wk["mb_per_sec"] / w1["mb_per_sec"]),
                        wk["mb_per_sec"] >= 0.95 * w1["mb_per_sec"]))
    rss = flood.get("peak_rss_bytes") or 0
    targets.append(("RSS within max_unacked_bytes + 64 MiB, offered 10x what the store takes ({} events/s of 4 KiB)".format(flood["rate"]),
                    "{:.0f} MiB, limit {:.0f} MiB".format(rss / 2**20, (budget + (64 << 20)) / 2**20),
                    0 < rss <= budget + (64 << 20)))
    add("| target | measured | met |")
    add("|---|---|---|")
    for name, measured, met in targets:
        add("| {} | {} | {} |".format(name, measured, "yes" if met else "**no**"))
    add("")
    try:
        m1, m8 = load(raw, "memory-256.json"), load(raw, "memory-256-w8.json")
        ratio = m8["events_per_sec"] / m1["events_per_sec"]
        add("MemoryStore pinned to one core, 256 B events, where the store costs nothing and only the")
        add("writer's CPU counts: window 8 appends {:,.0f} events/s against {:,.0f} with window 1 ({:.2f}x){}".format(
            m8["events_per_sec"], m1["events_per_sec"], ratio,
            ": keeping several segments in flight costs nothing there." if ratio >= 0.95 else
            ": the price of keeping several PUTs and their answers in order where a PUT costs no wait."))
        add("")
    except FileNotFoundError:
        pass
    add("![MB/s against added latency](benchmarks-pipelining.png)")
    add("")
    add(END)
    write_section(out, BEGIN, END, lines)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench_pipelining.py: matplotlib missing; no plot", file=sys.stderr)
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, size in zip(axes, (256, 4096)):
        delays = (0, 5, 20)
        for label, i in (("window 1", 0), ("window %d" % k, 1), ("raw PutObject, %d in flight" % k, 2)):
            ax.plot(delays, [stored(rows[(d, size)][i]) for d in delays], marker="o", label=label)
        ax.set_title("%d B events" % size)
        ax.set_xlabel("added one-way latency (ms)")
        ax.set_ylabel("stored MB/s, one stream")
        ax.set_yscale("log")
        ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "benchmarks-pipelining.png"), dpi=100)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
