//! An independent reader test: a Python + boto3 script written from docs/format.md alone
//! (tests/python/independent_reader.py) finds a document's attachment from its event,
//! downloads it and checks its SHA-256, on moto and on Ceph RGW. If it can, any auditor can,
//! without wormlog.

mod support;

use std::process::Command;

use sha2::Digest;
use support::{assert_exit, stdout, Env};
use wormlog_tests::servers::{Server, MOTO, RGW};

fn independent_reader_finds_and_checks_an_attachment(server: Server, versioned: bool) {
    let bucket = Server::fresh_bucket("wl-indep");
    let env = Env::s3_bucket(server, &bucket, versioned);
    let doc: Vec<u8> = (0..400_000u32).map(|i| (i % 251) as u8).collect();
    let path = env.dir.path().join("invoice.xml");
    std::fs::write(&path, &doc).unwrap();
    let o = env.run(&[
        "append",
        "--epoch",
        "1",
        "--json",
        "--file",
        path.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    let ack: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let out = env.dir.path().join("read.xml");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/python/independent_reader.py"
    );
    let run = Command::new("python3")
        .arg(script)
        .args([&server.endpoint(), &bucket, "cli", "s"])
        .arg(ack["id"].as_str().unwrap())
        .arg(&out)
        .envs(server.credential_env())
        .output()
        .expect("python3 runs (scripts/moto.sh installs boto3 with moto[server])");
    assert!(
        run.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let found: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let sha: String = sha2::Sha256::digest(&doc)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(found["read_sha256"], sha);
    assert_eq!(found["content_type"], "application/xml");
    assert!(found["source"].as_str().unwrap().contains("/attachments/"));
    assert!(std::fs::read(&out).unwrap() == doc);
}

#[test]
fn an_independent_boto3_reader_checks_an_attachment_on_moto() {
    independent_reader_finds_and_checks_an_attachment(MOTO, true);
}

#[test]
fn an_independent_boto3_reader_checks_an_attachment_on_ceph_rgw() {
    independent_reader_finds_and_checks_an_attachment(RGW, false);
}
