//! `wormlog purge --bypass-governance`: delete segments before their GOVERNANCE retention
//! ends, leaving an audit trail in the log itself.
//!
//! ```text
//!  check every slot first ── missing, not an events segment, corrupt ─► refuse (exit 2 / 1)
//!        │                  ── legal hold, COMPLIANCE retention in force ─► refuse (exit 2)
//!        ▼                                                    nothing is changed on refusal
//!  commit a purge record at the tail (who, why, each slot's header facts), under the
//!        │  fencing token of --epoch or --lease: a fenced purge deletes nothing (exit 3)
//!        ▼
//!  write the index key P/purges/<record slot> (so readers learn of it before the gap)
//!        ▼
//!  DELETE each slot (its version) with x-amz-bypass-governance-retention: true
//! ```
//!
//! Readers and `verify` pass the deleted slots as documented purges (see
//! `wormlog_reader::PurgeIndex`); an undocumented missing slot stays a gap (tampering).

use std::collections::BTreeSet;

use bytes::Bytes;
use clap::Args;
use wormlog_format::{
    decode_segment, validate_id, PurgeRecord, PurgedSlot, SegmentKind, StreamKeys,
};
use wormlog_store::{
    Clock, DeleteOptions, GetResult, PutOptions, RetentionMode, StoreError, SystemClock,
};

use wormlog::reader::Replayer;

use super::writer_args::WriterArgs;
use super::{CliError, CliResult, Context};

#[derive(Args, Debug)]
pub(crate) struct PurgeArgs {
    /// Required: states that you mean to delete segments before their GOVERNANCE retention
    /// ends (the store must grant s3:BypassGovernanceRetention). COMPLIANCE retention and
    /// legal holds are never bypassed.
    #[arg(long, required = true)]
    bypass_governance: bool,

    /// Why the segments are deleted (recorded in the log, shown by verify).
    #[arg(long, value_name = "TEXT")]
    reason: String,

    /// A segment to delete, by slot; repeat for several.
    #[arg(long = "slot", value_name = "N", required = true)]
    slots: Vec<u64>,

    /// Who is purging (recorded in the log; default: $USER).
    #[arg(long, value_name = "WHO")]
    operator: Option<String>,

    /// Refuse segments written less than this long ago (by their header's created_at): a
    /// writer may still be retrying a young segment, and a retry landing after the purge
    /// would write it again. `0s` if you know no writer can still be retrying it.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = humantime::parse_duration)]
    min_age: std::time::Duration,

    #[command(flatten)]
    writer: WriterArgs,
}

pub(crate) async fn run(ctx: &Context, args: PurgeArgs) -> CliResult<()> {
    args.writer.validate()?;
    let operator = operator(&args)?;
    let reason = args.reason.trim();
    if reason.is_empty() || reason.len() > 1000 {
        return Err(CliError::usage(
            "--reason must say why, in 1 to 1000 characters; nothing was purged",
        ));
    }
    let keys = StreamKeys::new(&ctx.store.root_prefix, &ctx.stream)
        .map_err(|e| CliError::usage(e.to_string()))?;
    let slots: BTreeSet<u64> = args.slots.iter().copied().collect();
    let mut purged = Vec::with_capacity(slots.len());
    let mut attached = BTreeSet::new();
    for &slot in &slots {
        let (p, attachments) = check_slot(ctx, &keys, slot, args.min_age).await?;
        purged.push(p);
        attached.extend(attachments);
    }
    let attachments = attachments_to_delete(ctx, &keys, &slots, attached).await?;

    let opened = args.writer.open(ctx).await?;
    let record = PurgeRecord {
        operator,
        reason: reason.to_owned(),
        purged,
        attachments: attachments.iter().cloned().collect(),
    };
    let events: u64 = record.purged.iter().map(|p| p.count).sum();
    let committed = opened.writer.append_purge(record.clone()).await;
    let fenced = committed.as_ref().is_err_and(|e| e.is_fenced());
    let closed = opened.close(fenced).await;
    let record_slot = committed?;
    eprintln!("wormlog: purge record committed at slot {record_slot}");

    write_index(ctx, &keys, record_slot, &slots).await?;
    for &slot in &slots {
        let deleted = ctx
            .store
            .store
            .delete(
                &keys.segment(slot),
                &DeleteOptions {
                    bypass_governance: true,
                },
            )
            .await;
        deleted.map_err(|e| {
            CliError::store(format!(
                "the purge record at slot {record_slot} is committed, but deleting slot {slot} failed ({e}); fix that and rerun the purge for the slots still present"
            ))
        })?;
        out!("slot {slot}: purged (documented by the purge record at slot {record_slot})");
    }
    for name in &attachments {
        let key = keys.attachment(name);
        let deleted = ctx
            .store
            .store
            .delete(
                &key,
                &DeleteOptions {
                    bypass_governance: true,
                },
            )
            .await;
        deleted.map_err(|e| {
            CliError::store(format!(
                "the purge record at slot {record_slot} is committed and its segments deleted, but deleting {key} failed ({e}); delete it by hand"
            ))
        })?;
        out!("{key}: purged (documented by the purge record at slot {record_slot})");
    }
    discard_snapshots(ctx, &record).await?;
    out!(
        "purged {} segments ({events} events) of stream {}; `wormlog verify` reports them as documented purges",
        slots.len(),
        ctx.stream
    );
    // The writer's checkpoints are reported once the purge is whole, never in its way.
    closed
}

/// Snapshots taken before the purge still hold the erased events: delete them where
/// retention allows. Replays never use one that retention keeps.
async fn discard_snapshots(ctx: &Context, record: &PurgeRecord) -> CliResult<()> {
    let replayer = Replayer::new(
        std::sync::Arc::clone(&ctx.store.store),
        &ctx.store.root_prefix,
        &ctx.stream,
    )?;
    for s in replayer.discard_snapshots_covering(record).await? {
        match s.kept {
            None => out!("snapshot {}: deleted (it held purged events)", s.key),
            Some(why) => eprintln!(
                "wormlog: snapshot {} holds purged events but cannot be deleted ({why}); replays never use it",
                s.key
            ),
        }
    }
    Ok(())
}

/// `--operator`, else the login name.
fn operator(args: &PurgeArgs) -> CliResult<String> {
    let who = args
        .operator
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .ok_or_else(|| CliError::usage("say who is purging with --operator; nothing was purged"))?;
    validate_id("--operator", &who).map_err(CliError::usage)?;
    Ok(who)
}

/// Reads the segment at `slot` and refuses, before anything is written, what a purge must
/// not or cannot delete. Returns the facts the purge record keeps.
async fn check_slot(
    ctx: &Context,
    keys: &StreamKeys,
    slot: u64,
    min_age: std::time::Duration,
) -> CliResult<(PurgedSlot, Vec<String>)> {
    let got: GetResult = match ctx.store.store.get(&keys.segment(slot)).await {
        Ok(g) => g,
        Err(StoreError::NotFound { .. }) => {
            return Err(CliError::usage(format!(
                "stream {} has no segment at slot {slot} (already purged?); nothing was purged",
                ctx.stream
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let segment = decode_segment(&got.body).map_err(|e| {
        CliError::violation(format!(
            "slot {slot} does not decode ({e}); a purge records what it deletes, so it cannot purge this segment; run `wormlog verify`"
        ))
    })?;
    let header = &segment.header;
    if header.slot != slot || header.stream != ctx.stream {
        return Err(CliError::violation(format!(
            "slot {slot} holds a segment of stream {:?} slot {}; run `wormlog verify`",
            header.stream, header.slot
        )));
    }
    if header.kind != SegmentKind::Events {
        return Err(CliError::usage(format!(
            "slot {slot} is a {} control record, part of the audit trail; only event segments can be purged",
            header.kind.as_str()
        )));
    }
    let now = SystemClock::new().now();
    let written = wormlog_store::Timestamp::parse_rfc3339(&header.created_at);
    if let Some(written) = written.filter(|w| w.plus(min_age) > now) {
        return Err(CliError::usage(format!(
            "slot {slot} was written at {} (by its writer's clock), less than --min-age {} ago: a writer may still be retrying it, and a retry landing after the purge would write it again; purge it after {}, or pass --min-age 0s if no writer can be retrying it; nothing was purged",
            written.to_rfc3339(),
            humantime::format_duration(min_age),
            written.plus(min_age).to_rfc3339()
        )));
    }
    let lock = got.meta.lock;
    if lock.legal_hold {
        return Err(CliError::usage(format!(
            "slot {slot} is under a legal hold, which a purge never bypasses; clear it first (`wormlog hold clear --slot {slot}`) if you are allowed to; nothing was purged"
        )));
    }
    if let Some(r) = lock.retention.filter(|r| r.retain_until > now) {
        if r.mode == RetentionMode::Compliance {
            return Err(CliError::usage(format!(
                "slot {slot} is under COMPLIANCE retention until {}: no one can delete it before then, not even with --bypass-governance; nothing was purged",
                r.retain_until
            )));
        }
    }
    let attachments = segment
        .events
        .iter()
        .filter_map(|e| e.payload.as_ref()?.attachment.clone())
        .collect();
    let purged = PurgedSlot::of_segment(&got.body).map_err(|e| {
        CliError::violation(format!(
            "slot {slot} does not decode ({e}); run `wormlog verify`"
        ))
    })?;
    Ok((purged, attachments))
}

/// The attachments of the purged events that no other event refers to (the same document
/// appended twice is stored once), each checked deletable: refused, before anything is
/// written, under a legal hold or COMPLIANCE retention in force.
async fn attachments_to_delete(
    ctx: &Context,
    keys: &StreamKeys,
    purged: &BTreeSet<u64>,
    mut candidates: BTreeSet<String>,
) -> CliResult<BTreeSet<String>> {
    if candidates.is_empty() {
        return Ok(candidates);
    }
    let reader = wormlog::LogReader::new(
        std::sync::Arc::clone(&ctx.store.store),
        &ctx.store.root_prefix,
        &ctx.stream,
    )?;
    let mut scan = reader.scan(0).await?;
    while let Some(item) = scan.next().await? {
        if let wormlog::ScanItem::Event(e) = item {
            let shared = e.payload.as_ref().and_then(|p| p.attachment.as_ref());
            if let Some(name) = shared.filter(|_| !purged.contains(&scan.current_slot())) {
                candidates.remove(name);
            }
        }
    }
    let now = SystemClock::new().now();
    for name in &candidates {
        let key = keys.attachment(name);
        let lock = match ctx.store.store.head(&key).await {
            Ok(m) => m.lock,
            Err(StoreError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        if lock.legal_hold {
            return Err(CliError::usage(format!(
                "{key}, the attachment of a purged event, is under a legal hold, which a purge never bypasses; nothing was purged"
            )));
        }
        if let Some(r) = lock
            .retention
            .filter(|r| r.retain_until > now && r.mode == RetentionMode::Compliance)
        {
            return Err(CliError::usage(format!(
                "{key}, the attachment of a purged event, is under COMPLIANCE retention until {}: no one can delete it before then; nothing was purged",
                r.retain_until
            )));
        }
    }
    Ok(candidates)
}

/// The index key that lets readers find the record before they reach the deleted slots.
async fn write_index(
    ctx: &Context,
    keys: &StreamKeys,
    record_slot: u64,
    slots: &BTreeSet<u64>,
) -> CliResult<()> {
    let body = serde_json::json!({ "record_slot": record_slot, "slots": slots }).to_string();
    ctx.store
        .store
        .put_if_absent(
            &keys.purge_index(record_slot),
            Bytes::from(body),
            &PutOptions::default(),
        )
        .await
        .map_err(|e| {
            CliError::store(format!(
                "the purge record at slot {record_slot} is committed, but writing its index key failed ({e}); nothing was deleted; rerun the purge"
            ))
        })?;
    Ok(())
}
