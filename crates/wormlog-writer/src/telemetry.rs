//! The writer's metrics, through the `metrics` facade: the application installs an exporter
//! (the `wormlog` command: `--metrics-addr`, Prometheus text); without one they cost nothing.
//! Every series carries the stream's name as `stream`.
//!
//! | metric | kind | labels | what |
//! |---|---|---|---|
//! | `wormlog_appends_total` | counter | stream | events acknowledged |
//! | `wormlog_segments_total` | counter | stream | segments committed (control records included) |
//! | `wormlog_bytes_total` | counter | stream | bytes of those segments |
//! | `wormlog_conflicts_total` | counter | stream, resolution | 412s on log PUTs, by how they were resolved: `own_write`, `counted`, `zombie`, `fenced`, `epoch_conflict` |
//! | `wormlog_retries_total` | counter | stream | requests sent again after a transient failure |
//! | `wormlog_put_seconds` | histogram | stream, outcome | log PUTs: `ok`, `exists` (412), `error` |
//! | `wormlog_append_seconds` | histogram | stream | from `append` to its acknowledgement |
//! | `wormlog_writer_stopped` | gauge | stream, reason | 1 once the writer stopped for good: `fenced`, `epoch_conflict`, `poisoned`, `leadership_lost`, `other` |

use crate::resolve::Resolution;
use crate::WriteError;

pub(crate) fn committed(stream: &str, events: u64, bytes: u64) {
    metrics::counter!("wormlog_appends_total", "stream" => stream.to_owned()).increment(events);
    metrics::counter!("wormlog_segments_total", "stream" => stream.to_owned()).increment(1);
    metrics::counter!("wormlog_bytes_total", "stream" => stream.to_owned()).increment(bytes);
}

pub(crate) fn resolved(stream: &str, resolution: &Resolution) {
    let how = match resolution {
        Resolution::OurOwnWrite => "own_write",
        Resolution::CountAndAdvance => "counted",
        Resolution::SkipZombie => "zombie",
        Resolution::SkipVoid => "void",
        Resolution::Fenced { .. } => "fenced",
        Resolution::EpochConflict => "epoch_conflict",
    };
    metrics::counter!("wormlog_conflicts_total", "stream" => stream.to_owned(), "resolution" => how)
        .increment(1);
}

pub(crate) fn retry(stream: &str) {
    metrics::counter!("wormlog_retries_total", "stream" => stream.to_owned()).increment(1);
}

pub(crate) fn put(stream: &str, outcome: &'static str, seconds: f64) {
    metrics::histogram!("wormlog_put_seconds", "stream" => stream.to_owned(), "outcome" => outcome)
        .record(seconds);
}

pub(crate) fn append_latency(stream: &str, seconds: f64) {
    metrics::histogram!("wormlog_append_seconds", "stream" => stream.to_owned()).record(seconds);
}

pub(crate) fn stopped(stream: &str, why: &WriteError) {
    let reason = match why {
        WriteError::Fenced { .. } => "fenced",
        WriteError::EpochConflict { .. } => "epoch_conflict",
        WriteError::Poisoned { .. } | WriteError::OutcomeUnknown { .. } => "poisoned",
        WriteError::LeadershipLost { .. } => "leadership_lost",
        _ => "other",
    };
    metrics::gauge!("wormlog_writer_stopped", "stream" => stream.to_owned(), "reason" => reason)
        .set(1.0);
}
