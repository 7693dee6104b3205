"""Lost responses and failed requests, through the Rust fault store."""

import pytest

import wormlog


def test_a_lost_response_is_resolved_and_the_event_lands_once(store, stream):
    faulty = store.with_faults()
    with wormlog.Writer(faulty, stream, epoch=1) as w:
        w.append("before")
        # The next log PUT takes effect, but its response is lost (a 503 after commit).
        faulty.lose_responses("put", "/log/", times=1)
        before = faulty.requests("put", "/log/")
        ack = w.append({"doc": "after the lost response"})
        assert faulty.requests("put", "/log/") - before >= 2  # sent, then resolved by a retry
        assert w.stats()["conflicts"] >= 1  # the retry met its own segment: a 412, resolved
    got = [e.data for e in wormlog.Reader(store, stream).events()]
    assert got == ["before", {"doc": "after the lost response"}]
    assert ack.seq == 1
    assert wormlog.verify(store, stream)["clean"]


def test_unanswered_puts_are_an_unknown_outcome(store, stream):
    faulty = store.with_faults()
    w = wormlog.Writer(faulty, stream, epoch=1)
    faulty.fail_requests("put", "/log/", times=1_000_000)
    with pytest.raises(wormlog.OutcomeUnknown, match="may or may not be in the log"):
        w.append("lost in the network")
    with pytest.raises(wormlog.OutcomeUnknown):
        w.append("refused: the writer stopped")
    w.close()
    # A new writer reads the tail and goes on.
    with wormlog.Writer(store, stream, epoch=2) as w2:
        w2.append("after")
    assert [e.data for e in wormlog.Reader(store, stream).events()] == ["after"]


def test_a_follow_with_timeouts_loses_no_event(store, stream):
    """A follow whose waits time out again and again, while events trickle in: every event
    is delivered once, in order (a timed-out wait must not drop an event it took)."""
    import threading
    import time

    got = []
    with wormlog.Writer(store, stream, epoch=1) as w:
        follow = wormlog.Reader(store, stream).follow(timeout=0.01)

        def produce():
            for i in range(40):
                w.append(i)
                time.sleep(0.005)

        t = threading.Thread(target=produce)
        t.start()
        deadline = time.monotonic() + 60
        while len(got) < 40 and time.monotonic() < deadline:
            try:
                got.append(next(follow).data)
            except TimeoutError:
                pass
        t.join()
        follow.close()
        assert next(follow, None) is None  # closed: the iteration ends
    assert got == list(range(40))
