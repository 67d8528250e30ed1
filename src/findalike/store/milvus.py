"""The only module that talks to Milvus.

A URI that is a file path (``./data/milvus.db``) means embedded Milvus Lite; an
``http(s)://`` URI means a Milvus server or cluster. Both go through
``pymilvus.MilvusClient`` and the same code path.

Every collection has the same skeleton, so that one item (a document, an image, a
video, a clip) may own several vectors (passages, frames, windows):

- ``id``       VARCHAR primary key, ``"{item_id}:{part}"``
- ``item_id``  VARCHAR, the item's content hash (re-loading it overwrites, never duplicates)
- ``part``     INT64, 0 for the item's first vector
- ``vector``   FLOAT_VECTOR or BINARY_VECTOR
- the app's own scalar fields.

The encoder that made the vectors, their dimension and metric are stored as
collection properties and checked on every open: a mismatch raises ``Conflict``
instead of mixing vectors of two models.

All methods block; callers in async code run them in a worker thread.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from findalike.config import is_embedded_uri
from findalike.encoders.base import Metric, VectorKind
from findalike.errors import Conflict, FindalikeError, NotFound, Unavailable
from findalike.schema import (
    MAX_RESULT_ROWS,
    FieldKind,
    FieldSpec,
    Hit,
    Language,
    in_filter,
    similarity,
)
from findalike.store import ann

log = logging.getLogger(__name__)

ID_MAX_LENGTH = 160
_PROPERTY_PREFIX = "findalike."
_RECORD_MARK = "findalike record: "
"""Starts the collection's description, then its record as JSON: the copy read where
the engine keeps no collection properties (Milvus Lite 2.5 drops them)."""
_CONNECT_FAILED_CODE = 2
"""pymilvus's code for "Fail connecting to server" (no server, or no answer in time)."""
BM25_SUFFIX = "_bm25"
_CHINESE_STOP = [
    *"，。？！、；：“”‘’（）《》【】…—·,.?!;:()\"'",
    *"的 了 吗 呢 吧 啊 呀 是 在 和 与 也 都 就 么".split(),
]
LANGUAGES: dict[str, dict[str, Any] | None] = {
    "en": None,
    "zh": {"tokenizer": "jieba", "filter": [{"type": "stop", "stop_words": _CHINESE_STOP}]},
    "multi": {"tokenizer": "jieba", "filter": [{"type": "stop", "stop_words": _CHINESE_STOP}]},
}
"""The analyzer of a collection's full-text (BM25) field, by the language of its text:
``en`` (and every language written with spaces between words) Milvus's standard
analyzer (words, lower-cased); ``zh`` (Chinese) and ``multi`` (several languages,
Chinese among them) jieba, which segments Chinese into words and splits the other
languages' words at spaces and punctuation (lower-cased), leaving out punctuation and
Chinese particles (Milvus Lite needs the ``milvus-lite[chinese]`` extra: ``jieba``)."""
RRF_K = 60
"""Reciprocal rank fusion's constant: a hit ranked r-th in a list adds 1 / (60 + r)."""
_WRITE_CALLS = frozenset({"upsert", "insert", "delete", "drop_collection"})
_SLOW_CALLS = frozenset({"flush", "create_collection", "load_collection", "create_index"})
_LITE_GRPC_OPTIONS = {
    # pymilvus pings every 10 s even when idle; Milvus Lite's gRPC server accepts a
    # ping without data at most every 5 minutes and answers more with GOAWAY
    # "too_many_pings", dropping the connection. The socket is local: ping rarely.
    "grpc.keepalive_time_ms": 600_000,
    "grpc.keepalive_permit_without_calls": False,
}


class _LiteUnimplementedFilter(logging.Filter):
    """Milvus Lite answers pymilvus's AllocTimestamp with UNIMPLEMENTED and pymilvus
    falls back; grpc logs that harmless exchange as an ERROR with a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Method not implemented" not in record.getMessage()


class _NoVersionCallFilter(logging.Filter):
    """Milvus Lite 2.5 answers the version call UNIMPLEMENTED (``ping`` then says what
    it is); pymilvus logs that as an ERROR with a traceback, at every start."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("get_server_version" in message and "UNIMPLEMENTED" in message)


_NO_VERSION_CALL_FILTER = _NoVersionCallFilter()
log.addFilter(_NO_VERSION_CALL_FILTER)


class _LiteTsFilter(logging.Filter):
    """Milvus Lite has no MVCC timestamp to give pymilvus's query iterator, which then
    uses a client-side one (correct for our reads) and warns on every iterator."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "mvccTs" not in record.getMessage()


_LITE_TS_FILTER = _LiteTsFilter()


class StoreError(FindalikeError):
    """Milvus refused an operation for a reason other than being unreachable."""

    status = 500
    title = "Vector store error"


@dataclass(frozen=True)
class CollectionSpec:
    name: str
    dim: int
    vector_kind: VectorKind
    metric: Metric
    encoder: str
    fields: tuple[FieldSpec, ...] = ()
    index_type: str = "AUTOINDEX"
    index_params: tuple[tuple[str, int], ...] = field(default=(), compare=False)
    """Build parameters of the vector index (HNSW's ``M``, IVF's ``nlist``)."""
    language: Language = field(default="en", compare=False)
    """The language of the lexical field's text: it picks the analyzer (``LANGUAGES``).
    Recorded with the collection; not part of the compatibility check."""

    def properties(self) -> dict[str, str]:
        return {
            f"{_PROPERTY_PREFIX}encoder": self.encoder,
            f"{_PROPERTY_PREFIX}dim": str(self.dim),
            f"{_PROPERTY_PREFIX}metric": self.metric,
            f"{_PROPERTY_PREFIX}vector_kind": self.vector_kind,
        }


_SEARCH_CALLS = frozenset({"search", "hybrid_search"})
_READ_CALLS = frozenset({"search", "hybrid_search", "query", "get", "query_iterator"})
_NOT_LOADED = 101
"""Milvus's error code for a collection that is not loaded (released)."""
EPOCH_FILE = "collections.epoch"
WRITES_DIR = "writes"
"""Under ``shared_dir``: a file per collection, replaced after each write to it."""
GRAPHS_DIR = "graphs"
"""Under ``shared_dir``: the HNSW graphs of big collections (``ann``), saved so that a
restart (and every worker) reads them instead of building them again."""
COUNT_CACHE_S = 60.0
"""Longest a cached filtered count is trusted without being counted again (bounds what
another machine's writes, which change neither this process's writes, the shared marker
nor the total rows, can leave stale)."""
KEPT_ROWS = 4096
KEPT_CHARS = 8_000_000
"""Most rows, and characters of their string fields, ``rows_by_id`` keeps a collection
and field list (a text passage: ~1,000 characters; a Chinese one up to ~3x that)."""
CREATE_LOCK_TIMEOUT_S = 600.0
LITE_25_VERSION = "milvus_lite 2.5"
"""What ``ping`` says of a Milvus Lite 2.5, which has no version call."""


class VectorStore:
    """A thin, typed face over ``MilvusClient``. Connects lazily, so a server that
    starts while Milvus is down answers 503 instead of crashing at start-up.

    With ``shared_dir`` (the data folder, which the worker processes of one server
    share), collections are created under a file lock, so two workers never race to
    create one, and every create or drop is announced in a file there, so each
    process forgets what it had cached about collections (loaded, their schema) when
    another one changed them: ``generation`` moves."""

    def __init__(
        self,
        uri: str,
        *,
        token: str = "",
        db_name: str = "",
        timeout_s: float = 10.0,
        retry_after_s: float | None = None,
        shared_dir: Path | None = None,
        search_consistency: str = "Strong",
        ann_min_rows: int = 0,
        ann_ef: int = ann.DEFAULT_EF,
        half_min_dim: int = 0,
        flat_min_rows: int | None = None,
    ):
        self.uri = uri
        self._half_min_dim = half_min_dim
        """New float collections of at least this many dimensions on Milvus Lite 2.5
        store float16 (the ``half_vectors_min_dim`` setting: Lite holds each loaded
        collection's vectors in chunks of 32,768 rows, a 1280-d collection of 10 rows
        162 MB as float32, 81 MB as float16); 0: float32 always."""
        self._half: dict[str, bool] = {}
        """Collections whose vectors are stored as float16 (read from Milvus once)."""
        self._graphs = (
            ann.Graphs(min_rows=ann_min_rows, ef=ann_ef, flat_min_rows=flat_min_rows)
            if ann_min_rows > 0 or flat_min_rows is not None
            else None
        )
        """HNSW graphs of big collections on Milvus Lite 2.5 and exact copies of smaller
        ones (``ann``): none when ``ann_min_rows`` is 0 and ``flat_min_rows`` None."""
        self._graph_small: dict[str, Any] = {}
        self._write_at: dict[str, float] = {}
        self._search_consistency = search_consistency
        self._shared_dir = shared_dir
        self._epoch_seen: tuple[int, int] | None = None
        self._generation = 0
        self._lite_server: bool | None = None
        self._no_version_call = False
        self._compiled_lite: bool | None = None
        self._token = token
        self._db_name = db_name
        self._timeout_s = timeout_s
        self._retry_after_s = min(timeout_s, 5.0) if retry_after_s is None else retry_after_s
        self._client: Any = None
        self._lock = threading.Lock()
        self._connecting: threading.Event | None = None
        self._down_until = 0.0
        self._down_reason = ""
        self._loaded: set[str] = set()
        self._create_lock = threading.Lock()
        self.errors: dict[tuple[str, str], int] = {}
        """Failed calls by (method, error type), for ``/metrics``."""
        self._lexical: dict[str, str | None] = {}
        self._writes: dict[str, int] = {}
        self._counts: dict[tuple[str, str], tuple[tuple[Any, ...], int, float]] = {}
        self._count_locks: dict[tuple[str, str], threading.Lock] = {}
        self._kept_rows: dict[tuple[str, tuple[str, ...]], _KeptRows] = {}
        self.kept_rows_hits = 0
        """Rows ``rows_by_id`` answered from memory since the start."""

    @property
    def is_lite(self) -> bool:
        """Milvus Lite: the embedded file, or Milvus Lite's own server by URI (it says so
        in its version; asked once, on the first use)."""
        if is_embedded_uri(self.uri):
            return True
        if self._lite_server is None:
            self._lite_server = self.ping().startswith("milvus_lite")
        return self._lite_server

    @property
    def is_compiled_lite(self) -> bool:
        """Milvus Lite 2.5 (the Milvus C++ core), embedded or by URI: FLAT, IVF_FLAT and
        AUTOINDEX only, no collection properties, no weighted fusion of BM25."""
        if is_embedded_uri(self.uri):
            return True  # the milvus-lite installed (pinned 2.5.1)
        if self._compiled_lite is None:
            self._compiled_lite = self.is_lite and self.ping() == LITE_25_VERSION
        return self._compiled_lite

    # -- several processes ----------------------------------------------------------

    @property
    def generation(self) -> int:
        """Moves whenever any process sharing ``shared_dir`` created or dropped a
        collection since the last look (a ``stat``: cheap enough for every call);
        this process's caches of collections are dropped then."""
        if self._shared_dir is None:
            return self._generation
        try:
            st = os.stat(self._shared_dir / EPOCH_FILE)
            seen: tuple[int, int] | None = (st.st_ino, st.st_mtime_ns)
        except FileNotFoundError:
            seen = None
        if seen != self._epoch_seen:
            with self._lock:
                self._epoch_seen = seen
                self._loaded.clear()
                self._lexical.clear()
                self._half.clear()
                self._generation += 1
        return self._generation

    def _announce_change(self) -> None:
        """Tell the other processes a collection was created or dropped."""
        if self._shared_dir is None:
            self._generation += 1
            return
        self._shared_dir.mkdir(parents=True, exist_ok=True)
        tmp = self._shared_dir / f"{EPOCH_FILE}.{uuid.uuid4().hex}"
        tmp.write_text(uuid.uuid4().hex)
        os.replace(tmp, self._shared_dir / EPOCH_FILE)  # a new inode: every reader sees it

    def _creating(self) -> Any:
        """A lock held while a collection is created, across the processes sharing
        ``shared_dir`` (in this process only, without one)."""
        if self._shared_dir is None:
            return self._create_lock
        from filelock import FileLock

        self._shared_dir.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self._shared_dir / "collections.lock"), timeout=CREATE_LOCK_TIMEOUT_S)

    # -- connection ---------------------------------------------------------------

    def _connect(self) -> Any:
        """The client, connecting if needed. One attempt at a time, bounded by
        ``timeout_s``: requests that arrive during it wait for that attempt (never
        for a queue of attempts), and for ``retry_after_s`` after a failed attempt
        every call fails at once (a circuit breaker), so a hung Milvus costs each
        request at most one timeout."""
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is not None:
                return self._client
            left_s = self._down_until - time.monotonic()
            if left_s > 0:
                raise Unavailable(f"{self._down_reason} (next attempt in {left_s:.1f} s)")
            attempt = self._connecting
            leader = attempt is None
            if leader:
                attempt = self._connecting = threading.Event()
        assert attempt is not None
        if not leader:
            attempt.wait(self._timeout_s + 1.0)
            if self._client is None:
                raise Unavailable(self._down_reason or f"Milvus is unreachable at {self.uri}")
            return self._client
        try:
            return self._open_client()
        finally:
            with self._lock:
                self._connecting = None
            attempt.set()

    def _open_client(self) -> Any:
        from pymilvus import MilvusClient

        embedded = is_embedded_uri(self.uri)
        if embedded:
            Path(self.uri).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
            from findalike.store.lite3 import move_to_lite25

            move_to_lite25(Path(self.uri).expanduser().resolve())  # a Lite 3.2 folder here
            logging.getLogger("grpc._server").addFilter(_LiteUnimplementedFilter())
        kwargs: dict[str, Any] = {"uri": self.uri, "timeout": self._timeout_s}
        if embedded:
            kwargs["grpc_options"] = _LITE_GRPC_OPTIONS
        if self._token:
            kwargs["token"] = self._token
        if self._db_name:
            kwargs["db_name"] = self._db_name
        try:
            client = MilvusClient(**kwargs)
        except Exception as exc:  # pymilvus raises several types here
            reason = _reason(exc)
            log.error("Milvus is unreachable at %s: %s", self.uri, reason)
            with self._lock:
                self._down_reason = f"Milvus is unreachable at {self.uri}: {reason}"
                self._down_until = time.monotonic() + self._retry_after_s
            raise Unavailable(self._down_reason) from exc
        if embedded:
            _opened_lite_server(self.uri)
        with self._lock:
            self._client = client
            self._down_until = 0.0
        return client

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``MilvusClient.<method>`` with a deadline, its failures mapped by type and
        code: unreachable or timed out -> ``Unavailable`` (503); anything else ->
        ``StoreError`` with a generic message (Milvus's own text, which can quote
        the expression and the schema, goes to the log only)."""
        client = self._connect()
        kwargs.setdefault("timeout", self._deadline_s(method))
        if method in _SEARCH_CALLS:
            kwargs.setdefault("consistency_level", self._search_consistency)
        try:
            return self._guard(method, getattr(client, method), *args, **kwargs)
        except StoreError as exc:
            not_loaded = getattr(exc.__cause__, "code", None) == _NOT_LOADED
            if not (not_loaded and method in _READ_CALLS and args):
                raise
        # released behind this process's back (another process, Milvus Lite reopening
        # its files): load it again and retry once
        log.warning("collection %s was not loaded: loading it again", args[0])
        with self._lock:
            self._loaded.discard(args[0])
        self._load(args[0])
        with self._lock:
            self._loaded.add(args[0])
        return self._guard(method, getattr(client, method), *args, **kwargs)

    def _load(self, name: str) -> None:
        """Load collection ``name`` and wait until Milvus says it is loaded, within the
        load deadline (``Unavailable`` after it). A load that Milvus reports released
        again while it is waited on (another process released it, or a Milvus Lite 3.2
        server by URI swapped in a fresh copy of it) is asked for again, where pymilvus's
        own wait would poll the released copy until its timeout."""
        from pymilvus.client.types import LoadState

        client = self._connect()
        deadline = time.monotonic() + self._deadline_s("load_collection")
        while True:
            left = max(deadline - time.monotonic(), 1.0)
            self._guard("load_collection", client.load_collection, name, timeout=left, _async=True)
            pause = 0.01
            while True:
                try:
                    state = self._guard(
                        "get_load_state", client.get_load_state, name, timeout=self._timeout_s
                    )["state"]
                except StoreError as exc:  # released between its two questions (a server)
                    if getattr(exc.__cause__, "code", None) != _NOT_LOADED:
                        raise
                    state = LoadState.NotLoad
                if state == LoadState.Loaded:
                    return
                if time.monotonic() > deadline:
                    raise Unavailable(f"Milvus did not load collection {name!r} in time")
                if state != LoadState.Loading:
                    log.warning("collection %s was released while loading: loading it again", name)
                    break
                time.sleep(pause)
                pause = min(pause * 2, 0.5)

    def _guard(self, method: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        """``call(*args, **kwargs)`` with pymilvus's and gRPC's failures mapped (see
        ``_call``) and counted by method and kind (``errors``, for ``/metrics``)."""
        try:
            return self._translated(method, call, *args, **kwargs)
        except (Unavailable, StoreError) as exc:
            key = (method, type(exc).__name__)
            with self._lock:
                self.errors[key] = self.errors.get(key, 0) + 1
            raise

    def _translated(self, method: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        import grpc
        from pymilvus.exceptions import MilvusException

        try:
            return call(*args, **kwargs)
        except MilvusException as exc:
            if _is_connection_error(exc):
                log.error("Milvus unreachable during %s: %s", method, _reason(exc))
                raise Unavailable(f"Milvus is unreachable at {self.uri} ({method} failed)") from exc
            log.error("Milvus %s failed: %s", method, _reason(exc))
            raise StoreError(
                f"Milvus refused the {method} (error code {exc.code}); the server log has "
                "the details."
            ) from exc
        except grpc.RpcError as exc:
            code = exc.code() if callable(getattr(exc, "code", None)) else None
            name = str(getattr(code, "name", code))
            log.error("Milvus %s: gRPC %s", method, name)
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise Unavailable(
                    f"Milvus at {self.uri} did not answer the {method} in time ({name})"
                ) from exc
            raise StoreError(f"Milvus {method} failed (gRPC {name})") from exc
        except (ConnectionError, TimeoutError) as exc:
            raise Unavailable(f"Milvus is unreachable at {self.uri}: {exc}") from exc

    def _deadline_s(self, method: str) -> float:
        """Seconds a call may take: reads answer within the connection timeout; writes
        and index work get much longer, but never forever."""
        if method in _SLOW_CALLS:
            return max(1800.0, self._timeout_s)
        if method in _WRITE_CALLS:
            return max(300.0, self._timeout_s)
        return self._timeout_s

    def ping(self) -> str:
        """The server's version; raises ``Unavailable`` if it cannot be reached.
        Milvus Lite 2.5 does not implement the version call (gRPC UNIMPLEMENTED, what
        no Milvus server answers): it is named so, reached by listing collections."""
        if is_embedded_uri(self.uri):
            self._no_version_call = True  # known without asking
        if not self._no_version_call:
            logging.getLogger("pymilvus.decorators").addFilter(_NO_VERSION_CALL_FILTER)
            try:
                return str(self._call("get_server_version"))
            except StoreError as exc:
                if "UNIMPLEMENTED" not in str(exc):
                    raise
                self._no_version_call = True
        self._call("list_collections")
        return LITE_25_VERSION

    def close(self) -> None:
        try:
            self._save_graphs()
        except (FindalikeError, OSError) as exc:  # built again at the next start
            log.warning("could not save the HNSW graphs: %s", exc)
        with self._lock:
            if self._client is not None:
                try:
                    self._client.close()
                finally:
                    self._client = None
                    self._loaded.clear()
                    self._lexical.clear()
                    self._half.clear()
                    if is_embedded_uri(self.uri):
                        _release_lite_server(self.uri)

    # -- collections --------------------------------------------------------------

    def exists(self, name: str) -> bool:
        return bool(self._call("has_collection", name))

    def list_collections(self) -> list[str]:
        return [str(n) for n in self._call("list_collections")]

    def properties(self, name: str) -> dict[str, str]:
        """The collection's record (encoder, dimension, metric, index, language), from
        its properties, or from its description where the engine keeps no properties
        (Milvus Lite 2.5)."""
        desc = self._call("describe_collection", name)
        props = {str(k): str(v) for k, v in (desc.get("properties") or {}).items()}
        described = str(desc.get("description") or "")
        if described.startswith(_RECORD_MARK):
            with contextlib.suppress(ValueError):
                props = {**json.loads(described[len(_RECORD_MARK) :]), **props}
        return {
            k[len(_PROPERTY_PREFIX) :]: str(v)
            for k, v in props.items()
            if k.startswith(_PROPERTY_PREFIX)
        }

    def ensure(self, spec: CollectionSpec) -> None:
        """Create the collection, or check that the existing one was built by the
        same encoder with the same dimension and metric (``Conflict`` if not)."""
        if self.exists(spec.name):
            self._check_compatible(spec)
            self._ensure_loaded(spec.name)
            return
        with self._creating():
            if self.exists(spec.name):  # another worker made it meanwhile
                self._check_compatible(spec)
                self._ensure_loaded(spec.name)
                return
            self._create(spec)
            self._announce_change()

    def _check_compatible(self, spec: CollectionSpec) -> None:
        stored = self.properties(spec.name)
        wanted = {k[len(_PROPERTY_PREFIX) :]: v for k, v in spec.properties().items()}
        diffs = [
            f"{key} is {stored.get(key, '(unknown)')!r}, this server uses {value!r}"
            for key, value in wanted.items()
            if stored.get(key) != value
        ]
        if diffs:
            raise Conflict(
                f"Collection {spec.name!r} was built with different vectors: "
                + "; ".join(diffs)
                + ". Drop it (DELETE /api/{app}) and load again, or use the encoder it was "
                "built with."
            )

    def _create(self, spec: CollectionSpec) -> None:
        lexical = _lexical_spec(spec)
        if lexical is not None:
            try:
                self._create_collection(spec, lexical)
                return
            except StoreError:
                # a Milvus without BM25 and sparse vectors (a 2.3/2.4 server) refuses the
                # schema: make the collection dense-only, and say so once
                log.warning(
                    "Milvus at %s cannot make a full-text (BM25) field; %s is made without "
                    "it (semantic search only)",
                    self.uri,
                    spec.name,
                )
                if self.exists(spec.name):
                    self._call("drop_collection", spec.name)
        self._create_collection(spec, None)

    def _create_collection(self, spec: CollectionSpec, lexical: FieldSpec | None) -> None:
        from pymilvus import DataType, MilvusClient

        half = self._stores_half(spec)
        record = {
            **spec.properties(),
            **_index_record(replace(spec, index_params=()) if half else spec),
            f"{_PROPERTY_PREFIX}language": spec.language,
        }
        schema = MilvusClient.create_schema(
            auto_id=False,
            enable_dynamic_field=False,
            description=_RECORD_MARK + json.dumps(record, sort_keys=True),
        )
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=ID_MAX_LENGTH)
        schema.add_field("item_id", DataType.VARCHAR, max_length=ID_MAX_LENGTH)
        schema.add_field("part", DataType.INT64)
        vector_type = (
            DataType.BINARY_VECTOR
            if spec.vector_kind == "binary"
            else DataType.FLOAT16_VECTOR
            if half
            else DataType.FLOAT_VECTOR
        )
        schema.add_field("vector", vector_type, dim=spec.dim)
        kinds = {
            "str": DataType.VARCHAR,
            "int": DataType.INT64,
            "float": DataType.DOUBLE,
            "bool": DataType.BOOL,
            "json": DataType.JSON,
        }
        for f in spec.fields:
            extra: dict[str, Any] = {"max_length": f.max_length} if f.kind == "str" else {}
            if f is lexical:
                extra["enable_analyzer"] = True
                analyzer = LANGUAGES[spec.language]
                if analyzer is not None:
                    extra["analyzer_params"] = analyzer
            schema.add_field(f.name, kinds[f.kind], **extra)
        index = MilvusClient.prepare_index_params()
        index.add_index(
            field_name="vector",
            index_name="vector",  # named as the field: what ``index_of`` asks for
            # Milvus Lite 2.5 indexes float16 vectors with FLAT only (exact; past
            # ``ann_min_rows`` the HNSW graph beside it answers, as for float32)
            index_type="FLAT" if half else spec.index_type,
            metric_type=spec.metric,
            params={} if half else dict(spec.index_params),
        )
        if lexical is not None:
            _add_bm25(schema, index, lexical.name)
        self._lexical.pop(spec.name, None)
        self._half[spec.name] = half
        self._call(
            "create_collection",
            spec.name,
            schema=schema,
            properties=record,
            consistency_level="Strong",
        )
        # indexes made here, not by create_collection: pymilvus's wait for each index
        # sleeps 0.5 s before it first asks, a second per new text collection (two
        # indexes) for indexes of an empty collection that are ready at once
        self._call("create_index", spec.name, index, sync=False)
        self._wait_for_indexes(spec.name, [p.index_name for p in index])
        self._ensure_loaded(spec.name)
        log.info(
            "created collection %s (%s, %d-d, %s%s)",
            spec.name,
            spec.encoder,
            spec.dim,
            spec.metric,
            f", BM25 on {lexical.name}" if lexical is not None else "",
        )

    def _stores_half(self, spec: CollectionSpec) -> bool:
        """Whether a new collection of ``spec`` stores its vectors as float16."""
        return (
            spec.vector_kind == "float"
            and 0 < self._half_min_dim <= spec.dim
            and self.is_compiled_lite
        )

    def is_half(self, name: str) -> bool:
        """Whether ``name`` stores its vectors as float16 (asked of Milvus once). They
        are written from and read back as float32; scores are computed on the float16
        values."""
        half = self._half.get(name)
        if half is None:
            from pymilvus import DataType

            fields = (self._call("describe_collection", name) or {}).get("fields", [])
            half = any(
                f.get("name") == "vector" and f.get("type") == DataType.FLOAT16_VECTOR
                for f in fields
            )
            self._half[name] = half
        return half

    def _wait_for_indexes(self, name: str, indexes: list[str]) -> None:
        """Wait until Milvus says each of ``indexes`` on ``name`` is built, asking
        after 10 ms, then less and less often (at most every 0.5 s), within the
        index deadline (``Unavailable`` after it). An index Milvus does not find
        (``describe_index`` answers nothing) is asked for again for 10 s, then is a
        ``StoreError``: it was just made, under that name."""
        start = time.monotonic()
        deadline = start + self._deadline_s("create_index")
        pause = 0.01
        for index in indexes:
            while True:
                info = self._call("describe_index", name, index)
                state = "Missing" if not info else str(info.get("state", "Finished"))
                if state == "Finished":
                    break
                if state == "Failed" or (state == "Missing" and time.monotonic() > start + 10):
                    raise StoreError(f"Milvus could not build index {index!r} of {name!r}")
                if time.monotonic() > deadline:
                    raise Unavailable(f"Milvus did not build index {index!r} of {name!r} in time")
                time.sleep(pause)
                pause = min(pause * 2, 0.5)

    def lexical_field(self, name: str) -> str | None:
        """The sparse (BM25) field of collection ``name``, or None if it has none: made
        before full-text search existed, or on a Milvus that cannot (a 2.3 server).
        Read from the collection's schema once per collection and connection."""
        with self._lock:
            if name in self._lexical:
                return self._lexical[name]
        desc = self._call("describe_collection", name)
        found = None
        for fn in desc.get("functions") or []:
            kind = getattr(fn.get("type"), "name", str(fn.get("type")))
            outputs = fn.get("output_field_names") or []
            if kind.upper().endswith("BM25") and outputs:
                found = str(outputs[0])
        if found is None and not desc.get("functions"):
            # Milvus Lite 2.5 lists no functions: the sparse field findalike names
            # ``{text}_bm25`` beside its text field is the one BM25 fills
            fields = {str(f["name"]): f for f in desc.get("fields") or []}
            found = next(
                (
                    n
                    for n, f in fields.items()
                    if n.endswith(BM25_SUFFIX)
                    and _is_sparse(f)
                    and n[: -len(BM25_SUFFIX)] in fields
                ),
                None,
            )
        with self._lock:
            self._lexical[name] = found
        return found

    def _ensure_loaded(self, name: str) -> None:
        self.generation  # noqa: B018  (forgets what another process made stale)
        if name in self._loaded:
            return
        self._load(name)
        self._loaded.add(name)

    def drop(self, name: str) -> bool:
        """Drop a collection; False if there was none."""
        self._loaded.discard(name)
        self._lexical.pop(name, None)
        self._half.pop(name, None)
        if self._graphs is not None:
            self._graphs.forget(name)
        folder = self._graph_folder()
        if folder is not None:
            ann.forget_saved(folder, name)
        if not self.exists(name):
            return False
        self._call("drop_collection", name)
        self._announce_change()
        return True

    # -- rows ---------------------------------------------------------------------

    def upsert(self, name: str, rows: Sequence[dict[str, Any]], *, batch_rows: int = 2000) -> int:
        """Insert or overwrite rows (by ``id``), in batches under gRPC's message limit.

        An id given more than once keeps its last row (on every engine: the Milvus
        server keeps another one when they meet in one request). The rows go in sorted
        by id: Milvus Lite 2.5 looks rows up by id (the graph's hits, a text hit's first
        passage) far faster among rows that went in in id order, and the apps' ids are
        content hashes, in no order: 10 ids among 100k 384-d rows written 256 at a time
        (as a load writes them) took 3.3-3.4 ms to look up with each write sorted,
        7.3-7.6 ms without; among 300k written 2,000 at a time, 12.5-13.2 against
        44-49 ms (one sorted write of all of them: 3.2-3.8 ms)."""
        written = 0
        half = self.is_half(name)
        rows = sorted({str(r["id"]): r for r in rows}.values(), key=lambda r: str(r["id"]))
        graph = self._graphs.held(name) if self._graphs is not None else None
        start_token = self._graph_token(name) if graph is not None else None
        for start in range(0, len(rows), batch_rows):
            batch = [_to_milvus_row(r, half) for r in rows[start : start + batch_rows]]
            self._call("upsert", name, batch)
            written += len(batch)
        if written:
            before, after = self._wrote(name)
            if graph is not None and before == start_token:  # no other write in between
                vectors = np.asarray([r["vector"] for r in rows], dtype=np.float32)
                if half:  # as Milvus holds them
                    vectors = vectors.astype(np.float16).astype(np.float32)
                graph.advance(before, after, upserted=(rows, vectors))
        return written

    def flush(self, name: str) -> None:
        """Seal what was written so searches use the index (Milvus Lite searches
        unflushed rows by brute force, tens of times slower)."""
        self._call("flush", name)

    def search(
        self,
        name: str,
        vectors: np.ndarray,
        *,
        limit: int,
        filter: str = "",
        output_fields: Sequence[str] = (),
        metric: Metric | None = None,
        params: dict[str, int] | None = None,
        exact: bool = False,
    ) -> list[list[Hit]]:
        """Nearest rows per query vector; ``params`` tune the index's search (HNSW's
        ``ef``, IVF's ``nprobe``). A big collection on Milvus Lite 2.5 is searched
        through its HNSW graph (``ann``) unless ``exact``."""
        self._ensure_loaded(name)
        if not exact and self._graphs is not None:
            found = self._graph_search(name, vectors, limit, filter, output_fields, metric, params)
            if found is not None:
                return found
        half = self.is_half(name)
        data = _to_milvus_vectors(vectors, half)
        fetch_vectors = half and "vector" in output_fields
        kwargs: dict[str, Any] = {
            "data": data,
            "anns_field": "vector",  # named: Lite 2.5 asks which, beside a BM25 field
            "limit": limit,
            "output_fields": [
                "item_id",
                *(f for f in output_fields if not fetch_vectors or f != "vector"),
            ],
        }
        if filter:
            kwargs["filter"] = filter
        search_params: dict[str, Any] = {}
        if metric:
            search_params["metric_type"] = metric
        if params:
            search_params["params"] = dict(params)
        if search_params:
            kwargs["search_params"] = search_params
        raw = self._call("search", name, **kwargs)
        found = [
            [
                Hit(
                    id=str(h["id"]),
                    distance=float(h["distance"]),
                    fields=_from_milvus_row(dict(h.get("entity", {})), half),
                )
                for h in hits
            ]
            for hits in raw
        ]
        if fetch_vectors:
            stored = self._stored_vectors(name, [h.id for hits in found for h in hits])
            found = [[h for h in hits if h.id in stored] for hits in found]  # none deleted since
            for hit in (h for hits in found for h in hits):
                hit.fields["vector"] = stored[hit.id]
        return found

    def _vector_output(self, name: str) -> list[str]:
        """``["vector"]``, what a search asks back to score its hits, or nothing for a
        float16 collection: Milvus Lite 2.5's search fails when asked for float16
        vectors (its query does not), so those are read by ``_stored_vectors``."""
        return [] if self.is_half(name) else ["vector"]

    def _stored_vectors(self, name: str, ids: Sequence[str]) -> dict[str, Any]:
        """The stored vectors of rows ``ids`` (as floats), by id, in one query."""
        unique = list(dict.fromkeys(ids))
        if not unique:
            return {}
        rows = self.query(name, filter=in_filter("id", unique), output_fields=["vector"])
        return {str(r["id"]): r["vector"] for r in rows}

    # -- HNSW graphs beside Milvus Lite 2.5 ---------------------------------------

    def _graph_token(self, name: str) -> tuple[int, tuple[int, int] | None]:
        """What a graph of ``name`` must have been built at to be fresh: this process's
        writes to it and the marker every process sharing ``shared_dir`` touches."""
        return (self._writes.get(name, 0), self._marker(name))

    @property
    def graph_searches(self) -> int:
        """Query vectors answered through a graph since the start."""
        return 0 if self._graphs is None else self._graphs.answered

    def _fresh_graph(self, name: str) -> ann.Graph | None:
        """``name``'s graph if it holds the collection as it is now."""
        graph = None if self._graphs is None else self._graphs.held(name)
        if graph is None or graph.generation != self.generation:
            return None  # (most collections have none: no token, no stat of the marker)
        return graph if graph.token == self._graph_token(name) else None

    def _graph_fresh(self, name: str) -> bool:
        return (
            self._graphs is not None
            and self._graphs.fresh(name, self._graph_token(name)) is not None
            and self.is_compiled_lite
        )

    def _graph_search(
        self,
        name: str,
        vectors: np.ndarray,
        limit: int,
        filter: str,
        output_fields: Sequence[str],
        metric: Metric | None,
        params: dict[str, int] | None,
    ) -> list[list[Hit]] | None:
        """The hits through ``name``'s graph, or None where Milvus must answer: no fresh
        graph (one is then built in the background if the collection is big enough),
        too many rows asked for, or fewer candidates passing ``filter`` than asked."""
        graphs = self._graphs
        if graphs is None or limit > ann.MAX_LIMIT or not self.is_compiled_lite:
            return None
        token = self._graph_token(name)
        graph = graphs.fresh(name, token)
        if graph is None:
            self._maybe_build(name, token)
            return None
        if graph.generation != self.generation:  # a collection was made or dropped
            if not self.exists(name) or self._count(name, "") != graph.rows:
                graphs.forget(name)
                return None
            graph.generation = self.generation
        if metric is not None and metric != graph.metric:
            return None
        if graph.exact and (filter or not graph.keeps(output_fields)):
            return None  # Milvus answers exactly too, in one call
        want = limit if not filter else max(limit * ann.FILTER_CANDIDATES, ann.MIN_CANDIDATES)
        if min(want, graph.rows) * len(vectors) > ann.MAX_CANDIDATES:
            return None  # too many ids to look up in one expression: Milvus answers
        ef = int((params or {}).get("ef", graphs.ef))
        found = graph.nearest(vectors, min(want, graph.rows), ef)
        ids = sorted({i for pairs in found for i, _ in pairs})
        if not ids:
            return None
        by_id: dict[str, dict[str, Any]] = {}
        if not filter and graph.keeps(output_fields):  # no row to look up in Milvus
            wanted = ["item_id", *output_fields]
            by_id = {i: {f: row[f] for f in wanted} for i, row in graph.stored_rows(ids).items()}
            graphs.rows_kept += len(by_id)
        missing = [i for i in ids if i not in by_id]
        if missing:
            rows = self.query(
                name,
                filter=in_filter("id", missing) + (f" and ({filter})" if filter else ""),
                output_fields=["id", "item_id", *output_fields],
            )
            by_id |= {str(r.pop("id")): r for r in rows}
        out = []
        for pairs in found:
            hits = [Hit(id=i, distance=d, fields=dict(by_id[i])) for i, d in pairs if i in by_id]
            if len(hits) < min(limit, graph.rows):
                return None  # the filter passed too few: Milvus looks at every row
            out.append(hits[:limit])
        graphs.answered += len(out)
        return out

    def _maybe_build(self, name: str, token: Any) -> None:
        """Build ``name``'s graph in the background if it holds at least ``min_rows``
        float vectors in a metric the graph knows and had no write for ``quiet_s``."""
        graphs = self._graphs
        if graphs is None or graphs.building(name) or self._graph_small.get(name) == token:
            return
        marker = self._marker(name)
        last = max(self._write_at.get(name, 0.0), marker[1] / 1e9 if marker else 0.0)
        if time.time() - last < graphs.quiet_s:
            return
        props = self.properties(name)
        metric = props.get("metric", "")
        plan = None
        if props.get("vector_kind") == "float" and ann.supports(metric):
            plan = graphs.plan(self._count(name, ""), int(props["dim"]))
        if plan is None:
            self._graph_small[name] = token
            graphs.forget(name)  # a stale one that no longer fits: its memory back
            return
        flat, flat_max_rows = plan
        generation = self.generation
        folder = self._graph_folder()

        def make() -> ann.Graph | None:
            def changed() -> bool:
                return bool(self._graph_token(name) != token)

            stamp = self._graph_stamp(name)
            if folder is not None and stamp is not None and not flat:
                kept = ann.restore(folder, name, stamp, token=token, generation=generation)
                if kept is not None and not changed():
                    return kept
            fields, floats = self._row_fields(name)
            graph = ann.build(
                metric,  # type: ignore[arg-type]
                int(props["dim"]),
                self._vector_pages(name, fields),
                token=token,
                generation=generation,
                connectivity=graphs.connectivity,
                expansion_add=graphs.expansion_add,
                threads=graphs.build_threads,
                cancelled=changed,
                fields=fields,
                floats=floats,
                flat_max_rows=flat_max_rows,
            )
            if graph is None and flat and not changed():
                self._graph_small[name] = token  # a copy of no use (see ``ann.build``)
            if graph is None or changed() or self._count(name, "") != graph.rows:
                return None  # written meanwhile: built again once it is quiet
            if folder is not None and stamp is not None and not flat:  # a copy: cheap to make
                ann.save(graph, folder, name, stamp)
                graph.saved = token
            return graph

        graphs.start_build(name, make)

    def _graph_folder(self) -> Path | None:
        return None if self._shared_dir is None else self._shared_dir / GRAPHS_DIR

    def _graph_stamp(self, name: str) -> list[int] | None:
        """What ``name`` must still be for a graph saved now to be used after a restart:
        the write marker (kept across restarts, moved by every write of every process)
        and the row count; None where there is no marker (nothing to tell by)."""
        marker = self._marker(name)
        return None if marker is None else [*marker, self._count(name, "")]

    def _save_graphs(self) -> None:
        """Save the graphs this process kept up to date since they were last saved."""
        folder = self._graph_folder()
        if self._graphs is None or folder is None or self._client is None:
            return
        for name, graph in self._graphs.all().items():
            token = self._graph_token(name)
            if graph.exact or graph.token != token or graph.saved == token:
                continue
            stamp = self._graph_stamp(name)
            if stamp is not None and stamp[-1] == graph.rows:
                ann.save(graph, folder, name, stamp)
                graph.saved = token

    def _row_fields(self, name: str) -> tuple[list[str], frozenset[str]]:
        """The fields of ``name``'s rows a graph keeps (every one but the id, vector and
        BM25 field), and those of them Milvus returns as floats."""
        from pymilvus import DataType

        described = (self._call("describe_collection", name) or {}).get("fields", [])
        fields = [f for f in described if f["name"] not in ("id", "vector") and not _is_sparse(f)]
        floats = frozenset(
            f["name"] for f in fields if f.get("type") in (DataType.DOUBLE, DataType.FLOAT)
        )
        return [f["name"] for f in fields], floats

    def _vector_pages(
        self, name: str, fields: Sequence[str] = ()
    ) -> Iterator[list[dict[str, Any]]]:
        """Every row's id, vector and ``fields``, in small pages: Milvus Lite 2.5
        returns vectors in time that grows with the square of a page's rows (1,000 rows
        0.24 s, 2,000 1.1 s; 100 rows 5 ms), while ids alone come at ~40,000 rows/s."""
        ids = [
            str(r["id"])
            for page in self.iter_rows(name, output_fields=[], batch_rows=MAX_RESULT_ROWS)
            for r in page
        ]
        for start in range(0, len(ids), ann.BUILD_PAGE_ROWS):
            chunk = ids[start : start + ann.BUILD_PAGE_ROWS]
            yield self.query(
                name, filter=in_filter("id", chunk), output_fields=["id", "vector", *fields]
            )

    def lexical_search(
        self, name: str, text: str, query_vector: np.ndarray, **options: Any
    ) -> list[Hit]:
        """Rows ranked by BM25 of ``text`` against the collection's lexical field (see
        ``FieldSpec.lexical``); rows sharing no word with ``text`` are not returned.
        Each hit's ``distance`` is the dense ``metric`` of its vector against
        ``query_vector`` and ``rank_score`` its BM25 score (>= 0). ``options``: those of
        ``lexical_searches`` (``limit``, ``metric``, ``filter``, ``output_fields``).
        ``StoreError`` if the collection has no lexical field (check ``lexical_field``
        first)."""
        vectors = np.asarray(query_vector)[None, :]
        return self.lexical_searches(name, [text], vectors, **options)[0]

    def lexical_searches(
        self,
        name: str,
        texts: Sequence[str],
        query_vectors: np.ndarray,
        *,
        limit: int,
        metric: Metric,
        filter: str = "",
        output_fields: Sequence[str] = (),
    ) -> list[list[Hit]]:
        """``lexical_search`` for several texts (each with its query vector) in one
        request: a list of hits per text."""
        sparse = self._require_lexical(name)
        if self._empty(name):
            return [[] for _ in texts]
        raw = self._call(
            "search",
            name,
            data=list(texts),
            anns_field=sparse,
            limit=limit,
            search_params={"metric_type": "BM25"},
            output_fields=["item_id", *self._vector_output(name), *output_fields],
            **({"filter": filter} if filter else {}),
        )
        # Milvus Lite returns BM25 scores negated (as distances); a server positive
        return [
            self._rescored(name, hits, q, metric, lambda d: abs(d))
            for hits, q in zip(raw, query_vectors, strict=True)
        ]

    def hybrid_search(
        self, name: str, text: str, query_vector: np.ndarray, **options: Any
    ) -> list[Hit]:
        """Dense (``query_vector``) and lexical (BM25 of ``text``) candidates fused by
        Milvus: reciprocal rank fusion (k = ``RRF_K``) by default, or, given
        ``lexical_weight`` w in [0, 1], a weighted sum of the normalised scores
        (dense x (1 - w) + BM25 x w; Milvus maps cosine to (1 + cos) / 2 and BM25 to
        2/pi arctan). ``distance`` is the dense ``metric`` of each hit (as in
        ``lexical_search``), ``rank_score`` the fused score. ``options``: those of
        ``hybrid_searches`` (``limit``, ``metric``, ``lexical_weight``, ``filter``,
        ``output_fields``, and ``params`` that tune the dense leg's index search as in
        ``search``). ``StoreError`` if the collection has no lexical field."""
        vectors = np.asarray(query_vector)[None, :]
        return self.hybrid_searches(name, [text], vectors, **options)[0]

    def hybrid_searches(
        self,
        name: str,
        texts: Sequence[str],
        query_vectors: np.ndarray,
        *,
        limit: int,
        metric: Metric,
        lexical_weight: float | None = None,
        filter: str = "",
        output_fields: Sequence[str] = (),
        params: dict[str, int] | None = None,
    ) -> list[list[Hit]]:
        """``hybrid_search`` for several texts (each with its query vector) in one
        request: a list of hits per text."""
        from pymilvus import AnnSearchRequest, RRFRanker, WeightedRanker

        if lexical_weight is not None and not 0.0 <= lexical_weight <= 1.0:
            raise ValueError(f"lexical_weight must be in [0, 1], got {lexical_weight}")
        sparse = self._require_lexical(name)
        if self._empty(name):
            return [[] for _ in texts]
        query_vectors = np.asarray(query_vectors)
        graph = self._graphs.held(name) if self._graphs is not None else None
        through_graph = graph is not None and not graph.exact and self._graph_fresh(name)
        if (lexical_weight is None and through_graph) or (
            lexical_weight is not None and self.is_compiled_lite
        ):  # the dense leg through the graph, or Lite 2.5's weighting: fused here
            # (not through an exact copy: Lite's own hybrid search is exact too, one call)
            return self._fused_here(
                name,
                texts,
                query_vectors,
                limit,
                metric,
                lexical_weight,
                filter,
                output_fields,
                params,
            )
        expr = {"expr": filter} if filter else {}
        dense_param: dict[str, Any] = {"metric_type": metric}
        if params:
            dense_param["params"] = dict(params)
        dense = AnnSearchRequest(
            data=_to_milvus_vectors(query_vectors, self.is_half(name)),
            anns_field="vector",
            param=dense_param,
            limit=limit,
            **expr,
        )
        lexical = AnnSearchRequest(
            data=list(texts),
            anns_field=sparse,
            param={"metric_type": "BM25"},
            limit=limit,
            **expr,
        )
        ranker: Any = (
            RRFRanker(RRF_K)
            if lexical_weight is None
            else WeightedRanker(1.0 - lexical_weight, lexical_weight, norm_score=True)
        )
        raw = self._call(
            "hybrid_search",
            name,
            [dense, lexical],
            ranker=ranker,
            limit=limit,
            output_fields=["item_id", *self._vector_output(name), *output_fields],
        )
        return [
            self._rescored(name, hits, q, metric, float)
            for hits, q in zip(raw, query_vectors, strict=True)
        ]

    def _fused_here(
        self,
        name: str,
        texts: Sequence[str],
        query_vectors: np.ndarray,
        limit: int,
        metric: Metric,
        lexical_weight: float | None,
        filter: str,
        output_fields: Sequence[str],
        params: dict[str, int] | None,
    ) -> list[list[Hit]]:
        """The fusion Milvus does, done here. With ``lexical_weight``, the weighted sum
        (each list's scores normalised: cosine to (1 + cos) / 2, BM25 to 2/pi arctan; a
        row missing from a list scores 0 there): Milvus Lite 2.5's WeightedRanker ranks
        BM25 backwards (it takes its negated scores as distances). Without, reciprocal
        rank fusion (k = ``RRF_K``), so that the dense leg can go through the graph."""
        denses = self.search(
            name,
            query_vectors,
            limit=limit,
            filter=filter,
            output_fields=output_fields,
            params=params,
        )
        lexicals = self.lexical_searches(
            name,
            texts,
            query_vectors,
            limit=limit,
            metric=metric,
            filter=filter,
            output_fields=output_fields,
        )
        return [
            _fused(dense, lexical, metric, lexical_weight, limit)
            for dense, lexical in zip(denses, lexicals, strict=True)
        ]

    def _empty(self, name: str) -> bool:
        """No rows: Milvus Lite 2.5 refuses a BM25 search there (its average document
        length is 0, and the query's weights NaN), where others answer nothing."""
        return self.count(name, cached=True) == 0

    def _require_lexical(self, name: str) -> str:
        self._ensure_loaded(name)
        sparse = self.lexical_field(name)
        if sparse is None:
            raise StoreError(f"Collection {name!r} has no full-text (BM25) field.")
        return sparse

    def _rescored(
        self, name: str, raw: Sequence[Any], query_vector: np.ndarray, metric: Metric, rank: Any
    ) -> list[Hit]:
        hits = []
        half = self.is_half(name)
        stored = self._stored_vectors(name, [str(h["id"]) for h in raw]) if half else {}
        for h in raw:
            if half and str(h["id"]) not in stored:
                continue  # deleted between the search and the read
            entity = _from_milvus_row(dict(h.get("entity", {})), half)
            vector = stored[str(h["id"])] if half else entity.pop("vector")
            hits.append(
                Hit(
                    id=str(h["id"]),
                    distance=_dense_similarity(metric, query_vector, vector),
                    fields=entity,
                    rank_score=float(rank(float(h["distance"]))),
                )
            )
        return hits

    def query(
        self,
        name: str,
        *,
        filter: str,
        output_fields: Sequence[str] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        self._ensure_loaded(name)
        kwargs: dict[str, Any] = {"filter": filter, "output_fields": list(output_fields)}
        if limit is not None:
            kwargs["limit"] = limit
            kwargs["offset"] = offset
        rows = self._call("query", name, **kwargs)
        half = self.is_half(name)
        return [_from_milvus_row(dict(r), half) for r in rows]

    def count(self, name: str, *, filter: str = "", cached: bool = False) -> int:
        """Rows of ``name`` (matching ``filter``). ``cached``: a filtered count is kept
        until the collection changes (a write by this process, by another process
        sharing ``shared_dir``, a different total of rows) or ``COUNT_CACHE_S`` passes.
        Milvus Lite evaluates a filter row by row in Python (about 1 s per 10k rows
        here), while the total is a fast path (~15 ms); concurrent callers of the same
        count wait for one computation."""
        self._ensure_loaded(name)
        if not (cached and filter):
            return self._count(name, filter)
        with self._lock:
            lock = self._count_locks.setdefault((name, filter), threading.Lock())
        with lock:
            total = self._count(name, "")
            key = (*self._state(name), total)
            known = self._counts.get((name, filter))
            if known and known[0] == key and time.monotonic() - known[2] < COUNT_CACHE_S:
                return known[1]
            n = self._count(name, filter)
            self._counts[(name, filter)] = (key, n, time.monotonic())
            return n

    def rows_by_id(
        self, name: str, ids: Sequence[str], output_fields: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """The rows ``ids`` (those that exist) with ``output_fields``, by id, each read
        from Milvus once and then kept in memory while the collection does not change,
        as counts are (``count(cached=True)``: no write by this process or another
        sharing ``shared_dir``, at most ``COUNT_CACHE_S``), at most ``KEPT_ROWS`` a
        collection and field list, the least recently used dropped first. For the rows a
        search shows beside its hits (a text hit's first passage, an image's name): a
        second store call on most searches otherwise, and on Milvus Lite 2.5 a lookup
        by id costs 1.2-4 ms however few rows it finds. Measured on 1,219 titled stdlib
        docstrings (wrk, 400 queries, runs alternated): 16 connections 257-270 against
        232-236 req/s, one connection p50 8.5-8.7 against 10.1 ms; Lite's CPU a request
        0.6-0.7 against 1.2 ms. A collection whose shown rows seldom repeat within a
        minute gains nothing (one lookup, as before)."""
        fields = tuple(output_fields)
        key = self._state(name)
        with self._lock:
            kept = self._kept_rows.get((name, fields))
            if kept is None or kept.key != key or time.monotonic() - kept.since > COUNT_CACHE_S:
                kept = self._kept_rows[(name, fields)] = _KeptRows(key, time.monotonic())
            out = {i: dict(kept.rows[i]) for i in ids if i in kept.rows}
            for i in out:
                kept.rows.move_to_end(i)
            self.kept_rows_hits += len(out)
        missing = [i for i in dict.fromkeys(ids) if i not in out]
        graph = self._fresh_graph(name) if missing else None
        if graph is not None and graph.keeps(fields):  # a big collection's graph has them
            held = graph.stored_rows(missing)
            out |= {i: {f: row[f] for f in fields} for i, row in held.items()}
            self._graphs.rows_kept += len(held)  # type: ignore[union-attr]
            missing = [i for i in missing if i not in held]
        if not missing:
            return out
        rows = self.query(name, filter=in_filter("id", missing), output_fields=["id", *fields])
        with self._lock:
            for row in rows:
                rid = str(row.pop("id"))
                out[rid] = dict(row)
                if rid not in kept.rows:
                    kept.rows[rid] = row
                    kept.chars += _chars(row)
            while len(kept.rows) > KEPT_ROWS or kept.chars > KEPT_CHARS:
                kept.chars -= _chars(kept.rows.popitem(last=False)[1])
        return out

    def _state(self, name: str) -> tuple[Any, ...]:
        """What moves when ``name`` may have changed: collections made or dropped, this
        process's writes to it, and the marker every process sharing ``shared_dir``
        touches after its writes (other machines' writes move none of these)."""
        return (self.generation, self._writes.get(name, 0), self._marker(name))

    def _count(self, name: str, filter: str) -> int:
        rows = self._call("query", name, filter=filter, output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def _wrote(self, name: str) -> tuple[Any, Any]:
        """Note a write to ``name``, for this process and those sharing ``shared_dir``;
        returns the graph tokens (``_graph_token``) just before and after it."""
        with self._lock:
            before = self._graph_token(name)
            self._writes[name] = self._writes.get(name, 0) + 1
            self._write_at[name] = time.time()
            if self._shared_dir is not None:
                folder = self._shared_dir / WRITES_DIR
                folder.mkdir(parents=True, exist_ok=True)
                tmp = folder / f".{name}.{uuid.uuid4().hex}"
                tmp.write_text("")
                os.replace(tmp, folder / name)  # a new inode: every reader sees the change
            return before, self._graph_token(name)

    def _marker(self, name: str) -> tuple[int, int] | None:
        if self._shared_dir is None:
            return None
        try:
            st = os.stat(self._shared_dir / WRITES_DIR / name)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def delete(self, name: str, *, filter: str) -> int:
        """Delete the rows matching ``filter``; returns how many were deleted."""
        self._ensure_loaded(name)
        graph = self._graphs.held(name) if self._graphs is not None else None
        start_token = self._graph_token(name) if graph is not None else None
        matching = self.count(name, filter=filter)
        if matching:
            ids: list[str] = []
            if graph is not None:
                if matching < MAX_RESULT_ROWS:
                    rows = self.query(name, filter=filter, output_fields=["id"])
                    ids = [str(r["id"]) for r in rows]
                if len(ids) != matching:  # too many to name: built again
                    self._graphs.forget(name)  # type: ignore[union-attr]
                    graph = None
            self._call("delete", name, filter=filter)
            before, after = self._wrote(name)
            if graph is not None and before == start_token:  # else stale: built again
                graph.advance(before, after, deleted=ids)
        return matching

    def require(self, name: str) -> None:
        if not self.exists(name):
            raise NotFound(f"Nothing has been loaded into {name!r} yet.")

    # -- backups ------------------------------------------------------------------

    def describe(self, name: str) -> CollectionSpec:
        """The spec ``name`` was created with, read back from Milvus: the encoder
        record from its properties, the scalar fields from its schema, the index type
        from its vector index. ``NotFound`` if there is no such collection;
        ``StoreError`` if it was not made by findalike (no encoder record, or a field
        type findalike does not create)."""
        self.require(name)
        desc = self._call("describe_collection", name)
        props = self.properties(name)
        missing = [k for k in ("encoder", "dim", "metric", "vector_kind") if k not in props]
        if missing:
            raise StoreError(
                f"Collection {name!r} has no findalike encoder record "
                f"({', '.join(missing)} missing); it was not made by findalike."
            )
        index = self._call("describe_index", name, "vector") or {}
        return CollectionSpec(
            name=name,
            dim=int(props["dim"]),
            vector_kind=_vector_kind(props["vector_kind"]),
            metric=props["metric"],  # type: ignore[arg-type]
            encoder=props["encoder"],
            fields=tuple(
                _field_spec(name, f)
                for f in desc.get("fields", [])
                if f["name"] not in SKELETON_FIELDS and not _is_sparse(f)
            ),
            index_type=str(index.get("index_type") or "AUTOINDEX"),
            index_params=tuple(sorted(self.index_of(name)["params"].items())),
            language=_language(props.get("language", "en")),
        )

    def index_of(self, name: str) -> dict[str, Any]:
        """The vector index ``name`` was built with: ``{"type", "params"}`` (the build
        parameters as findalike recorded them at creation; none for older ones)."""
        index = self._call("describe_index", name, "vector") or {}
        recorded = self.properties(name).get("index_params")
        params = {str(k): int(v) for k, v in json.loads(recorded).items()} if recorded else {}
        return {"type": str(index.get("index_type") or "AUTOINDEX"), "params": params}

    def iter_rows(
        self, name: str, *, output_fields: Sequence[str], batch_rows: int = 1000
    ) -> Iterator[list[dict[str, Any]]]:
        """Every row of ``name`` in pages of at most ``batch_rows``, through Milvus's
        query iterator (the same on Milvus Lite and a server, and not capped at
        16,384 rows as offsets are). Paging by ``id > last`` with a limit is NOT a
        substitute: a limited query returns *some* matching rows, not the lowest
        ids (on Milvus Lite it read 1,302 of 5,300 rows). Vectors come back as lists
        of floats, or as ``bytes`` for binary vectors. Rows written while this runs
        may or may not be seen: callers that need a snapshot compare counts."""
        if not 1 <= batch_rows <= MAX_RESULT_ROWS:
            raise ValueError(f"batch_rows must be in [1, {MAX_RESULT_ROWS}], got {batch_rows}")
        self._ensure_loaded(name)
        fields = list(dict.fromkeys(["id", *output_fields]))
        logging.getLogger("pymilvus.client.iterator.query_iterator").addFilter(_LITE_TS_FILTER)
        iterator = self._call(
            "query_iterator", name, batch_size=batch_rows, filter="", output_fields=fields
        )
        half = self.is_half(name)
        try:
            while True:
                page = self._guard("query_iterator", iterator.next)
                if not page:
                    return
                yield [_from_milvus_row(dict(r), half) for r in page]
        finally:
            iterator.close()


_LITE_CLIENTS: dict[str, int] = {}
_LITE_CLIENTS_LOCK = threading.Lock()


def _opened_lite_server(uri: str) -> None:
    with _LITE_CLIENTS_LOCK:
        key = str(Path(uri).expanduser().resolve())
        _LITE_CLIENTS[key] = _LITE_CLIENTS.get(key, 0) + 1


def _release_lite_server(uri: str) -> None:
    """Stop the Milvus Lite 2.5 server pymilvus started for ``uri`` once the last client
    of this process has closed (pymilvus keeps one per file until the process ends,
    holding the file's lock: no other process could open it)."""
    from milvus_lite.server_manager import server_manager_instance

    with _LITE_CLIENTS_LOCK:
        key = str(Path(uri).expanduser().resolve())
        left = _LITE_CLIENTS.get(key, 1) - 1
        if left > 0:
            _LITE_CLIENTS[key] = left
            return
        _LITE_CLIENTS.pop(key, None)
        server_manager_instance.release_server(key)


def _to_milvus_vectors(vectors: np.ndarray, half: bool = False) -> list[Any]:
    arr = np.asarray(vectors)
    if arr.dtype == np.uint8:
        return [row.tobytes() for row in arr]
    if half:
        return list(arr.astype(np.float16))
    return arr.astype(np.float32).tolist()  # type: ignore[no-any-return]


def _to_milvus_row(row: dict[str, Any], half: bool = False) -> dict[str, Any]:
    out = dict(row)
    vec = out.get("vector")
    if half and vec is not None:
        out["vector"] = np.asarray(vec, dtype=np.float16)
    elif isinstance(vec, np.ndarray):
        out["vector"] = vec.tobytes() if vec.dtype == np.uint8 else vec.astype(np.float32).tolist()
    return out


def _from_milvus_row(row: dict[str, Any], half: bool = False) -> dict[str, Any]:
    """A row as Milvus returned it, its vector as callers read it: a list of floats
    (float32 and float16 collections alike), or ``bytes`` for binary vectors."""
    vec = row.get("vector")
    if isinstance(vec, list) and vec and isinstance(vec[0], bytes):
        vec = row["vector"] = vec[0]
    if half and isinstance(vec, bytes):
        row["vector"] = np.frombuffer(vec, dtype=np.float16).astype(np.float32).tolist()
    return row


SKELETON_FIELDS = frozenset({"id", "item_id", "part", "vector"})
FIELD_KINDS: dict[str, FieldKind] = {
    "VARCHAR": "str",
    "INT64": "int",
    "DOUBLE": "float",
    "BOOL": "bool",
    "JSON": "json",
}


def _field_spec(collection: str, described: dict[str, Any]) -> FieldSpec:
    """A scalar field of ``describe_collection`` as the ``FieldSpec`` that made it."""
    type_name = getattr(described["type"], "name", str(described["type"]))
    kind = FIELD_KINDS.get(type_name)
    if kind is None:
        raise StoreError(
            f"Collection {collection!r} has a field {described['name']!r} of "
            f"type {type_name}, which findalike does not create."
        )
    if kind == "str":
        params = described.get("params") or {}
        lexical = str(params.get("enable_analyzer", "")).lower() == "true"
        return FieldSpec(described["name"], kind, int(params["max_length"]), lexical=lexical)
    return FieldSpec(described["name"], kind)


def _is_sparse(described: dict[str, Any]) -> bool:
    """A BM25 output field: made from a text field, never written or read as a row."""
    return "SPARSE" in str(getattr(described["type"], "name", described["type"]))


def _lexical_spec(spec: CollectionSpec) -> FieldSpec | None:
    wanted = [f for f in spec.fields if f.lexical]
    if len(wanted) > 1:
        raise ValueError(f"{spec.name}: at most one lexical field, got {[f.name for f in wanted]}")
    if wanted and (wanted[0].kind != "str" or spec.vector_kind != "float"):
        raise ValueError(f"{spec.name}: a lexical field is a str field beside float vectors")
    return wanted[0] if wanted else None


def _index_record(spec: CollectionSpec) -> dict[str, str]:
    """The index build parameters as a collection property (Milvus Lite's
    ``describe_index`` does not give them back); not part of the compatibility check."""
    return {f"{_PROPERTY_PREFIX}index_params": json.dumps(dict(spec.index_params))}


def _add_bm25(schema: Any, index: Any, text_field: str) -> None:
    """A sparse field ``{text_field}_bm25`` that Milvus fills with BM25 term weights of
    ``text_field`` (analysed as the field says: ``LANGUAGES``) at every insert."""
    from pymilvus import DataType, Function, FunctionType

    sparse = f"{text_field}{BM25_SUFFIX}"
    schema.add_field(sparse, DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        Function(
            name=f"{sparse}_fn",
            function_type=FunctionType.BM25,
            input_field_names=[text_field],
            output_field_names=[sparse],
        )
    )
    index.add_index(
        field_name=sparse, index_name=sparse, index_type="SPARSE_INVERTED_INDEX", metric_type="BM25"
    )


def _fused(
    dense: Sequence[Hit],
    lexical: Sequence[Hit],
    metric: Metric,
    lexical_weight: float | None,
    limit: int,
) -> list[Hit]:
    """One query's dense and lexical hits fused (``VectorStore._fused_here``)."""
    fused: dict[str, Hit] = {}
    for rank, h in enumerate(dense, 1):
        score = similarity(metric, h.distance)
        fused[h.id] = Hit(
            id=h.id,
            distance=score,
            fields=h.fields,
            rank_score=1.0 / (RRF_K + rank)
            if lexical_weight is None
            else (1.0 - lexical_weight) * _normalised(metric, score),
        )
    for rank, h in enumerate(lexical, 1):
        bm25 = (
            1.0 / (RRF_K + rank)
            if lexical_weight is None
            else lexical_weight * 2.0 / math.pi * math.atan(h.rank_score or 0.0)
        )
        if h.id in fused:
            fused[h.id].rank_score = (fused[h.id].rank_score or 0.0) + bm25
        else:
            fused[h.id] = Hit(id=h.id, distance=h.distance, fields=h.fields, rank_score=bm25)
    return sorted(fused.values(), key=lambda h: -(h.rank_score or 0.0))[:limit]


def _normalised(metric: Metric, score: float) -> float:
    """A dense similarity mapped to [0, 1] as Milvus's WeightedRanker maps it."""
    if metric == "COSINE":
        return (1.0 + score) / 2.0
    return 0.5 + math.atan(score) / math.pi


@dataclass
class _KeptRows:
    """Rows ``rows_by_id`` read, valid while the collection's state is ``key``."""

    key: tuple[Any, ...]
    since: float
    rows: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    chars: int = 0


def _chars(row: dict[str, Any]) -> int:
    return sum(len(v) for v in row.values() if isinstance(v, str))


def _dense_similarity(metric: Metric, query: np.ndarray, vector: Any) -> float:
    """The dense metric's similarity of a returned row vector to the query, as Milvus
    computes it for COSINE / IP."""
    v = np.asarray(vector, dtype=np.float32)
    q = np.asarray(query, dtype=np.float32)
    dot = float(q @ v)
    if metric == "COSINE":
        norms = float(np.linalg.norm(q) * np.linalg.norm(v))
        return dot / norms if norms > 0 else 0.0
    return dot


def _language(value: str) -> Language:
    """A recorded language (``en`` for collections made before languages were)."""
    if value == "zh":
        return "zh"
    return "multi" if value == "multi" else "en"


def _vector_kind(value: str) -> VectorKind:
    if value not in ("float", "binary"):
        raise StoreError(f"unknown vector kind {value!r} in a collection's encoder record")
    return "binary" if value == "binary" else "float"


def _is_connection_error(exc: Exception) -> bool:
    """Whether a pymilvus error means Milvus cannot be reached (by type and code)."""
    from pymilvus.exceptions import (
        ConnectError,
        ConnectionNotExistException,
        MilvusUnavailableException,
    )

    if isinstance(exc, ConnectError | ConnectionNotExistException | MilvusUnavailableException):
        return True
    return getattr(exc, "code", None) == _CONNECT_FAILED_CODE or bool(
        getattr(exc, "retriable", False)
    )


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "message", None) or exc)[:500]
