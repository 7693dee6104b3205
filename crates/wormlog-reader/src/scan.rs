//! The ordered scan.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, Stream, StreamExt};
use wormlog_format::{
    decode_header, decode_segment, Event, FormatError, Segment, SegmentHeader, StreamKeys,
};
use wormlog_store::{list_all, GetResult, ObjectStore, StoreError};

use crate::purges::{DocumentedPurge, PurgeIndex};
use crate::ReadError;

/// Reads one stream.
#[derive(Debug, Clone)]
pub struct LogReader {
    store: Arc<dyn ObjectStore>,
    keys: StreamKeys,
    prefetch: usize,
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
    Purged { slot: u64, purge: DocumentedPurge },
}

/// A slot's segment, fetched and decoded (decoding fails with the segment's own error).
type Fetched = (u64, Result<Result<Segment, FormatError>, StoreError>);

/// An ordered scan over the slots listed when it started.
pub struct Scan {
    stream: String,
    keys: StreamKeys,
    store: Arc<dyn ObjectStore>,
    /// Loaded at the first gap (see [`crate::purges`]).
    purges: Option<PurgeIndex>,
    from_seq: u64,
    slots: Vec<u64>,
    /// Index into `slots` of the next fetched segment to check.
    index: usize,
    fetches: Pin<Box<dyn Stream<Item = Fetched> + Send>>,
    pending: VecDeque<ScanItem>,
    max_epoch: u64,
    expected_seq: u64,
    finished: bool,
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
        })
    }

    /// Fetch up to `n` segments ahead of the one being delivered (default 8).
    pub fn with_prefetch(mut self, n: usize) -> LogReader {
        self.prefetch = n.max(1);
        self
    }

    /// Starts a scan that delivers events with seq >= `from_seq`. For `from_seq` > 0 it does
    /// not read the whole log: it binary-searches segment headers for the last segment that
    /// starts at or before `from_seq` (see [`LogReader::seek`]).
    pub async fn scan(&self, from_seq: u64) -> Result<Scan, ReadError> {
        let entries = list_all(&*self.store, &self.keys.log_prefix(), None)
            .await
            .map_err(ReadError::Store)?;
        let mut slots: Vec<u64> = entries
            .iter()
            .filter_map(|e| self.keys.parse_slot(&e.key))
            .collect();
        let (mut index, mut max_epoch, mut expected_seq) = (0u64, 0u64, 0u64);
        if from_seq > 0 {
            if let Some((i, header)) = self.seek(&slots, from_seq).await? {
                index = slots[i];
                max_epoch = header.epoch;
                expected_seq = header.first_seq;
                slots.drain(..i);
            }
        }
        let store = Arc::clone(&self.store);
        let keys = self.keys.clone();
        // Each fetch runs as its own task, so the read-ahead GETs progress, and segments
        // decode on other cores, while the caller works through the current one.
        let fetches = stream::iter(slots.clone())
            .map(move |slot| {
                let (store, key) = (Arc::clone(&store), keys.segment(slot));
                let task = tokio::spawn(async move {
                    get_with_retries(&*store, &key)
                        .await
                        .map(|got| decode_segment(&got.body))
                });
                async move {
                    let fetched = task
                        .await
                        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
                    (slot, fetched)
                }
            })
            .buffered(self.prefetch);
        Ok(Scan {
            stream: self.keys.stream().to_owned(),
            keys: self.keys.clone(),
            store: Arc::clone(&self.store),
            purges: None,
            from_seq,
            slots,
            index: index as usize,
            fetches: Box::pin(fetches),
            pending: VecDeque::new(),
            max_epoch,
            expected_seq,
            finished: false,
        })
    }

    /// The position of the last segment (among `slots`, the log in slot order) whose first seq
    /// is at or before `seq`, found with O(log n) header reads. The candidate is then read
    /// whole and checked (CRC, placement); on any doubt (`None`) the scan starts at slot 0.
    async fn seek(
        &self,
        slots: &[u64],
        seq: u64,
    ) -> Result<Option<(usize, SegmentHeader)>, ReadError> {
        let (mut lo, mut hi) = (0usize, slots.len());
        let mut best: Option<usize> = None;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let got = match get_with_retries(&*self.store, &self.keys.segment(slots[mid])).await {
                Ok(g) => g,
                Err(StoreError::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(ReadError::Store(e)),
            };
            match decode_header(&got.body) {
                Ok(h) if h.first_seq <= seq => {
                    best = Some(mid);
                    lo = mid + 1;
                }
                Ok(_) => hi = mid,
                Err(_) => return Ok(None),
            }
        }
        let Some(i) = best else { return Ok(None) };
        let got = get_with_retries(&*self.store, &self.keys.segment(slots[i]))
            .await
            .map_err(ReadError::Store)?;
        match decode_segment(&got.body) {
            Ok(seg) if seg.header.slot == slots[i] && seg.header.stream == self.keys.stream() => {
                Ok(Some((i, seg.header)))
            }
            _ => Ok(None),
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

/// Reads are idempotent: transient failures are retried a few times with a growing pause.
pub(crate) async fn get_with_retries(
    store: &dyn ObjectStore,
    key: &str,
) -> Result<GetResult, StoreError> {
    let mut attempt = 0u32;
    loop {
        match store.get(key).await {
            Err(e) if e.is_transient() && attempt < 5 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
            }
            other => return other,
        }
    }
}

impl Scan {
    /// The next item, `None` at the end of the listed log. An error ends the scan.
    pub async fn next(&mut self) -> Result<Option<ScanItem>, ReadError> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Ok(Some(item));
            }
            if self.finished {
                return Ok(None);
            }
            let Some((slot, fetched)) = self.fetches.next().await else {
                self.finished = true;
                return Ok(None);
            };
            let result = self.take(slot, fetched).await;
            if result.is_err() {
                self.finished = true;
            }
            result?;
        }
    }

    /// Passes any missing slots before `slot` (documented purges, else a gap), then applies
    /// the reader rules to what was fetched at `slot`.
    async fn take(
        &mut self,
        slot: u64,
        fetched: Result<Result<Segment, FormatError>, StoreError>,
    ) -> Result<(), ReadError> {
        let position = self.index as u64;
        if slot > position {
            self.pass_missing(position, slot - 1).await?;
        }
        match fetched {
            // Listed but gone by the time we read it: deleted under our feet.
            Err(StoreError::NotFound { .. }) => self.pass_missing(slot, slot).await,
            fetched => self.accept(slot, fetched),
        }
    }

    /// Slots `first..=last` are missing. Each must be named by a purge record (the index is
    /// read again if it does not cover them: a purge may have happened since); then the scan
    /// accounts for their seqs and goes on. Otherwise this is a gap: deletion or tampering.
    pub(crate) async fn pass_missing(&mut self, first: u64, last: u64) -> Result<(), ReadError> {
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
            return Err(ReadError::Gap {
                stream: self.stream.clone(),
                first: gap,
                last: gap_end,
                next: gap_end + 1,
            });
        }
        for slot in first..=last {
            let purge = index.by_slot[&slot].clone();
            let p = &purge.purged;
            // A purged zombie was never counted by readers; it stays uncounted.
            if p.epoch >= self.max_epoch {
                if p.first_seq != self.expected_seq {
                    return Err(ReadError::Discontinuity {
                        stream: self.stream.clone(),
                        slot,
                        expected: self.expected_seq,
                        found: p.first_seq,
                    });
                }
                self.max_epoch = p.epoch;
                self.expected_seq = p.first_seq + p.count;
            }
            self.pending.push_back(ScanItem::Purged { slot, purge });
        }
        self.index = last as usize + 1;
        Ok(())
    }

    /// The highest epoch of a valid segment so far.
    pub fn max_epoch(&self) -> u64 {
        self.max_epoch
    }

    /// The seq the next valid event will have.
    pub fn expected_seq(&self) -> u64 {
        self.expected_seq
    }

    /// Applies the reader rules to the segment at `slot`.
    fn accept(
        &mut self,
        slot: u64,
        fetched: Result<Result<Segment, FormatError>, StoreError>,
    ) -> Result<(), ReadError> {
        debug_assert_eq!(slot, self.index as u64, "missing slots are passed first");
        self.index = slot as usize + 1;
        let decoded = fetched.map_err(ReadError::Store)?;
        let corrupt = |source| ReadError::Corrupt {
            stream: self.stream.clone(),
            slot,
            key: self.keys.segment(slot),
            source,
        };
        let segment = decoded.map_err(corrupt)?;
        let header = segment.header;
        if header.slot != slot || header.stream != self.stream {
            return Err(corrupt(wormlog_format::FormatError::Header(format!(
                "it says stream {:?} slot {}, but is stored as stream {:?} slot {slot}",
                header.stream, header.slot, self.stream
            ))));
        }
        if header.epoch < self.max_epoch {
            self.pending.push_back(ScanItem::Zombie {
                slot,
                header,
                max_epoch: self.max_epoch,
            });
            return Ok(());
        }
        if header.first_seq != self.expected_seq {
            return Err(ReadError::Discontinuity {
                stream: self.stream.clone(),
                slot,
                expected: self.expected_seq,
                found: header.first_seq,
            });
        }
        self.max_epoch = header.epoch;
        self.expected_seq = header.first_seq + header.count;
        if header.kind.is_control() {
            self.pending.push_back(ScanItem::Control { slot, header });
        } else {
            let from = self.from_seq;
            self.pending.extend(
                segment
                    .events
                    .into_iter()
                    .filter(|e| e.seq >= from)
                    .map(ScanItem::Event),
            );
        }
        Ok(())
    }

    /// The slot of the segment the last returned item came from.
    pub fn current_slot(&self) -> u64 {
        self.index.saturating_sub(1) as u64
    }

    /// How many slots the scan covers (those listed when it started).
    pub fn listed_slots(&self) -> usize {
        self.slots.len()
    }
}

/// How a [`Follow`] polls for new segments.
#[derive(Clone, Copy, Debug)]
pub struct FollowPolicy {
    /// The first pause after finding no new segment.
    pub min_interval: Duration,
    /// The longest pause while idle (a new segment is delivered within about this long).
    pub max_interval: Duration,
    /// Every this many idle polls, one LIST checks for segments beyond a missing slot (a gap).
    pub gap_check_every: u32,
}

impl Default for FollowPolicy {
    fn default() -> Self {
        FollowPolicy {
            min_interval: Duration::from_millis(50),
            max_interval: Duration::from_millis(200),
            gap_check_every: 10,
        }
    }
}

/// A scan that, at the end of the log, keeps delivering new segments as they are committed.
/// It polls the next slot with a GET (no LIST per poll), backing off while idle, and ends
/// cleanly (`Ok(None)`) once stopped.
pub struct Follow {
    scan: Scan,
    policy: FollowPolicy,
    stop: tokio::sync::watch::Receiver<bool>,
}

/// Stops a [`Follow`] (from any task).
#[derive(Clone, Debug)]
pub struct FollowStop(Arc<tokio::sync::watch::Sender<bool>>);

impl FollowStop {
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}

impl LogReader {
    /// Follows the stream from `from_seq`: the existing events, then new ones as they come.
    pub async fn follow(
        &self,
        from_seq: u64,
        policy: FollowPolicy,
    ) -> Result<(Follow, FollowStop), ReadError> {
        let scan = self.scan(from_seq).await?;
        let (tx, stop) = tokio::sync::watch::channel(false);
        Ok((Follow { scan, policy, stop }, FollowStop(Arc::new(tx))))
    }
}

impl Follow {
    /// The next item; waits for new segments at the end of the log. `None` once stopped.
    pub async fn next(&mut self) -> Result<Option<ScanItem>, ReadError> {
        let mut interval = self.policy.min_interval;
        let mut idle_polls = 0u32;
        loop {
            if *self.stop.borrow() {
                return Ok(None);
            }
            if let Some(item) = self.scan.next().await? {
                return Ok(Some(item));
            }
            let slot = self.scan.index as u64;
            let key = self.scan.keys.segment(slot);
            match get_with_retries(&*self.scan.store, &key).await {
                Ok(got) => {
                    self.scan.slots.push(slot);
                    self.scan.finished = false;
                    self.scan
                        .take(slot, Ok(decode_segment(&got.body)))
                        .await
                        .inspect_err(|_| self.scan.finished = true)?;
                    interval = self.policy.min_interval;
                    idle_polls = 0;
                    continue;
                }
                Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(ReadError::Store(e)),
            }
            idle_polls += 1;
            if idle_polls.is_multiple_of(self.policy.gap_check_every.max(1)) {
                self.check_gap(slot).await?;
            }
            let mut stop = self.stop.clone();
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.changed() => {}
            }
            interval = (interval * 3 / 2).min(self.policy.max_interval);
        }
    }

    /// A missing `slot` with segments beyond it is not the end of the log: a documented
    /// purge (passed) or a gap (an error).
    async fn check_gap(&mut self, slot: u64) -> Result<(), ReadError> {
        let prefix = self.scan.keys.log_prefix();
        let after = self.scan.keys.segment(slot);
        let page = self
            .scan
            .store
            .list_after(&prefix, Some(&after), 1)
            .await
            .map_err(ReadError::Store)?;
        if let Some(next) = page
            .entries
            .first()
            .and_then(|e| self.scan.keys.parse_slot(&e.key))
        {
            self.scan
                .pass_missing(slot, next - 1)
                .await
                .inspect_err(|_| self.scan.finished = true)?;
        }
        Ok(())
    }
}
