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

import json
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from findalike.encoders.base import Metric, VectorKind
from findalike.errors import Conflict, FindalikeError, NotFound, Unavailable

log = logging.getLogger(__name__)

FieldKind = Literal["str", "int", "float", "bool", "json"]
ID_MAX_LENGTH = 160
_PROPERTY_PREFIX = "findalike."


class _LiteUnimplementedFilter(logging.Filter):
    """Milvus Lite answers pymilvus's AllocTimestamp with UNIMPLEMENTED and pymilvus
    falls back; grpc logs that harmless exchange as an ERROR with a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Method not implemented" not in record.getMessage()


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


def quote(value: str | int | float | bool) -> str:
    """A literal for a Milvus boolean expression; strings are JSON-escaped so user
    input cannot change the expression."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def in_filter(field_name: str, values: Iterable[str]) -> str:
    return f"{field_name} in [{', '.join(quote(v) for v in values)}]"


class VectorStore:
    """A thin, typed face over ``MilvusClient``. Connects lazily, so a server that
    starts while Milvus is down answers 503 instead of crashing at start-up."""

    def __init__(self, uri: str, *, token: str = "", db_name: str = "", timeout_s: float = 10.0):
        self.uri = uri
        self._token = token
        self._db_name = db_name
        self._timeout_s = timeout_s
        self._client: Any = None
        self._lock = threading.Lock()
        self._loaded: set[str] = set()

    @property
    def is_lite(self) -> bool:
        return not self.uri.startswith(("http://", "https://", "tcp://", "grpc://"))

    # -- connection ---------------------------------------------------------------

    def _connect(self) -> Any:
        from pymilvus import MilvusClient

        if self._client is not None:
            return self._client
        with self._lock:
            if self._client is None:
                if self.is_lite:
                    Path(self.uri).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
                    logging.getLogger("grpc._server").addFilter(_LiteUnimplementedFilter())
                kwargs: dict[str, Any] = {"uri": self.uri, "timeout": self._timeout_s}
                if self._token:
                    kwargs["token"] = self._token
                if self._db_name:
                    kwargs["db_name"] = self._db_name
                try:
                    self._client = MilvusClient(**kwargs)
                except Exception as exc:  # pymilvus raises several types here
                    log.error("Milvus is unreachable at %s: %s", self.uri, exc)
                    raise Unavailable(f"Milvus is unreachable at {self.uri}: {exc}") from exc
        return self._client

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        from pymilvus.exceptions import MilvusException

        client = self._connect()
        try:
            return getattr(client, method)(*args, **kwargs)
        except MilvusException as exc:
            message = str(getattr(exc, "message", exc))
            if _is_connection_error(exc):
                log.error("Milvus unreachable during %s: %s", method, message)
                raise Unavailable(f"Milvus is unreachable at {self.uri}: {message}") from exc
            raise StoreError(f"Milvus {method} failed: {message}") from exc
        except (ConnectionError, TimeoutError) as exc:
            raise Unavailable(f"Milvus is unreachable at {self.uri}: {exc}") from exc

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
            k[len(_PROPERTY_PREFIX):]: str(v)
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
        wanted = {k[len(_PROPERTY_PREFIX):]: v for k, v in spec.properties().items()}
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
        log.info("created collection %s (%s, %d-d, %s)", spec.name, spec.encoder, spec.dim,
                 spec.metric)

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
            batch = [_to_milvus_row(r) for r in rows[start:start + batch_rows]]
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
            [Hit(id=str(h["id"]), distance=float(h["distance"]), fields=dict(h.get("entity", {})))
             for h in hits]
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


def _is_connection_error(exc: Exception) -> bool:
    code = getattr(exc, "code", None)
    text = str(exc).lower()
    return code in (1, 2) or any(
        s in text for s in ("unavailable", "connect", "deadline", "fail connecting", "closed")
    )
