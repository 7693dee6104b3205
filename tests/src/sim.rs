//! Deterministic simulation: several leaders, one log, random faults; then a checker.
//!
//! One seed drives everything. The run happens on a current-thread tokio runtime with paused
//! time, over a [`MemoryStore`] behind a [`FaultStore`] whose chaos (latency, 500/503/409,
//! timeouts, lost responses) comes from the seed, so a seed replays exactly.
//!
//! ```text
//!  node 0..n  (each: several terms)
//!    wait ─► elect (LeaderElector on the lease) ─► open a writer at the lease's epoch
//!      ─► append ops {"op":k}, a few in flight ─┬─ end the term: close, release
//!                                              ├─ pause: stop renewing, sleep past the
//!                                              │  lease, keep appending (a stale leader)
//!                                              └─ crash: drop in-flight appends (unknown)
//!  a follower tails the log the whole time
//!  end: calm the store, replay twice (prefetch 1 and 8) ─► check(history, replays)
//! ```
//!
//! The [`History`] has every append's invocation and completion (simulated time): acknowledged
//! (with its seq), definitely failed, or unknown. [`check`] flags what protocol.md's invariants forbid.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use wormlog_fencing::{ElectorConfig, LeaderElector, LeaseConfig};
use wormlog_reader::{FollowPolicy, LogReader, ReadError, ScanItem};
use wormlog_store::{
    ChaosRule, Clock, FaultStore, MemoryStore, ObjectStore, Op, SeededRng, TokioClock,
};
use wormlog_writer::{LogWriter, PlantedBug, RetryPolicy, WriteError, WriterConfig};

const STREAM: &str = "sim";

/// What one simulation runs.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub seed: u64,
    pub nodes: usize,
    pub terms_per_node: usize,
    pub appends_per_term: usize,
    pub planted_bug: Option<PlantedBug>,
}

impl SimConfig {
    pub fn new(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            nodes: 3,
            terms_per_node: 3,
            appends_per_term: 12,
            planted_bug: None,
        }
    }
}

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

/// Everything the run did, in completion order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    pub entries: Vec<Entry>,
    /// Writers that were told they are fenced, with the journal length at that moment.
    pub fenced_at: Vec<(String, usize)>,
}

/// A delivered event: its seq, op, and the epoch and writer of its segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub seq: u64,
    pub op: u64,
    pub epoch: u64,
    pub writer: String,
}

/// The result of one run.
pub struct SimRun {
    pub history: History,
    pub replays: Vec<Result<Vec<Seen>, ReadError>>,
    pub followed: Vec<Seen>,
    /// Log PUTs as the store saw them: (writer, reached the store).
    pub log_puts: Vec<(usize, String)>,
}

/// Runs one seed on its own paused-time runtime.
pub fn run(cfg: &SimConfig) -> SimRun {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime")
        .block_on(simulate(cfg.clone()))
}

async fn simulate(cfg: SimConfig) -> SimRun {
    let chaos = |op, rate, lost| ChaosRule {
        op,
        key_contains: String::new(),
        fail_before: rate,
        lose_response: lost,
        max_latency: Duration::from_millis(15),
    };
    let faults = Arc::new(FaultStore::new(Arc::new(MemoryStore::new())));
    let store: Arc<dyn ObjectStore> = Arc::clone(&faults) as Arc<dyn ObjectStore>;
    let history = Arc::new(Mutex::new(History::default()));
    let next_op = Arc::new(Mutex::new(0u64));

    let reader = LogReader::new(Arc::clone(&store), "", STREAM).expect("a valid stream");
    let (mut follow, stop) = reader
        .follow(0, FollowPolicy::default())
        .await
        .expect("following an empty log starts");
    let follower = tokio::spawn(async move {
        let mut seen = Vec::new();
        loop {
            match follow.next().await {
                Ok(Some(ScanItem::Event(e))) => seen.push(seen_of(&e)),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return seen,
            }
        }
    });

    faults.set_chaos(
        cfg.seed,
        vec![
            chaos(Op::PutIfAbsent, 0.08, 0.06),
            chaos(Op::PutIfMatch, 0.05, 0.03),
            chaos(Op::Get, 0.05, 0.0),
            chaos(Op::Head, 0.05, 0.0),
            chaos(Op::List, 0.05, 0.0),
        ],
    );
    let started = tokio::time::Instant::now();
    let mut nodes = Vec::new();
    for n in 0..cfg.nodes {
        let node = Node {
            started,
            name: format!("node-{n}"),
            store: Arc::clone(&store),
            faults: Arc::clone(&faults),
            history: Arc::clone(&history),
            next_op: Arc::clone(&next_op),
            rng: SeededRng::new(cfg.seed.wrapping_mul(31).wrapping_add(n as u64 + 1)),
            cfg: cfg.clone(),
        };
        nodes.push(tokio::spawn(node.run()));
    }
    for n in nodes {
        n.await.expect("a node does not panic");
    }
    // Let crashed writers' last requests settle, then read undisturbed.
    tokio::time::sleep(Duration::from_secs(5)).await;
    faults.calm();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.stop();
    let followed = follower.await.expect("the follower does not panic");
    let mut replays = Vec::new();
    for prefetch in [1, 8] {
        replays.push(replay(&store, prefetch).await);
    }
    let log_puts = faults
        .journal()
        .iter()
        .enumerate()
        .filter(|(_, r)| r.op == Op::PutIfAbsent && r.key.contains("/log/") && r.reached_store)
        .map(|(i, r)| {
            (
                i,
                r.metadata
                    .get("wormlog-writer")
                    .cloned()
                    .unwrap_or_default(),
            )
        })
        .collect();
    let history = history.lock().clone();
    SimRun {
        history,
        replays,
        followed,
        log_puts,
    }
}

fn seen_of(e: &wormlog_format::Event) -> Seen {
    let op = op_of(e.data.get());
    Seen {
        seq: e.seq,
        op,
        epoch: e.meta.fencing_token.epoch,
        writer: e.meta.fencing_token.writer.clone(),
    }
}

/// The op number of `{"op":k}`.
fn op_of(data: &str) -> u64 {
    data.trim_start_matches("{\"op\":")
        .trim_end_matches('}')
        .parse()
        .unwrap_or(u64::MAX)
}

async fn replay(store: &Arc<dyn ObjectStore>, prefetch: usize) -> Result<Vec<Seen>, ReadError> {
    let reader = LogReader::new(Arc::clone(store), "", STREAM)?.with_prefetch(prefetch);
    let mut scan = reader.scan(0).await?;
    let mut out = Vec::new();
    while let Some(item) = scan.next().await? {
        if let ScanItem::Event(e) = item {
            out.push(seen_of(&e));
        }
    }
    Ok(out)
}

struct Node {
    started: tokio::time::Instant,
    name: String,
    store: Arc<dyn ObjectStore>,
    faults: Arc<FaultStore>,
    history: Arc<Mutex<History>>,
    next_op: Arc<Mutex<u64>>,
    rng: SeededRng,
    cfg: SimConfig,
}

/// How a term ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    Clean,
    Pause,
    Crash,
}

impl Node {
    async fn run(mut self) {
        for term in 0..self.cfg.terms_per_node {
            tokio::time::sleep(Duration::from_millis(self.rng.below(3_000))).await;
            let holder = format!("{}-t{term}", self.name);
            let clock: Arc<dyn Clock> = Arc::new(TokioClock::new());
            let lease = LeaseConfig {
                root_prefix: String::new(),
                stream: STREAM.into(),
                holder: holder.clone(),
                duration: Duration::from_secs(2),
                drift_margin: LeaseConfig::default_drift_margin(Duration::from_secs(2)),
                clock: Arc::clone(&clock),
            };
            let Ok(elector) =
                LeaderElector::start(Arc::clone(&self.store), ElectorConfig { lease })
            else {
                continue;
            };
            let token =
                match tokio::time::timeout(Duration::from_secs(30), elector.leadership()).await {
                    Ok(t) => t,
                    Err(_) => {
                        elector.stop().await;
                        continue;
                    }
                };
            let mut wc = WriterConfig::new(STREAM, token.epoch, holder.clone());
            wc.clock = clock;
            wc.seed = Some(self.rng.next_u64());
            wc.planted_bug = self.cfg.planted_bug;
            wc.retry = RetryPolicy {
                max_attempts: 6,
                ..RetryPolicy::default()
            };
            let ending = match self.rng.below(10) {
                0..=5 => Ending::Clean,
                6..=7 => Ending::Pause,
                _ => Ending::Crash,
            };
            match LogWriter::open(Arc::clone(&self.store), wc).await {
                Ok(writer) => {
                    self.term(&writer, &elector, &holder, token.epoch, ending)
                        .await;
                    if ending != Ending::Crash {
                        writer.close().await;
                    }
                }
                Err(e) => self.note_fenced(&holder, &e),
            }
            match ending {
                Ending::Clean => elector.stop().await,
                Ending::Pause | Ending::Crash => elector.abandon(),
            }
        }
    }

    /// Appends the term's ops, a few in flight at a time; a pause lets the lease lapse
    /// half-way while this writer carries on; a crash abandons the last appends unawaited.
    async fn term(
        &mut self,
        writer: &LogWriter,
        elector: &LeaderElector,
        holder: &str,
        epoch: u64,
        ending: Ending,
    ) {
        let total = self.cfg.appends_per_term;
        let mut done = 0;
        while done < total {
            if ending == Ending::Pause && done >= total / 2 && done < total / 2 + 1 {
                elector.abandon();
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            let burst = (1 + self.rng.below(4) as usize).min(total - done);
            let mut pending = Vec::new();
            for _ in 0..burst {
                let op = {
                    let mut n = self.next_op.lock();
                    *n += 1;
                    *n
                };
                let invoked = self.now_ms();
                pending.push((
                    op,
                    invoked,
                    writer.append("sim", &format!("{{\"op\":{op}}}")),
                ));
            }
            done += burst;
            if ending == Ending::Crash && done >= total {
                for (op, invoked, _) in pending {
                    self.record(holder, epoch, op, (invoked, None), Outcome::Unknown);
                }
                return;
            }
            for (op, invoked, f) in pending {
                let outcome = match f.await {
                    Ok(a) => Outcome::Acked { seq: a.seq },
                    Err(e) => {
                        self.note_fenced(holder, &e);
                        if e.is_definite() {
                            Outcome::Failed
                        } else {
                            Outcome::Unknown
                        }
                    }
                };
                let completed = Some(self.now_ms());
                self.record(holder, epoch, op, (invoked, completed), outcome);
            }
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn record(
        &self,
        writer: &str,
        epoch: u64,
        op: u64,
        (invoked_ms, completed_ms): (u64, Option<u64>),
        outcome: Outcome,
    ) {
        self.history.lock().entries.push(Entry {
            writer: writer.to_owned(),
            epoch,
            op,
            invoked_ms,
            completed_ms,
            outcome,
        });
    }

    fn note_fenced(&self, holder: &str, e: &WriteError) {
        if matches!(e, WriteError::Fenced { .. }) {
            let at = self.faults.journal().len();
            let mut h = self.history.lock();
            if !h.fenced_at.iter().any(|(w, _)| w == holder) {
                h.fenced_at.push((holder.to_owned(), at));
            }
        }
    }
}

/// A broken rule, in one sentence.
pub type Violation = String;

/// Checks a run against the invariants; empty when it holds them all.
pub fn check(run: &SimRun) -> Vec<Violation> {
    let mut v = Vec::new();
    let replay = match &run.replays[0] {
        Ok(r) => r.clone(),
        Err(e) => {
            v.push(format!(
                "the final replay failed (a gap, corruption or discontinuity): {e}"
            ));
            return v;
        }
    };
    for (i, other) in run.replays.iter().enumerate().skip(1) {
        if other.as_ref().ok() != Some(&replay) {
            v.push(format!("replay {i} differs from replay 0 (I8)"));
        }
    }
    if run.followed.len() > replay.len() || run.followed[..] != replay[..run.followed.len()] {
        v.push("the follower saw a different history than the final replay (I1, I8)".into());
    }
    let mut at: HashMap<u64, &Seen> = HashMap::new();
    for (i, s) in replay.iter().enumerate() {
        if s.seq != i as u64 {
            v.push(format!(
                "seq {} found where seq {i} belongs (a gap, I2)",
                s.seq
            ));
        }
        if let Some(first) = at.insert(s.op, s) {
            v.push(format!(
                "op {} appears at seq {} and at seq {} (I6, I7)",
                s.op, first.seq, s.seq
            ));
        }
    }
    if let Some(w) = replay.windows(2).find(|w| w[1].epoch < w[0].epoch) {
        v.push(format!(
            "epoch {} follows epoch {} at seq {} (I4)",
            w[1].epoch, w[0].epoch, w[1].seq
        ));
    }
    let mut last_acked: BTreeMap<&str, u64> = BTreeMap::new();
    for e in &run.history.entries {
        match e.outcome {
            Outcome::Acked { seq } => {
                match at.get(&e.op) {
                    Some(s) if s.seq == seq => {}
                    Some(s) => v.push(format!(
                        "op {} was acknowledged at seq {seq} but is at seq {} (I3)",
                        e.op, s.seq
                    )),
                    None => v.push(format!(
                        "op {} was acknowledged at seq {seq} by {} but is not in the log (I3)",
                        e.op, e.writer
                    )),
                }
                if let Some(&prev) = last_acked.get(e.writer.as_str()) {
                    if seq <= prev {
                        v.push(format!(
                            "{} acknowledged seq {seq} after seq {prev}: per-writer order broken",
                            e.writer
                        ));
                    }
                }
                last_acked.insert(&e.writer, seq);
            }
            Outcome::Failed if at.contains_key(&e.op) => v.push(format!(
                "op {} failed definitely for {} but is in the log at seq {} (I6: a ghost)",
                e.op, e.writer, at[&e.op].seq
            )),
            _ => {}
        }
    }
    for (writer, fenced_at) in &run.history.fenced_at {
        if let Some((i, _)) = run
            .log_puts
            .iter()
            .find(|(i, w)| i > fenced_at && w == writer)
        {
            v.push(format!(
                "{writer} sent log PUT #{i} after it was fenced (I5)"
            ));
        }
    }
    v
}
