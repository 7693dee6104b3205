//! Tiles: the tree's hashes stored in the bucket, so a proof reads O(log n) objects (the
//! C2SP tlog-tiles layout, hash tiles only: the log's segments are its entries).
//!
//! ```text
//!  tile (L, N)    the hashes of the complete subtrees of 2^(8L) leaves numbered
//!                 256N .. 256N + W, 32 bytes each, in order; W = 256 for a full tile
//!  its path       <L>/<N as x001/x234/067>[.p/<W>]   (".p/W": partial, W < 256), under
//!                 the stream's tiles/ (C2SP's tile/ layout, moved under the stream)
//! ```
//!
//! A tile never changes once written: a full one is final, and a partial one is named by its
//! width, so a larger tree writes a new object beside it (create-only, like segments). A
//! node at level 8L + r (r < 8) is 2^r hashes of one level-L tile hashed up r levels, so any
//! proof needs at most one tile per level per node, and the tree's right edge (the partial
//! tile of each level) is all a checkpointer needs to go on from a checkpoint.

use std::collections::{BTreeSet, HashMap};

use crate::tree::{node_hash, Hash, Nodes};

/// Levels of the tree per tile level.
pub const TILE_HEIGHT: u32 = 8;
/// Hashes in a full tile.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;

/// One tile of a tree of a given size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    pub level: u32,
    pub index: u64,
    /// 1..=256; below 256 for the partial tile at a tree's right edge.
    pub width: u64,
}

impl TileId {
    /// Its path under the stream's `tiles/`.
    pub fn path(&self) -> String {
        let mut p = format!("{}/{}", self.level, index_path(self.index));
        if self.width < TILE_WIDTH {
            p.push_str(&format!(".p/{}", self.width));
        }
        p
    }

    /// The tile holding level-`level` entry `entry` in a tree of `size` leaves.
    fn holding(level: u32, entry: u64, size: u64) -> TileId {
        let index = entry / TILE_WIDTH;
        let count = entries_at(level, size);
        let width = (count - index * TILE_WIDTH).min(TILE_WIDTH);
        TileId {
            level,
            index,
            width,
        }
    }
}

/// `N` as C2SP writes it: three-digit groups, all but the last prefixed with `x`.
fn index_path(mut n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        groups.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

/// How many complete level-`level` entries (subtrees of 2^(8 level) leaves) a tree of
/// `size` leaves has.
fn entries_at(level: u32, size: u64) -> u64 {
    size.checked_shr(TILE_HEIGHT * level).unwrap_or(0)
}

/// Every tile of a tree of `size` leaves that a tree of `old` leaves did not have: the
/// tiles that became full, and the partial tile of each level.
pub fn new_tiles(old: u64, size: u64) -> Vec<TileId> {
    let mut out = Vec::new();
    for level in 0.. {
        let count = entries_at(level, size);
        if count == 0 {
            break;
        }
        let (full_before, full) = (entries_at(level, old) / TILE_WIDTH, count / TILE_WIDTH);
        out.extend((full_before..full).map(|index| TileId {
            level,
            index,
            width: TILE_WIDTH,
        }));
        if !count.is_multiple_of(TILE_WIDTH) {
            out.push(TileId {
                level,
                index: full,
                width: count % TILE_WIDTH,
            });
        }
    }
    out
}

/// The partial tiles of a tree of `size` leaves: its right edge.
pub fn edge_tiles(size: u64) -> Vec<TileId> {
    new_tiles(size, size)
        .into_iter()
        .filter(|t| t.width < TILE_WIDTH)
        .collect()
}

/// The tiles a computation over a tree of `size` leaves reads: `compute` is run over a
/// source that records what it asks for (its answers are meaningless).
pub fn tiles_needed(size: u64, compute: impl FnOnce(&dyn Nodes)) -> BTreeSet<TileId> {
    struct Recording(std::cell::RefCell<BTreeSet<TileId>>, u64);
    impl Nodes for Recording {
        fn node(&self, level: u32, index: u64) -> Hash {
            let (tile_level, r) = (level / TILE_HEIGHT, level % TILE_HEIGHT);
            let entry = index << r;
            self.0
                .borrow_mut()
                .insert(TileId::holding(tile_level, entry, self.1));
            [0; 32]
        }
    }
    let rec = Recording(Default::default(), size);
    compute(&rec);
    rec.0.into_inner()
}

/// Tiles read from the store, as a source of nodes.
#[derive(Default)]
pub struct TileSet {
    tiles: HashMap<(u32, u64), Vec<Hash>>,
}

/// A tile's bytes that are not `width` hashes.
#[derive(Debug, thiserror::Error)]
#[error("tile {path} holds {len} bytes, not {width} hashes of 32")]
pub struct BadTile {
    pub path: String,
    pub len: usize,
    pub width: u64,
}

impl TileSet {
    /// Adds a tile read from the store.
    pub fn insert(&mut self, id: TileId, bytes: &[u8]) -> Result<(), BadTile> {
        if bytes.len() as u64 != id.width * 32 {
            return Err(BadTile {
                path: id.path(),
                len: bytes.len(),
                width: id.width,
            });
        }
        let hashes = bytes
            .chunks_exact(32)
            .map(|c| <Hash>::try_from(c).expect("32 bytes"))
            .collect();
        self.tiles.insert((id.level, id.index), hashes);
        Ok(())
    }

    fn entries(&self, level: u32, index: u64) -> &[Hash] {
        self.tiles
            .get(&(level, index))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// A node no tile read holds: the caller read the tiles [`tiles_needed`] named, so this is
/// a tile shorter than the tree says (a damaged store), and the result will not verify.
impl Nodes for TileSet {
    fn node(&self, level: u32, index: u64) -> Hash {
        let (tile_level, r) = (level / TILE_HEIGHT, level % TILE_HEIGHT);
        let first = index << r;
        let tile = self.entries(tile_level, first / TILE_WIDTH);
        let at = (first % TILE_WIDTH) as usize;
        match tile.get(at..at + (1 << r)) {
            Some(hashes) => hash_up(hashes),
            None => [0; 32],
        }
    }
}

/// The root of a complete subtree given its 2^r bottom hashes.
fn hash_up(hashes: &[Hash]) -> Hash {
    let mut row = hashes.to_vec();
    while row.len() > 1 {
        row = row
            .chunks_exact(2)
            .map(|p| node_hash(&p[0], &p[1]))
            .collect();
    }
    row[0]
}

/// Grows the tree a leaf at a time from its right edge, and says which tiles to store.
#[derive(Clone, Debug, Default)]
pub struct TileBuilder {
    size: u64,
    /// Per level, the entries of its partial tile (fewer than 256).
    rows: Vec<Vec<Hash>>,
}

impl TileBuilder {
    /// Goes on from a tree of `size` leaves, given its edge tiles ([`edge_tiles`]) as read.
    pub fn resume(size: u64, edge: &TileSet) -> TileBuilder {
        let mut rows = Vec::new();
        for level in 0.. {
            let count = entries_at(level, size);
            if count == 0 {
                break;
            }
            let partial = (count % TILE_WIDTH) as usize;
            let entries = edge.entries(level, count / TILE_WIDTH);
            rows.push(entries.get(..partial).unwrap_or(entries).to_vec());
        }
        TileBuilder { size, rows }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Adds the next leaf; returns the tiles it completed (full, to store), with their bytes.
    pub fn push(&mut self, leaf: Hash) -> Vec<(TileId, Vec<u8>)> {
        self.size += 1;
        let mut done = Vec::new();
        let mut carry = leaf;
        for level in 0.. {
            if self.rows.len() <= level as usize {
                self.rows.push(Vec::new());
            }
            let row = &mut self.rows[level as usize];
            row.push(carry);
            if (row.len() as u64) < TILE_WIDTH {
                break;
            }
            let index = entries_at(level, self.size) / TILE_WIDTH - 1;
            carry = hash_up(row);
            done.push((
                TileId {
                    level,
                    index,
                    width: TILE_WIDTH,
                },
                row.concat(),
            ));
            row.clear();
        }
        done
    }

    /// The partial tiles of the current tree, with their bytes.
    pub fn edge(&self) -> Vec<(TileId, Vec<u8>)> {
        self.rows
            .iter()
            .enumerate()
            .filter(|(_, row)| !row.is_empty())
            .map(|(level, row)| {
                let level = level as u32;
                let index = entries_at(level, self.size) / TILE_WIDTH;
                let width = row.len() as u64;
                (
                    TileId {
                        level,
                        index,
                        width,
                    },
                    row.concat(),
                )
            })
            .collect()
    }

    /// The root of the current tree, from its right edge alone.
    pub fn root(&self) -> Hash {
        let mut set = TileSet::default();
        for (id, bytes) in self.edge() {
            set.insert(id, &bytes).expect("a tile of our own");
        }
        crate::tree::root(&set, self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{consistency_proof, inclusion_proof, leaf_hash, root};

    #[test]
    fn paths_follow_the_c2sp_layout() {
        let t = |level, index, width| TileId {
            level,
            index,
            width,
        };
        assert_eq!(t(0, 0, 256).path(), "0/000");
        assert_eq!(t(1, 1234067, 256).path(), "1/x001/x234/067");
        assert_eq!(t(2, 1000, 7).path(), "2/x001/000.p/7");
    }

    /// Tiles written as the tree grows (checkpoints at irregular sizes) hold every node a
    /// proof needs: proofs from them equal proofs from the leaves, and each reads few tiles.
    #[test]
    fn proofs_from_stored_tiles_equal_proofs_from_leaves() {
        let leaves: Vec<Hash> = (0..70_000u64)
            .map(|i| leaf_hash(&i.to_le_bytes()))
            .collect();
        let mut stored: HashMap<TileId, Vec<u8>> = HashMap::new();
        let mut b = TileBuilder::default();
        let mut checkpoints = Vec::new();
        for (i, leaf) in leaves.iter().enumerate() {
            stored.extend(b.push(*leaf));
            if i % 9_973 == 0 || i == leaves.len() - 1 {
                stored.extend(b.edge());
                checkpoints.push(b.size());
                assert_eq!(b.root(), root(&leaves[..], b.size()));
                // Resuming from what was stored goes on identically.
                let mut edge = TileSet::default();
                for id in edge_tiles(b.size()) {
                    edge.insert(id, &stored[&id]).unwrap();
                }
                let resumed = TileBuilder::resume(b.size(), &edge);
                assert_eq!(resumed.rows, b.rows);
            }
        }
        for &size in &checkpoints {
            for index in [0, size / 3, size - 1] {
                let needed = tiles_needed(size, |n| drop(inclusion_proof(n, index, size)));
                assert!(needed.len() <= 6, "{} tiles for one proof", needed.len());
                let mut set = TileSet::default();
                for id in &needed {
                    set.insert(*id, &stored[id]).unwrap();
                }
                assert_eq!(
                    inclusion_proof(&set, index, size),
                    inclusion_proof(&leaves[..], index, size)
                );
            }
            let old = checkpoints[0].max(1);
            let needed = tiles_needed(size, |n| drop(consistency_proof(n, old, size)));
            let mut set = TileSet::default();
            for id in &needed {
                set.insert(*id, &stored[id]).unwrap();
            }
            assert_eq!(
                consistency_proof(&set, old, size),
                consistency_proof(&leaves[..], old, size)
            );
        }
    }
}
