"""The lease handing over between two Python processes."""

import select
import subprocess
import sys
import textwrap
import time

import pytest

import wormlog

HOLDER = textwrap.dedent(
    """
    import sys, time, wormlog
    url, stream, name, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    store = wormlog.open_store(url)
    print("started", flush=True)
    opts = wormlog.LeaseOptions(holder=name, duration=1.0)
    with wormlog.Writer(store, stream, lease=opts) as w:
        print("leading", w.epoch, flush=True)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            w.append({"by": name, "epoch": w.epoch})
            time.sleep(0.02)
    print("released", flush=True)
    """
)


def start(url, stream, name, seconds):
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, stream, name, str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_the_lease_hands_over_when_its_holder_is_killed(store_url, store, stream):
    a = start(store_url, stream, "proc-a", 60)
    assert a.stdout.readline().split() == ["started"]
    assert a.stdout.readline().split()[0] == "leading"
    b = start(store_url, stream, "proc-b", 0.5)
    assert b.stdout.readline().split() == ["started"]
    time.sleep(1.5)  # longer than the lease's duration: a renews, so b must still wait
    assert b.poll() is None
    assert select.select([b.stdout], [], [], 0)[0] == []  # b has not printed "leading"
    a.kill()  # no release: b takes over once a's record goes a duration unrenewed
    a.wait()
    killed = time.monotonic()
    line = b.stdout.readline().split()
    assert line[0] == "leading"
    took = time.monotonic() - killed
    assert b.wait(30) == 0
    assert took < 10, f"takeover took {took:.1f} s"
    got = list(wormlog.Reader(store, stream).events())
    by = [e.data["by"] for e in got]
    assert by[0] == "proc-a" and by[-1] == "proc-b"
    assert by == sorted(by)  # every event of a before every event of b
    assert all(e.epoch == e.data["epoch"] for e in got)
    assert got[-1].epoch > got[0].epoch
    assert wormlog.verify(store, stream)["clean"]


def test_a_released_lease_is_taken_at_once(store, stream):
    with wormlog.Writer(store, stream, lease=wormlog.LeaseOptions(holder="one", duration=30)) as w:
        w.append("one")
        first = w.epoch
    started = time.monotonic()
    with wormlog.Writer(store, stream, lease=wormlog.LeaseOptions(holder="two", duration=30, wait=5)) as w:
        w.append("two")
        assert w.epoch > first
    assert time.monotonic() - started < 5


def test_a_live_lease_is_not_taken_within_wait(store, stream):
    with wormlog.LeaderElector(store, stream, holder="boss", duration=30) as e:
        assert e.wait(10) is not None
        started = time.monotonic()
        try:
            wormlog.Writer(store, stream, lease=wormlog.LeaseOptions(holder="late", wait=0.5))
            raise AssertionError("the live lease was taken")
        except wormlog.Fenced as err:
            assert "another holder is live" in str(err)
        assert time.monotonic() - started < 5


def test_lease_steps(store, stream):
    a = wormlog.Lease(store, stream, holder="a", duration=30)
    b = wormlog.Lease(store, stream, holder="b", duration=30)
    epoch = a.try_acquire()
    assert epoch is not None and a.epoch == epoch
    assert b.try_acquire() is None
    a.renew()
    a.release()
    assert b.acquire(timeout=5) > epoch


def test_a_bad_writer_setting_does_not_take_the_lease(store, stream, objects):
    with pytest.raises(wormlog.InvalidInput, match="in_flight"):
        wormlog.Writer(store, stream, lease=wormlog.LeaseOptions(holder="x"), in_flight=0)
    assert objects() == []  # no lease record, no epoch used up


def test_a_waiting_acquire_does_not_block_its_lease(store, stream):
    import threading

    holder = wormlog.Lease(store, stream, holder="holder", duration=30)
    assert holder.try_acquire() is not None
    waiter = wormlog.Lease(store, stream, holder="waiter", duration=30)
    t = threading.Thread(target=lambda: pytest.raises(TimeoutError, waiter.acquire, timeout=4))
    t.start()
    time.sleep(0.5)
    started = time.monotonic()
    assert waiter.epoch is None  # answered while acquire() waits, not after it gives up
    assert time.monotonic() - started < 2
    t.join()
