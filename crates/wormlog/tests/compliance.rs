//! What a compliance team relies on, tried on a moto Object-Lock bucket with a COMPLIANCE
//! default (and on the directory store where it applies): no command weakens the retention
//! a bucket promises, deletions on versioned buckets are caught, auditors check read-only.

mod support;

use std::time::Duration;

use support::{assert_exit, stderr, stdout, Env};
use wormlog_store::{Clock, RetentionMode, SystemClock, Timestamp};
use wormlog_tests::servers::{Server, MOTO};

const TEN_YEARS: &str = "3650";

/// A fresh moto bucket with Object Lock and a COMPLIANCE default of ten years.
fn moto_compliance_bucket(name: &str) -> Env {
    let env = Env::s3_bucket(MOTO, &Server::fresh_bucket(name), true);
    let o = env.run(&[
        "init",
        "--object-lock",
        "compliance",
        "--retention-days",
        TEN_YEARS,
    ]);
    assert_exit(&o, 0);
    env
}

/// A directory store with the same default.
fn dir_compliance_store() -> Env {
    let env = Env::new();
    let o = env.run(&[
        "init",
        "--object-lock",
        "compliance",
        "--retention-days",
        TEN_YEARS,
    ]);
    assert_exit(&o, 0);
    env
}

/// The lock of every segment of stream `s`: (mode, retain-until, legal hold).
fn segment_locks(env: &Env) -> Vec<(Option<RetentionMode>, Option<Timestamp>, bool)> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (store, root) = rt.block_on(env.open());
    let keys = wormlog_format::StreamKeys::new(&root, "s").unwrap();
    let listed = rt
        .block_on(wormlog_store::list_all(&*store, &keys.log_prefix(), None))
        .unwrap();
    listed
        .iter()
        .map(|e| {
            let lock = rt.block_on(store.head(&e.key)).unwrap().lock;
            (
                lock.retention.map(|r| r.mode),
                lock.retention.map(|r| r.retain_until),
                lock.legal_hold,
            )
        })
        .collect()
}

/// Every segment keeps the bucket's COMPLIANCE default of about ten years.
fn assert_default_kept(env: &Env, legal_hold: bool) {
    let nine_years = SystemClock::new()
        .now()
        .plus(Duration::from_secs(9 * 365 * 86_400));
    let locks = segment_locks(env);
    assert!(!locks.is_empty());
    for (mode, until, hold) in locks {
        assert_eq!(mode, Some(RetentionMode::Compliance), "the bucket's mode");
        assert!(until.unwrap() > nine_years, "the bucket's ten years");
        assert_eq!(hold, legal_hold);
    }
}

fn legal_hold_keeps_the_default_retention(env: &Env) {
    let o = env.run(&["append", "--epoch", "1", "--legal-hold", "\"held\""]);
    assert_exit(&o, 0);
    assert_default_kept(env, true);
    let o = env.run(&["append", "--epoch", "1", "\"later\""]);
    assert_exit(&o, 0);
    let o = env.run(&["hold", "set"]);
    assert_exit(&o, 0);
    assert_default_kept(env, true);
    let o = env.run(&["hold", "clear"]);
    assert_exit(&o, 0);
    assert_default_kept(env, false);
}

/// `append --legal-hold` without `--lock-mode` used to write GOVERNANCE retention ending at
/// write time over the bucket's COMPLIANCE default.
#[test]
fn a_legal_hold_never_weakens_retention_on_moto() {
    legal_hold_keeps_the_default_retention(&moto_compliance_bucket("wl-hold"));
}

#[test]
fn a_legal_hold_never_weakens_retention_on_a_directory() {
    legal_hold_keeps_the_default_retention(&dir_compliance_store());
}

fn init_refuses_to_weaken(env: &Env) {
    for weaker in [
        ["--object-lock", "governance", "--retention-days", TEN_YEARS],
        ["--object-lock", "compliance", "--retention-days", "30"],
    ] {
        let mut args = vec!["init"];
        args.extend_from_slice(&weaker);
        let o = env.run(&args);
        assert_exit(&o, 2);
        assert!(
            stderr(&o).contains("COMPLIANCE for 3650 days"),
            "names the settings in force: {}",
            stderr(&o)
        );
    }
    let o = env.run(&["init"]);
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("default retention: COMPLIANCE for 3650 days"),
        "re-running reports the settings in force: {}",
        stdout(&o)
    );
    let o = env.run(&[
        "init",
        "--object-lock",
        "compliance",
        "--retention-days",
        "4000",
    ]);
    assert_exit(&o, 0);
    let o = env.run(&[
        "init",
        "--object-lock",
        "governance",
        "--retention-days",
        "30",
        "--allow-weaker-default",
    ]);
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("default retention: GOVERNANCE for 30 days"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn init_refuses_to_weaken_the_default_on_moto() {
    init_refuses_to_weaken(&moto_compliance_bucket("wl-init"));
}

#[test]
fn init_refuses_to_weaken_the_default_on_a_directory() {
    init_refuses_to_weaken(&dir_compliance_store());
}

/// On a versioned bucket a plain DELETE of the last segments leaves delete markers, and AWS
/// and moto accept `If-None-Match: *` over them: a writer that went on would re-create the
/// slots, and `cat` would serve the new history with the locked old one hidden.
#[test]
fn a_tail_cut_by_delete_markers_stops_writers_and_readers() {
    let env = moto_compliance_bucket("wl-cut");
    for (seq, data) in ["\"a\"", "\"b\"", "\"c\""].iter().enumerate() {
        let o = env.run(&[
            "append",
            "--epoch",
            &(seq + 1).to_string(),
            "--expected-seq",
            &seq.to_string(),
            data,
        ]);
        assert_exit(&o, 0);
    }
    // Slots: 0 epoch-start, 1 "a", 2 epoch-start, 3 "b", 4 epoch-start, 5 "c" (epochs 1-3).
    let rt = tokio::runtime::Runtime::new().unwrap();
    for slot in [4u64, 5] {
        env.plain_delete(&rt, &format!("cli/s/log/{slot:020}"));
    }
    let o = env.run(&["append", "--epoch", "4", "\"fork\""]);
    assert_exit(&o, 1);
    assert!(stderr(&o).contains("slot 4"), "{}", stderr(&o));
    let o = env.run(&["cat"]);
    assert_exit(&o, 1);
    assert!(stderr(&o).contains("slot 4"), "{}", stderr(&o));
    let o = env.run(&["verify"]);
    assert_exit(&o, 1);
    assert!(stdout(&o).contains("delete marker"), "{}", stdout(&o));
}

/// Retention of the objects wormlog writes for itself: every version of the lease and every
/// probe object is GOVERNANCE for about an hour and tagged for the lifecycle rule, never the
/// bucket's ten years of COMPLIANCE.
#[test]
fn housekeeping_objects_are_retained_for_an_hour_not_the_default_on_moto() {
    let env = moto_compliance_bucket("wl-housekeeping");
    for data in ["\"a\"", "\"b\""] {
        let o = env.run(&["append", "--lease", "--holder", "w", data]);
        assert_exit(&o, 0);
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (server, bucket) = (MOTO, env.bucket());
    let store = rt.block_on(wormlog_s3::S3Store::connect(server.config(&bucket)));
    let two_hours = SystemClock::new().now().plus(Duration::from_secs(7200));
    let versions = rt
        .block_on(
            store
                .client()
                .list_object_versions()
                .bucket(&bucket)
                .prefix("cli/")
                .send(),
        )
        .unwrap();
    let housekeeping: Vec<(String, String)> = versions
        .versions()
        .iter()
        .filter(|v| {
            let k = v.key().unwrap();
            k.ends_with("/lease") || k.contains(".wormlog-probe/")
        })
        .map(|v| {
            (
                v.key().unwrap().to_owned(),
                v.version_id().unwrap().to_owned(),
            )
        })
        .collect();
    let leases = housekeeping
        .iter()
        .filter(|(k, _)| k.ends_with("/lease"))
        .count();
    assert!(
        leases >= 4,
        "two acquires and two releases: {housekeeping:?}"
    );
    assert!(housekeeping
        .iter()
        .any(|(k, _)| k.contains(".wormlog-probe/")));
    for (key, version) in &housekeeping {
        let head = rt
            .block_on(
                store
                    .client()
                    .head_object()
                    .bucket(&bucket)
                    .key(key)
                    .version_id(version)
                    .send(),
            )
            .unwrap();
        assert_eq!(
            head.object_lock_mode().map(|m| m.as_str()),
            Some("GOVERNANCE"),
            "{key} {version}"
        );
        let until = head.object_lock_retain_until_date().unwrap().secs();
        assert!(
            (until as u64) * 1000 < two_hours.as_millis(),
            "{key} {version} is retained until {until}"
        );
        let tags = rt
            .block_on(
                store
                    .client()
                    .get_object_tagging()
                    .bucket(&bucket)
                    .key(key)
                    .version_id(version)
                    .send(),
            )
            .unwrap();
        assert!(
            tags.tag_set()
                .iter()
                .any(|t| t.key() == "wormlog-housekeeping" && t.value() == "true"),
            "{key} {version}: {tags:?}"
        );
    }
    assert_default_kept(&env, false);
}

/// On a directory with default retention the lease's compare-and-swap keeps the old version
/// (as a versioned S3 bucket does) instead of being refused: `append --lease` works.
#[test]
fn the_lease_works_after_init_object_lock_on_a_directory() {
    let env = dir_compliance_store();
    for data in ["\"a\"", "\"b\""] {
        let o = env.run(&["append", "--lease", "--holder", "w", data]);
        assert_exit(&o, 0);
    }
    let o = env.run(&["lease", "status"]);
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("free (released at epoch"),
        "{}",
        stdout(&o)
    );
    let o = env.run(&["cat"]);
    assert_exit(&o, 0);
    assert_eq!(support::cat_seqs(&o), [0, 1]);
    // The retained old versions of the lease are kept beside it, not destroyed.
    let kept = std::fs::read_dir(env.store().join("versions/s"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(
        kept >= 3,
        "old lease versions are kept while retained: {kept}"
    );
    assert_default_kept(&env, false);
}

/// Every key and version under the CLI's prefix of an S3 environment.
fn versions_under_prefix(env: &Env) -> Vec<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bucket = env.bucket();
    let store = rt.block_on(wormlog_s3::S3Store::connect(MOTO.config(&bucket)));
    let out = rt
        .block_on(store.client().list_object_versions().bucket(&bucket).send())
        .unwrap();
    out.versions()
        .iter()
        .map(|v| format!("{} {}", v.key().unwrap(), v.version_id().unwrap_or("-")))
        .chain(
            out.delete_markers()
                .iter()
                .map(|m| format!("{} marker", m.key().unwrap())),
        )
        .collect()
}

/// An auditor with read-only credentials checks the bucket's configuration: nothing is
/// written, the policy's statements are recognised, a missing bucket is a store error.
#[test]
fn doctor_read_only_checks_the_bucket_without_writing_on_moto() {
    let env = moto_compliance_bucket("wl-doctor-ro");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bucket = env.bucket();
    let policy = env.run(&["policy", "--bucket", &bucket, "--prefix", "cli"]);
    assert_exit(&policy, 0);
    rt.block_on(async {
        let store = wormlog_s3::S3Store::connect(MOTO.config(&bucket)).await;
        store
            .client()
            .put_bucket_policy()
            .bucket(&bucket)
            .policy(stdout(&policy))
            .send()
            .await
            .unwrap();
    });
    let before = versions_under_prefix(&env);
    let o = env.run(&["doctor", "--read-only"]);
    assert_exit(&o, 0);
    let out = stdout(&o);
    for needed in [
        "| versioning | PASS | Enabled",
        "| Object Lock | PASS | enabled",
        "COMPLIANCE for 3650 days on new objects",
        "statement WormlogRequireCreateOnlyLogWrites",
        "statement WormlogDenyInsecureTransport",
        "statement WormlogDenyDeletesButBreakGlass",
        "create-only and If-Match were not tested",
    ] {
        assert!(out.contains(needed), "{needed:?} in:\n{out}");
    }
    assert_eq!(
        versions_under_prefix(&env),
        before,
        "a read-only doctor writes nothing"
    );

    let missing = Env::s3_bucket(MOTO, &Server::fresh_bucket("wl-doctor-none"), false);
    let url = MOTO.url("wl-no-such-bucket-here", "cli");
    for args in [&["doctor", "--read-only"][..], &["doctor"][..]] {
        let o = missing.cmd(args).arg("--store").arg(&url).output().unwrap();
        assert_exit(&o, 4);
        assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
    }
}

#[test]
fn doctor_read_only_on_a_directory_says_what_it_cannot_enforce() {
    let env = dir_compliance_store();
    let o = env.run(&["doctor", "--read-only"]);
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("anyone with write access"),
        "{}",
        stdout(&o)
    );
    let o = env
        .cmd(&["doctor", "--read-only"])
        .arg("--store")
        .arg(env.store().join("no-such-dir"))
        .output()
        .unwrap();
    assert_exit(&o, 2);
}

/// `verify` of a stream that is not there fails; the report names exactly what was audited;
/// the per-event lock report lists every event.
fn verify_names_what_it_audited(env: &Env, prefix: &str) {
    let o = env.run_in("no-such-stream", &["verify", "--require-lock"]);
    assert_exit(&o, 1);
    assert!(stderr(&o).contains("has no segments"), "{}", stderr(&o));
    let o = env.run_in(
        "no-such-stream",
        &["verify", "--require-lock", "--allow-empty"],
    );
    assert_exit(&o, 0);
    for data in ["\"inv-1\"", "[\"inv-2\",\"inv-3\"]"] {
        let o = env.run(&["append", "--epoch", "1", data]);
        assert_exit(&o, 0);
    }
    let o = env.run(&["append", "--epoch", "1", "\"inv-4\"", "\"inv-5\""]);
    assert_exit(&o, 0);
    let o = env.run(&["verify", "--require-lock", "--per-event", "--json"]);
    assert_exit(&o, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["store"], env.store_url());
    assert!(doc["store"].as_str().unwrap().contains(prefix));
    let rows = doc["event_locks"].as_array().unwrap();
    let seqs: Vec<u64> = rows.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [0, 1, 2, 3]);
    for r in rows {
        assert_eq!(r["mode"], "COMPLIANCE", "{r}");
        assert!(r["key"].as_str().unwrap().contains("s/log/"), "{r}");
        assert!(
            r["retain_until"].is_string() && r["legal_hold"] == false,
            "{r}"
        );
    }
    let o = env.run(&["verify", "--require-lock", "--per-event"]);
    assert_exit(&o, 0);
    assert!(stdout(&o).contains("seq        3"), "{}", stdout(&o));
}

#[test]
fn verify_names_what_it_audited_on_moto() {
    verify_names_what_it_audited(&moto_compliance_bucket("wl-verify-typo"), "/cli");
}

#[test]
fn verify_names_what_it_audited_on_a_directory() {
    let env = dir_compliance_store();
    let path = env.store().display().to_string();
    verify_names_what_it_audited(&env, &path);
}

/// A segment planted, replaced or removed by hand in a directory store is an integrity
/// violation naming the slot (exit 1), not a store error.
#[test]
fn tampering_with_a_directory_store_is_a_violation_naming_the_slot() {
    let env = Env::new();
    for (epoch, data) in [("1", "\"a\""), ("2", "\"b\"")] {
        let o = env.run(&["append", "--epoch", epoch, "--one-per-segment", data]);
        assert_exit(&o, 0);
    }
    let log = env.store().join("objects/s/log");
    let slot = |n: u64| log.join(format!("{n:020}"));
    // Slots: 0 epoch-start, 1 "a", 2 epoch-start, 3 "b". Plant slot 4; replace slot 3.
    std::fs::copy(slot(3), slot(4)).unwrap();
    let o = env.run(&["verify"]);
    assert_exit(&o, 1);
    assert!(
        stdout(&o).contains("slot 4 holds a file wormlog did not write"),
        "{}",
        stdout(&o)
    );
    std::fs::remove_file(slot(4)).unwrap();
    // Replaced by another file with the very same bytes (written beside it, renamed over it,
    // as an editor saves): a new inode, without wormlog's metadata.
    let bytes = std::fs::read(slot(3)).unwrap();
    let tmp = log.join("replacement");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, slot(3)).unwrap();
    let o = env.run(&["verify"]);
    assert_exit(&o, 1);
    assert!(
        stdout(&o).contains("slot 3 holds a file wormlog did not write"),
        "{}",
        stdout(&o)
    );
    std::fs::remove_file(slot(1)).unwrap();
    let o = env.run(&["verify"]);
    assert_exit(&o, 1);
    assert!(stdout(&o).contains("slot 1"), "{}", stdout(&o));
}

/// A benchmark on a bucket with default retention would leave locked objects behind: it is
/// refused (nothing written) unless `--yes`.
#[test]
fn bench_refuses_a_bucket_with_default_retention_unless_told_yes() {
    let env = moto_compliance_bucket("wl-bench-locked");
    let before = versions_under_prefix(&env);
    let o = env.run(&["bench", "--events", "1000", "--event-bytes", "1024"]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains("1.0 MiB") && err.contains("--yes") && err.contains("3650 days"),
        "{err}"
    );
    assert_eq!(versions_under_prefix(&env), before, "nothing written");
    let o = env.run(&[
        "bench",
        "--events",
        "5",
        "--event-bytes",
        "64",
        "--yes",
        "--json",
    ]);
    assert_exit(&o, 0);
}

/// `wormlog init --object-lock compliance --retention-days N` on a bucket that does not exist
/// yet creates it with Object Lock and the default, as docs/s3.md says to set one up: the
/// check that the default is not weakened finds no bucket, hence no default.
#[test]
fn init_with_object_lock_creates_a_bucket_that_does_not_exist_yet() {
    let env = Env::s3_bucket(MOTO, &Server::fresh_bucket("wl-init-base"), false);
    let url = MOTO.url(&Server::fresh_bucket("wl-init-new"), "cli");
    let args = [
        "init",
        "--object-lock",
        "compliance",
        "--retention-days",
        "1",
    ];
    let o = env.cmd(&args).arg("--store").arg(&url).output().unwrap();
    assert_exit(&o, 0);
    assert!(stdout(&o).contains("created"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("default retention: COMPLIANCE for 1 day"),
        "{}",
        stdout(&o)
    );
    // Run again: the bucket is there with its default, kept.
    let o = env.cmd(&args).arg("--store").arg(&url).output().unwrap();
    assert_exit(&o, 0);
    assert!(stdout(&o).contains("already existed"), "{}", stdout(&o));
}

/// `policy --lifecycle` is a configuration S3 accepts as it is: boto3 (which checks it against
/// the S3 API's model) puts it on a moto bucket and reads the same rules back, among them the
/// one that aborts an attachment upload no writer completed.
#[test]
fn the_lifecycle_rules_are_accepted_by_s3_as_printed() {
    let env = Env::s3_bucket(MOTO, &Server::fresh_bucket("wl-lifecycle"), true);
    let o = env.run(&[
        "policy",
        "--bucket",
        &env.bucket(),
        "--prefix",
        "cli",
        "--lifecycle",
        "--retention-days",
        "30",
    ]);
    assert_exit(&o, 0);
    let script = r#"
import json, sys, boto3
endpoint, bucket, doc = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=doc)
rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
print(json.dumps(sorted(r["ID"] for r in rules)))
print(json.dumps([r.get("AbortIncompleteMultipartUpload") for r in rules if r["ID"] == "wormlog-incomplete-uploads"]))
"#;
    let run = std::process::Command::new("python3")
        .args([
            "-c",
            script,
            &MOTO.endpoint(),
            &env.bucket(),
            stdout(&o).trim(),
        ])
        .envs(MOTO.credential_env())
        .output()
        .expect("python3 runs (scripts/moto.sh installs boto3 with moto[server])");
    let said = String::from_utf8_lossy(&run.stdout).to_string();
    assert!(
        run.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut lines = said.lines();
    let ids: Vec<String> = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(
        ids,
        [
            "wormlog-housekeeping-old-versions",
            "wormlog-incomplete-uploads",
            "wormlog-noncurrent-after-retention",
            "wormlog-probe-objects"
        ]
    );
    let abort: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(abort, serde_json::json!([{"DaysAfterInitiation": 1}]));
}
