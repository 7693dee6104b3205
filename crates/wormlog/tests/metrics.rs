//! Metrics as operators collect them: a real Prometheus (Debian's package, started by
//! scripts/prometheus.sh on 127.0.0.1) scrapes `wormlog append --streaming --metrics-addr`,
//! and a counter is queried back through its HTTP API.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use support::Env;

/// A port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET `path` from 127.0.0.1:`port`; the body.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

struct Prometheus {
    port: u16,
    dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let o = Command::new("bash")
            .arg(format!("{root}/scripts/prometheus.sh"))
            .args(["start", target])
            .env("WORMLOG_PROMETHEUS_DIR", dir.path())
            .env("WORMLOG_PROMETHEUS_PORT", port.to_string())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "scripts/prometheus.sh start failed (Prometheus is required, never skipped): {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Prometheus { port, dir }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let _ = Command::new("bash")
            .arg(format!("{root}/scripts/prometheus.sh"))
            .arg("stop")
            .env("WORMLOG_PROMETHEUS_DIR", self.dir.path())
            .env("WORMLOG_PROMETHEUS_PORT", self.port.to_string())
            .output();
    }
}

#[test]
fn prometheus_scrapes_a_streaming_append_and_the_counter_comes_back() {
    let env = Env::new();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = env.spawn(&[
        "append",
        "--streaming",
        "--epoch",
        "1",
        "--metrics-addr",
        &addr,
    ]);
    let mut stdin = child.stdin.take().unwrap();
    for i in 0..25 {
        writeln!(stdin, "{{\"n\":{i}}}").unwrap();
    }
    stdin.flush().unwrap();
    // The endpoint itself, in Prometheus text.
    let mut tries = 0;
    let text = loop {
        tries += 1;
        match http_get(port, "/metrics") {
            Some(t) if t.contains("wormlog_appends_total{stream=\"s\"} 25") => break t,
            _ if tries > 200 => panic!("no wormlog_appends_total 25 at {addr} within 20 s"),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    for name in [
        "wormlog_segments_total",
        "wormlog_put_seconds_bucket",
        "wormlog_append_seconds_count",
    ] {
        assert!(text.contains(name), "{name} in:\n{text}");
    }
    let prometheus = Prometheus::start(&addr);
    let query = "/api/v1/query?query=wormlog_appends_total";
    let mut tries = 0;
    let answer = loop {
        tries += 1;
        match http_get(prometheus.port, query) {
            Some(body) if body.contains("\"wormlog_appends_total\"") && body.contains("\"25\"") => {
                break body
            }
            _ if tries > 240 => panic!("Prometheus did not return the counter within 60 s"),
            _ => std::thread::sleep(Duration::from_millis(250)),
        }
    };
    let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["result"][0]["metric"]["stream"], "s");
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
