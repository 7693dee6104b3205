"""Append and replay, fencing, conditional appends, raw payloads, group commit."""

import threading

import pytest

import wormlog


def events(store, stream, **kw):
    return list(wormlog.Reader(store, stream).events(**kw))


def test_append_and_replay_every_kind_of_data(store, stream):
    big = 12345678901234567890123
    with wormlog.Writer(store, stream, epoch=1, writer_id="py-test") as w:
        a = w.append({"order": "o-1", "n": big, "ok": True, "none": None, "f": 0.1}, type="order")
        b = w.append(["x", 1, [2.5, {"k": "v"}]])
        c = w.append("just a string")
        d = w.append(b"\x00\x01binary\xff", content_type="application/octet-stream")
        e = w.append_json('{"b": 1,  "a": 1E2, "n": -0, "a": 2}', type="raw-json")
        f = w.append_json('{\n  "signed": "bundle",\n  "n": 12345678901234567890123\n}')
        assert [x.seq for x in (a, b, c, d, e, f)] == [0, 1, 2, 3, 4, 5]
        assert w.stats()["appends"] == 6
    got = events(store, stream)
    assert [x.seq for x in got] == [0, 1, 2, 3, 4, 5]
    assert got[0].type == "order" and got[0].epoch == 1 and got[0].writer == "py-test"
    assert got[0].data == {"order": "o-1", "n": big, "ok": True, "none": None, "f": 0.1}
    assert got[0].id == a.id
    assert got[1].data == ["x", 1, [2.5, {"k": "v"}]]
    assert got[2].data == "just a string"
    assert got[3].data is None and got[3].payload["bytes"] == 9
    assert wormlog.Reader(store, stream).content(got[3]) == b"\x00\x01binary\xff"
    # JSON text is kept token for token: key order, duplicate keys, number text; a value on
    # one line byte for byte, one that spans lines without the whitespace between tokens.
    assert got[4].data_json == '{"b": 1,  "a": 1E2, "n": -0, "a": 2}'
    assert got[5].data_json == '{"signed":"bundle","n":12345678901234567890123}'
    assert got[5].data["n"] == 12345678901234567890123


def test_large_payload_becomes_an_attachment(store, stream):
    doc = bytes(range(256)) * 2048  # 512 KiB, above the default 256 KiB threshold
    with wormlog.Writer(store, stream, epoch=1) as w:
        w.append(doc, type="invoice", content_type="application/xml")
    (e,) = events(store, stream)
    assert e.payload["attachment"] is not None and e.payload["content_type"] == "application/xml"
    assert wormlog.Reader(store, stream).content(e) == doc
    assert wormlog.verify(store, stream)["attachments"] == 1


def test_stale_epoch_is_fenced_and_writes_nothing(store, stream, objects):
    with wormlog.Writer(store, stream, epoch=2) as w:
        w.append({"leader": 2})
    before = objects()
    with pytest.raises(wormlog.Fenced, match="epoch 2 holds it"):
        wormlog.Writer(store, stream, epoch=1)
    assert objects() == before
    assert [e.data for e in events(store, stream)] == [{"leader": 2}]


def test_a_writer_fenced_mid_stream_stops(store, stream):
    old = wormlog.Writer(store, stream, epoch=1)
    old.append("from 1")
    with wormlog.Writer(store, stream, epoch=2) as new:
        new.append("from 2")
    with pytest.raises(wormlog.Fenced):
        old.append("stale")
    with pytest.raises(wormlog.Fenced):
        old.append("still stale")  # it stays stopped
    old.close()
    assert [e.data for e in events(store, stream)] == ["from 1", "from 2"]


def test_append_expected_refuses_a_moved_log(store, stream):
    with wormlog.Writer(store, stream, epoch=1) as w:
        assert [a.seq for a in w.append_expected([{"n": 0}, {"n": 1}], 0)] == [0, 1]
        other = wormlog.Writer(store, stream, epoch=2)
        other.append("someone else")
        other.close()
        with pytest.raises(wormlog.Fenced):
            w.append_expected([{"n": 2}], 2)  # epoch 2 holds the log now
    with wormlog.Writer(store, stream, epoch=3) as w:
        with pytest.raises(wormlog.Conflict, match="expected next seq 2"):
            w.append_expected([{"n": 2}], 2)
        assert w.append_expected([{"n": 3}], 3)[0].seq == 3


def test_append_many_and_pending_appends_share_segments(store, stream):
    with wormlog.Writer(store, stream, epoch=1) as w:
        acks = w.append_many([{"i": i} for i in range(500)])
        assert [a.seq for a in acks] == list(range(500))
        pending = [w.append({"j": j}, wait=False) for j in range(200)]
        w.flush()
        assert all(p.done() for p in pending)
        assert [p.result().seq for p in pending] == list(range(500, 700))
        assert w.stats()["segments"] < 100
    assert len(events(store, stream)) == 700


def test_two_threads_appending_share_segments(store, stream):
    """The GIL is released during store I/O: two threads' appends overlap and share
    segments; with the GIL held, each append would commit alone."""
    with wormlog.Writer(store, stream, epoch=1) as w:
        def loop(tag):
            for i in range(100):
                w.append({"t": tag, "i": i})

        threads = [threading.Thread(target=loop, args=(t,)) for t in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stats = w.stats()
    assert stats["appends"] == 200
    assert stats["segments"] < 200, stats
    got = events(store, stream)
    assert sorted(e.seq for e in got) == list(range(200))


def test_a_blocked_call_does_not_hold_the_gil(store, stream):
    """A thread waiting in follow() (inside Rust) lets this thread run and append."""
    seen = []
    with wormlog.Writer(store, stream, epoch=1) as w:
        follow = wormlog.Reader(store, stream).follow(timeout=30)
        t = threading.Thread(target=lambda: seen.append(next(follow)))
        t.start()
        t.join(0.3)
        assert t.is_alive()  # waiting for an event, without the GIL
        w.append({"wakes": "the follower"})
        t.join(30)
        follow.close()
    assert [e.data for e in seen] == [{"wakes": "the follower"}]


def test_a_closed_writer_refuses_definitely(store, stream):
    w = wormlog.Writer(store, stream, epoch=1)
    w.append("one")
    w.close()
    w.close()  # idempotent
    with pytest.raises(wormlog.InvalidInput, match="is closed; nothing was appended"):
        w.append("two")
    assert [e.data for e in events(store, stream)] == ["one"]


def test_flush_raises_the_first_failure(store, stream):
    faulty = store.with_faults()
    w = wormlog.Writer(faulty, stream, epoch=1)
    w.append("committed")
    faulty.fail_requests("put", "/log/", times=1_000_000)
    pending = [w.append({"i": i}, wait=False) for i in range(3)]
    with pytest.raises(wormlog.OutcomeUnknown):
        w.flush()
    assert all(p.done() for p in pending)
    w.close()


def test_numbers_are_written_as_python_writes_them(store, stream):
    import enum
    import json

    class Color(enum.IntEnum):
        RED = 1

    class Loud(int):
        def __str__(self):
            return '1,"admin":true'

        __repr__ = __str__

    class Weird(float):
        def __repr__(self):
            return "Weird(0.5)"

    data = {"c": Color.RED, "l": Loud(7), "w": Weird(0.5), "big": 1e16, "tiny": 5e-324, "t": True}
    with wormlog.Writer(store, stream, epoch=1) as w:
        w.append(data)
        with pytest.raises(wormlog.InvalidInput, match="int"):
            w.append(10 ** 5000)  # beyond Python's own digit limit for int -> str
    (e,) = events(store, stream)
    assert e.data_json == json.dumps({"c": 1, "l": 7, "w": 0.5, "big": 1e16, "tiny": 5e-324, "t": True}, separators=(",", ":"))


def test_a_forked_child_refuses_the_parents_writer(store, stream):
    import os

    with wormlog.Writer(store, stream, epoch=1) as w:
        w.append("parent")
        pid = os.fork()
        if pid == 0:  # the child: the parent's writer refuses; a writer of its own works
            code = 1
            try:
                try:
                    w.append("child, through the parent's writer")
                except wormlog.InvalidInput as e:
                    if "before a fork" in str(e):
                        with wormlog.Writer(store, stream, epoch=2) as own:
                            own.append("child")
                        code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
    assert [e.data for e in events(store, stream)] == ["parent", "child"]
