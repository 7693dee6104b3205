//! The `wormlog` command's contract (architecture.md): what it prints and its exit codes.

mod support;

use std::os::unix::fs::PermissionsExt;

use support::{acks, assert_exit, stderr, stdout, Env};

#[test]
fn append_prints_seq_and_id_and_cat_prints_the_events() {
    let env = Env::new();
    let o = env.run(&[
        "append",
        "--epoch",
        "1",
        "--type",
        "greeting",
        r#"{"hello":"world"}"#,
        "42",
    ]);
    assert_exit(&o, 0);
    let a = acks(&stdout(&o));
    assert_eq!(a.iter().map(|x| x.0).collect::<Vec<_>>(), [0, 1]);
    let o = env.run_with_stdin(&["append", "--epoch", "1"], "\"from stdin\"\n\n[1,2]\n");
    assert_exit(&o, 0);
    assert_eq!(
        acks(&stdout(&o)).iter().map(|x| x.0).collect::<Vec<_>>(),
        [2, 3]
    );
    let o = env.run(&["cat"]);
    assert_exit(&o, 0);
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["data"], serde_json::json!({"hello": "world"}));
    assert_eq!(lines[0]["type"], "greeting");
    assert_eq!(lines[0]["id"], a[0].1.as_str());
    assert_eq!(lines[3]["data"], serde_json::json!([1, 2]));
    assert_eq!(lines[3]["meta"]["fencing_token"]["epoch"], 1);
    let o = env.run(&["cat", "--from", "1", "--to", "2"]);
    assert_eq!(stdout(&o).lines().count(), 2);
}

#[test]
fn malformed_json_to_append_exits_2_and_writes_nothing() {
    let env = Env::new();
    env.run(&["append", "--epoch", "1", "1"]);
    let before = env.snapshot();
    for (args, stdin) in [
        (vec!["append", "--epoch", "1", "{\"a\":"], ""),
        (vec!["append", "--epoch", "1", "1", "not json"], ""),
        (vec!["append", "--epoch", "1"], "1\n2\n{oops\n"),
        (vec!["append", "--epoch", "1"], "\u{0}\u{1}binary"),
    ] {
        let o = env.run_with_stdin(&args, stdin);
        assert_exit(&o, 2);
        assert!(
            stderr(&o).contains("not valid JSON") && stderr(&o).contains("nothing was appended"),
            "{}",
            stderr(&o)
        );
        assert_eq!(env.snapshot(), before, "I9: {args:?} changed the store");
    }
}

#[test]
fn malformed_input_to_a_fresh_store_does_not_even_create_it() {
    let env = Env::new();
    let o = env.run(&["append", "--epoch", "1", "{"]);
    assert_exit(&o, 2);
    assert!(
        !env.store().exists(),
        "the store directory was created by a failed command"
    );
}

#[test]
fn bad_usage_exits_2_with_a_message() {
    let env = Env::new();
    for args in [
        vec!["append", "1"],                 // no --epoch
        vec!["append", "--epoch", "0", "1"], // epoch 0
        vec!["append", "--epoch", "x", "1"],
        vec!["append", "--epoch", "1", "--lock-mode", "compliance", "1"], // no --retain-days
        vec![
            "append",
            "--epoch",
            "1",
            "--lock-mode",
            "forever",
            "--retain-days",
            "1",
            "1",
        ],
        vec!["cat", "--from", "5", "--to", "2"],
        vec!["frobnicate"],
    ] {
        let o = env.run(&args);
        assert_exit(&o, 2);
        assert!(!stderr(&o).is_empty(), "{args:?} printed no error");
    }
    let o = env
        .cmd(&["cat"])
        .args(["--stream", "../etc"])
        .output()
        .unwrap();
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("invalid stream name"), "{}", stderr(&o));
    let o = std::process::Command::new(support::BIN)
        .args(["--store", "gs://bucket", "cat"])
        .output()
        .unwrap();
    assert_exit(&o, 2);
    assert!(!env.store().exists());
}

#[test]
fn a_stale_epoch_exits_3_and_says_it_is_fenced() {
    let env = Env::new();
    assert_exit(&env.run(&["append", "--epoch", "2", "1"]), 0);
    let before = env.snapshot();
    let o = env.run(&["append", "--epoch", "1", "2"]);
    assert_exit(&o, 3);
    assert!(
        stderr(&o).contains("fenced") && stderr(&o).contains("epoch 2"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        env.snapshot(),
        before,
        "a writer fenced at open writes nothing"
    );
}

#[test]
fn expected_seq_appends_only_at_that_seq() {
    let env = Env::new();
    let o = env.run(&["append", "--epoch", "1", "--expected-seq", "0", "1", "2"]);
    assert_exit(&o, 0);
    assert_eq!(acks(&stdout(&o)).len(), 2);
    let o = env.run(&["append", "--epoch", "1", "--expected-seq", "0", "3"]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("expected next seq 0"), "{}", stderr(&o));
    let o = env.run(&["cat"]);
    assert_eq!(stdout(&o).lines().count(), 2);
}

#[test]
fn a_corrupted_segment_makes_cat_exit_1_naming_the_slot() {
    let env = Env::new();
    assert_exit(&env.run(&["append", "--epoch", "1", r#"{"n":1}"#]), 0);
    assert_exit(&env.run(&["append", "--epoch", "2", r#"{"n":2}"#]), 0);
    // Slots: 0 epoch-start, 1 {"n":1}, 2 epoch-start (epoch 2), 3 {"n":2}. Flip a byte of slot 3.
    let path = env.store().join("objects/s/log/00000000000000000003");
    let mut bytes = std::fs::read(&path).unwrap();
    let i = bytes.iter().rposition(|&b| b == b'2').unwrap();
    bytes[i] = b'3';
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let o = env.run(&["cat"]);
    assert_exit(&o, 1);
    assert_eq!(
        stdout(&o).lines().count(),
        1,
        "the event before the corruption is printed"
    );
    assert!(
        !stdout(&o).contains("\"n\":3"),
        "corrupt data is never delivered"
    );
    assert!(
        stderr(&o).contains("slot 3") && stderr(&o).contains("corrupt"),
        "{}",
        stderr(&o)
    );
    // Garbage, not just a flipped byte.
    std::fs::write(&path, b"\xff\xfe garbage \x00").unwrap();
    let o = env.run(&["cat"]);
    assert_exit(&o, 1);
    assert!(stderr(&o).contains("slot 3"), "{}", stderr(&o));
}

#[test]
fn streaming_append_keeps_lines_before_a_bad_one() {
    let env = Env::new();
    let o = env.run_with_stdin(
        &["append", "--epoch", "1", "--streaming"],
        "1\n2\nnope\n4\n",
    );
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains("stdin line 3") && stderr(&o).contains("lines before it were appended"),
        "{}",
        stderr(&o)
    );
    assert_eq!(acks(&stdout(&o)).len(), 2);
    let o = env.run(&["cat"]);
    assert_eq!(stdout(&o).lines().count(), 2);
    let o = env.run_with_stdin(&["append", "--epoch", "1", "--streaming"], "bad\n");
    assert_exit(&o, 2);
    let o = env.run_with_stdin(&["append", "--epoch", "1"], "");
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("nothing to append"), "{}", stderr(&o));
}

#[test]
fn init_with_object_lock_makes_every_segment_worm() {
    let env = Env::new();
    let o = env.run(&[
        "init",
        "--object-lock",
        "compliance",
        "--retention-days",
        "3",
    ]);
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("COMPLIANCE for 3 days"),
        "{}",
        stdout(&o)
    );
    assert_exit(&env.run(&["append", "--epoch", "1", "1"]), 0);
    let seg = env.store().join("objects/s/log/00000000000000000001");
    let mode = std::fs::metadata(&seg).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o444, "a retained segment is read-only");
    let sidecar = env
        .sidecars()
        .into_iter()
        .find(|s| s.contains("\"events\""))
        .unwrap();
    assert!(sidecar.contains("COMPLIANCE"), "{sidecar}");
    let o = env.run(&["init"]);
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("already existed") && stdout(&o).contains("COMPLIANCE"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn append_with_lock_flags_sets_retention_and_legal_hold() {
    let env = Env::new();
    let o = env.run(&[
        "append",
        "--epoch",
        "1",
        "--lock-mode",
        "governance",
        "--retain-days",
        "1",
        "--legal-hold",
        "1",
    ]);
    assert_exit(&o, 0);
    let sidecars = env.sidecars();
    assert!(
        sidecars
            .iter()
            .all(|s| s.contains("GOVERNANCE") && s.contains("\"legal_hold\":true")),
        "{sidecars:?}"
    );
}

#[test]
fn demo_fences_the_stale_leader_and_replays_one_history() {
    let env = Env::new();
    let o = env.run(&["demo"]);
    assert_exit(&o, 0);
    let out = stdout(&o);
    assert!(out.contains("refused with 412"), "{out}");
    assert!(out.contains("epoch 2 > 1, so A is fenced"), "{out}");
    assert!(
        out.contains(r#"state: {"o-1": "shipped", "o-2": "cancelled"}"#),
        "{out}"
    );
    let o = env.run(&["cat"]);
    assert_eq!(
        stdout(&o).lines().count(),
        5,
        "the demo wrote to the stream named by --stream"
    );
}

#[test]
fn cat_of_an_empty_stream_says_so() {
    let env = Env::new();
    assert_exit(&env.run(&["init"]), 0);
    let o = env.run(&["cat"]);
    assert_exit(&o, 0);
    assert!(stdout(&o).is_empty());
    assert!(stderr(&o).contains("has no segments"), "{}", stderr(&o));
}

#[test]
fn lease_acquire_prints_the_epoch_and_waits_out_a_live_holder() {
    let env = Env::new();
    let o = env.run(&["lease", "status"]);
    assert!(stdout(&o).contains("no lease yet"), "{}", stdout(&o));
    let o = env.run(&[
        "lease",
        "acquire",
        "--holder",
        "ops-a",
        "--duration-ms",
        "300",
    ]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o).trim(), "1");
    let o = env.run(&["lease", "status"]);
    assert!(
        stdout(&o).contains("held by ops-a at epoch 1"),
        "{}",
        stdout(&o)
    );
    use wormlog::store::Clock;
    let clock = wormlog::store::SystemClock::new();
    let o = env.run(&[
        "lease",
        "acquire",
        "--holder",
        "ops-b",
        "--duration-ms",
        "300",
    ]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o).trim(), "2");
    assert!(
        clock.monotonic() >= std::time::Duration::from_millis(300),
        "waited a full lease"
    );
    assert!(
        stderr(&o).contains("waiting for the lease held by ops-a (epoch 1)"),
        "says for whom it waits: {}",
        stderr(&o)
    );
    let o = env.run(&["lease", "release", "--holder", "ops-a"]);
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains("held by ops-b, not by ops-a"),
        "{}",
        stderr(&o)
    );
    assert_exit(&env.run(&["lease", "release", "--holder", "ops-b"]), 0);
    let o = env.run(&["lease", "status"]);
    assert!(
        stdout(&o).contains("free (released at epoch 2)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn append_with_the_lease_takes_it_appends_and_releases_it() {
    let env = Env::new();
    let o = env.run(&["append", "--lease", "--holder", "worker-1", r#"{"k":1}"#]);
    assert_exit(&o, 0);
    assert_eq!(acks(&stdout(&o)).len(), 1);
    let o = env.run(&["lease", "status"]);
    assert!(
        stdout(&o).contains("free (released at epoch 1)"),
        "{}",
        stdout(&o)
    );
    let o = env.run(&["append", "--lease", "--holder", "worker-2", "2"]);
    assert_exit(&o, 0);
    let lines: Vec<serde_json::Value> = stdout(&env.run(&["cat"]))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines[0]["meta"]["fencing_token"],
        serde_json::json!({"epoch": 1, "writer": "worker-1"})
    );
    assert_eq!(
        lines[1]["meta"]["fencing_token"],
        serde_json::json!({"epoch": 2, "writer": "worker-2"})
    );
    let o = env.run(&["append", "--epoch", "1", "3"]);
    assert_exit(&o, 3);
    let o = env.run(&["append", "--epoch", "2", "--lease", "3"]);
    assert_exit(&o, 2);
}

#[test]
fn verify_exits_0_on_a_whole_log_and_1_naming_the_slot_of_a_violation() {
    let env = Env::new();
    // Two invocations: slots 0 and 2 are epoch-starts, 1 and 3 hold seqs 0 and 1.
    assert_exit(&env.run(&["append", "--epoch", "1", "1"]), 0);
    assert_exit(&env.run(&["append", "--epoch", "1", "2"]), 0);
    let o = env.run(&["verify"]);
    assert_exit(&o, 0);
    assert!(stdout(&o).contains("no violations"), "{}", stdout(&o));
    let o = env.run(&["verify", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["events"], 2);
    assert_eq!(report["timeline"][0]["epoch"], 1);
    // A segment deleted below the tail (the last one's deletion leaves no trace in the log).
    std::fs::remove_file(env.store().join("objects/s/log/00000000000000000001")).unwrap();
    let o = env.run(&["verify", "--json"]);
    assert_exit(&o, 1);
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        report["findings"][0],
        serde_json::json!({"kind": "gap", "first": 1, "last": 1})
    );
    assert!(stderr(&o).contains("slot 1 is missing"), "{}", stderr(&o));
}

#[test]
fn cat_follow_prints_events_appended_after_it_started_and_stops_at_to() {
    let env = Env::new();
    assert_exit(&env.run(&["append", "--epoch", "1", "0"]), 0);
    let child = env
        .cmd(&["cat", "--follow", "--to", "2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert_exit(&env.run(&["append", "--epoch", "1", "1", "2", "3"]), 0);
    let o = child.wait_with_output().unwrap();
    assert_exit(&o, 0);
    let seqs = support::cat_seqs(&o);
    assert_eq!(seqs, [0, 1, 2]);
}

#[test]
fn policy_prints_parseable_json_for_each_document() {
    let env = Env::new();
    for (args, key) in [
        (
            vec!["policy", "--bucket", "ledger", "--prefix", "prod"],
            "Statement",
        ),
        (vec!["policy", "--bucket", "ledger", "--iam"], "Statement"),
        (
            vec![
                "policy",
                "--bucket",
                "ledger",
                "--lifecycle",
                "--retention-days",
                "30",
            ],
            "Rules",
        ),
    ] {
        let o = env.run(&args);
        assert_exit(&o, 0);
        let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert!(doc.get(key).is_some(), "{args:?}: {doc}");
    }
    assert_exit(
        &env.run(&["policy", "--bucket", "ledger", "--lifecycle"]),
        2,
    );
    assert_exit(&env.run(&["policy", "--bucket", "a/b"]), 2);
    assert!(!env.store().exists(), "policy touches no store");
}

#[test]
fn hold_and_retention_commands_on_the_directory_store() {
    support::hold_and_retention_scenario(&Env::new());
}

#[test]
fn governance_purge_is_audited_and_compliance_is_refused_on_the_directory_store() {
    support::purge_scenario(&Env::new());
}

#[test]
fn bench_reports_throughput_and_latency_as_json() {
    let env = Env::new();
    let o = std::process::Command::new(support::BIN)
        .args([
            "--store",
            "mem://",
            "bench",
            "--events",
            "3000",
            "--event-bytes",
            "64",
            "--streams",
            "3",
            "--json",
        ])
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(r["events"], 3000);
    assert_eq!(r["streams"], 3);
    assert!(r["events_per_sec"].as_f64().unwrap() > 0.0 && r["mb_per_sec"].as_f64().unwrap() > 0.0);
    assert!(
        r["segments"].as_u64().unwrap() >= 6,
        "an epoch-start and at least one batch per stream"
    );
    let p = &r["latency_ms"];
    assert!(p["p50"].as_f64().unwrap() <= p["p99"].as_f64().unwrap());
    assert!(p["p99"].as_f64().unwrap() <= p["p999"].as_f64().unwrap());
    assert!(!r["batch_sizes"].as_array().unwrap().is_empty());
    let o = env.run(&["bench", "--event-bytes", "1"]);
    assert_exit(&o, 2);
    let o = env.run(&["bench", "--events", "200", "--event-bytes", "32"]);
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("events/s") && stdout(&o).contains("p999"),
        "{}",
        stdout(&o)
    );
}

/// The bench's baselines and replay report what scripts/bench.sh divides, and the baselines
/// write what they say: raw-put the given bytes in objects of the given size, per-event one
/// object per event.
#[test]
fn bench_baselines_and_replay_report_their_figures() {
    let bench = |args: &[&str]| -> serde_json::Value {
        let o = std::process::Command::new(support::BIN)
            .args(["--store", "mem://", "bench", "--json"])
            .args(args)
            .output()
            .unwrap();
        assert_exit(&o, 0);
        serde_json::from_str(&stdout(&o)).unwrap()
    };
    let r = bench(&["--events", "2000", "--event-bytes", "100", "--replay"]);
    let replay = &r["replay"];
    for key in [
        "replay_mb_per_sec",
        "replay_events_per_sec",
        "raw_get_mb_per_sec",
    ] {
        assert!(replay[key].as_f64().unwrap() > 0.0, "{key}: {r}");
    }
    assert_eq!(replay["segment_bytes"], r["object_bytes_total"]);

    let r = bench(&[
        "--mode",
        "raw-put",
        "--events",
        "1000",
        "--event-bytes",
        "100",
        "--object-bytes",
        "30000",
    ]);
    assert_eq!(r["mode"], "raw-put");
    assert_eq!(r["object_bytes_total"], 100_000);
    assert_eq!(r["segments"], 4, "100,000 bytes in objects of 30,000");

    let r = bench(&[
        "--mode",
        "per-event",
        "--events",
        "50",
        "--event-bytes",
        "100",
    ]);
    assert_eq!(
        (r["mode"].as_str(), r["segments"].as_u64()),
        (Some("per-event"), Some(50))
    );

    let env = Env::new();
    let o = env.run(&["bench", "--mode", "raw-put", "--replay"]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("--mode wormlog"), "{}", stderr(&o));
}
