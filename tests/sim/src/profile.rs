//! Fault profiles: named mixes of store faults, term endings and actors, one per kind of
//! trouble the protocol must survive. `scripts/sim.sh --profile NAME` runs one.

use std::time::Duration;

use wormlog_store::{ChaosRule, Op};

/// A named mix of faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Profile {
    /// No store faults: only the protocol's own races (pauses, stale and reused epochs).
    Calm,
    /// A little of everything.
    Default,
    /// PUTs fail or lose their answer a quarter of the time: retries, lost responses,
    /// unknown outcomes.
    HeavyPut,
    /// Half of all reads fail: the writer's read after a 412, its tail search, followers.
    ReadFaults,
    /// Short leases, failing renewals, the lease object deleted or overwritten mid-run.
    LeaseChaos,
    /// Most terms end in a crash at a random point, mid-request included.
    CrashHeavy,
    /// A lease-less stale writer appending as fast as the store answers while leaders take
    /// over: every takeover must be in the log within a bounded time (fencing ahead).
    StaleWriter,
    /// [`Profile::StaleWriter`] with pipelined writers, the stale one streaming: it keeps 16
    /// appends outstanding, one segment each, 8 slots in flight, so it lands several slots
    /// per round trip of the new leader's (as measured on RGW, where it outran claims made
    /// one round after another).
    StalePipelined,
    /// Pipelined writers (2 to 8 slots in flight): PUTs that land out of order (latency
    /// that varies from zero up), crashes with a full window, definite refusals mid-window
    /// and a lease-less stale writer besides the usual faults.
    Pipelined,
}

/// What a profile sets.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Log PUTs: chance of a failure before the store, of a lost answer after it.
    pub put: (f64, f64),
    /// Lease compare-and-swap: the same two chances.
    pub cas: (f64, f64),
    /// GET, HEAD and LIST: chance of a failure.
    pub read: f64,
    /// Every request waits up to this long (half on the way, half back).
    pub latency: Duration,
    /// ... and at least this long.
    pub min_latency: Duration,
    /// Out of 10 leader terms: how many end in a crash, how many in a pause past the lease.
    pub crashes: u64,
    pub pauses: u64,
    pub lease: Duration,
    /// Delete or overwrite the lease object this many times during the run.
    pub lease_vandalism: usize,
    /// Command-line style writers (`--epoch N`, `lease acquire` then `--epoch`).
    pub cli_runs: usize,
    pub purges: usize,
    pub snapshots: usize,
    /// Runs of a stale writer that takes the lease once and then appends one op after
    /// another, without pause or renewal, until fenced.
    pub runaways: usize,
    /// A leader's open that starts while a runaway appends must finish within this long.
    pub takeover_bound: Option<Duration>,
    /// Writers keep several slots in flight (`in_flight` 2..=8, drawn per writer).
    pub pipelined: bool,
    /// Runaways stream: 16 appends outstanding, one segment each, 8 slots in flight.
    pub streaming_runaways: bool,
    /// Log PUTs: chance of a definite refusal (403) before the store.
    pub refuse: f64,
}

impl Profile {
    pub const ALL: [Profile; 9] = [
        Profile::Calm,
        Profile::Default,
        Profile::HeavyPut,
        Profile::ReadFaults,
        Profile::LeaseChaos,
        Profile::CrashHeavy,
        Profile::StaleWriter,
        Profile::StalePipelined,
        Profile::Pipelined,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Calm => "calm",
            Profile::Default => "default",
            Profile::HeavyPut => "heavy-put",
            Profile::ReadFaults => "read-faults",
            Profile::LeaseChaos => "lease-chaos",
            Profile::CrashHeavy => "crash-heavy",
            Profile::StaleWriter => "stale-writer",
            Profile::StalePipelined => "stale-pipelined",
            Profile::Pipelined => "pipelined",
        }
    }

    pub fn parse(name: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.name() == name)
    }

    pub fn settings(self) -> Settings {
        let base = Settings {
            put: (0.08, 0.06),
            cas: (0.05, 0.03),
            read: 0.05,
            latency: Duration::from_millis(15),
            min_latency: Duration::ZERO,
            crashes: 2,
            pauses: 2,
            lease: Duration::from_secs(2),
            lease_vandalism: 0,
            cli_runs: 4,
            purges: 2,
            snapshots: 3,
            runaways: 0,
            takeover_bound: None,
            pipelined: false,
            streaming_runaways: false,
            refuse: 0.0,
        };
        match self {
            Profile::Calm => Settings {
                put: (0.0, 0.0),
                cas: (0.0, 0.0),
                read: 0.0,
                crashes: 0,
                ..base
            },
            Profile::Default => base,
            Profile::HeavyPut => Settings {
                put: (0.25, 0.2),
                cas: (0.1, 0.05),
                ..base
            },
            Profile::ReadFaults => Settings {
                put: (0.05, 0.15),
                read: 0.5,
                ..base
            },
            Profile::LeaseChaos => Settings {
                cas: (0.3, 0.1),
                lease: Duration::from_millis(600),
                lease_vandalism: 3,
                ..base
            },
            Profile::CrashHeavy => Settings {
                crashes: 7,
                pauses: 1,
                ..base
            },
            // No store faults, so that an open's time is the protocol's alone (a retry's
            // backoff is not a takeover's cost); round trips of 9 to 10 ms, so that a writer
            // one step ahead stays ahead (as measured on RGW, where a chase by reads lost
            // every slot for as long as the stale writer wrote); crashes and pauses as usual,
            // so fences are cut short mid-window too.
            Profile::StaleWriter => Settings {
                put: (0.0, 0.0),
                cas: (0.0, 0.0),
                read: 0.0,
                latency: Duration::from_millis(10),
                min_latency: Duration::from_millis(9),
                runaways: 2,
                // 15 round trips: a fenced-ahead open takes about 7 here (the listing, the
                // tail's summary, the lost epoch-start, its read beside the claims, the read
                // of the claims it lost, the epoch-start); a chase by reads takes 30 or more.
                takeover_bound: Some(Duration::from_millis(150)),
                ..base
            },
            Profile::StalePipelined => Settings {
                pipelined: true,
                streaming_runaways: true,
                ..Profile::StaleWriter.settings()
            },
            Profile::Pipelined => Settings {
                crashes: 4,
                pipelined: true,
                refuse: 0.03,
                // A lease-less stale writer, pipelined too, while leaders take over.
                runaways: 1,
                ..base
            },
        }
    }
}

impl Settings {
    /// The store's chaos rules.
    pub fn chaos(&self) -> Vec<ChaosRule> {
        let rule = |op, key: &str, (fail, lost): (f64, f64)| ChaosRule {
            op,
            key_contains: key.to_owned(),
            fail_before: fail,
            lose_response: lost,
            refuse: 0.0,
            max_latency: self.latency,
            min_latency: self.min_latency,
        };
        let log_puts = ChaosRule {
            refuse: self.refuse,
            ..rule(Op::PutIfAbsent, "/log/", self.put)
        };
        vec![
            log_puts,
            rule(Op::PutIfAbsent, "", self.put),
            rule(Op::PutIfMatch, "", self.cas),
            rule(Op::Get, "", (self.read, 0.0)),
            rule(Op::Head, "", (self.read, 0.0)),
            rule(Op::List, "", (self.read, 0.0)),
            rule(Op::Delete, "", (self.read / 2.0, 0.0)),
        ]
    }
}
