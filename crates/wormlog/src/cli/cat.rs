//! `wormlog cat`: the stream's events as JSON lines, in seq order, exactly as every reader
//! sees them. Zombie segments are skipped with a warning; a corrupt or missing segment stops
//! the output with exit 1 naming the slot.

use std::io::Write;
use std::sync::Arc;

use clap::Args;
use wormlog::reader::FollowPolicy;
use wormlog::{LogReader, ScanItem};

use super::{CliError, CliResult, Context};

#[derive(Args, Debug)]
pub(crate) struct CatArgs {
    /// First seq to print.
    #[arg(long, value_name = "SEQ", default_value_t = 0)]
    from: u64,

    /// Last seq to print (inclusive).
    #[arg(long, value_name = "SEQ")]
    to: Option<u64>,

    /// Keep printing new events as they are committed (within about 200 ms) until Ctrl-C or
    /// --to.
    #[arg(long)]
    follow: bool,
}

pub(crate) async fn run(ctx: &Context, args: CatArgs) -> CliResult<()> {
    if args.to.is_some_and(|t| t < args.from) {
        return Err(CliError::usage("--to must not be below --from"));
    }
    let reader = LogReader::new(
        Arc::clone(&ctx.store.store),
        &ctx.store.root_prefix,
        &ctx.stream,
    )?;
    if args.follow {
        return follow(&reader, &args).await;
    }
    let mut scan = reader.scan(args.from).await?;
    if scan.listed_slots() == 0 {
        eprintln!(
            "wormlog: stream {:?} has no segments in {}",
            ctx.stream,
            ctx.store.store.describe()
        );
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    while let Some(item) = scan.next().await? {
        match item {
            ScanItem::Event(e) => {
                if args.to.is_some_and(|t| e.seq > t) {
                    break;
                }
                if writeln!(out, "{}", printable(e)).is_err() {
                    return Ok(()); // the reader went away (`| head`)
                }
            }
            other => note(&other),
        }
    }
    let _ = out.flush();
    if let Some((first, last)) = scan.pending_hole() {
        eprintln!(
            "wormlog: the log ends at pending slots {first}..={last}: a new writer claimed the slots after them and has not filled these yet; they are filled by it or by the next writer to open"
        );
    }
    Ok(())
}

/// `--follow`: every event as it arrives, flushed at once; Ctrl-C ends it cleanly (exit 0).
async fn follow(reader: &LogReader, args: &CatArgs) -> CliResult<()> {
    let (mut follow, stop) = reader.follow(args.from, FollowPolicy::default()).await?;
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.stop();
    });
    while let Some(item) = follow.next().await? {
        match item {
            ScanItem::Event(e) => {
                if args.to.is_some_and(|t| e.seq > t) {
                    break;
                }
                let mut out = std::io::stdout().lock();
                if writeln!(out, "{}", printable(e.clone()))
                    .and_then(|_| out.flush())
                    .is_err()
                {
                    return Ok(());
                }
                if args.to == Some(e.seq) {
                    break;
                }
            }
            other => note(&other),
        }
    }
    Ok(())
}

/// An event as one JSON line; a document shows its metadata (content type, size, SHA-256,
/// attachment), never its bytes (`wormlog get` writes those).
fn printable(mut e: wormlog::Event) -> String {
    if let Some(p) = e.payload.as_mut() {
        p.base64 = None;
    }
    serde_json::to_string(&e).expect("events serialise")
}

/// What a reader passes without printing it as an event: said on stderr, so stdout stays
/// pure JSON lines.
fn note(item: &ScanItem) {
    match item {
        ScanItem::Zombie { slot, header, max_epoch } => eprintln!(
            "wormlog: skipped zombie segment at slot {slot} (epoch {} by {:?}, below epoch {max_epoch}); its {} events are not part of the log",
            header.epoch, header.writer, header.count
        ),
        ScanItem::Purged { slot, purge, .. } => eprintln!(
            "wormlog: slot {slot} (seqs {}..{}) was purged by {:?}, documented at slot {}: {}",
            purge.purged.first_seq,
            purge.purged.first_seq + purge.purged.count,
            purge.operator,
            purge.record_slot,
            purge.reason
        ),
        // Voids are part of every epoch change (a new leader fences ahead with them), as
        // epoch-start records are, and orphans of a pipelined writer's lost races: not worth
        // a line each (`verify` lists them).
        ScanItem::Event(_)
        | ScanItem::Leaves { .. }
        | ScanItem::Control { .. }
        | ScanItem::Void { .. }
        | ScanItem::Orphan { .. } => {}
    }
}
