//! The options of commands that write to the log (`append`, `purge`): the fencing token,
//! from `--epoch` or from the stream's lease, and the Object Lock of every segment written.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use wormlog::{LogWriter, WriterConfig};
use wormlog_fencing::{ElectorConfig, LeaderElector};
use wormlog_format::validate_id;
use wormlog_store::RetentionMode;
use wormlog_writer::LockPolicy;

use super::lease::HolderArgs;
use super::{CliError, CliResult, Context};

/// How a command that writes to the log gets its fencing token, and the Object Lock it puts
/// on what it writes.
#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("token").required(true).args(["epoch", "lease"]))]
pub(crate) struct WriterArgs {
    /// The fencing token: an epoch no lower than the log's current one, unique to this writer.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    epoch: Option<u64>,

    /// Take the stream's lease for the epoch (waiting while another holder is live), keep it
    /// renewed while appending, and release it at the end.
    #[arg(long, conflicts_with = "writer_id")]
    lease: bool,

    #[command(flatten)]
    holder: HolderArgs,

    /// Names this writer in the segments it writes (default: wormlog-cli-<host>-<pid>-<random>).
    #[arg(long, value_name = "ID")]
    writer_id: Option<String>,

    #[command(flatten)]
    lock: LockArgs,

    /// Accept an --epoch more than 1000000 above the log's current one (after it, no lower
    /// epoch can ever append: a typo would lock every other writer out for good).
    #[arg(long, requires = "epoch")]
    allow_epoch_jump: bool,

    /// Segments in flight at once (pipelining): 1 waits for each PUT before the next, N
    /// sends up to N at once and acknowledges in order. Pays off where a PUT takes longer
    /// than encoding a segment (a store across a network) and many events are appended.
    #[arg(long, value_name = "N", default_value_t = wormlog_writer::DEFAULT_IN_FLIGHT, value_parser = clap::value_parser!(u32).range(1..=i64::from(wormlog_format::MAX_WINDOW)))]
    in_flight: u32,

    #[command(flatten)]
    checkpoints: CheckpointFlags,
}

/// Signed checkpoints as the writer goes (docs/protocol.md, "Checkpoints and proofs").
#[derive(Args, Debug)]
pub(crate) struct CheckpointFlags {
    /// Sign a checkpoint of the log's Merkle tree as the writer goes, with the key in FILE
    /// (from `wormlog keygen`): every --checkpoint-segments segments, every
    /// --checkpoint-secs seconds with events since, and at the end. Checkpoints and tiles
    /// get the segments' Object Lock.
    #[arg(long, value_name = "FILE")]
    checkpoint_key: Option<std::path::PathBuf>,

    /// As --checkpoint-key, with the key in WORMLOG_CHECKPOINT_KEY.
    #[arg(long, conflicts_with = "checkpoint_key")]
    checkpoints: bool,

    /// With checkpoints: one after this many segments of the writer's.
    #[arg(long, value_name = "N", default_value_t = wormlog_writer::DEFAULT_CHECKPOINT_SEGMENTS, value_parser = clap::value_parser!(u64).range(1..))]
    checkpoint_segments: u64,

    /// With checkpoints: one this many seconds after the last, if events came since.
    #[arg(long, value_name = "SECONDS", default_value_t = wormlog_writer::DEFAULT_CHECKPOINT_EVERY.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    checkpoint_secs: u64,

    /// With checkpoints, after a key rotation: the verifier key (file or text) of a key the
    /// signing key replaced; newer checkpoints of it are passed over. Repeatable.
    #[arg(long, value_name = "PUB")]
    checkpoint_rotated_from: Vec<String>,
}

impl CheckpointFlags {
    /// The policy asked for, its key read (a bad key fails here, before anything is written).
    pub fn policy(&self) -> CliResult<Option<wormlog_writer::CheckpointPolicy>> {
        if self.checkpoint_key.is_none() && !self.checkpoints {
            return Ok(None);
        }
        let signer = super::tlog::signer(self.checkpoint_key.as_deref(), "--checkpoint-key")?;
        let mut policy = wormlog_writer::CheckpointPolicy::new(signer);
        policy.every_segments = self.checkpoint_segments;
        policy.every = Duration::from_secs(self.checkpoint_secs);
        for key in &self.checkpoint_rotated_from {
            policy.previous.push(super::tlog::verifier(key)?);
        }
        Ok(Some(policy))
    }
}

/// Before a writer that signs checkpoints writes anything: the stream's newest checkpoint
/// must be its key's own, or an earlier key's it names (the writer's own checkpointer
/// checks the same in the background; a command checks first, so that a wrong key stores
/// nothing).
async fn check_checkpoints(
    ctx: &Context,
    policy: &wormlog_writer::CheckpointPolicy,
) -> CliResult<()> {
    let keys = wormlog_format::StreamKeys::new(&ctx.store.root_prefix, &ctx.stream)
        .map_err(|e| CliError::usage(e.to_string()))?;
    match wormlog_writer::check_before_writing(&*ctx.store.store, keys, policy).await {
        Ok(()) => Ok(()),
        Err(wormlog::reader::tlog::TlogError::Tampered(why)) => Err(CliError::violation(format!(
            "{why}; nothing was appended (after a key rotation, name the old key with --checkpoint-rotated-from)"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// An open writer, and the elector keeping its lease when it has one.
pub(crate) struct Opened {
    pub writer: LogWriter,
    elector: Option<LeaderElector>,
    /// Where the last slot written is remembered for the next process (`tail_cache`).
    tail: (String, String),
}

impl Opened {
    /// Closes the writer; releases the lease, unless the log fenced us (then it is not ours
    /// to touch). An error when the writer kept checkpoints and the last could not be stored.
    pub async fn close(self, fenced: bool) -> CliResult<()> {
        let position = self.writer.position();
        let checkpoints = self.writer.close().await;
        if let Some(last) = position.next_slot.checked_sub(1) {
            super::tail_cache::write(&self.tail.0, &self.tail.1, last);
        }
        if let Some(e) = self.elector {
            if fenced {
                e.abandon();
            } else {
                e.stop().await;
            }
        }
        checkpoints.map_or(Ok(()), checkpoints_closed)
    }
}

/// What a closed writer's checkpointer left, on stderr. The events are in the log either
/// way, so a checkpoint that could not be stored is a warning (exit 0: a retry would append
/// them again; `wormlog checkpoint` signs them); a checkpointer stopped by a contradiction
/// between the checkpoints and the log is an integrity violation (exit 1).
fn checkpoints_closed(status: wormlog_writer::CheckpointStatus) -> CliResult<()> {
    for why in &status.passed_over {
        eprintln!("wormlog: {why}");
    }
    match status.error {
        Some(why) if status.tampered => {
            return Err(CliError::violation(format!(
                "the events were appended, but the checkpointer stopped: {why}"
            )))
        }
        Some(why) => eprintln!(
            "wormlog: warning: the events were appended, but the checkpointer stopped: {why}"
        ),
        None => {}
    }
    if status.unsigned > 0 {
        eprintln!(
            "wormlog: warning: the events were appended, but the last checkpoint could not be stored ({} of them unsigned); run `wormlog checkpoint`",
            status.unsigned
        );
    } else if let Some(size) = status.latest {
        eprintln!("wormlog: checkpoint of tree size {size} signed");
    }
    Ok(())
}

impl WriterArgs {
    /// Checks the ids given, before anything is written.
    pub fn validate(&self) -> CliResult<()> {
        if let Some(id) = &self.writer_id {
            validate_id("--writer-id", id).map_err(CliError::usage)?;
        }
        Ok(())
    }

    /// Opens the writer: under `--epoch`, or under the lease (`--lease`).
    pub async fn open(&self, ctx: &Context) -> CliResult<Opened> {
        self.open_tuned(ctx, &|_| {}).await
    }

    /// Opens the writer, with `tune` applied to its configuration first.
    pub async fn open_tuned(
        &self,
        ctx: &Context,
        tune: &(dyn Fn(&mut WriterConfig) + Sync),
    ) -> CliResult<Opened> {
        let store = Arc::clone(&ctx.store.store);
        let checkpoints = self.checkpoints.policy()?;
        if let Some(policy) = &checkpoints {
            check_checkpoints(ctx, policy).await?;
        }
        let tune = |cfg: &mut WriterConfig| {
            cfg.checkpoints = checkpoints.clone();
            tune(cfg);
        };
        let Some(epoch) = self.epoch else {
            let lease = self.holder.lease_config(ctx);
            let elector = LeaderElector::start(Arc::clone(&store), ElectorConfig { lease })?;
            let leading =
                tokio::time::timeout(Duration::from_millis(300), elector.leadership()).await;
            if leading.is_err() {
                eprintln!(
                    "wormlog: waiting for the lease of stream {} (another holder is live)",
                    ctx.stream
                );
            }
            let token = elector.leadership().await;
            eprintln!("wormlog: {token} for stream {}", ctx.stream);
            let mut cfg = WriterConfig::from_leadership(ctx.stream.clone(), elector.watch())
                .ok_or_else(|| {
                    CliError::store("the lease was lost right after it was acquired; try again")
                })?;
            self.apply(ctx, &mut cfg);
            tune(&mut cfg);
            let writer = match LogWriter::open(store, cfg).await {
                Ok(w) => w,
                Err(e) => {
                    // The lease is ours and nothing will use it: hand it back at once, so
                    // the next holder need not wait it out.
                    elector.stop().await;
                    return Err(e.into());
                }
            };
            return Ok(Opened {
                writer,
                elector: Some(elector),
                tail: (ctx.store_url.clone(), ctx.stream.clone()),
            });
        };
        let writer_id = self
            .writer_id
            .clone()
            .unwrap_or_else(super::lease::default_process_id);
        let mut cfg = WriterConfig::new(ctx.stream.clone(), epoch, writer_id);
        cfg.in_flight = self.in_flight;
        if self.allow_epoch_jump {
            cfg.max_epoch_jump = None;
        }
        self.apply(ctx, &mut cfg);
        tune(&mut cfg);
        Ok(Opened {
            writer: LogWriter::open(store, cfg).await?,
            elector: None,
            tail: (ctx.store_url.clone(), ctx.stream.clone()),
        })
    }

    /// The store prefix and the Object Lock flags.
    fn apply(&self, ctx: &Context, cfg: &mut WriterConfig) {
        cfg.root_prefix = ctx.store.root_prefix.clone();
        cfg.tail_hint = super::tail_cache::read(&ctx.store_url, &ctx.stream);
        // A legal hold alone leaves retention to the bucket's default: it must never set,
        // shorten or change the mode of retention.
        cfg.legal_hold = self.lock.legal_hold;
        cfg.lock = self.lock.policy();
    }
}

/// The Object Lock flags of the commands that write log objects: retention for each object
/// written, and a legal hold.
#[derive(Args, Debug)]
pub(crate) struct LockArgs {
    /// Object Lock retention mode for every object written.
    #[arg(long, value_name = "compliance|governance", requires = "retain_days")]
    lock_mode: Option<RetentionMode>,

    /// Retention in days from now (with --lock-mode).
    #[arg(long, value_name = "N", requires = "lock_mode", value_parser = clap::value_parser!(u32).range(1..=36500))]
    retain_days: Option<u32>,

    /// Put a legal hold on every object written.
    #[arg(long)]
    pub legal_hold: bool,
}

impl LockArgs {
    /// The retention asked for; `None` leaves the bucket's default in force.
    pub fn policy(&self) -> Option<LockPolicy> {
        match (self.lock_mode, self.retain_days) {
            (Some(mode), Some(days)) => Some(LockPolicy::days(mode, days)),
            _ => None,
        }
    }
}
