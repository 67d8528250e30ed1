"""Batching of concurrent queries: one model call and one Milvus request for many callers.

Under load, N clients searching at once used to run N model calls in N request threads
(which fight over the same cores) and N Milvus searches. Two pieces here turn that
into a few large calls, and a lone client never waits for a batch to fill:

- ``BatchingEncoder`` runs a model on one thread of its own, fed by a queue. Whatever
  queries wait while the model is busy are encoded together in its next call (natural
  batching: no timer, so one client never waits for a batch to fill). Loads go through
  the same thread in chunks, behind queries, so searches keep answering during a load.
- ``Coalescer`` gathers concurrent store searches with the same filter, limit and
  output fields into one request with many query vectors (Milvus answers 16 query
  vectors in a fraction of 16 times one). The first caller runs at once; callers that
  arrive while a request is in flight are served together by the next one.

Each caller gets exactly what it would have got alone: results are split back per
caller, and a caller whose input fails is retried alone so the error reaches only it.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from findalike.encoders.base import Encoder, Metric, VectorKind

log = logging.getLogger(__name__)

T = TypeVar("T")

QUERY, LOAD = 0, 1
"""Queue priorities: queries first, then chunks of loads."""


class _Pending(Generic[T]):
    """One caller's share of a batch: its input, and its result or error once known."""

    __slots__ = ("items", "result", "error", "done", "since")

    def __init__(self, items: Sequence[Any] | np.ndarray) -> None:
        self.items = items
        self.since = time.perf_counter()
        self.result: T | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    def settle(self, result: T | None = None, error: BaseException | None = None) -> None:
        self.result, self.error = result, error
        self.done.set()

    def get(self) -> T:
        self.done.wait()
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


@dataclass
class BatchStats:
    """Counters of one batcher (read by the metrics endpoint and the benchmarks)."""

    calls: int = 0
    batches: int = 0
    items: int = 0
    largest_batch: int = 0
    sizes: dict[int, int] = field(default_factory=dict)
    """Batches by number of callers in them."""
    waited_s: float = 0.0
    """Seconds callers spent queued before their batch started, summed."""

    def record(self, callers: int, items: int) -> None:
        self.batches += 1
        self.calls += callers
        self.items += items
        self.largest_batch = max(self.largest_batch, callers)
        self.sizes[callers] = self.sizes.get(callers, 0) + 1


class BatchingEncoder:
    """An encoder whose model runs on one thread, encoding concurrent queries together.

    It is an ``Encoder`` (same name, version, dim and metric as the model it wraps), so
    the rest of findalike does not know it is there. ``encode`` blocks the calling
    thread until its own rows are ready. Attributes other than the encoder protocol
    are passed through to the wrapped model (they run in the caller's thread).
    """

    def __init__(
        self,
        inner: Encoder,
        *,
        max_batch: int = 64,
        query_items: int = 4,
        load_chunk: int = 64,
        text_chunk: int = 16,
    ) -> None:
        self.inner = inner
        self.max_batch = max_batch
        """Most items in one model call made of gathered queries."""
        self.query_items = query_items
        """A call with at most this many items is a query (served first)."""
        self.load_chunk = load_chunk
        """Larger calls (loads) are cut into chunks of this many items, so queries
        get the model between two chunks."""
        self.text_chunk = text_chunk
        """Chunk size of a load made of texts, read longest first. Smaller than
        ``load_chunk``: a batch of 256 sorted texts cut in chunks of 64 took 1.14x
        the model time of chunks of 16 on 2,000 SOTU sentences, and 1.06x on 200-word
        passages (2 cores, chunk sizes alternated batch by batch): the longest chunk
        of 64 is padded to the longest text of the 256."""
        self.stats = BatchStats()
        self._queue: queue.PriorityQueue[tuple[int, int, _Pending[np.ndarray] | None]] = (
            queue.PriorityQueue()
        )
        self._seq = itertools.count()
        self._thread = threading.Thread(target=self._run, name=f"model-{inner.name}", daemon=True)
        self._thread.start()

    # -- the Encoder protocol -----------------------------------------------------

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def version(self) -> str:
        return self.inner.version

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def vector_kind(self) -> VectorKind:
        return self.inner.vector_kind

    @property
    def metric(self) -> Metric:
        return self.inner.metric

    def encode(self, items: Sequence[Any]) -> np.ndarray:
        items = list(items)
        if not items:
            return self.inner.encode(items)
        if not self._thread.is_alive():
            raise RuntimeError(f"the model thread of {self.name} has stopped")
        if len(items) <= self.query_items:
            return self._submit(QUERY, items).get()
        # Texts longest first, so each chunk holds texts of about one length: a model
        # pads a batch to its longest input, and chunks cut in the caller's order
        # padded 64 short sentences to their longest (1.15-1.45x the model time of
        # the same texts sorted, two runs). Rows go back in the caller's order.
        order = _longest_first(items)
        step = self.load_chunk
        if order is not None:
            items = [items[i] for i in order]
            step = self.text_chunk
        chunks = [self._submit(LOAD, items[i : i + step]) for i in range(0, len(items), step)]
        vectors = np.concatenate([c.get() for c in chunks])
        if order is None:
            return vectors
        restored = np.empty_like(vectors)
        restored[order] = vectors
        return restored

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def close(self) -> None:
        """Stop the model thread once the queue is empty (calls after this fail)."""
        self._queue.put((LOAD + 1, next(self._seq), None))
        self._thread.join(timeout=30)

    # -- the model thread ---------------------------------------------------------

    def _submit(self, priority: int, items: list[Any]) -> _Pending[np.ndarray]:
        pending: _Pending[np.ndarray] = _Pending(items)
        self._queue.put((priority, next(self._seq), pending))
        return pending

    def _run(self) -> None:
        while True:
            priority, seq, first = self._queue.get()
            if first is None:
                return
            batch = [first]
            size = len(first.items)
            while priority == QUERY and size < self.max_batch:
                try:
                    entry = self._queue.get_nowait()
                except queue.Empty:
                    break
                if entry[0] != QUERY:  # no query left: the load chunk waits its turn
                    self._queue.put(entry)
                    break
                assert entry[2] is not None
                batch.append(entry[2])
                size += len(entry[2].items)
            started = time.perf_counter()
            self.stats.waited_s += sum(started - p.since for p in batch)
            self._encode(batch)

    def _encode(self, batch: list[_Pending[np.ndarray]]) -> None:
        flat = [item for p in batch for item in p.items]
        try:
            vectors = self.inner.encode(flat)
        except BaseException as exc:  # noqa: BLE001 - handed to the callers, never lost
            if len(batch) == 1:
                batch[0].settle(error=exc)
                return
            for pending in batch:  # find whose input failed: each caller alone
                self._encode([pending])
            return
        self.stats.record(len(batch), len(flat))
        start = 0
        for pending in batch:
            end = start + len(pending.items)
            pending.settle(vectors[start:end])
            start = end


def _longest_first(items: Sequence[Any]) -> np.ndarray | None:
    """Indices of text ``items`` from the longest to the shortest (stable), or ``None``
    if they are not all text (images, audio: their inputs have one size)."""
    if len(items) <= 1 or not all(isinstance(item, str) for item in items):
        return None
    return np.argsort([-len(item) for item in items], kind="stable")


R = TypeVar("R")


class Coalescer(Generic[R]):
    """Runs ``run(key, rows)`` for many callers at once: callers with the same key that
    arrive while a call for that key is in flight are served together by the next call
    (one at a time per key; different keys run in parallel).

    ``run`` gets the stacked query rows and returns one result per row, in order.
    """

    def __init__(self, run: Callable[[Hashable, np.ndarray], list[R]], *, max_rows: int = 64):
        self._run = run
        self.max_rows = max_rows
        self.stats = BatchStats()
        self._lock = threading.Lock()
        self._waiting: dict[Hashable, list[_Pending[list[R]]]] = {}
        self._busy: set[Hashable] = set()

    def __call__(self, key: Hashable, rows: np.ndarray) -> list[R]:
        mine: _Pending[list[R]] = _Pending(rows)
        with self._lock:
            self._waiting.setdefault(key, []).append(mine)
            if key in self._busy:
                lead = False
            else:
                self._busy.add(key)
                lead = True
        if not lead:
            mine.done.wait()
            if mine.error is None and mine.result is None:  # handed the lead
                lead = True
        if lead:
            self._lead(key)
        return mine.get()

    def _lead(self, key: Hashable) -> None:
        """Serve the callers waiting on ``key`` (this one among them), then hand the
        lead to one who came meanwhile, or free the key."""
        with self._lock:
            waiting = self._waiting.pop(key, [])
            batch: list[_Pending[list[R]]] = []
            rest: list[_Pending[list[R]]] = []
            size = 0
            for pending in waiting:
                if batch and size + len(pending.items) > self.max_rows:
                    rest.append(pending)
                else:
                    batch.append(pending)
                    size += len(pending.items)
            if rest:
                self._waiting[key] = rest
        self._serve(key, batch)
        with self._lock:
            successor = self._waiting.get(key)
            if successor:
                successor[0].done.set()  # it wakes with no result: it leads next
            else:
                self._busy.discard(key)

    def _serve(self, key: Hashable, batch: list[_Pending[list[R]]]) -> None:
        if not batch:
            return
        try:  # rows that do not stack (another width) fail like a refused search
            rows = np.concatenate([np.asarray(p.items) for p in batch])
            results = self._run(key, rows)
        except BaseException as exc:  # noqa: BLE001 - handed to the callers
            if len(batch) == 1:
                batch[0].settle(error=exc)
            else:
                for pending in batch:
                    self._serve(key, [pending])
            return
        with self._lock:
            self.stats.record(len(batch), len(rows))
        start = 0
        for pending in batch:
            end = start + len(pending.items)
            pending.settle(results[start:end])
            start = end
