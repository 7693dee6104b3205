//! The shared world of one run: the store (a `MemoryStore` behind a seeded `FaultStore`),
//! the history, simulated time, and how every actor configures and drives a writer.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use wormlog_reader::{LogReader, ReaderBug, Replayer};
use wormlog_store::{Clock, FaultStore, ObjectStore, SeededRng, Timestamp, TokioClock};
use wormlog_writer::{LogWriter, RetryPolicy, StopHook, WriteError, WriterConfig};

use crate::history::{Entry, History, InFlight, OpenTime, Outcome, Stop, StopKind};
use crate::profile::Settings;
use crate::{Planted, SimConfig, STREAM};

/// The run's checkpoint key (the same in every run: signatures change no store operation).
pub(crate) fn signer() -> wormlog_tlog::Signer {
    wormlog_tlog::Signer::from_seed("sim.wormlog/checkpoints", [7; 32]).expect("a valid name")
}

pub(crate) struct World {
    pub started: tokio::time::Instant,
    pub store: Arc<dyn ObjectStore>,
    pub faults: Arc<FaultStore>,
    pub history: Arc<Mutex<History>>,
    pub in_flight: Arc<InFlight>,
    next_op: Mutex<u64>,
    pub cfg: SimConfig,
    pub settings: Settings,
}

impl World {
    pub fn new(cfg: SimConfig, faults: Arc<FaultStore>) -> World {
        World {
            started: tokio::time::Instant::now(),
            store: Arc::clone(&faults) as Arc<dyn ObjectStore>,
            faults,
            history: Arc::default(),
            in_flight: Arc::default(),
            next_op: Mutex::new(0),
            settings: cfg.profile.settings(),
            cfg,
        }
    }

    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Wall and monotonic time both follow the simulated clock from the run's start.
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(TokioClock::simulated(
            Timestamp(1_800_000_000_000),
            self.started,
        ))
    }

    /// A reader, with the planted reader bug if there is one.
    pub fn reader(&self) -> LogReader {
        let r = LogReader::new(Arc::clone(&self.store), "", STREAM).expect("a valid stream");
        match self.reader_bug() {
            Some(bug) => r.with_planted_bug(bug),
            None => r,
        }
    }

    pub fn replayer(&self) -> Replayer {
        let r = Replayer::new(Arc::clone(&self.store), "", STREAM).expect("a valid stream");
        match self.reader_bug() {
            Some(bug) => r.with_planted_bug(bug),
            None => r,
        }
    }

    fn reader_bug(&self) -> Option<ReaderBug> {
        match self.cfg.planted {
            Some(Planted::Reader(bug)) => Some(bug),
            _ => None,
        }
    }

    /// Writer settings for `writer` at `epoch`: simulated clock, a seed from `rng`, a tail
    /// hint, the planted writer bug, and a stop hook that records when it stopped.
    pub fn writer_config(&self, writer: &str, epoch: u64, rng: &mut SeededRng) -> WriterConfig {
        let mut wc = WriterConfig::new(STREAM, epoch, writer);
        wc.clock = self.clock();
        wc.seed = Some(rng.next_u64());
        // A tail hint as the command's cache would give it: none, or some slot that may or may
        // not be the last (the logs here are a few dozen slots long). Never trusted.
        wc.tail_hint = match rng.below(3) {
            0 => None,
            _ => Some(rng.below(48)),
        };
        if let Some(Planted::Writer(bug)) = self.cfg.planted {
            wc.planted_bug = Some(bug);
        }
        // One slot in flight unless the profile pipelines: those profiles check that no
        // orphan is ever written.
        wc.in_flight = 1;
        if self.settings.pipelined {
            wc.in_flight = 2 + rng.below(7) as u32;
            wc.one_per_segment = rng.below(2) == 0;
        }
        wc.retry = RetryPolicy {
            max_attempts: 6,
            ..RetryPolicy::default()
        };
        // Half the writers sign checkpoints as they go, all with the run's key, every few
        // segments or a moment of simulated time: the finale audits every one of them. Drawn
        // from a generator of their own, so the run's other draws are what they were.
        let own = writer
            .bytes()
            .fold(epoch, |h, b| h.wrapping_mul(31) ^ u64::from(b));
        let mut cp = SeededRng::new(self.cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ own);
        if cp.below(2) == 0 {
            let mut policy = wormlog_writer::CheckpointPolicy::new(signer());
            policy.every_segments = 1 + cp.below(4);
            policy.every = Duration::from_millis(50 + cp.below(1000));
            wc.checkpoints = Some(policy);
        }
        let (history, faults, who) = (
            Arc::clone(&self.history),
            Arc::clone(&self.faults),
            writer.to_owned(),
        );
        wc.on_stop = Some(StopHook(Arc::new(move |e: &WriteError| {
            if let Some(kind) = StopKind::of(e) {
                let journal_at = faults.journal_len();
                history.lock().stops.push(Stop {
                    writer: who.clone(),
                    epoch,
                    kind,
                    journal_at,
                });
            }
        })));
        wc
    }

    /// Opens a writer, recording first that it tries (its epoch-start may land even if the
    /// open then fails).
    pub async fn open(&self, wc: WriterConfig) -> Result<Arc<LogWriter>, WriteError> {
        let (writer, epoch) = (wc.writer_id.clone(), wc.epoch);
        self.history.lock().opened.push((writer.clone(), epoch));
        let started_ms = self.now_ms();
        let opened = LogWriter::open(Arc::clone(&self.store), wc).await;
        let took_ms = self.now_ms() - started_ms;
        self.history.lock().open_times.push(OpenTime {
            writer,
            started_ms,
            took_ms,
        });
        Ok(Arc::new(opened?))
    }

    fn next_op(&self) -> u64 {
        let mut n = self.next_op.lock();
        *n += 1;
        *n
    }

    /// Appends `n` ops (`{"op":k}`), all in flight at once, and records each outcome. If
    /// the caller's task is aborted (a crash), the ops stay in flight for
    /// [`World::crashed`] to record as unknown.
    pub async fn append_ops(&self, w: &LogWriter, writer: &str, epoch: u64, n: usize) {
        let mut pending = Vec::with_capacity(n);
        for _ in 0..n {
            let op = self.next_op();
            self.in_flight.invoked(Entry {
                writer: writer.to_owned(),
                epoch,
                op,
                invoked_ms: self.now_ms(),
                completed_ms: None,
                outcome: Outcome::Unknown,
            });
            pending.push((op, w.append("sim", &format!("{{\"op\":{op}}}"))));
        }
        for (op, f) in pending {
            let outcome = match f.await {
                Ok(a) => Outcome::Acked { seq: a.seq },
                Err(e) if e.is_definite() => Outcome::Failed,
                Err(_) => Outcome::Unknown,
            };
            if let Some(mut entry) = self.in_flight.completed(op) {
                entry.completed_ms = Some(self.now_ms());
                entry.outcome = outcome;
                self.history.lock().entries.push(entry);
            }
        }
    }

    /// `writer` crashed: its appends still in flight end with an unknown outcome.
    pub fn crashed(&self, writer: &str) {
        let lost = self.in_flight.abandon(writer);
        self.history.lock().entries.extend(lost);
    }

    /// Sleeps a uniform 0..`max` of simulated time.
    pub async fn pause(rng: &mut SeededRng, max: Duration) {
        let ms = rng.below(max.as_millis() as u64 + 1);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}
