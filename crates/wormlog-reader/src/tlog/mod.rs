//! Tamper evidence over a stored log (docs/protocol.md, "Checkpoints and proofs"): the RFC
//! 9162 Merkle tree over the valid events in seq order, its tiles and signed checkpoints in
//! the bucket, inclusion and consistency proofs, and the audit of a log against them.
//!
//! ```text
//!  checkpoint   read the latest checkpoint (its signature checked with the signer's own
//!               key) and the tree's right edge (its partial tiles), check they give its
//!               root; scan on from the slot after it, hashing each valid event's stored
//!               line (a purged event: the leaf hash its purge record keeps); store the
//!               tiles that filled and the new edge, then P/checkpoints/<size>, all
//!               create-only and locked as asked
//!  prove        the checkpoint (latest or named), the tiles the proof needs (at most one
//!               per tree level), checked against its root; the audit path or the
//!               consistency proof
//!  audit        recompute the tree from slot 0; every checkpoint must verify under the
//!               auditor's key and match the tree at its size, and the stored leaf tiles the
//!               recomputed leaves (naming the first seq that differs)
//! ```
//!
//! Leaves are events, not segments: orphans, zombies, voids and control records are not
//! leaves, so a tree is the same whatever pipelining, takeovers or repairs left in the log;
//! a purged event stays a leaf, so a purge changes no root.

use std::sync::Arc;

use futures::future::join_all;
use serde::{Deserialize, Serialize};
use wormlog_format::{hex_of, StreamKeys};
use wormlog_store::{ObjectStore, StoreError};
use wormlog_tlog::tiles::{tiles_needed, TileBuilder, TileId, TileSet};
use wormlog_tlog::{Checkpoint, Hash, Verifier};

use crate::fetch::{get_with_retries, list_all_with_retries, list_page_with_retries};
use crate::{LogReader, ReadError};

mod tree;
use tree::leaves_of;
pub use tree::{
    origin, write_checkpoint, write_checkpoint_rotated, KnownSegment, Pushed, Tree, TreeBug,
};

/// What stops a checkpoint, a proof or an audit.
#[derive(Debug, thiserror::Error)]
pub enum TlogError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The stored checkpoints or tiles contradict each other or the log: tampering, or a
    /// checkpoint signed by another key.
    #[error("{0}")]
    Tampered(String),
    /// What was asked for does not exist or cannot be done.
    #[error("{0}")]
    Invalid(String),
}

impl TlogError {
    /// Its [`wormlog_store::ErrorClass`]: a contradiction is an integrity finding.
    pub fn class(&self) -> wormlog_store::ErrorClass {
        match self {
            TlogError::Read(e) => e.class(),
            TlogError::Store(e) => e.class(),
            TlogError::Tampered(_) => wormlog_store::ErrorClass::Integrity,
            TlogError::Invalid(_) => wormlog_store::ErrorClass::InvalidInput,
        }
    }
}

/// The sizes of the stream's checkpoints, ascending.
pub async fn checkpoint_sizes(
    store: &dyn ObjectStore,
    keys: &StreamKeys,
) -> Result<Vec<u64>, TlogError> {
    let listed = list_all_with_retries(store, &keys.checkpoints_prefix(), None).await?;
    let mut sizes: Vec<u64> = listed
        .iter()
        .filter_map(|e| keys.parse_checkpoint(&e.key))
        .collect();
    sizes.sort_unstable();
    Ok(sizes)
}

/// The size of the newest checkpoint below `below` (of all, for `None`), in O(log n) LISTs
/// however many checkpoints the stream holds: a writer that signs every 10 s keeps three
/// million a year, and listing them all on every open would take thousands of pages.
/// Checkpoint keys are zero-padded sizes, so the store lists them in size order: one page
/// when they fit in it, else a gallop then a bisection on `start-after` from its last key,
/// each probe one single-key LIST naming the smallest size above a bound.
pub async fn newest_checkpoint(
    store: &dyn ObjectStore,
    keys: &StreamKeys,
    below: Option<u64>,
) -> Result<Option<u64>, TlogError> {
    let limit = match below {
        Some(0) => return Ok(None),
        Some(b) => b - 1,
        None => u64::MAX,
    };
    let prefix = keys.checkpoints_prefix();
    let page = list_page_with_retries(store, &prefix, None, 1000).await?;
    let first: Vec<u64> = page
        .entries
        .iter()
        .filter_map(|e| keys.parse_checkpoint(&e.key))
        .collect();
    let at_most = |sizes: &[u64]| sizes.iter().copied().filter(|&s| s <= limit).max();
    if !page.truncated || first.last().is_some_and(|&l| l >= limit) {
        return Ok(at_most(&first));
    }
    // The smallest size listed after the key `after`, if any (keys that are no checkpoint
    // passed over).
    let after_key = |mut after: String| {
        let prefix = prefix.clone();
        async move {
            loop {
                let page = list_page_with_retries(store, &prefix, Some(&after), 1).await?;
                let Some(entry) = page.entries.into_iter().next() else {
                    return Ok::<_, TlogError>(None);
                };
                match keys.parse_checkpoint(&entry.key) {
                    Some(size) => return Ok(Some(size)),
                    None => after = entry.key,
                }
            }
        }
    };
    let above = |x: u64| after_key(keys.checkpoint(x));
    // A first page of keys that are no checkpoint goes on from its last key.
    let last = match first.last() {
        Some(&l) => l,
        None => {
            let raw = page
                .entries
                .last()
                .map(|e| e.key.clone())
                .unwrap_or_default();
            match after_key(raw).await?.filter(|&s| s <= limit) {
                Some(s) => s,
                None => return Ok(None),
            }
        }
    };
    // Gallop: `lo` is a checkpoint's size; none lies in (lo + step, limit] once it stops.
    let (mut lo, mut step) = (last, 1u64);
    while let Some(s) = above(lo.saturating_add(step))
        .await?
        .filter(|&s| s <= limit)
    {
        lo = s;
        step = step.saturating_mul(2);
    }
    // Bisect: the newest is in [lo, hi], and lo is one.
    let mut hi = lo.saturating_add(step).min(limit);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        match above(mid - 1).await?.filter(|&s| s <= hi) {
            Some(s) => lo = s,
            None => hi = mid - 1,
        }
    }
    Ok(Some(lo))
}

fn no_checkpoint(keys: &StreamKeys) -> TlogError {
    TlogError::Invalid(format!(
        "stream {} has no checkpoint yet; write one with `wormlog checkpoint --key FILE`",
        keys.stream()
    ))
}

/// The stored note of the checkpoint at `size`.
pub async fn checkpoint_note(
    store: &dyn ObjectStore,
    keys: &StreamKeys,
    size: u64,
) -> Result<String, TlogError> {
    let key = keys.checkpoint(size);
    let got = match get_with_retries(store, &key).await {
        Err(StoreError::NotFound { .. }) => {
            return Err(TlogError::Invalid(format!(
                "there is no checkpoint of size {size} in stream {}; list them with `wormlog verify --key`",
                keys.stream()
            )))
        }
        got => got?,
    };
    String::from_utf8(got.body.to_vec())
        .map_err(|_| TlogError::Tampered(format!("checkpoint {key} is not text")))
}

/// Reads `ids` (concurrently) into a tile set.
async fn read_tiles(
    store: &dyn ObjectStore,
    keys: &StreamKeys,
    ids: impl IntoIterator<Item = TileId>,
) -> Result<TileSet, TlogError> {
    let ids: Vec<TileId> = ids.into_iter().collect();
    let reads = join_all(ids.iter().map(|id| {
        let key = keys.tile(&id.path());
        async move { (key.clone(), get_with_retries(store, &key).await) }
    }))
    .await;
    let mut set = TileSet::default();
    for (id, (key, got)) in ids.into_iter().zip(reads) {
        let got = match got {
            Err(StoreError::NotFound { .. }) => {
                return Err(TlogError::Tampered(format!(
                    "tile {key} of the Merkle tree is missing; run `wormlog verify --key` to audit the log"
                )))
            }
            got => got?,
        };
        set.insert(id, &got.body)
            .map_err(|e| TlogError::Tampered(e.to_string()))?;
    }
    Ok(set)
}

fn parse_hash(hex: &str) -> Option<Hash> {
    wormlog_format::parse_hex32(hex)
}

/// An inclusion proof, as `wormlog prove --seq` prints it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct InclusionProof {
    pub leaf_index: u64,
    pub tree_size: u64,
    pub leaf_hash: String,
    pub audit_path: Vec<String>,
    pub root_hash: String,
    pub checkpoint: String,
}

/// A consistency proof, as `wormlog prove --consistency` prints it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConsistencyProof {
    pub old_size: u64,
    pub new_size: u64,
    pub old_root: String,
    pub new_root: String,
    pub proof: Vec<String>,
    pub old_checkpoint: String,
    pub new_checkpoint: String,
}

/// The checkpoint at `size` (the latest when `None`), unverified (the proof's verifier
/// checks its signature), and the stored tiles a computation over its tree reads, checked
/// to give its root.
async fn checkpoint_and_tiles(
    store: &dyn ObjectStore,
    keys: &StreamKeys,
    size: Option<u64>,
    compute: impl Fn(&dyn wormlog_tlog::Nodes),
) -> Result<(Checkpoint, String, TileSet), TlogError> {
    let size = match size {
        Some(s) => s,
        None => newest_checkpoint(store, keys, None)
            .await?
            .ok_or_else(|| no_checkpoint(keys))?,
    };
    let note = checkpoint_note(store, keys, size).await?;
    let cp = Checkpoint::parse_unverified(&note).map_err(|e| TlogError::Tampered(e.to_string()))?;
    if cp.size != size {
        return Err(TlogError::Tampered(format!(
            "checkpoint {} says tree size {}",
            keys.checkpoint(size),
            cp.size
        )));
    }
    let mut needed = tiles_needed(size, |n| {
        let _ = wormlog_tlog::root(n, size);
    });
    needed.extend(tiles_needed(size, compute));
    let tiles = read_tiles(store, keys, needed).await?;
    if wormlog_tlog::root(&tiles, size) != cp.root {
        return Err(TlogError::Tampered(format!(
            "the stored tiles do not give the root of checkpoint {size}; audit with `wormlog verify --key`"
        )));
    }
    Ok((cp, note, tiles))
}

/// The proof that event `seq` is in the tree of the checkpoint at `size` (the latest when
/// `None`). Reads O(log n) tiles, never the whole log.
pub async fn prove_inclusion(
    store: Arc<dyn ObjectStore>,
    root_prefix: &str,
    stream: &str,
    seq: u64,
    size: Option<u64>,
) -> Result<InclusionProof, TlogError> {
    let keys =
        StreamKeys::new(root_prefix, stream).map_err(|e| TlogError::Invalid(e.to_string()))?;
    let probe_size = match size {
        Some(s) => s,
        None => newest_checkpoint(&*store, &keys, None)
            .await?
            .ok_or_else(|| no_checkpoint(&keys))?,
    };
    if seq >= probe_size {
        return Err(TlogError::Invalid(format!(
            "seq {seq} is not below the checkpoint's tree size {probe_size}; write a newer checkpoint with `wormlog checkpoint`"
        )));
    }
    let (cp, note, tiles) = checkpoint_and_tiles(&*store, &keys, Some(probe_size), |n| {
        drop(wormlog_tlog::inclusion_proof(n, seq, probe_size));
        let _ = n.node(0, seq);
    })
    .await?;
    let path = wormlog_tlog::inclusion_proof(&tiles, seq, cp.size).expect("seq below the size");
    Ok(InclusionProof {
        leaf_index: seq,
        tree_size: cp.size,
        leaf_hash: hex_of(&wormlog_tlog::Nodes::node(&tiles, 0, seq)),
        audit_path: path.iter().map(hex_of).collect(),
        root_hash: hex_of(&cp.root),
        checkpoint: note,
    })
}

/// The proof that the checkpoint at `old` is a prefix of the one at `new`.
pub async fn prove_consistency(
    store: Arc<dyn ObjectStore>,
    root_prefix: &str,
    stream: &str,
    old: u64,
    new: u64,
) -> Result<ConsistencyProof, TlogError> {
    let keys =
        StreamKeys::new(root_prefix, stream).map_err(|e| TlogError::Invalid(e.to_string()))?;
    if old > new {
        return Err(TlogError::Invalid(format!(
            "the old size {old} is above the new size {new}; give them in order"
        )));
    }
    let old_note = checkpoint_note(&*store, &keys, old).await?;
    let old_cp =
        Checkpoint::parse_unverified(&old_note).map_err(|e| TlogError::Tampered(e.to_string()))?;
    let (new_cp, new_note, tiles) = checkpoint_and_tiles(&*store, &keys, Some(new), |n| {
        drop(wormlog_tlog::consistency_proof(n, old, new));
    })
    .await?;
    let proof = wormlog_tlog::consistency_proof(&tiles, old, new).expect("old <= new");
    Ok(ConsistencyProof {
        old_size: old,
        new_size: new,
        old_root: hex_of(&old_cp.root),
        new_root: hex_of(&new_cp.root),
        proof: proof.iter().map(hex_of).collect(),
        old_checkpoint: old_note,
        new_checkpoint: new_note,
    })
}

/// Checks a proof printed by `wormlog prove` with nothing but the verifier key: its
/// checkpoints' signatures, that they state the roots and sizes the proof uses, and the
/// proof itself. Returns what it proved, in a sentence.
pub fn verify_proof(json: &str, verifier: &Verifier) -> Result<String, TlogError> {
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| TlogError::Invalid(format!("the proof is not JSON ({e})")))?;
    let refuted = |why: String| TlogError::Tampered(format!("the proof does not verify: {why}"));
    let open = |note: &str| {
        Checkpoint::open(note, verifier).map_err(|e| {
            refuted(format!(
                "its checkpoint does not verify under key {}: {e}",
                verifier.name()
            ))
        })
    };
    let hashes = |v: &[String]| -> Result<Vec<Hash>, TlogError> {
        v.iter()
            .map(|h| {
                parse_hash(h)
                    .ok_or_else(|| TlogError::Invalid(format!("{h:?} is not a hex SHA-256")))
            })
            .collect()
    };
    if value.get("leaf_index").is_some() {
        let p: InclusionProof = serde_json::from_value(value)
            .map_err(|e| TlogError::Invalid(format!("the inclusion proof is malformed ({e})")))?;
        let cp = open(&p.checkpoint)?;
        let root = parse_hash(&p.root_hash)
            .ok_or_else(|| TlogError::Invalid("root_hash is not a hex SHA-256".into()))?;
        if cp.size != p.tree_size || cp.root != root {
            return Err(refuted(
                "its tree size or root is not the checkpoint's".into(),
            ));
        }
        let leaf = parse_hash(&p.leaf_hash)
            .ok_or_else(|| TlogError::Invalid("leaf_hash is not a hex SHA-256".into()))?;
        if !wormlog_tlog::verify_inclusion(
            p.leaf_index,
            p.tree_size,
            &leaf,
            &hashes(&p.audit_path)?,
            &root,
        ) {
            return Err(refuted(format!(
                "the audit path does not lead from leaf {} to the root",
                p.leaf_index
            )));
        }
        Ok(format!(
            "leaf {} ({}) is in the tree of size {} signed by {}",
            p.leaf_index,
            p.leaf_hash,
            p.tree_size,
            verifier.name()
        ))
    } else {
        let p: ConsistencyProof = serde_json::from_value(value)
            .map_err(|e| TlogError::Invalid(format!("the consistency proof is malformed ({e})")))?;
        let (old, new) = (open(&p.old_checkpoint)?, open(&p.new_checkpoint)?);
        if old.size != p.old_size || new.size != p.new_size {
            return Err(refuted("its sizes are not its checkpoints'".into()));
        }
        if !wormlog_tlog::verify_consistency(
            old.size,
            new.size,
            &old.root,
            &new.root,
            &hashes(&p.proof)?,
        ) {
            return Err(refuted(format!(
                "the tree of size {} is not a prefix of the tree of size {}",
                old.size, new.size
            )));
        }
        Ok(format!(
            "the tree of size {} is a prefix of the tree of size {}, both signed by {}",
            old.size,
            new.size,
            verifier.name()
        ))
    }
}

/// What an audit of the tree found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TreeAudit {
    /// The events the log holds (the recomputed tree's size).
    pub tree_size: u64,
    pub root_hash: String,
    /// Checkpoints checked, by size.
    pub checkpoints: Vec<u64>,
    /// Violations, one sentence each, naming the seq or the checkpoint.
    pub violations: Vec<String>,
}

/// Opens a checkpoint note signed by any of `verifiers` (after a key rotation an auditor
/// holds every key that signed); the error names them all.
fn open_by_any(note: &str, verifiers: &[Verifier]) -> Result<Checkpoint, String> {
    let mut first = None;
    for verifier in verifiers {
        match Checkpoint::open(note, verifier) {
            Ok(cp) => return Ok(cp),
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    let names: Vec<&str> = verifiers.iter().map(Verifier::name).collect();
    let keys = match names.as_slice() {
        [one] => format!("key {one}"),
        many => format!("any of the keys {}", many.join(", ")),
    };
    Err(match first {
        Some(e) => format!("does not verify under {keys}: {e}"),
        None => "cannot be checked: no verifier key was given".to_owned(),
    })
}

/// Recomputes the tree over the whole log and checks every stored checkpoint against it
/// (signature under one of `verifiers`, root at its size), the stored leaf tiles against
/// the recomputed leaves, and `trusted` (a checkpoint note obtained out of band) likewise.
/// After a key rotation, pass every key that signed: a checkpoint none of them signed is a
/// violation.
pub async fn audit_tree(
    store: Arc<dyn ObjectStore>,
    root_prefix: &str,
    stream: &str,
    verifiers: &[Verifier],
    trusted: Option<&str>,
) -> Result<TreeAudit, TlogError> {
    // The events themselves are checked by `verify`'s own pass: this one parses none.
    let reader = LogReader::new(Arc::clone(&store), root_prefix, stream)?.leaves_only();
    let keys = reader.keys.clone();
    let sizes = checkpoint_sizes(&*store, &keys).await?;
    let mut audit = TreeAudit::default();
    let mut wanted: Vec<(u64, String, Checkpoint)> = Vec::new();
    for &size in &sizes {
        // One unreadable checkpoint is a finding of its own, never the end of the audit.
        let note = match checkpoint_note(&*store, &keys, size).await {
            Ok(note) => note,
            Err(TlogError::Tampered(why) | TlogError::Invalid(why)) => {
                audit.violations.push(why);
                continue;
            }
            Err(e) => return Err(e),
        };
        match open_by_any(&note, verifiers) {
            Ok(cp) if cp.origin != origin(&keys) => audit.violations.push(format!(
                "checkpoint {} speaks for another log ({}): it was copied in",
                keys.checkpoint(size),
                cp.origin
            )),
            Ok(cp) if cp.size == size => wanted.push((size, keys.checkpoint(size), cp)),
            Ok(cp) => audit.violations.push(format!(
                "checkpoint {} says tree size {}: it was renamed or replaced",
                keys.checkpoint(size),
                cp.size
            )),
            Err(why) => audit
                .violations
                .push(format!("checkpoint {} {why}", keys.checkpoint(size))),
        }
    }
    if let Some(note) = trusted {
        match open_by_any(note, verifiers) {
            Ok(cp) if cp.origin != origin(&keys) => audit.violations.push(format!(
                "the trusted checkpoint speaks for another log ({}), not {}",
                cp.origin,
                origin(&keys)
            )),
            Ok(cp) => wanted.push((cp.size, "the trusted checkpoint".into(), cp)),
            Err(why) => return Err(TlogError::Invalid(format!("the trusted checkpoint {why}"))),
        }
    }
    wanted.sort_by_key(|w| w.0);
    // One pass: the tree grows from its right edge, and its root is taken at each size a
    // checkpoint names (O(log n) each, not a recomputation from the leaves).
    let sizes: std::collections::BTreeSet<u64> = wanted.iter().map(|w| w.0).collect();
    let mut roots = std::collections::HashMap::new();
    let (mut leaves, mut tree) = (Vec::new(), TileBuilder::default());
    roots.insert(0, tree.root());
    let mut scan = reader.scan(0).await?;
    while let Some(item) = scan.next().await? {
        for leaf in leaves_of(&item)? {
            leaves.push(leaf);
            tree.push(leaf);
            if sizes.contains(&tree.size()) {
                roots.insert(tree.size(), tree.root());
            }
        }
    }
    let n = tree.size();
    audit.tree_size = n;
    audit.root_hash = hex_of(&tree.root());
    for (size, name, cp) in &wanted {
        audit.checkpoints.push(*size);
        if *size > n {
            audit.violations.push(format!(
                "{name} covers {size} events but the log holds {n}: events at seq {n} and above were removed"
            ));
        } else if roots.get(size) != Some(&cp.root) {
            audit.violations.push(format!(
                "{name} (size {size}) does not match the log: {}",
                first_difference(&*store, &keys, &leaves, *size).await
            ));
        }
    }
    Ok(audit)
}

/// Where the log departs from the tree a checkpoint of `size` signed: the first leaf whose
/// stored tile differs from the recomputed one (the seq rewritten, removed or moved).
async fn first_difference(
    store: &dyn ObjectStore,
    keys: &StreamKeys,
    leaves: &[Hash],
    size: u64,
) -> String {
    let ids = tiles_needed(size, |n| {
        for i in (0..size).step_by(256) {
            let _ = n.node(0, i);
        }
    });
    match read_tiles(store, keys, ids).await {
        Ok(tiles) => {
            let first = (0..size).find(|&i| {
                leaves.get(i as usize) != Some(&wormlog_tlog::Nodes::node(&tiles, 0, i))
            });
            match first {
                Some(seq) => format!(
                    "the event at seq {seq} differs from the one the checkpoint signed (rewritten, removed or reordered)"
                ),
                None => "the stored tiles match the log but not the checkpoint's root (the tiles were rewritten too)".into(),
            }
        }
        Err(e) => format!("its root differs, and its tiles cannot be read to name the seq ({e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_parse_back() {
        let h = [0xab; 32];
        assert_eq!(parse_hash(&hex_of(&h)), Some(h));
        assert_eq!(parse_hash("zz"), None);
    }
}
