//! Writer configuration.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use wormlog_fencing::FencingToken;
use wormlog_store::{Clock, LockRequest, Retention, RetentionMode, SystemClock, Timestamp};

/// How transient failures (409, 5xx, throttling, timeouts) are retried: capped exponential
/// backoff with full jitter, at most `max_attempts` sends of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The longest wait before attempt `attempt` (1-based retry count); jitter picks below it.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// Object Lock retention applied to every object the writer creates (segments, and
/// attachments one hour longer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockPolicy {
    pub mode: RetentionMode,
    /// Retention from the moment of the put.
    pub retain_for: Duration,
}

/// The longest retention the command line and the Python package accept: 100 years.
pub const MAX_RETAIN_DAYS: u32 = 36_500;

impl LockPolicy {
    /// Retention of `days` days in `mode`.
    pub fn days(mode: RetentionMode, days: u32) -> LockPolicy {
        LockPolicy {
            mode,
            retain_for: Duration::from_secs(u64::from(days) * 86_400),
        }
    }

    /// The lock of one object put at `now` under `policy` (`None`: the bucket's default
    /// retention, never a weaker one) and `legal_hold`.
    pub fn request(policy: Option<LockPolicy>, legal_hold: bool, now: Timestamp) -> LockRequest {
        LockRequest {
            retention: policy.map(|p| Retention {
                mode: p.mode,
                retain_until: now.plus(p.retain_for),
            }),
            legal_hold,
        }
    }
}

/// Raw payloads above 256 KiB are stored as attachments by default.
pub const DEFAULT_ATTACH_ABOVE: u64 = 256 << 10;

/// Attachments above 1 GiB go up in parts by default: one PUT carries up to 5 GiB on AWS,
/// but a failed one is sent again whole.
pub const DEFAULT_PARTS_ABOVE: u64 = 1 << 30;

/// Everything a [`crate::LogWriter`] needs besides the store.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// Key prefix above the stream (`P = <root_prefix>/<stream>/`); may be empty.
    pub root_prefix: String,
    pub stream: String,
    /// The fencing token: a unique, increasing epoch from a lease or another issuer.
    pub epoch: u64,
    /// Names this writer in segments; distinct per process.
    pub writer_id: String,
    /// Group commit: at most this many events per segment.
    pub max_batch_events: usize,
    /// Group commit: at most about this many bytes per segment (a lone larger event still goes).
    pub max_batch_bytes: usize,
    pub retry: RetryPolicy,
    /// Object Lock retention for every object written; `None` leaves the bucket default in
    /// force.
    pub lock: Option<LockPolicy>,
    /// A legal hold on every object written. It never sets, shortens or changes retention:
    /// without [`WriterConfig::lock`], objects keep the bucket's default retention.
    pub legal_hold: bool,
    /// Raw payloads larger than this many bytes are stored as attachments of their own
    /// (`P/attachments/<sha256>`); smaller ones go inline, as base64 in the event line.
    pub attach_above: u64,
    /// An attachment from a file larger than this goes up as a multipart upload (8 MiB parts,
    /// each retried on its own); smaller ones stream in one PUT. Memory stays bounded either way.
    pub parts_above: u64,
    /// Give every event its own segment (no group commit), for one lock per document.
    pub one_per_segment: bool,
    pub clock: Arc<dyn Clock>,
    /// Seed for event ids, write ids and jitter; `None` draws one from the OS. Writers that
    /// share a seed draw the same ids: give each its own.
    pub seed: Option<u64>,
    /// For a writer whose epoch comes from a lease: the elector's token channel
    /// (`LeaderElector::watch`). Once it stops showing this writer's epoch, pending and later
    /// appends fail with `LeadershipLost`.
    pub leadership: Option<watch::Receiver<Option<FencingToken>>>,
    /// Called once when the writer stops for good (fenced, two writers on one epoch,
    /// poisoned, leadership lost), at the moment it decides to, before it returns the error
    /// to any append: for metrics, alerts, or a controller that must step down at once.
    pub on_stop: Option<StopHook>,
    /// A slot the caller believes is the log's last (the one its previous process wrote): its
    /// summary is read in parallel with the open's listing and used only if the listing shows
    /// that slot as the last, saving a round trip. Never trusted; `None` reads it after.
    pub tail_hint: Option<u64>,
    /// The most an epoch may exceed the log's current one: a typo such as
    /// 18446744073709551615 would otherwise let only that epoch ever append. `None` allows any
    /// jump (for epochs from an issuer that skips, such as a timestamp).
    pub max_epoch_jump: Option<u64>,
    /// Fencing ahead: a writer that opens at a new epoch sends its `epoch-start` at the tail
    /// together with this many `void` records at the slots after it, all at once, so a stale
    /// leader that keeps taking the next slot is fenced within a round trip or two instead of
    /// holding the new one off for as long as it writes (docs/protocol.md, writer step 1).
    /// 0 sends the epoch-start alone; at most [`MAX_FENCE_AHEAD`].
    pub fence_ahead: u32,
    /// Pipelining: how many segments the writer keeps in flight at once (its window `k`),
    /// 1..=[`wormlog_format::MAX_WINDOW`]. 1 sends one segment and waits for its answer
    /// before the next; `k` sends the next batches while the first are on their way, each
    /// naming the one below it, and acknowledges in slot order (docs/protocol.md,
    /// "Pipelining"). A window pays off when a PUT takes longer than encoding a segment.
    pub in_flight: u32,
    /// Backpressure: at most about this many bytes of events queued or in flight. `append`
    /// waits beyond it (in call order); `try_append` says the writer is full instead. A
    /// lone event larger than this still goes, alone.
    pub max_unacked_bytes: usize,
    /// Signed checkpoints of the log's Merkle tree, written as the writer goes
    /// (docs/protocol.md, "Checkpoints and proofs"); `None` writes none.
    pub checkpoints: Option<CheckpointPolicy>,
    /// A protocol bug switched on, for tests that prove the simulation checker catches it.
    /// Always `None` outside those tests.
    #[doc(hidden)]
    pub planted_bug: Option<PlantedBug>,
}

/// When a writer signs a checkpoint of the log: after `every_segments` segments of its own,
/// or `every` after the last one when events came since, whichever is first, and once more
/// when it closes. Checkpoints and tiles get the writer's Object Lock and legal hold.
#[derive(Clone)]
pub struct CheckpointPolicy {
    /// The signing key (never printed: its `Debug` shows its name only).
    pub signer: Arc<wormlog_tlog::Signer>,
    pub every_segments: u64,
    pub every: Duration,
    /// Keys this signer replaced (a rotation): newer checkpoints of theirs are passed over.
    /// A newer checkpoint of any other key stops the checkpointer (nothing is signed over
    /// what may be a forgery or a typo'd key).
    pub previous: Vec<wormlog_tlog::Verifier>,
}

/// The default [`CheckpointPolicy::every_segments`]: 100.
pub const DEFAULT_CHECKPOINT_SEGMENTS: u64 = 100;

/// The default [`CheckpointPolicy::every`]: 10 seconds.
pub const DEFAULT_CHECKPOINT_EVERY: Duration = Duration::from_secs(10);

impl CheckpointPolicy {
    /// Checkpoints signed by `signer` at the default intervals.
    pub fn new(signer: wormlog_tlog::Signer) -> CheckpointPolicy {
        CheckpointPolicy {
            signer: Arc::new(signer),
            every_segments: DEFAULT_CHECKPOINT_SEGMENTS,
            every: DEFAULT_CHECKPOINT_EVERY,
            previous: Vec::new(),
        }
    }
}

impl std::fmt::Debug for CheckpointPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointPolicy")
            .field("signer", &self.signer)
            .field("every_segments", &self.every_segments)
            .field("every", &self.every)
            .field("previous", &self.previous)
            .finish()
    }
}

/// The default [`WriterConfig::in_flight`]: 8. On Ceph RGW 8 segments in flight store more
/// at every latency measured (1.3x to 1.9x over loopback, 6.3x to 6.5x at 20 ms added each
/// way; docs/benchmarks.md, "Pipelining"), a one-event append is one segment either way, and
/// a new leader fences a pipelined stale one within a few rounds (docs/protocol.md, writer
/// step 1). 1 waits for each PUT before sending the next.
pub const DEFAULT_IN_FLIGHT: u32 = 8;

/// The default [`WriterConfig::max_unacked_bytes`]: 64 MiB.
pub const DEFAULT_MAX_UNACKED_BYTES: usize = 64 << 20;

/// The default [`WriterConfig::max_epoch_jump`]: an epoch at most this far above the log's.
pub const MAX_EPOCH_JUMP: u64 = 1_000_000;

/// The default [`WriterConfig::fence_ahead`]: a serial stale leader lands at most one or two
/// slots in the round trip between a new leader's listing and its PUTs.
pub const DEFAULT_FENCE_AHEAD: u32 = 2;

/// The most [`WriterConfig::fence_ahead`] may be.
pub const MAX_FENCE_AHEAD: u32 = 15;

/// A callback for [`WriterConfig::on_stop`].
#[derive(Clone)]
pub struct StopHook(pub Arc<dyn Fn(&crate::WriteError) + Send + Sync>);

impl std::fmt::Debug for StopHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StopHook")
    }
}

/// Bugs a test can plant in the writer (`WriterConfig::planted_bug`) to show that the
/// simulation checker notices what they break.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlantedBug {
    /// Writer step 2 without the orphan rule: a version 3 segment naming another
    /// predecessor is counted as valid, so the writer's own next segment names an orphan.
    CountOrphans,
    /// After counting a foreign segment, the writer keeps naming the segment below it as
    /// its next `prev`: its own next segment is an orphan.
    StalePrevAfterCount,
    /// Writer step 2 without its first rule: a 412 on our own write id (a lost response) is
    /// taken for another writer's segment.
    IgnoreOwnWriteId,
    /// After a 412, move on to the next slot without reading who wrote the occupied one.
    SkipReadAfter412,
    /// A failure to settle a slot after a send that may have landed is reported as a definite
    /// failure (the I6 bug: a landed segment called failed, and the writer not poisoned).
    DefiniteAfterMaybeLanded,
    /// Open goes on even when the log's last segment has a higher epoch than the writer's.
    OpenWithoutEpochCheck,
    /// A 412 on a higher epoch is counted and passed like an older writer's segment.
    CountHigherEpoch,
    /// Open writes on past a slot a delete marker or an older version shadows (a tail cut
    /// by a plain DELETE on a versioned bucket), forking the log.
    OpenOverDeletedSlot,
    /// A failed attachment upload is ignored: the event that names it is appended anyway
    /// (the rule: an attachment is stored before the segment that refers to it).
    AttachmentFailureIgnored,
    /// Writer step 1 without the epoch test of its epoch-start shortcut: no `epoch-start`
    /// whenever the tail's epoch is at or below ours, leaving slots a lower epoch can still
    /// take after this writer opened.
    SkipEpochStartBelowUs,
    /// Writer step 1 taking `tail_hint` for the tail without the listing's confirmation.
    TrustTailHint,
    /// Writer step 1 without repairing holes: an opener whose tail is a void run writes on
    /// above a missing slot, where a stale leader's late PUT can still land.
    OpenWithoutRepair,
    /// Writer step 1 without fencing ahead: the epoch-start alone, chasing a stale leader
    /// slot by slot for as long as it writes.
    NoFenceAhead,
    /// Fencing ahead without the listing: after a round of claims a stale leader took
    /// whole, the next round is claimed right after it, however far ahead the stale leader
    /// is, so a new leader that found the tail late chases it round by round.
    NoListingJump,
    /// Pipelining without its window: one slot more in flight than `in_flight` allows, so
    /// readers and openers take a missing slot below it for a gap.
    WindowAboveK,
    /// Pipelining acknowledging a batch as soon as its PUT returns, before the slots below
    /// it settle: an orphan's events are acknowledged.
    AckBeforeLowerSettles,
    /// Pipelining without re-encoding: after a failed speculation, the batches above it are
    /// taken as committed where they landed (as orphans).
    NoReencode,
    /// Pipelining without the void record: a definite failure below landed slots leaves the
    /// hole open, and the batches above are sent again over it.
    NoVoid,
}

impl WriterConfig {
    pub fn new(stream: impl Into<String>, epoch: u64, writer_id: impl Into<String>) -> Self {
        WriterConfig {
            root_prefix: String::new(),
            stream: stream.into(),
            epoch,
            writer_id: writer_id.into(),
            max_batch_events: 10_000,
            max_batch_bytes: 4 << 20,
            retry: RetryPolicy::default(),
            lock: None,
            legal_hold: false,
            attach_above: DEFAULT_ATTACH_ABOVE,
            parts_above: DEFAULT_PARTS_ABOVE,
            one_per_segment: false,
            clock: SystemClock::shared(),
            seed: None,
            leadership: None,
            on_stop: None,
            max_epoch_jump: Some(MAX_EPOCH_JUMP),
            tail_hint: None,
            fence_ahead: DEFAULT_FENCE_AHEAD,
            in_flight: DEFAULT_IN_FLIGHT,
            max_unacked_bytes: DEFAULT_MAX_UNACKED_BYTES,
            checkpoints: None,
            planted_bug: None,
        }
    }

    /// A writer for `stream` under the token an elector currently publishes; its appends stop
    /// when that token does. `None` if the elector does not lead right now.
    pub fn from_leadership(
        stream: impl Into<String>,
        leadership: watch::Receiver<Option<FencingToken>>,
    ) -> Option<WriterConfig> {
        let token = leadership.borrow().clone()?;
        let mut cfg = WriterConfig::new(stream, token.epoch, token.holder);
        cfg.leadership = Some(leadership);
        Some(cfg)
    }

    /// Checks the configuration as `LogWriter::open` does first, for a caller that must know
    /// before it acts (say, takes a lease for the writer).
    pub fn validate(&self) -> Result<(), String> {
        if self.epoch == 0 {
            return Err("the epoch must be at least 1".into());
        }
        wormlog_format::validate_id("the writer id", &self.writer_id)?;
        if self.max_batch_events == 0 || self.max_batch_bytes == 0 {
            return Err("batch limits must be at least 1".into());
        }
        if self.fence_ahead > MAX_FENCE_AHEAD {
            return Err(format!(
                "fence_ahead is {}, at most {MAX_FENCE_AHEAD}",
                self.fence_ahead
            ));
        }
        if !(1..=wormlog_format::MAX_WINDOW).contains(&self.in_flight) {
            return Err(format!(
                "in_flight is {}; it must be 1 to {}",
                self.in_flight,
                wormlog_format::MAX_WINDOW
            ));
        }
        if self.max_unacked_bytes == 0 {
            return Err("max_unacked_bytes must be at least 1".into());
        }
        if let Some(c) = &self.checkpoints {
            if c.every_segments == 0 || c.every.is_zero() {
                return Err("checkpoint intervals must be at least 1 segment and above 0 s".into());
            }
        }
        if self.retry.max_attempts == 0 {
            return Err("the retry policy must allow at least one attempt".into());
        }
        if let Some(l) = &self.leadership {
            match &*l.borrow() {
                Some(t) if t.epoch == self.epoch => {}
                Some(t) => {
                    return Err(format!(
                        "the lease is at epoch {}, not this writer's epoch {}",
                        t.epoch, self.epoch
                    ))
                }
                None => {
                    return Err(
                        "this process does not hold the lease; wait for leadership first".into(),
                    )
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_ceiling_doubles_then_caps() {
        let r = RetryPolicy::default();
        assert_eq!(r.ceiling(1), Duration::from_millis(40));
        assert_eq!(r.ceiling(2), Duration::from_millis(80));
        assert_eq!(r.ceiling(30), Duration::from_secs(2));
    }
}
