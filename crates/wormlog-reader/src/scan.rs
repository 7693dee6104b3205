//! The ordered scan.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, Stream, StreamExt};
use wormlog_format::{decode_segment, Event, SegmentHeader, StreamKeys};
use wormlog_store::{list_all, GetResult, ObjectStore, StoreError};

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
}

type Fetched = (u64, Result<GetResult, StoreError>);

/// An ordered scan over the slots listed when it started.
pub struct Scan {
    stream: String,
    keys: StreamKeys,
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

    /// Starts a scan that delivers events with seq >= `from_seq`.
    pub async fn scan(&self, from_seq: u64) -> Result<Scan, ReadError> {
        let entries = list_all(&*self.store, &self.keys.log_prefix(), None)
            .await
            .map_err(ReadError::Store)?;
        let slots: Vec<u64> = entries
            .iter()
            .filter_map(|e| self.keys.parse_slot(&e.key))
            .collect();
        let store = Arc::clone(&self.store);
        let keys = self.keys.clone();
        let fetches = stream::iter(slots.clone())
            .map(move |slot| {
                let (store, key) = (Arc::clone(&store), keys.segment(slot));
                async move { (slot, get_with_retries(&*store, &key).await) }
            })
            .buffered(self.prefetch);
        Ok(Scan {
            stream: self.keys.stream().to_owned(),
            keys: self.keys.clone(),
            from_seq,
            slots,
            index: 0,
            fetches: Box::pin(fetches),
            pending: VecDeque::new(),
            max_epoch: 0,
            expected_seq: 0,
            finished: false,
        })
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
async fn get_with_retries(store: &dyn ObjectStore, key: &str) -> Result<GetResult, StoreError> {
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
            let result = self.accept(slot, fetched);
            if result.is_err() {
                self.finished = true;
            }
            result?;
        }
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
        fetched: Result<GetResult, StoreError>,
    ) -> Result<(), ReadError> {
        let position = self.index as u64;
        self.index += 1;
        if slot != position {
            return Err(ReadError::Gap {
                stream: self.stream.clone(),
                first: position,
                last: slot - 1,
                next: slot,
            });
        }
        let got = match fetched {
            Ok(g) => g,
            // Listed but gone by the time we read it: deleted under our feet.
            Err(StoreError::NotFound { .. }) => {
                return Err(ReadError::Gap {
                    stream: self.stream.clone(),
                    first: slot,
                    last: slot,
                    next: slot + 1,
                })
            }
            Err(e) => return Err(ReadError::Store(e)),
        };
        let corrupt = |source| ReadError::Corrupt {
            stream: self.stream.clone(),
            slot,
            key: self.keys.segment(slot),
            source,
        };
        let segment = decode_segment(&got.body).map_err(corrupt)?;
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

    /// How many slots the scan covers (those listed when it started).
    pub fn listed_slots(&self) -> usize {
        self.slots.len()
    }
}
