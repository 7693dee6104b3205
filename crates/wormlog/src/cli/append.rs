//! `wormlog append`: append events under a fencing token.
//!
//! By default every input is checked before the writer opens, so bad input changes nothing
//! stored (I9). With `--streaming`, stdin lines are appended as they arrive (for pipelines
//! and long-running producers); a malformed line stops the command with exit 2 and the lines
//! before it stay appended.

use std::collections::VecDeque;

use clap::Args;
use serde_json::value::RawValue;
use tokio::io::AsyncBufReadExt;
use wormlog::{LogWriter, NewEvent};
use wormlog_format::validate_id;
use wormlog_writer::AppendFuture;

use super::documents::{self, Acks, DocumentArgs, Input};
use super::interrupt::{Interrupt, Tally};
use super::writer_args::{Opened, WriterArgs};
use super::{CliError, CliResult, Context};

#[derive(Args, Debug)]
pub(crate) struct AppendArgs {
    #[command(flatten)]
    writer: WriterArgs,

    /// The event type recorded with every event.
    #[arg(long = "type", value_name = "T", default_value = "event")]
    event_type: String,

    /// Append only if the next seq is N (all events in one segment), else exit 2.
    #[arg(long, value_name = "N", conflicts_with = "streaming")]
    expected_seq: Option<u64>,

    /// Append stdin lines as they arrive instead of checking them all first.
    #[arg(long, conflicts_with = "data")]
    streaming: bool,

    #[command(flatten)]
    docs: DocumentArgs,

    /// Event data, one JSON value per argument (such as '{"k":1}' or '"text"'); without
    /// arguments (and without --file or --raw), one JSON value per stdin line.
    #[arg(value_name = "DATA")]
    data: Vec<String>,
}

pub(crate) async fn run(ctx: &Context, args: AppendArgs) -> CliResult<()> {
    validate_id("--type", &args.event_type).map_err(CliError::usage)?;
    args.writer.validate()?;
    if let Some(t) = &args.docs.content_type {
        wormlog_format::validate_content_type(t)
            .map_err(|e| CliError::usage(format!("--content-type: {e}")))?;
    }
    if args.streaming {
        return run_streaming(ctx, &args).await;
    }
    let inputs = if !args.docs.files.is_empty() {
        args.docs.files().await?
    } else if args.docs.raw {
        args.docs.stdin().await?
    } else {
        collect_inputs(&args.data).await?
    };
    if inputs.is_empty() {
        return Err(CliError::usage(
            "nothing to append: pass DATA arguments, --file, --raw, or JSON lines on stdin",
        ));
    }
    let opened = args
        .writer
        .open_tuned(ctx, &|cfg| tune(cfg, &args.docs))
        .await?;
    let writer = &opened.writer;
    let result = append_all(ctx, writer, &args, &inputs).await;
    let fenced = result
        .as_ref()
        .is_err_and(|e| e.code == super::exit::FENCED);
    let closed = opened.close(fenced).await;
    result.and(closed)
}

/// The writer settings documents ask for.
fn tune(cfg: &mut wormlog::WriterConfig, docs: &DocumentArgs) {
    cfg.attach_above = docs.attach_above;
    cfg.one_per_segment = docs.one_per_segment;
}

/// Builds every event first (storing attachments), then appends them all in order and
/// prints each acknowledgement as it comes back.
async fn append_all(
    ctx: &Context,
    writer: &LogWriter,
    args: &AppendArgs,
    inputs: &[Input],
) -> CliResult<()> {
    let mut events = Vec::with_capacity(inputs.len());
    for input in inputs {
        events.push(documents::event_of(writer, &args.event_type, input).await?);
    }
    let keys = wormlog::StreamKeys::new(&ctx.store.root_prefix, &ctx.stream)
        .map_err(|e| CliError::usage(e.to_string()))?;
    let mut acks = Acks::new(
        args.docs.json,
        std::sync::Arc::clone(&ctx.store.store),
        keys,
    );
    if let Some(expected) = args.expected_seq {
        let appended = writer.append_expected(events.clone(), expected).await?;
        for (a, e) in appended.iter().zip(&events) {
            acks.print(a, Some(e)).await;
        }
        return Ok(());
    }
    let interrupt = Interrupt::listen();
    let mut queued = events.iter();
    let mut pending: VecDeque<(AppendFuture, &NewEvent)> = VecDeque::new();
    let mut tally = Tally::default();
    let mut stopped_by = None;
    loop {
        // Keep a window in flight, not the whole input: on a signal, only the window is
        // waited for and the rest is never sent.
        stopped_by = stopped_by.or(interrupt.received());
        if stopped_by.is_none() {
            while pending.len() < IN_FLIGHT {
                let Some(e) = queued.next() else { break };
                pending.push_back((writer.append_event(e.clone()), e));
            }
        }
        let Some((f, e)) = pending.pop_front() else {
            break;
        };
        match f.await {
            Ok(a) => {
                acks.print(&a, Some(e)).await;
                tally.committed += 1;
            }
            Err(err) if stopped_by.is_some() && !err.is_definite() => tally.unknown += 1,
            Err(err) => return Err(err.into()),
        }
    }
    match stopped_by {
        Some(signal) => {
            tally.not_sent = queued.count() as u64;
            Err(tally.interrupted(signal))
        }
        None => Ok(()),
    }
}

/// Appends in flight at once from one `append` command: two full batches, so group commit
/// forms full segments (`WriterConfig::max_batch_events` is 10,000), and few enough that a
/// Ctrl-C waits only for them.
const IN_FLIGHT: usize = 2 * 10_000;

/// What a malformed input means for the store, in the error sentence.
const NOTHING_APPENDED: &str = "nothing was appended";
const EARLIER_LINES_APPENDED: &str = "the lines before it were appended";

/// Checks that `text` is one JSON value; `what` names it and `outcome` says what was stored.
fn check_json(text: &str, what: &str, outcome: &str) -> CliResult<()> {
    if text.starts_with('\u{feff}') {
        return Err(CliError::usage(format!(
            "{what} starts with a UTF-8 byte order mark (BOM), which JSON does not allow; {outcome}; \
             save the file as UTF-8 without BOM, or strip it with sed '1s/^\\xEF\\xBB\\xBF//'"
        )));
    }
    serde_json::from_str::<&RawValue>(text).map(|_| ()).map_err(|e| {
        CliError::usage(format!(
            "{what} is not valid JSON ({e}); {outcome}; pass one JSON value such as '{{\"k\":1}}' or '\"text\"'"
        ))
    })
}

/// DATA arguments, or else every non-blank stdin line; all checked before anything is written.
async fn collect_inputs(data: &[String]) -> CliResult<Vec<Input>> {
    if !data.is_empty() {
        for (i, d) in data.iter().enumerate() {
            check_json(d, &format!("DATA argument {}", i + 1), NOTHING_APPENDED)?;
        }
        return Ok(data.iter().cloned().map(Input::Json).collect());
    }
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut out = Vec::new();
    let mut n = 0;
    while let Some(line) = next_line(&mut lines).await? {
        n += 1;
        if line.trim().is_empty() {
            continue;
        }
        check_json(&line, &format!("stdin line {n}"), NOTHING_APPENDED)?;
        out.push(Input::Json(line));
    }
    Ok(out)
}

async fn next_line(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::io::Stdin>>,
) -> CliResult<Option<String>> {
    lines
        .next_line()
        .await
        .map_err(|e| CliError::usage(format!("could not read stdin ({e}); pass UTF-8 JSON lines")))
}

/// `--streaming`: append each stdin line as it arrives; acknowledgements print in order as
/// they come back. The writer opens at the first valid line, so a bad first line writes nothing.
async fn run_streaming(ctx: &Context, args: &AppendArgs) -> CliResult<()> {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    // Bounded: a printer slower than the store (stdout into a slow pipe) holds stdin back
    // too, so memory stays bounded whichever side is slow.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(AppendFuture, NewEvent)>(4096);
    let keys = wormlog::StreamKeys::new(&ctx.store.root_prefix, &ctx.stream)
        .map_err(|e| CliError::usage(e.to_string()))?;
    let mut acks = Acks::new(
        args.docs.json,
        std::sync::Arc::clone(&ctx.store.store),
        keys,
    );
    let mut interrupt = Interrupt::listen();
    let printer = tokio::spawn(async move {
        let mut tally = Tally::default();
        while let Some((f, e)) = rx.recv().await {
            match f.await {
                Ok(a) => {
                    acks.print(&a, Some(&e)).await;
                    tally.committed += 1;
                }
                Err(err) if !err.is_definite() => {
                    tally.unknown += 1;
                    return Err((err, tally));
                }
                Err(err) => return Err((err, tally)),
            }
        }
        Ok::<Tally, (wormlog::WriteError, Tally)>(tally)
    });
    let mut writer: Option<Opened> = None;
    let mut n = 0;
    let mut input_error = None;
    let mut stopped_by = None;
    loop {
        let line = tokio::select! {
            line = next_line(&mut lines) => line?,
            signal = interrupt.wait() => {
                stopped_by = Some(signal);
                break;
            }
        };
        let Some(line) = line else { break };
        n += 1;
        if line.trim().is_empty() {
            continue;
        }
        if let Err(e) = check_json(&line, &format!("stdin line {n}"), EARLIER_LINES_APPENDED) {
            input_error = Some(e);
            break;
        }
        if writer.is_none() {
            let tuning = |cfg: &mut wormlog::WriterConfig| tune(cfg, &args.docs);
            writer = Some(args.writer.open_tuned(ctx, &tuning).await?);
        }
        let w = &writer.as_ref().expect("opened above").writer;
        let event = w.event(&args.event_type, &line)?;
        // Waits while the writer is full (its max_unacked_bytes), so a producer faster than
        // the store holds stdin back instead of memory.
        // In line at once, so its acknowledgement is printed whatever happens next; then
        // wait while the writer is full (its max_unacked_bytes): a producer faster than
        // the store is held back instead of buffered, and a signal still stops it there.
        let appended = w.append_event(event.clone());
        if tx.send((appended, event)).await.is_err() {
            break; // the printer stopped at an error; it is reported below
        }
        tokio::select! {
            () = w.until_room() => {}
            signal = interrupt.wait() => {
                stopped_by = Some(signal);
                break;
            }
        }
    }
    drop(tx);
    let printed = printer
        .await
        .map_err(|e| CliError::store(format!("the acknowledgement printer failed: {e}")))?;
    let opened = writer.is_some();
    let fenced = printed.as_ref().is_err_and(|(e, _)| e.is_fenced());
    let closed = match writer {
        Some(w) => w.close(fenced).await,
        None => Ok(()),
    };
    let stopped_by = stopped_by.or(interrupt.received());
    match (printed, stopped_by) {
        (Ok(tally), Some(signal)) => return Err(tally.interrupted(signal)),
        (Err((_, tally)), Some(signal)) => return Err(tally.interrupted(signal)),
        (Err((e, _)), None) => return Err(e.into()),
        (Ok(_), None) => {}
    }
    match input_error {
        Some(e) => Err(e),
        None if !opened => Err(CliError::usage(
            "nothing to append: stdin had no JSON lines",
        )),
        None => closed,
    }
}
