//! `wormlog bench`: append throughput and latency through real writers, on any store.
//!
//! Each of `--streams` writers appends its share of `--events` events of `--event-bytes`
//! bytes, keeping up to 10,000 appends in flight (group commit batches them). Reported:
//! events/s, MB/s of event data, segments/s, append latency (call to acknowledgement)
//! p50/p99/p999, and how many events each segment carried.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use wormlog::{LogWriter, WriterConfig};
use wormlog_store::{Clock, ObjectStore, SeededRng, SystemClock};

use super::{CliError, CliResult, Context};

/// Appends in flight per writer: enough for full batches, bounded memory.
const WINDOW: usize = 10_000;

#[derive(Args, Debug)]
pub(crate) struct BenchArgs {
    /// Events to append in all.
    #[arg(long, value_name = "N", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    events: u64,

    /// Bytes of JSON data per event (at least 2: an empty JSON string).
    #[arg(long, value_name = "B", default_value_t = 256, value_parser = clap::value_parser!(u64).range(2..=1_048_576))]
    event_bytes: u64,

    /// Largest segment, in bytes (group commit batches up to this).
    #[arg(long, value_name = "B", default_value_t = 4 << 20, value_parser = clap::value_parser!(u64).range(1024..=1 << 30))]
    max_batch_bytes: u64,

    /// Writers appending in parallel, each to its own stream.
    #[arg(long, value_name = "W", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    streams: u64,

    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    store: String,
    events: u64,
    event_bytes: u64,
    streams: u64,
    elapsed_secs: f64,
    events_per_sec: f64,
    mb_per_sec: f64,
    segments: u64,
    segments_per_sec: f64,
    latency_ms: Percentiles,
    /// Events per segment: how many segments carried 1, 2-9, 10-99, ... events.
    batch_sizes: BTreeMap<String, u64>,
}

#[derive(Serialize)]
struct Percentiles {
    p50: f64,
    p99: f64,
    p999: f64,
}

struct StreamRun {
    latencies: Vec<Duration>,
    per_slot: BTreeMap<u64, u64>,
    segments: u64,
}

pub(crate) async fn run(ctx: &Context, args: BenchArgs) -> CliResult<()> {
    let clock = Arc::new(SystemClock::new());
    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(args.events)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} events  {per_sec}  eta {eta}")
            .expect("a valid template"),
    );
    let run_id = SeededRng::from_entropy().uuid().simple().to_string();
    let payload = format!("\"{}\"", "x".repeat(args.event_bytes as usize - 2));
    let started = clock.monotonic();
    let mut tasks = Vec::new();
    for w in 0..args.streams {
        let share = args.events / args.streams + u64::from(w < args.events % args.streams);
        let mut cfg = WriterConfig::new(
            format!("bench-{}-{w}", &run_id[..8]),
            1,
            format!("bench-{w}"),
        );
        cfg.root_prefix = ctx.store.root_prefix.clone();
        cfg.max_batch_bytes = args.max_batch_bytes as usize;
        let (store, payload, clock, bar) = (
            Arc::clone(&ctx.store.store),
            payload.clone(),
            Arc::clone(&clock),
            bar.clone(),
        );
        tasks.push(tokio::spawn(async move {
            append_stream(store, cfg, share, &payload, &*clock, &bar).await
        }));
    }
    let mut runs = Vec::new();
    for t in tasks {
        runs.push(
            t.await
                .map_err(|e| CliError::store(format!("a bench writer failed: {e}")))??,
        );
    }
    let elapsed = (clock.monotonic() - started).as_secs_f64().max(1e-9);
    bar.finish_and_clear();
    let report = summarize(ctx, &args, runs, elapsed);
    print_report(&report, args.json);
    Ok(())
}

async fn append_stream(
    store: Arc<dyn ObjectStore>,
    cfg: WriterConfig,
    n: u64,
    payload: &str,
    clock: &dyn Clock,
    bar: &ProgressBar,
) -> CliResult<StreamRun> {
    let w = LogWriter::open(store, cfg).await?;
    let mut inflight = VecDeque::with_capacity(WINDOW);
    let mut run = StreamRun {
        latencies: Vec::with_capacity(n as usize),
        per_slot: BTreeMap::new(),
        segments: 0,
    };
    let settle = |sent: Duration, ack: wormlog::Appended, run: &mut StreamRun| {
        run.latencies.push(clock.monotonic().saturating_sub(sent));
        *run.per_slot.entry(ack.slot).or_default() += 1;
        bar.inc(1);
    };
    for _ in 0..n {
        inflight.push_back((clock.monotonic(), w.append("bench", payload)));
        if inflight.len() >= WINDOW {
            let (sent, f) = inflight.pop_front().expect("window is full");
            settle(sent, f.await?, &mut run);
        }
    }
    while let Some((sent, f)) = inflight.pop_front() {
        settle(sent, f.await?, &mut run);
    }
    run.segments = w.stats().segments;
    w.close().await;
    Ok(run)
}

fn summarize(ctx: &Context, args: &BenchArgs, runs: Vec<StreamRun>, elapsed: f64) -> Report {
    let mut latencies: Vec<Duration> = runs
        .iter()
        .flat_map(|r| r.latencies.iter().copied())
        .collect();
    latencies.sort_unstable();
    let pct = |q: f64| {
        let i = ((latencies.len() - 1) as f64 * q).round() as usize;
        latencies[i].as_secs_f64() * 1000.0
    };
    let mut batch_sizes = BTreeMap::new();
    for count in runs.iter().flat_map(|r| r.per_slot.values()) {
        let bucket = match count {
            1 => "1",
            2..=9 => "2-9",
            10..=99 => "10-99",
            100..=999 => "100-999",
            1000..=9999 => "1000-9999",
            _ => "10000+",
        };
        *batch_sizes.entry(bucket.to_owned()).or_default() += 1;
    }
    let segments: u64 = runs.iter().map(|r| r.segments).sum();
    Report {
        store: ctx.store.store.describe(),
        events: args.events,
        event_bytes: args.event_bytes,
        streams: args.streams,
        elapsed_secs: elapsed,
        events_per_sec: args.events as f64 / elapsed,
        mb_per_sec: (args.events * args.event_bytes) as f64 / elapsed / 1e6,
        segments,
        segments_per_sec: segments as f64 / elapsed,
        latency_ms: Percentiles {
            p50: pct(0.50),
            p99: pct(0.99),
            p999: pct(0.999),
        },
        batch_sizes,
    }
}

fn print_report(r: &Report, json: bool) {
    if json {
        println!("{}", serde_json::to_string(r).expect("reports serialise"));
        return;
    }
    println!(
        "wormlog bench: {} events of {} B, {} stream(s), on {}",
        r.events, r.event_bytes, r.streams, r.store
    );
    println!(
        "  {:.0} events/s   {:.2} MB/s   {:.0} segments/s   ({} segments in {:.2} s)",
        r.events_per_sec, r.mb_per_sec, r.segments_per_sec, r.segments, r.elapsed_secs
    );
    println!(
        "  append latency: p50 {:.2} ms   p99 {:.2} ms   p999 {:.2} ms",
        r.latency_ms.p50, r.latency_ms.p99, r.latency_ms.p999
    );
    let sizes: Vec<String> = r
        .batch_sizes
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    println!("  events per segment (segments): {}", sizes.join("   "));
}
