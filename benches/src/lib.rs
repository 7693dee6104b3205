//! Inputs shared by the benchmarks: events of a given size.

use uuid::Uuid;
use wormlog_format::NewEvent;

/// `n` events whose JSON data is about `bytes` long.
pub fn events(n: usize, bytes: usize) -> Vec<NewEvent> {
    let payload = format!("\"{}\"", "x".repeat(bytes.saturating_sub(2)));
    (0..n)
        .map(|i| {
            NewEvent::new(
                Uuid::from_u128(i as u128),
                "bench",
                "2026-11-22T00:00:00.000Z",
                &payload,
            )
            .unwrap()
        })
        .collect()
}
