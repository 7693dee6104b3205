"""The asyncio twins: concurrent appends share segments; readers iterate asynchronously."""

import asyncio

import pytest

import wormlog


def test_concurrent_async_appends(store, stream):
    async def main():
        async with wormlog.AsyncWriter(store, stream, epoch=1) as w:
            acks = await asyncio.gather(*(w.append({"i": i}) for i in range(300)))
            raw = await w.append(b"<xml/>", content_type="application/xml")
            stats = w.stats()
        got = [e async for e in wormlog.AsyncReader(store, stream).events()]
        return acks, raw, stats, got

    acks, raw, stats, got = asyncio.run(main())
    assert sorted(a.seq for a in acks) == list(range(300))
    assert raw.seq == 300
    assert stats["segments"] < 300  # the appends were in flight together
    assert len(got) == 301 and got[-1].payload["content_type"] == "application/xml"
    by_seq = {a.seq: a.id for a in acks}
    assert all(by_seq[e.seq] == e.id for e in got[:300])


def test_async_errors_are_the_same_exceptions(store, stream):
    async def main():
        async with wormlog.AsyncWriter(store, stream, epoch=2) as w:
            await w.append("two")
        with pytest.raises(wormlog.Fenced):
            await wormlog.AsyncWriter(store, stream, epoch=1).open()
        async with wormlog.AsyncWriter(store, stream, epoch=3) as w:
            with pytest.raises(wormlog.InvalidInput):
                await w.append({"bad": {1, 2}})
            with pytest.raises(wormlog.Conflict):
                await w.append_expected(["x"], 0)
        report = await wormlog.verify_async(store, stream)
        assert report["clean"]

    asyncio.run(main())


def test_async_follow_and_elector(store, stream):
    async def main():
        async with wormlog.AsyncLeaderElector(store, stream, holder="async-a", duration=30) as e:
            assert await e.wait(10) is not None
        follower = wormlog.AsyncReader(store, stream).follow()
        async with wormlog.AsyncWriter(store, stream, epoch=5) as w:
            # The follower waits at the end of the (empty) log before the event exists.
            waiting = asyncio.ensure_future(follower.__anext__())
            await asyncio.sleep(0.5)
            assert not waiting.done()
            # Followers hold threads of their own: the default executor stays free for appends.
            others = [wormlog.AsyncReader(store, stream).follow() for _ in range(8)]
            nexts = [asyncio.ensure_future(o.__anext__()) for o in others]
            await asyncio.sleep(0.2)
            await asyncio.wait_for(w.append("seen"), 30)
            event = await asyncio.wait_for(waiting, 30)
            seen = [(await asyncio.wait_for(n, 30)).data for n in nexts]
            assert seen == ["seen"] * len(nexts)
            for o in [follower, *others]:
                await o.aclose()
        return event

    assert asyncio.run(main()).data == "seen"
