"""Milvus Lite 3.2 data read without Milvus Lite 3.2: the move to Lite 2.5 (issue 25).

Milvus Lite 3.2 (findalike's embedded engine until issue 25) keeps a data folder
(``<data_dir>/milvus.db/``) of Parquet and Arrow files; Milvus Lite 2.5, the compiled
engine that replaced it, keeps one file at the same path and cannot read the folder,
and the two cannot be installed side by side (one PyPI name). So the first start on
Lite 2.5 over a 3.2 folder moves the folder aside (``milvus.db.lite3``, kept: nothing
is deleted) and writes every collection it holds into a new Lite 2.5 file, each with
its findalike record (encoder, dimension, metric, language), rows in chunks.

The folder's layout, as Lite 3.2.2 writes it: ``collections/<name>/schema.json`` (the
fields and the collection's properties), ``manifest.json`` (the live Parquet data and
delete files of each partition) and ``wal/`` (Arrow IPC streams of the writes since the
last flush: a process that ended without closing leaves them). Every row carries a
sequence number ``_seq``; a primary key's row is its insert with the highest ``_seq``,
unless a delete of that key has a ``_seq`` at least as high. Function outputs (the BM25
sparse field) are not copied: Lite 2.5 computes them again from the text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from findalike.schema import FieldKind, FieldSpec
from findalike.store.milvus import (
    FIELD_KINDS,
    SKELETON_FIELDS,
    CollectionSpec,
    StoreError,
    VectorStore,
)

log = logging.getLogger(__name__)

BACKUP_SUFFIX = ".lite3"
"""The 3.2 folder's new name beside the new file (``milvus.db.lite3``)."""
CHUNK_ROWS = 1000
MAX_FILES = 100_000
"""A bound on the files one collection lists (a damaged manifest is not followed far)."""

_SKELETON = SKELETON_FIELDS
_KINDS: dict[str, FieldKind] = {name.lower(): kind for name, kind in FIELD_KINDS.items()}
"""Lite 3.2's schema.json names types in lower case (``varchar``)."""
_EXACT_INDEXES = frozenset({"FLAT", "IVF_FLAT", "BIN_FLAT"})
"""Index types Lite 2.5 builds as they are; others (HNSW, AUTOINDEX) become FLAT."""


def is_lite3_folder(path: Path) -> bool:
    """Whether ``path`` is a Milvus Lite 3.2 data folder."""
    return path.is_dir() and (path / "collections").is_dir()


@dataclass
class Lite3Collection:
    """One collection of a Lite 3.2 folder."""

    name: str
    folder: Path

    def _json(self, name: str) -> dict[str, Any]:
        value = json.loads((self.folder / name).read_text())
        if not isinstance(value, dict):
            raise StoreError(f"{self.folder / name} is not a Milvus Lite 3.2 file")
        return value

    def spec(self) -> CollectionSpec:
        """The spec findalike made the collection with, from its schema and record."""
        schema = self._json("schema.json")
        props = {
            str(k).removeprefix("findalike."): str(v)
            for k, v in (schema.get("properties") or {}).items()
        }
        missing = [k for k in ("encoder", "dim", "metric", "vector_kind") if k not in props]
        if missing:
            raise StoreError(f"collection {self.name!r} has no findalike record: not moved")
        fields = []
        for f in schema.get("fields") or []:
            if f["name"] in _SKELETON or f.get("is_function_output"):
                continue
            kind = _KINDS.get(str(f.get("dtype")))
            if kind is None:
                raise StoreError(f"collection {self.name!r}: field {f['name']!r} of {f['dtype']}")
            if kind == "str":
                lexical = bool(f.get("enable_analyzer"))
                fields.append(FieldSpec(f["name"], kind, int(f["max_length"]), lexical=lexical))
            else:
                fields.append(FieldSpec(f["name"], kind))
        index = (self._json("manifest.json").get("index_specs") or {}).get("vector") or {}
        index_type = str(index.get("index_type") or "FLAT")
        params: dict[str, int] = {}
        if index_type in _EXACT_INDEXES:
            params = {k: int(v) for k, v in json.loads(props.get("index_params", "{}")).items()}
        else:
            index_type = "BIN_FLAT" if props["vector_kind"] == "binary" else "FLAT"
        return CollectionSpec(
            name=self.name,
            dim=int(props["dim"]),
            vector_kind=props["vector_kind"],  # type: ignore[arg-type]
            metric=props["metric"],  # type: ignore[arg-type]
            encoder=props["encoder"],
            fields=tuple(fields),
            index_type=index_type,
            index_params=tuple(sorted(params.items())),
            language=props.get("language", "en"),  # type: ignore[arg-type]
        )

    def _files(self) -> tuple[list[Path], list[Path]]:
        """(data files, delete files), Parquet then the write-ahead log's Arrow."""
        manifest = self._json("manifest.json")
        data: list[Path] = []
        deltas: list[Path] = []
        for partition, listed in (manifest.get("partitions") or {}).items():
            base = self.folder / "partitions" / str(partition)
            data += [base / str(p) for p in listed.get("data_files") or []]
            deltas += [base / str(p) for p in listed.get("delta_files") or []]
        wal = self.folder / "wal"
        if wal.is_dir():
            data += sorted(wal.glob("wal_data_*.arrow"))
            deltas += sorted(wal.glob("wal_delta_*.arrow"))
        if len(data) + len(deltas) > MAX_FILES:
            raise StoreError(f"collection {self.name!r} lists over {MAX_FILES} files")
        for path in (*data, *deltas):  # nothing outside the collection's folder
            if not path.resolve().is_relative_to(self.folder.resolve()):
                raise StoreError(f"collection {self.name!r} names a file outside its folder")
        return data, deltas

    def rows(self, spec: CollectionSpec) -> Iterator[list[dict[str, Any]]]:
        """The live rows, ``CHUNK_ROWS`` at a time: each key's latest insert, unless
        deleted since."""
        data, deltas = self._files()
        deleted: dict[Any, int] = {}
        for path in deltas:
            table = _read(path, ["id", "_seq"])
            for key, seq in zip(table["id"], table["_seq"], strict=True):
                deleted[key] = max(seq, deleted.get(key, -1))
        latest: dict[Any, tuple[int, int, int]] = {}  # key -> (seq, file, row)
        for i, path in enumerate(data):
            table = _read(path, ["id", "_seq"])
            for row, (key, seq) in enumerate(zip(table["id"], table["_seq"], strict=True)):
                if seq > latest.get(key, (-1, 0, 0))[0]:
                    latest[key] = (seq, i, row)
        wanted: dict[int, set[int]] = {}
        for key, (seq, i, row) in latest.items():
            if deleted.get(key, -1) < seq:
                wanted.setdefault(i, set()).add(row)
        chunk: list[dict[str, Any]] = []
        for i, path in enumerate(data):
            rows = wanted.get(i)
            if not rows:
                continue
            table = _read(path, None)
            for row in sorted(rows):
                chunk.append(_row(table, row, spec))
                if len(chunk) >= CHUNK_ROWS:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk


def _read(path: Path, columns: list[str] | None) -> dict[str, list[Any]]:
    """A Parquet file or an Arrow IPC stream (the write-ahead log) as columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        table = pq.read_table(path, columns=columns)
    else:
        with pa.memory_map(str(path)) as source:
            table = pa.ipc.open_stream(source).read_all()
        if columns is not None:
            table = table.select(columns)
    return {name: table.column(name).to_pylist() for name in table.column_names}


def _row(table: dict[str, list[Any]], i: int, spec: CollectionSpec) -> dict[str, Any]:
    """Row ``i`` as findalike writes it: its fields only (no ``_seq``, no BM25 output),
    the vector as an array, JSON fields parsed (Lite 3.2 keeps them as text)."""
    json_fields = {f.name for f in spec.fields if f.kind == "json"}
    keep = _SKELETON | {f.name for f in spec.fields}
    row = {name: values[i] for name, values in table.items() if name in keep}
    vector = row["vector"]
    if spec.vector_kind == "binary":
        row["vector"] = np.frombuffer(bytes(vector), dtype=np.uint8)
    else:
        row["vector"] = np.asarray(vector, dtype=np.float32)
    for name in json_fields & row.keys():
        if isinstance(row[name], str):
            row[name] = json.loads(row[name])
    return row


def collections(folder: Path) -> list[Lite3Collection]:
    root = folder / "collections"
    return [Lite3Collection(p.name, p) for p in sorted(root.iterdir()) if p.is_dir()]


def move_to_lite25(path: Path) -> Path | None:
    """If ``path`` is a Lite 3.2 folder, move it to ``<path>.lite3`` and write its
    collections into a new Lite 2.5 file at ``path``; returns the folder's new path
    (None if there was nothing to move). A failure leaves the folder where it was."""
    if not is_lite3_folder(path):
        return None
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    if backup.exists():
        raise StoreError(
            f"{path} is a Milvus Lite 3.2 folder and {backup} exists: move one of them away"
        )
    found = collections(path)
    specs = [(c, c.spec()) for c in found]  # every record read before anything moves
    path.rename(backup)
    try:
        store = VectorStore(str(path))
        try:
            for collection, spec in specs:
                collection.folder = backup / "collections" / collection.name
                store.ensure(spec)
                rows = 0
                for chunk in collection.rows(spec):
                    rows += store.upsert(spec.name, chunk)
                store.flush(spec.name)
                log.warning("moved %s (%d rows) from Milvus Lite 3.2 to 2.5", spec.name, rows)
        finally:
            store.close()
    except BaseException:
        _remove(path)
        backup.rename(path)  # as it was: the next start tries again
        raise
    return backup


def _remove(path: Path) -> None:
    if path.is_dir():
        import shutil

        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
