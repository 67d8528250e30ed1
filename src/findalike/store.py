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

import logging
import math
import threading
import time
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from findalike.encoders.base import Metric, VectorKind
from findalike.errors import Conflict, FindalikeError, NotFound, Unavailable, Unprocessable

log = logging.getLogger(__name__)

FieldKind = Literal["str", "int", "float", "bool", "json"]
ID_MAX_LENGTH = 160
_PROPERTY_PREFIX = "findalike."
_CONNECT_FAILED_CODE = 2
"""pymilvus's code for "Fail connecting to server" (no server, or no answer in time)."""
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
class FieldSpec:
    """A scalar field. ``max_length`` is in bytes (UTF-8) for ``str`` fields."""

    name: str
    kind: FieldKind
    max_length: int = 1024


@dataclass(frozen=True)
class CollectionSpec:
    name: str
    dim: int
    vector_kind: VectorKind
    metric: Metric
    encoder: str
    fields: tuple[FieldSpec, ...] = ()
    index_type: str = "AUTOINDEX"

    def properties(self) -> dict[str, str]:
        return {
            f"{_PROPERTY_PREFIX}encoder": self.encoder,
            f"{_PROPERTY_PREFIX}dim": str(self.dim),
            f"{_PROPERTY_PREFIX}metric": self.metric,
            f"{_PROPERTY_PREFIX}vector_kind": self.vector_kind,
        }


@dataclass
class Hit:
    """One search result row. ``distance`` is Milvus's raw value for the metric
    (a similarity for COSINE/IP, a distance for L2/JACCARD/HAMMING)."""

    id: str
    distance: float
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def item_id(self) -> str:
        return str(self.fields.get("item_id", self.id.rsplit(":", 1)[0]))


def similarity(metric: Metric, distance: float) -> float:
    """Milvus's raw distance turned into "higher is more similar"."""
    if metric in ("COSINE", "IP"):
        return float(distance)
    if metric == "JACCARD":
        return 1.0 - float(distance)
    return -float(distance)


_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote(value: str | int | float | bool) -> str:
    """A literal for a Milvus boolean expression, so user input cannot change the
    expression. Strings are double-quoted with backslash escapes for ``\\``, ``"``,
    newline, carriage return and tab, the escapes that Milvus Lite and the Milvus
    server both read; other control characters and lone surrogates have no escape
    that both read, and non-finite numbers no literal: each raises ``Unprocessable``
    (a 422 naming the character) rather than reaching Milvus."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Unprocessable(f"{value} is not a number a filter can compare with")
        return repr(value)
    text = str(value)
    for ch in text:
        if ch not in _STRING_ESCAPES and unicodedata.category(ch) in ("Cc", "Cs"):
            raise Unprocessable(
                f"filter values may not contain the control character U+{ord(ch):04X}"
            )
    return '"' + "".join(_STRING_ESCAPES.get(ch, ch) for ch in text) + '"'


def in_filter(field_name: str, values: Iterable[str]) -> str:
    return f"{field_name} in [{', '.join(quote(v) for v in values)}]"


class VectorStore:
    """A thin, typed face over ``MilvusClient``. Connects lazily, so a server that
    starts while Milvus is down answers 503 instead of crashing at start-up."""

    def __init__(
        self,
        uri: str,
        *,
        token: str = "",
        db_name: str = "",
        timeout_s: float = 10.0,
        retry_after_s: float | None = None,
    ):
        self.uri = uri
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

    @property
    def is_lite(self) -> bool:
        return not self.uri.startswith(("http://", "https://", "tcp://", "grpc://"))

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

        if self.is_lite:
            Path(self.uri).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
            logging.getLogger("grpc._server").addFilter(_LiteUnimplementedFilter())
        kwargs: dict[str, Any] = {"uri": self.uri, "timeout": self._timeout_s}
        if self.is_lite:
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
        return self._guard(method, getattr(client, method), *args, **kwargs)

    def _guard(self, method: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        """``call(*args, **kwargs)`` with pymilvus's and gRPC's failures mapped (see
        ``_call``)."""
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
        """The server's version; raises ``Unavailable`` if it cannot be reached."""
        return str(self._call("get_server_version"))

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                try:
                    self._client.close()
                finally:
                    self._client = None
                    self._loaded.clear()

    # -- collections --------------------------------------------------------------

    def exists(self, name: str) -> bool:
        return bool(self._call("has_collection", name))

    def list_collections(self) -> list[str]:
        return [str(n) for n in self._call("list_collections")]

    def properties(self, name: str) -> dict[str, str]:
        desc = self._call("describe_collection", name)
        props = desc.get("properties") or {}
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
        self._create(spec)

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
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=ID_MAX_LENGTH)
        schema.add_field("item_id", DataType.VARCHAR, max_length=ID_MAX_LENGTH)
        schema.add_field("part", DataType.INT64)
        vector_type = (
            DataType.BINARY_VECTOR if spec.vector_kind == "binary" else DataType.FLOAT_VECTOR
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
            extra = {"max_length": f.max_length} if f.kind == "str" else {}
            schema.add_field(f.name, kinds[f.kind], **extra)
        index = MilvusClient.prepare_index_params()
        index.add_index(field_name="vector", index_type=spec.index_type, metric_type=spec.metric)
        self._call(
            "create_collection",
            spec.name,
            schema=schema,
            index_params=index,
            properties=spec.properties(),
            consistency_level="Strong",
        )
        self._ensure_loaded(spec.name)
        log.info(
            "created collection %s (%s, %d-d, %s)", spec.name, spec.encoder, spec.dim, spec.metric
        )

    def _ensure_loaded(self, name: str) -> None:
        if name in self._loaded:
            return
        self._call("load_collection", name)
        self._loaded.add(name)

    def drop(self, name: str) -> bool:
        """Drop a collection; False if there was none."""
        self._loaded.discard(name)
        if not self.exists(name):
            return False
        self._call("drop_collection", name)
        return True

    # -- rows ---------------------------------------------------------------------

    def upsert(self, name: str, rows: Sequence[dict[str, Any]], *, batch_rows: int = 2000) -> int:
        """Insert or overwrite rows (by ``id``), in batches under gRPC's message limit."""
        written = 0
        for start in range(0, len(rows), batch_rows):
            batch = [_to_milvus_row(r) for r in rows[start : start + batch_rows]]
            self._call("upsert", name, batch)
            written += len(batch)
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
    ) -> list[list[Hit]]:
        self._ensure_loaded(name)
        data = _to_milvus_vectors(vectors)
        kwargs: dict[str, Any] = {
            "data": data,
            "limit": limit,
            "output_fields": ["item_id", *output_fields],
        }
        if filter:
            kwargs["filter"] = filter
        if metric:
            kwargs["search_params"] = {"metric_type": metric}
        raw = self._call("search", name, **kwargs)
        return [
            [
                Hit(
                    id=str(h["id"]), distance=float(h["distance"]), fields=dict(h.get("entity", {}))
                )
                for h in hits
            ]
            for hits in raw
        ]

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
        return [_from_milvus_row(dict(r)) for r in rows]

    def count(self, name: str, *, filter: str = "") -> int:
        self._ensure_loaded(name)
        rows = self._call("query", name, filter=filter, output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def delete(self, name: str, *, filter: str) -> int:
        """Delete the rows matching ``filter``; returns how many were deleted."""
        self._ensure_loaded(name)
        matching = self.count(name, filter=filter)
        if matching:
            self._call("delete", name, filter=filter)
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
                if f["name"] not in _SKELETON_FIELDS
            ),
            index_type=str(index.get("index_type") or "AUTOINDEX"),
        )

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
        if not 1 <= batch_rows <= 16384:
            raise ValueError(f"batch_rows must be in [1, 16384], got {batch_rows}")
        self._ensure_loaded(name)
        fields = list(dict.fromkeys(["id", *output_fields]))
        logging.getLogger("pymilvus.client.iterator.query_iterator").addFilter(_LITE_TS_FILTER)
        iterator = self._call(
            "query_iterator", name, batch_size=batch_rows, filter="", output_fields=fields
        )
        try:
            while True:
                page = self._guard("query_iterator", iterator.next)
                if not page:
                    return
                yield [_from_milvus_row(dict(r)) for r in page]
        finally:
            iterator.close()


def _to_milvus_vectors(vectors: np.ndarray) -> list[Any]:
    arr = np.asarray(vectors)
    if arr.dtype == np.uint8:
        return [row.tobytes() for row in arr]
    return arr.astype(np.float32).tolist()  # type: ignore[no-any-return]


def _to_milvus_row(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    vec = out.get("vector")
    if isinstance(vec, np.ndarray):
        out["vector"] = vec.tobytes() if vec.dtype == np.uint8 else vec.astype(np.float32).tolist()
    return out


def _from_milvus_row(row: dict[str, Any]) -> dict[str, Any]:
    vec = row.get("vector")
    if isinstance(vec, list) and vec and isinstance(vec[0], bytes):
        row["vector"] = vec[0]
    return row


_SKELETON_FIELDS = frozenset({"id", "item_id", "part", "vector"})
_FIELD_KINDS: dict[str, FieldKind] = {
    "VARCHAR": "str",
    "INT64": "int",
    "DOUBLE": "float",
    "BOOL": "bool",
    "JSON": "json",
}


def _field_spec(collection: str, described: dict[str, Any]) -> FieldSpec:
    """A scalar field of ``describe_collection`` as the ``FieldSpec`` that made it."""
    type_name = getattr(described["type"], "name", str(described["type"]))
    kind = _FIELD_KINDS.get(type_name)
    if kind is None:
        raise StoreError(
            f"Collection {collection!r} has a field {described['name']!r} of "
            f"type {type_name}, which findalike does not create."
        )
    if kind == "str":
        return FieldSpec(described["name"], kind, int(described["params"]["max_length"]))
    return FieldSpec(described["name"], kind)


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
