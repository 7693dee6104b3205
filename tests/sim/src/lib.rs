//! # wormlog-sim: the deterministic simulation, and the checker
//!
//! One seed drives a whole run on a current-thread tokio runtime with paused time, over a
//! `MemoryStore` behind a `FaultStore` whose faults (latency, 500/503/409, timeouts, lost
//! answers) come from the seed and the profile ([`Profile`]), so a seed replays exactly.
//!
//! ```text
//!  leaders (3 nodes × terms)   lease ─► writer ─► appends   ending: clean | pause | crash
//!  command-line writers        --epoch N (stale, reused, new) | lease acquire + --epoch
//!  operators                   purges under the lease, snapshots, the lease object vandalised
//!  a follower                  tails the log the whole time
//!  the finale (store calm)     replays, replays with snapshots, seeks, verify, a rogue zombie
//!        └─► check(history, finale)     every invariant of protocol.md
//! ```
//!
//! [`PLANTED`] lists bugs that switch one protocol rule off; each must be caught by its
//! profile within 300 seeds (`tests/planted.rs`).

mod check;
mod cli;
mod finale;
mod history;
mod leader;
mod operator;
mod profile;
mod world;

use std::sync::Arc;
use std::time::Duration;

use wormlog_reader::{FollowPolicy, ReaderBug, ScanItem};
use wormlog_store::{FaultStore, MemoryStore, Op, SeededRng};
use wormlog_writer::PlantedBug;

pub use check::{check, Violation};
pub use finale::Finale;
pub use history::{Entry, History, OpenTime, Outcome, PurgeAttempt, Stop, StopKind};
pub use profile::{Profile, Settings};

use world::World;

pub(crate) const STREAM: &str = "sim";

/// A bug planted in the writer or in readers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Planted {
    Writer(PlantedBug),
    Reader(ReaderBug),
}

/// One row of the planted-bug table: the rule switched off, the profile that must catch it,
/// and the invariant it breaks.
#[derive(Clone, Copy, Debug)]
pub struct PlantedRow {
    pub name: &'static str,
    pub bug: Planted,
    pub profile: Profile,
    pub breaks: &'static str,
}

/// Every planted bug and the profile that catches it.
pub const PLANTED: &[PlantedRow] = &[
    PlantedRow {
        name: "skip the read after a 412",
        bug: Planted::Writer(PlantedBug::SkipReadAfter412),
        profile: Profile::Default,
        breaks: "I2, I3: slots passed unread, foreign segments uncounted",
    },
    PlantedRow {
        name: "drop the same-write-id rule",
        bug: Planted::Writer(PlantedBug::IgnoreOwnWriteId),
        profile: Profile::HeavyPut,
        breaks: "I6: a lost answer's segment taken for another writer's",
    },
    PlantedRow {
        name: "open without the epoch check",
        bug: Planted::Writer(PlantedBug::OpenWithoutEpochCheck),
        profile: Profile::Default,
        breaks: "I3, I4: a stale writer acknowledged below a newer epoch",
    },
    PlantedRow {
        name: "count a higher epoch and move on",
        bug: Planted::Writer(PlantedBug::CountHigherEpoch),
        profile: Profile::Default,
        breaks: "I3, I5: a fenced writer keeps writing zombies",
    },
    PlantedRow {
        name: "a follower that stops early",
        bug: Planted::Reader(ReaderBug::FollowerStopsEarly),
        profile: Profile::Calm,
        breaks: "follower completeness",
    },
    PlantedRow {
        name: "seek onto a zombie",
        bug: Planted::Reader(ReaderBug::SeekOntoZombie),
        profile: Profile::Calm,
        breaks: "I8: a scan from a seq delivers what a scan from slot 0 skips",
    },
    PlantedRow {
        name: "a snapshot that ignores purges",
        bug: Planted::Reader(ReaderBug::SnapshotIgnoresPurges),
        profile: Profile::Default,
        breaks: "I8: erased events come back from a snapshot",
    },
    PlantedRow {
        name: "a landed segment called a definite failure",
        bug: Planted::Writer(PlantedBug::DefiniteAfterMaybeLanded),
        profile: Profile::ReadFaults,
        breaks: "I6: a ghost of a definitely failed append",
    },
    PlantedRow {
        name: "no fence ahead (chase a stale writer slot by slot)",
        bug: Planted::Writer(PlantedBug::NoFenceAhead),
        profile: Profile::StaleWriter,
        breaks: "liveness: a new leader held off for as long as a stale writer appends",
    },
    PlantedRow {
        name: "name a stale predecessor after counting a segment",
        bug: Planted::Writer(PlantedBug::StalePrevAfterCount),
        profile: Profile::Default,
        breaks: "I3: the writer's next segment is an orphan, its acknowledged events skipped",
    },
    PlantedRow {
        name: "pipelining: one slot more in flight than the window",
        bug: Planted::Writer(PlantedBug::WindowAboveK),
        profile: Profile::Pipelined,
        breaks: "I1, I8: a missing slot below it is taken for a gap, not a pending hole",
    },
    PlantedRow {
        name: "pipelining: acknowledge before the slots below settle",
        bug: Planted::Writer(PlantedBug::AckBeforeLowerSettles),
        profile: Profile::Pipelined,
        breaks: "I3, I6: an orphan's events acknowledged",
    },
    PlantedRow {
        name: "pipelining: no re-encoding after a failed speculation",
        bug: Planted::Writer(PlantedBug::NoReencode),
        profile: Profile::Pipelined,
        breaks: "I3: orphans taken for committed, their events acknowledged and lost",
    },
    PlantedRow {
        name: "pipelining: no void under landed slots",
        bug: Planted::Writer(PlantedBug::NoVoid),
        profile: Profile::Pipelined,
        breaks: "I1: a hole under landed slots stops every reader",
    },
    PlantedRow {
        name: "pipelining: an opener that does not repair",
        bug: Planted::Writer(PlantedBug::OpenWithoutRepair),
        profile: Profile::Pipelined,
        breaks: "I3: a late PUT completes a crashed writer's chain under the new leader's",
    },
    PlantedRow {
        name: "trust the tail hint",
        bug: Planted::Writer(PlantedBug::TrustTailHint),
        profile: Profile::Default,
        breaks: "I2, I3: a stale hint reopens the log below its tail, at seqs already taken",
    },
];

/// What one simulation runs.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub seed: u64,
    pub profile: Profile,
    pub planted: Option<Planted>,
    pub nodes: usize,
    pub terms_per_node: usize,
    pub appends_per_term: usize,
}

impl SimConfig {
    pub fn new(seed: u64, profile: Profile) -> SimConfig {
        SimConfig {
            seed,
            profile,
            planted: None,
            nodes: 3,
            terms_per_node: 3,
            appends_per_term: 12,
        }
    }
}

/// A delivered event: its seq, op, and the epoch and writer of its segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub seq: u64,
    pub op: u64,
    pub epoch: u64,
    pub writer: String,
}

impl Seen {
    pub(crate) fn of(e: &wormlog_format::Event) -> Seen {
        Seen {
            seq: e.seq,
            op: op_of(e.json().unwrap_or_default()),
            epoch: e.meta.fencing_token.epoch,
            writer: e.meta.fencing_token.writer.clone(),
        }
    }
}

/// The op number of `{"op":k}` (`u64::MAX` for anything else, such as a rogue's event).
pub(crate) fn op_of(data: &str) -> u64 {
    data.strip_prefix("{\"op\":")
        .and_then(|d| d.strip_suffix('}'))
        .and_then(|d| d.parse().ok())
        .unwrap_or(u64::MAX)
}

/// The result of one run.
pub struct SimRun {
    pub history: History,
    pub finale: Finale,
    /// What the follower delivered, and how it ended.
    pub followed: Vec<Seen>,
    pub follower_end: Result<(), String>,
    /// Log PUTs as the store saw them: (journal index, writer).
    pub log_puts: Vec<(usize, String)>,
    /// Requests during the run, and how many of them met an injected fault.
    pub requests: u64,
    pub faults: u64,
    /// The profile's bound on a contended takeover ([`Settings::takeover_bound`]).
    pub takeover_bound: Option<Duration>,
    /// Writers kept several slots in flight ([`Settings::pipelined`]).
    pub pipelined: bool,
}

/// What a set of runs exercised, for the summary line of `sim`.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub acked: u64,
    pub failed: u64,
    pub unknown: u64,
    pub fenced: u64,
    pub epoch_conflicts: u64,
    pub poisoned: u64,
    pub leadership_lost: u64,
    pub vanished: u64,
    pub purges: u64,
    /// Checkpoints the writers signed, all audited against the final log.
    pub checkpoints: u64,
    pub writers: u64,
    /// Requests the store failed or whose answer it lost (injected faults).
    pub faults: u64,
    pub requests: u64,
}

impl Tally {
    pub fn add(&mut self, run: &SimRun) {
        let h = &run.history;
        for e in &h.entries {
            match e.outcome {
                Outcome::Acked { .. } => self.acked += 1,
                Outcome::Failed => self.failed += 1,
                Outcome::Unknown => self.unknown += 1,
            }
        }
        for s in &h.stops {
            match s.kind {
                StopKind::Fenced => self.fenced += 1,
                StopKind::EpochConflict => self.epoch_conflicts += 1,
                StopKind::Poisoned => self.poisoned += 1,
                StopKind::LeadershipLost => self.leadership_lost += 1,
                StopKind::Vanished => self.vanished += 1,
            }
        }
        self.purges += run.finale.purged_slots as u64;
        if let Ok(tree) = &run.finale.tree {
            self.checkpoints += tree.checkpoints.len() as u64;
        }
        self.writers += h.opened.len() as u64;
        self.faults += run.faults;
        self.requests += run.requests;
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests, {} faults; {} writers; appends: {} acked, {} failed, {} unknown; stops: {} fenced, {} epoch conflicts, {} poisoned, {} leadership lost, {} vanished slots; {} purges; {} checkpoints audited",
            self.requests,
            self.faults,
            self.writers,
            self.acked,
            self.failed,
            self.unknown,
            self.fenced,
            self.epoch_conflicts,
            self.poisoned,
            self.leadership_lost,
            self.vanished,
            self.purges,
            self.checkpoints
        )
    }
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
    let faults = Arc::new(FaultStore::new(Arc::new(MemoryStore::new())));
    let world = Arc::new(World::new(cfg.clone(), Arc::clone(&faults)));
    let mut rng = SeededRng::new(cfg.seed);

    let (mut follow, stop) = world
        .reader()
        .follow(0, FollowPolicy::default())
        .await
        .expect("following an empty log starts");
    let follower = tokio::spawn(async move {
        let mut seen = Vec::new();
        loop {
            match follow.next().await {
                Ok(Some(ScanItem::Event(e))) => seen.push(Seen::of(&e)),
                Ok(Some(_)) => {}
                Ok(None) => return (seen, Ok(())),
                Err(e) => return (seen, Err(e.to_string())),
            }
        }
    });

    faults.set_chaos(cfg.seed, world.settings.chaos());
    let mut actors = Vec::new();
    for n in 0..cfg.nodes {
        let seeded = SeededRng::new(rng.next_u64());
        actors.push(tokio::spawn(leader::run(Arc::clone(&world), n, seeded)));
    }
    let mut seeded = || SeededRng::new(rng.next_u64());
    let (a, b, c, d) = (seeded(), seeded(), seeded(), seeded());
    actors.push(tokio::spawn(cli::run(Arc::clone(&world), a)));
    if world.settings.runaways > 0 {
        let e = seeded();
        actors.push(tokio::spawn(cli::runaways(Arc::clone(&world), e)));
    }
    actors.push(tokio::spawn(operator::purges(Arc::clone(&world), b)));
    actors.push(tokio::spawn(operator::snapshots(Arc::clone(&world), c)));
    actors.push(tokio::spawn(operator::vandalise_lease(
        Arc::clone(&world),
        d,
    )));
    for a in actors {
        a.await.expect("an actor does not panic");
    }
    // Let crashed writers' last requests settle, then read undisturbed.
    tokio::time::sleep(Duration::from_secs(5)).await;
    faults.calm();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.stop();
    let (followed, follower_end) = follower.await.expect("the follower does not panic");
    let mut finale_rng = SeededRng::new(rng.next_u64());
    let finale = finale::read_everything(&world, &mut finale_rng).await;
    let journal = faults.journal();
    let injected = journal
        .iter()
        .filter(|r| {
            r.error
                .as_ref()
                .is_some_and(|e| e.to_string().contains("(injected)"))
        })
        .count() as u64;
    let log_puts = journal
        .iter()
        .enumerate()
        .filter(|(_, r)| r.op == Op::PutIfAbsent && r.key.contains("/log/"))
        .map(|(i, r)| {
            let writer = r
                .metadata
                .get("wormlog-writer")
                .cloned()
                .unwrap_or_default();
            (i, writer)
        })
        .collect();
    let history = world.history.lock().clone();
    SimRun {
        history,
        finale,
        followed,
        follower_end,
        log_puts,
        requests: journal.len() as u64,
        faults: injected,
        takeover_bound: world.settings.takeover_bound,
        pipelined: world.settings.pipelined,
    }
}
