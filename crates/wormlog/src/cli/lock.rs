//! `wormlog hold` and `wormlog retention`: Object Lock on existing segments.
//!
//! Retention is only ever extended: a segment already retained longer is left as it is, and
//! the command says so (COMPLIANCE retention cannot be shortened at all; GOVERNANCE would need
//! the bypass, which these commands never send). A document's attachment gets the same hold or
//! retention as its segment, and when the segment holds other events too, the command names
//! them: Object Lock applies to whole segments (`append --one-per-segment` gives each document
//! its own).

use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use wormlog::{LogReader, ScanItem};
use wormlog_format::StreamKeys;
use wormlog_store::{Retention, RetentionMode, SystemClock};

use super::{CliError, CliResult, Context};
use wormlog_store::Clock;

/// Which segments: one slot, or those holding a seq range.
#[derive(Args, Debug, Clone)]
pub(crate) struct Segments {
    /// One segment, by slot.
    #[arg(long, value_name = "N", conflicts_with_all = ["from_seq", "to_seq"])]
    slot: Option<u64>,

    /// The segments holding events from this seq...
    #[arg(long, value_name = "SEQ", requires = "to_seq")]
    from_seq: Option<u64>,

    /// ...to this seq (inclusive).
    #[arg(long, value_name = "SEQ", requires = "from_seq")]
    to_seq: Option<u64>,
}

#[derive(Args, Debug)]
pub(crate) struct HoldArgs {
    #[command(subcommand)]
    action: HoldAction,
}

#[derive(Subcommand, Debug)]
enum HoldAction {
    /// Put a legal hold on segments.
    Set(Segments),
    /// Clear the legal hold of segments.
    Clear(Segments),
}

#[derive(Args, Debug)]
pub(crate) struct RetentionArgs {
    #[command(subcommand)]
    action: RetentionAction,
}

#[derive(Subcommand, Debug)]
enum RetentionAction {
    /// Retain segments until N days from now (never shortening any).
    Extend {
        /// Days from now.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=36500))]
        days: u32,
        /// The mode for segments that have no retention yet (others keep theirs).
        #[arg(long, value_name = "compliance|governance")]
        mode: Option<RetentionMode>,
        #[command(flatten)]
        segments: Segments,
    },
}

/// The slots the arguments name (all segments when none is given).
async fn slots(ctx: &Context, which: &Segments) -> CliResult<Vec<u64>> {
    let keys = StreamKeys::new(&ctx.store.root_prefix, &ctx.stream)
        .map_err(|e| CliError::usage(e.to_string()))?;
    let listed = wormlog_store::list_all(&*ctx.store.store, &keys.log_prefix(), None).await?;
    let present: Vec<u64> = listed
        .iter()
        .filter_map(|e| keys.parse_slot(&e.key))
        .collect();
    match (which.slot, which.from_seq, which.to_seq) {
        (Some(s), _, _) if present.contains(&s) => Ok(vec![s]),
        (Some(s), _, _) => Err(CliError::usage(format!(
            "stream {} has no segment at slot {s}",
            ctx.stream
        ))),
        (None, Some(from), Some(to)) if from <= to => {
            let reader = LogReader::new(
                Arc::clone(&ctx.store.store),
                &ctx.store.root_prefix,
                &ctx.stream,
            )?;
            let mut scan = reader.scan(from).await?;
            let mut out: Vec<u64> = Vec::new();
            while let Some(item) = scan.next().await? {
                if let ScanItem::Event(e) = item {
                    if e.seq > to {
                        break;
                    }
                    if out.last() != Some(&scan.current_slot()) {
                        out.push(scan.current_slot());
                    }
                }
            }
            if out.is_empty() {
                return Err(CliError::usage(format!(
                    "stream {} has no events in seqs {from}..={to}",
                    ctx.stream
                )));
            }
            Ok(out)
        }
        (None, Some(_), Some(_)) => Err(CliError::usage("--from-seq must not be above --to-seq")),
        _ => Ok(present),
    }
}

pub(crate) async fn hold(ctx: &Context, args: HoldArgs) -> CliResult<()> {
    let (on, which) = match args.action {
        HoldAction::Set(s) => (true, s),
        HoldAction::Clear(s) => (false, s),
    };
    let keys = StreamKeys::new(&ctx.store.root_prefix, &ctx.stream)
        .map_err(|e| CliError::usage(e.to_string()))?;
    let what = if on { "set" } else { "cleared" };
    for slot in slots(ctx, &which).await? {
        ctx.store
            .store
            .set_legal_hold(&keys.segment(slot), on)
            .await?;
        out!("slot {slot}: legal hold {what}");
        let contents = contents(ctx, &keys, slot, &which).await?;
        for key in &contents.attachments {
            ctx.store.store.set_legal_hold(key, on).await?;
            out!("  attachment {key}: legal hold {what}");
        }
        contents.say_shared(slot);
    }
    Ok(())
}

/// What a segment holds beyond the slot itself: its attachments, and its events outside the
/// seq range the command was given (which share its lock).
struct Contents {
    attachments: Vec<String>,
    others: Vec<u64>,
}

impl Contents {
    fn say_shared(&self, slot: u64) {
        if !self.others.is_empty() {
            out!(
                "  slot {slot} also holds seqs {:?}, outside the range given: they share its lock (append --one-per-segment keeps documents apart)",
                self.others
            );
        }
    }
}

async fn contents(
    ctx: &Context,
    keys: &StreamKeys,
    slot: u64,
    which: &Segments,
) -> CliResult<Contents> {
    let got = ctx.store.store.get(&keys.segment(slot)).await?;
    let segment = wormlog_format::decode_segment(&got.body).map_err(|e| {
        CliError::violation(format!(
            "slot {slot} is corrupt ({e}); run `wormlog verify`"
        ))
    })?;
    let in_range = |seq: u64| match (which.from_seq, which.to_seq) {
        (Some(from), Some(to)) => (from..=to).contains(&seq),
        _ => true,
    };
    Ok(Contents {
        attachments: segment
            .events
            .iter()
            .filter_map(|e| e.payload.as_ref()?.attachment.as_deref())
            .map(|a| keys.attachment(a))
            .collect(),
        others: segment
            .events
            .iter()
            .map(|e| e.seq)
            .filter(|&s| !in_range(s))
            .collect(),
    })
}

pub(crate) async fn retention(ctx: &Context, args: RetentionArgs) -> CliResult<()> {
    let RetentionAction::Extend {
        days,
        mode,
        segments,
    } = args.action;
    let keys = StreamKeys::new(&ctx.store.root_prefix, &ctx.stream)
        .map_err(|e| CliError::usage(e.to_string()))?;
    let until = SystemClock::new()
        .now()
        .plus(Duration::from_secs(u64::from(days) * 86_400));
    for slot in slots(ctx, &segments).await? {
        extend(
            ctx,
            &format!("slot {slot}"),
            &keys.segment(slot),
            until,
            mode,
        )
        .await?;
        let contents = contents(ctx, &keys, slot, &segments).await?;
        for key in &contents.attachments {
            extend(ctx, &format!("  attachment {key}"), key, until, mode).await?;
        }
        contents.say_shared(slot);
    }
    Ok(())
}

/// Extends the retention of `key` (named `what` in messages) to `until`, never shortening it.
async fn extend(
    ctx: &Context,
    what: &str,
    key: &str,
    until: wormlog_store::Timestamp,
    mode: Option<RetentionMode>,
) -> CliResult<()> {
    {
        let current = ctx.store.store.head(key).await?.lock.retention;
        let new_mode = match (current, mode) {
            (Some(r), _) => r.mode,
            (None, Some(m)) => m,
            (None, None) => {
                return Err(CliError::usage(format!(
                    "{} has no retention yet: pass --mode compliance or --mode governance",
                    what.trim()
                )))
            }
        };
        if let Some(r) = current.filter(|r| r.retain_until >= until) {
            out!(
                "{what}: {} retention until {} already lasts longer; retention is never shortened",
                r.mode,
                r.retain_until
            );
            return Ok(());
        }
        ctx.store
            .store
            .set_retention(
                key,
                Retention {
                    mode: new_mode,
                    retain_until: until,
                },
                false,
            )
            .await?;
        out!("{what}: {new_mode} retention until {until}");
    }
    Ok(())
}
