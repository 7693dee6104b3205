//! `wormlog lease`: the stream's leader lease from the command line.

use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use wormlog_fencing::{Acquire, Lease, LeaseConfig};
use wormlog_store::SystemClock;

use super::{CliResult, Context};

#[derive(Args, Debug)]
pub(crate) struct LeaseArgs {
    #[command(subcommand)]
    action: LeaseAction,
}

#[derive(Subcommand, Debug)]
enum LeaseAction {
    /// Who holds the lease, at which epoch.
    Status,
    /// Take the lease (waiting while another holder is live) and print the epoch.
    Acquire(HolderArgs),
    /// Hand the lease back so a successor need not wait (only its holder may).
    Release(ReleaseArgs),
}

/// Who gives the lease back.
#[derive(Args, Debug, Clone)]
pub(crate) struct ReleaseArgs {
    /// The holder id the lease was acquired with (`lease acquire` prints it).
    #[arg(long, value_name = "ID")]
    holder: String,
}

/// Who the lease is for.
#[derive(Args, Debug, Clone)]
pub(crate) struct HolderArgs {
    /// The holder id (default: wormlog-cli-<host>-<pid>-<random>, unique per process even in
    /// containers where every process is pid 1).
    #[arg(long, value_name = "ID")]
    pub holder: Option<String>,

    /// How long the lease stays valid without renewal.
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(10..=86_400_000))]
    pub duration_ms: u64,
}

impl HolderArgs {
    pub fn lease_config(&self, ctx: &Context) -> LeaseConfig {
        LeaseConfig {
            root_prefix: ctx.store.root_prefix.clone(),
            stream: ctx.stream.clone(),
            holder: self.holder.clone().unwrap_or_else(default_process_id),
            duration: Duration::from_millis(self.duration_ms),
            drift_margin: LeaseConfig::default_drift_margin(Duration::from_millis(
                self.duration_ms,
            )),
            clock: SystemClock::shared(),
        }
    }
}

/// The default id of this CLI process as a lease holder or writer:
/// `wormlog-cli-<host>-<pid>-<random>`.
pub(crate) fn default_process_id() -> String {
    wormlog_fencing::default_process_id("wormlog-cli")
}

pub(crate) async fn run(ctx: &Context, args: LeaseArgs) -> CliResult<()> {
    match args.action {
        LeaseAction::Status => status(ctx).await,
        LeaseAction::Acquire(h) => {
            let mut lease = Lease::new(Arc::clone(&ctx.store.store), h.lease_config(ctx))?;
            let token = acquire(&mut lease).await?;
            eprintln!(
                "wormlog: {} holds the lease of stream {} at epoch {}; it lapses in {} ms unless renewed; append with --epoch {}",
                token.holder, ctx.stream, token.epoch, h.duration_ms, token.epoch
            );
            out!("{}", token.epoch);
            Ok(())
        }
        LeaseAction::Release(r) => {
            let h = HolderArgs {
                holder: Some(r.holder),
                duration_ms: 10_000,
            };
            let mut lease = Lease::new(Arc::clone(&ctx.store.store), h.lease_config(ctx))?;
            match lease.release_by_holder().await? {
                Some(epoch) => out!(
                    "released the lease of stream {} at epoch {epoch}",
                    ctx.stream
                ),
                None => out!("the lease of stream {} is not held", ctx.stream),
            }
            Ok(())
        }
    }
}

async fn status(ctx: &Context) -> CliResult<()> {
    let probe = HolderArgs {
        holder: Some("status".into()),
        duration_ms: 10_000,
    };

    let lease = Lease::new(Arc::clone(&ctx.store.store), probe.lease_config(ctx))?;
    match lease.read().await? {
        None => out!("stream {}: no lease yet", ctx.stream),
        Some((rec, _)) => match rec.holder {
            Some(h) => out!(
                "stream {}: held by {h} at epoch {}, duration {} ms, renewed {} times",
                ctx.stream,
                rec.epoch,
                rec.duration_ms,
                rec.renew_count
            ),
            None => out!(
                "stream {}: free (released at epoch {})",
                ctx.stream,
                rec.epoch
            ),
        },
    }
    Ok(())
}

/// Takes the lease, saying on stderr whom it waits for and how long.
pub(crate) async fn acquire(lease: &mut Lease) -> CliResult<wormlog_fencing::FencingToken> {
    let mut told: Option<(String, u64)> = None;
    loop {
        match lease.try_acquire().await? {
            Acquire::Acquired(t) => return Ok(t),
            Acquire::Waiting {
                holder,
                epoch,
                remaining,
            } => {
                if epoch > 0 && told.as_ref() != Some(&(holder.clone(), epoch)) {
                    eprintln!(
                        "wormlog: waiting for the lease held by {holder} (epoch {epoch}): taking it over in {} ms unless {holder} renews or releases it",
                        remaining.as_millis()
                    );
                    told = Some((holder, epoch));
                }
                tokio::time::sleep(
                    remaining.clamp(Duration::from_millis(5), Duration::from_millis(250)),
                )
                .await;
            }
        }
    }
}
