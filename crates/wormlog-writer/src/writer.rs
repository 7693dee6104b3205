//! [`LogWriter`]: the handle applications hold. `append` queues an event and returns a future
//! of its seq; one background task drains the queue into batches (group commit, step 4) and
//! commits them one at a time through [`crate::commit::Core`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;
use wormlog_fencing::FencingToken;
use wormlog_format::{NewEvent, PurgeRecord, StreamKeys};
use wormlog_store::{Clock, ObjectStore, SeededRng};

use std::collections::VecDeque;

use futures::stream::{FuturesUnordered, StreamExt};

use crate::budget::{Budget, Reserved};
use crate::commit::pipeline::{Answer, Settlement, SlotSend, Window};
use crate::commit::{Committed, Core, Payload};
use crate::stats::StatsCells;
use crate::{WriteError, WriterConfig, WriterStats};

/// An acknowledged event: it is in the log at `seq`, inside the segment at `slot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    pub id: Uuid,
    pub slot: u64,
}

/// Where the writer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriterPosition {
    pub epoch: u64,
    /// The slot the next batch will try.
    pub next_slot: u64,
    /// The seq the next event will get, unless another writer's segment intervenes.
    pub next_seq: u64,
}

/// What a committed request gets back: the slot its segment landed in, and its events.
pub(crate) struct Ack {
    slot: u64,
    events: Vec<Appended>,
}

type Reply = oneshot::Sender<Result<Ack, WriteError>>;

/// One queued request: plain events join a shared batch; a conditional one, or a purge
/// record, commits alone.
pub(crate) struct Request {
    events: Vec<NewEvent>,
    expected_seq: Option<u64>,
    purge: Option<PurgeRecord>,
    reply: Reply,
    /// When `append` was called (the writer's monotonic clock): for the append latency.
    queued_at: std::time::Duration,
    /// Its share of the backpressure budget, given back when it is answered.
    pub(crate) reserved: Option<Reserved>,
}

#[cfg(test)]
impl Request {
    pub(crate) fn for_test() -> (Request, oneshot::Receiver<Result<Ack, WriteError>>) {
        let (reply, rx) = oneshot::channel();
        let request = Request {
            events: Vec::new(),
            expected_seq: None,
            purge: None,
            reply,
            queued_at: std::time::Duration::ZERO,
            reserved: None,
        };
        (request, rx)
    }
}

/// The future of one append: resolves once its segment is committed (or definitely not).
/// While the writer is full it waits for room first (the request waits in line in the
/// writer, so it needs no polling to move up).
pub struct AppendFuture {
    state: AppendState,
}

enum AppendState {
    Ready(Option<Result<Appended, WriteError>>),
    Waiting(oneshot::Receiver<Result<Ack, WriteError>>),
}

impl Future for AppendFuture {
    type Output = Result<Appended, WriteError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            AppendState::Ready(r) => {
                Poll::Ready(r.take().expect("AppendFuture polled after completion"))
            }
            AppendState::Waiting(rx) => Pin::new(rx).poll(cx).map(|r| match r {
                Ok(Ok(mut ack)) => Ok(ack.events.pop().expect("one event, one ack")),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(WriteError::Closed),
            }),
        }
    }
}

/// Appends events to one stream under one fencing token. Cheap to share by reference; all
/// appends go through one background task, in call order.
pub struct LogWriter {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) keys: StreamKeys,
    pub(crate) ids: Mutex<SeededRng>,
    pub(crate) clock: Arc<dyn Clock>,
    /// The Object Lock of every segment; attachments get it too (attach.rs).
    pub(crate) lock: Option<crate::LockPolicy>,
    pub(crate) attach_above: u64,
    pub(crate) parts_above: u64,
    pub(crate) planted_bug: Option<crate::PlantedBug>,
    pub(crate) legal_hold: bool,
    stats: Arc<StatsCells>,
    position: Arc<Mutex<WriterPosition>>,
    budget: Arc<Budget>,
    /// The writer task (taken by `close`).
    task: Option<tokio::task::JoinHandle<()>>,
    /// Signed checkpoints as the writer goes, when configured.
    checkpointer: Option<crate::checkpoints::Checkpointer>,
}

impl Drop for LogWriter {
    /// Dropped without `close`: the task answers what it was given and ends, as after
    /// `close`, in the background.
    fn drop(&mut self) {
        self.budget.close();
    }
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter")
            .field("position", &*self.position.lock())
            .finish()
    }
}

impl LogWriter {
    /// Opens a writer: finds the tail, refuses if a higher epoch holds the log (`Fenced`),
    /// and commits an `epoch-start` record unless the tail already carries this epoch. No
    /// writer with a lower epoch can be acknowledged after this returns (I4).
    pub async fn open(
        store: Arc<dyn ObjectStore>,
        mut cfg: WriterConfig,
    ) -> Result<LogWriter, WriteError> {
        if cfg.legal_hold && cfg.lock.is_none() {
            cfg.lock = explicit_default_retention(&*store).await?;
        }
        let mut rng = match cfg.seed {
            Some(seed) => SeededRng::new(seed),
            None => SeededRng::from_entropy(),
        };
        let ids = SeededRng::new(rng.next_u64());
        let stats = Arc::new(StatsCells::new(&cfg.stream));
        let clock = Arc::clone(&cfg.clock);
        let (lock, attach_above, parts_above) = (cfg.lock, cfg.attach_above, cfg.parts_above);
        let (planted_bug, legal_hold) = (cfg.planted_bug, cfg.legal_hold);
        let max_unacked_bytes = cfg.max_unacked_bytes;
        let checkpoints = cfg.checkpoints.clone();
        let mut core = Core::open(Arc::clone(&store), cfg, rng, Arc::clone(&stats)).await?;
        let keys = core.keys().clone();
        let checkpointer = checkpoints.map(|policy| {
            let (feed, checkpointer) = crate::checkpoints::start(
                Arc::clone(&store),
                &keys,
                policy,
                lock,
                legal_hold,
                Arc::clone(&clock),
            );
            core.feed = Some(feed);
            checkpointer
        });
        let position = Arc::new(Mutex::new(position_of(&core)));
        let (tx, rx) = mpsc::unbounded_channel();
        let budget = Budget::new(max_unacked_bytes, tx);
        let leadership = core.config().leadership.clone();
        let task = tokio::spawn(run(core, rx, Arc::clone(&position), leadership));
        Ok(LogWriter {
            store,
            keys,
            ids: Mutex::new(ids),
            clock,
            lock,
            attach_above,
            parts_above,
            planted_bug,
            legal_hold,
            stats,
            position,
            budget,
            task: Some(task),
            checkpointer,
        })
    }

    /// Builds an event with a fresh id and the current time; `data_json` must be one JSON value.
    pub fn event(&self, event_type: &str, data_json: &str) -> Result<NewEvent, WriteError> {
        let id = self.ids.lock().uuid();
        NewEvent::new(id, event_type, self.clock.now().to_rfc3339(), data_json)
            .map_err(WriteError::InvalidEvent)
    }

    /// Appends one event. The returned future resolves with its seq once committed.
    /// Appends are committed in call order.
    pub fn append(&self, event_type: &str, data_json: &str) -> AppendFuture {
        match self.event(event_type, data_json) {
            Ok(e) => self.append_event(e),
            Err(e) => AppendFuture {
                state: AppendState::Ready(Some(Err(e))),
            },
        }
    }

    /// Appends a prepared event. Beyond [`WriterConfig::max_unacked_bytes`] of appends
    /// unanswered, it waits in line for room first, in call order.
    pub fn append_event(&self, event: NewEvent) -> AppendFuture {
        let bytes = event.approx_len();
        let (request, rx) = self.request(vec![event], None, None);
        match self.budget.submit(request, bytes, None) {
            Ok(()) => AppendFuture {
                state: AppendState::Waiting(rx),
            },
            Err(e) => AppendFuture {
                state: AppendState::Ready(Some(Err(e))),
            },
        }
    }

    /// Waits until the writer has taken `event` in (room in its budget, in call order, as
    /// [`LogWriter::append_event`]), and returns the future of its acknowledgement. A
    /// producer that awaits this holds no more than [`WriterConfig::max_unacked_bytes`] in
    /// the writer, whatever its pace.
    pub async fn queue(&self, event: NewEvent) -> Result<AppendFuture, WriteError> {
        let bytes = event.approx_len();
        let (request, rx) = self.request(vec![event], None, None);
        let (told, handed_over) = oneshot::channel();
        self.budget.submit(request, bytes, Some(told))?;
        // Dropped unanswered only when the writer is gone: the append then says so.
        let _ = handed_over.await;
        Ok(AppendFuture {
            state: AppendState::Waiting(rx),
        })
    }

    /// Resolves once the writer has room: no append waits in line for its budget
    /// ([`WriterConfig::max_unacked_bytes`]). A producer that appends, then awaits this,
    /// holds at most one event beyond the budget.
    pub async fn until_room(&self) {
        self.budget.until_line_empty().await;
    }

    /// [`LogWriter::append`] that never waits for room: [`WriteError::Full`] when the
    /// writer's budget of unanswered bytes is spent (or others wait for it), with nothing
    /// queued.
    pub fn try_append(
        &self,
        event_type: &str,
        data_json: &str,
    ) -> Result<AppendFuture, WriteError> {
        let event = self.event(event_type, data_json)?;
        let bytes = event.approx_len();
        let (request, rx) = self.request(vec![event], None, None);
        self.budget.try_submit(request, bytes)?;
        Ok(AppendFuture {
            state: AppendState::Waiting(rx),
        })
    }

    /// Appends `events` in one segment only if the next seq is `expected_seq`, i.e. no other
    /// event was appended since the caller read the log (optimistic concurrency). Any foreign
    /// segment in the way gives [`WriteError::Conflict`].
    pub async fn append_expected(
        &self,
        events: Vec<NewEvent>,
        expected_seq: u64,
    ) -> Result<Vec<Appended>, WriteError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let rx = self.send(events, Some(expected_seq), None)?;
        Ok(rx.await.unwrap_or(Err(WriteError::Closed))?.events)
    }

    /// Commits a purge record (a control record: who deleted which segments and why) at the
    /// tail, after every append queued before it, and returns its slot. The caller deletes
    /// the named segments only after this succeeds, so the trail is in the log first.
    pub async fn append_purge(&self, record: PurgeRecord) -> Result<u64, WriteError> {
        let rx = self.send(Vec::new(), None, Some(record))?;
        Ok(rx.await.unwrap_or(Err(WriteError::Closed))?.slot)
    }

    fn request(
        &self,
        events: Vec<NewEvent>,
        expected_seq: Option<u64>,
        purge: Option<PurgeRecord>,
    ) -> (Request, oneshot::Receiver<Result<Ack, WriteError>>) {
        let (reply, rx) = oneshot::channel();
        let request = Request {
            events,
            expected_seq,
            purge,
            reply,
            queued_at: self.clock.monotonic(),
            reserved: None,
        };
        (request, rx)
    }

    /// Puts a request in line behind every earlier append (the budget hands it to the task
    /// when there is room); returns where its answer will come.
    fn send(
        &self,
        events: Vec<NewEvent>,
        expected_seq: Option<u64>,
        purge: Option<PurgeRecord>,
    ) -> Result<oneshot::Receiver<Result<Ack, WriteError>>, WriteError> {
        let bytes = Batch::bytes(&events);
        let (request, rx) = self.request(events, expected_seq, purge);
        self.budget.submit(request, bytes, None)?;
        Ok(rx)
    }

    pub fn stats(&self) -> WriterStats {
        WriterStats {
            store_requests: self.store.request_stats(),
            ..self.stats.snapshot()
        }
    }

    pub fn position(&self) -> WriterPosition {
        *self.position.lock()
    }

    /// Stops the writer at once, as a crash would: the request in flight is abandoned where
    /// it is (it may or may not land), queued appends are never sent, and every pending
    /// append fails with `Closed` (an unknown outcome).
    pub fn abort(&self) {
        if let Some(task) = &self.task {
            task.abort();
        }
        if let Some(c) = &self.checkpointer {
            c.task.abort();
        }
    }

    /// Waits for every queued append to settle, then stops the writer. A writer that keeps
    /// checkpoints stores a last one over everything acknowledged, and returns what its
    /// checkpointer did ([`crate::CheckpointStatus::unsigned`] says if that last one failed).
    pub async fn close(mut self) -> Option<crate::CheckpointStatus> {
        self.budget.close();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let c = self.checkpointer.take()?;
        let ended = c.task.await;
        let mut status = c.status.lock().clone();
        if let Err(e) = ended {
            // A bug, not a store failure: say so rather than report a clean close.
            status.error = Some(format!("the checkpointer failed: {e}"));
        }
        Some(status)
    }

    /// What the writer's checkpointer has done (`None` for a writer without checkpoints).
    pub fn checkpoints(&self) -> Option<crate::CheckpointStatus> {
        self.checkpointer.as_ref().map(|c| c.status.lock().clone())
    }
}

fn position_of(core: &Core) -> WriterPosition {
    WriterPosition {
        epoch: core.config().epoch,
        next_slot: core.next_slot,
        next_seq: core.next_seq,
    }
}

/// The writer task: takes queued requests, forms batches, commits them one by one.
async fn run(
    mut core: Core,
    mut rx: mpsc::UnboundedReceiver<Request>,
    position: Arc<Mutex<WriterPosition>>,
    mut leadership: Option<watch::Receiver<Option<FencingToken>>>,
) {
    if core.config().in_flight > 1 {
        return run_pipelined(core, rx, position, leadership).await;
    }
    let epoch = core.config().epoch;
    let mut held: Option<Request> = None;
    loop {
        let first = match held.take() {
            Some(r) => r,
            None => tokio::select! {
                r = rx.recv() => match r {
                    Some(r) => r,
                    None => return,
                },
                _ = leadership_ends(&mut leadership, epoch) => {
                    core.lose_leadership();
                    leadership = None;
                    continue;
                }
            },
        };
        if !still_leading(&leadership, epoch) {
            core.lose_leadership();
        }
        let batch = gather_batch(first, &mut rx, &mut held, core.config());
        commit_alone(&mut core, batch, &position).await;
    }
}

/// The writer task with a window of `k > 1` ([`crate::commit::pipeline`]): keeps up to `k`
/// batches in flight, settles them in slot order, and sends again, in order and ahead of
/// anything new, the batches a failed speculation left uncommitted. A conditional append or
/// a purge record waits for the window to drain and commits alone.
async fn run_pipelined(
    mut core: Core,
    mut rx: mpsc::UnboundedReceiver<Request>,
    position: Arc<Mutex<WriterPosition>>,
    mut leadership: Option<watch::Receiver<Option<FencingToken>>>,
) {
    let epoch = core.config().epoch;
    let mut window = core.window();
    let mut sends: FuturesUnordered<SlotSend> = FuturesUnordered::new();
    // The batches in flight, lowest slot first (the window's slots), and those to send again.
    let mut flying: VecDeque<Batch> = VecDeque::new();
    let mut again: VecDeque<Batch> = VecDeque::new();
    let mut held: Option<Request> = None;
    let mut open = true;
    loop {
        if !still_leading(&leadership, epoch) {
            core.lose_leadership();
        }
        // A stopped writer sends nothing: every batch fails at once, as it would at the door.
        while core.may_send(&window) || core.stopped.is_some() {
            let batch = match again.pop_front() {
                Some(batch) => batch,
                None => {
                    let Some(first) = held.take().or_else(|| rx.try_recv().ok()) else {
                        break;
                    };
                    if Batch::alone(&first) && !window.is_empty() && core.stopped.is_none() {
                        held = Some(first); // after the window drains
                        break;
                    }
                    gather_batch(first, &mut rx, &mut held, core.config())
                }
            };
            let alone = batch.expected_seq.is_some() || batch.purge.is_some();
            if alone || core.chasing || core.stopped.is_some() {
                commit_alone(&mut core, batch, &position).await;
                if window.is_empty() {
                    core.restart(&mut window);
                }
                continue;
            }
            sends.push(core.send_speculative(&mut window, &batch.events));
            flying.push_back(batch);
        }
        *position.lock() = position_of(&core);
        if window.is_empty() {
            if held.is_some() || !again.is_empty() {
                continue;
            }
            if !open {
                return;
            }
            tokio::select! {
                r = rx.recv() => match r {
                    Some(r) => held = Some(r),
                    None => open = false,
                },
                _ = leadership_ends(&mut leadership, epoch) => {
                    core.lose_leadership();
                    leadership = None;
                }
            }
            continue;
        }
        tokio::select! {
            Some(answer) = sends.next() => {
                if core.config().planted_bug == Some(crate::PlantedBug::AckBeforeLowerSettles) {
                    ack_at_once(&window, &answer, &mut flying, &core);
                }
                window.settled(answer);
            }
            r = rx.recv(), if held.is_none() && open => match r {
                Some(r) => held = Some(r),
                None => open = false,
            },
            _ = leadership_ends(&mut leadership, epoch) => {
                core.lose_leadership();
                leadership = None;
            }
        }
        while window.lowest_settled() {
            let batch = flying.pop_front().expect("one batch per slot in flight");
            let now = core.config().clock.monotonic();
            let settled = core.settle_lowest(&mut window, &batch.events).await;
            *position.lock() = position_of(&core); // before the answers, as with one slot
            let abandon = core.must_abandon(&settled);
            match settled {
                Settlement::Committed(c) => reply_all(batch, Ok(c), &core.stats.telemetry, now),
                Settlement::Resend => again.push_back(batch),
                Settlement::Failed(e) => reply_all(batch, Err(e), &core.stats.telemetry, now),
            }
            if let Some(cause) = abandon {
                // What is still in flight is given up where it is: no PUT is sent again (I5).
                sends.clear();
                let slots = window.slots_in_flight();
                for (slot, batch) in slots.into_iter().zip(flying.drain(..)) {
                    let e = core.abandoned(slot, &cause);
                    reply_all(batch, Err(e), &core.stats.telemetry, now);
                }
                window = core.window();
            }
        }
        if window.is_empty() {
            core.restart(&mut window);
        }
    }
}

/// Commits one batch with nothing else in flight (every batch with a window of 1; with a
/// larger one, a conditional append, a purge record, or the first batch of a chase) and
/// answers its appends.
/// The writer's position is updated before the appends are answered, so a caller that reads
/// it after its acknowledgement (to make a conditional append) sees where it stands.
async fn commit_alone(core: &mut Core, batch: Batch, position: &Mutex<WriterPosition>) {
    let payload = match &batch.purge {
        Some(record) => Payload::Purge(record),
        None => Payload::Events(&batch.events),
    };
    let result = core.commit(payload, batch.expected_seq).await;
    *position.lock() = position_of(core);
    let now = core.config().clock.monotonic();
    reply_all(batch, result, &core.stats.telemetry, now);
}

/// The planted bug `AckBeforeLowerSettles`: a batch whose PUT landed is acknowledged at
/// once, at the seqs it was speculated to get, whatever the slots below it settle as.
fn ack_at_once(window: &Window, answer: &Answer, flying: &mut VecDeque<Batch>, core: &Core) {
    let Some(committed) = window.landed_as_sent_now(answer) else {
        return;
    };
    let index = (committed.slot - window.lowest_slot()) as usize;
    if let Some(batch) = flying.get_mut(index) {
        let early = Batch {
            events: batch.events.clone(),
            replies: std::mem::take(&mut batch.replies),
            expected_seq: None,
            purge: None,
        };
        let now = core.config().clock.monotonic();
        reply_all(early, Ok(committed), &core.stats.telemetry, now);
    }
}

/// True unless a lease says this writer's epoch no longer leads.
fn still_leading(leadership: &Option<watch::Receiver<Option<FencingToken>>>, epoch: u64) -> bool {
    leadership
        .as_ref()
        .is_none_or(|l| l.borrow().as_ref().is_some_and(|t| t.epoch == epoch))
}

/// Resolves when the lease stops showing `epoch` (never, for a writer without a lease).
async fn leadership_ends(
    leadership: &mut Option<watch::Receiver<Option<FencingToken>>>,
    epoch: u64,
) {
    let Some(l) = leadership else {
        return std::future::pending().await;
    };
    loop {
        if l.borrow_and_update()
            .as_ref()
            .is_none_or(|t| t.epoch != epoch)
        {
            return;
        }
        if l.changed().await.is_err() {
            return; // the elector is gone: nobody renews the lease any more
        }
    }
}

/// One segment's worth of queued appends: their events, moved (not copied) into one vector,
/// and each request's reply with how many of the events are its own.
struct Batch {
    events: Vec<NewEvent>,
    replies: Vec<(Reply, usize, std::time::Duration, Option<Reserved>)>,
    expected_seq: Option<u64>,
    purge: Option<PurgeRecord>,
}

impl Batch {
    fn of(req: Request) -> Batch {
        let n = req.events.len();
        Batch {
            events: req.events,
            replies: vec![(req.reply, n, req.queued_at, req.reserved)],
            expected_seq: req.expected_seq,
            purge: req.purge,
        }
    }

    /// Conditional appends and purge records are committed alone.
    fn alone(req: &Request) -> bool {
        req.expected_seq.is_some() || req.purge.is_some()
    }

    fn bytes(events: &[NewEvent]) -> usize {
        events.iter().map(NewEvent::approx_len).sum()
    }
}

/// Group commit: a conditional request goes alone; plain ones take everything queued behind
/// them up to the batch limits. A request that does not fit is held for the next batch.
fn gather_batch(
    first: Request,
    rx: &mut mpsc::UnboundedReceiver<Request>,
    held: &mut Option<Request>,
    cfg: &WriterConfig,
) -> Batch {
    let mut bytes = Batch::bytes(&first.events);
    let alone = Batch::alone(&first) || cfg.one_per_segment;
    let mut batch = Batch::of(first);
    if alone {
        return batch;
    }
    while let Ok(next) = rx.try_recv() {
        let add_bytes = Batch::bytes(&next.events);
        if Batch::alone(&next)
            || batch.events.len() + next.events.len() > cfg.max_batch_events
            || bytes + add_bytes > cfg.max_batch_bytes
        {
            *held = Some(next);
            break;
        }
        bytes += add_bytes;
        batch
            .replies
            .push((next.reply, next.events.len(), next.queued_at, next.reserved));
        batch.events.extend(next.events);
    }
    batch
}

/// Acknowledges each request with its events' seqs, in order, or fails them all alike.
fn reply_all(
    batch: Batch,
    result: Result<Committed, WriteError>,
    telemetry: &crate::telemetry::Telemetry,
    now: std::time::Duration,
) {
    let mut events = batch.events.iter().enumerate();
    // Each request's reservation is given back as it is answered.
    for (reply, n, queued_at, _reserved) in batch.replies {
        if result.is_ok() {
            telemetry.append_latency(now.saturating_sub(queued_at).as_secs_f64());
        }
        let answer = match &result {
            Ok(c) => Ok(Ack {
                slot: c.slot,
                events: events
                    .by_ref()
                    .take(n)
                    .map(|(i, e)| Appended {
                        seq: c.first_seq + i as u64,
                        id: e.id(),
                        slot: c.slot,
                    })
                    .collect(),
            }),
            Err(e) => Err(e.clone()),
        };
        let _ = reply.send(answer);
    }
}

/// The bucket's default retention as an explicit lock policy, for a writer that puts legal
/// holds without a retention of its own. S3 applies the default to such puts by itself, but
/// moto 5.2.5 gives an object put with a legal hold header no retention at all; sending the
/// default explicitly keeps the bucket's promise on every server.
async fn explicit_default_retention(
    store: &dyn ObjectStore,
) -> Result<Option<crate::LockPolicy>, WriteError> {
    let default = store.default_retention().await.map_err(WriteError::Store)?;
    Ok(default.map(|d| crate::LockPolicy {
        mode: d.mode,
        retain_for: std::time::Duration::from_secs(u64::from(d.days) * 86_400),
    }))
}
