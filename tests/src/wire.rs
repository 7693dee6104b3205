//! [`WireFaults`]: an HTTP relay on 127.0.0.1 in front of a real S3 server, for faults that
//! only exist on the wire and that no wrapper around `ObjectStore` can produce: a request the
//! server applied whose response never reaches the client (so the SDK, not wormlog, decides
//! what to do next), and an answer the client gets instead of the server's.
//!
//! ```text
//!  S3Store ──► relay (one request per connection, `Connection: close`) ──► RGW / moto
//!                 │ rule matches?  DropResponse: forward, wait for the answer, close silently
//!                 │                Respond:      answer itself (say 403 ExpiredToken)
//! ```
//!
//! Each client connection carries one request: the relay forwards it with `Connection:
//! close`, so the server's answer ends at end of stream and needs no parsing.

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What the relay does with a matching request.
#[derive(Clone, Debug)]
pub enum WireAction {
    /// Forward it, let the server answer, and close the client's connection without the
    /// answer: a lost response of an applied request.
    DropResponse,
    /// Answer it with this error instead of forwarding it.
    Respond {
        status: u16,
        code: &'static str,
        message: &'static str,
    },
}

/// A fault for `times` requests whose method is `method` and whose path contains `path`.
#[derive(Clone, Debug)]
pub struct WireRule {
    pub method: &'static str,
    pub path: String,
    pub action: WireAction,
    pub times: usize,
}

/// One request the relay saw, and what it did with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireRequest {
    pub method: String,
    pub path: String,
    /// `None` when forwarded untouched.
    pub fault: Option<String>,
}

#[derive(Default)]
struct State {
    rules: Vec<WireRule>,
    seen: Vec<WireRequest>,
}

/// The relay; it stops when dropped.
pub struct WireFaults {
    port: u16,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WireFaults {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WireFaults {
    /// Starts a relay to `upstream` (such as `http://127.0.0.1:7480`).
    pub async fn start(upstream: &str) -> WireFaults {
        let target = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let port = listener.local_addr().expect("an address").port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (state, target) = (Arc::clone(&shared), target.clone());
                tokio::spawn(async move {
                    let _ = relay_one(client, &target, &state).await;
                });
            }
        });
        WireFaults { port, state, task }
    }

    /// The endpoint to give the S3 client.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn add(&self, rule: WireRule) {
        self.state.lock().rules.push(rule);
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<WireRequest> {
        self.state.lock().seen.clone()
    }
}

/// Reads one request from `client`, applies the first matching rule, answers, closes.
async fn relay_one(client: TcpStream, target: &str, state: &Mutex<State>) -> std::io::Result<()> {
    let mut client = BufReader::new(client);
    let mut head = Vec::new();
    loop {
        let n = client.read_until(b'\n', &mut head).await?;
        if n == 0 {
            return Ok(()); // the client closed an idle connection
        }
        if head.ends_with(b"\r\n\r\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let mut parts = request_line.split(' ');
    let (method, path) = (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
    );
    let (mut length, mut expects_continue) = (0usize, false);
    let mut forwarded = format!("{request_line}\r\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("expect:") && lower.contains("100-continue") {
            expects_continue = true;
            continue; // answered here; the server gets the whole body at once
        }
        if !lower.starts_with("connection:") {
            forwarded.push_str(line);
            forwarded.push_str("\r\n");
        }
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    if expects_continue {
        client
            .get_mut()
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await?;
    }
    let mut body = vec![0u8; length];
    client.read_exact(&mut body).await?;

    let action = {
        let mut s = state.lock();
        let action = s
            .rules
            .iter_mut()
            .find(|r| r.times > 0 && r.method == method && path.contains(&r.path))
            .map(|r| {
                r.times -= 1;
                r.action.clone()
            });
        s.seen.push(WireRequest {
            method: method.clone(),
            path: path.clone(),
            fault: action.as_ref().map(|a| format!("{a:?}")),
        });
        action
    };
    let mut client = client.into_inner();
    if let Some(WireAction::Respond {
        status,
        code,
        message,
    }) = action
    {
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
        );
        let answer = format!(
            "HTTP/1.1 {status} Injected\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
            xml.len()
        );
        client.write_all(answer.as_bytes()).await?;
        return client.shutdown().await;
    }
    let mut upstream = TcpStream::connect(target).await?;
    upstream.write_all(forwarded.as_bytes()).await?;
    upstream.write_all(&body).await?;
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer).await?;
    match action {
        // Applied by the server; the client never hears of it.
        Some(WireAction::DropResponse) => Ok(()),
        _ => {
            client.write_all(&answer).await?;
            client.shutdown().await
        }
    }
}
