#!/usr/bin/env python3
"""Turns the JSON reports of scripts/bench.sh into docs/benchmarks.md and docs/benchmarks.png.

usage: bench_report.py RAW_DIR OUT_DIR SIZE...

Every ratio compares runs made side by side in one scripts/bench.sh run, on one server.
"""

import datetime
import json
import os
import platform
import sys


def load(raw, name):
    with open(os.path.join(raw, name)) as f:
        return json.load(f)


def main():
    raw, out = sys.argv[1], sys.argv[2]
    sizes = [int(s) for s in sys.argv[3:]]
    rows = []
    for size in sizes:
        w = load(raw, f"wormlog-{size}.json")
        r = load(raw, f"raw-{size}.json")
        p = load(raw, f"per-event-{size}.json")
        w_obj_mb = w["object_bytes_total"] / w["elapsed_secs"] / 1e6
        raw_mb = r["mb_per_sec"]
        mean_segment = w["object_bytes_total"] // max(1, w["segments"])
        rows.append(
            dict(
                size=size,
                w=w,
                r=r,
                p=p,
                w_obj_mb=w_obj_mb,
                raw_mb=raw_mb,
                mean_segment=mean_segment,
                put_ratio=w_obj_mb / raw_mb,
                payload_ratio=w["mb_per_sec"] / raw_mb,
                loop_ratio=w["events_per_sec"] / p["events_per_sec"],
                # Raw PUT throughput counted in wormlog events (same bytes per event).
                raw_events=raw_mb * 1e6 / (w["object_bytes_total"] / w["events"]),
                latency_ratio=w["latency_ms"]["p99"] / max(r["latency_ms"]["p50"], 1e-9),
                replay_ratio=w["replay"]["replay_mb_per_sec"] / w["replay"]["raw_get_mb_per_sec"],
            )
        )
    mem = load(raw, "memory-256.json")
    at256 = next((x for x in rows if x["size"] == 256), rows[0])
    docs = documents(raw)
    pay = payloads(raw)
    cold = load(raw, "cold-append.json")
    cold_cli = load(raw, "cold-cli.json")
    cold_budget = 2 * cold["raw_put_ms"]["p50"] + cold_cli["process_start_ms"]

    def verdict(ok):
        return "**met**" if ok else "**missed**"

    targets = [
        (
            "a cold one-event append (a new process, the tail at its epoch) sends <= 4 requests and writes 1 object",
            "{:.0f} requests, {:.0f} object (most in a round: {:.0f} and {:.0f})".format(
                cold["requests_per_append"]["p50"], cold["objects_per_append"]["p50"],
                cold["requests_per_append"]["max"], cold["objects_per_append"]["max"]),
            cold["requests_per_append"]["max"] <= 4 and cold["objects_per_append"]["max"] <= 1,
        ),
        (
            "a cold append takes <= 2x one PUT plus process start (the command, end to end)",
            "{:.1f} ms against {:.1f} ms (2 x {:.1f} ms PUT + {:.1f} ms start)".format(
                cold_cli["cli_append_ms"], cold_budget, cold["raw_put_ms"]["p50"],
                cold_cli["process_start_ms"]),
            cold_cli["cli_append_ms"] <= cold_budget,
        ),
        (
            "append MB/s >= 80% of raw PutObject at the same object size",
            "min over sizes: {:.0f}%".format(100 * min(x["put_ratio"] for x in rows)),
            all(x["put_ratio"] >= 0.8 for x in rows),
        ),
        (
            "events/s >= 200x the per-event loop at 256 B",
            "{:.0f}x".format(at256["loop_ratio"]),
            at256["loop_ratio"] >= 200,
        ),
        (
            "MemoryStore append >= 1,000,000 events/s at 256 B on one core",
            "{:,.0f} events/s".format(mem["events_per_sec"]),
            mem["events_per_sec"] >= 1e6,
        ),
        (
            "replay MB/s >= 80% of raw parallel GetObject",
            "min over sizes: {:.0f}%".format(100 * min(x["replay_ratio"] for x in rows)),
            all(x["replay_ratio"] >= 0.8 for x in rows),
        ),
        (
            "append p99 under saturation <= 3x the PUT latency of a full batch",
            "max over sizes: {:.1f}x".format(max(x["latency_ratio"] for x in rows)),
            all(x["latency_ratio"] <= 3 for x in rows),
        ),
        (
            "appending a 100 MB file costs <= 1.2x one plain PutObject of the same file",
            "{:.2f}x (median of {} alternating rounds; {:.2f}x one PutObject whose bytes the server checks)".format(
                docs["ratio"], docs["rounds"], docs["checked_ratio"]),
            docs["ratio"] <= 1.2,
        ),

        (
            "peak resident memory appending a 100 MB file <= 64 MiB (one PUT, and in parts)",
            "{:.0f} MiB / {:.0f} MiB".format(docs["rss_single"] / 2**20, docs["rss_parts"] / 2**20),
            max(docs["rss_single"], docs["rss_parts"]) <= 64 * 2**20,
        ),
        (
            "inline raw events cost no more than JSON events of the same size in the log, "
            "on Ceph RGW (within 5% run-to-run noise)",
            "min over sizes: raw at {:.0f}% of the events/s of JSON events as large "
            "(median of {} alternating rounds)".format(
                100 * min(x["raw_vs_same_line"] for x in pay), len(pay[0]["pair_ratios"])),
            all(x["raw_vs_same_line"] >= 0.95 for x in pay),
        ),
    ]

    plot(out, rows)
    lines = []
    add = lines.append
    add("# Benchmarks")
    add("")
    add("Generated by `scripts/bench.sh` on {} ({}, {} cores); do not edit by hand.".format(
        datetime.date.today().isoformat(), platform.machine(), os.cpu_count()))
    add("Every ratio compares runs made side by side in that one run, on one Ceph RGW 16.2")
    add("(memstore OSD, `scripts/rgw.sh`) on this machine; absolute numbers drift with the machine,")
    add("ratios much less. Raw JSON reports: `target/bench-raw/`.")
    add("")
    add("![events/s against event size](benchmarks.png)")
    add("")
    add("## Targets")
    add("")
    add("| target | measured | |")
    add("|---|---|---|")
    for name, measured, ok in targets:
        add(f"| {name} | {measured} | {verdict(ok)} |")
    add("")
    add("## Append on Ceph RGW, side by side")
    add("")
    add("(c) `wormlog bench --in-flight 1`: one writer with one segment in flight (the serial writer;")
    add("the pipelining section below measures a window of 8), two full batches of appends")
    add("in flight, group commit.")
    add("(a) `--mode raw-put`: the same number of bytes as wormlog wrote, as plain PutObjects of")
    add("wormlog's mean segment size, one at a time (`--in-flight 1`, as the writer): the")
    add("store's ceiling. (b) `--mode per-event`: one create-only PUT per event, one at a time.")
    add("")
    add("| event B | wormlog events/s | wormlog MB/s (events / objects) | mean segment B | raw PUT MB/s | objects vs raw | events vs raw | per-event loop events/s | wormlog / loop | append p99 ms | raw PUT p50 ms | p99 / PUT |")
    add("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for x in rows:
        w, r, p = x["w"], x["r"], x["p"]
        add("| {} | {:,.0f} | {:.2f} / {:.2f} | {:,} | {:.2f} | {:.0f}% | {:.0f}% | {:,.0f} | {:,.0f}x | {:.1f} | {:.1f} | {:.1f}x |".format(
            x["size"], w["events_per_sec"], w["mb_per_sec"], x["w_obj_mb"], x["mean_segment"],
            x["raw_mb"], 100 * x["put_ratio"], 100 * x["payload_ratio"], p["events_per_sec"],
            x["loop_ratio"], w["latency_ms"]["p99"], r["latency_ms"]["p50"], x["latency_ratio"]))
    add("")
    add("\"objects vs raw\" compares the bytes of the objects each wrote (segments include the")
    add("header and each event's id, type, time, seq and fencing token); \"events vs raw\" counts")
    add("only the events' data bytes, the payload a user gets through.")
    add("")
    add("## Replay on Ceph RGW")
    add("")
    add("`wormlog bench --replay` reads the streams it wrote with `LogReader` (8 segments")
    add("prefetched, decode, CRC, reader rules, every event delivered), and the same segment keys")
    add("with plain GETs, 8 in flight, bytes discarded.")
    add("")
    add("| event B | segment MB | replay MB/s | replay events/s | raw parallel GET MB/s | replay / raw |")
    add("|---|---|---|---|---|---|")
    for x in rows:
        rp = x["w"]["replay"]
        add("| {} | {:.1f} | {:.2f} | {:,.0f} | {:.2f} | {:.0f}% |".format(
            x["size"], rp["segment_bytes"] / 1e6, rp["replay_mb_per_sec"],
            rp["replay_events_per_sec"], rp["raw_get_mb_per_sec"], 100 * x["replay_ratio"]))
    add("")
    add("## MemoryStore, one core")
    add("")
    add("`taskset -c 0 wormlog --store mem:// bench --events {:,} --event-bytes 256 --in-flight 1`: {:,.0f} events/s,".format(
        mem["events"], mem["events_per_sec"]))
    add("{:.1f} MB/s, p99 {:.1f} ms, {} segments.".format(
        mem["mb_per_sec"], mem["latency_ms"]["p99"], mem["segments"]))
    add("")
    add("## Documents on Ceph RGW")
    add("")
    add("A 100 MB file of random bytes. `wormlog bench --mode document --file F`: the SHA-256")
    add("of the file (one read, while the bucket's default lock is read), a HEAD for an existing")
    add("copy, one create-only PUT streamed from the file with `x-amz-checksum-sha256`, then the")
    add("event's segment; timed from the first read to the acknowledgement. `--mode document-put`:")
    add("the same file streamed in one plain PutObject, which goes unsigned and unchecked.")
    add("`--mode document-put-checked`: the file's SHA-256, then one PutObject carrying it")
    add("(`x-amz-checksum-sha256`, and as the signed payload hash), which the server checks: the")
    add("least an upload the server checks costs, without wormlog. The three take turns, {} rounds.".format(docs["rounds"]))
    add("")
    add("| round | wormlog s | checked PutObject s | plain PutObject s | wormlog / checked | wormlog / plain | wormlog peak RSS MiB | PutObject peak RSS MiB |")
    add("|---|---|---|---|---|---|---|---|")
    for i, ((w, p), c) in enumerate(zip(docs["pairs"], docs["checked"]), 1):
        add("| {} | {:.3f} | {:.3f} | {:.3f} | {:.2f}x | {:.2f}x | {:.0f} | {:.0f} |".format(
            i, w["elapsed_secs"], c["elapsed_secs"], p["elapsed_secs"],
            w["elapsed_secs"] / c["elapsed_secs"], w["elapsed_secs"] / p["elapsed_secs"],
            w["peak_rss_bytes"] / 2**20, p["peak_rss_bytes"] / 2**20))
    add("")
    add("Median ratios: {:.2f}x a PutObject the server checks, {:.2f}x a plain one. What wormlog".format(
        docs["checked_ratio"], docs["ratio"]))
    add("adds to a checked upload is a HEAD for an existing copy and the event's segment; what a")
    add("checked upload adds to a plain one is two SHA-256 passes over the file. The writer's")
    add("cannot overlap the PUT: an attachment's key is its SHA-256 (one copy per document), so the")
    add("hash is known before the PUT starts; it takes {:.0f} ms for this file here (SHA-NI, measured".format(
        1000 * docs["sha256_secs"]))
    add("in this run), against a plain PUT of {:.3f} s over loopback (median), {:.2f}x that PUT".format(
        docs["put_secs"], 1 + docs["sha256_secs"] / docs["put_secs"]))
    add("before anything else. The server's pass is Ceph RGW checking the signed payload hash as it")
    add("receives the bytes (it ignores `x-amz-checksum-sha256`), on the same two cores: a checked")
    add("PutObject takes {:.3f} s (median). Over a network, where the same PUT takes longer, both".format(
        docs["checked_secs"]))
    add("passes are a smaller share: at 100 MB/s a 100 MB PUT takes 1 s.")
    add("In 8 MiB parts (`--parts-above 1048576`, the path of files above 1 GiB): {:.3f} s median,".format(
        docs["parts_secs"]))
    add("peak RSS {:.0f} MiB (3 parts in flight).".format(docs["rss_parts"] / 2**20))
    add("")
    add("## Cost of one append, cold")
    add("")
    add("`wormlog bench --mode cold-append --events {} --prefill {}`: a stream of {} slots under".format(
        cold["rounds"], cold["prefill_slots"], cold["prefill_slots"]))
    add("epoch 1; each round opens a writer as a new process would (a new S3 client, no verdict in")
    add("memory), appends one event under epoch 1 and closes, then one plain PUT of a segment's size")
    add("goes from a new client. Medians over the rounds.")
    add("")
    add("| | cold append | one plain PUT |")
    add("|---|---|---|")
    add("| requests | {} | 1 |".format(", ".join(
        "{} {}".format(n, op) for op, n in sorted(cold["requests_by_op"].items()))))
    add("| objects written | {:.0f} | 1 |".format(cold["objects_per_append"]["p50"]))
    add("| latency p50 (in process) | {:.1f} ms | {:.1f} ms |".format(
        cold["append_ms"]["p50"], cold["raw_put_ms"]["p50"]))
    add("| mean latency per request | {} | |".format(", ".join(
        "{} {:.1f} ms".format(op, ms) for op, ms in sorted(cold["latency_by_op_ms"].items())
        if op in cold["requests_by_op"])))
    add("| the command, end to end (20 runs) | {:.1f} ms | |".format(cold_cli["cli_append_ms"]))
    add("| process start (`wormlog --version`) | {:.1f} ms | |".format(cold_cli["process_start_ms"]))
    add("")
    add("Before, the same append sent 33 requests and wrote 2 objects (the capability probe, 19")
    add("HEADs to find the tail, a LIST, a HEAD, an epoch-start and the event), 0.33-0.44 s. Now:")
    add("the probe's verdict kept in the bucket (one GET, in parallel with the tail lookup), the")
    add("tail from one page of the version listing, the last segment's HEAD, and the event's PUT;")
    add("no epoch-start under the tail's own epoch. On Ceph RGW's memstore a ListObjectVersions")
    add("costs several PUTs whatever its size, which is most of what stands between the command")
    add("and the latency target.")
    add("")
    add("## Raw payloads against JSON events")
    add("")
    add("`--payload json`: JSON data of the event size. `raw`: raw bytes of the event size, inline")
    add("(their SHA-256 computed, base64 in the line). `base64-json`: the same bytes in base64 in a")
    add("JSON string, what users did by hand before raw payloads. A raw event of N bytes takes")
    add("about 4N/3 + 130 bytes in its segment (base64, and its content type, size and SHA-256);")
    add("\"same line\" is a JSON event whose line is as long as the raw event's, the one of the same")
    add("size in the log; raw against it is the median of {} rounds that alternate the two (each".format(
        len(pay[0]["pair_ratios"])))
    add("round's ratio in brackets), its events/s and those of the raw events in the same rounds")
    add("the medians of the rounds; the other columns are one run each, in the main bucket.")
    add("")
    add("| event B | store | json events/s | base64-json events/s | raw events/s | JSON, same line: data B, events/s (raw in those rounds) | raw / same line | raw / base64-json | raw / json |")
    add("|---|---|---|---|---|---|---|---|---|")
    for x in pay:
        for where in ("rgw", "memory"):
            j, b, r = x[where]["json"], x[where]["base64-json"], x[where]["raw"]
            same = ("{:,} B, {:,.0f} (raw: {:,.0f})".format(
                x["same_line"]["event_bytes"], x["same_line"]["events_per_sec"],
                x["same_line"]["raw_events_per_sec"])
                    if where == "rgw" else "")
            vs_same = ("{:.0f}% ({})".format(
                100 * x["raw_vs_same_line"],
                ", ".join("{:.0f}%".format(100 * q) for q in x["pair_ratios"]))
                if where == "rgw" else "")
            add("| {} | {} | {:,.0f} | {:,.0f} | {:,.0f} | {} | {} | {:.0f}% | {:.0f}% |".format(
                x["size"], "Ceph RGW" if where == "rgw" else "MemoryStore, one core",
                j["events_per_sec"], b["events_per_sec"], r["events_per_sec"], same, vs_same,
                100 * r["events_per_sec"] / b["events_per_sec"],
                100 * r["events_per_sec"] / j["events_per_sec"]))
    add("")
    add("On RGW a segment's PUT is bound by its bytes, so events/s follows line size: raw events")
    add("of N bytes are slower than JSON events of N bytes by their base64 and their recorded")
    add("SHA-256, and as fast as JSON events of their own size. On one core with no store to wait")
    add("for (MemoryStore), the SHA-256 of each payload is most of the rest (about 2 us per 4 KiB")
    add("here; Criterion: `cargo bench -p wormlog-benches --bench codec -- new_event`).")
    add("")
    notes = os.path.join("docs", "benchmarks-notes.md")
    if os.path.exists(notes):
        with open(notes) as f:
            add(f.read().rstrip())
        add("")
    with open(os.path.join(out, "benchmarks.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def documents(raw):
    pairs, checked = [], []
    i = 1
    while os.path.exists(os.path.join(raw, f"document-{i}.json")):
        pairs.append((load(raw, f"document-{i}.json"), load(raw, f"document-put-{i}.json")))
        checked.append(load(raw, f"document-put-checked-{i}.json"))
        i += 1
    parts = [load(raw, f"document-parts-{i}.json") for i in (1, 2, 3)]
    return dict(
        pairs=pairs,
        rounds=len(pairs),
        ratio=median([w["elapsed_secs"] / p["elapsed_secs"] for w, p in pairs]),
        checked=checked,
        checked_ratio=median([w["elapsed_secs"] / c["elapsed_secs"] for (w, _), c in zip(pairs, checked)]),
        checked_secs=median([c["elapsed_secs"] for c in checked]),
        rss_single=max(w["peak_rss_bytes"] for w, _ in pairs),
        rss_parts=max(p["peak_rss_bytes"] for p in parts),
        parts_secs=median([p["elapsed_secs"] for p in parts]),
        put_secs=median([p["elapsed_secs"] for _, p in pairs]),
        sha256_secs=load(raw, "document-sha256.json")["secs"],
    )


def payloads(raw):
    out = []
    for size in (256, 4096):
        x = dict(size=size, rgw={}, memory={})
        for payload in ("json", "base64-json", "raw"):
            x["rgw"][payload] = load(raw, f"payload-{payload}-{size}.json")
            x["memory"][payload] = load(raw, f"memory-payload-{payload}-{size}.json")
        # Rounds alternating raw events with JSON events of the same line length.
        pairs = []
        while os.path.exists(os.path.join(raw, f"pair-raw-{size}-{len(pairs) + 1}.json")):
            n = len(pairs) + 1
            pairs.append((load(raw, f"pair-raw-{size}-{n}.json"),
                          load(raw, f"pair-json-same-line-{size}-{n}.json")))
        x["same_line"] = dict(
            event_bytes=pairs[0][1]["event_bytes"],
            events_per_sec=median([j["events_per_sec"] for _, j in pairs]),
            raw_events_per_sec=median([r["events_per_sec"] for r, _ in pairs]))
        x["pair_ratios"] = [r["events_per_sec"] / j["events_per_sec"] for r, j in pairs]
        x["raw_vs_same_line"] = median(x["pair_ratios"])
        out.append(x)
    return out


def plot(out, rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [x["size"] for x in rows]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(sizes, [x["raw_events"] for x in rows], "k--", marker="s",
            label="raw PutObject ceiling (same bytes, in events)")
    ax.plot(sizes, [x["w"]["events_per_sec"] for x in rows], "b-", marker="o", label="wormlog append")
    ax.plot(sizes, [x["p"]["events_per_sec"] for x in rows], "r-", marker="^",
            label="per-event conditional PUT loop")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(sizes)
    ax.set_xticklabels([str(s) for s in sizes])
    ax.set_xlabel("event size (bytes of data)")
    ax.set_ylabel("events/s")
    ax.set_title("Append on Ceph RGW 16.2 (one run, side by side)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "benchmarks.png"), dpi=110)


if __name__ == "__main__":
    main()
