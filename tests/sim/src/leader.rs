//! Leaders: nodes that take turns leading through the lease (`LeaderElector`), each term
//! opening a writer at the lease's epoch and appending a few ops at a time.
//!
//! ```text
//!  node n, term t:  wait ─► elect ─► open writer (leadership channel wired, or not) ─► append
//!     ending: clean  ─► close, release the lease
//!             pause  ─► stop renewing, sleep past the lease, keep appending (a stale leader:
//!                       LeadershipLost if the channel is wired, else fenced by the log)
//!             crash  ─► at a random moment, the whole process stops: writer task, elector
//!                       task and the appends in flight, mid-request included
//! ```

use std::sync::Arc;
use std::time::Duration;

use wormlog_fencing::{ElectorConfig, LeaderElector, LeaseConfig};
use wormlog_store::SeededRng;
use wormlog_writer::{LogWriter, WriterConfig};

use crate::world::World;
use crate::STREAM;

/// How a term ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    Clean,
    Pause,
    Crash { after: Duration },
}

pub(crate) async fn run(world: Arc<World>, node: usize, mut rng: SeededRng) {
    for term in 0..world.cfg.terms_per_node {
        World::pause(&mut rng, Duration::from_secs(3)).await;
        let holder = format!("node-{node}-t{term}");
        let lease = LeaseConfig::new(STREAM, holder.clone(), world.settings.lease, world.clock());
        let Ok(elector) = LeaderElector::start(Arc::clone(&world.store), ElectorConfig { lease })
        else {
            continue;
        };
        let elector = Arc::new(elector);
        let led = tokio::time::timeout(Duration::from_secs(30), elector.leadership()).await;
        let Ok(token) = led else {
            elector.stop().await;
            continue;
        };
        let s = &world.settings;
        let ending = match rng.below(10) {
            // Within the term's length (bursts paced up to 150 ms apart): mid-append.
            r if r < s.crashes => Ending::Crash {
                after: Duration::from_millis(rng.below(900)),
            },
            r if r < s.crashes + s.pauses => Ending::Pause,
            _ => Ending::Clean,
        };
        let mut wc = world.writer_config(&holder, token.epoch, &mut rng);
        if rng.below(2) == 0 {
            // Wired to the lease: the writer stops itself (LeadershipLost) once it lapses.
            wc.leadership = Some(elector.watch());
        }
        let process = Process {
            world: Arc::clone(&world),
            elector: Arc::clone(&elector),
            holder: holder.clone(),
            epoch: token.epoch,
            rng: SeededRng::new(rng.next_u64()),
        };
        match ending {
            Ending::Crash { after } => process.crash_after(wc, after).await,
            _ => process.term(wc, ending == Ending::Pause).await,
        }
    }
}

/// One term of a node: the "process" a crash stops.
struct Process {
    world: Arc<World>,
    elector: Arc<LeaderElector>,
    holder: String,
    epoch: u64,
    rng: SeededRng,
}

impl Process {
    /// A term that ends cleanly, or with a pause past the lease half-way.
    async fn term(mut self, wc: WriterConfig, pause: bool) {
        let writer = match self.world.open(wc).await {
            Ok(w) => w,
            Err(_) => {
                self.elector.stop().await;
                return;
            }
        };
        self.append_all(&writer, pause).await;
        if let Ok(w) = Arc::try_unwrap(writer) {
            w.close().await;
        }
        match pause {
            true => self.elector.abandon(),
            false => self.elector.stop().await,
        }
    }

    /// A term that stops dead `after` it starts: whatever it was doing, mid-request included.
    async fn crash_after(self, wc: WriterConfig, after: Duration) {
        let (world, elector, holder) = (
            Arc::clone(&self.world),
            Arc::clone(&self.elector),
            self.holder.clone(),
        );
        let writer: Arc<parking_lot::Mutex<Option<Arc<LogWriter>>>> = Arc::default();
        let slot = Arc::clone(&writer);
        let mut me = self;
        let task = tokio::spawn(async move {
            let Ok(w) = me.world.open(wc).await else {
                return;
            };
            *slot.lock() = Some(Arc::clone(&w));
            me.append_all(&w, false).await;
        });
        tokio::time::sleep(after).await;
        task.abort();
        if let Some(w) = writer.lock().take() {
            w.abort();
        }
        elector.abort();
        world.crashed(&holder);
    }

    /// The term's ops, one to four in flight at a time. With `pause`, half-way the node stops
    /// renewing the lease and sleeps past it, then carries on as a stale leader.
    async fn append_all(&mut self, w: &LogWriter, pause: bool) {
        let total = self.world.cfg.appends_per_term;
        let mut done = 0;
        let mut paused = false;
        while done < total {
            if pause && !paused && done >= total / 2 {
                paused = true;
                self.elector.abandon();
                let lapse = self.world.settings.lease * 3;
                tokio::time::sleep(lapse).await;
            }
            let burst = (1 + self.rng.below(4) as usize).min(total - done);
            self.world
                .append_ops(w, &self.holder, self.epoch, burst)
                .await;
            done += burst;
            World::pause(&mut self.rng, Duration::from_millis(150)).await;
        }
    }
}
