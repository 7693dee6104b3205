"""Type stubs of wormlog's compiled core (the Rust library, through PyO3)."""

from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

__version__: str

JsonValue = Union[Dict[str, Any], List[Any], str, int, float, bool, None]
Data = Union[JsonValue, bytes, bytearray, memoryview]

class WormlogError(Exception):
    """Every wormlog error derives from this."""

class Fenced(WormlogError):
    """A newer epoch holds the log (or the lease was lost): this writer stopped; nothing
    more was written."""

class Conflict(WormlogError):
    """A conditional append found that another event came first; re-read and decide again."""

class OutcomeUnknown(WormlogError):
    """The events may or may not be in the log; open a new writer to find out."""

class UnsafeStore(WormlogError):
    """The store does not enforce create-only writes or compare-and-swap."""

class StoreError(WormlogError):
    """The store failed: unreachable, access denied, or retries exhausted."""

class IntegrityError(WormlogError):
    """The log is damaged: a corrupt, missing or rewritten object."""

class InvalidInput(WormlogError):
    """Bad arguments or data; nothing was stored."""

class Store:
    """A store and the key prefix its streams live under (from ``open_store``)."""

    @property
    def url(self) -> str: ...
    def with_faults(self) -> "Store":
        """For tests: this store behind the Rust fault store."""
    def lose_responses(self, op: str, key_contains: str = "", times: int = 1) -> None:
        """For tests: requests that take effect, but whose response is lost (a 503)."""
    def fail_requests(self, op: str, key_contains: str = "", times: int = 1) -> None:
        """For tests: requests that fail before they reach the store (a 503)."""
    def requests(self, op: str, key_contains: str = "") -> int:
        """For tests: how many requests of ``op`` on matching keys were sent."""

def open_store(url: str) -> Store:
    """A directory path or ``file:///abs/path``, ``mem://``, or
    ``s3://bucket/prefix?endpoint=...&region=...&path_style=true``."""

class Appended:
    """An acknowledged event: in the log at ``seq``, inside the segment at ``slot``."""

    seq: int
    id: str
    slot: int

class Pending:
    """An append taken in by the writer, not yet answered."""

    def result(self, timeout: Optional[float] = None) -> Appended: ...
    def done(self) -> bool: ...
    def add_done_callback(self, callback: Any) -> None: ...

class LeaseOptions:
    """Lease settings of a writer that leads by the stream's lease."""

    holder: Optional[str]
    duration: float
    wait: Optional[float]
    def __init__(
        self, holder: Optional[str] = None, duration: float = 10.0, wait: Optional[float] = None
    ) -> None: ...

class Writer:
    """Appends events to one stream under one fencing token; a context manager."""

    def __init__(
        self,
        store: Store,
        stream: str,
        *,
        epoch: Optional[int] = None,
        lease: Optional[LeaseOptions] = None,
        writer_id: Optional[str] = None,
        in_flight: Optional[int] = None,
        allow_epoch_jump: bool = False,
        attach_above: Optional[int] = None,
        one_per_segment: bool = False,
        lock_mode: Optional[str] = None,
        retain_days: Optional[int] = None,
        legal_hold: bool = False,
        checkpoint_key: Optional[str] = None,
        checkpoint_segments: Optional[int] = None,
        checkpoint_seconds: Optional[float] = None,
        checkpoint_rotated_from: Sequence[str] = (),
    ) -> None: ...
    @property
    def checkpoints(self) -> Optional[Dict[str, Any]]:
        """With ``checkpoint_key``: what the checkpointer has done (final once closed)."""
    def append(
        self,
        data: Data,
        type: str = "event",
        *,
        content_type: Optional[str] = None,
        wait: bool = True,
    ) -> Any:
        """``Appended`` once committed; a ``Pending`` with ``wait=False``."""
    def try_append(self, data: JsonValue, type: str = "event") -> Optional[Pending]: ...
    def append_json(self, text: str, type: str = "event") -> Appended: ...
    def append_many(
        self, items: Iterable[Data], type: str = "event", *, content_type: Optional[str] = None
    ) -> List[Appended]: ...
    def append_expected(
        self, items: Iterable[JsonValue], expected_seq: int, type: str = "event"
    ) -> List[Appended]: ...
    def flush(self) -> None: ...
    def stats(self) -> Dict[str, int]: ...
    @property
    def next_seq(self) -> int: ...
    @property
    def epoch(self) -> int: ...
    @property
    def stream(self) -> str: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Writer": ...
    def __exit__(self, *exc: Any) -> bool: ...

class Event:
    """One event as readers see it."""

    @property
    def seq(self) -> int: ...
    @property
    def id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def time(self) -> str: ...
    @property
    def epoch(self) -> int: ...
    @property
    def writer(self) -> str: ...
    @property
    def data(self) -> Any: ...
    @property
    def data_json(self) -> Optional[str]: ...
    @property
    def payload(self) -> Optional[Dict[str, Any]]: ...

class Events(Iterator[Event]):
    def __next__(self) -> Event: ...

class Follow(Iterator[Event]):
    def __next__(self) -> Event: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Follow": ...
    def __exit__(self, *exc: Any) -> bool: ...

class Reader:
    """Reads one stream: replay, follow, fetch."""

    def __init__(self, store: Store, stream: str) -> None: ...
    def events(self, from_seq: int = 0, to_seq: Optional[int] = None) -> Events: ...
    def follow(self, from_seq: int = 0, timeout: Optional[float] = None) -> Follow: ...
    def get(self, seq: int) -> Optional[Event]: ...
    def content(self, event: Event) -> bytes: ...

class Lease:
    """One candidate's view of a stream's lease, step by step."""

    def __init__(
        self, store: Store, stream: str, holder: Optional[str] = None, duration: float = 10.0
    ) -> None: ...
    def try_acquire(self) -> Optional[int]: ...
    def acquire(self, timeout: Optional[float] = None) -> int: ...
    def renew(self) -> None: ...
    def release(self) -> None: ...
    @property
    def epoch(self) -> Optional[int]: ...
    @property
    def holder(self) -> str: ...

class LeaderElector:
    """Campaigns for a stream's lease in the background; renews while leading."""

    def __init__(
        self, store: Store, stream: str, holder: Optional[str] = None, duration: float = 10.0
    ) -> None: ...
    def current(self) -> Optional[int]: ...
    def wait(self, timeout: Optional[float] = None) -> Optional[int]: ...
    def stop(self) -> None: ...
    @property
    def holder(self) -> str: ...
    def __enter__(self) -> "LeaderElector": ...
    def __exit__(self, *exc: Any) -> bool: ...

def verify(
    store: Store,
    stream: str,
    require_lock: bool = False,
    *,
    keys: Sequence[str] = (),
    trusted_checkpoint: Optional[str] = None,
) -> Dict[str, Any]:
    """The audit of ``stream``, as ``wormlog verify --json``, with ``clean`` and
    ``violations``; with ``keys`` (verifier keys' text) also the Merkle tree audit
    (``merkle_tree``), against ``trusted_checkpoint`` too when given."""

def keygen(name: str) -> Tuple[str, str]:
    """A new key pair: ``(signing_key, verifier_key)`` as text."""

def checkpoint(
    store: Store,
    stream: str,
    key: str,
    *,
    rotated_from: Sequence[str] = (),
    lock_mode: Optional[str] = None,
    retain_days: Optional[int] = None,
    legal_hold: bool = False,
) -> Optional[Tuple[int, str]]:
    """Signs a checkpoint of the log as it stands: ``(tree_size, note)``, or ``None`` when
    no event came since the latest one."""
