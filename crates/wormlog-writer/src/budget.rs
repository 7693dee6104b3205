//! Backpressure (docs/protocol.md, "Pipelining", rule 6): at most about
//! `max_unacked_bytes` of events queued for or in flight in the writer task. A request
//! reserves its events' size when it is handed to the task and gives it back when it is
//! answered.
//!
//! A request that does not fit waits in a line here, in call order, and is handed over as
//! soon as answers free enough room: nobody has to poll it for that, so holding one append's
//! future while awaiting a later one never hangs. A request never overtakes one waiting
//! before it. A lone event larger than the whole budget still goes, alone (when nothing else
//! is reserved). A producer that waits for its request to be handed over
//! (`LogWriter::queue`, `try_append`) holds no more than the budget in the writer plus its
//! own next event.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use crate::writer::Request;
use crate::WriteError;

/// The writer's budget of unanswered bytes, and the line of requests waiting for room.
pub(crate) struct Budget {
    max: usize,
    state: Mutex<State>,
    /// Told whenever the line has emptied.
    drained: tokio::sync::Notify,
}

struct State {
    used: usize,
    line: VecDeque<Waiting>,
    /// The writer task's queue; `None` once the writer is closing and the line is empty.
    tx: Option<mpsc::UnboundedSender<Request>>,
    closing: bool,
    /// Whether the last hand-over left requests in line: only then can anyone be waiting
    /// for it to empty, so only then is `drained` told (it costs a lock per request else).
    held: bool,
}

/// What a hand-over lets go of, to be dropped once the budget's lock is released: requests
/// the task can no longer take, and the task's queue when it closes (dropping the last
/// sender may drop requests still in it, whose reservations come back through the lock).
#[derive(Default)]
struct Unsent {
    requests: Vec<Request>,
    tx: Option<mpsc::UnboundedSender<Request>>,
}

/// A request waiting for room, and who to tell when it is handed over.
struct Waiting {
    request: Request,
    bytes: usize,
    handed_over: Option<oneshot::Sender<()>>,
}

/// A request's share of the budget: given back when dropped (the request was answered).
pub(crate) struct Reserved {
    budget: Arc<Budget>,
    bytes: usize,
    /// False once given back by hand (a request the task could not take).
    armed: bool,
}

impl std::fmt::Debug for Reserved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reserved({} bytes)", self.bytes)
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let unsent = {
            let mut state = self.budget.state.lock();
            state.used -= self.bytes;
            self.budget.hand_over(&mut state)
        };
        drop(unsent); // outside the lock: their reservations come back through it
    }
}

impl State {
    fn fits(&self, bytes: usize, max: usize) -> bool {
        self.used == 0 || self.used + bytes <= max
    }
}

impl Budget {
    pub fn new(max: usize, tx: mpsc::UnboundedSender<Request>) -> Arc<Budget> {
        Arc::new(Budget {
            max,
            state: Mutex::new(State {
                used: 0,
                line: VecDeque::new(),
                tx: Some(tx),
                closing: false,
                held: false,
            }),
            drained: tokio::sync::Notify::new(),
        })
    }

    /// Hands `request` to the writer task now if nobody waits and it fits, else puts it in
    /// line; `handed_over` is told either way once it is with the task.
    pub fn submit(
        self: &Arc<Self>,
        request: Request,
        bytes: usize,
        handed_over: Option<oneshot::Sender<()>>,
    ) -> Result<(), WriteError> {
        let unsent = {
            let mut state = self.state.lock();
            if state.tx.is_none() || state.closing {
                return Err(WriteError::Closed);
            }
            state.line.push_back(Waiting {
                request,
                bytes,
                handed_over,
            });
            self.hand_over(&mut state)
        };
        drop(unsent);
        Ok(())
    }

    /// Hands `request` over now, or gives it back with [`WriteError::Full`] if it must wait
    /// (no room, or others wait before it).
    pub fn try_submit(self: &Arc<Self>, request: Request, bytes: usize) -> Result<(), WriteError> {
        let unsent = {
            let mut state = self.state.lock();
            if state.tx.is_none() || state.closing {
                return Err(WriteError::Closed);
            }
            if !state.line.is_empty() || !state.fits(bytes, self.max) {
                return Err(WriteError::Full {
                    unacked: state.used,
                    max: self.max,
                });
            }
            state.line.push_back(Waiting {
                request,
                bytes,
                handed_over: None,
            });
            self.hand_over(&mut state)
        };
        drop(unsent);
        Ok(())
    }

    /// No more requests: the task's queue closes once the line has been handed over.
    pub fn close(self: &Arc<Self>) {
        let unsent = {
            let mut state = self.state.lock();
            state.closing = true;
            self.hand_over(&mut state)
        };
        drop(unsent);
    }

    /// Hands over the line's head while it fits. A request the task can no longer take (it
    /// stopped) is returned, for the caller to drop once it has let go of the lock (its
    /// reservation comes back through it); dropped, it answers its append with `Closed`.
    #[must_use]
    fn hand_over(self: &Arc<Self>, state: &mut State) -> Unsent {
        let mut unsent = Unsent::default();
        while let Some(head) = state.line.front() {
            if !state.fits(head.bytes, self.max) {
                break;
            }
            let Waiting {
                mut request,
                bytes,
                handed_over,
            } = state.line.pop_front().expect("a head");
            state.used += bytes;
            request.reserved = Some(Reserved {
                budget: Arc::clone(self),
                bytes,
                armed: true,
            });
            let refused = match &state.tx {
                Some(tx) => tx.send(request).err().map(|e| e.0),
                None => Some(request),
            };
            if let Some(mut request) = refused {
                // The task is gone: this request and every one behind it can only be
                // dropped (which answers them `Closed`). Their reservations are given back
                // here, not by their drops, which would each hand over the next from inside
                // the last (as deep as the line is long).
                if let Some(mut r) = request.reserved.take() {
                    r.armed = false;
                }
                state.used -= bytes;
                unsent.tx = state.tx.take();
                unsent.requests.push(request);
                let behind = state.line.drain(..).map(|w| w.request);
                unsent.requests.extend(behind);
            }
            if let Some(told) = handed_over {
                let _ = told.send(());
            }
        }
        if state.line.is_empty() {
            if std::mem::take(&mut state.held) {
                self.drained.notify_waiters();
            }
            if state.closing {
                unsent.tx = state.tx.take();
            }
        } else {
            state.held = true;
        }
        unsent
    }

    /// Resolves once no request waits for room (at once if none does).
    pub async fn until_line_empty(&self) {
        loop {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if self.state.lock().line.is_empty() {
                return;
            }
            drained.await;
        }
    }

    /// Bytes reserved now.
    #[cfg(test)]
    pub fn used(&self) -> usize {
        self.state.lock().used
    }

    /// Requests waiting for room.
    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.state.lock().line.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> (
        Request,
        oneshot::Receiver<Result<crate::writer::Ack, WriteError>>,
    ) {
        Request::for_test()
    }

    #[test]
    fn a_full_budget_lines_requests_up_in_call_order_and_frees_on_answer() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let b = Budget::new(100, tx);
        b.submit(request().0, 80, None).unwrap();
        assert!(matches!(
            b.try_submit(request().0, 30),
            Err(WriteError::Full {
                unacked: 80,
                max: 100
            })
        ));
        b.submit(request().0, 30, None).unwrap();
        assert!(
            matches!(b.try_submit(request().0, 1), Err(WriteError::Full { .. })),
            "someone waits: no overtaking"
        );
        assert_eq!((b.used(), b.waiting()), (80, 1));
        let first = rx.try_recv().unwrap();
        assert!(rx.try_recv().is_err(), "the second waits for room");
        drop(first); // answered: its reservation goes back, the next is handed over
        assert_eq!((b.used(), b.waiting()), (30, 0));
        drop(rx.try_recv().unwrap());
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn a_lone_big_event_still_goes_and_close_waits_for_the_line() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let b = Budget::new(10, tx);
        b.submit(request().0, 1_000, None).unwrap();
        let (told, handed_over) = oneshot::channel();
        b.submit(request().0, 5, Some(told)).unwrap();
        b.close();
        let big = rx.try_recv().unwrap();
        assert!(rx.try_recv().is_err());
        drop(big);
        assert!(rx.try_recv().is_ok(), "handed over after close");
        assert!(handed_over.blocking_recv().is_ok());
        assert!(rx.blocking_recv().is_none(), "then the queue closes");
        assert!(matches!(
            b.submit(request().0, 1, None),
            Err(WriteError::Closed)
        ));
    }

    #[tokio::test]
    async fn waiting_for_room_ends_when_the_line_empties_and_at_once_when_it_is_empty() {
        use std::future::Future;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let b = Budget::new(100, tx);
        b.until_line_empty().await; // nobody in line
        b.submit(request().0, 80, None).unwrap();
        b.until_line_empty().await; // handed over at once: still nobody in line
        b.submit(request().0, 30, None).unwrap();
        let waiting = b.until_line_empty();
        tokio::pin!(waiting);
        let noop = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(noop);
        assert!(
            waiting.as_mut().poll(&mut cx).is_pending(),
            "30 bytes wait in line"
        );
        drop(rx.try_recv().unwrap()); // the first is answered: the second goes
        assert_eq!(b.waiting(), 0);
        assert!(
            waiting.as_mut().poll(&mut cx).is_ready(),
            "told when the line emptied"
        );
    }
}
