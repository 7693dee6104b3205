//! Settling one slot (protocol.md, writer step 2, "Settling a slot"): how many times the
//! writer has sent its batch to a slot, whether any of those sends may have landed, and what
//! a failure to settle the slot therefore means.
//!
//! ```text
//!  send batch to slot s ─► 2xx ───────────────► ours
//!                       ├─► 412 ─► read s ──────► ours | foreign: move on, fresh budget
//!                       ├─► 409 ───────────────► refused, not landed; send again
//!                       ├─► 5xx, timeout ──────► MAY HAVE LANDED; send again, same write id
//!                       ├─► other failure ─────► definite, unless an earlier send may have landed
//!                       └─► 412, then the slot is empty when read: deleted behind us; the
//!                           writer stops (never refills a slot below the tail)
//!
//!  once a send may have landed, any failure to settle s (a read that keeps failing, a
//!  refused retry, the budget spent) is OutcomeUnknown and poisons the writer (I6)
//! ```
//!
//! The budget is per slot: a writer chasing a stale leader through many slots gets a fresh
//! one at each.

use wormlog_store::StoreError;

use crate::WriteError;

/// The sends of one batch to one slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SlotAttempts {
    pub slot: u64,
    /// Failed sends so far.
    pub failed: u32,
    /// True once a failed send may have been committed by the store (a lost response).
    pub may_have_landed: bool,
}

impl SlotAttempts {
    pub fn new(slot: u64) -> SlotAttempts {
        SlotAttempts {
            slot,
            failed: 0,
            may_have_landed: false,
        }
    }

    /// Starts a fresh budget when the writer has moved on to another slot.
    pub fn at(&mut self, slot: u64) {
        if slot != self.slot {
            *self = SlotAttempts::new(slot);
        }
    }

    /// Records a failed send. A 409 (a racing conditional write) means the store refused ours;
    /// any other failure may have come after the store committed it: a timeout, a reset, a
    /// 5xx from a proxy in front of a server that applied the PUT.
    pub fn send_failed(&mut self, e: &StoreError) {
        self.failed += 1;
        if !matches!(e, StoreError::Conflict { .. }) {
            self.may_have_landed = true;
        }
    }

    /// What a failure to settle the slot means: definite while no send may have landed,
    /// otherwise an unknown outcome. `Indeterminate` store errors are unknown by definition.
    pub fn outcome_of(&self, e: WriteError) -> Settled {
        let indeterminate = matches!(e, WriteError::Store(StoreError::Indeterminate { .. }));
        if !(self.may_have_landed || indeterminate) {
            return Settled::Definite(e);
        }
        let source = match e {
            WriteError::Store(s) => s,
            other => StoreError::Permanent {
                op: "settle slot",
                key: format!("slot {}", self.slot),
                message: other.to_string(),
            },
        };
        Settled::Unknown(WriteError::OutcomeUnknown {
            slot: self.slot,
            attempts: self.failed.max(1),
            source,
        })
    }
}

/// A slot that could not be settled.
#[derive(Debug)]
pub(crate) enum Settled {
    /// The batch is certainly not in the log; the writer stays usable.
    Definite(WriteError),
    /// The batch may be in the log; the writer must stop until reopened.
    Unknown(WriteError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transient() -> StoreError {
        StoreError::Transient {
            op: "put",
            key: "k".into(),
            message: "timed out".into(),
        }
    }

    fn denied() -> WriteError {
        WriteError::Store(StoreError::Permanent {
            op: "put",
            key: "k".into(),
            message: "403".into(),
        })
    }

    #[test]
    fn a_failure_is_definite_until_a_send_may_have_landed() {
        let mut a = SlotAttempts::new(3);
        assert!(matches!(a.outcome_of(denied()), Settled::Definite(_)));
        a.send_failed(&StoreError::Conflict { key: "k".into() });
        assert!(
            matches!(a.outcome_of(denied()), Settled::Definite(_)),
            "a 409 was refused"
        );
        a.send_failed(&transient());
        assert!(matches!(
            a.outcome_of(denied()),
            Settled::Unknown(WriteError::OutcomeUnknown {
                slot: 3,
                attempts: 2,
                ..
            })
        ));
    }

    #[test]
    fn an_indeterminate_store_error_is_unknown_at_once() {
        let e = WriteError::Store(StoreError::Indeterminate {
            op: "put",
            key: "k".into(),
            message: "fsync failed".into(),
        });
        assert!(matches!(
            SlotAttempts::new(0).outcome_of(e),
            Settled::Unknown(_)
        ));
    }

    #[test]
    fn moving_to_another_slot_starts_a_fresh_budget() {
        let mut a = SlotAttempts::new(1);
        a.send_failed(&transient());
        a.at(1);
        assert_eq!(a.failed, 1);
        a.at(2);
        assert_eq!(a, SlotAttempts::new(2));
    }
}
