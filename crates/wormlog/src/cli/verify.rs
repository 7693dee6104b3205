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

    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(ctx: &Context, args: VerifyArgs) -> CliResult<()> {
    let report = verify(
        Arc::clone(&ctx.store.store),
        &ctx.store.root_prefix,
        &ctx.stream,
        args.require_lock,
    )
    .await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("reports serialise")
        );
    } else {
        println!(
            "wormlog verify: stream {} in {}",
            report.stream, report.store
        );
        println!(
            "{} segments, {} events, {} control records, {} attachments",
            report.segments, report.events, report.control_records, report.attachments
        );
        println!("epoch timeline:");
        for t in &report.timeline {
            println!(
                "  slot {:>6}  seq {:>8}  epoch {:>4}  by {}",
                t.slot, t.seq, t.epoch, t.writer
            );
        }
        if !report.purges.is_empty() {
            println!("documented purges (deleted under a purge record; not violations):");
            for p in &report.purges {
                println!(
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
        if args.require_lock {
            println!("object lock:");
            for l in &report.locks {
                let mode = l.mode.map_or("none".to_owned(), |m| m.to_string());
                let until = l.retain_until.as_deref().unwrap_or("-");
                println!(
                    "  slot {:>6}  {mode:<10}  until {until}  legal hold {}",
                    l.slot,
                    if l.legal_hold { "on" } else { "off" }
                );
            }
        }
        if !report.unreferenced_attachments.is_empty() {
            println!(
                "attachments no event refers to (uploads whose segment never committed; not violations):"
            );
            for key in &report.unreferenced_attachments {
                println!("  {key}");
            }
        }
        if report.is_clean() {
            println!("no violations: the log is whole");
        } else {
            println!("{} violations:", report.findings.len());
            for f in &report.findings {
                println!("  - {}", f.describe());
            }
        }
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
