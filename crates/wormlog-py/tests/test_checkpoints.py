"""Signed checkpoints from Python: keygen, checkpoint, and verify's Merkle tree audit with
the keys an auditor holds (across a key rotation) and a checkpoint obtained out of band."""

import asyncio
import os

import pytest

import wormlog


def append(store, stream, n, start=0):
    with wormlog.Writer(store, stream, epoch=1) as w:
        for i in range(start, start + n):
            w.append({"i": i})  # one segment each: append waits for its acknowledgement


def test_checkpoints_are_audited_across_a_key_rotation(store, stream):
    old_key, old_pub = wormlog.keygen("example.com/old")
    new_key, new_pub = wormlog.keygen("example.com/new")
    assert old_key.startswith("PRIVATE+KEY+example.com/old+") and old_pub.startswith("example.com/old+")
    append(store, stream, 3)
    size, note = wormlog.checkpoint(store, stream, old_key)
    assert size == 3 and "\n3\n" in note and "— example.com/old " in note, note
    assert wormlog.checkpoint(store, stream, old_key) is None  # nothing new to sign
    append(store, stream, 2, start=3)
    # The newest checkpoint is another key's: nothing is signed over it unless named.
    with pytest.raises(wormlog.IntegrityError):
        wormlog.checkpoint(store, stream, new_key)
    size, _ = wormlog.checkpoint(store, stream, new_key, rotated_from=[old_pub])
    assert size == 5
    report = wormlog.verify(store, stream, keys=[new_pub])
    assert not report["clean"], report
    assert any("00000000000000000003" in v for v in report["violations"]), report["violations"]
    report = wormlog.verify(store, stream, keys=[old_pub, new_pub])
    assert report["clean"], report["violations"]
    tree = report["merkle_tree"]
    assert (tree["tree_size"], tree["checkpoints"], tree["violations"]) == (5, [3, 5], [])
    assert len(tree["root_hash"]) == 64
    assert "merkle_tree" not in wormlog.verify(store, stream)
    both = asyncio.run(wormlog.verify_async(store, stream, keys=(old_pub, new_pub)))
    assert both["clean"] and both["merkle_tree"]["checkpoints"] == [3, 5]
    for keys in (new_pub, ""):  # one key as a str, not a list: refused, never split or skipped
        with pytest.raises(TypeError):
            wormlog.verify(store, stream, keys=keys)
        with pytest.raises(TypeError):
            asyncio.run(wormlog.verify_async(store, stream, keys=keys))


def test_a_trusted_checkpoint_catches_a_removed_tail(tmp_path):
    url = str(tmp_path / "store")
    store = wormlog.open_store(url)
    key, pub = wormlog.keygen("example.com/audit")
    append(store, "t", 4)
    _, note = wormlog.checkpoint(store, "t", key)
    # Someone with write access removes the last segment and every checkpoint with it.
    paths = [os.path.join(root, f) for root, _, files in os.walk(url) for f in files]
    segments = sorted(p for p in paths if "/objects/t/log/" in p)
    for path in [segments[-1]] + [p for p in paths if "/checkpoints/" in p]:
        os.remove(path)
    assert wormlog.verify(store, "t", keys=[pub])["clean"]  # nothing left to contradict
    report = wormlog.verify(store, "t", keys=[pub], trusted_checkpoint=note)
    assert not report["clean"]
    assert any("removed" in v for v in report["violations"]), report["violations"]


def test_bad_keys_are_refused_and_never_echoed(tmp_path):
    store = wormlog.open_store(str(tmp_path / "store"))
    key, pub = wormlog.keygen("example.com/audit")
    append(store, "t", 1)
    with pytest.raises(wormlog.InvalidInput):
        wormlog.keygen("")
    with pytest.raises(wormlog.InvalidInput, match="not a signing key"):
        wormlog.checkpoint(store, "t", pub)
    with pytest.raises(wormlog.InvalidInput, match="not a verifier key") as refused:
        wormlog.verify(store, "t", keys=[key])  # the signing key, by mistake
    secret = key.split("+", 4)[4]  # PRIVATE+KEY+NAME+HASH+BASE64 (base64 may hold "+")
    assert secret and secret not in str(refused.value), refused.value
    with pytest.raises(wormlog.InvalidInput, match="keys"):
        wormlog.verify(store, "t", trusted_checkpoint="x")
    assert wormlog.verify(store, "t")["clean"]  # nothing was written by the refusals
    assert wormlog.verify(store, "t", keys=[pub])["merkle_tree"]["checkpoints"] == []


def test_a_writer_signs_checkpoints_as_it_goes(store, stream):
    key, pub = wormlog.keygen("example.com/writer")
    with wormlog.Writer(store, stream, epoch=1, checkpoint_key=key, checkpoint_segments=2) as w:
        for i in range(5):
            w.append({"i": i})
        live = w.checkpoints
        assert live is not None and live["error"] is None, live
    final = w.checkpoints
    assert (final["latest"], final["unsigned"], final["tampered"]) == (5, 0, False), final
    assert final["written"] >= 1, final  # after segments 2 and 4 and at close, once caught up
    report = wormlog.verify(store, stream, keys=[pub])
    assert report["clean"] and report["merkle_tree"]["tree_size"] == 5, report["violations"]
    with wormlog.Writer(store, stream, epoch=1) as plain:
        assert plain.checkpoints is None


def test_a_writer_with_another_key_writes_nothing(tmp_path):
    url = str(tmp_path / "store")
    store = wormlog.open_store(url)
    key, pub = wormlog.keygen("example.com/a")
    other, other_pub = wormlog.keygen("example.com/b")
    append(store, "t", 2)
    wormlog.checkpoint(store, "t", key)
    before = sorted(os.path.join(r, f) for r, _, fs in os.walk(url) for f in fs)
    with pytest.raises(wormlog.IntegrityError):
        wormlog.Writer(store, "t", epoch=1, checkpoint_key=other)
    with pytest.raises(wormlog.IntegrityError):
        wormlog.Writer(store, "t", lease=wormlog.LeaseOptions(holder="h"), checkpoint_key=other)
    assert sorted(os.path.join(r, f) for r, _, fs in os.walk(url) for f in fs) == before
    with pytest.raises(wormlog.InvalidInput, match="need checkpoint_key"):
        wormlog.Writer(store, "t", epoch=1, checkpoint_segments=5)
    for bad in [dict(checkpoint_segments=0), dict(checkpoint_segments=-1), dict(checkpoint_segments=True),
                dict(checkpoint_seconds=0), dict(checkpoint_seconds=1e19), dict(checkpoint_seconds=float("nan"))]:
        with pytest.raises(wormlog.InvalidInput, match="checkpoint_s"):
            wormlog.Writer(store, "t", epoch=1, checkpoint_key=key, **bad)
    # Plain arguments are checked before the store is read: no epoch and no lease.
    with pytest.raises(wormlog.InvalidInput, match="exactly one of"):
        wormlog.Writer(store, "t", checkpoint_key=other)
    # The rotation, named: the writer goes on from the old key's checkpoint.
    with wormlog.Writer(store, "t", epoch=1, checkpoint_key=other, checkpoint_rotated_from=[pub]) as w:
        w.append({"i": 2})
    assert w.checkpoints["latest"] == 3 and w.checkpoints["passed_over"], w.checkpoints
    assert wormlog.verify(store, "t", keys=[pub, other_pub])["clean"]


def test_a_last_checkpoint_that_cannot_be_stored_is_a_warning(tmp_path):
    plain = wormlog.open_store(str(tmp_path / "store"))
    store = plain.with_faults()
    key, _ = wormlog.keygen("example.com/a")
    w = wormlog.Writer(store, "t", epoch=1, checkpoint_key=key, checkpoint_seconds=3600)
    w.append({"i": 0})
    w.append({"i": 1})
    store.fail_requests("put_if_absent", "/checkpoints/", times=1000)
    with pytest.warns(UserWarning, match=r"2 of them unsigned\); run wormlog.checkpoint"):
        w.close()
    assert w.checkpoints["unsigned"] == 2 and w.checkpoints["failures"] >= 1, w.checkpoints
    assert [e.data for e in wormlog.Reader(store, "t").events()] == [{"i": 0}, {"i": 1}]
    assert wormlog.checkpoint(plain, "t", key)[0] == 2  # signed afterwards


def test_object_lock_settings_apply_to_segments_and_checkpoints(tmp_path):
    url = str(tmp_path / "store")
    store = wormlog.open_store(url)
    with wormlog.Writer(store, "t", epoch=1, lock_mode="governance", retain_days=1, legal_hold=True) as w:
        w.append({"invoice": 1})
    report = wormlog.verify(store, "t", require_lock=True)
    assert report["clean"], report["violations"]
    assert {(lock["mode"], lock["legal_hold"]) for lock in report["locks"]} == {("GOVERNANCE", True)}
    key, _ = wormlog.keygen("example.com/a")
    wormlog.checkpoint(store, "t", key, lock_mode="COMPLIANCE", retain_days=2)
    meta = [os.path.join(r, f) for r, _, fs in os.walk(os.path.join(url, "meta")) for f in fs if "/checkpoints/" in os.path.join(r, f)]
    assert len(meta) == 1 and '"mode":"COMPLIANCE"' in open(meta[0]).read()
    before = sorted(os.path.join(r, f) for r, _, fs in os.walk(url) for f in fs)
    for bad, match in [
        (dict(lock_mode="governance"), "go together"),
        (dict(retain_days=3), "go together"),
        (dict(lock_mode="worm", retain_days=3), "not an Object Lock mode"),
        (dict(lock_mode="compliance", retain_days=0), "from 1 to 36500"),
        (dict(lock_mode="compliance", retain_days=-1), "from 1 to 36500"),
        (dict(lock_mode="compliance", retain_days=2**40), "from 1 to 36500"),
        (dict(lock_mode="compliance", retain_days=True), "from 1 to 36500"),
    ]:
        with pytest.raises(wormlog.InvalidInput, match=match):
            wormlog.Writer(store, "t", epoch=1, **bad)
        with pytest.raises(wormlog.InvalidInput, match=match):
            wormlog.checkpoint(store, "t", key, **bad)
    assert sorted(os.path.join(r, f) for r, _, fs in os.walk(url) for f in fs) == before


def test_a_checkpoint_contradicted_while_writing_raises_at_close(store, stream):
    key, _ = wormlog.keygen("example.com/a")
    other, _ = wormlog.keygen("example.com/b")
    w = wormlog.Writer(store, stream, epoch=1, checkpoint_key=key, checkpoint_seconds=3600)
    w.append({"i": 0})
    w.append({"i": 1})
    assert wormlog.checkpoint(store, stream, other)[0] == 2  # another signer, first
    with pytest.raises(wormlog.IntegrityError, match="the events were appended, but the checkpointer stopped"):
        w.close()
    assert w.checkpoints["tampered"], w.checkpoints
    assert [e.data for e in wormlog.Reader(store, stream).events()] == [{"i": 0}, {"i": 1}]
