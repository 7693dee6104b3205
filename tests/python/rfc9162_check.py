#!/usr/bin/env python3
"""An independent check of the proofs `wormlog prove` prints, written from RFC 9162 alone
(sections 2.1.3.2 and 2.1.4.2) and the C2SP checkpoint text format: it shares no code with
wormlog. It checks that the proof's tree size and root are the ones its checkpoint states, and
that the audit path or consistency proof leads to them. (Signatures are checked by
`wormlog verify-proof`; this script checks the tree.)

Usage: rfc9162_check.py PROOF.json [LEAF_LINE_FILE]
  With LEAF_LINE_FILE (an event's line as stored), the leaf hash is recomputed from it.
Exits 0 when the proof holds, 1 when it does not, 2 on bad input.
"""
import base64
import hashlib
import json
import sys


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def checkpoint_tree(note):
    """(size, root) from a checkpoint note's text: origin, size, base64 root."""
    lines = note.split("\n")
    return int(lines[1]), base64.b64decode(lines[2])


def verify_inclusion(index, size, leaf, path, root):
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_hash, second_hash, proof):
    if first == second:
        return not proof and first_hash == second_hash
    if first == 0 or first > second:
        return first == 0 and not proof
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node(c, fr)
            sr = node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        proof = json.load(f)
    h = bytes.fromhex
    if "leaf_index" in proof:
        size, root = checkpoint_tree(proof["checkpoint"])
        leaf = h(proof["leaf_hash"])
        if len(sys.argv) == 3:
            with open(sys.argv[2], "rb") as f:
                line = f.read().rstrip(b"\n")
            if hashlib.sha256(b"\x00" + line).digest() != leaf:
                print("the leaf hash is not the hash of that line", file=sys.stderr)
                return 1
        ok = (
            size == proof["tree_size"]
            and root == h(proof["root_hash"])
            and verify_inclusion(proof["leaf_index"], size, leaf, [h(p) for p in proof["audit_path"]], root)
        )
        what = "leaf %d of %d" % (proof["leaf_index"], size)
    else:
        old_size, old_root = checkpoint_tree(proof["old_checkpoint"])
        new_size, new_root = checkpoint_tree(proof["new_checkpoint"])
        ok = (
            old_size == proof["old_size"]
            and new_size == proof["new_size"]
            and verify_consistency(old_size, new_size, old_root, new_root, [h(p) for p in proof["proof"]])
        )
        what = "tree %d is a prefix of tree %d" % (old_size, new_size)
    print(("holds: " if ok else "FAILS: ") + what)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
