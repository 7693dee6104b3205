//! `wormlog verify`: audit a whole stream, as text or `--json`; exit 1 on any violation.

use std::sync::Arc;

use clap::Args;
use wormlog::reader::verify;

use super::{CliError, CliResult, Context};

#[derive(Args, Debug)]
pub(crate) struct VerifyArgs {
    /// Also check every segment's Object Lock: retention present and not shorter than the
    /// bucket default.
    #[arg(long)]
    require_lock: bool,

    /// With --require-lock: list the lock of every event (seq, slot, object key, mode,
    /// retain-until, legal hold) instead of every segment.
    #[arg(long, requires = "require_lock")]
    per_event: bool,

    /// Accept a stream with no segments at all (by default an audit of a missing or empty
    /// stream fails: a typo in --stream or the store's prefix must not pass).
    #[arg(long)]
    allow_empty: bool,

    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,

    /// Also recompute the log's Merkle tree and check every checkpoint against it with this
    /// verifier key (the .pub file from `wormlog keygen`, or the key itself): a rewritten,
    /// removed or reordered event below a checkpoint, or a checkpoint that does not verify,
    /// is a violation. Repeatable: after a key rotation, give every key that signed (a
    /// checkpoint verifies if one of them signed it).
    #[arg(long, value_name = "PUB")]
    key: Vec<String>,

    /// With --key: also check the log against this checkpoint, obtained out of band (from a
    /// witness, an email): catches a tail cut below it even if every stored checkpoint was
    /// removed with it.
    #[arg(long, value_name = "FILE", requires = "key")]
    trusted_checkpoint: Option<std::path::PathBuf>,
}

/// The lock of one event: what an e-invoicing auditor checks per document.
#[derive(serde::Serialize)]
struct EventLock<'a> {
    seq: u64,
    slot: u64,
    key: &'a str,
    mode: Option<wormlog_store::RetentionMode>,
    retain_until: Option<&'a str>,
    legal_hold: bool,
}

fn event_locks(report: &wormlog::reader::VerifyReport) -> Vec<EventLock<'_>> {
    report
        .locks
        .iter()
        .flat_map(|l| {
            let seqs = l.first_seq.map_or(0..0, |f| f..f.saturating_add(l.count));
            seqs.map(move |seq| EventLock {
                seq,
                slot: l.slot,
                key: &l.key,
                mode: l.mode,
                retain_until: l.retain_until.as_deref(),
                legal_hold: l.legal_hold,
            })
        })
        .collect()
}

/// A stream with nothing in it: no segment, no purge, no finding.
fn is_empty(report: &wormlog::reader::VerifyReport) -> bool {
    report.segments == 0 && report.purges.is_empty() && report.findings.is_empty()
}

pub(crate) async fn run(ctx: &Context, args: VerifyArgs) -> CliResult<()> {
    let report = verify(
        Arc::clone(&ctx.store.store),
        &ctx.store.root_prefix,
        &ctx.stream,
        args.require_lock,
    )
    .await?;
    // The URL as given, prefix included, so a report names exactly what was audited.
    let report = wormlog::reader::VerifyReport {
        store: ctx.store_url.clone(),
        ..report
    };
    let tree = if args.key.is_empty() {
        None
    } else {
        Some(audit_tree(ctx, &args.key, args.trusted_checkpoint.as_deref()).await?)
    };
    if args.json {
        let mut doc = serde_json::to_value(&report).expect("reports serialise");
        if let Some(tree) = &tree {
            doc["merkle_tree"] = serde_json::to_value(tree).expect("serialises");
        }
        if args.per_event {
            doc["event_locks"] = serde_json::to_value(event_locks(&report)).expect("serialises");
        }
        out!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("reports serialise")
        );
    } else {
        out!(
            "wormlog verify: stream {} in {}",
            report.stream,
            report.store
        );
        out!(
            "{} segments, {} events, {} control records, {} void records, {} orphans, {} attachments",
            report.segments,
            report.events,
            report.control_records,
            report.voids.len(),
            report.orphans.len(),
            report.attachments
        );
        out!("epoch timeline:");
        for t in &report.timeline {
            out!(
                "  slot {:>6}  seq {:>8}  epoch {:>4}  by {}",
                t.slot,
                t.seq,
                t.epoch,
                t.writer
            );
        }
        if !report.purges.is_empty() {
            out!("documented purges (deleted under a purge record; not violations):");
            for p in &report.purges {
                out!(
                    "  slot {:>6}  seqs {}..{}  purged by {:?} (record at slot {}): {}",
                    p.slot,
                    p.first_seq,
                    p.first_seq + p.count,
                    p.operator,
                    p.record_slot,
                    p.reason
                );
            }
        }
        if args.per_event {
            out!("object lock per event:");
            for e in event_locks(&report) {
                let mode = e.mode.map_or("none".to_owned(), |m| m.to_string());
                out!(
                    "  seq {:>8}  slot {:>6}  {}  {mode:<10}  until {}  legal hold {}",
                    e.seq,
                    e.slot,
                    e.key,
                    e.retain_until.unwrap_or("-"),
                    if e.legal_hold { "on" } else { "off" }
                );
            }
        } else if args.require_lock {
            out!("object lock:");
            for l in &report.locks {
                let mode = l.mode.map_or("none".to_owned(), |m| m.to_string());
                let until = l.retain_until.as_deref().unwrap_or("-");
                out!(
                    "  slot {:>6}  {mode:<10}  until {until}  legal hold {}",
                    l.slot,
                    if l.legal_hold { "on" } else { "off" }
                );
            }
        }
        if !report.unreferenced_attachments.is_empty() {
            out!(
                "attachments no event refers to (uploads whose segment never committed; not violations):"
            );
            for key in &report.unreferenced_attachments {
                out!("  {key}");
            }
        }
        if !report.orphans.is_empty() {
            out!(
                "orphans (segments naming another predecessor than the valid one below them: a writer's batches above a slot it lost, sent again higher up; readers skip them; not violations):"
            );
            for o in &report.orphans {
                let id = |w: Option<uuid::Uuid>| w.map_or("none".to_owned(), |w| w.to_string());
                out!(
                    "  slot {:>6}  epoch {:>4}  by {}  {} events  names {}, the valid one below is {}",
                    o.slot,
                    o.epoch,
                    o.writer,
                    o.count,
                    id(o.names),
                    id(o.valid_below)
                );
            }
        }
        for (first, last) in &report.pending_holes {
            out!(
                "slots {first}..={last} are pending (not violations): a new writer claimed the slots after them and has not filled these yet, or crashed while it did; readers stop there, and the next writer to open fills them"
            );
        }
        if let Some(tree) = &tree {
            out!(
                "merkle tree: {} events, root {}, {} checkpoints checked",
                tree.tree_size,
                tree.root_hash,
                tree.checkpoints.len()
            );
            for v in &tree.violations {
                out!("  - {v}");
            }
        }
        if is_empty(&report) {
            out!("the stream has no segments");
        } else if report.is_clean() {
            out!("no violations: the log is whole");
        } else {
            out!("{} violations:", report.findings.len());
            for f in &report.findings {
                out!("  - {}", f.describe());
            }
        }
    }
    if is_empty(&report) && !args.allow_empty {
        return Err(CliError::violation(format!(
            "stream {} has no segments in {}: nothing was audited; check --stream and the store \
             URL's prefix, or pass --allow-empty if an empty stream is expected",
            report.stream, report.store
        )));
    }
    if let Some(first) = tree.as_ref().and_then(|t| t.violations.first()) {
        return Err(CliError::violation(format!(
            "stream {} does not match its checkpoints: {first}",
            report.stream
        )));
    }
    match report.findings.first() {
        None => Ok(()),
        Some(first) => Err(CliError::violation(format!(
            "stream {} failed verification with {} violations, the first: {}",
            report.stream,
            report.findings.len(),
            first.describe()
        ))),
    }
}

/// The Merkle tree audit of `verify --key`.
async fn audit_tree(
    ctx: &Context,
    keys: &[String],
    trusted: Option<&std::path::Path>,
) -> CliResult<wormlog::reader::tlog::TreeAudit> {
    let verifiers = keys
        .iter()
        .map(|key| super::tlog::verifier(key))
        .collect::<CliResult<Vec<_>>>()?;
    let trusted = match trusted {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
            CliError::usage(format!(
                "cannot read the trusted checkpoint {} ({e}); check --trusted-checkpoint",
                path.display()
            ))
        })?),
        None => None,
    };
    let audit = wormlog::reader::tlog::audit_tree(
        Arc::clone(&ctx.store.store),
        &ctx.store.root_prefix,
        &ctx.stream,
        &verifiers,
        trusted.as_deref(),
    )
    .await;
    match audit.map_err(CliError::from) {
        // A log the tree cannot be recomputed over (a corrupt or missing segment, which the
        // report names too): a violation of the tree, not the end of the audit.
        Err(e) if e.code == super::exit::VIOLATION => Ok(wormlog::reader::tlog::TreeAudit {
            violations: vec![format!(
                "the Merkle tree cannot be recomputed: {}",
                e.message
            )],
            ..Default::default()
        }),
        other => other,
    }
}
