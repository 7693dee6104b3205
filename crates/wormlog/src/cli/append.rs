//! `wormlog append`: append events under a fencing token.
//!
//! By default every input is checked before the writer opens, so bad input changes nothing
//! stored (I9). With `--streaming`, stdin lines are appended as they arrive (for pipelines
//! and long-running producers); a malformed line stops the command with exit 2 and the lines
//! before it stay appended.

use std::collections::VecDeque;
use std::io::Write;

use clap::Args;
use serde_json::value::RawValue;
use tokio::io::AsyncBufReadExt;
use wormlog::{Appended, LogWriter};
use wormlog_format::validate_id;
use wormlog_writer::AppendFuture;

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

    /// Event data, one JSON value per argument (such as '{"k":1}' or '"text"'); without
    /// arguments, one JSON value per stdin line.
    #[arg(value_name = "DATA")]
    data: Vec<String>,
}

pub(crate) async fn run(ctx: &Context, args: AppendArgs) -> CliResult<()> {
    validate_id("--type", &args.event_type).map_err(CliError::usage)?;
    args.writer.validate()?;
    if args.streaming {
        return run_streaming(ctx, &args).await;
    }
    let inputs = collect_inputs(&args.data).await?;
    if inputs.is_empty() {
        return Err(CliError::usage(
            "nothing to append: pass DATA arguments or JSON lines on stdin",
        ));
    }
    let opened = args.writer.open(ctx).await?;
    let writer = &opened.writer;
    let result = match args.expected_seq {
        Some(expected) => append_expected(writer, &args.event_type, &inputs, expected).await,
        None => {
            let pending: VecDeque<_> = inputs
                .iter()
                .map(|d| writer.append(&args.event_type, d))
                .collect();
            print_acks(pending).await
        }
    };
    let fenced = result
        .as_ref()
        .is_err_and(|e| e.code == super::exit::FENCED);
    opened.close(fenced).await;
    result
}

async fn append_expected(
    writer: &LogWriter,
    event_type: &str,
    inputs: &[String],
    expected: u64,
) -> CliResult<()> {
    let events = inputs
        .iter()
        .map(|d| writer.event(event_type, d))
        .collect::<Result<Vec<_>, _>>()?;
    let acks = writer.append_expected(events, expected).await?;
    let mut out = std::io::stdout().lock();
    for a in acks {
        let _ = writeln!(out, "{} {}", a.seq, a.id);
    }
    Ok(())
}

/// Prints "seq id" for each append as it is acknowledged, in order; stops at the first error.
async fn print_acks(mut pending: VecDeque<AppendFuture>) -> CliResult<()> {
    while let Some(f) = pending.pop_front() {
        print_ack(f.await?);
    }
    Ok(())
}

fn print_ack(a: Appended) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{} {}", a.seq, a.id);
    let _ = out.flush();
}

/// What a malformed input means for the store, in the error sentence.
const NOTHING_APPENDED: &str = "nothing was appended";
const EARLIER_LINES_APPENDED: &str = "the lines before it were appended";

/// Checks that `text` is one JSON value; `what` names it and `outcome` says what was stored.
fn check_json(text: &str, what: &str, outcome: &str) -> CliResult<()> {
    serde_json::from_str::<&RawValue>(text).map(|_| ()).map_err(|e| {
        CliError::usage(format!(
            "{what} is not valid JSON ({e}); {outcome}; pass one JSON value such as '{{\"k\":1}}' or '\"text\"'"
        ))
    })
}

/// DATA arguments, or else every non-blank stdin line; all checked before anything is written.
async fn collect_inputs(data: &[String]) -> CliResult<Vec<String>> {
    if !data.is_empty() {
        for (i, d) in data.iter().enumerate() {
            check_json(d, &format!("DATA argument {}", i + 1), NOTHING_APPENDED)?;
        }
        return Ok(data.to_vec());
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
        out.push(line);
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
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<AppendFuture>();
    let printer = tokio::spawn(async move {
        while let Some(f) = rx.recv().await {
            print_ack(f.await?);
        }
        Ok::<(), wormlog::WriteError>(())
    });
    let mut writer: Option<Opened> = None;
    let mut n = 0;
    let mut input_error = None;
    while let Some(line) = next_line(&mut lines).await? {
        n += 1;
        if line.trim().is_empty() {
            continue;
        }
        if let Err(e) = check_json(&line, &format!("stdin line {n}"), EARLIER_LINES_APPENDED) {
            input_error = Some(e);
            break;
        }
        if writer.is_none() {
            writer = Some(args.writer.open(ctx).await?);
        }
        let w = &writer.as_ref().expect("opened above").writer;
        if tx.send(w.append(&args.event_type, &line)).is_err() {
            break; // the printer stopped at an error; it is reported below
        }
    }
    drop(tx);
    let printed = printer
        .await
        .map_err(|e| CliError::store(format!("the acknowledgement printer failed: {e}")))?;
    let opened = writer.is_some();
    let fenced = printed.as_ref().is_err_and(|e| e.is_fenced());
    if let Some(w) = writer {
        w.close(fenced).await;
    }
    printed?;
    match input_error {
        Some(e) => Err(e),
        None if !opened => Err(CliError::usage(
            "nothing to append: stdin had no JSON lines",
        )),
        None => Ok(()),
    }
}
