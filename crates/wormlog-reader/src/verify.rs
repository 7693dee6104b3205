//! `verify`: an audit of a whole stream. Unlike a replay it does not stop at the first
//! problem: it reads every listed slot and reports every finding, each naming its slot.
//!
//! ```text
//!  LIST log/ ─► GET every slot (prefetched) ─► decode, CRC, placement
//!        │                                        │
//!        │      validity as a reader sees it ─────┼─► zombies, seq discontinuities,
//!        │      (epochs, expected seq)            │   duplicate event ids, epoch timeline
//!        ├─► missing slots ─── named by a purge record? ─► documented purges (not violations)
//!        │                         └─ otherwise ─────────► gaps
//!        ├─► HEAD lock state (--require-lock) ──────► retention missing / shorter than default
//!        └─► list versions ─────────────────────────► extra versions, delete markers (tampering)
//! ```

use std::collections::BTreeSet;
use std::collections::HashMap;
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use serde::Serialize;
use wormlog_format::{decode_segment, SegmentKind, StreamKeys};
use wormlog_store::{ObjectStore, RetentionMode, Timestamp};

use crate::fetch::{get_with_retries, list_all_with_retries};
use crate::purges::{DocumentedPurge, PurgeIndex};
use crate::rules::Facts;
use crate::ReadError;

/// One problem found, naming where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Finding {
    /// Slots missing below a present one: deleted segments.
    Gap { first: u64, last: u64 },
    /// A segment that does not decode or fails its CRC.
    Corrupt { slot: u64, error: String },
    /// A slot holding an object wormlog did not write (a directory store's file placed or
    /// replaced by hand, without the metadata wormlog keeps beside each object).
    Foreign { slot: u64, error: String },
    /// A segment whose header names another stream or slot (copied).
    Misplaced { slot: u64, error: String },
    /// A segment naming another predecessor than the valid one that no writer's window
    /// explains: sent with nothing unsettled below it, or far above the last valid segment.
    /// An honest orphan was sent while the slot that went otherwise was in its window; this
    /// one was replaced or forged. Readers skip it, and the valid segments after it turn into
    /// orphans too.
    UnexplainedOrphan {
        slot: u64,
        window: u32,
        /// The slot of the last valid segment below it.
        valid_at: Option<u64>,
    },
    /// A segment whose epoch is below one already seen: a stale write readers skip.
    Zombie {
        slot: u64,
        epoch: u64,
        max_epoch: u64,
        writer: String,
    },
    /// A valid segment that does not start where the log before it ends.
    SeqDiscontinuity {
        slot: u64,
        expected: u64,
        found: u64,
    },
    /// An event id seen twice.
    DuplicateEventId {
        id: String,
        first_seq: u64,
        seq: u64,
    },
    /// A segment without retention, or retained for less than the bucket default.
    RetentionMissing { slot: u64 },
    RetentionShort {
        slot: u64,
        retain_until: String,
        default_until: String,
    },
    /// More than one version of a segment key: it was overwritten.
    ExtraVersions { slot: u64, versions: usize },
    /// A delete marker over a segment: someone tried to delete it.
    DeleteMarker { slot: u64 },
    /// A purge index key that points to no valid purge record: it documents nothing.
    BadPurgeIndex { record_slot: u64, error: String },
    /// A purge record the index does not list: readers cannot pass the slots it names.
    PurgeUnindexed { record_slot: u64 },
    /// A slot a purge record names holds a segment again: written after the purge (a
    /// writer's late retry) or restored by hand. Readers pass it as purged.
    PurgedSlotPresent { slot: u64, record_slot: u64 },
    /// The attachment a valid event refers to is not in the store.
    AttachmentMissing { seq: u64, key: String },
    /// The attachment's size or SHA-256 is not what its event records.
    AttachmentChanged {
        seq: u64,
        key: String,
        error: String,
    },
    /// (`--require-lock`) The attachment's lock is weaker than its segment's.
    AttachmentUnlocked {
        seq: u64,
        key: String,
        error: String,
    },
    /// An attachment a purge record says was deleted is still there.
    PurgedAttachmentPresent { key: String },
}

impl Finding {
    /// One sentence for the text report.
    pub fn describe(&self) -> String {
        match self {
            Finding::Gap { first, last } if first == last => format!("slot {first} is missing (deleted?)"),
            Finding::Gap { first, last } => format!("slots {first}..={last} are missing (deleted?)"),
            Finding::Corrupt { slot, error } => format!("slot {slot} is corrupt: {error}"),
            Finding::Foreign { slot, error } => format!("slot {slot} holds a file wormlog did not write: {error}"),
            Finding::Misplaced { slot, error } => format!("slot {slot} holds a misplaced segment: {error}"),
            Finding::UnexplainedOrphan { slot, window, valid_at } => format!(
                "slot {slot} names another predecessor than the valid segment below it{}, yet its writer had {} slot(s) unsettled with it: no failed speculation explains it, so it was replaced or forged (readers skip it, and what follows it)",
                valid_at.map_or_else(String::new, |v| format!(" (at slot {v})")),
                window
            ),
            Finding::Zombie { slot, epoch, max_epoch, writer } => {
                format!("slot {slot} is a zombie: epoch {epoch} by {writer:?} after epoch {max_epoch}; readers skip it")
            }
            Finding::SeqDiscontinuity { slot, expected, found } => {
                format!("slot {slot} starts at seq {found}, but the log before it ends at seq {expected}")
            }
            Finding::DuplicateEventId { id, first_seq, seq } => {
                format!("event id {id} appears at seq {first_seq} and again at seq {seq}")
            }
            Finding::RetentionMissing { slot } => format!("slot {slot} has no Object Lock retention"),
            Finding::RetentionShort { slot, retain_until, default_until } => format!(
                "slot {slot} is retained until {retain_until}, shorter than the bucket default ({default_until})"
            ),
            Finding::ExtraVersions { slot, versions } => {
                format!("slot {slot} has {versions} versions: it was overwritten (tampering attempt)")
            }
            Finding::DeleteMarker { slot } => {
                format!("slot {slot} has a delete marker: someone tried to delete it (tampering attempt)")
            }
            Finding::BadPurgeIndex { record_slot, error } => {
                format!("the purge index entry for slot {record_slot} documents nothing: {error}")
            }
            Finding::PurgedSlotPresent { slot, record_slot } => format!(
                "slot {slot} holds a segment, but the purge record at slot {record_slot} says it was deleted: it was written again after the purge; readers pass it as purged"
            ),
            Finding::AttachmentMissing { seq, key } => {
                format!("the attachment of seq {seq} ({key}) is missing")
            }
            Finding::AttachmentChanged { seq, key, error } => {
                format!("the attachment of seq {seq} ({key}) was changed: {error}")
            }
            Finding::AttachmentUnlocked { seq, key, error } => {
                format!("the attachment of seq {seq} ({key}) is less protected than its segment: {error}")
            }
            Finding::PurgedAttachmentPresent { key } => format!(
                "{key} is still stored, but a purge record says it was deleted with its events"
            ),
            Finding::PurgeUnindexed { record_slot } => format!(
                "the purge record at slot {record_slot} is missing from the purge index, so readers stop at the slots it names; rerun the purge or restore the index key"
            ),
        }
    }
}

/// An epoch transition along the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub slot: u64,
    pub seq: u64,
    pub epoch: u64,
    pub writer: String,
}

/// A segment deleted under a documented purge: who, why, and what it held.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PurgeNote {
    pub slot: u64,
    pub record_slot: u64,
    pub operator: String,
    pub reason: String,
    pub first_seq: u64,
    pub count: u64,
    pub epoch: u64,
    pub writer: String,
}

impl PurgeNote {
    fn of(d: &DocumentedPurge) -> PurgeNote {
        PurgeNote {
            slot: d.purged.slot,
            record_slot: d.record_slot,
            operator: d.operator.clone(),
            reason: d.reason.clone(),
            first_seq: d.purged.first_seq,
            count: d.purged.count,
            epoch: d.purged.epoch,
            writer: d.purged.writer.clone(),
        }
    }
}

/// The lock state of one segment (with `--require-lock`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SegmentLock {
    pub slot: u64,
    /// The segment's object key.
    pub key: String,
    /// The seqs of the events it holds (`first_seq`, `count`); `None` for control records
    /// and segments that do not decode.
    pub first_seq: Option<u64>,
    pub count: u64,
    pub mode: Option<RetentionMode>,
    pub retain_until: Option<String>,
    pub legal_hold: bool,
}

/// The audit of one stream.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub stream: String,
    pub store: String,
    pub segments: u64,
    pub events: u64,
    pub control_records: u64,
    pub timeline: Vec<Transition>,
    pub locks: Vec<SegmentLock>,
    /// Segments deleted under a purge record: documented, so not violations.
    pub purges: Vec<PurgeNote>,
    /// Attachments valid events refer to (each counted once).
    pub attachments: u64,
    /// Attachments no event refers to: uploads whose segment never committed. Not
    /// violations, and safe to delete where retention allows.
    pub unreferenced_attachments: Vec<String>,
    /// Missing slots with only void records above them (`[first, last]`): a new leader is
    /// fencing ahead, or crashed while it did. Not violations: readers stop there and wait,
    /// and the next writer's open fills them.
    pub pending_holes: Vec<(u64, u64)>,
    /// Segments that name a predecessor other than the valid one below them: a pipelined
    /// writer's batches above a slot it lost or failed, sent again higher up. Not
    /// violations: readers skip them, and no acknowledged event is among them.
    pub orphans: Vec<OrphanNote>,
    /// Slots holding void records: claimed by a new leader fencing ahead, or filled by a
    /// writer or opener so that a slot it could not write is dead. Never valid, not
    /// violations.
    pub voids: Vec<u64>,
    pub findings: Vec<Finding>,
}

/// One orphan: where it is, who wrote it, the predecessor it names and the valid one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrphanNote {
    pub slot: u64,
    pub epoch: u64,
    pub writer: String,
    pub count: u64,
    /// The write id it names as `prev`.
    pub names: Option<uuid::Uuid>,
    /// The write id of the valid segment below it.
    pub valid_below: Option<uuid::Uuid>,
}

impl VerifyReport {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Audits `stream`: every slot, and with `require_lock` every segment's Object Lock state.
pub async fn verify(
    store: Arc<dyn ObjectStore>,
    root_prefix: &str,
    stream: &str,
    require_lock: bool,
) -> Result<VerifyReport, ReadError> {
    let keys =
        StreamKeys::new(root_prefix, stream).map_err(|e| ReadError::Config(e.to_string()))?;
    let listed = list_all_with_retries(&*store, &keys.log_prefix(), None)
        .await
        .map_err(ReadError::Store)?;
    let slots: Vec<u64> = listed
        .iter()
        .filter_map(|e| keys.parse_slot(&e.key))
        .collect();
    let mut report = VerifyReport {
        stream: stream.to_owned(),
        store: store.describe(),
        ..VerifyReport::default()
    };
    let default = if require_lock {
        store.default_retention().await.map_err(ReadError::Store)?
    } else {
        None
    };
    let index = PurgeIndex::load(&*store, &keys).await?;
    for (record_slot, error) in &index.invalid {
        report.findings.push(Finding::BadPurgeIndex {
            record_slot: *record_slot,
            error: error.clone(),
        });
    }
    let fetches = stream::iter(slots.clone())
        .map(|slot| {
            let (store, key) = (Arc::clone(&store), keys.segment(slot));
            async move { (slot, get_with_retries(&*store, &key).await) }
        })
        .buffered(8);
    futures::pin_mut!(fetches);
    let mut audit = Audit::default();
    let mut next_slot = 0u64;
    while let Some((slot, got)) = fetches.next().await {
        // Slots absent from the listing, or gone when read, are read once more: a writer may
        // have committed them after the listing. Only what stays absent is missing.
        let mut absent: Vec<u64> = (next_slot..slot).collect();
        next_slot = slot + 1;
        let mut found = Vec::new();
        match got {
            Ok(g) => found.push((slot, g)),
            Err(wormlog_store::StoreError::NotFound { .. }) => absent.push(slot),
            Err(wormlog_store::StoreError::Foreign { reason, .. }) => {
                audit.present.push((slot, None));
                report.findings.push(Finding::Foreign {
                    slot,
                    error: reason,
                });
                audit.expected_seq = None;
                audit.prev_unknown = true;
            }
            Err(e) => return Err(ReadError::Store(e)),
        }
        let mut reread = Vec::new();
        for s in absent {
            match get_with_retries(&*store, &keys.segment(s)).await {
                Ok(g) => reread.push((s, Some(g))),
                Err(wormlog_store::StoreError::NotFound { .. }) => reread.push((s, None)),
                Err(e) => return Err(ReadError::Store(e)),
            }
        }
        reread.extend(found.into_iter().map(|(s, g)| (s, Some(g))));
        reread.sort_by_key(|(s, _)| *s);
        let mut missing_from: Option<u64> = None;
        for (s, got) in reread {
            let Some(got) = got else {
                missing_from.get_or_insert(s);
                continue;
            };
            if let Some(from) = missing_from.take() {
                audit.missing(&mut report, &index, from, s - 1);
            }
            if let Some(d) = index.by_slot.get(&s) {
                audit.present.push((s, None));
                report.findings.push(Finding::PurgedSlotPresent {
                    slot: s,
                    record_slot: d.record_slot,
                });
                audit.missing(&mut report, &index, s, s);
                continue;
            }
            report.segments += 1;
            if require_lock {
                report.locks.push(lock_of(s, keys.segment(s), &got));
                check_retention(&mut report, s, &got, default);
            }
            audit.segment(&mut report, stream, s, &got.body);
        }
        if let Some(from) = missing_from {
            audit.missing(&mut report, &index, from, slot);
        }
    }
    audit.pending_holes(&mut report);
    for record_slot in audit.purge_records {
        if !index.by_slot.values().any(|d| d.record_slot == record_slot) {
            report
                .findings
                .push(Finding::PurgeUnindexed { record_slot });
        }
    }
    crate::attachments::audit(
        &*store,
        &keys,
        &audit.attachments,
        &index.attachments,
        require_lock,
        &mut report,
    )
    .await?;
    audit_versions(&*store, &keys, &mut report).await?;
    Ok(report)
}

/// The reader's validity rules, continuing past damage.
/// What a segment says of its place in a pipelined writer's chain.
#[derive(Clone)]
struct Link {
    kind: SegmentKind,
    epoch: u64,
    write_id: uuid::Uuid,
    prev: Option<uuid::Uuid>,
    first_seq: u64,
    next_seq: u64,
}

impl Link {
    fn of(h: &wormlog_format::SegmentHeader) -> Link {
        Link {
            kind: h.kind,
            epoch: h.epoch,
            write_id: h.write_id,
            prev: h.prev,
            first_seq: h.first_seq,
            next_seq: h.first_seq + h.count,
        }
    }

    /// Whether this batch was encoded as following `lower`, its writer's batch below it.
    fn names(&self, lower: &Link) -> bool {
        self.prev == Some(lower.write_id)
            && self.first_seq == lower.next_seq
            && lower.kind == SegmentKind::Events
            && lower.epoch == self.epoch
    }
}

#[derive(Default)]
struct Audit {
    max_epoch: u64,
    /// `None` after damage: resynchronise at the next valid segment.
    expected_seq: Option<u64>,
    ids: HashMap<uuid::Uuid, u64>,
    started: bool,
    /// Slots of the purge records met.
    purge_records: Vec<u64>,
    /// The attachments valid events refer to.
    attachments: Vec<crate::attachments::Reference>,
    /// Every present slot met; for a void record, the lowest slot its claim reaches.
    present: Vec<(u64, Option<u64>)>,
    /// The write id of the last valid segment: what a version 3 segment must name.
    prev: Option<uuid::Uuid>,
    /// After a gap or an unreadable slot the valid segment below is unknown: the next
    /// segment's `prev` cannot be checked (the damage is reported already).
    prev_unknown: bool,
    /// The highest slot found missing so far (undocumented).
    last_missing: Option<u64>,
    /// The slot of the last valid segment (with `prev`, its write id).
    valid_at: Option<u64>,
    /// The last slots read whole (up to a window's worth), for judging orphans.
    recent: std::collections::VecDeque<(u64, Link)>,
}

impl Audit {
    /// An orphan is what a failed speculation leaves: its writer sent it with the slots of
    /// its window unsettled, each speculated to hold the batch the one above it names, and
    /// one of them settled otherwise. So an honest orphan's chain breaks inside its own
    /// window (the link from some slot there to the one below it). An orphan sent with
    /// nothing unsettled (window 1), or whose chain is whole across its window (its writer
    /// then had every reason to take it for valid: what broke lies below, where its writer
    /// had seen it settle), was replaced or forged, or something below it was: a finding.
    fn explain_orphan(
        &self,
        report: &mut VerifyReport,
        slot: u64,
        h: &wormlog_format::SegmentHeader,
    ) {
        let window = h.window.unwrap_or(1);
        let floor = wormlog_format::lowest_pending(slot, window);
        let mut upper = Link::of(h);
        let mut broken = false;
        for below in (floor..slot).rev() {
            match self.recent.iter().find(|(s, _)| *s == below) {
                Some((_, lower)) if upper.names(lower) => upper = lower.clone(),
                _ => {
                    broken = true;
                    break;
                }
            }
        }
        if window <= 1 || !broken {
            report.findings.push(Finding::UnexplainedOrphan {
                slot,
                window,
                valid_at: self.valid_at,
            });
        }
    }

    /// Whether the segment at `slot` was sent while a slot found missing below it was still
    /// unsettled (its header's window reaches that slot).
    fn waits_on_a_missing_slot(&self, slot: u64, h: &wormlog_format::SegmentHeader) -> bool {
        self.last_missing.is_some_and(|missing| {
            h.wormlog >= 3 && wormlog_format::lowest_pending(slot, h.window.unwrap_or(1)) <= missing
        })
    }

    /// Gaps that are pending holes by the readers' rule ([`wormlog_format::is_pending`]).
    fn pending_holes(&self, report: &mut VerifyReport) {
        let present = &self.present;
        report.findings.retain(|f| {
            let Finding::Gap { first, last } = *f else {
                return true;
            };
            let above: Vec<(u64, Option<u64>)> =
                present.iter().filter(|(s, _)| *s > last).copied().collect();
            let pending = wormlog_format::is_pending(first, last, &above);
            if pending {
                report.pending_holes.push((first, last));
            }
            !pending
        });
    }

    /// Slots `first..=last` are missing: documented purges are noted and their seqs
    /// accounted for as a reader does; runs of undocumented slots are gaps.
    fn missing(&mut self, report: &mut VerifyReport, index: &PurgeIndex, first: u64, last: u64) {
        let mut gap_start: Option<u64> = None;
        for slot in first..=last {
            match index.by_slot.get(&slot) {
                Some(d) => {
                    if let Some(start) = gap_start.take() {
                        report.findings.push(Finding::Gap {
                            first: start,
                            last: slot - 1,
                        });
                    }
                    report.purges.push(PurgeNote::of(d));
                    self.purged(report, d);
                }
                None => {
                    gap_start.get_or_insert(slot);
                    self.prev_unknown = true;
                    self.last_missing = Some(slot);
                }
            }
        }
        if let Some(start) = gap_start {
            report.findings.push(Finding::Gap { first: start, last });
        }
    }

    /// A documented purge keeps the reader's count: its seqs are gone, not skipped over.
    fn purged(&mut self, report: &mut VerifyReport, d: &DocumentedPurge) {
        let p = &d.purged;
        if p.epoch < self.max_epoch {
            return; // a purged zombie, never counted
        }
        if !self.prev_unknown && Facts::of_purged(p).orphaned_by(self.prev) {
            return; // a purged orphan, never counted either
        }
        let expected = if self.started {
            self.expected_seq
        } else {
            Some(0)
        };
        if let Some(expected) = expected.filter(|e| *e != p.first_seq) {
            report.findings.push(Finding::SeqDiscontinuity {
                slot: p.slot,
                expected,
                found: p.first_seq,
            });
        }
        self.started = true;
        self.max_epoch = p.epoch;
        self.expected_seq = Some(p.first_seq + p.count);
        (self.prev, self.prev_unknown) = (Some(p.write_id), false);
        self.valid_at = Some(p.slot);
    }

    fn segment(&mut self, report: &mut VerifyReport, stream: &str, slot: u64, body: &[u8]) {
        let decoded = decode_segment(body);
        let claim = match &decoded {
            Ok(s) if claims_below(&s.header) && s.header.slot == slot => Some(
                wormlog_format::lowest_pending(slot, s.header.window.unwrap_or(1)),
            ),
            _ => None,
        };
        self.present.push((slot, claim));
        let segment = match decoded {
            Ok(s) => s,
            Err(e) => {
                report.findings.push(Finding::Corrupt {
                    slot,
                    error: e.to_string(),
                });
                self.expected_seq = None;
                self.prev_unknown = true;
                return;
            }
        };
        let h = &segment.header;
        if h.slot != slot || h.stream != stream {
            report.findings.push(Finding::Misplaced {
                slot,
                error: format!("its header says stream {:?} slot {}", h.stream, h.slot),
            });
            self.prev_unknown = true;
            return;
        }
        self.recent.push_back((slot, Link::of(h)));
        if self.recent.len() > wormlog_format::MAX_WINDOW as usize {
            self.recent.pop_front();
        }
        if h.kind == SegmentKind::Void {
            // A slot its writer never filled: never valid, never an error.
            report.voids.push(slot);
            return;
        }
        if self.waits_on_a_missing_slot(slot, h) {
            // Sent while a missing slot below it was unsettled (a pipelined writer's batch
            // above a pending hole): what it is depends on that slot, as readers wait on it.
            // It is judged once the hole is filled; the hole is reported.
            return;
        }
        let orphaned = !self.prev_unknown && Facts::of_header(h).orphaned_by(self.prev);
        // Below a newer epoch and naming no valid predecessor: what a pipelined writer had in
        // flight when a new leader's epoch-start took a slot below it. Skipped by readers as
        // any zombie, but the protocol's own leftover, not damage.
        // (A version 1 or 2 segment is never an orphan: its zombies stay findings.)
        if orphaned {
            self.explain_orphan(report, slot, h);
            report.orphans.push(OrphanNote {
                slot,
                epoch: h.epoch,
                writer: h.writer.clone(),
                count: h.count,
                names: h.prev,
                valid_below: self.prev,
            });
            return;
        }
        if h.epoch < self.max_epoch {
            report.findings.push(Finding::Zombie {
                slot,
                epoch: h.epoch,
                max_epoch: self.max_epoch,
                writer: h.writer.clone(),
            });
            return;
        }
        let expected = if self.started {
            self.expected_seq
        } else {
            Some(0)
        };
        if let Some(expected) = expected.filter(|e| *e != h.first_seq) {
            report.findings.push(Finding::SeqDiscontinuity {
                slot,
                expected,
                found: h.first_seq,
            });
        }
        if !self.started || h.epoch > self.max_epoch {
            report.timeline.push(Transition {
                slot,
                seq: h.first_seq,
                epoch: h.epoch,
                writer: h.writer.clone(),
            });
        }
        self.started = true;
        self.max_epoch = h.epoch;
        self.expected_seq = Some(h.first_seq + h.count);
        (self.prev, self.prev_unknown) = (Some(h.write_id), false);
        self.valid_at = Some(slot);
        if h.kind.is_control() {
            report.control_records += 1;
        }
        if segment.purge.is_some() {
            self.purge_records.push(slot);
        }
        for e in &segment.events {
            report.events += 1;
            if let Some(p) = e.payload.as_ref().filter(|p| p.attachment.is_some()) {
                self.attachments.push(crate::attachments::Reference {
                    seq: e.seq,
                    slot,
                    payload: p.clone(),
                });
            }
            if let Some(first) = self.ids.insert(e.id, e.seq) {
                report.findings.push(Finding::DuplicateEventId {
                    id: e.id.to_string(),
                    first_seq: first,
                    seq: e.seq,
                });
                self.ids.insert(e.id, first);
            }
        }
    }
}

fn lock_of(slot: u64, key: String, got: &wormlog_store::GetResult) -> SegmentLock {
    let lock = &got.meta.lock;
    let events = wormlog_format::decode_header(&got.body)
        .ok()
        .filter(|h| h.kind == SegmentKind::Events);
    SegmentLock {
        slot,
        key,
        first_seq: events.as_ref().map(|h| h.first_seq),
        count: events.map_or(0, |h| h.count),
        mode: lock.retention.map(|r| r.mode),
        retain_until: lock.retention.map(|r| r.retain_until.to_rfc3339()),
        legal_hold: lock.legal_hold,
    }
}

/// With a bucket default, a segment must be retained at least that long after it was written
/// (its header's `created_at`, the writer's clock; a minute of slack for clock skew).
fn check_retention(
    report: &mut VerifyReport,
    slot: u64,
    got: &wormlog_store::GetResult,
    default: Option<wormlog_store::DefaultRetention>,
) {
    let Some(r) = got.meta.lock.retention else {
        report.findings.push(Finding::RetentionMissing { slot });
        return;
    };
    let (Some(d), Ok(header)) = (default, wormlog_format::decode_header(&got.body)) else {
        return;
    };
    let Some(created) = Timestamp::parse_rfc3339(&header.created_at) else {
        return;
    };
    let wanted = d.from_now(created);
    let slack = std::time::Duration::from_secs(60);
    if r.retain_until.plus(slack) < wanted.retain_until {
        report.findings.push(Finding::RetentionShort {
            slot,
            retain_until: r.retain_until.to_rfc3339(),
            default_until: wanted.retain_until.to_rfc3339(),
        });
    }
}

/// Extra versions and delete markers of segment keys (versioned buckets only have them).
async fn audit_versions(
    store: &dyn ObjectStore,
    keys: &StreamKeys,
    report: &mut VerifyReport,
) -> Result<(), ReadError> {
    let versions = store
        .list_versions(&keys.log_prefix())
        .await
        .map_err(ReadError::Store)?;
    // Versions counted by distinct id, as `wormlog_store::shadowed_keys` does.
    let mut per_slot: std::collections::BTreeMap<u64, (BTreeSet<Option<String>>, bool)> =
        Default::default();
    for v in versions {
        let Some(slot) = keys.parse_slot(&v.key) else {
            continue;
        };
        let e = per_slot.entry(slot).or_default();
        if v.delete_marker {
            e.1 = true;
        } else {
            e.0.insert(v.version_id);
        }
    }
    for (slot, (ids, marker)) in per_slot {
        let count = ids.len();
        if marker {
            report.findings.push(Finding::DeleteMarker { slot });
        }
        if count > 1 {
            report.findings.push(Finding::ExtraVersions {
                slot,
                versions: count,
            });
        }
    }
    Ok(())
}

/// Whether a segment says how far below it its writer may still have been sending
/// ([`wormlog_format::lowest_pending`]): a version 3 segment, or a void of any version.
pub(crate) fn claims_below(header: &wormlog_format::SegmentHeader) -> bool {
    header.kind == SegmentKind::Void || header.wormlog >= 3
}
