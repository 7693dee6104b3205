//! Backpressure (docs/protocol.md, "Pipelining", rule 6): at most about
//! `max_unacked_bytes` of events queued or in flight. An append reserves its events' size
//! before it is queued and gives it back when it is answered, so memory stays bounded
//! whatever the producer does.
//!
//! Appends keep their call order when the writer is full: each append that cannot reserve
//! at once takes a ticket, and tickets are served in order; an append that finds anyone
//! waiting waits behind them even if its own events would fit. A lone event larger than the
//! whole budget still goes, alone (when nothing else is reserved).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::task::Waker;

use parking_lot::Mutex;

/// The writer's budget of unacknowledged bytes.
#[derive(Debug)]
pub(crate) struct Budget {
    max: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    used: usize,
    /// Tickets issued so far, and the one to be served next.
    issued: u64,
    serving: u64,
    /// Tickets whose append was dropped before it was served: skipped.
    cancelled: BTreeSet<u64>,
    /// Appends waiting for room or for their turn.
    wakers: Vec<Waker>,
}

/// A reservation: given back when dropped (the append was answered).
#[derive(Debug)]
pub(crate) struct Reserved {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Drop for Reserved {
    fn drop(&mut self) {
        let mut state = self.budget.state.lock();
        state.used -= self.bytes;
        wake_all(&mut state);
    }
}

/// A place in the line of appends waiting for room.
#[derive(Debug)]
pub(crate) struct Ticket(u64);

fn wake_all(state: &mut State) {
    for w in state.wakers.drain(..) {
        w.wake();
    }
}

impl State {
    fn fits(&self, bytes: usize, max: usize) -> bool {
        self.used == 0 || self.used + bytes <= max
    }

    /// Moves past `ticket` and any cancelled tickets after it.
    fn served(&mut self) {
        self.serving += 1;
        while self.cancelled.remove(&self.serving) {
            self.serving += 1;
        }
    }
}

impl Budget {
    pub fn new(max: usize) -> Arc<Budget> {
        Arc::new(Budget {
            max,
            state: Mutex::new(State::default()),
        })
    }

    /// Reserves `bytes` now if nobody waits and they fit, running `then` under the budget's
    /// lock (the caller queues its append there, so fast appends keep call order with the
    /// ones served from the line). Otherwise `None`.
    pub fn try_reserve<T>(
        self: &Arc<Self>,
        bytes: usize,
        then: impl FnOnce(Reserved) -> T,
    ) -> Option<T> {
        let mut state = self.state.lock();
        if state.issued != state.serving || !state.fits(bytes, self.max) {
            return None;
        }
        state.used += bytes;
        Some(then(self.reserved(bytes)))
    }

    /// Like [`Budget::try_reserve`], but when it cannot reserve now, takes a ticket for the
    /// line instead.
    pub fn reserve_or_queue<T>(
        self: &Arc<Self>,
        bytes: usize,
        then: impl FnOnce(Reserved) -> T,
    ) -> Result<T, Ticket> {
        let mut state = self.state.lock();
        if state.issued == state.serving && state.fits(bytes, self.max) {
            state.used += bytes;
            return Ok(then(self.reserved(bytes)));
        }
        let ticket = Ticket(state.issued);
        state.issued += 1;
        Err(ticket)
    }

    /// Serves `ticket` if it is its turn and the bytes fit, running `then` under the lock;
    /// otherwise registers `waker` to be woken when that may have changed.
    pub fn poll_ticket<T>(
        self: &Arc<Self>,
        ticket: &Ticket,
        bytes: usize,
        waker: &Waker,
        then: impl FnOnce(Reserved) -> T,
    ) -> Option<T> {
        let mut state = self.state.lock();
        if state.serving != ticket.0 || !state.fits(bytes, self.max) {
            state.wakers.push(waker.clone());
            return None;
        }
        state.used += bytes;
        state.served();
        let queued = then(self.reserved(bytes));
        wake_all(&mut state);
        Some(queued)
    }

    /// An append dropped while it waited: its place in the line is given up.
    pub fn cancel(&self, ticket: &Ticket) {
        let mut state = self.state.lock();
        if state.serving == ticket.0 {
            state.served();
            wake_all(&mut state);
        } else {
            state.cancelled.insert(ticket.0);
        }
    }

    /// Bytes reserved now.
    pub fn used(&self) -> usize {
        self.state.lock().used
    }

    pub fn max(&self) -> usize {
        self.max
    }

    fn reserved(self: &Arc<Self>, bytes: usize) -> Reserved {
        Reserved {
            budget: Arc::clone(self),
            bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop() -> Waker {
        std::task::Waker::noop().clone()
    }

    #[test]
    fn a_full_budget_queues_in_call_order_and_frees_on_answer() {
        let b = Budget::new(100);
        let first = b.try_reserve(80, |r| r).unwrap();
        assert!(b.try_reserve(30, |r| r).is_none(), "does not fit");
        let t1 = b.reserve_or_queue(30, |r| r).unwrap_err();
        let t2 = b.reserve_or_queue(1, |r| r).unwrap_err();
        assert!(
            b.try_reserve(1, |r| r).is_none(),
            "someone waits: no overtaking"
        );
        assert!(
            b.poll_ticket(&t2, 1, &noop(), |r| r).is_none(),
            "not its turn"
        );
        assert!(
            b.poll_ticket(&t1, 30, &noop(), |r| r).is_none(),
            "no room yet"
        );
        drop(first);
        let r1 = b.poll_ticket(&t1, 30, &noop(), |r| r).unwrap();
        let r2 = b.poll_ticket(&t2, 1, &noop(), |r| r).unwrap();
        assert_eq!(b.used(), 31);
        drop((r1, r2));
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn a_dropped_waiter_gives_up_its_turn_and_a_lone_big_event_still_goes() {
        let b = Budget::new(10);
        let big = b.try_reserve(1_000, |r| r).unwrap();
        let t1 = b.reserve_or_queue(5, |r| r).unwrap_err();
        let t2 = b.reserve_or_queue(5, |r| r).unwrap_err();
        b.cancel(&t1);
        drop(big);
        assert!(b.poll_ticket(&t2, 5, &noop(), |r| r).is_some());
    }
}
