//! The command line as operators use it: pipes that close early, URLs with a typo, stores
//! that are not there, logs read by machines, and epochs typed by hand.

mod support;

use std::process::Stdio;

use support::{assert_exit, assert_exit_saying, stderr, stdout, Env};

/// `wormlog verify | head -1` with head gone before wormlog writes: a quiet exit 141, as
/// SIGPIPE gives other tools, not a panic (exit 101).
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let env = Env::new();
    assert_exit(&env.run(&["append", "--epoch", "1", "1", "2"]), 0);
    for args in [
        &["verify"][..],
        &["policy", "--bucket", "b"][..],
        &["cat"][..],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = env
            .cmd(args)
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            matches!(o.status.code(), Some(141) | Some(0)),
            "{args:?}: {:?} {err}",
            o.status
        );
    }
}

/// `--store s3:/bucket` (one slash) wrote to a local directory named `s3:`.
#[test]
fn a_store_url_with_a_typo_is_refused() {
    let env = Env::new();
    for url in ["s3:/bucket/prefix", "s3:bucket", "file:/var/lib/wormlog"] {
        let o = env
            .cmd(&["append", "--epoch", "1", "1"])
            .current_dir(env.store().parent().unwrap())
            .arg("--store")
            .arg(url)
            .output()
            .unwrap();
        assert_exit_saying(&o, 2, "looks like a store URL");
        let dir = env
            .store()
            .parent()
            .unwrap()
            .join(url.split('/').next().unwrap());
        assert!(
            !dir.exists(),
            "{url}: nothing was created at {}",
            dir.display()
        );
    }
}

/// `cat` and `verify` on a directory with no store exited 0, as if the log were empty.
#[test]
fn reading_a_directory_that_is_no_store_says_so() {
    let env = Env::new();
    for args in [&["cat"][..], &["verify"][..], &["streams"][..]] {
        let o = env.run(args);
        assert_exit_saying(&o, 2, "there is no store at");
    }
    assert!(!env.store().exists(), "reading created nothing");
}

/// Logs read by machines: no colour codes when stderr is not a terminal, JSON on request;
/// WORMLOG_LOG=debug turns on wormlog's own debug lines.
#[test]
fn logs_have_no_colour_codes_off_a_terminal_and_can_be_json() {
    let env = Env::new();
    let o = env
        .cmd(&["append", "--epoch", "1", "1"])
        .env("WORMLOG_LOG", "debug")
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let err = stderr(&o);
    assert!(err.contains("DEBUG"), "wormlog's debug lines: {err}");
    assert!(!err.contains('\u{1b}'), "no ANSI escapes: {err:?}");
    let o = env
        .cmd(&["append", "--epoch", "1", "--log-format", "json", "2"])
        .env("WORMLOG_LOG", "debug")
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let lines: Vec<&str> = std::str::from_utf8(&o.stderr).unwrap().lines().collect();
    assert!(!lines.is_empty());
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
}

/// `--epoch 18446744073709551615` (a typo) was accepted, after which only that epoch could
/// ever append. Refused unless the jump is asked for, with nothing written.
#[test]
fn an_epoch_far_above_the_log_is_refused_unless_asked_for() {
    let env = Env::new();
    assert_exit(&env.run(&["append", "--epoch", "3", "1"]), 0);
    let before = env.snapshot();
    let o = env.run(&["append", "--epoch", "18446744073709551615", "2"]);
    assert_exit_saying(&o, 2, "current epoch 3");
    assert_eq!(env.snapshot(), before, "nothing was written");
    assert_exit(&env.run(&["append", "--epoch", "1000003", "2"]), 0);
    let o = env.run(&["append", "--epoch", "99999999", "--allow-epoch-jump", "3"]);
    assert_exit(&o, 0);
    assert_eq!(support::cat_seqs(&env.run(&["cat"])), [0, 1, 2]);
    assert!(stdout(&env.run(&["verify"])).contains("epoch 99999999"));
}

/// An AccessDenied names the operation and the permission to grant; a UTF-8 BOM on stdin is
/// named as such, not as "not valid JSON at column 1".
#[test]
fn errors_name_the_permission_to_grant_and_a_byte_order_mark() {
    use wormlog_tests::servers::{Server, MOTO};
    use wormlog_tests::wire::{WireAction, WireFaults, WireRule};
    let bucket = Server::fresh_bucket("wl-denied");
    let env = Env::s3_bucket(MOTO, &bucket, false);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let relay = rt.block_on(WireFaults::start(&MOTO.endpoint()));
    relay.add(WireRule {
        method: "PUT",
        path: "/cli/".into(),
        action: WireAction::Respond {
            status: 403,
            code: "AccessDenied",
            message: "Access Denied",
        },
        times: usize::MAX,
    });
    let url = MOTO
        .url(&bucket, "cli")
        .replace(&MOTO.endpoint(), &relay.endpoint());
    let o = env
        .cmd(&["append", "--epoch", "1", "1"])
        .arg("--store")
        .arg(url)
        .output()
        .unwrap();
    assert_exit(&o, 4);
    assert!(stderr(&o).contains("grant s3:PutObject"), "{}", stderr(&o));

    let local = Env::new();
    let o = local.run_with_stdin(&["append", "--epoch", "1"], "\u{feff}{\"a\":1}\n");
    assert_exit_saying(&o, 2, "byte order mark");
}

/// Ctrl-C (or SIGTERM) during `append`: it stops taking input, waits for what is in flight,
/// prints the ack of every event that committed, says how many, and exits 130 (143). Every
/// acknowledged event is in the log and every event in the log was acknowledged.
fn interrupted_append(signal: &str, code: i32, streaming: bool) {
    let env = Env::new();
    let lines: String = (0..200_000).map(|i| format!("{{\"i\":{i}}}\n")).collect();
    let mut args = vec!["append", "--epoch", "1"];
    if streaming {
        args.push("--streaming");
    }
    let mut child = env.spawn(&args);
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(lines.as_bytes());
    });
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut out, &mut first).unwrap();
    assert!(!first.is_empty(), "an ack came before the signal");
    let status = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let o = child.wait_with_output().unwrap();
    drop(feeder);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{err}");
    assert!(
        err.contains("events committed (their acks are above)"),
        "{err}"
    );
    let acked = 1 + rest.lines().count();
    let in_log = support::cat_seqs(&env.run(&["cat"])).len();
    assert_eq!(
        acked, in_log,
        "every committed event was acknowledged: {err}"
    );
    assert!(in_log < 200_000, "the signal stopped the append early");
    assert!(err.contains(&format!("{in_log} events committed")), "{err}");
}

#[test]
fn ctrl_c_during_append_acknowledges_what_committed() {
    interrupted_append("-INT", 130, false);
}

#[test]
fn sigterm_during_a_streaming_append_acknowledges_what_committed() {
    interrupted_append("-TERM", 143, true);
}

/// `bench` says which build it measures (a debug build warns), measures one append on an
/// idle writer, runs open loop at `--rate`, sorts its batch histogram by size, writes CSV,
/// and refuses flags that do not apply to its mode.
#[test]
fn bench_reports_what_operators_ask_for() {
    let env = Env::new();
    let o = env.run(&["bench", "--events", "3000", "--event-bytes", "64", "--json"]);
    assert_exit(&o, 0);
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        r["build"],
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    assert!(r["idle_append_ms"]["p50"].as_f64().unwrap() > 0.0, "{r}");
    let order: Vec<&str> = r["batch_sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["events"].as_str().unwrap())
        .collect();
    let lower = |b: &str| b.split(['-', '+']).next().unwrap().parse::<u64>().unwrap();
    assert!(
        order.windows(2).all(|w| lower(w[0]) < lower(w[1])),
        "{order:?}"
    );

    let o = env.run(&["bench", "--events", "200", "--rate", "2000"]);
    assert_exit(&o, 0);
    let text = stdout(&o);
    assert!(text.contains("open loop at 2000 events/s"), "{text}");
    assert!(text.contains("one append on an idle writer"), "{text}");
    if cfg!(debug_assertions) {
        assert!(stderr(&o).contains("debug build"), "{}", stderr(&o));
    }

    let o = env.run(&["bench", "--events", "100", "--csv"]);
    assert_exit(&o, 0);
    let lines: Vec<String> = stdout(&o).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("mode,payload,events,"));
    assert_eq!(lines[0].split(',').count(), lines[1].split(',').count());

    for args in [
        &["bench", "--mode", "raw-put", "--rate", "10"][..],
        &["bench", "--object-bytes", "100"][..],
        &["bench", "--mode", "cold-append", "--streams", "2"][..],
    ] {
        let o = env.run(args);
        assert_exit_saying(&o, 2, "goes with --mode");
    }
}

/// The document modes send one file three ways (appended, one PutObject the store checks
/// against its SHA-256, one plain PutObject) and leave nothing stored behind them.
#[test]
fn bench_measures_a_document_three_ways_and_leaves_nothing_behind() {
    let env = Env::new();
    assert_exit(&env.run(&["append", "--epoch", "1", "{}"]), 0);
    let stored_before = files_under(&env.store().join("objects"));
    let doc = env.dir.path().join("scan.pdf");
    std::fs::write(&doc, vec![7u8; 300_000]).unwrap();
    let doc = doc.to_str().unwrap();
    for mode in ["document", "document-put-checked", "document-put"] {
        let o = env.run(&["bench", "--mode", mode, "--file", doc, "--json"]);
        assert_exit(&o, 0);
        let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(r["mode"], mode, "{r}");
        assert_eq!(r["event_bytes"], 300_000, "{r}");
        assert!(
            r["object_bytes_total"].as_u64().unwrap() >= 300_000,
            "{mode}: {r}"
        );
        assert_eq!(
            files_under(&env.store().join("objects")),
            stored_before,
            "{mode} leaves nothing behind"
        );
    }
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// Ctrl-C during `bench` prints the figures of what was done, marked interrupted.
#[test]
fn an_interrupted_bench_prints_partial_results() {
    let env = Env::new();
    let child = env
        .cmd(&[
            "bench",
            "--events",
            "50000000",
            "--event-bytes",
            "64",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(r["interrupted"], true);
    let events = r["events"].as_u64().unwrap();
    assert!(events > 0 && events < 50_000_000, "{r}");
    assert!(
        stderr(&o).contains("interrupted by SIGINT"),
        "{}",
        stderr(&o)
    );
}
