"""An HNSW index beside the embedded Milvus Lite 2.5 (issue 25, "index by size").

Milvus Lite 2.5 builds no graph index: below 100,000 rows every search is brute force
(FLAT, ~37 ms a query at 100k here), and from 100,000 rows on segcore swaps in an
interim IVF index whose ``nprobe`` ignores the request (recall@10 0.82). So a collection
on the embedded store that grows past ``min_rows`` gets an HNSW graph of its vectors
(usearch, compiled, in this process) that proposes candidates. A filter is still
Milvus's to evaluate, and a filtered search's candidates are looked up there, so a row
the graph holds but Milvus no longer does is never returned. An unfiltered search takes
its hits' scalar fields from the graph itself (``Graph.stored``): Milvus Lite 2.5 finds
rows by id by reading every row (10 ids in 3.5 ms among 100k rows, 9-17 ms among 300k,
in id order or not), so a lookup there would cost more than the graph's search and grow
with the collection.

A graph answers only while it is *fresh*: built (or kept up to date, row by row, by
this process's own writes) from the collection as it is now. Whether it is is decided by
the caller's ``token`` (the store's count of its own writes and the write marker that
every process sharing the data folder touches). A stale graph answers nothing: the
search goes to Milvus (exact) while a new graph is built in a background thread, once
the collection has had no write for ``quiet_s``.

A smaller collection (at least ``flat_min_rows``, under ``min_rows``) gets the same thing
without the graph: a copy of its vectors searched exactly, by brute force, in this
process (``FlatIndex``, numpy), with its rows' fields. Its answers are Milvus's FLAT
ones; what it saves is the round trip to Milvus Lite's own process for each search (the
request, Lite's search and the decoding of its answer: 2.8 ms for 30 passages with their
fields among 2,573 rows, ``bench_txtai.py``).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
import zlib
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from findalike.encoders.base import Metric

log = logging.getLogger(__name__)

DEFAULT_EF = 256
"""Candidates the graph keeps while it searches (HNSW's ``ef``), unless a request names
its own (``ef``); at least the rows asked for. A whole unfiltered search at 100k rows
(bench_graph.py, the hits' fields from the graph): ef 64 / 128 / 256 / 512 0.72 / 1.18 /
2.03 / 3.5 ms, recall@10 0.991 / 0.998 / 0.999 / 1.0; see ``CONNECTIVITY`` for near
duplicates, which need more."""
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
STORED_MAX_BYTES = 1 << 30
"""At most this many bytes of rows' fields (JSON, compressed) a graph keeps; past it the
graph keeps none and every hit's fields are looked up in Milvus. A passage of ~170 words
of a speech with its title and metadata compressed to 0.4-0.65 KB here, so 100k such
rows would take 40-65 MB."""
FLAT_MAX_BYTES = 256 << 20
"""At most this many bytes of float32 vectors (rows x dimensions x 4) a ``FlatIndex``
holds: 170k 384-d rows, 52k 1280-d ones. A bigger collection under ``min_rows`` is
Milvus's to search."""
_NONE = 0xFFFFFFFF
"""The length written for a row whose fields a saved graph does not hold."""


def supports(metric: str) -> bool:
    return metric in _USEARCH_METRICS


def milvus_distance(metric: Metric, distance: np.ndarray) -> np.ndarray:
    """usearch's distances as Milvus reports them: cosine and inner product as the
    similarity (usearch gives 1 - it), L2 squared as it is."""
    if metric in ("COSINE", "IP"):
        return 1.0 - distance
    return distance


class FlatIndex:
    """Exact search over a copy of a collection's vectors (float32, numpy): what a
    ``Graph`` of a collection under ``min_rows`` holds instead of an HNSW index. It
    answers as usearch's ``Index`` does, for the calls a ``Graph`` makes: keys are rows'
    positions, added in order; distances are usearch's (1 - similarity for cosine and
    inner product, L2 squared)."""

    def __init__(self, metric: Metric, dim: int, *, max_rows: int | None = None) -> None:
        self.metric = metric
        self.max_rows = max_rows
        """Room is never made for more positions than this (the graph goes stale first)."""
        self.vectors = np.zeros((0, dim), dtype=np.float32)
        self.live = np.zeros(0, dtype=bool)
        self.size = 0
        """Positions used in ``vectors`` (removed rows among them)."""
        self.count = 0
        """Live rows."""
        self.expansion_search = 0  # set by ``Graph.nearest``; an exact search ignores it

    def __len__(self) -> int:
        return self.count

    @property
    def memory_usage(self) -> int:
        """Bytes held (as usearch's ``Index`` reports its own)."""
        return int(self.vectors.nbytes + self.live.nbytes)

    def add(self, keys: np.ndarray, vectors: np.ndarray, *, threads: int = 1) -> None:
        keys = np.asarray(keys, dtype=np.int64)
        if len(keys) and (keys[0] != self.size or np.any(np.diff(keys) != 1)):
            raise ValueError("a flat index adds rows at the next positions")
        rows = self._normalised(
            np.asarray(vectors, dtype=np.float32).reshape(-1, self.vectors.shape[1])
        )
        if len(rows) != len(keys):
            raise ValueError("a flat index adds one vector a key")
        end = self.size + len(rows)
        if end > len(self.vectors):  # room for twice as many (at most max_rows): cheap appends
            room = 2 * len(self.vectors)
            if self.max_rows is not None:
                room = min(room, self.max_rows)
            grown = np.zeros((max(end, room), self.vectors.shape[1]), np.float32)
            grown[: self.size] = self.vectors[: self.size]
            live = np.zeros(len(grown), dtype=bool)
            live[: self.size] = self.live[: self.size]
            self.vectors, self.live = grown, live
        self.vectors[self.size : end] = rows
        self.live[self.size : end] = True
        self.size = end
        self.count += len(rows)

    def compact(self) -> None:
        """Give back the room made for rows not added (once a build has read every row)."""
        self.vectors = self.vectors[: self.size].copy()
        self.live = self.live[: self.size].copy()

    def remove(self, keys: np.ndarray) -> None:
        keys = np.unique(np.asarray(keys, dtype=np.int64))
        self.count -= int(self.live[keys].sum())
        self.live[keys] = False

    def search(self, vectors: np.ndarray, count: int, *, threads: int = 1) -> SimpleNamespace:
        """The ``count`` nearest live rows of each query vector, nearest first."""
        queries = self._normalised(np.atleast_2d(np.asarray(vectors, dtype=np.float32)))
        stored = self.vectors[: self.size]
        products = queries @ stored.T
        if self.metric == "L2":
            norms = np.einsum("ij,ij->i", stored, stored)
            own = np.einsum("ij,ij->i", queries, queries)
            distances = np.maximum(norms[None, :] - 2 * products + own[:, None], 0)
        else:
            distances = 1.0 - products
        if self.count < self.size:
            distances[:, ~self.live[: self.size]] = np.inf
        k = min(count, self.count)
        if k == 0:
            empty = np.zeros((len(queries), 0))
            counts = np.zeros(len(queries), dtype=np.int64)
            return SimpleNamespace(keys=empty.astype(np.uint64), distances=empty, counts=counts)
        kth = np.partition(distances, k - 1, axis=1)[:, k - 1 : k]
        keys = np.zeros((len(queries), k), dtype=np.uint64)
        found = np.zeros((len(queries), k), dtype=distances.dtype)
        for q, row in enumerate(distances):  # every row up to the k-th distance, ties
            within = np.flatnonzero(row <= kth[q, 0])  # at the cut included, then sorted
            best = within[np.lexsort((within, row[within]))[:k]]  # by distance, then position
            keys[q], found[q] = best, row[best]
        return SimpleNamespace(keys=keys, distances=found, counts=np.full(len(queries), k))

    def _normalised(self, vectors: np.ndarray) -> np.ndarray:
        if self.metric != "COSINE":
            return vectors
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)


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
    fields: tuple[str, ...] = ()
    """The scalar fields ``stored`` holds for each row, ``item_id`` among them."""
    floats: frozenset[str] = frozenset()
    """Those of ``fields`` Milvus returns as floats (written as ints, read as floats)."""
    stored: list[bytes | None] | None = None
    """Each row's ``fields`` (at its position in ``ids``) as compressed JSON, or None for
    a row written without one of them; None in all when the graph keeps no fields (past
    ``STORED_MAX_BYTES``, or a graph saved by an earlier version)."""
    stored_bytes: int = 0
    max_rows: int | None = None
    """A flat index holds at most this many rows: a write of this process that would
    take it past them leaves it stale (an HNSW graph, or Milvus, takes over)."""

    @property
    def rows(self) -> int:
        return len(self.keys)

    @property
    def exact(self) -> bool:
        """A copy of the vectors searched by brute force (``FlatIndex``), not a graph."""
        return isinstance(self.index, FlatIndex)

    def keeps(self, output_fields: Iterable[str]) -> bool:
        """Whether the graph holds ``output_fields`` (and ``item_id``) of its rows."""
        return self.stored is not None and set(output_fields) <= set(self.fields)

    def stored_rows(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored fields of each of ``ids`` the graph holds them for, by id."""
        with self.lock:
            stored = self.stored
            found = (
                []
                if stored is None
                else [(i, stored[k]) for i in ids if (k := self.keys.get(i)) is not None]
            )
        out = {}
        for i, blob in found:
            try:
                values = json.loads(zlib.decompress(blob)) if blob is not None else None
            except (zlib.error, ValueError):  # a damaged file read back: Milvus answers
                continue
            if isinstance(values, list) and len(values) == len(self.fields):
                out[i] = dict(zip(self.fields, values, strict=True))
        return out

    def _keep(self, rows: Sequence[dict[str, Any]]) -> None:
        """Append ``rows``' fields to ``stored`` (the rows were just appended to
        ``ids``), or stop keeping any past ``STORED_MAX_BYTES``."""
        if self.stored is None:
            return
        blobs = [encode_row(self.fields, self.floats, r) for r in rows]
        self.stored.extend(blobs)
        self.stored_bytes += sum(len(b) for b in blobs if b is not None)
        if self.stored_bytes > STORED_MAX_BYTES:
            log.info("the HNSW graph keeps no rows' fields: over %d bytes", STORED_MAX_BYTES)
            self.stored, self.stored_bytes = None, 0

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
            counts = np.atleast_1d(found.counts if hasattr(found, "counts") else len(found))
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
        upserted: tuple[Sequence[dict[str, Any]], np.ndarray] | None = None,
        deleted: Iterable[str] = (),
    ) -> bool:
        """Apply a write this process just made (rows upserted, with their vectors as
        floats, or ids deleted) if the graph was fresh just before it (``before``): it
        is then fresh at ``after``. False (and the graph stays stale) if another write
        came between."""
        with self.lock:
            if self.token != before:
                return False
            if upserted is not None and self.max_rows is not None:
                added = len({str(r["id"]) for r in upserted[0]} - self.keys.keys())
                if self.rows + added > self.max_rows:
                    return False
            self._remove(deleted)
            if upserted is not None:
                rows, vectors = upserted
                ids = [str(r["id"]) for r in rows]
                self._remove(ids)
                start = len(self.ids)
                self.ids.extend(ids)
                self._keep(rows)
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
            if self.stored is not None:
                blob = self.stored[key]
                self.stored_bytes -= 0 if blob is None else len(blob)
                self.stored[key] = None
        if old:
            self.index.remove(np.asarray(old, dtype=np.uint64))


def encode_row(fields: Sequence[str], floats: frozenset[str], row: dict[str, Any]) -> bytes | None:
    """``row``'s ``fields`` as Milvus would return them, as compressed JSON; None if
    it lacks one or holds what JSON cannot (its hits' fields are then Milvus's)."""
    if any(f not in row for f in fields):
        return None
    try:
        values = [float(row[f]) if f in floats else row[f] for f in fields]
        text = json.dumps(values, ensure_ascii=False, separators=(",", ":"), default=_plain)
    except (TypeError, ValueError):
        return None
    return zlib.compress(text.encode("utf-8"), 1)


def _plain(value: Any) -> Any:
    """A numpy scalar or array in a row as the JSON Milvus would store it."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON: {type(value).__name__}")


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
    fields: Sequence[str] = (),
    floats: frozenset[str] = frozenset(),
    flat_max_rows: int | None = None,
) -> Graph | None:
    """A graph of every (id, vector) row ``pages`` yields (None if ``cancelled`` says
    so between pages: the collection changed while it was read), keeping each row's
    ``fields`` (those of them in ``floats`` as floats) if given; with ``flat_max_rows``
    a ``FlatIndex`` (exact) of at most that many rows instead of an HNSW graph."""
    from usearch.index import Index

    start = time.monotonic()
    index: Any
    if flat_max_rows is not None:
        index = FlatIndex(metric, dim, max_rows=flat_max_rows)
    else:
        index = Index(
            ndim=dim,
            metric=_USEARCH_METRICS[metric],
            dtype=DTYPE,
            connectivity=connectivity,
            expansion_add=expansion_add,
        )
    graph = Graph(
        index=index,
        metric=metric,
        ids=[],
        keys={},
        token=token,
        generation=generation,
        built_s=0.0,
        fields=tuple(fields),
        floats=floats,
        stored=[] if fields else None,
        max_rows=flat_max_rows,
    )
    for page in pages:
        if cancelled():
            return None
        if not page:  # rows deleted since their ids were read
            continue
        vectors = np.asarray([r["vector"] for r in page], dtype=np.float32)
        keys = np.arange(len(graph.ids), len(graph.ids) + len(page), dtype=np.uint64)
        graph.ids.extend(str(r["id"]) for r in page)
        graph._keep(page)
        index.add(keys, vectors, threads=threads)
    graph.keys = {item: key for key, item in enumerate(graph.ids) if item is not None}
    if len(graph.keys) != len(graph.ids):  # the iterator repeated a row: not a snapshot
        return None
    if flat_max_rows is not None:
        if graph.rows > flat_max_rows or graph.stored is None:
            return None  # grew while it was read, or past the fields it can keep: no use
        index.compact()
    graph.built_s = time.monotonic() - start
    return graph


def save(graph: Graph, folder: Path, name: str, stamp: Any) -> None:
    """Write ``graph`` to ``folder`` with ``stamp`` (what the collection must still be
    for it to be used again: see ``restore``), its rows' fields beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    with graph.lock:
        tmp = folder / f".{name}.{os.getpid()}"
        graph.index.save(str(tmp.with_suffix(".usearch")))
        meta: dict[str, Any] = {"stamp": stamp, "metric": graph.metric, "ids": graph.ids}
        meta["rows_tag"] = None  # kept no fields (past ``STORED_MAX_BYTES``)
        if graph.stored is not None:
            tag = secrets.token_hex(8)
            meta |= {"fields": graph.fields, "floats": sorted(graph.floats), "rows_tag": tag}
            _write_stored(tmp.with_suffix(".rows"), tag, graph.stored)
        tmp.with_suffix(".json").write_text(json.dumps(meta))
    os.replace(tmp.with_suffix(".usearch"), folder / f"{name}.usearch")
    if graph.stored is not None:
        os.replace(tmp.with_suffix(".rows"), folder / f"{name}.rows")
    os.replace(tmp.with_suffix(".json"), folder / f"{name}.json")


def _write_stored(path: Path, tag: str, stored: list[bytes | None]) -> None:
    """``stored`` as: the tag and a line break, each row's length (uint32, ``_NONE``
    for a row without), then the rows one after another."""
    lengths = np.asarray([_NONE if b is None else len(b) for b in stored], dtype="<u4")
    with path.open("wb") as f:
        f.write(f"{tag}\n".encode())
        f.write(lengths.tobytes())
        for blob in stored:
            if blob is not None:
                f.write(blob)


def _read_stored(path: Path, tag: str, rows: int) -> tuple[list[bytes | None], int] | None:
    """What ``_write_stored`` wrote with ``tag`` for ``rows`` rows (and their bytes), or
    None if the file is missing, another save's, or not whole."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = f"{tag}\n".encode()
    start = len(head) + 4 * rows
    if not data.startswith(head) or len(data) < start:
        return None
    lengths = np.frombuffer(data, dtype="<u4", count=rows, offset=len(head))
    sizes = np.where(lengths == _NONE, 0, lengths).astype(np.int64)
    if start + int(sizes.sum()) != len(data):
        return None
    ends = start + np.cumsum(sizes)
    stored: list[bytes | None] = [
        None if n == _NONE else data[int(e) - int(s) : int(e)]
        for n, s, e in zip(lengths, sizes, ends, strict=True)
    ]
    return stored, int(sizes.sum())


def restore(
    folder: Path, name: str, stamp: Any, *, token: Hashable, generation: int
) -> Graph | None:
    """The graph ``save`` wrote for ``name`` if it was saved at ``stamp``, else None
    (also for a graph saved before graphs kept their rows' fields: built again, once);
    without its rows' fields if they are missing or not the same save's."""
    from usearch.index import Index

    meta_path, index_path = folder / f"{name}.json", folder / f"{name}.usearch"
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("stamp") != json.loads(json.dumps(stamp)) or "rows_tag" not in meta:
            return None  # changed since, or saved by a version that kept no fields
        start = time.monotonic()
        index = Index.restore(str(index_path))
    except (OSError, ValueError, RuntimeError):
        return None
    if index is None:
        return None
    ids: list[str | None] = meta["ids"]
    kept = None
    if meta.get("rows_tag"):
        kept = _read_stored(folder / f"{name}.rows", str(meta["rows_tag"]), len(ids))
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
        fields=tuple(meta.get("fields", ())) if kept is not None else (),
        floats=frozenset(meta.get("floats", ())),
        stored=kept[0] if kept is not None else None,
        stored_bytes=kept[1] if kept is not None else 0,
    )


def forget_saved(folder: Path, name: str) -> None:
    for suffix in (".json", ".usearch", ".rows"):
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
        flat_min_rows: int | None = None,
    ):
        self.min_rows = min_rows
        """Collections of at least this many rows get an HNSW graph; 0: none does."""
        self.flat_min_rows = flat_min_rows
        """Smaller ones of at least this many rows get a ``FlatIndex``; None: none does."""
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
        self.rows_kept = 0
        """Hits whose fields a graph gave, not Milvus."""

    def plan(self, rows: int, dim: int) -> tuple[bool, int | None] | None:
        """What a collection of ``rows`` rows of ``dim`` dimensions gets: ``(True,
        max_rows)`` a ``FlatIndex`` of at most ``max_rows`` rows, ``(False, None)`` an
        HNSW graph, None nothing (Milvus answers)."""
        if self.min_rows and rows >= self.min_rows:
            return False, None
        limit = FLAT_MAX_BYTES // (4 * max(dim, 1))
        if self.min_rows:
            limit = min(limit, self.min_rows - 1)
        if self.flat_min_rows is not None and self.flat_min_rows <= rows <= limit:
            return True, limit
        return None

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
                    kind = "exact copy" if graph.exact else "HNSW graph"
                    log.info("%s of %s: %d rows in %.1f s", kind, name, graph.rows, graph.built_s)
            except Exception:  # a failed build leaves searches on Milvus
                log.exception("could not build the graph (or exact copy) of %s", name)
            finally:
                with self._lock:
                    self._building.discard(name)

        threading.Thread(target=run, name=f"graph-{name}", daemon=True).start()
        return True
