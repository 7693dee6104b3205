//! `wormlog bench`: append throughput and latency through real writers, on any store, and
//! the baselines it is judged against, measured the same way on the same store.
//!
//! - `--mode wormlog` (default): each of `--streams` writers appends its share of `--events`
//!   events of `--event-bytes` bytes through a writer with `--in-flight` segments in flight,
//!   keeping one batch's worth of appends more than that in flight (group commit batches
//!   them). `--rate` appends open loop instead, waiting while the writer is full
//!   (`--max-unacked-bytes`). Reported: events/s, MB/s of event data, segments/s, append latency (call to
//!   acknowledgement) p50/p99/p999, and how many events each segment carried. `--replay` then
//!   reads the streams back with `LogReader` and, side by side, with raw parallel GETs of the
//!   same segments.
//! - `--mode raw-put`: the same bytes as plain PutObjects of `--object-bytes` each,
//!   `--in-flight` at a time per stream (the writer's concurrency), no log logic: the ceiling.
//! - `--mode per-event`: one create-only PUT per event, one at a time: the naive log.
//! - `--payload raw` (wormlog mode): the events are raw bytes, inline in the segment, instead
//!   of JSON of the same size.
//! - `--mode document --file PATH`: one document appended from a file (an attachment above
//!   256 KiB, streamed in one PUT up to 1 GiB) and its acknowledgement; `--mode document-put
//!   --file PATH`: the same file streamed in one plain PutObject, the baseline;
//!   `--mode document-put-checked --file PATH`: the file's SHA-256, then one PutObject that
//!   carries it, which the server checks (the least an upload the server checks costs). All
//!   report the peak
//!   resident memory of the process and delete what they wrote afterwards (untimed), so a
//!   benchmark run does not fill the store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, ValueEnum};
use futures::stream::{self, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use wormlog::{LogReader, LogWriter, ScanItem, StreamKeys, WriterConfig};
use wormlog_format::{encode_segment, NewEvent, SegmentKind, SegmentSpec};
use wormlog_store::{
    list_all, Clock, DeleteOptions, ObjectStore, PutOptions, SeededRng, SystemClock,
};

use super::interrupt::Interrupt;
use super::{CliError, CliResult, Context};

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

    /// What to measure: wormlog's append, or a baseline on the same store (raw-put: plain
    /// PutObjects of --object-bytes, no log logic; per-event: one create-only PUT per event).
    #[arg(long, value_enum, default_value_t = Mode::Wormlog)]
    mode: Mode,

    /// raw-put: bytes per object (default: --max-batch-bytes).
    #[arg(long, value_name = "B", value_parser = clap::value_parser!(u64).range(1..=1 << 30))]
    object_bytes: Option<u64>,

    /// wormlog: afterwards, replay the streams and read the same segments with raw parallel
    /// GETs (8 in flight, as the reader prefetches), side by side.
    #[arg(long)]
    replay: bool,

    /// wormlog: what each event carries: JSON data of --event-bytes, raw bytes of
    /// --event-bytes (inline, base64 in the line), or those bytes in base64 in a JSON string.
    #[arg(long, value_enum, default_value_t = Payload::Json)]
    payload: Payload,

    /// document, document-put: the file to append or to PUT.
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,

    /// document: files larger than this go up as a multipart upload (default 1 GiB), to
    /// measure that path on a smaller file.
    #[arg(long, value_name = "B", value_parser = clap::value_parser!(u64).range(1..))]
    parts_above: Option<u64>,

    /// Print one JSON object instead of text.
    #[arg(long, conflicts_with = "csv")]
    json: bool,

    /// Print a CSV header and one row instead of text (for spreadsheets and plots).
    #[arg(long)]
    csv: bool,

    /// wormlog: append at this many events/s in all (open loop, as a controller does) instead
    /// of as fast as the store takes them; latency is then counted from each event's due time.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    rate: Option<u64>,

    /// cold-append: slots the stream holds before the cold appends (default 400).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000))]
    prefill: Option<u64>,

    /// wormlog: segments in flight per writer (pipelining, 1..=16); raw-put: PutObjects in
    /// flight per stream, for the ceiling at the same concurrency. Default: the writer's
    /// default window.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(wormlog_format::MAX_WINDOW)))]
    in_flight: Option<u32>,

    /// wormlog: the writer's backpressure budget in bytes (appends wait beyond it).
    #[arg(long, value_name = "B", value_parser = clap::value_parser!(u64).range(1..=1 << 34))]
    max_unacked_bytes: Option<u64>,

    /// Run even on a bucket with default retention, where everything the benchmark writes
    /// stays locked for the retention period.
    #[arg(long)]
    yes: bool,

    /// --mode wormlog: the writer signs checkpoints as it goes, with the key in FILE (at the
    /// default intervals, and at the end): what tamper evidence costs an append.
    #[arg(long, value_name = "FILE")]
    checkpoint_key: Option<PathBuf>,
}

impl BenchArgs {
    /// The window asked for, or the writer's default.
    fn in_flight(&self) -> u32 {
        self.in_flight.unwrap_or(wormlog_writer::DEFAULT_IN_FLIGHT)
    }
}

/// A flag that does not apply to the mode is refused, not ignored: a figure measured without
/// what was asked for would be taken for one measured with it.
fn refuse_flags_that_do_not_apply(args: &BenchArgs) -> CliResult<()> {
    let refuse = |flag: &str, modes: &str| {
        Err(CliError::usage(format!(
            "{flag} goes with --mode {modes}; it does not apply to --mode {}",
            args.mode
                .to_possible_value()
                .map_or_else(String::new, |v| v.get_name().to_owned())
        )))
    };
    if args.checkpoint_key.is_some() && args.mode != Mode::Wormlog {
        return refuse("--checkpoint-key", "wormlog");
    }
    if args.object_bytes.is_some() && args.mode != Mode::RawPut {
        return refuse("--object-bytes", "raw-put");
    }
    if args.rate.is_some() && args.mode != Mode::Wormlog {
        return refuse("--rate", "wormlog");
    }
    if args.max_unacked_bytes.is_some() && args.mode != Mode::Wormlog {
        return refuse("--max-unacked-bytes", "wormlog");
    }
    if args.in_flight.is_some() && !matches!(args.mode, Mode::Wormlog | Mode::RawPut) {
        return refuse("--in-flight", "wormlog or raw-put");
    }
    if args.streams > 1 && (args.mode.is_document() || args.mode == Mode::ColdAppend) {
        return refuse("--streams", "wormlog, raw-put or per-event");
    }
    if args.csv && (args.mode.is_document() || args.mode == Mode::ColdAppend) {
        return refuse("--csv", "wormlog, raw-put or per-event");
    }
    Ok(())
}

/// About how many bytes a run stores (payloads only; segments add their headers).
fn bytes_written(args: &BenchArgs, file_len: Option<u64>) -> u64 {
    match file_len {
        Some(len) => len,
        None => args.events.saturating_mul(args.event_bytes),
    }
}

/// On a bucket with default retention a benchmark's objects cannot be removed until the
/// retention ends: refuse unless `--yes`, saying what would be left behind.
async fn refuse_on_retained_bucket(ctx: &Context, args: &BenchArgs) -> CliResult<()> {
    if args.yes {
        return Ok(());
    }
    let default = ctx.store.store.default_retention().await.map_err(|e| {
        CliError::store(format!(
            "reading the bucket's default retention failed: {e}"
        ))
    })?;
    let Some(default) = default else {
        return Ok(());
    };
    let file_len = args
        .file
        .as_deref()
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| m.len());
    let mib = bytes_written(args, file_len) as f64 / (1 << 20) as f64;
    let who = match default.mode {
        wormlog_store::RetentionMode::Compliance => "nobody, the account root included, can delete",
        wormlog_store::RetentionMode::Governance => "only the governance bypass can delete",
    };
    Err(CliError::usage(format!(
        "{} has default retention ({default}): this benchmark would leave about {mib:.1} MiB \
         in up to {} objects that {who} for {} days; run it on a bucket without retention, \
         or pass --yes to accept that",
        ctx.store_url,
        if file_len.is_some() {
            3
        } else {
            args.events + args.streams
        },
        default.days
    )))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Payload {
    Json,
    Raw,
    /// A JSON string holding the same bytes in base64: what users did by hand before raw
    /// payloads, and as many bytes in the segment as an inline raw event.
    Base64Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Mode {
    Wormlog,
    RawPut,
    PerEvent,
    Document,
    DocumentPut,
    /// The file's SHA-256, then one PutObject carrying it (`x-amz-checksum-sha256`, and as the
    /// signed payload hash): an upload the server checks, without wormlog.
    DocumentPutChecked,
    /// One `wormlog append` as a new process makes it, --events times: requests, objects and
    /// latency against one plain PUT.
    ColdAppend,
}

impl Mode {
    /// The modes that send one document from `--file`.
    fn is_document(self) -> bool {
        matches!(
            self,
            Mode::Document | Mode::DocumentPut | Mode::DocumentPutChecked
        )
    }
}

/// Segments the reader and the raw GETs keep in flight.
const READ_AHEAD: usize = 8;

#[derive(Serialize)]
struct Report {
    mode: Mode,
    payload: Payload,
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
    /// wormlog: one append at a time on an idle writer (20 after the run, 5 ms apart).
    #[serde(skip_serializing_if = "Option::is_none")]
    idle_append_ms: Option<Percentiles>,
    /// The open-loop rate asked for (`--rate`), events/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    rate: Option<u64>,
    /// Segments (wormlog) or PutObjects (raw-put) in flight per stream.
    in_flight: u32,
    /// Events per segment: how many segments carried 1, 2-9, 10-99, ... events, in that order.
    batch_sizes: Vec<BatchBucket>,
    /// `release`, or `debug` (figures from a debug build are not representative).
    build: &'static str,
    /// Stopped early by Ctrl-C or SIGTERM: the figures cover what was done.
    interrupted: bool,
    /// Bytes of all objects written (segments with headers, or baseline objects).
    object_bytes_total: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    replay: Option<ReplayReport>,
    /// The process's peak resident memory (VmHWM; Linux only).
    #[serde(skip_serializing_if = "Option::is_none")]
    peak_rss_bytes: Option<u64>,
    /// CPU time (user and system, every thread) from the writers' open to their close, and
    /// per event (Linux only; 10 ms resolution).
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_secs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_us_per_event: Option<f64>,
    /// The writers signed checkpoints as they went (`--checkpoint-key`).
    checkpoints: bool,
}

/// One bar of the events-per-segment histogram.
#[derive(Serialize)]
struct BatchBucket {
    events: &'static str,
    segments: u64,
}

/// The build this binary is.
fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// Reading the benchmark's streams back, both ways, over the same segments.
#[derive(Serialize)]
struct ReplayReport {
    segment_bytes: u64,
    /// `LogReader` scans: decode, CRC, reader rules, events delivered.
    replay_mb_per_sec: f64,
    replay_events_per_sec: f64,
    /// Plain GETs of the same keys, `READ_AHEAD` in flight per stream, bytes discarded.
    raw_get_mb_per_sec: f64,
}

#[derive(Serialize)]
struct Percentiles {
    p50: f64,
    p99: f64,
    p999: f64,
}

/// What one stream (one writer, or one baseline loop) did.
struct StreamRun {
    stream: String,
    /// Per append (wormlog) or per PUT (baselines).
    latencies: Vec<Duration>,
    /// wormlog: single appends on the idle writer after the run.
    idle: Vec<Duration>,
    /// wormlog: when the writer was open and the run proper began (its open, the probe and
    /// the epoch-start are not part of append throughput), and when it ended (before the
    /// idle appends).
    began_at: Option<Duration>,
    finished_at: Option<Duration>,
    per_slot: BTreeMap<u64, u64>,
    segments: u64,
    bytes: u64,
}

pub(crate) async fn run(ctx: &Context, args: BenchArgs) -> CliResult<()> {
    let clock = Arc::new(SystemClock::new());
    if args.file.is_some() != args.mode.is_document() {
        return Err(CliError::usage(
            "--file goes with --mode document, document-put or document-put-checked, and those modes need it",
        ));
    }
    if args.parts_above.is_some() && args.mode != Mode::Document {
        return Err(CliError::usage("--parts-above goes with --mode document"));
    }
    if args.payload != Payload::Json && args.mode != Mode::Wormlog {
        return Err(CliError::usage(
            "--payload measures wormlog's own append; use it with --mode wormlog",
        ));
    }
    if args.prefill.is_some() && args.mode != Mode::ColdAppend {
        return Err(CliError::usage("--prefill goes with --mode cold-append"));
    }
    refuse_flags_that_do_not_apply(&args)?;
    refuse_on_retained_bucket(ctx, &args).await?;
    if args.mode == Mode::ColdAppend {
        let prefill = args.prefill.unwrap_or(400);
        return super::bench_cold::run(ctx, args.events, prefill, args.event_bytes, args.json)
            .await;
    }
    if let Some(path) = &args.file {
        return document(ctx, &args, path, &*clock).await;
    }
    let bar = if args.json || args.csv {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(args.events)
    };
    if build_profile() == "debug" && !args.json && !args.csv {
        eprintln!("wormlog bench: this is a debug build; its figures are not representative (cargo build --release)");
    }
    let stop = Interrupt::listen();
    let pace = Pace {
        interval: args
            .rate
            .map(|r| Duration::from_secs_f64(args.streams as f64 / r as f64)),
        stop: stop.clone(),
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} events  {per_sec}  eta {eta}")
            .expect("a valid template"),
    );
    let run_id = SeededRng::from_entropy().uuid().simple().to_string();
    let payload = format!("\"{}\"", "x".repeat(args.event_bytes as usize - 2));
    let raw: Vec<u8> = (0..args.event_bytes)
        .map(|i| (i * 131 % 251) as u8)
        .collect();
    let body = match args.payload {
        Payload::Json => Body::Json(payload.clone()),
        Payload::Raw => Body::Raw(Bytes::from(raw)),
        Payload::Base64Json => Body::Json(format!(
            "\"{}\"",
            base64_simd::STANDARD.encode_to_string(&raw)
        )),
    };
    let checkpoints = match &args.checkpoint_key {
        Some(path) => Some(wormlog_writer::CheckpointPolicy::new(super::tlog::signer(
            Some(path),
            "--checkpoint-key",
        )?)),
        None => None,
    };
    let cpu_before = cpu_secs();
    let started = clock.monotonic();
    let mut tasks = Vec::new();
    for w in 0..args.streams {
        let share = args.events / args.streams + u64::from(w < args.events % args.streams);
        let stream = format!("bench-{}-{w}", &run_id[..8]);
        let keys = StreamKeys::new(&ctx.store.root_prefix, &stream)
            .map_err(|e| CliError::usage(e.to_string()))?;
        let (store, payload, body, clock, bar, pace) = (
            Arc::clone(&ctx.store.store),
            payload.clone(),
            body.clone(),
            Arc::clone(&clock),
            bar.clone(),
            pace.clone(),
        );
        match args.mode {
            Mode::Wormlog => {
                let mut cfg = WriterConfig::new(stream, 1, format!("bench-{w}"));
                cfg.root_prefix = ctx.store.root_prefix.clone();
                cfg.max_batch_bytes = args.max_batch_bytes as usize;
                cfg.in_flight = args.in_flight();
                cfg.checkpoints = checkpoints.clone();
                if let Some(max) = args.max_unacked_bytes {
                    cfg.max_unacked_bytes = max as usize;
                }
                tasks.push(tokio::spawn(async move {
                    append_stream(store, cfg, share, &body, pace, &*clock, &bar).await
                }));
            }
            Mode::RawPut => {
                let total = share * args.event_bytes;
                let size = args.object_bytes.unwrap_or(args.max_batch_bytes);
                let s3 = ctx.store.s3.clone();
                let in_flight = args.in_flight() as usize;
                tasks.push(tokio::spawn(async move {
                    let put = RawPut { store, s3 };
                    put.run(
                        keys,
                        total,
                        size,
                        args.event_bytes,
                        in_flight,
                        &*clock,
                        &bar,
                    )
                    .await
                }));
            }
            Mode::PerEvent => {
                tasks.push(tokio::spawn(async move {
                    per_event_stream(store, keys, share, &payload, &*clock, &bar).await
                }));
            }
            Mode::Document | Mode::DocumentPut | Mode::DocumentPutChecked => {
                unreachable!("measured by document()")
            }
            Mode::ColdAppend => unreachable!("measured by bench_cold::run"),
        }
    }
    let mut runs = Vec::new();
    for t in tasks {
        runs.push(
            t.await
                .map_err(|e| CliError::store(format!("a bench writer failed: {e}")))??,
        );
    }
    // The last stream's end of the run proper (wormlog streams then time idle appends).
    let ended = runs
        .iter()
        .filter_map(|r| r.finished_at)
        .max()
        .unwrap_or_else(|| clock.monotonic());
    let began = runs
        .iter()
        .filter_map(|r| r.began_at)
        .min()
        .unwrap_or(started);
    let elapsed = (ended - began.max(started)).as_secs_f64().max(1e-9);
    let cpu = cpu_before.zip(cpu_secs()).map(|(a, b)| b - a);
    bar.finish_and_clear();
    let replay = match (args.replay, args.mode) {
        (true, Mode::Wormlog) => Some(replay(ctx, &runs, &*clock).await?),
        (true, _) => {
            return Err(CliError::usage(
                "--replay reads back a wormlog log; use it with --mode wormlog",
            ))
        }
        (false, _) => None,
    };
    let workload = Workload {
        interrupted: stop.received().is_some(),
        ..Workload::of(&args)
    };
    let mut report = summarize(ctx, &workload, runs, elapsed);
    report.replay = replay;
    report.cpu_secs = cpu;
    report.cpu_us_per_event = cpu.map(|c| c * 1e6 / report.events.max(1) as f64);
    report.checkpoints = args.checkpoint_key.is_some();
    if args.csv {
        print_csv(&report);
    } else {
        print_report(&report, args.json);
    }
    match stop.received() {
        Some(signal) => Err(CliError {
            code: signal.exit_code(),
            message: format!(
                "interrupted by {}: the figures above cover the {} events appended before it",
                signal.name(),
                report.events
            ),
        }),
        None => Ok(()),
    }
}

/// The raw ceiling: plain PutObjects on S3 (`S3Store::put_unconditional`); stores without
/// an unconditional put (memory, directory) use create-only puts of fresh keys.
struct RawPut {
    store: Arc<dyn ObjectStore>,
    s3: Option<Arc<wormlog_s3::S3Store>>,
}

impl RawPut {
    /// PUTs `total` bytes as objects of `size` bytes, `in_flight` at a time.
    #[allow(clippy::too_many_arguments)]
    async fn run(
        &self,
        keys: StreamKeys,
        total: u64,
        size: u64,
        event_bytes: u64,
        in_flight: usize,
        clock: &dyn Clock,
        bar: &ProgressBar,
    ) -> CliResult<StreamRun> {
        use futures::stream::{self, StreamExt, TryStreamExt};
        let mut run = StreamRun::new(keys.stream());
        let body = Bytes::from(vec![b'x'; size as usize]);
        let objects = total.div_ceil(size.max(1));
        let puts = stream::iter(0..objects).map(|i| {
            let n = size.min(total - i * size);
            let (key, object) = (keys.segment(i), body.slice(..n as usize));
            async move {
                let started = clock.monotonic();
                match &self.s3 {
                    Some(s3) => s3.put_unconditional(&key, object).await?,
                    None => {
                        self.store
                            .put_if_absent(&key, object, &PutOptions::default())
                            .await?;
                    }
                }
                Ok::<_, CliError>((n, clock.monotonic().saturating_sub(started)))
            }
        });
        let mut done = puts.buffer_unordered(in_flight.max(1));
        while let Some((n, took)) = done.try_next().await? {
            run.latencies.push(took);
            run.segments += 1;
            run.bytes += n;
            bar.set_position(bar.position() + n / event_bytes.max(1));
        }
        Ok(run)
    }
}

/// The naive log: each event its own one-event segment, created with a create-only PUT,
/// one at a time.
async fn per_event_stream(
    store: Arc<dyn ObjectStore>,
    keys: StreamKeys,
    n: u64,
    payload: &str,
    clock: &dyn Clock,
    bar: &ProgressBar,
) -> CliResult<StreamRun> {
    let mut run = StreamRun::new(keys.stream());
    let mut ids = SeededRng::from_entropy();
    for seq in 0..n {
        let started = clock.monotonic();
        let event = NewEvent::new(ids.uuid(), "bench", clock.now().to_rfc3339(), payload)
            .map_err(|e| CliError::usage(e.to_string()))?;
        let spec = SegmentSpec {
            stream: keys.stream().to_owned(),
            slot: seq,
            kind: SegmentKind::Events,
            first_seq: seq,
            epoch: 1,
            writer: "bench".into(),
            write_id: ids.uuid(),
            prev: None,
            window: 1,
            created_at: clock.now().to_rfc3339(),
        };
        let (body, _) = encode_segment(&spec, &[event]);
        run.bytes += body.len() as u64;
        store
            .put_if_absent(&keys.segment(seq), body, &PutOptions::default())
            .await?;
        run.latencies
            .push(clock.monotonic().saturating_sub(started));
        run.segments += 1;
        *run.per_slot.entry(seq).or_default() += 1;
        bar.inc(1);
    }
    Ok(run)
}

/// Reads every stream back twice, side by side: raw parallel GETs of its segments, then a
/// `LogReader` scan; streams are read in parallel.
async fn replay(ctx: &Context, runs: &[StreamRun], clock: &dyn Clock) -> CliResult<ReplayReport> {
    let store = &ctx.store.store;
    let mut keys = Vec::new();
    let mut segment_bytes = 0u64;
    for r in runs {
        let k = StreamKeys::new(&ctx.store.root_prefix, &r.stream)
            .map_err(|e| CliError::usage(e.to_string()))?;
        let listed = list_all(&**store, &k.log_prefix(), None).await?;
        segment_bytes += listed.iter().map(|e| e.size).sum::<u64>();
        keys.push((k, listed.into_iter().map(|e| e.key).collect::<Vec<_>>()));
    }
    let started = clock.monotonic();
    let raw = keys.iter().map(|(_, objects)| async move {
        let mut gets = stream::iter(objects)
            .map(|key| async move { store.get(key).await.map(|g| g.body.len()) })
            .buffered(READ_AHEAD);
        while let Some(got) = gets.next().await {
            got?;
        }
        Ok::<(), wormlog_store::StoreError>(())
    });
    for r in futures::future::join_all(raw).await {
        r?;
    }
    let raw_secs = (clock.monotonic() - started).as_secs_f64().max(1e-9);

    let started = clock.monotonic();
    let scans = keys.iter().map(|(k, _)| async move {
        let reader = LogReader::new(Arc::clone(store), &ctx.store.root_prefix, k.stream())?
            .with_prefetch(READ_AHEAD);
        let mut scan = reader.scan(0).await?;
        let mut events = 0u64;
        while let Some(item) = scan.next().await? {
            events += u64::from(matches!(item, ScanItem::Event(_)));
        }
        Ok::<u64, wormlog::ReadError>(events)
    });
    let mut events = 0;
    for r in futures::future::join_all(scans).await {
        events += r?;
    }
    let replay_secs = (clock.monotonic() - started).as_secs_f64().max(1e-9);
    Ok(ReplayReport {
        segment_bytes,
        replay_mb_per_sec: segment_bytes as f64 / replay_secs / 1e6,
        replay_events_per_sec: events as f64 / replay_secs,
        raw_get_mb_per_sec: segment_bytes as f64 / raw_secs / 1e6,
    })
}

impl StreamRun {
    fn new(stream: &str) -> StreamRun {
        StreamRun {
            stream: stream.to_owned(),
            latencies: Vec::new(),
            idle: Vec::new(),
            began_at: None,
            finished_at: None,
            per_slot: BTreeMap::new(),
            segments: 0,
            bytes: 0,
        }
    }
}

/// What each appended event carries.
#[derive(Clone)]
enum Body {
    Json(String),
    Raw(Bytes),
}

impl Body {
    /// About how many bytes the event takes in a segment.
    fn line_bytes(&self) -> usize {
        match self {
            Body::Json(data) => data.len() + 150,
            Body::Raw(bytes) => bytes.len().div_ceil(3) * 4 + 250,
        }
    }
}

async fn append_stream(
    store: Arc<dyn ObjectStore>,
    cfg: WriterConfig,
    n: u64,
    body: &Body,
    pace: Pace,
    clock: &dyn Clock,
    bar: &ProgressBar,
) -> CliResult<StreamRun> {
    let mut run = StreamRun::new(&cfg.stream);
    // One batch's worth more than the writer's window in flight: the window's batches being
    // committed while the next fills, so every segment is full (one batch's worth would
    // alternate full and near-empty segments), and an append waits for at most the window
    // ahead of its own.
    let per_batch = cfg
        .max_batch_events
        .min(cfg.max_batch_bytes / body.line_bytes());
    let window = (cfg.in_flight as usize + 1) * per_batch.max(1);
    let idle_cfg = WriterConfig {
        stream: format!("{}-idle", cfg.stream),
        ..cfg.clone()
    };
    let w = LogWriter::open(Arc::clone(&store), cfg).await?;
    run.began_at = Some(clock.monotonic());
    run.latencies.reserve(n as usize);
    // Closed loop: at most `window` appends in flight. Open loop (`--rate`): each event when
    // it is due, whatever is in flight; its latency counts from then, so a slow store shows
    // up as latency, not as a lower rate.
    let permits = tokio::sync::Semaphore::new(window);
    let (tx, mut rx) =
        tokio::sync::mpsc::unbounded_channel::<(Duration, wormlog_writer::AppendFuture)>();
    let produce = async {
        let begun = clock.monotonic();
        for i in 0..n {
            if pace.stop.received().is_some() {
                break; // Ctrl-C: what is in flight settles and is reported
            }
            let sent = match pace.interval {
                Some(every) => {
                    let due = begun + every.mul_f64(i as f64);
                    if let Some(wait) = due.checked_sub(clock.monotonic()) {
                        tokio::time::sleep(wait).await;
                    }
                    due
                }
                None => match permits.acquire().await {
                    Ok(p) => {
                        p.forget();
                        clock.monotonic()
                    }
                    Err(_) => break, // the settling side failed
                },
            };
            let f = append_one(&w, body).await?;
            if tx.send((sent, f)).is_err() {
                break;
            }
        }
        drop(tx);
        Ok::<(), CliError>(())
    };
    let settle_all = async {
        let result = async {
            while let Some((sent, f)) = rx.recv().await {
                let ack = f.await?;
                run.latencies.push(clock.monotonic().saturating_sub(sent));
                *run.per_slot.entry(ack.slot).or_default() += 1;
                bar.inc(1);
                permits.add_permits(1);
            }
            Ok::<(), CliError>(())
        }
        .await;
        permits.close();
        result
    };
    let (produced, settled) = tokio::join!(produce, settle_all);
    settled?;
    produced?;
    // The run's figures end here; the idle appends below are measured apart.
    run.finished_at = Some(clock.monotonic());
    let stats = w.stats();
    run.segments = stats.segments;
    run.bytes = stats.bytes;
    w.close().await;
    if pace.stop.received().is_none() {
        // One append at a time on an idle writer: what a lone event costs. On a stream of its
        // own, so the run's stream (replayed, and sized for the baselines) holds the run alone.
        let idle = LogWriter::open(store, idle_cfg).await?;
        for _ in 0..IDLE_APPENDS {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let started = clock.monotonic();
            append_one(&idle, body).await?.await?;
            run.idle.push(clock.monotonic().saturating_sub(started));
        }
        idle.close().await;
    }
    Ok(run)
}

/// Single appends on an idle writer after a run (on the stream `<stream>-idle`).
const IDLE_APPENDS: usize = 20;

/// How a benchmark writer paces itself, and what stops it.
#[derive(Clone)]
struct Pace {
    /// `--rate`, per stream: one event every this long.
    interval: Option<Duration>,
    stop: Interrupt,
}

/// Queues one event, waiting while the writer is full (`--max-unacked-bytes`), so an open
/// loop faster than the store holds at most that much in memory.
async fn append_one(w: &LogWriter, body: &Body) -> CliResult<wormlog_writer::AppendFuture> {
    let event = match body {
        Body::Json(data) => w.event("bench", data)?,
        Body::Raw(bytes) => {
            w.raw_event("bench", "application/octet-stream", bytes.clone())
                .await?
        }
    };
    Ok(w.queue(event).await?)
}

/// What was measured: the shape of the workload a report describes.
struct Workload {
    mode: Mode,
    payload: Payload,
    events: u64,
    event_bytes: u64,
    streams: u64,
    rate: Option<u64>,
    in_flight: u32,
    interrupted: bool,
}

impl Workload {
    fn of(args: &BenchArgs) -> Workload {
        Workload {
            mode: args.mode,
            payload: args.payload,
            events: args.events,
            event_bytes: args.event_bytes,
            streams: args.streams,
            rate: args.rate,
            in_flight: args.in_flight(),
            interrupted: false,
        }
    }
}

/// p50, p99 and p999 of `sorted`, in ms (zeros when it is empty).
fn percentiles(sorted: &[Duration]) -> Percentiles {
    let at = |q: f64| {
        let i = (sorted.len().saturating_sub(1) as f64 * q).round() as usize;
        sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Percentiles {
        p50: at(0.50),
        p99: at(0.99),
        p999: at(0.999),
    }
}

fn summarize(ctx: &Context, args: &Workload, runs: Vec<StreamRun>, elapsed: f64) -> Report {
    let mut latencies: Vec<Duration> = runs
        .iter()
        .flat_map(|r| r.latencies.iter().copied())
        .collect();
    latencies.sort_unstable();
    // In numeric order (a map of strings would put 10-99 before 2-9).
    const BUCKETS: [&str; 6] = ["1", "2-9", "10-99", "100-999", "1000-9999", "10000+"];
    let mut counts = [0u64; 6];
    for &count in runs.iter().flat_map(|r| r.per_slot.values()) {
        let i = match count {
            1 => 0,
            2..=9 => 1,
            10..=99 => 2,
            100..=999 => 3,
            1000..=9999 => 4,
            _ => 5,
        };
        counts[i] += 1;
    }
    let batch_sizes = BUCKETS
        .iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .map(|(&events, segments)| BatchBucket { events, segments })
        .collect();
    let mut idle: Vec<Duration> = runs.iter().flat_map(|r| r.idle.iter().copied()).collect();
    idle.sort_unstable();
    let idle_append_ms = (!idle.is_empty()).then(|| percentiles(&idle));
    // Latencies are per append for wormlog (so they count what an interrupted run did), per
    // PUT for the baselines.
    let events = match args.mode {
        Mode::Wormlog => latencies.len() as u64,
        _ => args.events,
    };
    let segments: u64 = runs.iter().map(|r| r.segments).sum();
    Report {
        mode: args.mode,
        payload: args.payload,
        store: ctx.store.store.describe(),
        events,
        event_bytes: args.event_bytes,
        streams: args.streams,
        elapsed_secs: elapsed,
        events_per_sec: events as f64 / elapsed,
        mb_per_sec: (events * args.event_bytes) as f64 / elapsed / 1e6,
        segments,
        segments_per_sec: segments as f64 / elapsed,
        latency_ms: percentiles(&latencies),
        idle_append_ms,
        rate: args.rate,
        in_flight: args.in_flight,
        batch_sizes,
        build: build_profile(),
        interrupted: args.interrupted,
        object_bytes_total: runs.iter().map(|r| r.bytes).sum(),
        replay: None,
        peak_rss_bytes: peak_rss_bytes(),
        cpu_secs: None,
        cpu_us_per_event: None,
        checkpoints: false,
    }
}

fn print_report(r: &Report, json: bool) {
    if json {
        out!("{}", serde_json::to_string(r).expect("reports serialise"));
        return;
    }
    let what = match (r.mode, r.payload) {
        (Mode::Wormlog, Payload::Json) => "wormlog append",
        (Mode::Wormlog, Payload::Raw) => "wormlog append of raw inline events",
        (Mode::Wormlog, Payload::Base64Json) => "wormlog append of base64 in JSON strings",
        (Mode::RawPut, _) => "raw PutObject baseline (latency per PUT)",
        (Mode::PerEvent, _) => "per-event create-only PUT baseline (latency per PUT)",
        (Mode::Document, _) => "wormlog append of one document file",
        (Mode::DocumentPut, _) => "single PutObject of the same file (baseline)",
        (Mode::DocumentPutChecked, _) => {
            "the file's SHA-256, then one PutObject the server checks against it"
        }
        (Mode::ColdAppend, _) => "one cold append at a time",
    };
    out!(
        "wormlog bench: {what}: {} events of {} B, {} stream(s), on {} ({} build{})",
        r.events,
        r.event_bytes,
        r.streams,
        r.store,
        r.build,
        if r.interrupted { ", interrupted" } else { "" }
    );
    if r.mode.is_document() {
        out!(
            "  {:.1} MB in {:.3} s: {:.2} MB/s   ({} objects, {} bytes stored)",
            r.event_bytes as f64 / 1e6,
            r.elapsed_secs,
            r.mb_per_sec,
            r.segments,
            r.object_bytes_total
        );
        if let Some(rss) = r.peak_rss_bytes {
            out!(
                "  peak resident memory: {:.1} MiB",
                rss as f64 / (1 << 20) as f64
            );
        }
        return;
    }
    out!(
        "  {:.0} events/s   {:.2} MB/s   {:.0} segments/s   ({} segments in {:.2} s)",
        r.events_per_sec,
        r.mb_per_sec,
        r.segments_per_sec,
        r.segments,
        r.elapsed_secs
    );
    out!(
        "  append latency: p50 {:.2} ms   p99 {:.2} ms   p999 {:.2} ms",
        r.latency_ms.p50,
        r.latency_ms.p99,
        r.latency_ms.p999
    );
    if let (Some(cpu), Some(per)) = (r.cpu_secs, r.cpu_us_per_event) {
        let signed = if r.checkpoints {
            ", signing checkpoints"
        } else {
            ""
        };
        out!("  cpu: {cpu:.2} s, {per:.3} us per event{signed}");
    }
    if let Some(rate) = r.rate {
        out!("  open loop at {rate} events/s: latency counts from each event's due time");
    }
    if let Some(idle) = &r.idle_append_ms {
        out!(
            "  one append on an idle writer: p50 {:.2} ms   p99 {:.2} ms",
            idle.p50,
            idle.p99
        );
    }
    let sizes: Vec<String> = r
        .batch_sizes
        .iter()
        .map(|b| format!("{}: {}", b.events, b.segments))
        .collect();
    out!("  events per segment (segments): {}", sizes.join("   "));
    if let Some(rss) = r.peak_rss_bytes {
        out!(
            "  peak resident memory: {:.1} MiB",
            rss as f64 / (1 << 20) as f64
        );
    }
    if let Some(p) = &r.replay {
        out!(
            "  replay: {:.2} MB/s ({:.0} events/s); raw parallel GET of the same {} bytes: {:.2} MB/s ({:.0}%)",
            p.replay_mb_per_sec,
            p.replay_events_per_sec,
            p.segment_bytes,
            p.raw_get_mb_per_sec,
            100.0 * p.replay_mb_per_sec / p.raw_get_mb_per_sec
        );
    }
}

/// `--csv`: a header and one row of the figures every mode has.
fn print_csv(r: &Report) {
    let mode = serde_json::to_value(r.mode).expect("modes serialise");
    let payload = serde_json::to_value(r.payload).expect("payloads serialise");
    out!("mode,payload,events,event_bytes,streams,rate,elapsed_secs,events_per_sec,mb_per_sec,segments,p50_ms,p99_ms,p999_ms,idle_p50_ms,object_bytes_total,peak_rss_bytes,build,interrupted");
    out!(
        "{},{},{},{},{},{},{:.3},{:.1},{:.3},{},{:.3},{:.3},{:.3},{},{},{},{},{}",
        mode.as_str().unwrap_or_default(),
        payload.as_str().unwrap_or_default(),
        r.events,
        r.event_bytes,
        r.streams,
        r.rate.map_or(String::new(), |x| x.to_string()),
        r.elapsed_secs,
        r.events_per_sec,
        r.mb_per_sec,
        r.segments,
        r.latency_ms.p50,
        r.latency_ms.p99,
        r.latency_ms.p999,
        r.idle_append_ms
            .as_ref()
            .map_or(String::new(), |i| format!("{:.3}", i.p50)),
        r.object_bytes_total,
        r.peak_rss_bytes.map_or(String::new(), |x| x.to_string()),
        r.build,
        r.interrupted
    );
}

/// One document from a file, appended through a writer (`document`) or sent as one plain
/// PutObject (`document-put`), timed from the first read of the file to the acknowledgement.
/// Everything written is deleted afterwards, untimed.
async fn document(
    ctx: &Context,
    args: &BenchArgs,
    path: &Path,
    clock: &dyn Clock,
) -> CliResult<()> {
    let len = std::fs::metadata(path)
        .map_err(|e| CliError::usage(format!("cannot read --file {}: {e}", path.display())))?
        .len();
    let run_id = SeededRng::from_entropy().uuid().simple().to_string();
    let stream = format!("bench-{}-doc", &run_id[..8]);
    let keys = StreamKeys::new(&ctx.store.root_prefix, &stream)
        .map_err(|e| CliError::usage(e.to_string()))?;
    let store = Arc::clone(&ctx.store.store);
    let mut run = StreamRun::new(&stream);
    let elapsed = match args.mode {
        Mode::Document => {
            let mut cfg = WriterConfig::new(stream.clone(), 1, "bench-doc");
            cfg.root_prefix = ctx.store.root_prefix.clone();
            cfg.parts_above = args.parts_above.unwrap_or(cfg.parts_above);
            let w = LogWriter::open(Arc::clone(&store), cfg).await?;
            let started = clock.monotonic();
            let event = w
                .file_event("bench", "application/octet-stream", path)
                .await?;
            let ack = w.append_event(event).await?;
            let elapsed = clock.monotonic().saturating_sub(started);
            *run.per_slot.entry(ack.slot).or_default() += 1;
            w.close().await;
            elapsed
        }
        _ => {
            let key = keys.segment(0);
            let started = clock.monotonic();
            match (args.mode, &ctx.store.s3) {
                (Mode::DocumentPutChecked, _) => {
                    let (digest, _) = wormlog_writer::sha256_of_file(path).await.map_err(|e| {
                        CliError::usage(format!("cannot read --file {}: {e}", path.display()))
                    })?;
                    let opts = PutOptions {
                        sha256: Some(digest),
                        ..PutOptions::default()
                    };
                    store.put_file_if_absent(&key, path, &opts).await?;
                }
                (_, Some(s3)) => s3.put_file_unconditional(&key, path).await?,
                (_, None) => {
                    store
                        .put_file_if_absent(&key, path, &PutOptions::default())
                        .await?;
                }
            }
            clock.monotonic().saturating_sub(started)
        }
    };
    run.latencies.push(elapsed);
    let written = list_all(&*store, keys.prefix(), None).await?;
    run.bytes = written.iter().map(|e| e.size).sum();
    run.segments = written.len() as u64;
    let work = Workload {
        mode: args.mode,
        payload: args.payload,
        events: 1,
        event_bytes: len,
        streams: 1,
        rate: None,
        in_flight: 1,
        interrupted: false,
    };
    let report = summarize(ctx, &work, vec![run], elapsed.as_secs_f64().max(1e-9));
    for object in written {
        store.delete(&object.key, &DeleteOptions::default()).await?;
    }
    print_report(&report, args.json);
    Ok(())
}

/// The process's peak resident set size, from /proc/self/status (Linux).
/// The process's CPU time so far, user and system, all threads: /proc/self/stat's utime and
/// stime, in the kernel's fixed 100 ticks a second (Linux only).
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
