//! Real OS processes on one FsStore directory: two leaders racing (split brain), and a writer
//! killed with SIGKILL mid-append. The log is then read with the library's reader.

mod support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use support::{acks, Env};
use wormlog::{FsStore, LogReader, ScanItem};

/// A `wormlog append --streaming` process whose stdin a thread feeds and whose acks a thread
/// collects.
struct Appender {
    child: Child,
    acks: Arc<Mutex<Vec<String>>>,
    feeder: JoinHandle<()>,
    collector: JoinHandle<()>,
}

impl Appender {
    /// Starts an appender fed `lines` lines of `payload_bytes`, one every `pace`.
    fn start(
        env: &Env,
        epoch: u64,
        id: &str,
        lines: usize,
        payload_bytes: usize,
        pace: Duration,
    ) -> Appender {
        let mut child = env
            .cmd(&[
                "append",
                "--streaming",
                "--epoch",
                &epoch.to_string(),
                "--writer-id",
                id,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let id_owned = id.to_owned();
        let feeder = std::thread::spawn(move || {
            let pad = "p".repeat(payload_bytes);
            for i in 0..lines {
                let line = format!("{{\"writer\":\"{id_owned}\",\"i\":{i},\"pad\":\"{pad}\"}}\n");
                if stdin.write_all(line.as_bytes()).is_err() {
                    return; // the process stopped (fenced or killed)
                }
                if !pace.is_zero() {
                    std::thread::sleep(pace);
                }
            }
        });
        let out = child.stdout.take().unwrap();
        let acks = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&acks);
        let collector = std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Appender {
            child,
            acks,
            feeder,
            collector,
        }
    }

    fn ack_count(&self) -> usize {
        self.acks.lock().unwrap().len()
    }

    fn wait_for_acks(&self, n: usize) {
        for _ in 0..3000 {
            if self.ack_count() >= n {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("no {n} acks within 15 s (got {})", self.ack_count());
    }

    /// Waits for the process; returns its exit code, acks and stderr.
    fn finish(mut self) -> (Option<i32>, Vec<(u64, String)>, String) {
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            std::io::Read::read_to_string(&mut e, &mut err).unwrap();
        }
        self.feeder.join().unwrap();
        self.collector.join().unwrap();
        let text = self.acks.lock().unwrap().join("\n");
        (status.code(), acks(&text), err)
    }
}

/// Reads the whole stream; panics on any reader error. Returns (seq, id, epoch) per event.
fn read_log(env: &Env) -> Vec<(u64, String, u64)> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let reader = LogReader::new(Arc::new(FsStore::open(env.store())), "", "s").unwrap();
        let mut scan = reader.scan(0).await.unwrap();
        let mut out = Vec::new();
        while let Some(item) = scan
            .next()
            .await
            .expect("I1/I2: every segment is whole and no slot is missing")
        {
            match item {
                ScanItem::Event(e) => {
                    out.push((e.seq, e.id.to_string(), e.meta.fencing_token.epoch))
                }
                ScanItem::Zombie { slot, .. } => {
                    panic!("a zombie at slot {slot}: a stale write was committed")
                }
                ScanItem::Control { .. } => {}
            }
        }
        out
    })
}

/// Every acknowledged event is in the log at its seq (I3); ids are unique (I7); epochs never
/// decrease (I4); seqs run 0.. without gaps (I2).
fn check_log(log: &[(u64, String, u64)], acked: &[(u64, String)]) {
    for (i, (seq, _, _)) in log.iter().enumerate() {
        assert_eq!(*seq, i as u64, "I2: seqs run without gaps");
    }
    assert!(
        log.windows(2).all(|w| w[0].2 <= w[1].2),
        "I4: epochs never decrease along the log"
    );
    let ids: HashSet<_> = log.iter().map(|e| &e.1).collect();
    assert_eq!(ids.len(), log.len(), "I7: event ids are unique");
    for (seq, id) in acked {
        let found = log
            .get(*seq as usize)
            .unwrap_or_else(|| panic!("I3: acked seq {seq} missing"));
        assert_eq!(&found.1, id, "I3: acked seq {seq} holds another event");
    }
}

/// One line per slot: kind, epoch, writer, first seq and count, for failure messages.
fn describe_slots(env: &Env) -> String {
    let dir = env.store().join("objects/s/log");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    names
        .iter()
        .map(
            |n| match wormlog::format::decode_header(&std::fs::read(dir.join(n)).unwrap()) {
                Ok(h) => format!(
                    "{} {} e{} {} seq{}+{}",
                    h.slot,
                    h.kind.as_str(),
                    h.epoch,
                    h.writer,
                    h.first_seq,
                    h.count
                ),
                Err(e) => format!("{n:?} undecodable: {e}"),
            },
        )
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn two_processes_with_epochs_1_and_2_leave_one_consistent_log() {
    let env = Env::new();
    let a = Appender::start(&env, 1, "leader-a", 100_000, 64, Duration::from_millis(1));
    a.wait_for_acks(40);
    let b = Appender::start(&env, 2, "leader-b", 300, 64, Duration::from_micros(200));
    let (b_code, b_acks, b_err) = b.finish();
    let (a_code, a_acks, a_err) = a.finish();
    assert_eq!(b_code, Some(0), "B (epoch 2) finishes: {b_err}");
    assert_eq!(b_acks.len(), 300);
    assert_eq!(
        a_code,
        Some(3),
        "A (epoch 1) exits 3, fenced: {a_err}\nA acks {}\n{}",
        a_acks.len(),
        describe_slots(&env)
    );
    assert!(
        a_err.contains("fenced") && a_err.contains("412"),
        "A says why: {a_err}"
    );
    let log = read_log(&env);
    let mut all = a_acks.clone();
    all.extend(b_acks.iter().cloned());
    check_log(&log, &all);
    assert_eq!(
        log.len(),
        all.len(),
        "I6: nothing unacknowledged is in the log"
    );
    let first_b = log.iter().position(|e| e.2 == 2).unwrap();
    assert!(
        log[first_b..].iter().all(|e| e.2 == 2),
        "after B's first event, only epoch 2"
    );
    assert!(
        a_acks.iter().all(|(seq, _)| (*seq as usize) < first_b),
        "every A ack precedes B's epoch"
    );
}

#[test]
fn kill_9_mid_append_leaves_no_partial_object_and_loses_no_acknowledged_event() {
    let env = Env::new();
    let mut acked = Vec::new();
    for (round, kill_after) in [7usize, 23, 41, 3].into_iter().enumerate() {
        let epoch = round as u64 + 1;
        let mut w = Appender::start(
            &env,
            epoch,
            &format!("w{round}"),
            100_000,
            16 * 1024,
            Duration::ZERO,
        );
        w.wait_for_acks(kill_after);
        w.child.kill().unwrap(); // SIGKILL, mid-stream: PUTs are in flight
        let (code, round_acks, _) = w.finish();
        assert_eq!(code, None, "killed by a signal");
        assert!(round_acks.len() >= kill_after);
        acked.extend(round_acks);
        // Reopening (the next round's writer, or a reader) sees only whole segments.
        check_log(&read_log(&env), &acked);
    }
    // Every object in the log directory decodes; temp files stay out of the log.
    for entry in std::fs::read_dir(env.store().join("objects/s/log")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        wormlog::format::decode_segment(&bytes).expect("I1: no partial object is visible");
    }
    let o = env.run(&["append", "--epoch", "9", "\"after the crashes\""]);
    support::assert_exit(&o, 0);
    let log = read_log(&env);
    assert_eq!(log.last().unwrap().2, 9);
}
