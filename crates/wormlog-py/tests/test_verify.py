"""verify on a clean and on a tampered log; readers refuse damage."""

import os

import pytest

import wormlog


def test_verify_reports_a_rewritten_segment(tmp_path):
    url = str(tmp_path / "store")
    store = wormlog.open_store(url)
    with wormlog.Writer(store, "audit", epoch=1) as w:
        for i in range(3):
            w.append({"i": i})
    report = wormlog.verify(store, "audit")
    assert report["clean"] and report["events"] == 3, report
    segments = sorted(
        os.path.join(root, f) for root, _, files in os.walk(url) for f in files if "/log/" in os.path.join(root, f)
    )
    victim = segments[-1]
    data = open(victim, "rb").read()
    open(victim, "wb").write(data.replace(b'"i":2', b'"i":9'))
    report = wormlog.verify(store, "audit")
    assert not report["clean"]
    assert any("slot" in v for v in report["violations"]), report["violations"]
    it = wormlog.Reader(store, "audit").events()
    assert [next(it).data, next(it).data] == [{"i": 0}, {"i": 1}]
    with pytest.raises(wormlog.IntegrityError, match="corrupt"):
        next(it)
    with pytest.raises(wormlog.IntegrityError, match="corrupt"):
        next(it)  # the damage is raised again, never taken for the end of the log


def test_verify_on_s3(store, stream):
    with wormlog.Writer(store, stream, epoch=1) as w:
        w.append_many([{"i": i} for i in range(10)])
    report = wormlog.verify(store, stream)
    assert report["clean"] and report["events"] == 10 and report["stream"] == stream
