//! Running the real `wormlog` binary against a temporary store.

#![allow(dead_code)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use wormlog::{FsStore, LogReader, ObjectStore, ScanItem};
use wormlog_s3::S3Store;
use wormlog_tests::servers::Server;

pub const BIN: &str = env!("CARGO_BIN_EXE_wormlog");

/// A store the commands use (a temporary directory, or a fresh bucket on a test S3 server),
/// and the stream `s`.
pub struct Env {
    pub dir: tempfile::TempDir,
    s3: Option<(Server, String)>,
}

impl Env {
    /// A fresh directory store.
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
            s3: None,
        }
    }

    /// A fresh bucket on `server` (created, unversioned).
    pub fn s3(server: Server) -> Env {
        Env::s3_bucket(server, &Server::fresh_bucket("wl-cli"), false)
    }

    /// `bucket` on `server`, created (with Object Lock, hence versioning, if `object_lock`).
    pub fn s3_bucket(server: Server, bucket: &str, object_lock: bool) -> Env {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(server.store(bucket, object_lock));
        Env {
            dir: tempfile::tempdir().unwrap(),
            s3: Some((server, bucket.to_owned())),
        }
    }

    /// Starts `wormlog <args>` with stdin, stdout and stderr piped, for tests that feed it
    /// or signal it while it runs.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// The S3 bucket of an S3 environment.
    pub fn bucket(&self) -> String {
        self.s3.as_ref().expect("an S3 store").1.clone()
    }

    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// The `--store` argument.
    pub fn store_url(&self) -> String {
        match &self.s3 {
            Some((server, bucket)) => server.url(bucket, "cli"),
            None => self.store().display().to_string(),
        }
    }

    /// A plain DeleteObject of `key` (no version id) from an outside S3 client: on a
    /// versioned bucket it leaves a delete marker over the locked version.
    pub fn plain_delete(&self, rt: &tokio::runtime::Runtime, key: &str) {
        let (server, bucket) = self.s3.as_ref().expect("an S3 store");
        rt.block_on(async {
            let store = S3Store::connect(server.config(bucket)).await;
            store
                .client()
                .delete_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap();
        });
    }

    /// A plain PutObject of `key` (no condition) from an outside S3 client: on an
    /// unversioned bucket it replaces the object, as anyone with write access can.
    pub fn plain_put(&self, rt: &tokio::runtime::Runtime, key: &str, body: Vec<u8>) {
        let (server, bucket) = self.s3.as_ref().expect("an S3 store");
        rt.block_on(async {
            let store = S3Store::connect(server.config(bucket)).await;
            store
                .client()
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(body.into())
                .send()
                .await
                .unwrap();
        });
    }

    /// Whether this environment is an S3 bucket.
    pub fn is_s3(&self) -> bool {
        self.s3.is_some()
    }

    /// The same store, for reading with the library, and its root prefix.
    pub async fn open(&self) -> (Arc<dyn ObjectStore>, String) {
        match &self.s3 {
            Some((server, bucket)) => {
                let store: Arc<dyn ObjectStore> =
                    Arc::new(S3Store::connect(server.config(bucket)).await);
                (store, "cli".to_owned())
            }
            None => (Arc::new(FsStore::open(self.store())), String::new()),
        }
    }

    /// `wormlog --store <store> --stream s <args>`, ready to run.
    pub fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_in("s", args)
    }

    /// `wormlog --store <store> --stream <stream> <args>`, ready to run.
    pub fn cmd_in(&self, stream: &str, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--store")
            .arg(self.store_url())
            .args(["--stream", stream])
            .args(args);
        c.env_remove("WORMLOG_STORE")
            .env_remove("WORMLOG_STREAM")
            .env_remove("WORMLOG_LOG")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        if let Some((server, _)) = &self.s3 {
            c.envs(server.credential_env());
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, "")
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        self.run_with_stdin_bytes(args, stdin.as_bytes())
    }

    /// Runs on another stream of the same store.
    pub fn run_in(&self, stream: &str, args: &[&str]) -> Output {
        self.cmd_in(stream, args).output().unwrap()
    }

    pub fn run_with_stdin_bytes(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }

    /// The metadata sidecars of stream `s`'s segments, as text.
    pub fn sidecars(&self) -> Vec<String> {
        std::fs::read_dir(self.store().join("meta/s/log"))
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect()
    }

    /// Every file under the store directory with its bytes: to prove a command changed nothing.
    pub fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        walk(&self.store(), &mut out);
        out.sort();
        out
    }
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts the exit code, showing the output when it differs; never a panic in the binary.
pub fn assert_exit(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "exit code\nstdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
    assert!(
        !stderr(o).contains("panicked"),
        "the binary panicked: {}",
        stderr(o)
    );
}

/// Asserts the exit code (as [`assert_exit`]) and that stderr says `needle`.
pub fn assert_exit_saying(o: &Output, code: i32, needle: &str) {
    assert_exit(o, code);
    assert!(
        stderr(o).contains(needle),
        "stderr lacks {needle:?}: {}",
        stderr(o)
    );
}

/// Parses "seq id" acknowledgement lines.
/// The seqs of the events `cat` printed.
pub fn cat_seqs(o: &Output) -> Vec<u64> {
    stdout(o)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

pub fn acks(text: &str) -> Vec<(u64, String)> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (seq, id) = l.split_once(' ').expect("`seq id` lines");
            (seq.parse().unwrap(), id.to_owned())
        })
        .collect()
}

/// A `wormlog append --streaming` process whose stdin a thread feeds and whose acks a thread
/// collects.
pub struct Appender {
    pub child: Child,
    acks: Arc<Mutex<Vec<String>>>,
    feeder: JoinHandle<()>,
    collector: JoinHandle<()>,
}

impl Appender {
    /// Starts an appender fed `lines` lines of `payload_bytes`, one every `pace`.
    pub fn start(
        env: &Env,
        epoch: u64,
        id: &str,
        lines: usize,
        payload_bytes: usize,
        pace: Duration,
    ) -> Appender {
        // The suite's window (scripts/test.sh runs it with 1 and with 8): split brain pipelined.
        let in_flight = std::env::var("WORMLOG_TEST_IN_FLIGHT").unwrap_or_else(|_| "1".into());
        let mut child = env
            .cmd(&[
                "append",
                "--streaming",
                "--epoch",
                &epoch.to_string(),
                "--writer-id",
                id,
                "--in-flight",
                &in_flight,
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

    pub fn ack_count(&self) -> usize {
        self.acks.lock().unwrap().len()
    }

    pub fn wait_for_acks(&self, n: usize) {
        for _ in 0..6000 {
            if self.ack_count() >= n {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("no {n} acks within 30 s (got {})", self.ack_count());
    }

    /// Waits for the process; returns its exit code, acks and stderr.
    pub fn finish(mut self) -> (Option<i32>, Vec<(u64, String)>, String) {
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

/// Reads stream `s` of `env`'s store; panics on any reader error. (seq, id, epoch) per event.
pub fn read_log(env: &Env) -> Vec<(u64, String, u64)> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (store, prefix) = env.open().await;
        let reader = LogReader::new(store, &prefix, "s").unwrap();
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
                // A pipelined stale leader's batches in flight when it was fenced may land
                // above the new leader's records: leftovers readers skip (never acknowledged:
                // `log_of_two_leaders` checks every ack). A serial one leaves none.
                ScanItem::Zombie { slot, header, .. } => assert!(
                    header.window.is_some_and(|w| w > 1),
                    "a zombie at slot {slot}, sent with nothing unsettled: a stale write was committed"
                ),
                ScanItem::Purged { slot, .. } => panic!("slot {slot} was purged in a race test"),
                ScanItem::Leaves { .. } => unreachable!("a plain reader parses events"),
                ScanItem::Control { .. } | ScanItem::Void { .. } | ScanItem::Orphan { .. } => {}
            }
        }
        out
    })
}

/// Every acknowledged event is in the log at its seq (I3); ids are unique (I7); epochs never
/// decrease (I4); seqs run 0.. without gaps (I2).
/// The log after leaders A and B, checked against both one's acknowledgements: I2, I3, and
/// nothing unacknowledged in it (I6).
fn log_of_two_leaders(
    env: &Env,
    a_acks: &[(u64, String)],
    b_acks: &[(u64, String)],
) -> Vec<(u64, String, u64)> {
    let log = read_log(env);
    let all: Vec<(u64, String)> = a_acks.iter().chain(b_acks).cloned().collect();
    check_log(&log, &all);
    assert_eq!(
        log.len(),
        all.len(),
        "I6: nothing unacknowledged is in the log"
    );
    log
}

pub fn check_log(log: &[(u64, String, u64)], acked: &[(u64, String)]) {
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

/// Two leaders race on one stream: A (epoch 1) streams one line every `a_pace`, B (epoch 2)
/// opens after A's first `a_acks_first` acks. B finishes; A is fenced (exit 3, naming the 412);
/// the log is one consistent history in which all of A's acks precede B's epoch.
///
/// A lease-less stale leader that appends faster than the store answers always learns the
/// tail first and can delay a new leader's first commit (docs/protocol.md, known limits), so
/// `a_pace` leaves the store room.
pub fn split_brain_race(env: &Env, a_acks_first: usize, b_lines: usize, a_pace: Duration) {
    let a = Appender::start(env, 1, "leader-a", 100_000, 64, a_pace);
    a.wait_for_acks(a_acks_first);
    let b = Appender::start(env, 2, "leader-b", b_lines, 64, Duration::from_micros(200));
    let (b_code, b_acks, b_err) = b.finish();
    let (a_code, a_acks, a_err) = a.finish();
    assert_eq!(b_code, Some(0), "B (epoch 2) finishes: {b_err}");
    assert_eq!(b_acks.len(), b_lines);
    assert_eq!(
        a_code,
        Some(3),
        "A (epoch 1) exits 3, fenced: {a_err}\nA acks {}",
        a_acks.len()
    );
    assert!(
        a_err.contains("fenced") && a_err.contains("412"),
        "A says why: {a_err}"
    );
    let log = log_of_two_leaders(env, &a_acks, &b_acks);
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

/// Legal hold and retention on existing segments, read back through `verify --require-lock`.
pub fn hold_and_retention_scenario(env: &Env) {
    // Slots: 0 epoch-start, 1 seqs 0-1, 2 epoch-start (epoch 2), 3 seq 2. (`--expected-seq`
    // puts both events in one segment; plain appends may commit the first alone.)
    assert_exit(
        &env.run(&["append", "--epoch", "1", "--expected-seq", "0", "0", "1"]),
        0,
    );
    assert_exit(&env.run(&["append", "--epoch", "2", "2"]), 0);
    let locks = |env: &Env| -> serde_json::Value {
        let o = env.run(&["verify", "--require-lock", "--json"]);
        serde_json::from_str::<serde_json::Value>(&stdout(&o)).unwrap()["locks"].clone()
    };
    let o = env.run(&["hold", "set", "--from-seq", "1", "--to-seq", "2"]);
    assert_exit(&o, 0);
    assert_eq!(
        stdout(&o),
        "slot 1: legal hold set\n  slot 1 also holds seqs [0], outside the range given: they share its lock (append --one-per-segment keeps documents apart)\nslot 3: legal hold set\n",
        "the segment's other events are named: Object Lock applies to whole segments"
    );
    let l = locks(env);
    let held: Vec<bool> = l
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["legal_hold"].as_bool().unwrap())
        .collect();
    assert_eq!(held, [false, true, false, true]);
    assert_exit(&env.run(&["hold", "clear", "--slot", "3"]), 0);
    assert_eq!(locks(env)[3]["legal_hold"], false);
    let o = env.run(&["retention", "extend", "--days", "2"]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("--mode"), "{}", stderr(&o));
    assert_exit(
        &env.run(&["retention", "extend", "--days", "2", "--mode", "compliance"]),
        0,
    );
    assert!(locks(env)
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["mode"] == "COMPLIANCE"));
    let o = env.run(&["retention", "extend", "--days", "1", "--slot", "1"]);
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("already lasts longer; retention is never shortened"),
        "{}",
        stdout(&o)
    );
    assert_exit(&env.run(&["verify", "--require-lock"]), 0);
    assert_exit(&env.run(&["hold", "set", "--slot", "99"]), 2);
}

/// `verify --json` as a JSON value (its exit code checked: 0 when `clean`, else 1).
pub fn verify_json(env: &Env, clean: bool) -> serde_json::Value {
    let o = env.run(&["verify", "--json"]);
    assert_exit(&o, if clean { 0 } else { 1 });
    serde_json::from_str(&stdout(&o)).unwrap()
}

/// The audited GOVERNANCE purge: refused without the flag, on COMPLIANCE retention, on a legal
/// hold and on control records, changing nothing; allowed on GOVERNANCE retention, leaving a
/// purge record that `verify` reports as documented while readers go on past the slot.
pub fn purge_scenario(env: &Env) {
    // Each append under a new epoch, so each opens with an epoch-start record (a writer whose
    // epoch already holds the tail writes none): slots 2 and 4 are control records.
    let append = |epoch: &str, lock: &str, expected_seq: &str, data: &[&str]| {
        let mut args = vec![
            "append",
            "--epoch",
            epoch,
            "--lock-mode",
            lock,
            "--retain-days",
            "1",
            "--expected-seq",
            expected_seq,
        ];
        args.extend_from_slice(data);
        assert_exit(&env.run(&args), 0);
    };
    // Slots: 0 epoch-start, 1 seqs 0-1 (GOVERNANCE), 2 epoch-start, 3 seq 2 (COMPLIANCE),
    // 4 epoch-start, 5 seq 3 (GOVERNANCE). `--expected-seq` keeps each append in one segment.
    append("1", "governance", "0", &["\"a\"", "\"b\""]);
    append("2", "compliance", "2", &["\"c\""]);
    append("3", "governance", "3", &["\"d\""]);
    let before = verify_json(env, true);
    let purge = |extra: &[&str]| {
        let mut args = vec![
            "purge",
            "--epoch",
            "4",
            "--operator",
            "auditor-a",
            "--reason",
            "erasure request 42",
        ];
        args.extend_from_slice(extra);
        // The segments were just written; the scenario is not about the grace period.
        if !extra.contains(&"--min-age") {
            args.extend_from_slice(&["--min-age", "0s"]);
        }
        env.run(&args)
    };
    let refused = |o: &Output, why: &str| {
        assert_exit(o, 2);
        assert!(stderr(o).contains(why), "{}", stderr(o));
        assert_eq!(
            verify_json(env, true),
            before,
            "a refused purge changed the log"
        );
    };
    refused(&purge(&["--slot", "1"]), "--bypass-governance");
    refused(
        &purge(&["--bypass-governance", "--slot", "3"]),
        "COMPLIANCE retention",
    );
    refused(
        &purge(&["--bypass-governance", "--slot", "1", "--slot", "3"]),
        "COMPLIANCE retention",
    );
    refused(
        &purge(&["--bypass-governance", "--slot", "2"]),
        "control record",
    );
    refused(
        &purge(&["--bypass-governance", "--slot", "9"]),
        "no segment at slot 9",
    );
    refused(
        &purge(&["--bypass-governance", "--slot", "1", "--min-age", "1h"]),
        "a writer may still be retrying it",
    );
    assert_exit(&env.run(&["hold", "set", "--slot", "5"]), 0);
    refused(
        &purge(&["--bypass-governance", "--slot", "5"]),
        "legal hold",
    );
    assert_exit(&env.run(&["hold", "clear", "--slot", "5"]), 0);

    // Slot 6 is the purge writer's epoch-start, 7 its purge record.
    let o = purge(&["--bypass-governance", "--slot", "1"]);
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("slot 1: purged (documented by the purge record at slot 7)"),
        "{}",
        stdout(&o)
    );
    let report = verify_json(env, true);
    assert_eq!(report["findings"], serde_json::json!([]));
    let purges = report["purges"].as_array().unwrap();
    assert_eq!(purges.len(), 1, "{report}");
    assert_eq!(purges[0]["slot"], 1);
    assert_eq!(purges[0]["record_slot"], 7);
    assert_eq!(purges[0]["operator"], "auditor-a");
    assert_eq!(purges[0]["reason"], "erasure request 42");
    assert_eq!(
        (purges[0]["first_seq"].as_u64(), purges[0]["count"].as_u64()),
        (Some(0), Some(2))
    );
    let text = env.run(&["verify"]);
    assert_exit(&text, 0);
    assert!(
        stdout(&text).contains("purged by \"auditor-a\" (record at slot 7): erasure request 42")
    );

    // Readers pass the purged slot; the remaining events keep their seqs.
    let o = env.run(&["cat"]);
    assert_exit(&o, 0);
    let seqs = cat_seqs(&o);
    assert_eq!(seqs, [2, 3]);
    assert!(
        stderr(&o).contains("slot 1 (seqs 0..2) was purged by \"auditor-a\""),
        "{}",
        stderr(&o)
    );
    // The next append continues the seqs.
    let o = env.run(&["append", "--epoch", "4", "\"e\""]);
    assert_exit(&o, 0);
    assert!(stdout(&o).starts_with("4 "), "{}", stdout(&o));
}

/// A new leader takes over from a lease-less stale one that appends as fast as the store
/// answers: A (epoch 1) streams lines with no pause; once it is well under way, one
/// `wormlog append --epoch 2` runs. It must be in the log while A is still writing (fencing
/// ahead; a chase by reads used to last as long as A wrote), with no warning, A exits 3, and
/// the log is one history. Returns (the contended append's time, the same append's time on a
/// quiet stream of the same store) for the caller to print.
pub fn takeover_race(env: &Env) -> (Duration, Duration) {
    let clock = wormlog::store::SystemClock::new();
    let timed = |stream: &str, epoch: &str, data: &str| {
        let started = wormlog::store::Clock::monotonic(&clock);
        let o = env.run_in(
            stream,
            &["append", "--epoch", epoch, "--writer-id", "leader-b", data],
        );
        (o, wormlog::store::Clock::monotonic(&clock) - started)
    };
    // The baseline: an epoch change on a quiet stream (process start, verdict, listing,
    // epoch-start, event), as warm as the contended one.
    assert_exit(&env.run_in("quiet", &["append", "--epoch", "1", "0"]), 0);
    let (o, quiet) = timed("quiet", "2", "1");
    assert_exit(&o, 0);

    const LINES: usize = 1_000_000;
    let a = Appender::start(env, 1, "leader-a", LINES, 64, Duration::ZERO);
    a.wait_for_acks(500);
    let (b, contended) = timed("s", "2", r#"{"b":1}"#);
    let a_running = a.ack_count() < LINES;
    let (a_code, a_acks, a_err) = a.finish();
    assert_exit(&b, 0);
    assert!(a_running, "A was still appending when B was in");
    assert!(
        !stderr(&b).contains("WARN"),
        "no warning on the way in: {}",
        stderr(&b)
    );
    assert_eq!(a_code, Some(3), "A (epoch 1) exits 3, fenced: {a_err}");
    let b_acks = acks(&stdout(&b));
    assert_eq!(b_acks.len(), 1);
    let log = log_of_two_leaders(env, &a_acks, &b_acks);
    let first_b = log.iter().position(|e| e.2 == 2).unwrap();
    assert!(
        a_acks.iter().all(|(seq, _)| (*seq as usize) < first_b),
        "every A ack precedes B's epoch"
    );
    (contended, quiet)
}
