//! The Merkle tree of RFC 9162 (section 2.1) over a log's leaves, and its proofs.
//!
//! ```text
//!  leaf hash   SHA-256(0x00 || leaf)            (wormlog: the event's line as stored)
//!  node hash   SHA-256(0x01 || left || right)
//!  MTH(D[n])   n = 0: SHA-256(""); n = 1: the leaf hash;
//!              else k = the largest power of two below n: node(MTH(D[0:k]), MTH(D[k:n]))
//! ```
//!
//! Every hash a proof needs is the hash of a *complete* subtree: 2^h leaves starting at a
//! multiple of 2^h, named (level h, index i). Proofs are computed from a [`Nodes`] source of
//! those, so the same code runs over leaves in memory and over stored tiles
//! (crate::tiles), which hold them and let a proof for a ten-million-leaf tree read a
//! handful of objects. Verification needs nothing but the proof (sections 2.1.3.2 and
//! 2.1.4.2), and is what an auditor runs offline.

use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf, a node or a root.
pub type Hash = [u8; 32];

/// The RFC 9162 hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The RFC 9162 hash of a leaf: SHA-256 of `0x00` and its bytes (the format's own, which
/// purge records keep for purged events).
pub use wormlog_format::leaf_hash;

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest(b"").into()
}

/// Hashes of complete subtrees: `node(h, i)` is the root of leaves `i << h .. (i + 1) << h`,
/// all of which are below the tree's size when a proof asks for it.
pub trait Nodes {
    fn node(&self, level: u32, index: u64) -> Hash;
}

/// Leaf hashes in memory: every node computed from them.
impl Nodes for [Hash] {
    fn node(&self, level: u32, index: u64) -> Hash {
        let start = (index << level) as usize;
        root_of_leaves(&self[start..start + (1usize << level)])
    }
}

fn root_of_leaves(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(&root_of_leaves(&leaves[..k]), &root_of_leaves(&leaves[k..]))
        }
    }
}

/// The largest power of two strictly below `n` (n >= 2): where RFC 9162 splits a tree.
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH of leaves `start..end`, where `start` is a multiple of the largest power of two that
/// fits (as every range RFC 9162's recursion forms is): O(log n) complete subtrees.
fn range_hash(nodes: &(impl Nodes + ?Sized), start: u64, end: u64) -> Hash {
    let n = end - start;
    if n == 0 {
        return empty_root();
    }
    if n.is_power_of_two() {
        let level = n.trailing_zeros();
        return nodes.node(level, start >> level);
    }
    let k = split_point(n);
    node_hash(
        &range_hash(nodes, start, start + k),
        &range_hash(nodes, start + k, end),
    )
}

/// The root of a tree of `size` leaves.
pub fn root(nodes: &(impl Nodes + ?Sized), size: u64) -> Hash {
    range_hash(nodes, 0, size)
}

/// The audit path of leaf `index` in a tree of `size` leaves (RFC 9162 2.1.3.1), leaf to
/// root. `None` when `index` is not below `size`.
pub fn inclusion_proof(nodes: &(impl Nodes + ?Sized), index: u64, size: u64) -> Option<Vec<Hash>> {
    if index >= size {
        return None;
    }
    let mut path = Vec::new();
    path_of(nodes, index, 0, size, &mut path);
    Some(path)
}

/// PATH(m, D[start:end]), appended leaf-side first.
fn path_of(nodes: &(impl Nodes + ?Sized), m: u64, start: u64, end: u64, out: &mut Vec<Hash>) {
    let n = end - start;
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    if m < k {
        path_of(nodes, m, start, start + k, out);
        out.push(range_hash(nodes, start + k, end));
    } else {
        path_of(nodes, m - k, start + k, end, out);
        out.push(range_hash(nodes, start, start + k));
    }
}

/// The proof that the tree of `old` leaves is a prefix of the tree of `new` leaves (RFC 9162
/// 2.1.4.1). `None` unless `old <= new`; empty when `old` is 0 or equal to `new`.
pub fn consistency_proof(nodes: &(impl Nodes + ?Sized), old: u64, new: u64) -> Option<Vec<Hash>> {
    if old > new {
        return None;
    }
    let mut proof = Vec::new();
    if old > 0 && old < new {
        subproof(nodes, old, 0, new, true, &mut proof);
    }
    Some(proof)
}

/// SUBPROOF(m, D[start:end], b).
fn subproof(
    nodes: &(impl Nodes + ?Sized),
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) {
    let n = end - start;
    if m == n {
        if !whole {
            out.push(range_hash(nodes, start, end));
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        subproof(nodes, m, start, start + k, whole, out);
        out.push(range_hash(nodes, start + k, end));
    } else {
        subproof(nodes, m - k, start + k, end, false, out);
        out.push(range_hash(nodes, start, start + k));
    }
}

/// Whether `path` proves that `leaf` is leaf `index` of the tree of `size` leaves whose root
/// is `root` (RFC 9162 2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, path: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// Whether `proof` proves that the tree of `old` leaves with root `old_root` is a prefix of
/// the tree of `new` leaves with root `new_root` (RFC 9162 2.1.4.2). Equal sizes need equal
/// roots and an empty proof; the empty tree is a prefix of every tree.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old > new {
        return false;
    }
    if old == new {
        return proof.is_empty() && old_root == new_root;
    }
    if old == 0 {
        return proof.is_empty();
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == *old_root && sr == *new_root && s == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(h: &Hash) -> String {
        wormlog_format::hex_of(h)
    }

    /// The leaves of the test vectors published with RFC 6962's reference code (the
    /// certificate-transparency project's Merkle tree tests), whose hashing RFC 9162 keeps.
    fn vector_leaves() -> Vec<Hash> {
        let raw: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        raw.iter().map(|l| leaf_hash(l)).collect()
    }

    #[test]
    fn roots_match_the_published_vectors() {
        let want = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let leaves = vector_leaves();
        for (n, want) in want.iter().enumerate() {
            assert_eq!(
                hex(&root(&leaves[..], n as u64 + 1)),
                *want,
                "size {}",
                n + 1
            );
        }
        assert_eq!(
            hex(&root(&leaves[..0], 0)),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn published_inclusion_and_consistency_paths() {
        let leaves = vector_leaves();
        // Leaf 0 of 8, and leaf 5 of 8: paths from the same published tests.
        let p = inclusion_proof(&leaves[..], 0, 8).unwrap();
        assert_eq!(
            p.iter().map(hex).collect::<Vec<_>>(),
            [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ]
        );
        let p = inclusion_proof(&leaves[..], 5, 8).unwrap();
        assert_eq!(
            p.iter().map(hex).collect::<Vec<_>>(),
            [
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ]
        );
        let c = consistency_proof(&leaves[..], 6, 8).unwrap();
        assert_eq!(
            c.iter().map(hex).collect::<Vec<_>>(),
            [
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ]
        );
    }

    #[test]
    fn out_of_range_asks_are_refused() {
        let leaves = vector_leaves();
        assert!(inclusion_proof(&leaves[..], 8, 8).is_none());
        assert!(consistency_proof(&leaves[..], 5, 4).is_none());
        assert!(!verify_inclusion(3, 3, &leaves[0], &[], &leaves[0]));
        assert!(!verify_consistency(5, 4, &leaves[0], &leaves[0], &[]));
    }

    proptest! {
        /// Every generated proof verifies, and changing any one hash of it, the leaf, the
        /// index or a root makes it fail.
        #[test]
        fn proofs_verify_and_tampering_fails(n in 1u64..300, a in 0u64..300, b in 0u64..300, flip in 0usize..64) {
            let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect();
            let (index, old) = (a % n, b % (n + 1));
            let root_n = root(&leaves[..], n);
            let path = inclusion_proof(&leaves[..], index, n).unwrap();
            prop_assert!(verify_inclusion(index, n, &leaves[index as usize], &path, &root_n));
            if !path.is_empty() {
                let mut bad = path.clone();
                let i = flip % bad.len();
                bad[i][0] ^= 1;
                prop_assert!(!verify_inclusion(index, n, &leaves[index as usize], &bad, &root_n));
            }
            let other = (index + 1) % n;
            if other != index {
                prop_assert!(!verify_inclusion(other, n, &leaves[index as usize], &path, &root_n));
            }
            let root_old = root(&leaves[..], old);
            let proof = consistency_proof(&leaves[..], old, n).unwrap();
            prop_assert!(verify_consistency(old, n, &root_old, &root_n, &proof));
            if old > 0 && old < n {
                let mut wrong = root_old;
                wrong[0] ^= 1;
                prop_assert!(!verify_consistency(old, n, &wrong, &root_n, &proof));
                let mut bad = proof.clone();
                let i = flip % bad.len();
                bad[i][31] ^= 1;
                prop_assert!(!verify_consistency(old, n, &root_old, &root_n, &bad));
            }
        }
    }
}
