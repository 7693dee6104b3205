//! `wormlog init`: create the store and set its default Object Lock retention.

use clap::Args;
use wormlog_store::{DefaultRetention, InitOptions, RetentionMode};

use super::{CliError, CliResult, Context};

#[derive(Args, Debug)]
pub(crate) struct InitArgs {
    /// Turn on Object Lock: every new segment gets this retention mode by default.
    #[arg(
        long,
        value_name = "compliance|governance",
        requires = "retention_days"
    )]
    object_lock: Option<RetentionMode>,

    /// Default retention in days (with --object-lock).
    #[arg(long, value_name = "N", requires = "object_lock", value_parser = clap::value_parser!(u32).range(1..=36500))]
    retention_days: Option<u32>,

    /// Replace a default retention with a weaker one (COMPLIANCE to GOVERNANCE, or fewer
    /// days). Segments written before keep their own retention.
    #[arg(long, requires = "object_lock")]
    allow_weaker_default: bool,
}

pub(crate) async fn run(ctx: &Context, args: InitArgs) -> CliResult<()> {
    let default_retention = match (args.object_lock, args.retention_days) {
        (Some(mode), Some(days)) => Some(DefaultRetention { mode, days }),
        (None, None) => None,
        _ => {
            return Err(CliError::usage(
                "--object-lock and --retention-days go together",
            ))
        }
    };
    if let Some(new) = default_retention {
        refuse_weakening(ctx, new, args.allow_weaker_default).await?;
    }
    let report = ctx
        .store
        .store
        .init(&InitOptions {
            object_lock: default_retention.is_some(),
            default_retention,
        })
        .await?;
    let what = if report.created {
        "created"
    } else {
        "already existed"
    };
    out!("store {} {what}", ctx.store.store.describe());
    match report.default_retention {
        Some(d) => out!("default retention: {d} on every new segment"),
        None => {
            out!("default retention: none (pass --object-lock MODE --retention-days N for WORM)")
        }
    }
    Ok(())
}

/// Refuses a default retention weaker than the one in force: another mode than COMPLIANCE
/// over COMPLIANCE, or fewer days. A store that does not exist yet has none.
async fn refuse_weakening(ctx: &Context, new: DefaultRetention, allowed: bool) -> CliResult<()> {
    let current = match ctx.store.store.default_retention().await {
        Ok(current) => current,
        Err(wormlog_store::StoreError::NotFound { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let Some(current) = current else {
        return Ok(());
    };
    let weaker = (current.mode == RetentionMode::Compliance
        && new.mode != RetentionMode::Compliance)
        || new.days < current.days;
    if weaker && !allowed {
        return Err(CliError::usage(format!(
            "the store's default retention is {current}; {new} would weaken it, so nothing was changed (pass --allow-weaker-default to replace it anyway; segments written before keep their own retention)"
        )));
    }
    Ok(())
}
