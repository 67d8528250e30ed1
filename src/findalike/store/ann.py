"""An HNSW index beside the embedded Milvus Lite 2.5 (issue 25, "index by size").

Milvus Lite 2.5 builds no graph index: below 100,000 rows every search is brute force
(FLAT, ~37 ms a query at 100k here), and from 100,000 rows on segcore swaps in an
interim IVF index whose ``nprobe`` ignores the request (recall@10 0.82). So a collection
on the embedded store that grows past ``min_rows`` gets an HNSW graph of its vectors
(usearch, compiled, in this process) that proposes candidates; Milvus stays the store
of record and answers every row's fields, so a row the graph still holds but Milvus no
longer does is never returned, and a filter is still Milvus's to evaluate.

A graph answers only while it is *fresh*: built (or kept up to date, row by row, by
this process's own writes) from the collection as it is now. Whether it is is decided by
the caller's ``token`` (the store's count of its own writes and the write marker that
every process sharing the data folder touches). A stale graph answers nothing: the
search goes to Milvus (exact) while a new graph is built in a background thread, once
the collection has had no write for ``quiet_s``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from findalike.encoders.base import Metric

log = logging.getLogger(__name__)

DEFAULT_EF = 256
"""Candidates the graph keeps while it searches (HNSW's ``ef``), unless a request names
its own (``ef``); at least the rows asked for. Cheap next to Milvus's answer for the
hits' fields (graph ~1 ms, fields 3 ms at 100k rows); see ``CONNECTIVITY``."""
CONNECTIVITY = 32
EXPANSION_ADD = 128
"""HNSW's M and efConstruction. Measured on 200k MiniLM vectors made of 4k real ones and
49 noisy copies of each (near duplicates, hard for a graph): M 16 / efConstruction 64
reached recall@10 0.55 at ef 128 (0.69 at 1M rows of the same kind), M 32 /
efConstruction 128 0.90 at ef 128, 0.979 at ef 256, 0.998 at ef 512 (build 58 s on 2
cores, 3.3 KB a row)."""
DTYPE = "f16"
"""How the graph holds its vectors. Measured on 100k rows of bench_graph.py's data
(usearch alone, 2 cores, one sitting): float16 against float32, a 1-vector top 10 at
ef 256 in 0.99 ms against 1.55 (ef 128: 0.59 against 0.91), recall@10 0.999 both, 186
MB against 320, built in 24 s against 39; bfloat16 lost recall (0.997), int8 more
(0.941). Through ``VectorStore`` (bench_graph.py, runs back to back) the search's p50
did not move (6.96 against 6.77 ms at ef 256: Milvus's answer for the hits' fields is
most of it), the graph's memory and build time did (186 against 320 MB, 42 against 62
s). A hit's score is the graph's, on float16: 1e-5 to 1e-4 from Milvus's float32 one.
Scoring the hits again on the vectors Milvus returns with their fields was tried: a
filtered search (100 candidates) took 12.6 against 9.1 ms, pymilvus decoding their
vectors. A graph saved as float32 by an earlier version is read back as it is."""
BUILD_PAGE_ROWS = 100
"""Rows read back from Milvus a call while a graph is built (see ``_vector_pages``)."""
MAX_LIMIT = 1024
"""Searches for more rows than this go to Milvus: a graph is for the first few pages."""
FILTER_CANDIDATES = 10
"""A filtered search asks the graph for this many times ``limit`` candidates (at least
``MIN_CANDIDATES``); when fewer than ``limit`` of them pass the filter, Milvus answers."""
MIN_CANDIDATES = 100
MAX_CANDIDATES = 4096
"""At most this many candidate ids in all (query vectors x candidates each) are looked up
in Milvus in one expression; a search that would need more goes to Milvus."""
_USEARCH_METRICS: dict[str, str] = {"COSINE": "cos", "IP": "ip", "L2": "l2sq"}


def supports(metric: str) -> bool:
    return metric in _USEARCH_METRICS


def milvus_distance(metric: Metric, distance: np.ndarray) -> np.ndarray:
    """usearch's distances as Milvus reports them: cosine and inner product as the
    similarity (usearch gives 1 - it), L2 squared as it is."""
    if metric in ("COSINE", "IP"):
        return 1.0 - distance
    return distance


@dataclass
class Graph:
    """One collection's HNSW graph: usearch keys are positions in ``ids``."""

    index: Any
    metric: Metric
    ids: list[str | None]
    keys: dict[str, int]
    token: Hashable
    generation: int
    built_s: float
    saved: Hashable = None
    """The token the graph had when it was last saved to (or read from) disk."""
    restored: bool = False
    """Read from disk (``restore``), not built."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def rows(self) -> int:
        return len(self.keys)

    def nearest(self, vectors: np.ndarray, count: int, ef: int) -> list[list[tuple[str, float]]]:
        """Up to ``count`` (id, Milvus distance) pairs per query vector, best first."""
        with self.lock:
            self.index.expansion_search = max(ef, count)
            found = self.index.search(
                np.ascontiguousarray(vectors, dtype=np.float32), count, threads=1
            )
            keys = np.atleast_2d(found.keys)
            distances = milvus_distance(self.metric, np.atleast_2d(found.distances))
            # one query vector: usearch answers a Matches, without counts
            counts = np.atleast_1d(getattr(found, "counts", len(found)))
            out = []
            for q in range(len(vectors)):
                pairs = []
                for key, d in zip(keys[q, : counts[q]], distances[q, : counts[q]], strict=True):
                    item = self.ids[int(key)]
                    if item is not None:
                        pairs.append((item, float(d)))
                out.append(pairs)
            return out

    def advance(
        self,
        before: Hashable,
        after: Hashable,
        *,
        upserted: tuple[Sequence[str], np.ndarray] | None = None,
        deleted: Iterable[str] = (),
    ) -> bool:
        """Apply a write this process just made (rows upserted, or ids deleted) if the
        graph was fresh just before it (``before``): it is then fresh at ``after``.
        False (and the graph stays stale) if another write came between."""
        with self.lock:
            if self.token != before:
                return False
            self._remove(deleted)
            if upserted is not None:
                ids, vectors = upserted
                self._remove(ids)
                start = len(self.ids)
                self.ids.extend(ids)
                for offset, item in enumerate(ids):
                    self.keys[item] = start + offset
                self.index.add(
                    np.arange(start, start + len(ids), dtype=np.uint64),
                    np.ascontiguousarray(vectors, dtype=np.float32),
                    threads=1,
                )
            self.token = after
            return True

    def _remove(self, ids: Iterable[str]) -> None:
        old = [self.keys.pop(i) for i in ids if i in self.keys]
        for key in old:
            self.ids[key] = None
        if old:
            self.index.remove(np.asarray(old, dtype=np.uint64))


def build(
    metric: Metric,
    dim: int,
    pages: Iterator[list[dict[str, Any]]],
    *,
    token: Hashable,
    generation: int,
    connectivity: int,
    expansion_add: int,
    threads: int,
    cancelled: Callable[[], bool],
) -> Graph | None:
    """A graph of every (id, vector) row ``pages`` yields (None if ``cancelled`` says
    so between pages: the collection changed while it was read)."""
    from usearch.index import Index

    start = time.monotonic()
    index = Index(
        ndim=dim,
        metric=_USEARCH_METRICS[metric],
        dtype=DTYPE,
        connectivity=connectivity,
        expansion_add=expansion_add,
    )
    ids: list[str | None] = []
    for page in pages:
        if cancelled():
            return None
        vectors = np.asarray([r["vector"] for r in page], dtype=np.float32)
        keys = np.arange(len(ids), len(ids) + len(page), dtype=np.uint64)
        ids.extend(str(r["id"]) for r in page)
        index.add(keys, vectors, threads=threads)
    keys_of = {item: key for key, item in enumerate(ids) if item is not None}
    if len(keys_of) != len(ids):  # the iterator repeated a row: not a snapshot
        return None
    return Graph(
        index=index,
        metric=metric,
        ids=ids,
        keys=keys_of,
        token=token,
        generation=generation,
        built_s=time.monotonic() - start,
    )


def save(graph: Graph, folder: Path, name: str, stamp: Any) -> None:
    """Write ``graph`` to ``folder`` with ``stamp`` (what the collection must still be
    for it to be used again: see ``restore``)."""
    folder.mkdir(parents=True, exist_ok=True)
    with graph.lock:
        tmp = folder / f".{name}.{os.getpid()}"
        graph.index.save(str(tmp.with_suffix(".usearch")))
        meta = {"stamp": stamp, "metric": graph.metric, "ids": graph.ids}
        tmp.with_suffix(".json").write_text(json.dumps(meta))
    os.replace(tmp.with_suffix(".usearch"), folder / f"{name}.usearch")
    os.replace(tmp.with_suffix(".json"), folder / f"{name}.json")


def restore(
    folder: Path, name: str, stamp: Any, *, token: Hashable, generation: int
) -> Graph | None:
    """The graph ``save`` wrote for ``name`` if it was saved at ``stamp``, else None."""
    from usearch.index import Index

    meta_path, index_path = folder / f"{name}.json", folder / f"{name}.usearch"
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("stamp") != json.loads(json.dumps(stamp)):
            return None
        start = time.monotonic()
        index = Index.restore(str(index_path))
    except (OSError, ValueError, RuntimeError):
        return None
    if index is None:
        return None
    ids: list[str | None] = meta["ids"]
    return Graph(
        index=index,
        metric=meta["metric"],
        ids=ids,
        keys={item: key for key, item in enumerate(ids) if item is not None},
        token=token,
        generation=generation,
        built_s=time.monotonic() - start,
        saved=token,
        restored=True,
    )


def forget_saved(folder: Path, name: str) -> None:
    for suffix in (".json", ".usearch"):
        (folder / f"{name}{suffix}").unlink(missing_ok=True)


class Graphs:
    """The graphs of one store's collections, and the thread that builds them."""

    def __init__(
        self,
        *,
        min_rows: int,
        ef: int,
        connectivity: int = CONNECTIVITY,
        expansion_add: int = EXPANSION_ADD,
        quiet_s: float = 2.0,
        build_threads: int = 2,
    ):
        self.min_rows = min_rows
        self.ef = ef
        self.connectivity = connectivity
        self.expansion_add = expansion_add
        self.quiet_s = quiet_s
        self.build_threads = build_threads
        self._graphs: dict[str, Graph] = {}
        self._building: set[str] = set()
        self._lock = threading.Lock()
        self.builds = 0
        """Graphs built or read back from disk."""
        self.answered = 0
        """Query vectors a graph answered (``/metrics``)."""

    def fresh(self, name: str, token: Hashable) -> Graph | None:
        graph = self._graphs.get(name)
        return graph if graph is not None and graph.token == token else None

    def held(self, name: str) -> Graph | None:
        return self._graphs.get(name)

    def all(self) -> dict[str, Graph]:
        with self._lock:
            return dict(self._graphs)

    def forget(self, name: str) -> None:
        with self._lock:
            self._graphs.pop(name, None)

    def building(self, name: str) -> bool:
        return name in self._building

    def start_build(self, name: str, make: Callable[[], Graph | None]) -> bool:
        """Build ``name``'s graph in a background thread unless one is being built;
        ``make`` returns it, or None when the collection changed meanwhile."""
        with self._lock:
            if name in self._building:
                return False
            self._building.add(name)

        def run() -> None:
            try:
                graph = make()
                if graph is not None:
                    with self._lock:
                        self._graphs[name] = graph
                        self.builds += 1
                    log.info("HNSW graph of %s: %d rows in %.1f s", name, graph.rows, graph.built_s)
            except Exception:  # a failed build leaves searches on Milvus
                log.exception("could not build the HNSW graph of %s", name)
            finally:
                with self._lock:
                    self._building.discard(name)

        threading.Thread(target=run, name=f"hnsw-{name}", daemon=True).start()
        return True
