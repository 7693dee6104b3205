//! `wormlog bench --mode cold-append`: what one `wormlog append` costs a process that starts
//! cold (a new client, no verdict in memory) on a stream that already has `--prefill` slots
//! under the writer's epoch: requests by operation, objects written, and latency, against one
//! plain PUT of the same size from a new client, side by side, round by round.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use wormlog::{LogWriter, WriterConfig};
use wormlog_store::{Clock, FaultStore, ObjectStore, Op, PutOptions, SeededRng, SystemClock};

use super::{CliError, CliResult, Context};

#[derive(Serialize)]
struct ColdReport {
    mode: &'static str,
    store: String,
    rounds: u64,
    prefill_slots: u64,
    event_bytes: u64,
    /// Requests of one cold append, by operation (the median round's).
    requests_by_op: BTreeMap<String, usize>,
    /// Mean latency per request by operation over all rounds, in ms (S3 stores).
    latency_by_op_ms: BTreeMap<String, f64>,
    requests_per_append: Stats,
    objects_per_append: Stats,
    append_ms: Stats,
    raw_put_ms: Stats,
    /// Median cold append over median raw PUT.
    append_over_put: f64,
}

#[derive(Serialize, Default)]
struct Stats {
    p50: f64,
    max: f64,
}

fn stats(mut v: Vec<f64>) -> Stats {
    v.sort_by(f64::total_cmp);
    Stats {
        p50: v.get(v.len() / 2).copied().unwrap_or(0.0),
        max: v.last().copied().unwrap_or(0.0),
    }
}

/// A store as a new process gets it: a new S3 client (new connections) for `s3://`, which
/// counts its own requests; the same store otherwise, wrapped to count what it is asked (a
/// wrapper would change an S3 store's name, and with it which probe verdict applies).
enum Fresh {
    S3(Arc<wormlog_s3::S3Store>),
    Local(FaultStore),
}

impl Fresh {
    async fn new(ctx: &Context) -> Fresh {
        match &ctx.store.s3 {
            Some(s3) => Fresh::S3(Arc::new(
                wormlog_s3::S3Store::connect(s3.config().clone()).await,
            )),
            None => Fresh::Local(FaultStore::new(Arc::clone(&ctx.store.store))),
        }
    }

    fn store(&self) -> Arc<dyn ObjectStore> {
        match self {
            Fresh::S3(s) => Arc::clone(s) as Arc<dyn ObjectStore>,
            Fresh::Local(f) => Arc::new(f.clone()),
        }
    }

    /// Requests by operation, and how many objects were written.
    fn counted(&self) -> (BTreeMap<String, usize>, usize) {
        let mut ops = BTreeMap::new();
        let mut objects = 0;
        match self {
            Fresh::S3(s) => {
                for r in s.request_stats() {
                    ops.insert(r.op.to_owned(), r.requests as usize);
                    if matches!(r.op, "put_if_absent" | "put_if_match") {
                        objects += (r.requests - r.errors) as usize;
                    }
                }
            }
            Fresh::Local(f) => {
                for r in f.journal() {
                    *ops.entry(r.op.name().to_owned()).or_insert(0) += 1;
                    if matches!(r.op, Op::PutIfAbsent | Op::PutIfMatch) && r.error.is_none() {
                        objects += 1;
                    }
                }
            }
        }
        ops.retain(|_, n| *n > 0);
        (ops, objects)
    }
}

pub(crate) async fn run(
    ctx: &Context,
    rounds: u64,
    prefill: u64,
    event_bytes: u64,
    json: bool,
) -> CliResult<()> {
    if rounds > 10_000 {
        return Err(CliError::usage(
            "--mode cold-append takes --events up to 10000 (one process start each)",
        ));
    }
    let clock = SystemClock::new();
    let run_id = SeededRng::from_entropy().uuid().simple().to_string();
    let stream = format!("bench-{}-cold", &run_id[..8]);
    let data = format!("\"{}\"", "x".repeat(event_bytes.saturating_sub(2) as usize));
    let config = |writer: &str, tail_hint: Option<u64>| {
        let mut cfg = WriterConfig::new(stream.clone(), 1, writer);
        cfg.tail_hint = tail_hint;
        cfg.root_prefix = ctx.store.root_prefix.clone();
        cfg.one_per_segment = true;
        cfg
    };
    // The stream as the issue found it: `prefill` slots under epoch 1.
    let w = LogWriter::open(Arc::clone(&ctx.store.store), config("bench-prefill", None)).await?;
    for _ in 1..prefill {
        w.append("bench", &data).await?;
    }
    w.close().await;

    let mut requests = Vec::new();
    let mut objects = Vec::new();
    let mut append_ms = Vec::new();
    let mut put_ms = Vec::new();
    let mut by_op: Vec<BTreeMap<String, usize>> = Vec::new();
    let mut op_latency: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut segment_bytes = 0u64;
    // What the command's tail cache gives a process: the slot the previous one wrote.
    let mut hint = None;
    for round in 0..rounds {
        // One cold append: a new process's client and no verdict in memory.
        wormlog_store::probe::forget_verdicts();
        let fresh = Fresh::new(ctx).await;
        let started = clock.monotonic();
        let w =
            LogWriter::open(fresh.store(), config(&format!("bench-cold-{round}"), hint)).await?;
        let ack = w.append("bench", &data).await?;
        hint = Some(ack.slot);
        w.close().await;
        append_ms.push((clock.monotonic() - started).as_secs_f64() * 1e3);
        for r in fresh.store().request_stats() {
            let e = op_latency.entry(r.op.to_owned()).or_default();
            e.0 += r.requests;
            e.1 += r.total_latency_us;
        }
        let (ops, written) = fresh.counted();
        requests.push(ops.values().sum::<usize>() as f64);
        objects.push(written as f64);
        by_op.push(ops);
        if segment_bytes == 0 {
            let key = wormlog::StreamKeys::new(&ctx.store.root_prefix, &stream)
                .map_err(|e| CliError::usage(e.to_string()))?
                .segment(ack.slot);
            segment_bytes = ctx.store.store.head(&key).await.map_or(256, |m| m.size);
        }
        // One plain PUT of a segment's size from a new client, right after.
        let body = Bytes::from(vec![b'x'; segment_bytes as usize]);
        let key = format!("{}bench-{}-cold-put/{round}", prefix_of(ctx), &run_id[..8]);
        let started = match &ctx.store.s3 {
            Some(s3) => {
                let client = wormlog_s3::S3Store::connect(s3.config().clone()).await;
                let started = clock.monotonic();
                client.put_unconditional(&key, body).await.map(|_| started)
            }
            None => {
                let started = clock.monotonic();
                ctx.store
                    .store
                    .put_if_absent(&key, body, &PutOptions::default())
                    .await
                    .map(|_| started)
            }
        }
        .map_err(|e| CliError::store(format!("the baseline PUT failed: {e}")))?;
        put_ms.push((clock.monotonic() - started).as_secs_f64() * 1e3);
    }
    let median_round = {
        let mut idx: Vec<usize> = (0..requests.len()).collect();
        idx.sort_by(|a, b| requests[*a].total_cmp(&requests[*b]));
        idx.get(idx.len() / 2).copied()
    };
    let report = ColdReport {
        mode: "cold-append",
        store: ctx.store.store.describe(),
        rounds,
        prefill_slots: prefill,
        event_bytes,
        requests_by_op: median_round.map(|i| by_op[i].clone()).unwrap_or_default(),
        latency_by_op_ms: op_latency
            .into_iter()
            .filter(|(_, (n, _))| *n > 0)
            .map(|(op, (n, us))| (op, us as f64 / n as f64 / 1e3))
            .collect(),
        requests_per_append: stats(requests),
        objects_per_append: stats(objects),
        append_ms: stats(append_ms),
        raw_put_ms: stats(put_ms),
        append_over_put: 0.0,
    };
    let report = ColdReport {
        append_over_put: report.append_ms.p50 / report.raw_put_ms.p50.max(f64::MIN_POSITIVE),
        ..report
    };
    if json {
        out!(
            "{}",
            serde_json::to_string_pretty(&report).expect("reports serialise")
        );
    } else {
        out!(
            "cold append on {} ({} slots, {} rounds): {} requests ({:?}, mean ms {:?}), {} object(s), p50 {:.1} ms vs one PUT {:.1} ms ({:.2}x)",
            report.store,
            prefill,
            rounds,
            report.requests_per_append.p50,
            report.requests_by_op,
            report.latency_by_op_ms,
            report.objects_per_append.p50,
            report.append_ms.p50,
            report.raw_put_ms.p50,
            report.append_over_put
        );
    }
    Ok(())
}

fn prefix_of(ctx: &Context) -> String {
    match ctx.store.root_prefix.trim_matches('/') {
        "" => String::new(),
        p => format!("{p}/"),
    }
}
