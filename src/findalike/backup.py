"""Backups and moving house: collections to an archive file and back, without
re-encoding anything.

``export_archive`` writes one tar file (gzip-compressed if its name ends in ``.gz``
or ``.tgz``) holding, for each collection, every row's scalar fields and vector, the
encoder record (encoder, dimension, metric, vector kind, index type) and the scalar
field specs; the app's stored originals (``media/<app>/``); and app state kept beside
the collection under ``<data_dir>/<app>/<collection>/`` (the recommender's ratings
and trained model). ``import_archive`` restores it into the same or another store,
so a Milvus Lite install moves to a Milvus server as it is.

Archive layout (format version 1)::

    rows/<collection>/00000.jsonl      scalar fields (id, item_id, part, app fields),
                                       one JSON object a line, primary key order
    vectors/<collection>/00000.npy     the same rows' vectors: float32 (n, dim), or
                                       packed bits uint8 (n, dim / 8) for binary vectors
                                       and for float vectors that are all 0 or 1 (the
                                       chunk is marked ``packed``: 32x smaller, lossless)
    media/<app>/<aa>/<hash>[.variant].<ext>   stored originals and thumbnails (of a
                                       named collection: media/<app>/collections/<name>/...)
    state/<app>/<collection>/<file>    app state (SQLite files copied with SQLite's
                                       backup API, so a live database copies whole)
    manifest.json                      last: format, versions, collections, and the
                                       size and sha256 of every other member

Consistency: export flushes each collection and counts its rows before and after
reading them; if the count changed, or the rows read differ from it, the export
fails (``Conflict``) rather than write a torn archive. A load that only re-writes
rows that already exist (same content, same ids) cannot be seen this way; stop
loads (or the server) for a guaranteed snapshot. A Milvus Lite file can only be
opened by one process, so the server that uses it must be stopped anyway.

Import reads the archive twice. The first pass checks everything (member names,
types and sizes; each member's sha256 against the manifest; every chunk's row
count, fields, vector dtype and shape; the target store's existing collections and
state) and writes nothing; the second pass writes, checking each member's hash
again. A damaged, truncated or tampered archive is refused (``InvalidInput``) with
nothing written. Rows are upserted by their id (a content hash), so importing the
same archive twice leaves the same rows.

Vector kinds: Milvus Lite 3.2 has no binary vectors, so the molecule app keeps its
fingerprints as 0/1 floats there and as packed bits on a server. Export stores such
vectors as bits and marks the collection (``bit_vectors``); import asks the caller's
``target_form`` which kind the target install uses for that app and converts
losslessly (0/1 floats <-> packed bits), taking the target's metric and index.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
import re
import shutil
import sqlite3
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from findalike.core.app import collection_of, state_dir
from findalike.encoders.base import Metric, VectorKind
from findalike.errors import Conflict, InvalidInput, Unavailable
from findalike.schema import FieldKind, FieldSpec, Language
from findalike.store import ID_MAX_LENGTH, CollectionSpec, StoreError, VectorStore
from findalike.store.media import ByteStream, MediaStore

if TYPE_CHECKING:
    from findalike.config import Settings

log = logging.getLogger(__name__)

FORMAT: Final = "findalike-archive"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 256 * 1024**2
MAX_CHUNK_BYTES = 512 * 1024**2
"""Largest rows or vectors chunk read from an archive (export writes ~1,000 rows
a chunk: at most ~70 MB of text, 1.5 MB of 384-d vectors)."""
MAX_FILE_BYTES = 1024**3
"""Largest original or state file read from an archive (the largest upload a
server accepts by default, FINDALIKE_MAX_UPLOAD_BYTES)."""
MAX_MEMBERS = 10_000_000
DEFAULT_CHUNK_ROWS = 1000

_COLLECTION = r"[A-Za-z_][A-Za-z0-9_]{0,254}"
_APP = r"[a-z][a-z0-9_]{0,63}"
_STATE_FILE = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
_CHUNK_MEMBER = re.compile(
    rf"^(?P<kind>rows|vectors)/(?P<collection>{_COLLECTION})/(?P<n>\d{{5,9}})\.(?:jsonl|npy)$"
)
_NAMED = r"[a-z][a-z0-9_]{0,31}"
"""A named collection's name (``request_types.COLLECTION_NAME_PATTERN``)."""
_MEDIA_MEMBER = re.compile(
    rf"^media/(?P<app>{_APP})/(?:collections/(?P<named>{_NAMED})/)?"
    r"(?P<name>[0-9a-f]{2}/[0-9a-z_.]{1,128})$"
)
_STATE_MEMBER = re.compile(
    rf"^state/(?P<app>{_APP})/(?P<collection>{_COLLECTION})/(?P<file>{_STATE_FILE})$"
)
_SKIPPED_STATE = re.compile(r"(^\.|-(wal|shm|journal)$|\.tmp$)")
"""State files not copied: hidden/temporary files and SQLite's side files (the
database itself is copied whole through the backup API)."""
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")

Progress = Callable[[str, int, int], None]
"""Called as (collection, rows done, rows in all) after each chunk."""


# -- the manifest ----------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileEntry(_Model):
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class FieldEntry(_Model):
    name: str = Field(pattern=rf"^{_COLLECTION}$")
    kind: FieldKind
    max_length: int = Field(1024, ge=1, le=65535)
    lexical: bool = False
    """The field has a full-text (BM25) index (archives before it: none recorded)."""


class ChunkEntry(_Model):
    rows: str
    vectors: str
    count: int = Field(ge=1)
    packed: bool = False
    """Float vectors that are all 0/1, stored as packed bits."""


class CollectionEntry(_Model):
    """One archived collection: its encoder record, fields and data chunks."""

    app: str = Field(pattern=rf"^{_APP}$")
    name: str = Field(pattern=rf"^{_COLLECTION}$")
    encoder: str = Field(min_length=1, max_length=1024)
    dim: int = Field(ge=1, le=65536)
    metric: Metric
    vector_kind: VectorKind
    index_type: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,31}$")
    fields: tuple[FieldEntry, ...]
    language: Language = "en"
    """The language of the lexical field's text (its analyzer)."""
    named: str | None = Field(None, pattern=rf"^{_NAMED}$")
    """The app's named collection this is (or whose companion it is); None: the app's own."""
    companion: str = Field("", pattern=r"^(_[a-z0-9_]{1,31})?$")
    """The suffix of the companion collection this is (``_labels``); empty: none."""
    rows: int = Field(ge=0)
    bit_vectors: bool
    """Every vector is bits (binary, or float with only 0 and 1): convertible."""
    chunks: tuple[ChunkEntry, ...]

    def spec(self, name: str | None = None) -> CollectionSpec:
        return CollectionSpec(
            name=name or self.name,
            dim=self.dim,
            vector_kind=self.vector_kind,
            metric=self.metric,
            encoder=self.encoder,
            fields=tuple(
                FieldSpec(f.name, f.kind, f.max_length, lexical=f.lexical) for f in self.fields
            ),
            index_type=self.index_type,
            language=self.language,
        )

    def stored_as_bits(self, chunk: ChunkEntry) -> bool:
        return self.vector_kind == "binary" or chunk.packed


class Manifest(_Model):
    format: Literal["findalike-archive"] = FORMAT
    format_version: int = FORMAT_VERSION
    findalike_version: str
    created_at: str
    collections: tuple[CollectionEntry, ...]
    files: dict[str, FileEntry]
    """Every member but the manifest, with its size and sha256."""


TargetForm = Callable[[CollectionEntry], CollectionSpec | None]
"""What the target install would create for an archived collection's app (its
vector kind, metric and index), or None if it does not know the app."""


# -- reports ---------------------------------------------------------------------------


@dataclass
class CollectionResult:
    app: str
    name: str
    rows: int
    vector_kind: VectorKind
    converted_from: VectorKind | None = None


@dataclass
class ArchiveReport:
    """What an export wrote or an import restored."""

    path: Path
    collections: list[CollectionResult] = field(default_factory=list)
    media_files: int = 0
    state_files: int = 0
    archive_bytes: int = 0
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(c.rows for c in self.collections)


@dataclass(frozen=True)
class ExportTarget:
    """A collection to export and the app it belongs to (whose originals and state
    go with it): the app's own, a named one (``named``), or the companion of either
    (``companion``, its suffix)."""

    app: str
    collection: str
    named: str | None = None
    companion: str = ""


def app_targets(
    collections: Sequence[str], prefix: str, app: str, companions: Sequence[str] = ()
) -> list[ExportTarget]:
    """The collections among ``collections`` that belong to ``app`` (named with
    ``prefix``): its own, its named ones and the companions (suffixes ``companions``)
    of each, in that order."""
    base = collection_of(prefix, app)
    named_prefix = collection_of(prefix, app, "")
    present = set(collections)
    names = sorted(
        n[len(named_prefix) :]
        for n in present
        if n.startswith(named_prefix) and re.fullmatch(_NAMED, n[len(named_prefix) :])
    )
    companion_names = {f"{n}{c}" for n in names for c in companions}
    targets = [ExportTarget(app, base)] if base in present else []
    targets += [
        ExportTarget(app, collection_of(prefix, app, n), named=n)
        for n in names
        if n not in companion_names
    ]
    for t in list(targets):
        for c in companions:
            name = f"{t.collection}{c}"
            if name in present:
                targets.append(ExportTarget(app, name, named=t.named, companion=c))
    return targets


# -- export ----------------------------------------------------------------------------


def export_archive(
    store: VectorStore,
    targets: Sequence[ExportTarget],
    out_path: Path,
    *,
    media: MediaStore | None = None,
    data_dir: Path | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    on_progress: Progress | None = None,
) -> ArchiveReport:
    """Write ``targets`` (with their apps' originals from ``media`` and state from
    ``data_dir``, when given) to ``out_path``, atomically: a failed export leaves no
    file. ``NotFound`` for a collection that does not exist; ``Conflict`` if one
    changed while it was read."""
    from findalike import __version__

    started = time.perf_counter()
    if not targets:
        raise InvalidInput("Nothing to export: no collection was named or found.")
    report = ArchiveReport(path=out_path)
    partial = out_path.with_name(out_path.name + ".partial")
    try:
        with _open_write(partial, out_path) as tar:
            writer = _MemberWriter(tar)
            entries = [
                _export_collection(store, t, writer, chunk_rows, on_progress, report)
                for t in targets
            ]
            if media is not None:
                for app, named in dict.fromkeys((t.app, t.named) for t in targets):
                    report.media_files += _export_media(media, app, named, writer)
            if data_dir is not None:
                for t in targets:
                    report.state_files += _export_state(data_dir, t, writer)
            manifest = Manifest(
                findalike_version=__version__,
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                collections=tuple(entries),
                files=writer.files,
            )
            writer.add_bytes(MANIFEST, manifest.model_dump_json(indent=1).encode(), hashed=False)
        os.replace(partial, out_path)
    finally:
        partial.unlink(missing_ok=True)
    report.archive_bytes = out_path.stat().st_size
    report.seconds = time.perf_counter() - started
    return report


def _export_collection(
    store: VectorStore,
    target: ExportTarget,
    writer: _MemberWriter,
    chunk_rows: int,
    on_progress: Progress | None,
    report: ArchiveReport,
) -> CollectionEntry:
    spec = store.describe(target.collection)
    store.flush(spec.name)
    before = store.count(spec.name)
    fields = ["item_id", "part", *[f.name for f in spec.fields]]
    chunks: list[ChunkEntry] = []
    all_bits = True
    written = 0
    for n, page in enumerate(
        store.iter_rows(spec.name, output_fields=[*fields, "vector"], batch_rows=chunk_rows)
    ):
        vectors = _vector_array(spec, [row.pop("vector") for row in page])
        packed = spec.vector_kind == "float" and _is_bits(spec, vectors)
        all_bits = all_bits and (packed or spec.vector_kind == "binary")
        chunk = ChunkEntry(
            rows=f"rows/{spec.name}/{n:05d}.jsonl",
            vectors=f"vectors/{spec.name}/{n:05d}.npy",
            count=len(page),
            packed=packed,
        )
        writer.add_bytes(chunk.rows, _jsonl(page))
        writer.add_bytes(
            chunk.vectors,
            _npy(np.packbits(vectors.astype(np.uint8), axis=1) if packed else vectors),
        )
        chunks.append(chunk)
        written += len(page)
        if on_progress is not None:
            on_progress(spec.name, written, before)
    after = store.count(spec.name)
    if not before == after == written:
        raise Conflict(
            f"Collection {spec.name!r} changed while it was exported ({before} rows before, "
            f"{written} read, {after} after): wait for loads to finish (or stop the server) "
            "and export again."
        )
    report.collections.append(CollectionResult(target.app, spec.name, written, spec.vector_kind))
    return CollectionEntry(
        app=target.app,
        name=spec.name,
        encoder=spec.encoder,
        dim=spec.dim,
        metric=spec.metric,
        vector_kind=spec.vector_kind,
        index_type=spec.index_type,
        fields=tuple(
            FieldEntry(name=f.name, kind=f.kind, max_length=f.max_length, lexical=f.lexical)
            for f in spec.fields
        ),
        language=spec.language,
        named=target.named,
        companion=target.companion,
        rows=written,
        bit_vectors=all_bits and written > 0,
        chunks=tuple(chunks),
    )


def _vector_array(spec: CollectionSpec, vectors: list[Any]) -> np.ndarray:
    """Vectors as Milvus returned them -> float32 (n, dim) or uint8 (n, dim / 8)."""
    if spec.vector_kind == "binary":
        return np.frombuffer(b"".join(bytes(v) for v in vectors), dtype=np.uint8).reshape(
            len(vectors), spec.dim // 8
        )
    return np.asarray(vectors, dtype=np.float32).reshape(len(vectors), spec.dim)


def _is_bits(spec: CollectionSpec, vectors: np.ndarray) -> bool:
    """Whether float vectors are all 0 or 1 (fingerprints kept as floats)."""
    return spec.dim % 8 == 0 and bool(np.all((vectors == 0) | (vectors == 1)))


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(
        json.dumps(r, ensure_ascii=False, default=_json_default).encode() + b"\n" for r in rows
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _npy(vectors: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, vectors, allow_pickle=False)
    return buf.getvalue()


def _export_media(media: MediaStore, app: str, named: str | None, writer: _MemberWriter) -> int:
    n = 0
    folder = f"media/{app}/" if named is None else f"media/{app}/collections/{named}/"
    source = media if named is None else media.of_collection(named)
    for name, path in source.stored_files(app):
        writer.add_file(f"{folder}{name}", path)
        n += 1
    return n


app_state_dir = state_dir


def _export_state(data_dir: Path, target: ExportTarget, writer: _MemberWriter) -> int:
    folder = app_state_dir(data_dir, target.app, target.collection)
    if not folder.is_dir():
        return 0
    n = 0
    for path in sorted(folder.iterdir()):
        if (
            not path.is_file()
            or path.is_symlink()
            or _SKIPPED_STATE.search(path.name)
            or not re.fullmatch(_STATE_FILE, path.name)
        ):
            continue
        name = f"state/{target.app}/{target.collection}/{path.name}"
        if path.suffix == ".sqlite":
            writer.add_bytes(name, _sqlite_snapshot(path))
        else:
            writer.add_file(name, path)
        n += 1
    return n


def _sqlite_snapshot(path: Path) -> bytes:
    """A consistent copy of a live SQLite database (WAL included), as bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.sqlite"
        source = sqlite3.connect(path, timeout=30.0)
        target = sqlite3.connect(copy)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
            source.close()
        return copy.read_bytes()


class _MemberWriter:
    """Adds members to a tar being written and records their size and sha256."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.files: dict[str, FileEntry] = {}
        self._mtime = int(time.time())

    def add_bytes(self, name: str, data: bytes, *, hashed: bool = True) -> None:
        if hashed:
            self.files[name] = FileEntry(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
        self.tar.addfile(self._info(name, len(data)), io.BytesIO(data))

    def add_file(self, name: str, path: Path) -> None:
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
                size += len(block)
            fh.seek(0)
            self.files[name] = FileEntry(bytes=size, sha256=digest.hexdigest())
            self.tar.addfile(self._info(name, size), fh)

    def _info(self, name: str, size: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, self._mtime, 0o644
        return info


@contextmanager
def _open_write(partial: Path, final: Path) -> Iterator[tarfile.TarFile]:
    partial.parent.mkdir(parents=True, exist_ok=True)
    if final.name.endswith((".gz", ".tgz")):
        with tarfile.open(partial, "w:gz", compresslevel=6, format=tarfile.PAX_FORMAT) as tar:
            yield tar
    else:
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            yield tar


# -- import ----------------------------------------------------------------------------


@dataclass
class _ValueFacts:
    """What the first pass saw of one key's values in a chunk's rows: their JSON types
    and extremes, enough to check them against the field's type before any write."""

    types: set[str] = field(default_factory=set)
    longest_bytes: int = 0
    """Longest string (UTF-8 bytes) or, for objects and lists, longest JSON text."""
    largest_int: int = 0
    """Largest magnitude of an integer."""

    def see(self, value: Any) -> None:
        if isinstance(value, bool):
            self.types.add("bool")
        elif isinstance(value, int):
            self.types.add("int")
            self.largest_int = max(self.largest_int, abs(value))
        elif isinstance(value, float):
            self.types.add("float" if math.isfinite(value) else "non-finite")
        elif isinstance(value, str):
            self.types.add("str")
            self.longest_bytes = max(self.longest_bytes, len(value.encode("utf-8", "replace")))
        elif value is None:
            self.types.add("null")
        else:
            self.types.add("json")
            self.longest_bytes = max(self.longest_bytes, len(json.dumps(value).encode()))


_ACCEPTED_TYPES: dict[FieldKind, frozenset[str]] = {
    "str": frozenset({"str"}),
    "int": frozenset({"int"}),
    "float": frozenset({"int", "float"}),
    "bool": frozenset({"bool"}),
    "json": frozenset({"str", "int", "float", "bool", "null", "json"}),
}
MAX_JSON_VALUE_BYTES = 65_536
"""Milvus's limit on one JSON field value."""
_INT64_MAX = 2**63 - 1


@dataclass
class _ChunkFacts:
    """What the first pass learnt about one chunk member."""

    lines: int = 0
    keys: set[frozenset[str]] = field(default_factory=set)
    values: dict[str, _ValueFacts] = field(default_factory=dict)
    shape: tuple[int, ...] = ()
    dtype: str = ""


@dataclass
class _Plan:
    """One archived collection and where (and in which vector kind) it goes."""

    entry: CollectionEntry
    spec: CollectionSpec
    exists: bool
    merge: bool
    """Rows go into an existing collection (upserted), not a new or replaced one."""
    state: dict[str, str] = field(default_factory=dict)
    """Archive member -> file name of the state written for this collection."""
    state_digest: str = ""
    """One sha256 over the archived state files (names and checksums)."""
    keep_state: bool = False
    """The target's state came from this same archived state: leave it as it is."""


def read_manifest(archive: Path) -> Manifest:
    """The archive's manifest after checking every member against it (the first
    import pass; writes nothing). ``InvalidInput`` for anything wrong."""
    return _verify(archive)[0]


def import_archive(
    store: VectorStore,
    archive: Path,
    *,
    media: MediaStore | None = None,
    data_dir: Path | None = None,
    replace: bool = False,
    prefix: str | None = None,
    target_form: TargetForm | None = None,
    batch_rows: int = 2000,
    on_progress: Progress | None = None,
) -> ArchiveReport:
    """Restore ``archive`` into ``store`` (originals into ``media``, app state under
    ``data_dir``, when given). Collections keep their archived names, or become
    ``{prefix}{app}`` if ``prefix`` is given.

    Without ``replace``, rows are upserted into an existing compatible collection
    and ``Conflict`` is raised, before anything is written, if an existing one has
    another encoder record or other fields, or if the app's state there differs.
    With ``replace``, each archived collection and its state are dropped and
    written anew. ``InvalidInput`` for a damaged or tampered archive (nothing is
    written)."""
    started = time.perf_counter()
    manifest, _ = _verify(archive)
    plans = [
        _plan(store, manifest, e, prefix, target_form, data_dir, replace)
        for e in manifest.collections
    ]
    names = [p.spec.name for p in plans]
    if len(set(names)) != len(names):
        raise InvalidInput("Two archived collections would be imported under one name.")
    report = ArchiveReport(path=archive, archive_bytes=archive.stat().st_size)
    for plan in plans:
        _prepare(store, plan, data_dir, replace)
    _write(store, archive, manifest, plans, media, data_dir, batch_rows, on_progress, report)
    for plan in plans:
        if data_dir is not None:
            _record_import(data_dir, plan)
        store.flush(plan.spec.name)
        _check_count(store, plan)
        report.collections.append(
            CollectionResult(
                plan.entry.app,
                plan.spec.name,
                plan.entry.rows,
                plan.spec.vector_kind,
                converted_from=(
                    plan.entry.vector_kind
                    if plan.entry.vector_kind != plan.spec.vector_kind
                    else None
                ),
            )
        )
    report.seconds = time.perf_counter() - started
    return report


# first pass: verify ----------------------------------------------------------------


def _verify(archive: Path) -> tuple[Manifest, dict[str, _ChunkFacts]]:
    digests: dict[str, FileEntry] = {}
    facts: dict[str, _ChunkFacts] = {}
    manifest_bytes: bytes | None = None
    for member, read in _members(archive):
        if member.name in digests or (member.name == MANIFEST and manifest_bytes is not None):
            raise InvalidInput(f"{archive.name}: member {member.name!r} appears twice.")
        if member.name == MANIFEST:
            manifest_bytes = read()
            continue
        if not _CHUNK_MEMBER.match(member.name):  # media and state: hashed as they stream
            digests[member.name] = read.digest()
            continue
        data = read()
        digests[member.name] = FileEntry(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
        facts[member.name] = _chunk_facts(archive, member.name, data)
    if manifest_bytes is None:
        raise InvalidInput(
            f"{archive.name} has no {MANIFEST}: it is not a findalike archive, or it was cut short."
        )
    manifest = _parse_manifest(archive, manifest_bytes)
    _check_files(archive, manifest, digests)
    for entry in manifest.collections:
        _check_collection(archive, entry, facts)
    return manifest, facts


def _members(archive: Path) -> Iterator[tuple[tarfile.TarInfo, _MemberReader]]:
    """Each member with a reader of its bytes, after checking its name, type and
    size. A damaged or truncated file becomes ``InvalidInput``."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            for n, member in enumerate(tar):
                if n >= MAX_MEMBERS:
                    raise InvalidInput(f"{archive.name} has more than {MAX_MEMBERS} members.")
                limit = _member_limit(archive, member)
                yield member, _MemberReader(archive, tar, member, limit)
    except FileNotFoundError as exc:
        raise InvalidInput(f"No such archive: {archive}") from exc
    except _DAMAGED as exc:
        raise _damaged(archive, exc) from exc


_DAMAGED = (tarfile.TarError, EOFError, zlib.error, OSError)


def _damaged(archive: Path, exc: BaseException) -> InvalidInput:
    reason = (str(exc).splitlines() or [type(exc).__name__])[0].rstrip(":")
    return InvalidInput(
        f"{archive.name} is damaged, cut short or not a tar archive ({reason}). "
        "Nothing was imported."
    )


def _member_limit(archive: Path, member: tarfile.TarInfo) -> int:
    if not member.isreg() or member.issparse():
        raise InvalidInput(
            f"{archive.name}: member {member.name!r} is not a regular file "
            "(links, folders and devices are refused)."
        )
    if member.name == MANIFEST:
        limit = MAX_MANIFEST_BYTES
    elif _CHUNK_MEMBER.match(member.name):
        limit = MAX_CHUNK_BYTES
    elif _MEDIA_MEMBER.match(member.name) or _STATE_MEMBER.match(member.name):
        limit = MAX_FILE_BYTES
    else:
        raise InvalidInput(f"{archive.name}: unexpected member {member.name[:200]!r}.")
    if member.size > limit:
        raise InvalidInput(
            f"{archive.name}: member {member.name!r} is {member.size} bytes, "
            f"over the {limit}-byte limit."
        )
    return limit


class _MemberReader:
    """Reads one member whole (called: the manifest and data chunks, each capped), or
    as a stream hashed on the way (``stream()``, ``digest()``: media and state files,
    memory one block however large the member)."""

    BLOCK_BYTES = 1024**2

    def __init__(
        self, archive: Path, tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int
    ) -> None:
        self.archive, self.tar, self.member, self.limit = archive, tar, member, limit

    def __call__(self) -> bytes:
        with self._open() as fh:
            # the declared size (checked against the limit), not the limit: a read
            # allocates what it asks for, and manifests may be 256 MB
            data: bytes = self._guarded(lambda: fh.read(min(self.member.size, self.limit) + 1))
        self._check_size(len(data))
        return data

    def digest(self) -> FileEntry:
        with self.stream() as source:
            return source.finish()

    @contextmanager
    def stream(self) -> Iterator[_HashingStream]:
        """The member as a stream that hashes what is read from it; ``finish()`` reads
        the rest and gives the digest."""
        with self._open() as fh:
            yield _HashingStream(self, fh)

    def _open(self) -> IO[bytes]:
        fh: IO[bytes] | None = self._guarded(lambda: self.tar.extractfile(self.member))
        if fh is None:
            raise InvalidInput(f"{self.archive.name}: member {self.member.name!r} cannot be read.")
        return fh

    def _guarded(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except _DAMAGED as exc:
            raise _damaged(self.archive, exc) from exc

    def _check_size(self, size: int) -> None:
        if size != self.member.size:
            raise _damaged(self.archive, EOFError(f"member {self.member.name!r} is cut short"))


class _HashingStream:
    """A member's bytes as they are read, hashed and counted on the way (capped at the
    member's limit)."""

    def __init__(self, reader: _MemberReader, fh: IO[bytes]) -> None:
        self._reader, self._fh = reader, fh
        self._sha, self.size = hashlib.sha256(), 0

    def read(self, size: int = -1, /) -> bytes:
        want = _MemberReader.BLOCK_BYTES if size is None or size < 0 else size
        block: bytes = self._reader._guarded(lambda: self._fh.read(want))
        self.size += len(block)
        if self.size > self._reader.limit:
            raise _damaged(self._reader.archive, EOFError("member is over its limit"))
        self._sha.update(block)
        return block

    def finish(self) -> FileEntry:
        while self.read(_MemberReader.BLOCK_BYTES):
            pass
        self._reader._check_size(self.size)
        return FileEntry(bytes=self.size, sha256=self._sha.hexdigest())


def _chunk_facts(archive: Path, name: str, data: bytes) -> _ChunkFacts:
    facts = _ChunkFacts()
    try:
        if name.endswith(".npy"):
            array = np.load(io.BytesIO(data), allow_pickle=False)
            facts.shape, facts.dtype = tuple(array.shape), str(array.dtype)
            return facts
        for line in data.splitlines():
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("id"), str):
                raise ValueError("a row is not an object with a string id")
            facts.lines += 1
            facts.keys.add(frozenset(row))
            for key, value in row.items():
                facts.values.setdefault(key, _ValueFacts()).see(value)
    except ValueError as exc:
        raise InvalidInput(f"{archive.name}: member {name!r} cannot be read: {exc}") from exc
    return facts


def _parse_manifest(archive: Path, data: bytes) -> Manifest:
    try:
        raw = json.loads(data)
    except ValueError as exc:
        raise InvalidInput(f"{archive.name}: {MANIFEST} is not JSON: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise InvalidInput(f"{archive.name} is not a findalike archive.")
    if raw.get("format_version") != FORMAT_VERSION:
        raise InvalidInput(
            f"{archive.name} has archive format {raw.get('format_version')!r}; this findalike "
            f"reads format {FORMAT_VERSION}. Import it with the findalike version that wrote it "
            f"({raw.get('findalike_version')!r}) or a newer one."
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(f"{archive.name}: {MANIFEST} is not valid: {exc}") from exc


def _check_files(archive: Path, manifest: Manifest, digests: dict[str, FileEntry]) -> None:
    missing = sorted(set(manifest.files) - set(digests))
    if missing:
        raise InvalidInput(
            f"{archive.name} is missing {len(missing)} member(s) its manifest "
            f"lists (first: {missing[0]!r}): it was cut short or altered."
        )
    unlisted = sorted(set(digests) - set(manifest.files))
    if unlisted:
        raise InvalidInput(
            f"{archive.name} holds member(s) its manifest does not list (first: {unlisted[0]!r})."
        )
    for name, entry in manifest.files.items():
        if digests[name] != entry:
            raise InvalidInput(
                f"{archive.name}: member {name!r} does not match its checksum: "
                "the archive is damaged or was altered. Nothing was imported."
            )


def _check_collection(archive: Path, entry: CollectionEntry, facts: dict[str, _ChunkFacts]) -> None:
    def bad(why: str) -> InvalidInput:
        return InvalidInput(f"{archive.name}: collection {entry.name!r}: {why}")

    if entry.vector_kind == "binary" and entry.dim % 8:
        raise bad(f"binary vectors of {entry.dim} bits (not a multiple of 8)")
    if sum(c.count for c in entry.chunks) != entry.rows:
        raise bad("the chunks do not add up to the row count")
    expected_keys = frozenset({"id", "item_id", "part", *[f.name for f in entry.fields]})
    if entry.vector_kind == "binary" and not entry.bit_vectors:
        raise bad("binary vectors not marked as bits")
    for n, chunk in enumerate(entry.chunks):
        bits = entry.stored_as_bits(chunk)
        dtype, width = ("uint8", entry.dim // 8) if bits else ("float32", entry.dim)
        if bits and entry.dim % 8:
            raise bad(f"{entry.dim}-d vectors cannot be stored as packed bits")
        if entry.bit_vectors and not bits:
            raise bad(f"chunk {n} is not bits though the collection is marked so")
        if (
            chunk.rows != f"rows/{entry.name}/{n:05d}.jsonl"
            or chunk.vectors != f"vectors/{entry.name}/{n:05d}.npy"
        ):
            raise bad(f"chunk {n} is not named as this format names it")
        rows, vectors = facts[chunk.rows], facts[chunk.vectors]
        if rows.lines != chunk.count or any(k != expected_keys for k in rows.keys):
            raise bad(f"{chunk.rows} does not hold {chunk.count} rows of its fields")
        problem = _values_problem(entry, rows)
        if problem:
            raise bad(f"{chunk.rows}: {problem}")
        if vectors.shape != (chunk.count, width) or vectors.dtype != dtype:
            raise bad(
                f"{chunk.vectors} holds {vectors.dtype} {vectors.shape}, not {dtype} "
                f"({chunk.count}, {width})"
            )


def _values_problem(entry: CollectionEntry, rows: _ChunkFacts) -> str | None:
    """What in a chunk's rows the collection would refuse (a type, a length, a range),
    or None: checked for every row before the first write, so an import never stops
    part-way on a row."""
    kinds: dict[str, tuple[FieldKind, int]] = {
        "id": ("str", ID_MAX_LENGTH),
        "item_id": ("str", ID_MAX_LENGTH),
        "part": ("int", 0),
        **{f.name: (f.kind, f.max_length) for f in entry.fields},
    }
    for key, seen in rows.values.items():
        kind, max_length = kinds[key]
        wrong = seen.types - _ACCEPTED_TYPES[kind]
        if wrong:
            return f"field {key!r} holds {'/'.join(sorted(wrong))} values, not {kind}"
        if kind == "str" and seen.longest_bytes > max_length:
            return (
                f"field {key!r} holds a value of {seen.longest_bytes} bytes, over its "
                f"{max_length}-byte limit"
            )
        if kind == "json" and seen.longest_bytes > MAX_JSON_VALUE_BYTES:
            return f"field {key!r} holds a JSON value over {MAX_JSON_VALUE_BYTES} bytes"
        if seen.largest_int > _INT64_MAX:
            return f"field {key!r} holds an integer outside 64 bits"
    return None


# planning: decide, check the target, write nothing -----------------------------------


def _plan(
    store: VectorStore,
    manifest: Manifest,
    entry: CollectionEntry,
    prefix: str | None,
    target_form: TargetForm | None,
    data_dir: Path | None,
    replace_existing: bool,
) -> _Plan:
    name = (
        collection_of(prefix, entry.app, entry.named, entry.companion)
        if prefix is not None
        else entry.name
    )
    spec = _target_spec(store, entry, name, target_form)
    exists = store.exists(name)
    if exists and not replace_existing:
        _check_existing(store, spec)
    plan = _Plan(entry=entry, spec=spec, exists=exists, merge=exists and not replace_existing)
    if data_dir is not None:
        _plan_state(plan, manifest, data_dir, replace_existing)
    return plan


def _target_spec(
    store: VectorStore, entry: CollectionEntry, name: str, target_form: TargetForm | None
) -> CollectionSpec:
    """The archived spec, in the vector kind the target uses for the app."""
    spec = entry.spec(name)
    wanted = (
        target_form(entry)
        if target_form is not None and entry.bit_vectors and not entry.companion
        else None
    )
    if wanted is not None and wanted.vector_kind != spec.vector_kind:
        if wanted.dim != spec.dim:
            raise Conflict(
                f"Collection {entry.name!r} holds {spec.dim}-bit fingerprints but this install's "
                f"{entry.app} app makes {wanted.dim}-bit ones: set the same settings as the "
                "install that exported it, or load the data again."
            )
        spec = replace(
            spec, vector_kind=wanted.vector_kind, metric=wanted.metric, index_type=wanted.index_type
        )
    if spec.vector_kind == "binary" and store.is_lite and not store.is_compiled_lite:
        raise Conflict(
            f"Collection {entry.name!r} holds binary vectors and Milvus Lite 3.2 has none. Import "
            f"it into a Milvus server, or let the {entry.app} app convert them (this needs the "
            "app installed here)."
        )
    return spec


def _check_existing(store: VectorStore, spec: CollectionSpec) -> None:
    current = store.describe(spec.name)
    if current.properties() != spec.properties():
        raise Conflict(
            f"Collection {spec.name!r} already exists with another encoder record "
            f"({current.encoder}, {current.dim}-d {current.vector_kind} {current.metric}; the "
            f"archive has {spec.encoder}, {spec.dim}-d {spec.vector_kind} {spec.metric}). "
            "Import with --replace to drop it and restore the archived one."
        )
    if set(current.fields) != set(spec.fields):
        raise Conflict(
            f"Collection {spec.name!r} already exists with other fields than the archived one. "
            "Import with --replace to drop it and restore the archived one."
        )


def _plan_state(plan: _Plan, manifest: Manifest, data_dir: Path, replace_existing: bool) -> None:
    """Which state files go where; ``Conflict`` if the target already has other state
    for this collection (two recommenders' ratings and models do not merge). State
    equal to the archived one, or restored from it by an earlier import (SQLite files
    change as soon as they are opened), is no conflict, and is left as it is."""
    entry = plan.entry
    for name in manifest.files:
        found = _STATE_MEMBER.match(name)
        if found and found["app"] == entry.app and found["collection"] == entry.name:
            plan.state[name] = found["file"]
    if not plan.state:
        return
    folder = app_state_dir(data_dir, entry.app, plan.spec.name)
    present = {
        p.name: _sha256_file(p)
        for p in (folder.iterdir() if folder.is_dir() else ())
        if p.is_file() and not _SKIPPED_STATE.search(p.name)
    }
    archived = {file: manifest.files[name].sha256 for name, file in plan.state.items()}
    plan.state_digest = hashlib.sha256(json.dumps(archived, sort_keys=True).encode()).hexdigest()
    plan.keep_state = (
        bool(present)
        and not replace_existing
        and _imported_state_digest(folder) == plan.state_digest
    )
    if present and present != archived and not plan.keep_state and not replace_existing:
        raise Conflict(
            f"{folder} already holds {entry.app} state (for example a recommender's ratings "
            "and model); the archived state would not merge with it. Import with --replace "
            "to replace it."
        )


def _prepare(
    store: VectorStore, plan: _Plan, data_dir: Path | None, replace_existing: bool
) -> None:
    """Make the target ready: drop what ``replace`` replaces, create the collection."""
    if replace_existing:
        if plan.exists:
            store.drop(plan.spec.name)
        if data_dir is not None:
            shutil.rmtree(
                app_state_dir(data_dir, plan.entry.app, plan.spec.name), ignore_errors=True
            )
    store.ensure(plan.spec)


# second pass: write ----------------------------------------------------------------


def _write(
    store: VectorStore,
    archive: Path,
    manifest: Manifest,
    plans: list[_Plan],
    media: MediaStore | None,
    data_dir: Path | None,
    batch_rows: int,
    on_progress: Progress | None,
    report: ArchiveReport,
) -> None:
    by_chunk: dict[str, tuple[_Plan, ChunkEntry]] = {}
    for plan in plans:
        for chunk in plan.entry.chunks:
            by_chunk[chunk.rows] = by_chunk[chunk.vectors] = (plan, chunk)
    pending: dict[str, bytes] = {}
    done: dict[str, int] = {}
    for member, read in _members(archive):
        if member.name == MANIFEST:
            continue
        if member.name not in by_chunk:  # media and state files: streamed, never held whole
            with read.stream() as source:
                _write_file(plans, member.name, source, media, data_dir, report)
                written = source.finish()
            if written != manifest.files[member.name]:
                raise _changed(archive, member.name)
            continue
        data = read()
        if hashlib.sha256(data).hexdigest() != manifest.files[member.name].sha256:
            raise _changed(archive, member.name)
        plan, chunk = by_chunk[member.name]
        pending[member.name] = data
        if chunk.rows in pending and chunk.vectors in pending:
            rows = _chunk_rows(plan, chunk, pending.pop(chunk.rows), pending.pop(chunk.vectors))
            store.upsert(plan.spec.name, rows, batch_rows=batch_rows)
            done[plan.spec.name] = done.get(plan.spec.name, 0) + len(rows)
            if on_progress is not None:
                on_progress(plan.spec.name, done[plan.spec.name], plan.entry.rows)


def _changed(archive: Path, name: str) -> InvalidInput:
    return InvalidInput(
        f"{archive.name} changed while it was imported ({name!r}); import it again."
    )


def _write_file(
    plans: list[_Plan],
    name: str,
    source: ByteStream,
    media: MediaStore | None,
    data_dir: Path | None,
    report: ArchiveReport,
) -> None:
    """A media or state member, copied from the archive block by block."""
    if (found := _MEDIA_MEMBER.match(name)) is not None:
        if media is not None:
            named = found["named"]
            target = media if named is None else media.of_collection(named)
            target.put_stored(found["app"], found["name"], source)
            report.media_files += 1
    elif data_dir is not None:
        report.state_files += _write_state(plans, name, source, data_dir)


def _chunk_rows(
    plan: _Plan, chunk: ChunkEntry, rows_data: bytes, vectors_data: bytes
) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in rows_data.splitlines()]
    stored = np.load(io.BytesIO(vectors_data), allow_pickle=False)
    vectors = _convert(
        stored, plan.entry.stored_as_bits(chunk), plan.spec.vector_kind, plan.spec.dim
    )
    for row, vector in zip(rows, vectors, strict=True):
        row["vector"] = vector
    return rows


def _convert(stored: np.ndarray, as_bits: bool, target: VectorKind, dim: int) -> np.ndarray:
    """Stored vectors in the target's kind: packed bits uint8 (n, dim / 8) <-> 0/1
    float32 (n, dim), losslessly; float vectors stay as they are."""
    if not as_bits or target == "binary":
        return stored
    return np.unpackbits(stored, axis=1, count=dim).astype(np.float32)


_IMPORT_RECORD = ".findalike-import.json"
"""Written beside restored state: which archived state it came from."""


def _imported_state_digest(folder: Path) -> str:
    try:
        record = json.loads((folder / _IMPORT_RECORD).read_text())
    except (OSError, ValueError):
        return ""
    return str(record.get("state_sha256", "")) if isinstance(record, dict) else ""


def _record_import(data_dir: Path, plan: _Plan) -> None:
    if plan.state and not plan.keep_state:
        folder = app_state_dir(data_dir, plan.entry.app, plan.spec.name)
        (folder / _IMPORT_RECORD).write_text(json.dumps({"state_sha256": plan.state_digest}))


def _write_state(plans: list[_Plan], name: str, source: ByteStream, data_dir: Path) -> int:
    for plan in plans:
        if name in plan.state and not plan.keep_state:
            folder = app_state_dir(data_dir, plan.entry.app, plan.spec.name)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / plan.state[name]
            for side in _SQLITE_SIDE_FILES:
                Path(f"{path}{side}").unlink(missing_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(source, out, _MemberReader.BLOCK_BYTES)
            os.replace(tmp, path)
            return 1
    return 0


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_count(store: VectorStore, plan: _Plan) -> None:
    """A new or replaced collection holds exactly the archived rows; one merged into
    holds at least them."""
    stored = store.count(plan.spec.name)
    if stored < plan.entry.rows or (not plan.merge and stored != plan.entry.rows):
        raise StoreError(
            f"Collection {plan.spec.name!r} holds {stored} rows after the import, expected "
            f"{plan.entry.rows}."
        )


# -- a whole install, as the command line asks -----------------------------------------


@contextmanager
def opened_store(settings: Settings) -> Iterator[VectorStore]:
    """The settings' store, opened by this process (export and import work on it
    directly, not through a server). ``Unavailable`` for a Milvus Lite file another
    process holds says to stop that server."""
    store = VectorStore(
        settings.resolved_milvus_uri,
        token=settings.milvus_token,
        db_name=settings.milvus_db,
        timeout_s=settings.milvus_timeout_s,
        half_min_dim=settings.half_vectors_min_dim,
    )
    try:
        yield store
    except Unavailable as exc:
        if not store.is_lite:
            raise
        raise Unavailable(
            f"cannot open the Milvus Lite file {store.uri} ({exc.detail}). A Milvus Lite "
            "file is used by one process at a time: if `findalike serve` is running on "
            "it, stop it first."
        ) from exc
    finally:
        store.close()


def export_install(
    settings: Settings,
    apps: Sequence[str],
    out_path: Path,
    *,
    on_progress: Progress | None = None,
) -> ArchiveReport:
    """Export ``apps`` (default: every app with data) of the install ``settings``
    describe: each app's own collection, its named collections and their companions,
    with their originals and state. ``InvalidInput`` for an unknown app or nothing to
    export."""
    from findalike.apps import ALL_APPS, discover

    unknown = [n for n in apps if n not in ALL_APPS]
    if unknown:
        raise InvalidInput(f"unknown app(s) {', '.join(unknown)}; known: {', '.join(ALL_APPS)}")
    companions = {s.name: [c.suffix for c in s.companions] for s in discover()[0]}
    with opened_store(settings) as store:
        present = store.list_collections()
        targets = [
            t
            for app in apps or ALL_APPS
            for t in app_targets(present, settings.collection_prefix, app, companions.get(app, []))
        ]
        if not targets:
            named = f" for {', '.join(apps)}" if apps else ""
            raise InvalidInput(f"nothing to export{named}: no app has data in {store.uri}")
        return export_archive(
            store,
            targets,
            out_path,
            media=MediaStore(settings.data_dir / "media"),
            data_dir=settings.data_dir,
            on_progress=on_progress,
        )


def import_install(
    settings: Settings,
    archive: Path,
    *,
    replace: bool = False,
    on_progress: Progress | None = None,
) -> ArchiveReport:
    """Import ``archive`` into the install ``settings`` describe (``import_archive``),
    each collection under this install's prefix, in the vector kind this install's
    app makes."""
    with opened_store(settings) as store:
        return import_archive(
            store,
            archive,
            media=MediaStore(settings.data_dir / "media"),
            data_dir=settings.data_dir,
            replace=replace,
            prefix=settings.collection_prefix,
            target_form=install_form(settings, store),
            batch_rows=settings.insert_batch_rows,
            on_progress=on_progress,
        )


def install_form(settings: Settings, store: VectorStore) -> TargetForm:
    """What this install's app would create for an archived collection (the molecule
    app: packed bits on a server, 0/1 floats on Milvus Lite 3.2); None for an app
    that is not installed here."""
    from findalike.apps import discover
    from findalike.core.app import AppRuntime

    specs = {s.name: s for s in discover()[0]}

    def form(entry: CollectionEntry) -> CollectionSpec | None:
        spec = specs.get(entry.app)
        return None if spec is None else AppRuntime(spec, settings, store).collection_spec()

    return form
