//! Per-operation request, error and latency counters of one [`crate::S3Store`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wormlog_store::{Op, RequestStats};

const OPS: [Op; 9] = [
    Op::PutIfAbsent,
    Op::PutIfMatch,
    Op::Get,
    Op::Head,
    Op::List,
    Op::Delete,
    Op::SetRetention,
    Op::SetLegalHold,
    Op::Upload,
];

#[derive(Debug, Default)]
struct Cells {
    requests: AtomicU64,
    errors: AtomicU64,
    micros: AtomicU64,
}

/// All counters of a store.
#[derive(Debug, Default)]
pub struct S3Stats {
    cells: [Cells; OPS.len()],
}

impl S3Stats {
    fn index(op: Op) -> usize {
        OPS.iter()
            .position(|o| *o == op)
            .expect("every op is counted")
    }

    pub(crate) fn record(&self, op: Op, latency: Duration, failed: bool) {
        let c = &self.cells[Self::index(op)];
        c.requests.fetch_add(1, Ordering::Relaxed);
        c.micros
            .fetch_add(latency.as_micros() as u64, Ordering::Relaxed);
        if failed {
            c.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counters of every operation that saw a request.
    pub fn snapshot(&self) -> Vec<RequestStats> {
        OPS.iter()
            .zip(&self.cells)
            .map(|(op, c)| RequestStats {
                op: op.name(),
                requests: c.requests.load(Ordering::Relaxed),
                errors: c.errors.load(Ordering::Relaxed),
                total_latency_us: c.micros.load(Ordering::Relaxed),
            })
            .filter(|s| s.requests > 0)
            .collect()
    }
}
