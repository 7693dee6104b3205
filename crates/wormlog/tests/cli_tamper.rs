//! Tamper evidence from the command line, as an auditor uses it: a key pair, signed
//! checkpoints, inclusion and consistency proofs checked offline (and by an independent
//! RFC 9162 implementation in Python), and `verify --key` catching a rewritten event, a
//! removed tail and a swapped pair of segments on a directory store, which cannot lock.

mod support;

use std::path::{Path, PathBuf};

use support::{assert_exit, assert_exit_saying, stdout, Env};

/// A key pair in the test's directory: (signing key, verifier key).
fn keys(env: &Env) -> (PathBuf, PathBuf) {
    key_pair(env, "example.com/audit", "auditor.key")
}

/// The key pair `name`, written to `file` and `file.pub` in the test's directory.
fn key_pair(env: &Env, name: &str, file: &str) -> (PathBuf, PathBuf) {
    let key = env.dir.path().join(file);
    let o = env.run(&["keygen", "--name", name, "--out", key.to_str().unwrap()]);
    assert_exit(&o, 0);
    let public = PathBuf::from(format!("{}.pub", key.display()));
    assert!(
        stdout(&o).starts_with(&format!("{name}+")),
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

/// Outside access to the stream's objects, as someone with write access to the directory or
/// the bucket has it (no wormlog in between): list, read, replace, remove.
struct Outside<'e> {
    env: &'e Env,
    rt: tokio::runtime::Runtime,
    store: std::sync::Arc<dyn wormlog::ObjectStore>,
    keys: wormlog::StreamKeys,
}

impl<'e> Outside<'e> {
    fn new(env: &'e Env) -> Outside<'e> {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (store, prefix) = rt.block_on(env.open());
        let keys = wormlog::StreamKeys::new(&prefix, "s").unwrap();
        Outside {
            env,
            rt,
            store,
            keys,
        }
    }

    fn list(&self, prefix: &str) -> Vec<String> {
        let listed = self
            .rt
            .block_on(wormlog::store::list_all(&*self.store, prefix, None))
            .unwrap();
        listed.into_iter().map(|e| e.key).collect()
    }

    fn read(&self, key: &str) -> Vec<u8> {
        self.rt.block_on(self.store.get(key)).unwrap().body.to_vec()
    }

    fn replace(&self, key: &str, body: Vec<u8>) {
        match self.env.is_s3() {
            true => self.env.plain_put(&self.rt, key, body),
            false => std::fs::write(self.env.store().join("objects").join(key), body).unwrap(),
        }
    }

    fn remove(&self, key: &str) {
        match self.env.is_s3() {
            true => self.env.plain_delete(&self.rt, key),
            false => std::fs::remove_file(self.env.store().join("objects").join(key)).unwrap(),
        }
    }

    /// The key of the segment holding the event with `seq`.
    fn segment_holding(&self, seq: u64) -> String {
        let needle = format!("\"seq\":{seq},");
        self.list(&self.keys.log_prefix())
            .into_iter()
            .find(|k| String::from_utf8_lossy(&self.read(k)).contains(&needle))
            .unwrap_or_else(|| panic!("no segment holds seq {seq}"))
    }

    /// Rewrites one event's data in its segment and gives the segment a correct CRC again:
    /// what someone with write access can do, and a CRC cannot catch.
    fn rewrite_event(&self, seq: u64, from: &str, to: &str) {
        let key = self.segment_holding(seq);
        let bytes = self.read(&key);
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
        self.replace(&key, out);
    }
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
    // Another key of the same name: its signatures are not the checkpoint's.
    let (_, other_pub) = key_pair(&env, "example.com/audit", "other.key");
    let other_pub = other_pub.display().to_string();
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

fn a_rewritten_event_is_named_against_the_checkpoint(env: Env) {
    let (key, public) = keys(&env);
    append(&env, 0, 8);
    checkpoint(&env, &key);
    Outside::new(&env).rewrite_event(3, "{\"invoice\":3}", "{\"invoice\":9}");
    // The CRC is right again, and the event reads back changed.
    let o = env.run(&["cat"]);
    assert!(stdout(&o).contains("{\"invoice\":9}"), "{}", stdout(&o));
    assert_exit_saying(
        &env.run(&["verify", "--key", public.to_str().unwrap()]),
        1,
        "the event at seq 3 differs",
    );
}

fn a_removed_tail_is_caught_by_the_checkpoint_and_by_a_trusted_copy(env: Env) {
    let (key, public) = keys(&env);
    append(&env, 0, 6);
    checkpoint(&env, &key);
    let outside = Outside::new(&env);
    let note = outside.read(&outside.keys.checkpoint(6));
    let trusted = file(&env, "trusted.note", &String::from_utf8(note).unwrap());
    // The last two events' segments go.
    for seq in [4, 5] {
        outside.remove(&outside.segment_holding(seq));
    }
    assert_exit(&env.run(&["verify"]), 0);
    assert_exit_saying(
        &env.run(&["verify", "--key", public.to_str().unwrap()]),
        1,
        "covers 6 events but the log holds 4",
    );
    // Someone removes the checkpoints too: the auditor's own copy still catches it.
    for k in outside.list(&outside.keys.checkpoints_prefix()) {
        outside.remove(&k);
    }
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

fn swapped_segments_are_a_violation(env: Env) {
    let (key, public) = keys(&env);
    append(&env, 0, 6);
    checkpoint(&env, &key);
    let outside = Outside::new(&env);
    let (a, b) = (outside.segment_holding(1), outside.segment_holding(2));
    let (ab, bb) = (outside.read(&a), outside.read(&b));
    outside.replace(&a, bb);
    outside.replace(&b, ab);
    assert_exit(&env.run(&["verify", "--key", public.to_str().unwrap()]), 1);
}

/// Each tampering scenario on a directory store (which cannot lock) and on Ceph RGW (an
/// unversioned bucket, whose objects anyone with write access can replace or delete).
macro_rules! on_dir_and_rgw {
    ($($scenario:ident),*) => {
        mod dir {
            $(#[test] fn $scenario() { super::$scenario(super::Env::new()) })*
        }
        mod rgw {
            $(#[test] fn $scenario() {
                super::$scenario(super::Env::s3(wormlog_tests::servers::RGW))
            })*
        }
    };
}

on_dir_and_rgw!(
    a_rewritten_event_is_named_against_the_checkpoint,
    a_removed_tail_is_caught_by_the_checkpoint_and_by_a_trusted_copy,
    swapped_segments_are_a_violation
);

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
    // The signing key's text given where a verifier key goes: refused, and never echoed.
    let secret = std::fs::read_to_string(&key).unwrap();
    for flag in [["verify", "--key"], ["verify-proof", "--key"]] {
        let o = env.run(&[flag[0], flag[1], secret.trim()]);
        assert_exit_saying(&o, 2, "is not a verifier key");
        let err = support::stderr(&o);
        let base64 = secret.trim().splitn(5, '+').nth(4).unwrap();
        assert!(!err.contains(base64), "the signing key was echoed: {err}");
    }
}

#[test]
fn an_appending_writer_signs_checkpoints_itself() {
    let env = Env::new();
    let (key, public) = keys(&env);
    let key_arg = key.to_str().unwrap();
    let o = env.run(&[
        "append",
        "--epoch",
        "1",
        "--checkpoint-key",
        key_arg,
        r#"{"n":0}"#,
        r#"{"n":1}"#,
    ]);
    assert_exit(&o, 0);
    assert!(
        support::stderr(&o).contains("checkpoint of tree size 2 signed"),
        "{}",
        support::stderr(&o)
    );
    // From the environment, as a service would keep it; every --checkpoint-segments
    // segments of a streaming append, and at its end.
    let mut child = env
        .cmd(&[
            "append",
            "--epoch",
            "1",
            "--streaming",
            "--checkpoints",
            "--checkpoint-segments",
            "1",
            "--in-flight",
            "1",
        ])
        .env(
            "WORMLOG_CHECKPOINT_KEY",
            std::fs::read_to_string(&key).unwrap(),
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"n\":2}\n{\"n\":3}\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_exit(&o, 0);
    assert!(
        !support::stderr(&o).contains("PRIVATE"),
        "the key is never printed"
    );
    let sizes: Vec<String> = std::fs::read_dir(env.store().join("objects/s/checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(sizes.iter().any(|s| s.ends_with("00004")), "{sizes:?}");
    let o = env.run(&["verify", "--key", public.to_str().unwrap()]);
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("merkle tree: 4 events"),
        "{}",
        stdout(&o)
    );
    let proof = env.run(&["prove", "--seq", "3"]);
    assert_exit(&proof, 0);
    let path = file(&env, "proof.json", &stdout(&proof));
    assert_exit(
        &env.run(&[
            "verify-proof",
            "--key",
            public.to_str().unwrap(),
            path.to_str().unwrap(),
        ]),
        0,
    );
    // A verifier key for a signing key: refused before anything is written.
    let before = env.snapshot();
    assert_exit_saying(
        &env.run(&[
            "append",
            "--epoch",
            "1",
            "--checkpoint-key",
            public.to_str().unwrap(),
            "5",
        ]),
        2,
        "PRIVATE+KEY",
    );
    assert!(env.snapshot() == before, "nothing written");
    // Another key: refused before anything is written, unless the old key is named as the
    // one it replaced (a rotation); then the writer passes over the old key's checkpoints,
    // says so, and signs its own, and the audit under the old key names the new one's.
    let (other, other_pub) = key_pair(&env, "example.com/other", "other.key");
    let other_arg = other.to_str().unwrap();
    assert_exit_saying(
        &env.run(&["append", "--epoch", "1", "--checkpoint-key", other_arg, "5"]),
        1,
        "nor under an earlier key",
    );
    assert!(env.snapshot() == before, "nothing written");
    let o = env.run(&[
        "append",
        "--epoch",
        "1",
        "--checkpoint-key",
        other_arg,
        "--checkpoint-rotated-from",
        public.to_str().unwrap(),
        "5",
    ]);
    assert_exit(&o, 0);
    let err = support::stderr(&o);
    assert!(
        err.contains("is signed by the earlier key example.com/audit; going on from it"),
        "{err}"
    );
    assert!(err.contains("checkpoint of tree size 5 signed"), "{err}");
    assert_exit_saying(
        &env.run(&["verify", "--key", public.to_str().unwrap()]),
        1,
        "does not verify under key example.com/audit",
    );
    // The auditor holding both keys audits across the rotation: every checkpoint verifies.
    let both = env.run(&[
        "verify",
        "--key",
        public.to_str().unwrap(),
        "--key",
        other_pub.to_str().unwrap(),
    ]);
    assert_exit(&both, 0);
    assert!(stdout(&both).contains("merkle tree:"), "{}", stdout(&both));
}

/// A checkpoint of another key lands while a streaming append signs its own: the appended
/// events stay (their acks were printed), but the checkpointer's last checkpoint contradicts
/// the stored one, which is an integrity violation: exit 1, saying so, not a warning.
#[test]
fn a_checkpoint_contradicted_while_appending_exits_1() {
    let env = Env::new();
    let (key, _) = keys(&env);
    let (other, _) = key_pair(&env, "example.com/other", "other.key");
    let mut child = env.spawn(&[
        "append",
        "--epoch",
        "1",
        "--streaming",
        "--in-flight",
        "1",
        "--checkpoint-secs",
        "3600", // no checkpoint by the clock before the other signer's
        "--checkpoint-key",
        key.to_str().unwrap(),
    ]);
    use std::io::{BufRead as _, Write as _};
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"{\"n\":0}\n{\"n\":1}\n").unwrap();
    stdin.flush().unwrap();
    let mut acks = std::io::BufReader::new(child.stdout.take().unwrap());
    for _ in 0..2 {
        let mut line = String::new();
        acks.read_line(&mut line).unwrap();
        assert!(
            !line.is_empty(),
            "the append ended before acknowledging its events"
        );
    }
    // Both events are in the log; another signer checkpoints them first.
    let planted = checkpoint(&env, &other);
    assert!(planted.starts_with("checkpoint 2 of stream"), "{planted}");
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    let err = support::stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the events were appended, but the checkpointer stopped"),
        "{err}"
    );
    assert_exit(&env.run(&["verify"]), 0); // the events themselves are intact
}
