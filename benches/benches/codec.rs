//! Segment encode, decode (CRC included) and CRC alone, in bytes per second.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use uuid::Uuid;
use wormlog_format::{decode_segment, encode_segment, SegmentKind, SegmentSpec};

fn spec() -> SegmentSpec {
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

fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("segment");
    for event_bytes in [64usize, 256, 4096] {
        let events = wormlog_benches::events(1000, event_bytes);
        let (bytes, _) = encode_segment(&spec(), &events);
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_with_input(BenchmarkId::new("encode", event_bytes), &events, |b, e| {
            b.iter(|| encode_segment(&spec(), e))
        });
        g.bench_with_input(BenchmarkId::new("decode", event_bytes), &bytes, |b, s| {
            b.iter(|| decode_segment(s).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("crc32", event_bytes), &bytes, |b, s| {
            b.iter(|| crc32fast::hash(s))
        });
    }
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
