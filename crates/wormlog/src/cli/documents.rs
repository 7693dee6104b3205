//! Documents on the command line: `append --file` / `--raw` inputs, checked before anything is
//! stored, and `append --json` acknowledgements that prove each upload.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use clap::Args;
use serde::Serialize;
use tokio::io::AsyncReadExt;
use wormlog::{Appended, LogWriter, NewEvent, ObjectStore};
use wormlog_format::{sha256_hex, StreamKeys};
use wormlog_writer::WriteError;

use super::{CliError, CliResult};

/// How raw payloads are taken and stored.
#[derive(Args, Debug, Clone)]
pub(crate) struct DocumentArgs {
    /// Append the exact bytes of this file as one event; repeat for several (one event each).
    #[arg(long = "file", value_name = "PATH", conflicts_with_all = ["data", "raw", "streaming"])]
    pub files: Vec<PathBuf>,

    /// Append all of stdin, byte for byte, as one event.
    #[arg(long, conflicts_with_all = ["data", "streaming"])]
    pub raw: bool,

    /// The content type of --file and --raw payloads (default: from the file name's
    /// extension, else application/octet-stream).
    #[arg(long, value_name = "TYPE")]
    pub content_type: Option<String>,

    /// Payloads larger than this many bytes are stored as attachments of their own, with a
    /// server-verified SHA-256; smaller ones go inline in the event line.
    #[arg(long, value_name = "BYTES", default_value_t = wormlog_writer::DEFAULT_ATTACH_ABOVE)]
    pub attach_above: u64,

    /// Refuse payloads larger than this many bytes (exit 2, nothing stored).
    #[arg(long, value_name = "BYTES", default_value_t = 50 << 30)]
    pub max_payload: u64,

    /// Give every event its own segment (one Object Lock per document).
    #[arg(long)]
    pub one_per_segment: bool,

    /// Print one JSON object per acknowledged event: seq, id, slot, key, bytes, sha256,
    /// content type, attachment and the Object Lock applied.
    #[arg(long)]
    pub json: bool,
}

/// One input to append.
pub(crate) enum Input {
    Json(String),
    File { path: PathBuf, content_type: String },
    Raw { bytes: Bytes, content_type: String },
}

impl DocumentArgs {
    /// Every `--file`, checked before anything is stored: it exists, is a regular readable
    /// file, and is not larger than `--max-payload`.
    pub async fn files(&self) -> CliResult<Vec<Input>> {
        let mut out = Vec::with_capacity(self.files.len());
        for path in &self.files {
            let refuse = |why: String| {
                CliError::usage(format!(
                    "--file {}: {why}; nothing was appended",
                    path.display()
                ))
            };
            let md = tokio::fs::metadata(path)
                .await
                .map_err(|e| refuse(format!("cannot be read ({e})")))?;
            if md.is_dir() {
                return Err(refuse("is a directory; name the files in it".into()));
            }
            if !md.is_file() {
                return Err(refuse("is not a regular file".into()));
            }
            if md.len() > self.max_payload {
                return Err(refuse(format!(
                    "has {} bytes, more than --max-payload {}",
                    md.len(),
                    self.max_payload
                )));
            }
            tokio::fs::File::open(path)
                .await
                .map_err(|e| refuse(format!("cannot be opened ({e})")))?;
            out.push(Input::File {
                path: path.clone(),
                content_type: self.content_type_of(Some(path)),
            });
        }
        Ok(out)
    }

    /// `--raw`: all of stdin as one payload, refused above `--max-payload`.
    pub async fn stdin(&self) -> CliResult<Vec<Input>> {
        let mut bytes = Vec::new();
        let limit = self.max_payload.saturating_add(1);
        tokio::io::stdin()
            .take(limit)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| CliError::usage(format!("could not read stdin ({e})")))?;
        if bytes.len() as u64 > self.max_payload {
            return Err(CliError::usage(format!(
                "stdin holds more than --max-payload {} bytes; nothing was appended",
                self.max_payload
            )));
        }
        Ok(vec![Input::Raw {
            bytes: Bytes::from(bytes),
            content_type: self.content_type_of(None),
        }])
    }

    fn content_type_of(&self, path: Option<&Path>) -> String {
        if let Some(t) = &self.content_type {
            return t.clone();
        }
        let ext = path
            .and_then(|p| p.extension())
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("json") => "application/json",
            Some("xml") => "application/xml",
            Some("pdf") => "application/pdf",
            Some("txt") | Some("log") => "text/plain",
            Some("csv") => "text/csv",
            Some("html") | Some("htm") => "text/html",
            Some("png") => "image/png",
            Some("jpg") | Some("jpeg") => "image/jpeg",
            Some("zip") => "application/zip",
            Some("gz") => "application/gzip",
            _ => "application/octet-stream",
        }
        .to_owned()
    }
}

/// Builds the event for one input (uploading an attachment first where needed).
pub(crate) async fn event_of(
    writer: &LogWriter,
    event_type: &str,
    input: &Input,
) -> Result<NewEvent, WriteError> {
    match input {
        Input::Json(text) => writer.event(event_type, text),
        Input::File { path, content_type } => {
            writer.file_event(event_type, content_type, path).await
        }
        Input::Raw {
            bytes,
            content_type,
        } => {
            writer
                .raw_event(event_type, content_type, bytes.clone())
                .await
        }
    }
}

/// What `append --json` prints for one event.
#[derive(Serialize)]
struct JsonAck<'a> {
    seq: u64,
    id: String,
    slot: u64,
    key: String,
    bytes: u64,
    sha256: String,
    content_type: &'a str,
    attachment: Option<String>,
    lock: Option<LockApplied>,
}

/// The Object Lock the store reports on the segment (read back, not assumed).
#[derive(Clone, Serialize)]
struct LockApplied {
    mode: Option<String>,
    retain_until: Option<String>,
    legal_hold: bool,
}

/// Prints acknowledgements: `seq id` lines, or with `--json` one object per event, each with
/// the lock read back from the store (one HEAD per segment).
pub(crate) struct Acks {
    json: bool,
    store: std::sync::Arc<dyn ObjectStore>,
    keys: StreamKeys,
    locks: BTreeMap<u64, Option<LockApplied>>,
}

impl Acks {
    pub fn new(json: bool, store: std::sync::Arc<dyn ObjectStore>, keys: StreamKeys) -> Acks {
        Acks {
            json,
            store,
            keys,
            locks: BTreeMap::new(),
        }
    }

    /// Prints the ack of `a`, the event `e` (`None` when the caller has no more than the ack).
    pub async fn print(&mut self, a: &Appended, e: Option<&NewEvent>) {
        if !self.json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{} {}", a.seq, a.id);
            let _ = out.flush();
            return;
        }
        let key = self.keys.segment(a.slot);
        if !self.locks.contains_key(&a.slot) {
            let lock = match self.store.head(&key).await {
                Ok(m) => Some(LockApplied {
                    mode: m.lock.retention.map(|r| r.mode.to_string()),
                    retain_until: m.lock.retention.map(|r| r.retain_until.to_rfc3339()),
                    legal_hold: m.lock.legal_hold,
                }),
                Err(e) => {
                    eprintln!(
                        "wormlog: slot {} is committed, but reading its lock back failed ({e})",
                        a.slot
                    );
                    None
                }
            };
            self.locks.insert(a.slot, lock);
        }
        let facts = e.and_then(NewEvent::payload);
        let facts = facts.as_ref();
        let json = e.and_then(NewEvent::stored_json).unwrap_or_default();
        let ack = JsonAck {
            seq: a.seq,
            id: a.id.to_string(),
            slot: a.slot,
            key,
            bytes: facts.map_or(json.len() as u64, |f| f.bytes),
            sha256: facts.map_or_else(|| sha256_hex(json.as_bytes()), |f| f.sha256.clone()),
            content_type: facts.map_or("application/json", |f| f.content_type.as_str()),
            attachment: facts
                .and_then(|f| f.attachment.as_deref())
                .map(|a| self.keys.attachment(a)),
            lock: self.locks[&a.slot].clone(),
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string(&ack).expect("acks serialise")
        );
        let _ = out.flush();
    }
}
