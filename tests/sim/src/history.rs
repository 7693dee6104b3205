//! What a run did: every append with its invocation and completion (simulated time) and
//! outcome, every writer that opened and every one that stopped for good, and every purge.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use wormlog_writer::WriteError;

/// How an append ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Acked {
        seq: u64,
    },
    /// The writer said the events are certainly not in the log.
    Failed,
    /// It may or may not have landed (lost response, exhausted retries, a crash).
    Unknown,
}

/// One append: who, which op, when it was invoked and completed (simulated milliseconds
/// since the start), and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub writer: String,
    pub epoch: u64,
    pub op: u64,
    pub invoked_ms: u64,
    /// `None` for an append abandoned by a crash.
    pub completed_ms: Option<u64>,
    pub outcome: Outcome,
}

/// Why a writer stopped for good, as its `on_stop` hook reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopKind {
    Fenced,
    EpochConflict,
    Poisoned,
    LeadershipLost,
    /// A slot it met was deleted behind it (a purge); it stopped rather than refill it.
    Vanished,
}

/// A writer that stopped, and the journal length at that moment: from there on it must send
/// no log PUT (I5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stop {
    pub writer: String,
    pub epoch: u64,
    pub kind: StopKind,
    pub journal_at: usize,
}

impl StopKind {
    pub fn of(e: &WriteError) -> Option<StopKind> {
        Some(match e {
            WriteError::Fenced { .. } => StopKind::Fenced,
            WriteError::EpochConflict { .. } => StopKind::EpochConflict,
            WriteError::Poisoned { .. } | WriteError::OutcomeUnknown { .. } => StopKind::Poisoned,
            WriteError::LeadershipLost { .. } => StopKind::LeadershipLost,
            WriteError::Vanished { .. } => StopKind::Vanished,
            _ => return None,
        })
    }
}

/// A purge an operator attempted, and whether its record's commit has a known outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurgeAttempt {
    pub slot: u64,
    /// False when the record's commit outcome is unknown: it may sit in the log unindexed.
    pub known: bool,
}

/// Everything the run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// In completion order.
    pub entries: Vec<Entry>,
    /// Writers that tried to open: (writer id, epoch).
    pub opened: Vec<(String, u64)>,
    pub stops: Vec<Stop>,
    pub purges: Vec<PurgeAttempt>,
    /// Every open that finished (opened or refused): who, when it started, how long it took
    /// (simulated milliseconds).
    pub open_times: Vec<OpenTime>,
    /// When a runaway stale writer was appending: (from, to) in simulated milliseconds.
    pub runaways: Vec<(u64, u64)>,
}

/// How long one writer's open took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenTime {
    pub writer: String,
    pub started_ms: u64,
    pub took_ms: u64,
}

/// Appends invoked and not yet completed, by op: what a crash turns into unknown outcomes.
#[derive(Debug, Default)]
pub struct InFlight(Mutex<BTreeMap<u64, Entry>>);

impl InFlight {
    pub fn invoked(&self, entry: Entry) {
        self.0.lock().insert(entry.op, entry);
    }

    /// The entry of `op`, no longer in flight.
    pub fn completed(&self, op: u64) -> Option<Entry> {
        self.0.lock().remove(&op)
    }

    /// Every append of `writer` still in flight: the writer crashed.
    pub fn abandon(&self, writer: &str) -> Vec<Entry> {
        let mut m = self.0.lock();
        let ops: Vec<u64> = m
            .values()
            .filter(|e| e.writer == writer)
            .map(|e| e.op)
            .collect();
        ops.into_iter().filter_map(|op| m.remove(&op)).collect()
    }
}
