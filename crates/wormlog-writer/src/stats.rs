//! Counters of one writer.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::telemetry::Telemetry;

/// What a writer has done so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct WriterStats {
    /// Events acknowledged.
    pub appends: u64,
    /// Segments this writer committed (control records included).
    pub segments: u64,
    /// Bytes of those segments.
    pub bytes: u64,
    /// 412s met on log PUTs (each resolved by protocol step 2).
    pub conflicts: u64,
    /// Requests sent again after a transient failure.
    pub retries: u64,
    /// The store's own request, error and latency counters per operation, for stores that
    /// keep them (S3); they count every user of that store, not this writer alone.
    pub store_requests: Vec<wormlog_store::RequestStats>,
}

/// The writer's counters, and the same events as metrics ([`Telemetry`]).
#[derive(Debug)]
pub(crate) struct StatsCells {
    appends: AtomicU64,
    segments: AtomicU64,
    bytes: AtomicU64,
    conflicts: AtomicU64,
    retries: AtomicU64,
    pub(crate) telemetry: Telemetry,
}

impl StatsCells {
    pub(crate) fn new(stream: &str) -> StatsCells {
        StatsCells {
            appends: AtomicU64::new(0),
            segments: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            telemetry: Telemetry::new(stream),
        }
    }

    /// A segment of ours is in the log (a batch of `events`, or a control record).
    pub(crate) fn committed(&self, events: u64, bytes: u64) {
        self.appends.fetch_add(events, Ordering::Relaxed);
        self.segments.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.telemetry.committed(events, bytes);
    }

    pub(crate) fn conflict(&self) {
        self.conflicts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        self.telemetry.retry();
    }

    pub(crate) fn snapshot(&self) -> WriterStats {
        WriterStats {
            appends: self.appends.load(Ordering::Relaxed),
            segments: self.segments.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            conflicts: self.conflicts.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            store_requests: Vec::new(),
        }
    }
}
