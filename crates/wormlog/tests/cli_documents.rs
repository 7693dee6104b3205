//! Documents from the command line, as the evidence uploaders and invoice stores use it:
//! files appended byte for byte, acknowledgements that prove each upload, documents got back
//! exactly, bad input refused with nothing stored, hierarchical streams listed.

mod support;

use std::path::Path;

use sha2::Digest;
use support::{assert_exit, stderr, stdout, Env};

fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A signed evidence bundle: a pretty-printed JSON document of about 360 KB with numbers no
/// float can hold, and its detached binary signature.
fn bundle(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let mut json = String::from("{\n  \"bundle\": \"evidence-17\",\n  \"items\": [\n");
    for i in 0..6000 {
        json.push_str(&format!(
            "    {{\"n\": {i}, \"big\": 1234567890123456789012{i}, \"e\": 1E2, \"z\": -0}},\n"
        ));
    }
    json.push_str("    null\n  ]\n}\n");
    let sig: Vec<u8> = (0..64u8).map(|b| b.wrapping_mul(37)).collect();
    std::fs::write(dir.join("bundle.json"), &json).unwrap();
    std::fs::write(dir.join("bundle.sig"), &sig).unwrap();
    (json.into_bytes(), sig)
}

#[test]
fn files_are_stored_byte_for_byte_and_json_acks_prove_each_upload() {
    let env = Env::new();
    let (json, sig) = bundle(env.dir.path());
    let (bundle_json, bundle_sig) = (
        env.dir.path().join("bundle.json"),
        env.dir.path().join("bundle.sig"),
    );
    let o = env.run(&[
        "append",
        "--epoch",
        "1",
        "--type",
        "evidence",
        "--json",
        "--file",
        bundle_json.to_str().unwrap(),
        "--file",
        bundle_sig.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    let acks: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(acks.len(), 2, "{}", stdout(&o));
    assert_eq!(acks[0]["seq"], 0);
    assert_eq!(acks[0]["sha256"], sha256_hex(&json));
    assert_eq!(acks[0]["bytes"], json.len());
    assert_eq!(acks[0]["content_type"], "application/json");
    assert!(
        acks[0]["attachment"]
            .as_str()
            .unwrap()
            .contains("/attachments/"),
        "360 KB is above the inline limit: {}",
        acks[0]
    );
    assert!(acks[0]["key"].as_str().unwrap().contains("/log/"));
    assert!(
        acks[0]["lock"].is_object(),
        "the lock read back: {}",
        acks[0]
    );
    assert_eq!(acks[1]["sha256"], sha256_hex(&sig));
    assert!(acks[1]["attachment"].is_null(), "64 bytes go inline");

    let out = env.dir.path().join("back.json");
    let o = env.run(&["get", "--seq", "0", "-o", out.to_str().unwrap()]);
    assert_exit(&o, 0);
    assert!(
        std::fs::read(&out).unwrap() == json,
        "the bundle, byte for byte"
    );
    let o = env.run(&["get", "--seq", "1"]);
    assert_exit(&o, 0);
    assert_eq!(o.stdout, sig, "the signature, byte for byte");
    let id = acks[1]["id"].as_str().unwrap();
    assert_eq!(env.run(&["get", "--id", id]).stdout, sig, "by id too");

    let o = env.run(&["cat"]);
    assert_exit(&o, 0);
    assert!(
        !stdout(&o).contains("base64") && stdout(&o).contains(&sha256_hex(&sig)),
        "cat shows a document's metadata, never its bytes: {}",
        stdout(&o)
    );
    let o = env.run(&["verify"]);
    assert_exit(&o, 0);
    assert!(stdout(&o).contains("1 attachments"), "{}", stdout(&o));
}

#[test]
fn raw_stdin_is_one_event_kept_exactly() {
    let env = Env::new();
    let bytes: Vec<u8> = (0..=255u8).chain([0, 0, b'\n', b'\r']).collect();
    let o = env.run_with_stdin_bytes(
        &[
            "append",
            "--epoch",
            "1",
            "--raw",
            "--content-type",
            "application/octet-stream",
        ],
        &bytes,
    );
    assert_exit(&o, 0);
    assert_eq!(env.run(&["get", "--seq", "0"]).stdout, bytes);
}

#[test]
fn json_spanning_lines_is_kept_token_for_token() {
    let env = Env::new();
    let o = env.run(&[
        "append",
        "--epoch",
        "1",
        "{\n  \"b\": 12345678901234567890123,\n  \"a\": [-0, 1E2],\n  \"b\": \"dup\"\n}",
    ]);
    assert_exit(&o, 0);
    let o = env.run(&["cat"]);
    assert!(
        stdout(&o).contains(r#""data":{"b":12345678901234567890123,"a":[-0,1E2],"b":"dup"}"#),
        "{}",
        stdout(&o)
    );
}

#[test]
fn bad_files_exit_2_name_the_file_and_store_nothing() {
    let env = Env::new();
    let (_, _) = bundle(env.dir.path());
    let good = env.dir.path().join("bundle.sig");
    let good = good.to_str().unwrap();
    let missing = env.dir.path().join("nope.xml");
    let missing = missing.to_str().unwrap();
    let dir = env.dir.path().to_str().unwrap();
    let before = env.snapshot();
    for (args, says) in [
        (vec!["--file", good, "--file", missing], "nope.xml"),
        (vec!["--file", dir], "is a directory"),
        (
            vec!["--file", good, "--max-payload", "10"],
            "more than --max-payload 10",
        ),
        (
            vec!["--file", good, "--content-type", "xml"],
            "content type",
        ),
    ] {
        let mut all = vec!["append", "--epoch", "1"];
        all.extend(args);
        let o = env.run(&all);
        assert_exit(&o, 2);
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("nothing") || says == "content type",
            "{}",
            stderr(&o)
        );
        assert_eq!(env.snapshot(), before, "a refused append stored something");
    }
}

#[test]
fn streams_lists_hierarchical_streams() {
    let env = Env::new();
    for stream in [
        "evidence/acme/2026/11",
        "evidence/acme/2026/12",
        "orders",
        "evidence/zeta/2026/01",
    ] {
        let o = env.run_in(stream, &["append", "--epoch", "1", "1"]);
        assert_exit(&o, 0);
    }
    let o = env.run(&["streams"]);
    assert_exit(&o, 0);
    assert_eq!(
        stdout(&o),
        "evidence/acme/2026/11\nevidence/acme/2026/12\nevidence/zeta/2026/01\norders\n"
    );
    let o = env.run(&["streams", "--prefix", "evidence/acme"]);
    assert_eq!(stdout(&o), "evidence/acme/2026/11\nevidence/acme/2026/12\n");
    let o = env.run_in("evidence/acme/log", &["append", "--epoch", "1", "1"]);
    assert_exit(&o, 2);
}

#[test]
fn a_purge_deletes_an_unshared_attachment_and_keeps_a_shared_one() {
    let env = Env::new();
    let big = |name: &str, salt: u8| {
        let path = env.dir.path().join(name);
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i as u8) ^ salt).collect();
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (shared, unique) = (big("shared.pdf", 1), big("unique.pdf", 2));
    let append = |file: &str| {
        let o = env.run(&["append", "--epoch", "1", "--json", "--file", file]);
        assert_exit(&o, 0);
        let ack: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
        (
            ack["slot"].as_u64().unwrap(),
            ack["attachment"].as_str().unwrap().to_owned(),
        )
    };
    let (slot_a, key_shared) = append(&shared);
    let (_, _) = append(&shared);
    let (slot_u, key_unique) = append(&unique);
    let purge = |slot: u64| {
        let slot = slot.to_string();
        env.run(&[
            "purge",
            "--bypass-governance",
            "--reason",
            "erasure",
            "--operator",
            "ops",
            "--epoch",
            "1",
            "--min-age",
            "0s",
            "--slot",
            &slot,
        ])
    };
    let o = purge(slot_u);
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains(&format!("{key_unique}: purged")),
        "{}",
        stdout(&o)
    );
    let o = purge(slot_a);
    assert_exit(&o, 0);
    assert!(
        !stdout(&o).contains(&key_shared),
        "the other event still needs it: {}",
        stdout(&o)
    );
    let o = env.run(&["verify"]);
    assert_exit(&o, 0);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (store, _) = rt.block_on(env.open());
    assert!(rt.block_on(store.head(&key_unique)).is_err(), "deleted");
    assert!(rt.block_on(store.head(&key_shared)).is_ok(), "kept");
}

/// A document purged and later appended again is stored again at the same key: `verify`
/// checks it for the new event instead of calling it a purged attachment left behind.
#[test]
fn a_document_appended_again_after_its_purge_verifies_clean() {
    let env = Env::new();
    let path = env.dir.path().join("scan.pdf");
    std::fs::write(&path, vec![3u8; 300_000]).unwrap();
    let file = path.to_str().unwrap();
    let append = || {
        let o = env.run(&["append", "--epoch", "1", "--json", "--file", file]);
        assert_exit(&o, 0);
        let ack: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
        ack["slot"].as_u64().unwrap().to_string()
    };
    let slot = append();
    let o = env.run(&[
        "purge",
        "--bypass-governance",
        "--reason",
        "erasure",
        "--operator",
        "ops",
        "--epoch",
        "1",
        "--min-age",
        "0s",
        "--slot",
        &slot,
    ]);
    assert_exit(&o, 0);
    append();
    let o = env.run(&["verify", "--json"]);
    assert_exit(&o, 0);
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["attachments"], 1, "{report}");
}

#[test]
fn a_hold_covers_a_documents_attachment_too() {
    let env = Env::new();
    let path = env.dir.path().join("doc.bin");
    std::fs::write(&path, vec![7u8; 300_000]).unwrap();
    let o = env.run(&[
        "append",
        "--epoch",
        "1",
        "--json",
        "--one-per-segment",
        "--file",
        path.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    let ack: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let (slot, key) = (
        ack["slot"].as_u64().unwrap(),
        ack["attachment"].as_str().unwrap().to_owned(),
    );
    let o = env.run(&["hold", "set", "--slot", &slot.to_string()]);
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains(&format!("attachment {key}: legal hold set")),
        "{}",
        stdout(&o)
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (store, _) = rt.block_on(env.open());
    assert!(rt.block_on(store.head(&key)).unwrap().lock.legal_hold);
}
