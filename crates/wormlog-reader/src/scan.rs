//! The ordered scan: LIST once, GET the listed slots in order (prefetched), apply the reader
//! rules ([`crate::rules`]) to each. A slot that is missing, in the listing or when read, is
//! read again before anything is concluded; a missing slot that stays missing is a documented
//! purge or a gap.

use std::collections::{BTreeSet, VecDeque};
use std::pin::Pin;
use std::sync::Arc;

use futures::stream::{self, Stream, StreamExt};
use wormlog_format::{
    decode_segment, decode_segment_as, Decoding, Event, FormatError, Segment, SegmentHeader,
    SegmentKind, StreamKeys, MAX_VOIDS_ABOVE_A_HOLE,
};
use wormlog_store::{ObjectStore, StoreError};

use crate::fetch::{get_with_retries, list_page_with_retries, list_versions_with_retries};
use crate::purges::{DocumentedPurge, PurgeIndex};
use crate::rules::{Facts, Position, Verdict};
use crate::{ReadError, ReaderBug};

/// Reads one stream.
#[derive(Debug, Clone)]
pub struct LogReader {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) keys: StreamKeys,
    prefetch: usize,
    pub(crate) bug: Option<ReaderBug>,
    decoding: Decoding,
}

/// What a scan yields besides events.
#[derive(Debug, Clone, PartialEq)]
pub enum ScanItem {
    /// An event of a valid segment.
    Event(Event),
    /// A control record (such as `epoch-start`): not an event, shown to audit tools.
    Control { slot: u64, header: SegmentHeader },
    /// A segment skipped because its epoch is below one already seen: a stale leader's write
    /// that readers never deliver.
    Zombie {
        slot: u64,
        header: SegmentHeader,
        max_epoch: u64,
    },
    /// A slot whose segment an operator deleted, documented by a purge record later in the
    /// log: its events are gone, its seqs are accounted for, and the scan goes on.
    Purged {
        slot: u64,
        purge: DocumentedPurge,
        /// Whether the purged segment was valid where it stood (its events had their seqs,
        /// and stay leaves of the Merkle tree); a purged zombie or orphan never counted.
        counted: bool,
    },
    /// A void record: a slot its writer never filled. Never valid, never an error.
    Void { slot: u64, header: SegmentHeader },
    /// The events of a valid segment, as their lines' leaf hashes in seq order (a reader
    /// made with [`LogReader::leaves_only`] yields these instead of events).
    Leaves {
        slot: u64,
        first_seq: u64,
        hashes: Vec<[u8; 32]>,
    },
    /// A version 3 segment that names a predecessor other than the valid segment below it
    /// (`expected_prev`): a pipelined writer's batch whose slot below went to another, or
    /// failed. Never delivered; its writer sends its events again if it acknowledged none.
    Orphan {
        slot: u64,
        header: SegmentHeader,
        expected_prev: Option<uuid::Uuid>,
    },
}

/// A slot's segment, fetched and decoded (decoding fails with the segment's own error).
type Fetched = (u64, Result<Result<Segment, FormatError>, StoreError>);

/// An ordered scan over the slots listed when it started.
pub struct Scan {
    pub(crate) keys: StreamKeys,
    pub(crate) store: Arc<dyn ObjectStore>,
    /// The documented purges, loaded when the scan starts and again at a gap it does not
    /// cover (see [`crate::purges`]).
    purges: Option<PurgeIndex>,
    from_seq: u64,
    listed: usize,
    fetches: Pin<Box<dyn Stream<Item = Fetched> + Send>>,
    /// Items judged but not yet returned, each with the position before its segment.
    pending: VecDeque<(ScanItem, Position)>,
    /// The next slot to judge, and the rules' state before it.
    pub(crate) at: Position,
    pub(crate) finished: bool,
    /// Listed slots that a delete marker or an older version shadows: the scan stops with
    /// [`ReadError::SlotDeleted`] on reaching one, or at its end.
    pub(crate) shadowed: BTreeSet<u64>,
    /// A planted reader bug, for tests that prove a check catches it.
    bug: Option<ReaderBug>,
    /// The pending hole the scan ended at, if it did ([`Scan::pending_hole`]).
    hole: Option<(u64, u64)>,
    /// How segments are decoded ([`LogReader::with_leaf_hashes`], [`LogReader::leaves_only`]).
    decoding: Decoding,
}

impl LogReader {
    pub fn new(
        store: Arc<dyn ObjectStore>,
        root_prefix: &str,
        stream: &str,
    ) -> Result<LogReader, ReadError> {
        let keys =
            StreamKeys::new(root_prefix, stream).map_err(|e| ReadError::Config(e.to_string()))?;
        Ok(LogReader {
            store,
            keys,
            prefetch: 8,
            bug: None,
            decoding: Decoding::Events,
        })
    }

    /// A reader of the stream `keys` name.
    pub fn from_keys(store: Arc<dyn ObjectStore>, keys: StreamKeys) -> LogReader {
        LogReader {
            store,
            keys,
            prefetch: 8,
            bug: None,
            decoding: Decoding::Events,
        }
    }

    /// The keys of the stream this reader reads.
    pub fn keys(&self) -> &StreamKeys {
        &self.keys
    }

    /// Events this reader delivers carry the RFC 9162 leaf hash of their stored line
    /// ([`Event::leaf_hash`]), hashed where the segment is decoded (beside the read-ahead).
    pub fn with_leaf_hashes(mut self) -> LogReader {
        self.decoding = Decoding::EventsHashed;
        self
    }

    /// Events are not parsed: each valid segment's events come as one [`ScanItem::Leaves`],
    /// their lines' leaf hashes (hashed beside the read-ahead), and `from_seq` is not
    /// applied. Everything else is judged as always (CRC, line count, the reader rules), so
    /// the leaves are the tree's; for an audit of a log whose events another pass checks.
    pub fn leaves_only(mut self) -> LogReader {
        self.decoding = Decoding::LeavesOnly;
        self
    }

    /// Fetch up to `n` segments ahead of the one being delivered (default 8).
    pub fn with_prefetch(mut self, n: usize) -> LogReader {
        self.prefetch = n.max(1);
        self
    }

    /// Switches on a reader bug, for tests that prove the simulation checker catches it.
    #[doc(hidden)]
    pub fn with_planted_bug(mut self, bug: ReaderBug) -> LogReader {
        self.bug = Some(bug);
        self
    }

    /// Starts a scan that delivers events with seq >= `from_seq`. For `from_seq` > 0 it reads
    /// no segment body before the one holding `from_seq`, but the summary (a HEAD) of every
    /// slot below it, since a segment's validity depends on all of them (see
    /// [`crate::seek`]).
    pub async fn scan(&self, from_seq: u64) -> Result<Scan, ReadError> {
        let (mut slots, shadowed) = self.listed_slots(None).await?;
        let purges = PurgeIndex::load(&*self.store, &self.keys).await?;
        let mut at = Position::default();
        if from_seq > 0 {
            let start = crate::seek::start_point(
                &*self.store,
                &self.keys,
                &slots,
                &purges,
                from_seq,
                self.bug,
            )
            .await?;
            if let Some((index, position)) = start {
                slots.drain(..index);
                at = position;
            }
        }
        Ok(self.scan_slots(slots, shadowed, at, from_seq, purges))
    }

    /// Starts a scan at `position`, a point a reader reached before ([`Scan::position`]),
    /// delivering events with seq >= `from_seq`: no seek, no reads below it. The position is
    /// trusted; give only one a reader produced.
    pub async fn scan_from(&self, position: Position, from_seq: u64) -> Result<Scan, ReadError> {
        if !position.prev_known {
            // Saved before format version 3: without the last valid write id every version 3
            // segment after it would read as an orphan. Seek instead (reads below it).
            return self.scan(from_seq).await;
        }
        // The listing starts after slot - 2, so it covers the last slot the position judged
        // (slot - 1): a fork written over a cut tail must rewrite that slot to reach beyond
        // it, and shows there as a second version. The slot itself is not read again.
        let after = position.slot.checked_sub(2).map(|s| self.keys.segment(s));
        let (mut slots, shadowed) = self.listed_slots(after.as_deref()).await?;
        slots.retain(|&s| s >= position.slot);
        let purges = PurgeIndex::load(&*self.store, &self.keys).await?;
        Ok(self.scan_slots(slots, shadowed, position, from_seq, purges))
    }

    /// The slots present after `after`, and those a delete marker or an older version
    /// shadows: one version listing, which on a versioned bucket also shows what a plain
    /// LIST hides (a tail cut by DELETE, or slots written again over the markers).
    async fn listed_slots(
        &self,
        after: Option<&str>,
    ) -> Result<(Vec<u64>, BTreeSet<u64>), ReadError> {
        let versions = list_versions_with_retries(&*self.store, &self.keys.log_prefix(), after)
            .await
            .map_err(ReadError::Store)?;
        let present = versions
            .iter()
            .filter(|v| v.is_latest && !v.delete_marker)
            .filter_map(|v| self.keys.parse_slot(&v.key))
            .collect();
        let shadowed = wormlog_store::shadowed_keys(&versions)
            .iter()
            .filter_map(|k| self.keys.parse_slot(k))
            .collect();
        Ok((present, shadowed))
    }

    fn scan_slots(
        &self,
        slots: Vec<u64>,
        shadowed: BTreeSet<u64>,
        at: Position,
        from_seq: u64,
        purges: PurgeIndex,
    ) -> Scan {
        let listed = slots.len();
        let store = Arc::clone(&self.store);
        let keys = self.keys.clone();
        let decoding = self.decoding;
        // Each fetch runs as its own task, so the read-ahead GETs progress, and segments
        // decode on other cores, while the caller works through the current one.
        let fetches = stream::iter(slots)
            .map(move |slot| {
                let (store, key) = (Arc::clone(&store), keys.segment(slot));
                let task = tokio::spawn(async move {
                    get_with_retries(&*store, &key)
                        .await
                        .map(|got| decode_segment_as(&got.body, decoding))
                });
                async move {
                    let fetched = task
                        .await
                        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
                    (slot, fetched)
                }
            })
            .buffered(self.prefetch);
        Scan {
            keys: self.keys.clone(),
            store: Arc::clone(&self.store),
            purges: Some(purges),
            from_seq,
            listed,
            fetches: Box::pin(fetches),
            pending: VecDeque::new(),
            at,
            finished: false,
            shadowed,
            hole: None,
            bug: self.bug,
            decoding: self.decoding,
        }
    }

    /// Reads the events with seqs in `from..=to` (all when `to` is `None`).
    pub async fn read_events(&self, from: u64, to: Option<u64>) -> Result<Vec<Event>, ReadError> {
        let mut scan = self.scan(from).await?;
        let mut out = Vec::new();
        while let Some(item) = scan.next().await? {
            if let ScanItem::Event(e) = item {
                if to.is_some_and(|t| e.seq > t) {
                    break;
                }
                out.push(e);
            }
        }
        Ok(out)
    }
}

impl Scan {
    /// The next item, `None` at the end of the listed log. An error ends the scan.
    pub async fn next(&mut self) -> Result<Option<ScanItem>, ReadError> {
        loop {
            if let Some((item, _)) = self.pending.pop_front() {
                return Ok(Some(item));
            }
            if self.finished {
                return Ok(None);
            }
            let Some((slot, fetched)) = self.fetches.next().await else {
                self.finished = true;
                return match self.shadowed.first() {
                    Some(&slot) => Err(self.slot_deleted(slot)),
                    None => Ok(None),
                };
            };
            if let Some(&deleted) = self.shadowed.range(..=slot).next() {
                self.finished = true;
                return Err(self.slot_deleted(deleted));
            }
            let result = self.take(slot, fetched).await;
            if result.is_err() {
                self.finished = true;
            }
            if let Err(ReadError::Pending { first, last, .. }) = result {
                // The log's readable end: nothing but voids above. What was judged before
                // the hole is still returned.
                self.hole = Some((first, last));
                continue;
            }
            result?;
        }
    }

    /// The pending hole this scan ended at: slots a writer claimed the slots after and has
    /// not filled yet (see [`ReadError::Pending`]). `None` if it ended at the log's last slot.
    pub fn pending_hole(&self) -> Option<(u64, u64)> {
        self.hole
    }

    /// Settles any slots missing before `slot`, then applies the reader rules to what was
    /// fetched at `slot`.
    pub(crate) async fn take(
        &mut self,
        slot: u64,
        fetched: Result<Result<Segment, FormatError>, StoreError>,
    ) -> Result<(), ReadError> {
        if slot > self.at.slot {
            self.settle_missing(self.at.slot, slot - 1).await?;
        }
        match fetched {
            // Listed but gone by the time we read it: deleted under our feet, or a listing
            // that was older than the read.
            Err(StoreError::NotFound { .. }) => self.settle_missing(slot, slot).await,
            fetched => self.accept(slot, fetched),
        }
    }

    /// Slots `first..=last` were absent (from the listing, or when read). Each is read again
    /// before anything is concluded: a listing or a GET is older than the moment after it,
    /// and a writer may have committed the slot since (a follower that saw slot k absent and
    /// then listed k+1). Present now: judged as usual. Still absent: a documented purge, or
    /// a gap.
    pub(crate) async fn settle_missing(&mut self, first: u64, last: u64) -> Result<(), ReadError> {
        let mut absent_from: Option<u64> = None;
        for slot in first..=last {
            match get_with_retries(&*self.store, &self.keys.segment(slot)).await {
                Ok(got) => {
                    if let Some(from) = absent_from.take() {
                        self.pass_missing(from, slot - 1).await?;
                    }
                    let decoded = decode_segment_as(&got.body, self.decoding);
                    self.accept(slot, Ok(decoded))?;
                }
                Err(StoreError::NotFound { .. }) => {
                    absent_from.get_or_insert(slot);
                }
                Err(e) => return Err(ReadError::Store(e)),
            }
        }
        match absent_from {
            Some(from) => self.pass_missing(from, last).await,
            None => Ok(()),
        }
    }

    /// Slots `first..=last` are missing. Each must be named by a purge record (the index is
    /// read again if it does not cover them: a purge may have happened since); then the scan
    /// accounts for their seqs and goes on. Otherwise this is a gap: deletion or tampering.
    async fn pass_missing(&mut self, first: u64, last: u64) -> Result<(), ReadError> {
        if !self.purges.as_ref().is_some_and(|p| p.covers(first, last)) {
            self.purges = Some(PurgeIndex::load(&*self.store, &self.keys).await?);
        }
        let index = self.purges.as_ref().expect("loaded above");
        let documented = |s: &u64| index.by_slot.contains_key(s);
        if let Some(gap) = (first..=last).find(|s| !documented(s)) {
            let gap_end = (gap..=last)
                .take_while(|s| !documented(s))
                .last()
                .unwrap_or(gap);
            // A cut tail beyond (a delete marker) is reported as such, never waited on.
            if let Some(&deleted) = self.shadowed.range(gap..).next() {
                return Err(self.slot_deleted(deleted));
            }
            let pending = gap_end == last
                && claimed_by_writers_above(&*self.store, &self.keys, gap, last).await?;
            // A slot that landed since it was found missing (a pipelined writer's PUTs land
            // out of order, and the one above may have been sent after it settled) is no
            // gap: the log's readable end is here for now, and a follower reads it next.
            if pending || landed_since(&*self.store, &self.keys.segment(gap)).await? {
                return Err(ReadError::Pending {
                    stream: self.keys.stream().to_owned(),
                    first: gap,
                    last,
                });
            }
            return Err(ReadError::Gap {
                stream: self.keys.stream().to_owned(),
                first: gap,
                last: gap_end,
                next: gap_end + 1,
            });
        }
        let named: Vec<DocumentedPurge> = (first..=last)
            .map(|slot| index.by_slot[&slot].clone())
            .collect();
        for (slot, purge) in (first..=last).zip(named) {
            self.account_purged(slot, purge)?;
        }
        Ok(())
    }

    /// Passes a slot a purge record names: its seqs and epoch are accounted for from the
    /// record, exactly as the deleted segment's would have been.
    fn account_purged(&mut self, slot: u64, purge: DocumentedPurge) -> Result<(), ReadError> {
        let p = &purge.purged;
        let before = self.at;
        let facts = Facts::of_purged(p);
        let counted = match self.at.judge(&facts) {
            // A purged zombie was never counted by readers; it stays uncounted.
            Verdict::Zombie | Verdict::Orphan => {
                self.at.skip();
                false
            }
            Verdict::Discontinuity => return Err(self.discontinuity(slot, p.first_seq)),
            Verdict::Valid => {
                self.at.accept(&facts);
                true
            }
        };
        self.pending.push_back((
            ScanItem::Purged {
                slot,
                purge,
                counted,
            },
            before,
        ));
        Ok(())
    }

    pub(crate) fn slot_deleted(&self, slot: u64) -> ReadError {
        ReadError::SlotDeleted {
            stream: self.keys.stream().to_owned(),
            slot,
            key: self.keys.segment(slot),
        }
    }

    fn discontinuity(&self, slot: u64, found: u64) -> ReadError {
        ReadError::Discontinuity {
            stream: self.keys.stream().to_owned(),
            slot,
            expected: self.at.expected_seq,
            found,
        }
    }

    /// The highest epoch of a valid segment so far.
    pub fn max_epoch(&self) -> u64 {
        self.at.max_epoch
    }

    /// The seq the next valid event will have.
    pub fn expected_seq(&self) -> u64 {
        self.at.expected_seq
    }

    /// A known-valid point at or before the next item this scan returns, to resume from with
    /// [`LogReader::scan_from`] (passing the first seq not yet handled, since the point may be
    /// the start of a segment whose first events were returned already).
    pub fn position(&self) -> Position {
        self.pending.front().map_or(self.at, |(_, before)| *before)
    }

    /// Applies the reader rules to the segment at `slot`.
    fn accept(
        &mut self,
        slot: u64,
        fetched: Result<Result<Segment, FormatError>, StoreError>,
    ) -> Result<(), ReadError> {
        debug_assert_eq!(slot, self.at.slot, "missing slots are settled first");
        // A slot a purge record names is purged, whatever it holds now: a writer whose retry
        // landed after the purge must not bring the erased events back (verify reports it).
        let named = self.purges.as_ref().and_then(|p| p.by_slot.get(&slot));
        if let Some(purge) = named.cloned() {
            return self.account_purged(slot, purge);
        }
        let decoded = fetched.map_err(ReadError::Store)?;
        let corrupt = |source| ReadError::Corrupt {
            stream: self.keys.stream().to_owned(),
            slot,
            key: self.keys.segment(slot),
            source,
        };
        let segment = decoded.map_err(corrupt)?;
        let header = segment.header;
        if header.slot != slot || header.stream != self.keys.stream() {
            return Err(corrupt(FormatError::Header(format!(
                "it says stream {:?} slot {}, but is stored as stream {:?} slot {slot}",
                header.stream,
                header.slot,
                self.keys.stream()
            ))));
        }
        let before = self.at;
        if header.kind == SegmentKind::Void {
            // A slot its writer never filled: never valid, never an error.
            self.at.skip();
            self.pending
                .push_back((ScanItem::Void { slot, header }, before));
            return Ok(());
        }
        let facts = Facts::of_header(&header);
        match self.at.judge(&facts) {
            Verdict::Orphan if self.bug == Some(ReaderBug::DeliverOrphans) => {
                self.at.accept(&facts); // the planted bug: an orphan taken for valid
            }
            Verdict::Orphan => {
                self.at.skip();
                let orphan = ScanItem::Orphan {
                    slot,
                    header,
                    expected_prev: before.prev,
                };
                self.pending.push_back((orphan, before));
                return Ok(());
            }
            Verdict::Zombie => {
                self.at.skip();
                let max_epoch = before.max_epoch;
                let zombie = ScanItem::Zombie {
                    slot,
                    header,
                    max_epoch,
                };
                self.pending.push_back((zombie, before));
                return Ok(());
            }
            Verdict::Discontinuity => return Err(self.discontinuity(slot, header.first_seq)),
            Verdict::Valid => self.at.accept(&facts),
        }
        if header.kind.is_control() {
            self.pending
                .push_back((ScanItem::Control { slot, header }, before));
        } else if self.decoding == Decoding::LeavesOnly {
            let leaves = ScanItem::Leaves {
                slot,
                first_seq: header.first_seq,
                hashes: segment.leaves,
            };
            self.pending.push_back((leaves, before));
        } else {
            let from = self.from_seq;
            self.pending.extend(
                segment
                    .events
                    .into_iter()
                    .filter(|e| e.seq >= from)
                    .map(|e| (ScanItem::Event(e), before)),
            );
        }
        Ok(())
    }

    /// The slot of the segment the last returned item came from.
    pub fn current_slot(&self) -> u64 {
        self.at.slot.saturating_sub(1)
    }

    /// How many slots the scan covers (those listed when it started).
    pub fn listed_slots(&self) -> usize {
        self.listed
    }
}

/// Whether the slot at `key`, missing when the scan fetched it, is there now.
async fn landed_since(store: &dyn ObjectStore, key: &str) -> Result<bool, ReadError> {
    match store.head(key).await {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound { .. }) => Ok(false),
        Err(e) => Err(ReadError::Store(e)),
    }
}

/// True when slots `first..=last` are a pending hole ([`wormlog_format::is_pending`]): every
/// slot present above them is a void record or a version 3 segment (whole, CRC-checked, at
/// its own slot), and every missing run from `first` up lies within what each of them says
/// its writer may still have been sending. Otherwise a writer's
/// unfinished claim does not explain them: a gap (docs/protocol.md, Reader).
async fn claimed_by_writers_above(
    store: &dyn ObjectStore,
    keys: &StreamKeys,
    first: u64,
    last: u64,
) -> Result<bool, ReadError> {
    let (prefix, after) = (keys.log_prefix(), keys.segment(last));
    let page = list_page_with_retries(store, &prefix, Some(&after), MAX_VOIDS_ABOVE_A_HOLE + 1)
        .await
        .map_err(ReadError::Store)?;
    let listed: Vec<u64> = page
        .entries
        .iter()
        .filter_map(|e| keys.parse_slot(&e.key))
        .collect();
    if listed.is_empty() || listed.len() > MAX_VOIDS_ABOVE_A_HOLE {
        return Ok(false);
    }
    let mut above = Vec::with_capacity(listed.len());
    for s in listed {
        let got = match get_with_retries(store, &keys.segment(s)).await {
            Ok(got) => got,
            Err(StoreError::NotFound { .. }) => continue,
            Err(e) => return Err(ReadError::Store(e)),
        };
        // Judged as `verify` judges it: whole, CRC-checked, at its own slot.
        match decode_segment(&got.body) {
            Ok(seg) if crate::verify::claims_below(&seg.header) && seg.header.slot == s => {
                let window = seg.header.window.unwrap_or(1);
                above.push((s, Some(wormlog_format::lowest_pending(s, window))));
            }
            _ => return Ok(false),
        }
    }
    Ok(wormlog_format::is_pending(first, last, &above))
}
