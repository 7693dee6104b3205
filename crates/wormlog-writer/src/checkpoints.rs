//! Signed checkpoints as the writer goes ([`crate::CheckpointPolicy`]; docs/protocol.md,
//! "Checkpoints and proofs").
//!
//! ```text
//!  open     resume the tree from the latest checkpoint, which must verify under the
//!           writer's key (else the open fails, nothing written); then, in the background,
//!           catch up: read the log on from that checkpoint to its end
//!  commit   each batch of ours, once acknowledged, goes to the checkpointer with its
//!           segment's bytes; it hashes the event lines (no decoding) and adds them to the
//!           tree when they start at the seq the tree stands at, otherwise reads the log
//!           up to them first (another writer's events lie between: Tree::push)
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

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tracing::{debug, error, warn};
use uuid::Uuid;
use wormlog_format::StreamKeys;
use wormlog_reader::tlog::{KnownSegment, Pushed, TlogError, Tree};
use wormlog_reader::{LogReader, ReadError};
use wormlog_store::{Clock, LockRequest, ObjectStore, PutOptions, Retention};

use crate::{CheckpointPolicy, LockPolicy, WriteError};

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
    /// After the writer closed: events in the log that no checkpoint covers, because the
    /// last one could not be stored (0 when it was, or the checkpointer still runs).
    pub unsigned: u64,
}

/// A batch of ours the writer acknowledged: the valid segment at `slot` (I3).
pub(crate) struct Acknowledged {
    pub slot: u64,
    pub first_seq: u64,
    pub epoch: u64,
    pub write_id: Uuid,
    /// Its events.
    pub count: usize,
    /// The segment as it was stored.
    pub body: Bytes,
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
    policy: CheckpointPolicy,
    lock: Option<LockPolicy>,
    legal_hold: bool,
    clock: Arc<dyn Clock>,
    status: Arc<Mutex<CheckpointStatus>>,
    stream: String,
}

/// A failure of the checkpointer as the open reports it.
fn open_error(stream: &str, e: TlogError) -> WriteError {
    let tampered = matches!(e, TlogError::Tampered(_));
    WriteError::Checkpoints {
        stream: stream.to_owned(),
        detail: e.to_string(),
        tampered,
    }
}

/// Resumes the tree from the latest checkpoint (checked with the policy's key) before the
/// writer writes anything; the caller starts the checkpointer with it once open.
pub(crate) async fn resume(
    store: &Arc<dyn ObjectStore>,
    root_prefix: &str,
    stream: &str,
    policy: &CheckpointPolicy,
) -> Result<(Tree, LogReader), WriteError> {
    let reader = LogReader::new(Arc::clone(store), root_prefix, stream)
        .map_err(|e| open_error(stream, e.into()))?
        .with_leaf_hashes();
    let keys: StreamKeys = reader.keys().clone();
    let tree = Tree::resume(&**store, keys, &policy.signer.verifier())
        .await
        .map_err(|e| open_error(stream, e))?;
    Ok((tree, reader))
}

/// Starts the checkpointer on `tree`; it ends, after a last checkpoint, once every [`Feed`]
/// is dropped (the writer closed).
#[allow(clippy::too_many_arguments)]
pub(crate) fn start(
    store: Arc<dyn ObjectStore>,
    reader: LogReader,
    tree: Tree,
    policy: CheckpointPolicy,
    lock: Option<LockPolicy>,
    legal_hold: bool,
    clock: Arc<dyn Clock>,
    stream: String,
) -> (Feed, Checkpointer) {
    let status = Arc::new(Mutex::new(CheckpointStatus {
        latest: (tree.checkpointed() > 0).then_some(tree.checkpointed()),
        ..CheckpointStatus::default()
    }));
    let (tx, rx) = mpsc::unbounded_channel();
    let job = Job {
        store,
        reader,
        policy,
        lock,
        legal_hold,
        clock,
        status: Arc::clone(&status),
        stream,
    };
    let task = tokio::spawn(run(job, tree, rx));
    (tx, Checkpointer { status, task })
}

/// Whether an error is the store's, worth trying again later.
fn transient(e: &TlogError) -> bool {
    matches!(
        e,
        TlogError::Store(_) | TlogError::Read(ReadError::Store(_) | ReadError::Pending { .. })
    )
}

async fn run(job: Job, tree: Tree, mut rx: mpsc::UnboundedReceiver<Acknowledged>) {
    let mut state = State {
        tree,
        since: 0,
        last: tokio::time::Instant::now(),
        behind: true,
        stopped: false,
    };
    // The first catch-up runs beside the feed: what comes meanwhile is hashed and kept
    // (32 bytes an event), never the segments' bytes.
    let mut queued = Vec::new();
    let mut open = true;
    {
        let catch_up = state.catch_up(&job);
        tokio::pin!(catch_up);
        loop {
            tokio::select! {
                _ = &mut catch_up => break,
                got = rx.recv(), if open => match got {
                    Some(ack) => queued.push(known(ack)),
                    None => open = false,
                },
            }
        }
    }
    for segment in queued {
        state.take(&job, segment).await;
    }
    while open {
        let due = state.last + job.policy.every;
        let waiting = state.tree.size() > state.tree.checkpointed() && !state.stopped;
        tokio::select! {
            got = rx.recv() => match got {
                Some(ack) => state.take(&job, known(ack)).await,
                None => open = false,
            },
            _ = tokio::time::sleep_until(due), if waiting => state.sign(&job).await,
        }
    }
    // Closing: a last checkpoint over everything acknowledged.
    if state.behind && !state.stopped {
        state.catch_up(&job).await;
    }
    state.sign(&job).await;
    job.status.lock().unsigned = state.tree.size() - state.tree.checkpointed();
}

/// The segment with its leaves; `None` if its bytes do not hold its events (then the tree
/// reads it from the log, as another writer's).
fn known(ack: Acknowledged) -> Option<KnownSegment> {
    let leaves = wormlog_format::encoded_leaf_hashes(&ack.body);
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
    tree: Tree,
    /// Segments of ours added since the last checkpoint, and when it was.
    since: u64,
    last: tokio::time::Instant,
    /// The tree may lack events below the next segment (the first catch-up, or a failed one).
    behind: bool,
    /// Stopped for good.
    stopped: bool,
}

impl State {
    /// Adds an acknowledged segment of ours, then signs a checkpoint if it is the
    /// `every_segments`th since the last, or stores the tiles that filled.
    async fn take(&mut self, job: &Job, segment: Option<KnownSegment>) {
        if self.stopped {
            return;
        }
        self.since += 1;
        self.add(job, segment).await;
        if self.since >= job.policy.every_segments {
            self.sign(job).await;
        } else if self.tree.tiles_waiting() {
            self.store_tiles(job).await;
        }
    }

    /// Adds a segment of ours, reading the log up to it first if the tree is behind it
    /// (or, for `None`, reading it too).
    async fn add(&mut self, job: &Job, segment: Option<KnownSegment>) {
        let Some(segment) = segment else {
            self.catch_up(job).await;
            return;
        };
        match self.tree.push(&segment) {
            Pushed::Added | Pushed::Covered => {}
            Pushed::Behind => {
                debug!(
                    stream = job.stream,
                    slot = segment.slot,
                    "another writer's events below ours: reading them for the tree"
                );
                if self.catch_up(job).await && self.tree.push(&segment) == Pushed::Behind {
                    // The log, read just now, does not hold our acknowledged segment where
                    // the writer put it: the writer and the readers disagree.
                    self.stop(
                        job,
                        "the log does not hold an acknowledged segment where its writer put it; audit it with `wormlog verify --key`".into(),
                    );
                }
            }
        }
    }

    /// Reads the log on to its end into the tree. False if it failed.
    async fn catch_up(&mut self, job: &Job) -> bool {
        let opts = job.put_options();
        match self.tree.catch_up(&*job.store, &job.reader, &opts).await {
            Ok(()) => {
                self.behind = false;
                true
            }
            Err(e) => {
                self.failed(job, e);
                self.behind = true;
                false
            }
        }
    }

    async fn store_tiles(&mut self, job: &Job) {
        if let Err(e) = self.tree.store_tiles(&*job.store, &job.put_options()).await {
            self.failed(job, e);
        }
    }

    /// Signs and stores a checkpoint of the tree, if it grew since the last one.
    async fn sign(&mut self, job: &Job) {
        self.last = tokio::time::Instant::now();
        if self.stopped {
            return;
        }
        let signer = &job.policy.signer;
        match self
            .tree
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
            Err(e) => self.failed(job, e),
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
            self.stop(job, e.to_string());
        }
    }

    fn stop(&mut self, job: &Job, why: String) {
        error!(stream = job.stream, error = %why, "the writer's checkpointer stopped; appends go on without checkpoints");
        metrics::counter!("wormlog_checkpoint_failures_total", "stream" => job.stream.clone())
            .increment(1);
        let mut status = job.status.lock();
        status.failures += 1;
        status.error = Some(why);
        self.stopped = true;
    }
}

impl Job {
    /// The lock of every tile and checkpoint: the writer's, from now.
    fn put_options(&self) -> PutOptions {
        PutOptions {
            lock: LockRequest {
                retention: self.lock.map(|policy| Retention {
                    mode: policy.mode,
                    retain_until: self.clock.now().plus(policy.retain_for),
                }),
                legal_hold: self.legal_hold,
            },
            ..PutOptions::default()
        }
    }
}
