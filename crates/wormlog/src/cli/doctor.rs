//! `wormlog doctor`: the store capability probe as a table (Markdown, so it pastes into docs).
//! Exit 1 when a safety check fails: writers would refuse this store.

use clap::Args;
use wormlog_store::probe::{probe, Outcome};

use super::{CliError, CliResult, Context};

#[derive(Args, Debug)]
pub(crate) struct DoctorArgs {}

pub(crate) async fn run(ctx: &Context, _args: DoctorArgs) -> CliResult<()> {
    let report = probe(&*ctx.store.store, &ctx.store.root_prefix).await;
    let prefix = if report.prefix.is_empty() {
        "(none)"
    } else {
        report.prefix.as_str()
    };
    println!("wormlog doctor: {}, prefix {prefix}\n", report.store);
    println!("| check | result | observed | what it means |");
    println!("|---|---|---|---|");
    for c in &report.checks {
        let result = match (c.outcome, c.safety) {
            (Outcome::Fail, _) => "**FAIL**",
            (o, _) => o.as_str(),
        };
        println!("| {} | {result} | {} | {} |", c.name, c.detail, c.meaning);
    }
    println!();
    match report.first_failure() {
        None => {
            println!("verdict: safe for wormlog writers");
            Ok(())
        }
        Some(c) => Err(CliError::violation(format!(
            "{} is not safe for wormlog writers: \"{}\" failed ({}); writers refuse to open on it",
            report.store, c.name, c.detail
        ))),
    }
}
