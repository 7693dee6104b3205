//! Tamper evidence from the command line, as an auditor uses it: a key pair, signed
//! checkpoints, inclusion and consistency proofs checked offline (and by an independent
//! RFC 9162 implementation in Python), and `verify --key` catching a rewritten event, a
//! removed tail and a swapped pair of segments on a directory store, which cannot lock.

mod support;

use std::path::{Path, PathBuf};

use support::{assert_exit, assert_exit_saying, stdout, Env};

/// A key pair in the test's directory: (signing key, verifier key).
fn keys(env: &Env) -> (PathBuf, PathBuf) {
    let key = env.dir.path().join("auditor.key");
    let o = env.run(&[
        "keygen",
        "--name",
        "example.com/audit",
        "--out",
        key.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    let public = PathBuf::from(format!("{}.pub", key.display()));
    assert!(
        stdout(&o).starts_with("example.com/audit+"),
        "{}",
        stdout(&o)
    );
    (key, public)
}

/// Appends events `from..to`, one command (one segment) each.
fn append(env: &Env, from: u64, to: u64) {
    for i in from..to {
        assert_exit(
            &env.run(&["append", "--epoch", "1", &format!("{{\"invoice\":{i}}}")]),
            0,
        );
    }
}

fn checkpoint(env: &Env, key: &Path) -> String {
    let o = env.run(&["checkpoint", "--key", key.to_str().unwrap()]);
    assert_exit(&o, 0);
    stdout(&o)
}

/// Writes `text` to a file in the test directory; its path.
fn file(env: &Env, name: &str, text: &str) -> PathBuf {
    let path = env.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The segment file of stream `s` holding the event with `seq`.
fn segment_holding(env: &Env, seq: u64) -> PathBuf {
    let dir = env.store().join("objects/s/log");
    let needle = format!("\"seq\":{seq},");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none())
        .collect();
    files.sort();
    files
        .into_iter()
        .find(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).contains(&needle))
        .unwrap_or_else(|| panic!("no segment holds seq {seq}"))
}

/// Rewrites one event's data in its segment and gives the segment a correct CRC again: what
/// someone with write access to the directory can do, and a CRC cannot catch.
fn rewrite_event(env: &Env, seq: u64, from: &str, to: &str) {
    let path = segment_holding(env, seq);
    let bytes = std::fs::read(&path).unwrap();
    let at = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let (header, body) = bytes.split_at(at);
    let body = String::from_utf8(body.to_vec())
        .unwrap()
        .replacen(from, to, 1);
    let mut h: serde_json::Value = serde_json::from_slice(header).unwrap();
    h["crc32"] = crc32fast::hash(body.as_bytes()).into();
    let mut out = serde_json::to_vec(&h).unwrap();
    out.push(b'\n');
    out.extend_from_slice(body.as_bytes());
    std::fs::write(&path, out).unwrap();
}

#[test]
fn proofs_from_checkpoints_verify_offline_and_independently() {
    let env = Env::new();
    let (key, public) = keys(&env);
    append(&env, 0, 10);
    assert!(checkpoint(&env, &key).starts_with("checkpoint 10 of stream s"));
    append(&env, 10, 15);
    assert!(checkpoint(&env, &key).starts_with("checkpoint 15 of stream s"));
    assert!(checkpoint(&env, &key).contains("nothing written"));

    let o = env.run(&["prove", "--seq", "3"]);
    assert_exit(&o, 0);
    let proof: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        (proof["leaf_index"].as_u64(), proof["tree_size"].as_u64()),
        (Some(3), Some(15))
    );
    assert!(proof["audit_path"].as_array().unwrap().len() <= 4);
    let inclusion = file(&env, "inclusion.json", &stdout(&o));
    let o = env.run(&[
        "verify-proof",
        "--key",
        public.to_str().unwrap(),
        inclusion.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    assert!(stdout(&o).contains("leaf 3"), "{}", stdout(&o));
    python_check(&inclusion, 0);

    // A changed leaf, or another key, does not verify.
    let mut forged = proof.clone();
    forged["leaf_hash"] = serde_json::Value::String("00".repeat(32));
    let forged = file(&env, "forged.json", &forged.to_string());
    assert_exit(
        &env.run(&[
            "verify-proof",
            "--key",
            public.to_str().unwrap(),
            forged.to_str().unwrap(),
        ]),
        1,
    );
    python_check(&forged, 1);
    let other = env.dir.path().join("other.key");
    assert_exit(
        &env.run(&[
            "keygen",
            "--name",
            "example.com/audit",
            "--out",
            other.to_str().unwrap(),
        ]),
        0,
    );
    let other_pub = format!("{}.pub", other.display());
    assert_exit_saying(
        &env.run(&[
            "verify-proof",
            "--key",
            &other_pub,
            inclusion.to_str().unwrap(),
        ]),
        1,
        "does not verify",
    );

    let o = env.run(&["prove", "--consistency", "10", "15"]);
    assert_exit(&o, 0);
    let consistency = file(&env, "consistency.json", &stdout(&o));
    assert_exit(
        &env.run(&[
            "verify-proof",
            "--key",
            public.to_str().unwrap(),
            consistency.to_str().unwrap(),
        ]),
        0,
    );
    python_check(&consistency, 0);

    let o = env.run(&["verify", "--key", public.to_str().unwrap()]);
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("merkle tree: 15 events"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("2 checkpoints checked"),
        "{}",
        stdout(&o)
    );
}

/// The Python checker (tests/python/rfc9162_check.py), which knows RFC 9162 and nothing of
/// wormlog's code.
fn python_check(proof: &Path, code: i32) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/rfc9162_check.py");
    let o = std::process::Command::new("python3")
        .arg(script)
        .arg(proof)
        .output()
        .expect("python3 runs the independent RFC 9162 check");
    assert_eq!(
        o.status.code(),
        Some(code),
        "{}{}",
        stdout(&o),
        support::stderr(&o)
    );
}

#[test]
fn a_rewritten_event_is_named_against_the_checkpoint() {
    let env = Env::new();
    let (key, public) = keys(&env);
    append(&env, 0, 8);
    checkpoint(&env, &key);
    rewrite_event(&env, 3, "{\"invoice\":3}", "{\"invoice\":9}");
    // The CRC is right again, and the event reads back changed.
    let o = env.run(&["cat"]);
    assert!(stdout(&o).contains("{\"invoice\":9}"), "{}", stdout(&o));
    assert_exit_saying(
        &env.run(&["verify", "--key", public.to_str().unwrap()]),
        1,
        "the event at seq 3 differs",
    );
}

#[test]
fn a_removed_tail_is_caught_by_the_checkpoint_and_by_a_trusted_copy() {
    let env = Env::new();
    let (key, public) = keys(&env);
    append(&env, 0, 6);
    checkpoint(&env, &key);
    let note = std::fs::read_to_string(
        env.store()
            .join("objects/s/checkpoints/00000000000000000006"),
    )
    .unwrap();
    let trusted = file(&env, "trusted.note", &note);
    // The last two events' segments go.
    for seq in [4, 5] {
        std::fs::remove_file(segment_holding(&env, seq)).unwrap();
    }
    assert_exit(&env.run(&["verify"]), 0);
    assert_exit_saying(
        &env.run(&["verify", "--key", public.to_str().unwrap()]),
        1,
        "covers 6 events but the log holds 4",
    );
    // Someone removes the checkpoints too: the auditor's own copy still catches it.
    std::fs::remove_dir_all(env.store().join("objects/s/checkpoints")).unwrap();
    assert_exit(&env.run(&["verify", "--key", public.to_str().unwrap()]), 0);
    assert_exit_saying(
        &env.run(&[
            "verify",
            "--key",
            public.to_str().unwrap(),
            "--trusted-checkpoint",
            trusted.to_str().unwrap(),
        ]),
        1,
        "the trusted checkpoint covers 6 events",
    );
}

#[test]
fn swapped_segments_are_a_violation() {
    let env = Env::new();
    let (key, public) = keys(&env);
    append(&env, 0, 6);
    checkpoint(&env, &key);
    let (a, b) = (segment_holding(&env, 1), segment_holding(&env, 2));
    let (ab, bb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    std::fs::write(&a, bb).unwrap();
    std::fs::write(&b, ab).unwrap();
    assert_exit(&env.run(&["verify", "--key", public.to_str().unwrap()]), 1);
}

#[test]
fn bad_keys_and_asks_are_refused_with_nothing_written() {
    let env = Env::new();
    let (key, public) = keys(&env);
    assert_exit_saying(
        &env.run(&["keygen", "--name", "again", "--out", key.to_str().unwrap()]),
        2,
        "never overwrites",
    );
    assert_exit_saying(
        &env.run(&["keygen", "--name", "bad name", "--out", "x"]),
        2,
        "key name",
    );
    append(&env, 0, 3);
    assert_exit_saying(
        &env.run(&["checkpoint", "--key", public.to_str().unwrap()]),
        2,
        "PRIVATE+KEY",
    );
    assert!(
        !env.store().join("objects/s/checkpoints").exists(),
        "nothing written"
    );
    assert_exit_saying(&env.run(&["prove", "--seq", "1"]), 2, "no checkpoint yet");
    checkpoint(&env, &key);
    assert_exit_saying(
        &env.run(&["prove", "--seq", "3"]),
        2,
        "not below the checkpoint's tree size 3",
    );
    let o = env
        .cmd(&["checkpoint"])
        .env(
            "WORMLOG_CHECKPOINT_KEY",
            std::fs::read_to_string(&key).unwrap(),
        )
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert!(
        !support::stderr(&o).contains("PRIVATE"),
        "the key is never printed"
    );
}
