//! Injected time. Nothing else in wormlog reads the system clock (`clippy.toml`), so tests and
//! simulations control time completely.
//!
//! Two readings: wall time ([`Timestamp`], for retention dates and informational `created_at`
//! fields) and monotonic time (for lease durations, which must never depend on wall clocks).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub fn from_millis(ms: u64) -> Timestamp {
        Timestamp(ms)
    }

    pub fn as_millis(self) -> u64 {
        self.0
    }

    /// This time plus `d`, saturating.
    pub fn plus(self, d: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(d.as_millis().min(u64::MAX as u128) as u64),
        )
    }

    /// RFC 3339 with milliseconds, e.g. `2026-11-22T05:22:37.123Z`.
    pub fn to_rfc3339(self) -> String {
        let t = UNIX_EPOCH + Duration::from_millis(self.0);
        humantime::format_rfc3339_millis(t).to_string()
    }

    /// Parses RFC 3339 (`2026-11-22T05:22:37Z`, fractional seconds optional).
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let t = humantime::parse_rfc3339_weak(s).ok()?;
        let ms = t.duration_since(UNIX_EPOCH).ok()?.as_millis();
        Some(Timestamp(ms.min(u64::MAX as u128) as u64))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// A source of wall and monotonic time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Wall-clock time: informational, and for Object Lock dates.
    fn now(&self) -> Timestamp;
    /// Time since an arbitrary fixed point, never going backwards.
    fn monotonic(&self) -> Duration;
}

/// The machine's clocks.
#[derive(Debug)]
pub struct SystemClock {
    start: std::time::Instant,
}

impl SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the monotonic clock
    pub fn new() -> SystemClock {
        SystemClock {
            start: std::time::Instant::now(),
        }
    }

    /// A shared system clock.
    pub fn shared() -> Arc<dyn Clock> {
        Arc::new(SystemClock::new())
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the wall clock
    fn now(&self) -> Timestamp {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(d.as_millis() as u64)
    }

    fn monotonic(&self) -> Duration {
        self.start.elapsed()
    }
}

/// Monotonic time from tokio's clock, so `tokio::time::pause()` in tests moves it together
/// with tokio's timers (lease electors sleep on tokio timers). Wall time from the system, or,
/// for a simulation ([`TokioClock::simulated`]), from tokio's clock too.
#[derive(Debug)]
pub struct TokioClock {
    start: tokio::time::Instant,
    wall: SystemClock,
    /// Wall time at `start`, for a clock whose wall time follows tokio's clock.
    simulated: Option<Timestamp>,
}

impl TokioClock {
    pub fn new() -> TokioClock {
        TokioClock {
            start: tokio::time::Instant::now(),
            wall: SystemClock::new(),
            simulated: None,
        }
    }

    /// A clock whose wall time is `wall_at_start` at the tokio instant `start` and moves with
    /// tokio's clock: every clock made from the same pair agrees, and a seed replays exactly.
    pub fn simulated(wall_at_start: Timestamp, start: tokio::time::Instant) -> TokioClock {
        TokioClock {
            start,
            wall: SystemClock::new(),
            simulated: Some(wall_at_start),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        TokioClock::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        match self.simulated {
            Some(at_start) => at_start.plus(self.start.elapsed()),
            None => self.wall.now(),
        }
    }

    fn monotonic(&self) -> Duration {
        self.start.elapsed()
    }
}

/// A clock that moves only when told to: tests and simulations.
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<Mutex<(Timestamp, Duration)>>,
}

impl ManualClock {
    /// Starts at wall time `start` and monotonic zero.
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock {
            inner: Arc::new(Mutex::new((start, Duration::ZERO))),
        }
    }

    /// Moves both clocks forward by `d`.
    pub fn advance(&self, d: Duration) {
        let mut g = self.inner.lock();
        g.0 = g.0.plus(d);
        g.1 += d;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.inner.lock().0
    }

    fn monotonic(&self) -> Duration {
        self.inner.lock().1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips() {
        let t = Timestamp(1_795_000_000_123);
        assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()), Some(t));
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(Timestamp(1000));
        assert_eq!(c.now(), Timestamp(1000));
        c.advance(Duration::from_secs(2));
        assert_eq!(c.now(), Timestamp(3000));
        assert_eq!(c.monotonic(), Duration::from_secs(2));
    }
}
