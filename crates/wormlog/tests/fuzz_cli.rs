//! I9 for the command line: arbitrary arguments and arbitrary stdin bytes never make
//! `wormlog` panic; every outcome is an exit code of the contract (0 to 4), and a usage error
//! (exit 2) leaves the store exactly as it was.

mod support;

use std::io::Write;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use support::Env;

/// Words the parser knows, so random argument lists reach deep into each command.
const WORDS: &[&str] = &[
    "append",
    "cat",
    "verify",
    "purge",
    "hold",
    "set",
    "clear",
    "retention",
    "extend",
    "lease",
    "acquire",
    "release",
    "status",
    "policy",
    "init",
    "doctor",
    "--epoch",
    "--lease",
    "--slot",
    "--from-seq",
    "--to-seq",
    "--reason",
    "--bypass-governance",
    "--days",
    "--mode",
    "--lock-mode",
    "--retain-days",
    "--legal-hold",
    "--type",
    "--writer-id",
    "--holder",
    "--duration-ms",
    "--json",
    "--require-lock",
    "--bucket",
    "--streaming",
    "--stream",
    "--operator",
    "governance",
    "compliance",
    "0",
    "1",
    "2",
    "-1",
    "18446744073709551616",
    "{\"k\":1}",
    "\"x\"",
    "{",
    "",
    "é",
    "../..",
];

/// Every file under `dir` with its bytes: the store as a reader would find it.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(snapshot(&p));
            } else {
                out.push((
                    p.display().to_string(),
                    std::fs::read(&p).unwrap_or_default(),
                ));
            }
        }
    }
    out.sort();
    out
}

fn arg() -> impl Strategy<Value = std::ffi::OsString> {
    prop_oneof![
        3 => proptest::sample::select(WORDS).prop_map(std::ffi::OsString::from),
        1 => proptest::collection::vec(1u8..=255, 0..12).prop_map(std::ffi::OsString::from_vec),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_arguments_and_stdin_never_panic(
        args in proptest::collection::vec(arg(), 0..7),
        stdin in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let env = Env::new();
        // A log to act on.
        support::assert_exit(&env.run(&["append", "--epoch", "1", "1", "2"]), 0);
        let before = snapshot(&env.store());
        let mut child = Command::new(support::BIN)
            .arg("--store").arg(env.store_url()).args(["--stream", "s"])
            .args(&args)
            .env("WORMLOG_LOG", "off")
            .stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped())
            .spawn().unwrap();
        let _ = child.stdin.take().unwrap().write_all(&stdin);
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        prop_assert!(!err.contains("panicked"), "{args:?}: {err}");
        let code = out.status.code();
        prop_assert!(matches!(code, Some(0..=4)), "{args:?}: exit {code:?}: {err}");
        // A conditional append that finds another seq exits 2 after its writer's epoch-start
        // committed (the contract's "else exit 2"); every other usage error stores nothing.
        if code == Some(2) && !err.contains("the conditional append expected") {
            prop_assert_eq!(snapshot(&env.store()), before, "{:?}: {}", args, err);
        }
    }
}
