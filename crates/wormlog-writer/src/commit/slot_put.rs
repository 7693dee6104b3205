//! One create-only PUT of a whole segment to one slot, settled on its own (protocol.md,
//! writer step 2, "Settling a slot"): sent again with the same write id on transient
//! failures, and read after a 412 to learn who holds the slot. It owns what it needs, so a
//! window of them (fencing ahead, repairs, pipelined batches) runs at once.

use std::sync::Arc;

use bytes::Bytes;
use wormlog_fencing::tail::LogReads;
use wormlog_format::SegmentSummary;
use wormlog_store::{ObjectStore, PutOptions, SeededRng, StoreError};

use super::read_error;
use crate::settle::SlotAttempts;
use crate::{RetryPolicy, WriteError};

/// What a slot of a window, or a repaired hole, holds once settled.
pub(super) enum Fate {
    /// Our record (2xx, or a 412 on our own write id after a lost response).
    Ours(SegmentSummary),
    /// Someone else's segment, read after the 412.
    Foreign(SegmentSummary),
    /// A 412, not read yet (the caller reads it beside its next requests): the sends so
    /// far, and what we sent (the slot may hold it, if an earlier send's answer was lost).
    Occupied(SlotAttempts, SegmentSummary, u64),
}

/// Why one control record's slot could not be settled, with its sends so far.
pub(super) struct Unsettled(pub SlotAttempts, pub WriteError);

/// One create-only PUT of a control record, retried on transient failures under one write
/// id; owns what it needs, so a window's PUTs run at once.
pub(super) struct SlotPut {
    pub(super) store: Arc<dyn ObjectStore>,
    pub(super) reads: LogReads,
    pub(super) retry: RetryPolicy,
    pub(super) rng: SeededRng,
    pub(super) slot: u64,
    pub(super) key: String,
    pub(super) body: Bytes,
    pub(super) opts: PutOptions,
    pub(super) summary: SegmentSummary,
    /// Read the slot after a 412 (else [`Fate::Occupied`]).
    pub(super) read_occupied: bool,
    /// Count a landed record in the writer's stats at once (control records); a pipelined
    /// batch is counted when it is acknowledged instead.
    pub(super) count_on_land: bool,
    pub(super) stats: Arc<crate::stats::StatsCells>,
    pub(super) stream: String,
}

impl SlotPut {
    /// Our record is in the log: counted in the writer's stats like any segment it commits.
    fn count_landed(&self) {
        if !self.count_on_land {
            return;
        }
        let len = self.body.len() as u64;
        self.stats.committed(0, len);
    }

    pub(super) async fn settle(mut self) -> Result<(u64, Fate), Unsettled> {
        let mut tries = SlotAttempts::new(self.slot);
        loop {
            let sent = tokio::time::Instant::now();
            let put = self
                .store
                .put_if_absent(&self.key, self.body.clone(), &self.opts)
                .await;
            let outcome = match &put {
                Ok(_) => "ok",
                Err(StoreError::AlreadyExists { .. }) => "exists",
                Err(_) => "error",
            };
            let took = sent.elapsed().as_secs_f64();
            self.stats.telemetry.put(outcome, took);
            match put {
                Ok(_) => {
                    self.count_landed();
                    return Ok((self.slot, Fate::Ours(self.summary)));
                }
                Err(StoreError::AlreadyExists { .. }) if !self.read_occupied => {
                    return Ok((
                        self.slot,
                        Fate::Occupied(tries, self.summary, self.body.len() as u64),
                    ));
                }
                Err(StoreError::AlreadyExists { .. }) => {
                    let found = self.reads.summary(self.slot).await;
                    let found = found.map_err(|e| Unsettled(tries, read_error(&self.stream, e)))?;
                    return match found {
                        Some(f) if f.write_id == self.summary.write_id => {
                            // A lost response: counted as the writer counts any 412.
                            self.stats.conflict();
                            self.stats
                                .telemetry
                                .resolved(&crate::Resolution::OurOwnWrite);
                            self.count_landed();
                            Ok((self.slot, Fate::Ours(f)))
                        }
                        Some(f) => Ok((self.slot, Fate::Foreign(f))),
                        // Occupied, then gone: deleted behind us. Never write into it.
                        // (The writer stops on it: `unsettled_control`.)
                        None => Err(Unsettled(
                            tries,
                            WriteError::Vanished {
                                stream: self.stream,
                                slot: self.slot,
                            },
                        )),
                    };
                }
                Err(e) if e.is_transient() && tries.failed + 1 < self.retry.max_attempts => {
                    tries.send_failed(&e);
                    self.stats.retry();
                    let ceiling = self.retry.ceiling(tries.failed).as_micros() as u64;
                    let wait = self.rng.below(ceiling.max(1));
                    tokio::time::sleep(std::time::Duration::from_micros(wait)).await;
                }
                Err(e) => {
                    if e.is_transient() {
                        tries.send_failed(&e);
                    }
                    return Err(Unsettled(tries, WriteError::Store(e)));
                }
            }
        }
    }
}
