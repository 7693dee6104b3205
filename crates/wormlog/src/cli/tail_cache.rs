//! The last slot this machine's `wormlog` wrote to a stream, kept in a file between runs: a
//! guess for the next process's open, which reads that slot's summary in parallel with its
//! listing instead of after it (one round trip fewer per cold append). Only a guess: the
//! listing decides, so a stale, missing or edited file costs nothing but that round trip.
//!
//! `$WORMLOG_CACHE_DIR`, else `$XDG_CACHE_HOME/wormlog`, else `~/.cache/wormlog`; one file
//! per store URL and stream (named by a hash of them), holding a slot number.

use std::path::PathBuf;

fn dir() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("WORMLOG_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("wormlog")))
        .or_else(|| env("HOME").map(|h| h.join(".cache/wormlog")))
}

fn file(store_url: &str, stream: &str) -> Option<PathBuf> {
    let name = wormlog_format::sha256_hex(format!("{store_url}\u{0}{stream}").as_bytes());
    dir().map(|d| d.join("tails").join(&name[..32]))
}

/// The slot last written to `stream` from here, if a file says so.
pub(crate) fn read(store_url: &str, stream: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file(store_url, stream)?).ok()?;
    text.trim().parse().ok()
}

/// Remembers `slot` as the last written to `stream`. Best effort: a failure only costs the
/// next open a round trip.
pub(crate) fn write(store_url: &str, stream: &str, slot: u64) {
    let Some(path) = file(store_url, stream) else {
        return;
    };
    let tmp = path.with_extension("tmp");
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|_| std::fs::write(&tmp, slot.to_string()))
        .and_then(|_| std::fs::rename(&tmp, &path));
    if let Err(e) = written {
        tracing::debug!(path = %path.display(), error = %e, "could not keep the tail guess");
    }
}
