//! Signed checkpoints as the writer goes ([`crate::CheckpointPolicy`]; docs/protocol.md,
//! "Checkpoints and proofs").
//!
//! ```text
//!  start    (in the background: the writer's open waits for none of it) resume the tree
//!           from the newest checkpoint of the writer's own key (newer ones of other keys
//!           are passed over, warned of, and left to the audit), then catch up: read the
//!           log on from that checkpoint to its end; a failed read is tried again at the
//!           next batch or checkpoint
//!  commit   each batch of ours, once acknowledged, goes to the checkpointer as the leaf
//!           hashes of its stored event lines (hashed by the writer, no decoding); they are
//!           added to the tree when they start at the seq the tree stands at, otherwise the
//!           log is read up to them first (another writer's events lie between: Tree::push)
//!  sign     after `every_segments` of ours, or `every` after the last checkpoint with
//!           events since, and once more at close: tiles, then P/checkpoints/<size>
//! ```
//!
//! The checkpointer never takes part in the protocol: it writes only tiles and checkpoints,
//! never a slot, and appends do not wait for it. Its leaves are the reader's (the bytes of
//! acknowledged segments, valid by I3; anything else through the reader's rules), so a
//! checkpoint it signs is one `wormlog verify --key` recomputes. A store failure is retried
//! at the next checkpoint; a contradiction (a checkpoint or tile that does not match) stops
//! it for good, logged and in [`CheckpointStatus::error`].

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::mpsc;
use tracing::{debug, error, warn};
use uuid::Uuid;
use wormlog_format::StreamKeys;
use wormlog_reader::tlog::{KnownSegment, Pushed, TlogError, Tree};
use wormlog_reader::LogReader;
use wormlog_store::{Clock, ErrorClass, ObjectStore, PutOptions};

use crate::{CheckpointPolicy, LockPolicy};

/// What the writer's checkpointer has done so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CheckpointStatus {
    /// Checkpoints this writer stored.
    pub written: u64,
    /// The tree size of the latest checkpoint stored or resumed from.
    pub latest: Option<u64>,
    /// Attempts that failed on the store (each retried at the next checkpoint).
    pub failures: u64,
    /// Why it stopped for good, if it did (it writes nothing more then).
    pub error: Option<String>,
    /// It stopped because the stored checkpoints or tiles contradict the key or the log
    /// (tampering, a forged checkpoint, another key's), not for another reason (such as a
    /// purge record of an older wormlog without leaf hashes).
    pub tampered: bool,
    /// After the writer closed: of the events it appended, how many no checkpoint covers,
    /// because the last one could not be stored (0 when it was, or while it runs).
    pub unsigned: u64,
    /// What resuming the tree noted: the earlier key's checkpoint it went on from
    /// ([`crate::CheckpointPolicy::previous`]), checkpoints gone by their read.
    pub passed_over: Vec<String>,
}

/// A batch of ours the writer acknowledged: the valid segment at `slot` (I3).
pub(crate) struct Acknowledged {
    pub slot: u64,
    pub first_seq: u64,
    pub epoch: u64,
    pub write_id: Uuid,
    /// Its events.
    pub count: usize,
    /// The leaf hashes of its event lines as stored ([`wormlog_format::encoded_leaf_hashes`]),
    /// hashed by the writer as it acknowledges the batch: what waits for the checkpointer is
    /// 32 bytes an event, never the segment.
    pub leaves: Vec<wormlog_tlog::Hash>,
}

/// The writer's side: where acknowledged batches go.
pub(crate) type Feed = mpsc::UnboundedSender<Acknowledged>;

/// The running checkpointer of one writer.
pub(crate) struct Checkpointer {
    pub status: Arc<Mutex<CheckpointStatus>>,
    pub task: tokio::task::JoinHandle<()>,
}

/// What the checkpointer needs besides its tree.
struct Job {
    store: Arc<dyn ObjectStore>,
    reader: LogReader,
    keys: StreamKeys,
    policy: CheckpointPolicy,
    lock: Option<LockPolicy>,
    legal_hold: bool,
    clock: Arc<dyn Clock>,
    status: Arc<Mutex<CheckpointStatus>>,
    stream: String,
}

/// Starts the checkpointer of a writer of `stream`; it resumes the tree in the background
/// (the writer's open waits for nothing of it) and ends, after a last checkpoint, once every
/// [`Feed`] is dropped (the writer closed).
#[allow(clippy::too_many_arguments)]
pub(crate) fn start(
    store: Arc<dyn ObjectStore>,
    keys: &StreamKeys,
    policy: CheckpointPolicy,
    lock: Option<LockPolicy>,
    legal_hold: bool,
    clock: Arc<dyn Clock>,
) -> (Feed, Checkpointer) {
    let status = Arc::new(Mutex::new(CheckpointStatus::default()));
    let (tx, rx) = mpsc::unbounded_channel();
    let reader = LogReader::from_keys(Arc::clone(&store), keys.clone()).with_leaf_hashes();
    let job = Job {
        store,
        reader,
        keys: keys.clone(),
        policy,
        lock,
        legal_hold,
        clock,
        status: Arc::clone(&status),
        stream: keys.stream().to_owned(),
    };
    let task = tokio::spawn(run(job, rx));
    (tx, Checkpointer { status, task })
}

/// What a writer's checkpointer would find first, checked before the writer writes anything:
/// the stream's newest checkpoint is `policy`'s key's own, or one of a key it replaced
/// ([`CheckpointPolicy::previous`]). The checkpointer finds the same in the background, but
/// only after the writer's first appends; a command or a binding that checks first stores
/// nothing under a wrong key. [`TlogError::Tampered`] when another key's (or a forged or
/// copied) checkpoint is the newest.
pub async fn check_before_writing(
    store: &dyn ObjectStore,
    keys: StreamKeys,
    policy: &CheckpointPolicy,
) -> Result<(), TlogError> {
    let verifier = policy.signer.verifier();
    Tree::resume(store, keys, &verifier, &policy.previous)
        .await
        .map(drop)
}

/// The wait after a failed read of the log, doubling to [`RETRY_MAX`].
const RETRY_FIRST: std::time::Duration = std::time::Duration::from_secs(1);
const RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether an error is the store's, worth trying again later (a writer still filling
/// slots included).
fn transient(e: &TlogError) -> bool {
    e.class() == ErrorClass::Store
}

async fn run(job: Job, mut rx: mpsc::UnboundedReceiver<Acknowledged>) {
    let mut state = State {
        tree: None,
        acked_from: None,
        acked_end: 0,
        since: 0,
        last: tokio::time::Instant::now(),
        behind: true,
        retry_at: tokio::time::Instant::now(),
        backoff: RETRY_FIRST,
        stopped: false,
    };
    // The first catch-up runs beside the feed: what comes meanwhile waits (32 bytes an
    // event: the writer sends leaf hashes, never the segments' bytes).
    let mut queued = Vec::new();
    let mut open = true;
    {
        let catch_up = state.catch_up(&job);
        tokio::pin!(catch_up);
        loop {
            tokio::select! {
                _ = &mut catch_up => break,
                got = rx.recv(), if open => match got {
                    Some(ack) => queued.push(ack),
                    None => open = false,
                },
            }
        }
    }
    for ack in queued {
        state.take(&job, ack).await;
    }
    while open {
        // An interval too long to add (a huge --checkpoint-secs) means never by the clock.
        let due = state
            .last
            .checked_add(job.policy.every)
            .unwrap_or_else(|| state.last + std::time::Duration::from_secs(100 * 365 * 86_400));
        let grew = state
            .tree
            .as_ref()
            .is_some_and(|t| t.size() > t.checkpointed());
        let waiting = (grew || state.behind) && !state.stopped;
        tokio::select! {
            got = rx.recv() => match got {
                Some(ack) => state.take(&job, ack).await,
                None => open = false,
            },
            _ = tokio::time::sleep_until(due), if waiting => state.sign(&job).await,
        }
    }
    // Closing: a last checkpoint over everything acknowledged, the read tried once more
    // whatever the backoff says.
    state.retry_at = tokio::time::Instant::now();
    if state.behind && !state.stopped {
        state.catch_up(&job).await;
    }
    state.sign(&job).await;
    let covered = state.tree.as_ref().map_or(0, Tree::checkpointed);
    let from = covered.max(state.acked_from.unwrap_or(state.acked_end));
    job.status.lock().unsigned = state.acked_end.saturating_sub(from);
}

/// The segment with its leaves; `None` if its bytes do not hold its events (then the tree
/// reads it from the log, as another writer's).
fn known(ack: Acknowledged) -> Option<KnownSegment> {
    let leaves = ack.leaves;
    (leaves.len() == ack.count).then_some(KnownSegment {
        slot: ack.slot,
        first_seq: ack.first_seq,
        epoch: ack.epoch,
        write_id: ack.write_id,
        leaves,
    })
}

/// The checkpointer's tree and where it is with it.
struct State {
    /// `None` until it is resumed from the latest checkpoint of the key (in the first
    /// catch-up, tried again at each later one while the store fails).
    tree: Option<Tree>,
    /// The seqs of our acknowledged events so far (contiguous from the first: nobody else
    /// writes while we lead): what the last checkpoint must cover.
    acked_from: Option<u64>,
    acked_end: u64,
    /// Segments of ours added since the last checkpoint, and when it was.
    since: u64,
    last: tokio::time::Instant,
    /// The tree may lack events below the next segment (the first catch-up, or a failed one).
    behind: bool,
    /// No read before this after a failed one, and the wait after the next failure.
    retry_at: tokio::time::Instant,
    backoff: std::time::Duration,
    /// Stopped for good.
    stopped: bool,
}

impl State {
    /// Adds an acknowledged segment of ours, then signs a checkpoint if it is the
    /// `every_segments`th since the last, or stores the tiles that filled.
    async fn take(&mut self, job: &Job, ack: Acknowledged) {
        self.acked_from.get_or_insert(ack.first_seq);
        self.acked_end = self.acked_end.max(ack.first_seq + ack.count as u64);
        if self.stopped {
            return;
        }
        self.since += 1;
        self.add(job, known(ack)).await;
        if self.since >= job.policy.every_segments {
            self.sign(job).await;
        } else if self.tree.as_ref().is_some_and(Tree::tiles_waiting) {
            self.store_tiles(job).await;
        }
    }

    /// Adds a segment of ours, reading the log up to it first if the tree is behind it
    /// (or, for `None`, reading it too).
    async fn add(&mut self, job: &Job, segment: Option<KnownSegment>) {
        let (Some(segment), Some(tree)) = (segment, self.tree.as_mut()) else {
            self.catch_up(job).await; // it reads the segment, or it will be read later
            return;
        };
        match tree.push(&segment) {
            Pushed::Added | Pushed::Covered => {}
            Pushed::Contradiction => self.stop(
                job,
                format!("the tree is past slot {} but does not hold its events: the checkpoint it went on from does not match the log; audit it with `wormlog verify --key`", segment.slot),
                true,
            ),
            Pushed::Behind => {
                debug!(
                    stream = job.stream,
                    slot = segment.slot,
                    "another writer's events below ours: reading them for the tree"
                );
                let read = self.catch_up(job).await;
                let tree = self.tree.as_mut().expect("a tree to push to");
                if read && tree.push(&segment) == Pushed::Behind {
                    // The log, read just now, does not hold our acknowledged segment where
                    // the writer put it: the writer and the readers disagree.
                    self.stop(
                        job,
                        "the log does not hold an acknowledged segment where its writer put it; audit it with `wormlog verify --key`".into(),
                        true,
                    );
                }
            }
        }
    }

    /// Reads the log on to its end into the tree, resuming the tree first if it is not yet.
    /// False if it failed, or if the last failure is too recent to try again (at most one
    /// read per backoff, 1 s doubling to 60 s, however many batches come meanwhile: they
    /// are in the log, and the next read takes them).
    async fn catch_up(&mut self, job: &Job) -> bool {
        if tokio::time::Instant::now() < self.retry_at {
            return false;
        }
        match self.read_on(job).await {
            Ok(()) => {
                self.behind = false;
                self.backoff = RETRY_FIRST;
                true
            }
            Err(e) => {
                self.failed(job, e);
                self.behind = true;
                self.retry_at = tokio::time::Instant::now() + self.backoff;
                self.backoff = (self.backoff * 2).min(RETRY_MAX);
                false
            }
        }
    }

    async fn read_on(&mut self, job: &Job) -> Result<(), TlogError> {
        if self.tree.is_none() {
            let verifier = job.policy.signer.verifier();
            let previous = &job.policy.previous;
            let tree = Tree::resume(&*job.store, job.keys.clone(), &verifier, previous).await?;
            for why in tree.passed_over() {
                warn!(stream = job.stream, checkpoint = %why, "resuming the tree");
            }
            let mut status = job.status.lock();
            status.latest = (tree.checkpointed() > 0).then_some(tree.checkpointed());
            status.passed_over = tree.passed_over().to_vec();
            drop(status);
            self.tree = Some(tree);
        }
        let tree = self.tree.as_mut().expect("resumed above");
        tree.catch_up(&*job.store, &job.reader, &job.put_options())
            .await
    }

    async fn store_tiles(&mut self, job: &Job) {
        let Some(tree) = self.tree.as_mut() else {
            return;
        };
        if let Err(e) = tree.store_tiles(&*job.store, &job.put_options()).await {
            self.failed(job, e);
        }
    }

    /// Signs and stores a checkpoint of the tree, if it grew since the last one.
    async fn sign(&mut self, job: &Job) {
        self.last = tokio::time::Instant::now();
        if self.stopped {
            return;
        }
        if self.behind {
            self.catch_up(job).await; // a failed read, tried again on the timer
        }
        let Some(tree) = self.tree.as_mut() else {
            return;
        };
        let signer = &job.policy.signer;
        match tree
            .checkpoint(&*job.store, signer, &job.put_options())
            .await
        {
            Ok(Some((cp, _))) => {
                debug!(stream = job.stream, size = cp.size, "checkpoint stored");
                metrics::counter!("wormlog_checkpoints_total", "stream" => job.stream.clone())
                    .increment(1);
                let mut status = job.status.lock();
                status.written += 1;
                status.latest = Some(cp.size);
                self.since = 0;
            }
            Ok(None) => self.since = 0,
            Err(e) => {
                self.since = 0; // tried again after as many segments, or on the timer
                self.failed(job, e);
            }
        }
    }

    /// Counts a failure: one to retry later, or one that stops the checkpointer.
    fn failed(&mut self, job: &Job, e: TlogError) {
        if transient(&e) {
            warn!(stream = job.stream, error = %e, "a checkpoint could not be stored; trying again at the next one");
            metrics::counter!("wormlog_checkpoint_failures_total", "stream" => job.stream.clone())
                .increment(1);
            job.status.lock().failures += 1;
        } else {
            // A contradiction, or a log the reader finds broken (as `verify` would).
            let tampered = e.class() == ErrorClass::Integrity;
            self.stop(job, e.to_string(), tampered);
        }
    }

    fn stop(&mut self, job: &Job, why: String, tampered: bool) {
        error!(stream = job.stream, error = %why, "the writer's checkpointer stopped; appends go on without checkpoints");
        metrics::counter!("wormlog_checkpoint_failures_total", "stream" => job.stream.clone())
            .increment(1);
        let mut status = job.status.lock();
        status.failures += 1;
        status.error = Some(why);
        status.tampered = tampered;
        self.stopped = true;
    }
}

impl Job {
    /// The lock of every tile and checkpoint: the writer's, from now.
    fn put_options(&self) -> PutOptions {
        PutOptions {
            lock: LockPolicy::request(self.lock, self.legal_hold, self.clock.now()),
            ..PutOptions::default()
        }
    }
}
