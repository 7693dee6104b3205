//! Where a stream's log ends and which epoch holds it: what a writer must know before it
//! commits anything (protocol step 1), and what a lease must know before it issues an epoch
//! (an epoch at or below the log's would be fenced the moment it is used).
//!
//! ```text
//!  a guess g (the slot this machine last wrote), with its summary read beside:
//!  LIST versions from g on           g listed: nothing at or below g is the tail, and
//!                                    everything above it is in this short listing; done.
//!                                    g not listed: the search below, from scratch
//!  LIST versions, first page         a log of up to a page (1000 slots on S3) is all here:
//!                                    one request; otherwise
//!    HEAD slot 0, 1, 2, 4, 8, ...    gallop to the first absent slot, bisect back: O(log n)
//!    LIST versions from the last present one
//!                                    a writer appending meanwhile, or a hole at the
//!                                    frontier
//!  either way: any delete marker or older version from the last present slot on means the
//!  tail was cut on a versioned bucket
//!  summary of the highest slot       HEAD metadata, or its header by GET (CRC-checked)
//!        └─► Tail { next_slot, last: {epoch, first_seq, count, write id, ...}, deleted }
//! ```
//!
//! Reads change nothing, so transient failures are retried with capped exponential backoff;
//! what remains after the retries goes to the caller.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use wormlog_format::{
    decode_segment, is_pending, lowest_pending, FormatError, SegmentKind, SegmentSummary,
    StreamKeys,
};
use wormlog_store::{list_all, shadowed_keys, ObjectStore, StoreError, MAX_LIST_PAGE};

/// How reads of the log are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadRetry {
    /// Attempts per read, at least 1.
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for ReadRetry {
    fn default() -> Self {
        ReadRetry {
            attempts: 6,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_secs(1),
        }
    }
}

/// The log's tail: the first free slot, and the summary of the segment before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tail {
    pub next_slot: u64,
    pub last: Option<SegmentSummary>,
    /// The lowest slot, from the last present one on, that a delete marker or an older
    /// version shadows (a plain DELETE on a versioned bucket, maybe a slot written again over
    /// it). A writer that wrote on would fork the log: create-only puts succeed over a delete
    /// marker on AWS and moto, hiding the locked original.
    pub deleted: Option<u64>,
    /// The listing showed version ids: the log's objects are versioned (a check of a probe
    /// verdict made on an unversioned bucket).
    pub versioned: bool,
    /// When the last slot holds a void: what lies below it, down to the last other segment.
    pub voids: Option<VoidRun>,
}

impl Tail {
    /// The highest epoch at the log's end (0 for an empty log): the last segment's, or, when
    /// the log ends in voids, the highest of theirs and the segment's below them.
    pub fn epoch(&self) -> u64 {
        match &self.voids {
            Some(run) => run.epoch(),
            None => self.last.as_ref().map_or(0, |s| s.epoch),
        }
    }
}

/// What lies below a tail of `void` records (a new leader fencing ahead, or one that crashed
/// while it did): the last segment that is not a void, and the voids and missing slots above
/// it. A void says how many slots its writer claimed at once (its header's `window`), so a
/// missing slot fewer than that many slots below a void, with only voids above it, is a
/// pending hole: the next opener fills it with a void of its own (docs/protocol.md, writer
/// step 1). A missing slot further down is a gap (deleted), and the walk stops there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VoidRun {
    /// The highest present slot that holds no void, and its summary (`None`: only voids and
    /// holes from slot 0 on, or a gap stopped the walk).
    pub base: Option<(u64, SegmentSummary)>,
    /// The void records above the base, lowest first, each with its claim's floor (the
    /// lowest slot it can have left pending: [`wormlog_format::lowest_pending`]).
    pub voids: Vec<(u64, SegmentSummary, u64)>,
    /// The pending holes above the base, lowest first.
    pub holes: Vec<u64>,
    /// A missing slot below every void's claim: deleted, not pending. Nothing below it was
    /// read.
    pub gap: Option<u64>,
}

impl VoidRun {
    /// The highest epoch among the voids: a writer below it is fenced by them.
    pub fn max_void_epoch(&self) -> u64 {
        self.voids
            .iter()
            .map(|(_, v, _)| v.epoch)
            .max()
            .unwrap_or(0)
    }

    /// The highest epoch in the run: the base's or a void's, whichever is higher (a void of
    /// a new leader that lost its race can sit above a higher epoch-start).
    pub fn epoch(&self) -> u64 {
        let base = self.base.as_ref().map_or(0, |(_, b)| b.epoch);
        base.max(self.max_void_epoch())
    }
}

/// What lies below a tail a pipelined writer left (its last batch sent with slots below it
/// unsettled: a header `window` above 1), judged as readers will judge it once everything
/// below is settled, but from the headers of the last windows alone.
///
/// A pipelined batch at slot `s` with window `d` was sent when every slot below `s - d + 1`
/// had settled and the slots from there up were its writer's own batches in flight, each
/// encoded to name the one below it. A writer sends nothing speculative after a speculation
/// failed until its window has drained. So the batch is valid exactly when each of those
/// slots holds the batch the one above it names, with seqs that follow on: its writer then
/// settled each as its own, as speculated. A batch whose chain is broken inside its window
/// is an orphan. Judged from the top down, the first valid batch is the last valid segment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WindowRun {
    /// The last valid segment (`None`: nothing valid from slot 0 on).
    pub base: Option<(u64, SegmentSummary)>,
    /// The missing slots above the base's window, lowest first: pending holes the opener
    /// fills with voids.
    pub holes: Vec<u64>,
    /// A missing slot no window above explains: deleted, not pending.
    pub gap: Option<u64>,
    /// The highest epoch among the slots read.
    pub epoch: u64,
}

/// How a present slot of a pipelined tail is judged.
enum Judged {
    /// Valid: the last valid segment, if nothing above it was.
    Valid,
    /// Not valid (a void, or a batch whose speculation failed).
    Skipped,
    /// The slots of its window are not read yet.
    ReadFurther,
}

/// Judges the segment at `slot` from the summaries read (`read`: slot to summary, `None`
/// for a missing slot), by what its writer knew when it sent it ([`WindowRun`]).
fn judge_windowed(
    slot: u64,
    read: &std::collections::BTreeMap<u64, Option<SegmentSummary>>,
) -> Judged {
    let Some(Some(s)) = read.get(&slot) else {
        return Judged::Skipped;
    };
    if s.kind == SegmentKind::Void {
        return Judged::Skipped;
    }
    // Sent with nothing unsettled below it (a window of 1, an older version, a control
    // record): its writer had settled what it names, as the opener trusts a tail.
    if s.window <= 1 || !matches!(s.prev, wormlog_format::Prev::Bound(_)) {
        return Judged::Valid;
    }
    let floor = lowest_pending(slot, s.window);
    if (floor..slot).any(|below| !read.contains_key(&below)) {
        return Judged::ReadFurther;
    }
    let mut upper = s;
    for below in (floor..slot).rev() {
        let Some(Some(lower)) = read.get(&below) else {
            return Judged::Skipped; // a hole inside its window: what it named never landed
        };
        let linked = upper.prev == wormlog_format::Prev::Bound(Some(lower.write_id))
            && upper.first_seq == lower.next_seq()
            && lower.kind == SegmentKind::Events
            && lower.epoch == upper.epoch;
        if !linked {
            return Judged::Skipped;
        }
        upper = lower;
    }
    Judged::Valid
}

/// How many summaries a walk down a void run reads at once.
const VOID_RUN_BATCH: u64 = 8;

/// How many summaries a walk down a pipelined tail reads at once: a whole window.
const WINDOW_RUN_BATCH: u64 = wormlog_format::MAX_WINDOW as u64;

/// Why the log could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TailError {
    #[error("reading the log failed: {0}")]
    Store(StoreError),
    #[error("the segment at slot {slot} is corrupt ({source})")]
    Corrupt { slot: u64, source: FormatError },
}

/// Reads of one stream's log, with retries.
#[derive(Clone, Debug)]
pub struct LogReads {
    store: Arc<dyn ObjectStore>,
    keys: StreamKeys,
    retry: ReadRetry,
}

impl LogReads {
    pub fn new(store: Arc<dyn ObjectStore>, keys: StreamKeys, retry: ReadRetry) -> LogReads {
        LogReads { store, keys, retry }
    }

    pub fn keys(&self) -> &StreamKeys {
        &self.keys
    }

    /// Finds the tail without listing the whole log. The tail is one past the highest slot:
    /// a writer never fills a hole below it (readers report holes).
    pub async fn find_tail(&self) -> Result<Tail, TailError> {
        self.find_tail_guessing(None).await
    }

    /// [`LogReads::find_tail`], reading the summary of `guess` (a slot the caller believes is
    /// the last, such as the one its previous process wrote) in parallel with the listing.
    /// The guess is never trusted: its summary is used only if the listing shows that very
    /// slot as the last; otherwise the last slot's is read as usual. A right guess saves the
    /// round trip of that read.
    pub async fn find_tail_guessing(&self, guess: Option<u64>) -> Result<Tail, TailError> {
        let prefix = self.keys.log_prefix();
        let (from_guess, guessed) = tokio::join!(
            async {
                match guess {
                    Some(slot) => Some(self.listed_from(slot).await),
                    None => None,
                }
            },
            async {
                match guess {
                    Some(slot) => Some((slot, self.summary(slot).await)),
                    None => None,
                }
            }
        );
        let (last, listed) = match from_guess.transpose()? {
            // The guessed slot is there: nothing at or below it can be the tail, and the
            // listing from it on shows everything above it, delete markers included.
            Some(Some(listed)) => (None, listed),
            // No guess, or a wrong one (the slot is not there): the whole search.
            _ => self.listed_whole(&prefix).await?,
        };
        let present_max = listed
            .iter()
            .filter(|v| v.is_latest && !v.delete_marker)
            .filter_map(|v| self.keys.parse_slot(&v.key))
            .max();
        let last = match (last, present_max) {
            (Some(l), Some(m)) => Some(l.max(m)),
            (l, m) => l.or(m),
        };
        // What a writer must not write over: a shadowed slot from the last present one on.
        // (Below it, a deletion is a gap that readers report; writing on forks nothing.)
        let deleted = shadowed_keys(&listed)
            .iter()
            .filter_map(|k| self.keys.parse_slot(k))
            .filter(|&s| last.is_none_or(|l| s >= l))
            .min();
        let versioned = listed.iter().any(|v| v.version_id.is_some());
        let Some(last) = last else {
            return Ok(Tail {
                next_slot: 0,
                last: None,
                deleted,
                versioned,
                voids: None,
            });
        };
        let known = match guessed {
            Some((slot, Ok(Some(summary)))) if slot == last => Some(summary),
            _ => None,
        };
        let summary = match known {
            Some(s) => Some(s),
            None => self.summary(last).await?,
        };
        let summary = summary.ok_or_else(|| {
            TailError::Store(StoreError::NotFound {
                key: self.keys.segment(last),
            })
        })?;
        let voids = match summary.kind {
            SegmentKind::Void => Some(self.void_run(last + 1).await?),
            _ => None,
        };
        Ok(Tail {
            next_slot: last + 1,
            last: Some(summary),
            deleted,
            versioned,
            voids,
        })
    }

    /// Walks down from the tail's last slot, a void, to the first slot that holds anything
    /// else, a batch of summaries at a time (one round trip for a fenced-ahead window), then
    /// reads the voids' headers for the number of slots each claimed. Stops at a missing slot
    /// below every void's claim ([`VoidRun::gap`]).
    pub async fn void_run(&self, next_slot: u64) -> Result<VoidRun, TailError> {
        let mut run = VoidRun::default();
        let mut floor = next_slot; // the lowest slot the voids read so far may leave pending
        let mut top = next_slot; // slots below `top` are still to be read
        'walk: while top > 0 {
            let low = top.saturating_sub(VOID_RUN_BATCH);
            let reads = (low..top).rev().map(|slot| async move {
                let summary = self.summary(slot).await;
                let window = match &summary {
                    Ok(Some(s)) if s.kind == SegmentKind::Void => self.window(slot).await,
                    _ => Ok(1),
                };
                (slot, summary, window)
            });
            for (slot, summary, window) in futures::future::join_all(reads).await {
                match summary? {
                    Some(s) if s.kind == SegmentKind::Void => {
                        let claim = lowest_pending(slot, window?);
                        floor = floor.min(claim);
                        run.voids.push((slot, s, claim));
                    }
                    Some(s) => {
                        run.base = Some((slot, s));
                        break 'walk;
                    }
                    None if slot < floor => {
                        run.gap = Some(slot);
                        break 'walk;
                    }
                    None => run.holes.push(slot),
                }
            }
            top = low;
        }
        // Read from the top down; kept lowest first.
        run.holes.reverse();
        run.voids.reverse();
        // The walk stopped at the first slot below every claim; the holes above it are judged
        // once more by the rule readers and `verify` apply (bounded voids, every run).
        if let (None, Some(&lowest)) = (run.gap, run.holes.first()) {
            let above: Vec<(u64, Option<u64>)> = run
                .voids
                .iter()
                .filter(|(slot, _, _)| *slot > lowest)
                .map(|(slot, _, claim)| (*slot, Some(*claim)))
                .collect();
            let run_end = (lowest..)
                .take_while(|s| run.holes.contains(s))
                .last()
                .unwrap_or(lowest);
            if !is_pending(lowest, run_end, &above) {
                run.gap = Some(lowest);
            }
        }
        Ok(run)
    }

    /// Walks down from a tail a pipelined writer left ([`WindowRun`]), a batch of summaries
    /// at a time, judging the slots from the top until the last valid segment is found with
    /// every slot of its window read; then judges the missing slots above it by the readers'
    /// rule ([`is_pending`]).
    pub async fn window_run(&self, next_slot: u64) -> Result<WindowRun, TailError> {
        let mut read = std::collections::BTreeMap::new();
        let mut floors: Vec<(u64, Option<u64>)> = Vec::new();
        let mut top = next_slot;
        let mut run = WindowRun::default();
        'walk: loop {
            let low = top.saturating_sub(WINDOW_RUN_BATCH);
            let reads = (low..top).map(|slot| async move { (slot, self.summary(slot).await) });
            for (slot, summary) in futures::future::join_all(reads).await {
                let summary = summary?;
                if let Some(s) = &summary {
                    run.epoch = run.epoch.max(s.epoch);
                    let floor = match (s.kind, &s.prev) {
                        (_, wormlog_format::Prev::Bound(_)) => Some(lowest_pending(slot, s.window)),
                        (SegmentKind::Void, _) => {
                            Some(lowest_pending(slot, self.window(slot).await?))
                        }
                        _ => None,
                    };
                    floors.push((slot, floor));
                }
                read.insert(slot, summary);
            }
            top = low;
            // Judge from the highest slot down, as far as what was read allows.
            for slot in (top..next_slot).rev() {
                match judge_windowed(slot, &read) {
                    Judged::Valid => {
                        let summary = read[&slot].clone().expect("a valid slot is present");
                        run.base = Some((slot, summary));
                        break 'walk;
                    }
                    Judged::Skipped => {}
                    Judged::ReadFurther if top > 0 => continue 'walk,
                    Judged::ReadFurther => {}
                }
            }
            if top == 0 {
                break;
            }
        }
        floors.sort_by_key(|(slot, _)| *slot);
        let above_base = run.base.as_ref().map_or(0, |(slot, _)| slot + 1);
        let missing: Vec<u64> = (above_base..next_slot)
            .filter(|slot| matches!(read.get(slot), Some(None)))
            .collect();
        for &hole in &missing {
            let above: Vec<(u64, Option<u64>)> =
                floors.iter().filter(|(s, _)| *s > hole).copied().collect();
            if !is_pending(hole, hole, &above) {
                run.gap = Some(hole);
                return Ok(run);
            }
        }
        run.holes = missing;
        Ok(run)
    }

    /// The `window` of the void at `slot`, from its header (read whole and CRC-checked).
    async fn window(&self, slot: u64) -> Result<u32, TailError> {
        let key = self.keys.segment(slot);
        let got = self
            .retrying(|| self.store.get(&key))
            .await
            .map_err(TailError::Store)?;
        let segment =
            decode_segment(&got.body).map_err(|source| TailError::Corrupt { slot, source })?;
        Ok(segment.header.window.unwrap_or(1))
    }

    /// The versions listing after `after` (a key), with retries.
    pub async fn list_versions_after(
        &self,
        after: Option<&str>,
    ) -> Result<Vec<wormlog_store::VersionEntry>, TailError> {
        let prefix = self.keys.log_prefix();
        self.retrying(|| self.store.list_versions_after(&prefix, after))
            .await
            .map_err(TailError::Store)
    }

    /// The versions listing from `slot` on, if `slot` is present in it and it fits in one
    /// page (`None` otherwise): one short request in place of the first page or the gallop,
    /// for a right guess. A guess more than a page behind the tail (an old cache, another
    /// machine appending since) is dropped after that one page: listing on from it would cost
    /// a request per page of the log above it, where the search from scratch costs a page and
    /// O(log n) HEADs.
    async fn listed_from(
        &self,
        slot: u64,
    ) -> Result<Option<Vec<wormlog_store::VersionEntry>>, TailError> {
        let prefix = self.keys.log_prefix();
        let after = slot.checked_sub(1).map(|s| self.keys.segment(s));
        let (listed, complete) = self
            .retrying(|| {
                self.store
                    .list_versions_page_after(&prefix, after.as_deref())
            })
            .await
            .map_err(TailError::Store)?;
        let key = self.keys.segment(slot);
        let present = listed
            .iter()
            .any(|v| v.key == key && v.is_latest && !v.delete_marker);
        Ok((present && complete).then_some(listed))
    }

    /// The whole tail search without a guess: the first page of the versions listing holds a
    /// log of up to a page; a longer one is galloped over, then listed from its last slot.
    /// Returns the galloped last slot (if it galloped) and the listing.
    async fn listed_whole(
        &self,
        prefix: &str,
    ) -> Result<(Option<u64>, Vec<wormlog_store::VersionEntry>), TailError> {
        let listing = self
            .retrying(|| self.store.list_versions_first(prefix))
            .await;
        let (first, complete) = listing.map_err(TailError::Store)?;
        if complete {
            return Ok((None, first));
        }
        let last = self.gallop().await?;
        // From the last present slot itself (it too may have been written over a marker).
        let after = last
            .and_then(|s| s.checked_sub(1))
            .map(|s| self.keys.segment(s));
        Ok((last, self.list_versions_after(after.as_deref()).await?))
    }

    /// The last present slot by HEADs alone: gallop over slots 0, 1, 2, 4, ... to the first
    /// absent one, then bisect back. O(log n) reads.
    async fn gallop(&self) -> Result<Option<u64>, TailError> {
        let mut last: Option<u64> = None;
        let mut probe = 0u64;
        while self.exists(probe).await? {
            last = Some(probe);
            probe = probe.saturating_mul(2).max(1);
        }
        if let Some(mut lo) = last {
            let mut hi = probe;
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if self.exists(mid).await? {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            last = Some(lo);
        }
        Ok(last)
    }

    /// The highest slot listed above `slot` (`None`: nothing is), from one page of the
    /// listing: how far a writer still appending has got, roughly. Only a hint, for where to
    /// claim next: the listing may lag behind a PUT or stop at its page, so a caller reads
    /// every slot it relies on.
    pub async fn highest_listed_above(&self, slot: u64) -> Result<Option<u64>, TailError> {
        let (prefix, after) = (self.keys.log_prefix(), self.keys.segment(slot));
        let page = self
            .retrying(|| self.store.list_after(&prefix, Some(&after), MAX_LIST_PAGE))
            .await
            .map_err(TailError::Store)?;
        Ok(page
            .entries
            .iter()
            .filter_map(|e| self.keys.parse_slot(&e.key))
            .max())
    }

    /// Who wrote `slot` (`None` if it is free): HEAD metadata when the store keeps it, else the
    /// header from a GET, checked whole (CRC included) and against the slot it is stored at.
    pub async fn summary(&self, slot: u64) -> Result<Option<SegmentSummary>, TailError> {
        let key = self.keys.segment(slot);
        let head = match self.retrying(|| self.store.head(&key)).await {
            Ok(head) => head,
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(TailError::Store(e)),
        };
        if let Some(s) = SegmentSummary::from_metadata(&head.metadata) {
            return Ok(Some(s));
        }
        let got = match self.retrying(|| self.store.get(&key)).await {
            Ok(got) => got,
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(TailError::Store(e)),
        };
        let corrupt = |source| TailError::Corrupt { slot, source };
        let segment = decode_segment(&got.body).map_err(corrupt)?;
        if segment.header.slot != slot || segment.header.stream != self.keys.stream() {
            return Err(corrupt(FormatError::Header(format!(
                "it says stream {:?} slot {}, but it is stored at stream {:?} slot {slot}",
                segment.header.stream,
                segment.header.slot,
                self.keys.stream()
            ))));
        }
        Ok(Some(SegmentSummary::of(&segment.header)))
    }

    /// The slots the log's purge records name (their index keys, `P/purges/`, point to
    /// them): slots deleted below the tail that a writer must never fill again. A record that
    /// cannot be read names nothing.
    pub async fn purged_slots(&self) -> Result<BTreeSet<u64>, TailError> {
        let prefix = self.keys.purges_prefix();
        let listed = self
            .retrying(|| list_all(&*self.store, &prefix, None))
            .await
            .map_err(TailError::Store)?;
        let mut slots = BTreeSet::new();
        for record_slot in listed
            .iter()
            .filter_map(|e| self.keys.parse_purge_index(&e.key))
        {
            let key = self.keys.segment(record_slot);
            let got = match self.retrying(|| self.store.get(&key)).await {
                Ok(got) => got,
                Err(StoreError::NotFound { .. }) => continue,
                Err(e) => return Err(TailError::Store(e)),
            };
            if let Ok(Some(record)) = decode_segment(&got.body).map(|s| s.purge) {
                slots.extend(record.purged.iter().map(|p| p.slot));
            }
        }
        Ok(slots)
    }

    async fn exists(&self, slot: u64) -> Result<bool, TailError> {
        let key = self.keys.segment(slot);
        match self.retrying(|| self.store.head(&key)).await {
            Ok(_) => Ok(true),
            Err(StoreError::NotFound { .. }) => Ok(false),
            Err(e) => Err(TailError::Store(e)),
        }
    }

    async fn retrying<T, F, Fut>(&self, mut read: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        let mut attempt = 0u32;
        loop {
            match read().await {
                Err(e) if e.is_transient() && attempt + 1 < self.retry.attempts.max(1) => {
                    attempt += 1;
                    let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
                    let wait = self
                        .retry
                        .base_delay
                        .saturating_mul(factor)
                        .min(self.retry.max_delay);
                    tracing::debug!(attempt, error = %e, "retrying a read of the log");
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }
}
