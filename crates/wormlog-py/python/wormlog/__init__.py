"""wormlog: an append-only event log on object storage that a stale leader cannot corrupt.

Every log object is created exactly once (``If-None-Match: *``); every writer carries a
fencing token (an epoch); when two leaders race, the stale one's write is refused with 412
and it stops (``Fenced``). Readers replay the log in order and skip nothing silently.

This package wraps the Rust library: every protocol decision is made there, and the GIL is
released during store I/O. The synchronous API::

    import wormlog
    store = wormlog.open_store("s3://bucket/prefix?endpoint=http://127.0.0.1:7480&path_style=true")
    with wormlog.Writer(store, "orders", epoch=1) as w:
        w.append({"order": "o-1", "state": "created"}, type="order")
    for e in wormlog.Reader(store, "orders").events():
        print(e.seq, e.type, e.data)

and its asyncio twins, ``AsyncWriter``, ``AsyncReader``, ``AsyncLeaderElector`` and
``verify_async`` (below). docs/python.md has the whole API.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any, AsyncIterator, Iterable, List, Optional, Sequence

from ._native import (
    Appended,
    Conflict,
    Event,
    Fenced,
    IntegrityError,
    InvalidInput,
    LeaderElector,
    Lease,
    LeaseOptions,
    OutcomeUnknown,
    Pending,
    Reader,
    Store,
    StoreError,
    UnsafeStore,
    WormlogError,
    Writer,
    __version__,
    checkpoint,
    keygen,
    open_store,
    verify,
)

__all__ = [
    "Appended",
    "AsyncLeaderElector",
    "AsyncReader",
    "AsyncWriter",
    "Conflict",
    "Event",
    "Fenced",
    "IntegrityError",
    "InvalidInput",
    "LeaderElector",
    "Lease",
    "LeaseOptions",
    "OutcomeUnknown",
    "Pending",
    "Reader",
    "Store",
    "StoreError",
    "UnsafeStore",
    "WormlogError",
    "Writer",
    "__version__",
    "checkpoint",
    "keygen",
    "open_store",
    "verify",
    "verify_async",
]


def _settle(future: "asyncio.Future[Appended]", pending: Pending) -> None:
    """Moves an answered append's outcome into its asyncio future (on the loop's thread)."""
    if future.cancelled():
        return
    try:
        future.set_result(pending.result())
    except WormlogError as e:
        future.set_exception(e)


async def _answered(pending: Pending) -> Appended:
    """Awaits an append without a thread per wait: the Rust side calls back when answered."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Appended] = loop.create_future()
    pending.add_done_callback(lambda: loop.call_soon_threadsafe(_settle, future, pending))
    return await future


class AsyncWriter:
    """The asyncio twin of ``Writer``, with the same arguments::

        async with wormlog.AsyncWriter(store, "orders", epoch=1) as w:
            ack = await w.append({"order": "o-1"})

    Concurrent ``append`` calls share segments (group commit), committed in the order they
    were handed to the writer. Opening and closing run on a worker thread; a JSON append is
    handed to the writer on the loop's thread and awaited without a thread of its own, and
    only a full writer (or a raw payload, which may be uploaded as an attachment first) is
    handed over from a worker thread, so under backpressure two concurrent appends may be
    handed over in either order.
    """

    def __init__(self, store: Store, stream: str, **options: Any) -> None:
        self._store = store
        self._stream = stream
        self._options = options
        self._writer: Optional[Writer] = None

    async def open(self) -> "AsyncWriter":
        if self._writer is None:
            self._writer = await asyncio.to_thread(
                Writer, self._store, self._stream, **self._options
            )
        return self

    @property
    def writer(self) -> Writer:
        """The synchronous writer underneath (open first)."""
        if self._writer is None:
            raise InvalidInput("the AsyncWriter is not open; use `async with` or await open()")
        return self._writer

    async def __aenter__(self) -> "AsyncWriter":
        return await self.open()

    async def __aexit__(self, *exc: Any) -> bool:
        await self.close()
        return False

    async def append(
        self, data: Any, type: str = "event", *, content_type: Optional[str] = None
    ) -> Appended:
        """Appends one event and returns its ``Appended`` once its segment committed."""
        w = self.writer
        pending = None
        if not isinstance(data, (bytes, bytearray, memoryview)) and content_type is None:
            pending = w.try_append(data, type)
        if pending is None:
            pending = await asyncio.to_thread(
                w.append, data, type, content_type=content_type, wait=False
            )
        return await _answered(pending)

    async def append_many(
        self, items: Iterable[Any], type: str = "event", *, content_type: Optional[str] = None
    ) -> List[Appended]:
        """As ``Writer.append_many``, on a worker thread."""
        items = list(items)
        return await asyncio.to_thread(
            self.writer.append_many, items, type, content_type=content_type
        )

    async def append_expected(
        self, items: Iterable[Any], expected_seq: int, type: str = "event"
    ) -> List[Appended]:
        """As ``Writer.append_expected``, on a worker thread."""
        items = list(items)
        return await asyncio.to_thread(self.writer.append_expected, items, expected_seq, type)

    async def flush(self) -> None:
        await asyncio.to_thread(self.writer.flush)

    @property
    def checkpoints(self) -> Optional[dict]:
        """The checkpointer's status with ``checkpoint_key`` (``Writer.checkpoints``)."""
        return self.writer.checkpoints

    def stats(self) -> dict:
        return self.writer.stats()

    async def close(self) -> None:
        if self._writer is not None:
            await asyncio.to_thread(self._writer.close)


class AsyncReader:
    """The asyncio twin of ``Reader``: ``async for e in AsyncReader(store, s).events(): ...``."""

    def __init__(self, store: Store, stream: str) -> None:
        self._reader = Reader(store, stream)

    async def events(self, from_seq: int = 0, to_seq: Optional[int] = None) -> AsyncIterator[Event]:
        it = await asyncio.to_thread(self._reader.events, from_seq, to_seq)
        while True:
            event = await asyncio.to_thread(next, it, None)
            if event is None:
                return
            yield event

    async def follow(self, from_seq: int = 0) -> AsyncIterator[Event]:
        """The events from ``from_seq``, then new ones as they come, until the loop ends
        (break, or cancellation, stops the follow)."""
        # A thread of its own: a follow waits for as long as no event comes, and must not
        # hold one of the default executor's few threads (which appends need) meanwhile.
        loop = asyncio.get_running_loop()
        thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="wormlog-follow")
        follow = None
        try:
            follow = await loop.run_in_executor(thread, self._reader.follow, from_seq)
            while True:
                event = await loop.run_in_executor(thread, next, follow, None)
                if event is None:
                    return
                yield event
        finally:
            if follow is not None:
                follow.close()
            thread.shutdown(wait=False)

    async def get(self, seq: int) -> Optional[Event]:
        return await asyncio.to_thread(self._reader.get, seq)

    async def content(self, event: Event) -> bytes:
        return await asyncio.to_thread(self._reader.content, event)


class AsyncLeaderElector:
    """The asyncio twin of ``LeaderElector``: ``epoch = await elector.wait()``."""

    def __init__(self, store: Store, stream: str, holder: Optional[str] = None, duration: float = 10.0) -> None:
        self._elector = LeaderElector(store, stream, holder, duration)

    @property
    def holder(self) -> str:
        return self._elector.holder

    def current(self) -> Optional[int]:
        return self._elector.current()

    async def wait(self, timeout: Optional[float] = None) -> Optional[int]:
        return await asyncio.to_thread(self._elector.wait, timeout)

    async def stop(self) -> None:
        await asyncio.to_thread(self._elector.stop)

    async def __aenter__(self) -> "AsyncLeaderElector":
        return self

    async def __aexit__(self, *exc: Any) -> bool:
        await self.stop()
        return False


async def verify_async(
    store: Store,
    stream: str,
    require_lock: bool = False,
    *,
    keys: Sequence[str] = (),
    trusted_checkpoint: Optional[str] = None,
) -> dict:
    """``verify`` on a worker thread."""
    return await asyncio.to_thread(
        verify, store, stream, require_lock, keys=keys, trusted_checkpoint=trusted_checkpoint
    )
