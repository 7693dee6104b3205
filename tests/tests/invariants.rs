//! I3, I4, I7 and I8 over random histories: several writers with increasing epochs open and
//! append in random interleavings on one store; every acknowledged event must be found at its
//! acknowledged seq, valid epochs never decrease, ids are unique, and replays agree.

use std::collections::HashSet;
use std::sync::Arc;

use proptest::prelude::*;
use wormlog_reader::{LogReader, ScanItem};
use wormlog_store::{MemoryStore, ObjectStore};
use wormlog_tests::writer_config;
use wormlog_writer::{Appended, LogWriter};

/// One step of a history: writer `w` appends `n` events (opening it first if needed).
#[derive(Clone, Debug)]
struct Step {
    writer: usize,
    events: usize,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (0usize..4, 1usize..5).prop_map(|(writer, events)| Step { writer, events }),
        1..25,
    )
}

async fn run_history(steps: Vec<Step>) {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let mut writers: Vec<Option<LogWriter>> = (0..4).map(|_| None).collect();
    let mut acked: Vec<Appended> = Vec::new();
    for step in steps {
        if writers[step.writer].is_none() {
            // Writer i always carries epoch i+1: a later-opened lower epoch is fenced at open.
            let cfg = writer_config("p", step.writer as u64 + 1, &format!("w{}", step.writer));
            match LogWriter::open(Arc::clone(&store), cfg).await {
                Ok(w) => writers[step.writer] = Some(w),
                Err(e) => {
                    assert!(e.is_fenced(), "open fails only by fencing: {e:?}");
                    continue;
                }
            }
        }
        let w = writers[step.writer].as_ref().unwrap();
        let futs: Vec<_> = (0..step.events)
            .map(|i| w.append("t", &i.to_string()))
            .collect();
        for f in futs {
            match f.await {
                Ok(a) => acked.push(a),
                Err(e) => assert!(e.is_fenced(), "appends fail only by fencing here: {e:?}"),
            }
        }
    }
    let reader = LogReader::new(Arc::clone(&store), "", "p").unwrap();
    let mut scan = reader.scan(0).await.unwrap();
    let mut delivered = Vec::new();
    let mut last_epoch = 0;
    while let Some(item) = scan.next().await.unwrap() {
        match item {
            ScanItem::Event(e) => {
                assert!(
                    e.meta.fencing_token.epoch >= last_epoch,
                    "I4: epochs never decrease"
                );
                last_epoch = e.meta.fencing_token.epoch;
                delivered.push(e);
            }
            ScanItem::Control { header, .. } => last_epoch = last_epoch.max(header.epoch),
            ScanItem::Zombie { .. } => panic!("correct writers never leave a zombie"),
            ScanItem::Purged { .. } => panic!("nothing was purged"),
            ScanItem::Void { .. } => panic!("correct writers with a window of 1 leave no void"),
            ScanItem::Orphan { .. } => panic!("correct writers with a window of 1 leave no orphan"),
            ScanItem::Leaves { .. } => unreachable!("a plain reader parses events"),
        }
    }
    for a in &acked {
        let e = delivered
            .get(a.seq as usize)
            .expect("I3: every acknowledged seq is in the log");
        assert_eq!(
            (e.seq, e.id),
            (a.seq, a.id),
            "I3: acknowledged event found at its seq"
        );
    }
    assert_eq!(
        delivered.len(),
        acked.len(),
        "nothing unacknowledged appears"
    );
    let ids: HashSet<_> = delivered.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), delivered.len(), "I7: event ids are unique");
    let again = reader.read_events(0, None).await.unwrap();
    assert_eq!(again, delivered, "I8: a second replay is identical");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn i3_i4_i7_i8_hold_for_random_multi_writer_histories(steps in steps()) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(run_history(steps));
    }
}
