//! Segment encode, decode (CRC included) and CRC alone, in bytes per second; and preparing
//! one event: JSON data (checked, kept token for token) against raw bytes of the same size
//! (SHA-256 and base64, inline) and against those bytes in base64 in a JSON string.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use uuid::Uuid;
use wormlog_format::{decode_segment, encode_segment, NewEvent};

fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("segment");
    for event_bytes in [64usize, 256, 4096] {
        let events = wormlog_benches::events(1000, event_bytes);
        let (bytes, _) = encode_segment(&wormlog_benches::spec(), &events);
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_with_input(BenchmarkId::new("encode", event_bytes), &events, |b, e| {
            b.iter(|| encode_segment(&wormlog_benches::spec(), e))
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

fn new_event(c: &mut Criterion) {
    let mut g = c.benchmark_group("new_event");
    let time = "2026-11-22T00:00:00.000Z";
    for bytes in [256usize, 4096, 65536] {
        let json = format!("\"{}\"", "x".repeat(bytes - 2));
        let raw: Vec<u8> = (0..bytes).map(|i| (i * 131 % 251) as u8).collect();
        let b64 = format!("\"{}\"", base64_simd::STANDARD.encode_to_string(&raw));
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_with_input(BenchmarkId::new("json", bytes), &json, |b, d| {
            b.iter(|| NewEvent::new(Uuid::nil(), "bench", time, d).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("raw_inline", bytes), &raw, |b, d| {
            b.iter(|| NewEvent::inline(Uuid::nil(), "bench", time, "application/xml", d).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("base64_in_json", bytes), &b64, |b, d| {
            b.iter(|| NewEvent::new(Uuid::nil(), "bench", time, d).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, codec, new_event);
criterion_main!(benches);
