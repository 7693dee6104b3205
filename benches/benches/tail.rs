//! Tail latency: from an append's acknowledgement to its delivery by a follower using the
//! default poll policy (50 to 200 ms, backing off while idle), on MemoryStore, so what is
//! measured is the follow loop itself. Appends come at random moments (0 to 300 ms apart) so
//! they land anywhere in the poll cycle. Prints p50, p99 and max after the run.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use parking_lot::Mutex;
use wormlog_reader::{FollowPolicy, LogReader, ScanItem};
use wormlog_store::{Clock, MemoryStore, ObjectStore, SeededRng, SystemClock};
use wormlog_writer::{LogWriter, WriterConfig};

fn tail(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let mut g = c.benchmark_group("tail");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    let seen = Arc::clone(&latencies);
    g.bench_function("append_ack_to_delivery", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let seen = Arc::clone(&seen);
            async move {
                let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
                let w = LogWriter::open(Arc::clone(&store), WriterConfig::new("tail", 1, "w"))
                    .await
                    .unwrap();
                let reader = LogReader::new(store, "", "tail").unwrap();
                let (mut follow, stop) = reader.follow(0, FollowPolicy::default()).await.unwrap();
                // The follower runs on its own, stamping each delivery as it happens.
                let clock = Arc::new(SystemClock::new());
                let (tx, mut delivered) = tokio::sync::mpsc::unbounded_channel();
                let stamp = Arc::clone(&clock);
                let follower = tokio::spawn(async move {
                    while let Ok(Some(item)) = follow.next().await {
                        if let ScanItem::Event(e) = item {
                            let _ = tx.send((e.seq, stamp.monotonic()));
                        }
                    }
                });
                let mut rng = SeededRng::new(iters);
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    tokio::time::sleep(Duration::from_millis(rng.below(300))).await;
                    let ack = w.append("t", "1").await.unwrap();
                    let acked = clock.monotonic();
                    let at = loop {
                        let (seq, at) = delivered.recv().await.expect("the follower runs");
                        if seq == ack.seq {
                            break at;
                        }
                    };
                    let dt = at.saturating_sub(acked);
                    seen.lock().push(dt);
                    total += dt;
                }
                stop.stop();
                let _ = follower.await;
                total
            }
        })
    });
    g.finish();
    let mut l = latencies.lock().clone();
    l.sort();
    if !l.is_empty() {
        let at = |q: f64| l[((l.len() - 1) as f64 * q).round() as usize];
        println!(
            "tail latency over {} appends: p50 {:?}, p99 {:?}, max {:?}",
            l.len(),
            at(0.50),
            at(0.99),
            l[l.len() - 1]
        );
    }
}

criterion_group!(benches, tail);
criterion_main!(benches);
