//! The writer's metrics, through the `metrics` facade: the application installs an exporter
//! (the `wormlog` command: `--metrics-addr`, Prometheus text); without one they cost nothing.
//! Every series carries the stream's name as `stream`.
//!
//! | metric | kind | labels | what |
//! |---|---|---|---|
//! | `wormlog_appends_total` | counter | stream | events acknowledged |
//! | `wormlog_segments_total` | counter | stream | segments committed (control records included) |
//! | `wormlog_bytes_total` | counter | stream | bytes of those segments |
//! | `wormlog_conflicts_total` | counter | stream, resolution | 412s on log PUTs, by how they were resolved: `own_write`, `counted`, `zombie`, `void`, `fenced`, `epoch_conflict` |
//! | `wormlog_retries_total` | counter | stream | requests sent again after a transient failure |
//! | `wormlog_put_seconds` | histogram | stream, outcome | log PUTs: `ok`, `exists` (412), `error` |
//! | `wormlog_append_seconds` | histogram | stream | from `append` to its acknowledgement |
//! | `wormlog_writer_stopped` | gauge | stream, reason | 1 once the writer stopped for good: `fenced`, `epoch_conflict`, `poisoned`, `leadership_lost`, `other` |

use metrics::{Counter, Histogram};

use crate::resolve::Resolution;
use crate::WriteError;

/// One writer's metric handles, registered once when it opens, so that a commit or an
/// acknowledgement updates them without building label sets (the per-append path).
#[derive(Debug)]
pub(crate) struct Telemetry {
    stream: String,
    appends: Counter,
    segments: Counter,
    bytes: Counter,
    retries: Counter,
    append_seconds: Histogram,
    /// `wormlog_put_seconds` by outcome: `ok`, `exists`, `error`.
    put_seconds: [Histogram; 3],
}

impl Telemetry {
    pub(crate) fn new(stream: &str) -> Telemetry {
        let s = || ("stream", stream.to_owned());
        let put = |outcome: &'static str| metrics::histogram!("wormlog_put_seconds", "stream" => stream.to_owned(), "outcome" => outcome);
        Telemetry {
            stream: stream.to_owned(),
            appends: metrics::counter!("wormlog_appends_total", &[s()]),
            segments: metrics::counter!("wormlog_segments_total", &[s()]),
            bytes: metrics::counter!("wormlog_bytes_total", &[s()]),
            retries: metrics::counter!("wormlog_retries_total", &[s()]),
            append_seconds: metrics::histogram!("wormlog_append_seconds", &[s()]),
            put_seconds: [put("ok"), put("exists"), put("error")],
        }
    }

    pub(crate) fn committed(&self, events: u64, bytes: u64) {
        self.appends.increment(events);
        self.segments.increment(1);
        self.bytes.increment(bytes);
    }

    pub(crate) fn retry(&self) {
        self.retries.increment(1);
    }

    /// A log PUT's latency; `outcome` is `ok`, `exists` (412) or `error`.
    pub(crate) fn put(&self, outcome: &'static str, seconds: f64) {
        let i = match outcome {
            "ok" => 0,
            "exists" => 1,
            _ => 2,
        };
        self.put_seconds[i].record(seconds);
    }

    pub(crate) fn append_latency(&self, seconds: f64) {
        self.append_seconds.record(seconds);
    }

    /// How a 412 was resolved (rare: registered when it happens).
    pub(crate) fn resolved(&self, resolution: &Resolution) {
        let how = match resolution {
            Resolution::OurOwnWrite => "own_write",
            Resolution::CountAndAdvance => "counted",
            Resolution::SkipZombie => "zombie",
            Resolution::SkipVoid => "void",
            Resolution::SkipOrphan => "orphan",
            Resolution::Fenced { .. } => "fenced",
            Resolution::EpochConflict => "epoch_conflict",
        };
        metrics::counter!("wormlog_conflicts_total", "stream" => self.stream.clone(), "resolution" => how)
            .increment(1);
    }

    pub(crate) fn stopped(&self, why: &WriteError) {
        let reason = match why {
            WriteError::Fenced { .. } => "fenced",
            WriteError::EpochConflict { .. } => "epoch_conflict",
            WriteError::Poisoned { .. } | WriteError::OutcomeUnknown { .. } => "poisoned",
            WriteError::LeadershipLost { .. } => "leadership_lost",
            _ => "other",
        };
        metrics::gauge!("wormlog_writer_stopped", "stream" => self.stream.clone(), "reason" => reason)
            .set(1.0);
    }
}
