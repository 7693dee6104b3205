//! Starting a scan at a seq without reading segment bodies before it.
//!
//! A segment's validity depends on every slot below it: a zombie (a stale writer's segment
//! after a higher epoch) can sit at any slot, claiming any seqs, and a reader that landed on
//! it by looking at its seqs alone would deliver what a scan from slot 0 skips (I8). So a seek
//! applies the reader rules ([`crate::rules`]) to the summary of every slot below its start:
//!
//! ```text
//!  slots 0, 1, 2, ...  HEAD each (metadata summary: epoch, first seq, count; 16 in flight)
//!     │ rules: zombie -> skip, valid -> advance
//!     └─► the first valid events segment whose seqs reach `seq`: start there, with the
//!         position (max epoch, expected seq) in force before it
//! ```
//!
//! A seek reads one HEAD per slot below its start and no segment body, so it does not see a
//! corrupt body below its start (`verify` reads every body). A documented purge is passed as
//! its record says; an undocumented missing slot, a summary that does not decode, or a
//! discontinuity ends the seek with no start point: the scan then reads from slot 0, where
//! those are handled and reported. To resume without any of this, start from a [`Position`]
//! a reader reached ([`crate::LogReader::scan_from`]).

use futures::stream::{self, StreamExt};
use wormlog_format::{decode_segment, SegmentKind, SegmentSummary, StreamKeys};
use wormlog_store::{ObjectStore, StoreError};

use crate::fetch::{get_with_retries, head_with_retries};
use crate::purges::PurgeIndex;
use crate::rules::{Facts, Position, Verdict};
use crate::{ReadError, ReaderBug};

/// How many summaries a seek reads at once.
const IN_FLIGHT: usize = 16;

/// Where a scan for events with seq >= `seq` starts: the index in `slots` (the listed slots,
/// in order) of its first segment, and the position before it. `None` when the summaries
/// cannot tell; the scan then starts at slot 0.
pub(crate) async fn start_point(
    store: &dyn ObjectStore,
    keys: &StreamKeys,
    slots: &[u64],
    purges: &PurgeIndex,
    seq: u64,
    bug: Option<ReaderBug>,
) -> Result<Option<(usize, Position)>, ReadError> {
    let mut summaries = stream::iter(slots.iter().copied())
        .map(|slot| async move { (slot, summary_of(store, keys, slot).await) })
        .buffered(IN_FLIGHT);
    let mut at = Position::default();
    let mut index = 0usize;
    let purged = |slot: u64| {
        purges
            .by_slot
            .get(&slot)
            .map(|d| Facts::of_purged(&d.purged))
    };
    while let Some((slot, summary)) = summaries.next().await {
        // Slots missing below this one: documented purges count as their records say.
        while at.slot < slot {
            let Some(facts) = purged(at.slot) else {
                return Ok(None); // a gap: the scan from slot 0 reports it
            };
            match step(&mut at, &facts, seq, bug) {
                Step::Past => {}
                Step::StartHere => return Ok(Some((index, at))),
                Step::Undecided => return Ok(None),
            }
        }
        // A slot a purge record names counts as purged, whatever it holds now.
        let facts = match purged(slot) {
            Some(facts) => facts,
            None => match summary.map_err(ReadError::Store)? {
                Some(s) => Facts::of_summary(&s),
                None => return Ok(None),
            },
        };
        match step(&mut at, &facts, seq, bug) {
            Step::Past => {}
            Step::StartHere => return Ok(Some((index, at))),
            Step::Undecided => return Ok(None),
        }
        index += 1;
    }
    Ok(Some((slots.len(), at)))
}

/// What one slot's summary means for a seek.
enum Step {
    /// The scan for the seq starts later; the position moved past this slot.
    Past,
    /// A valid events segment whose seqs reach the seq: the scan starts at this slot.
    StartHere,
    /// The summaries cannot place the start (a discontinuity): scan from slot 0, which
    /// reports it.
    Undecided,
}

/// Applies the rules to one slot's facts.
fn step(at: &mut Position, f: &Facts, seq: u64, bug: Option<ReaderBug>) -> Step {
    if f.kind == SegmentKind::Void {
        at.skip(); // never valid, never an error
        return Step::Past;
    }
    let verdict = match at.judge(f) {
        // The planted bug: a zombie's header is trusted as if it were valid.
        Verdict::Zombie if bug == Some(ReaderBug::SeekOntoZombie) => {
            (at.max_epoch, at.expected_seq) = (f.epoch, f.first_seq);
            Verdict::Valid
        }
        Verdict::Orphan if bug == Some(ReaderBug::DeliverOrphans) => Verdict::Valid,
        v => v,
    };
    match verdict {
        Verdict::Zombie | Verdict::Orphan => at.skip(),
        Verdict::Discontinuity => return Step::Undecided,
        Verdict::Valid
            if f.kind == SegmentKind::Events && f.first_seq.saturating_add(f.count) > seq =>
        {
            return Step::StartHere;
        }
        Verdict::Valid => at.accept(f),
    }
    Step::Past
}

/// The summary of `slot`: its metadata from a HEAD, or else its header from a GET. `None`
/// when it is gone or does not decode (the scan from slot 0 reports that).
async fn summary_of(
    store: &dyn ObjectStore,
    keys: &StreamKeys,
    slot: u64,
) -> Result<Option<SegmentSummary>, StoreError> {
    let key = keys.segment(slot);
    let head = match head_with_retries(store, &key).await {
        Ok(h) => h,
        Err(StoreError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    if let Some(s) = SegmentSummary::from_metadata(&head.metadata) {
        return Ok(Some(s));
    }
    match get_with_retries(store, &key).await {
        Ok(got) => Ok(decode_segment(&got.body)
            .ok()
            .filter(|s| s.header.slot == slot && s.header.stream == keys.stream())
            .map(|s| SegmentSummary::of(&s.header))),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}
