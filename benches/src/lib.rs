//! Inputs shared by the benchmarks: events of a given size.

use uuid::Uuid;
use wormlog_format::{NewEvent, SegmentKind, SegmentSpec};

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

/// The header of the events segments the benchmarks encode.
pub fn spec() -> SegmentSpec {
    SegmentSpec {
        stream: "bench".into(),
        slot: 1,
        kind: SegmentKind::Events,
        first_seq: 0,
        epoch: 1,
        writer: "w".into(),
        write_id: Uuid::nil(),
        prev: None,
        window: 1,
        created_at: "2026-11-22T00:00:00.000Z".into(),
    }
}
