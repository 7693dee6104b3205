//! Tamper evidence for a wormlog log: what lets an auditor prove the log was not rewritten,
//! even where the store cannot lock an object.
//!
//! - [`tree`]: the RFC 9162 Merkle tree over the log's valid events in seq order (a leaf is
//!   an event's line exactly as stored in its segment), inclusion and consistency proofs,
//!   and their verification, which needs no store.
//! - [`tiles`]: the tree's hashes stored beside the log (C2SP tlog-tiles), so a proof reads
//!   O(log n) objects and a checkpointer goes on from the tree's right edge.
//! - [`note`], [`checkpoint`]: Ed25519 keys in the C2SP signed-note encodings, and the signed
//!   checkpoint (tree size, root, and the slot and write id it covers).
//!
//! Nothing here talks to a store: `wormlog-reader` reads the log and the tiles, and the
//! command line writes checkpoints.

pub mod checkpoint;
pub mod note;
pub mod tiles;
pub mod tree;

pub use checkpoint::Checkpoint;
pub use note::{NoteError, Signer, Verifier};
pub use tiles::{TileBuilder, TileId, TileSet};
pub use tree::{
    consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency, verify_inclusion,
    Hash, Nodes,
};
