"""Bad input raises InvalidInput, with one sentence, and stores nothing."""

import math

import pytest

import wormlog


@pytest.mark.parametrize(
    "data, says",
    [
        ({1, 2}, "set"),
        ({"ok": object()}, "object"),
        ({1: "int key"}, "not a str"),
        (math.nan, "JSON cannot represent"),
        ([math.inf], "JSON cannot represent"),
        ("\ud800", "lone surrogate"),
    ],
)
def test_data_that_is_not_json(store, stream, objects, data, says):
    with wormlog.Writer(store, stream, epoch=1) as w:
        w.append("first")
        before = objects()
        with pytest.raises(wormlog.InvalidInput, match=says):
            w.append(data)
        with pytest.raises(wormlog.InvalidInput, match=says):
            w.append_many(["fine", data])  # nothing of the batch is stored
        assert objects() == before
        w.append("still usable")
    assert [e.data for e in wormlog.Reader(store, stream).events()] == ["first", "still usable"]


def test_nesting_that_never_ends(store, stream):
    loop = []
    loop.append(loop)
    with wormlog.Writer(store, stream, epoch=1) as w:
        with pytest.raises(wormlog.InvalidInput, match="nested"):
            w.append(loop)


def test_bad_writer_arguments_store_nothing(store, stream, objects):
    for kwargs, says in [
        ({"epoch": 0}, "epoch must be"),
        ({"epoch": -1}, "epoch must be"),
        ({"epoch": "1"}, "epoch must be"),
        ({}, "exactly one of epoch"),
        ({"epoch": 1, "lease": wormlog.LeaseOptions()}, "exactly one of epoch"),
        ({"lease": wormlog.LeaseOptions(), "writer_id": "w"}, "cannot be combined"),
        ({"epoch": 1, "writer_id": "line\nbreak"}, "writer id must be"),
        ({"epoch": 1, "in_flight": 0}, "in_flight"),
    ]:
        with pytest.raises(wormlog.InvalidInput, match=says):
            wormlog.Writer(store, stream, **kwargs)
    with pytest.raises(wormlog.InvalidInput, match="stream"):
        wormlog.Writer(store, "no spaces allowed", epoch=1)
    assert objects() == []
    with wormlog.Writer(store, stream, epoch=1) as w:
        opened = objects()
        with pytest.raises(wormlog.InvalidInput, match="content_type applies to raw payloads"):
            w.append({"a": 1}, content_type="text/plain")
        with pytest.raises(wormlog.InvalidInput, match="content type"):
            w.append(b"bytes", content_type="not a type")
        assert objects() == opened


def test_an_epoch_typo_is_refused(store, stream, objects):
    with wormlog.Writer(store, stream, epoch=1) as w:
        w.append("x")
    before = objects()
    with pytest.raises(wormlog.InvalidInput, match="more than"):
        wormlog.Writer(store, stream, epoch=2**64 - 1)
    assert objects() == before


def test_bad_store_urls():
    for url, says in [("s3:/bucket", "looks like a store URL"), ("", "empty"), ("ftp://x", "unknown store URL scheme")]:
        with pytest.raises(wormlog.InvalidInput, match=says):
            wormlog.open_store(url)


def test_exceptions_form_one_hierarchy():
    for cls in (
        wormlog.Fenced,
        wormlog.Conflict,
        wormlog.OutcomeUnknown,
        wormlog.UnsafeStore,
        wormlog.StoreError,
        wormlog.IntegrityError,
        wormlog.InvalidInput,
    ):
        assert issubclass(cls, wormlog.WormlogError) and issubclass(cls, Exception)
