"""What an app is (a declaration) and what it runs with (its runtime).

An app declares its name, encoder, collection fields, a reader that turns one file
into records, and its search request/response models with a search function. The
shared machinery (load jobs, store, errors, the load/search/count/items/drop routes)
is written once and driven by these declarations; an app adds routes of its own only
for what is really its own (QA's ``answer``, the molecule depiction).
"""

from __future__ import annotations

import contextvars
import hashlib
import shutil
import sqlite3
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast
from urllib.parse import urlencode

import numpy as np
from pydantic import BaseModel
from pydantic_settings import BaseSettings

from findalike.config import Settings
from findalike.core.batching import BatchingEncoder, BatchStats, Coalescer
from findalike.core.contract import apply_contract, index_search_params
from findalike.core.request_types import CONTENT_ID_PATTERN
from findalike.encoders.base import Encoder, Metric
from findalike.encoders.registry import SharedEncoder, own_text_encoders
from findalike.errors import Conflict, NotFound
from findalike.schema import MAX_RESULT_ROWS, FieldSpec, Hit, Language, in_filter, quote
from findalike.store import LANGUAGES, CollectionSpec, VectorStore
from findalike.store.sqlitedb import set_up_wal

if TYPE_CHECKING:
    from fastapi import APIRouter

    from findalike.jobs import Work
    from findalike.store.media import MediaStore


_SHARED_ENCODERS_LOCK = threading.Lock()
_INDEX_PARAMS: contextvars.ContextVar[dict[str, int] | None] = contextvars.ContextVar(
    "findalike_index_params", default=None
)
"""The ``ef``/``nprobe`` of the search request being answered (set by ``search``)."""
NAMED_COLLECTION_SEPARATOR = "__"
"""Between the app's collection and a named one's name: ``findalike_image__logos``."""


def collection_of(prefix: str, app: str, named: str | None = None, companion: str = "") -> str:
    """The Milvus collection of ``app`` (its named collection ``named``, or the app's
    own), or of its companion of suffix ``companion``: the one naming rule."""
    base = f"{prefix}{app}"
    if named is not None:
        base += f"{NAMED_COLLECTION_SEPARATOR}{named}"
    return f"{base}{companion}"


def state_dir(data_dir: Path, app: str, collection: str) -> Path:
    """Where an app keeps state beside one collection (the recommender's ratings and
    model, a DNA collection's encoder choice): it travels with the collection in an
    archive and goes when the collection is dropped."""
    return data_dir / app / collection


@dataclass
class Record:
    """One item read from a file, not yet encoded.

    ``item_id`` is a content hash: loading the same content again overwrites the
    same rows instead of adding duplicates. ``payload`` is what the app's
    ``to_rows`` (by default the encoder) consumes; ``fields`` are the scalar fields
    stored with every row of the item. ``label`` names the item in errors
    (``docs.csv:12``).
    """

    item_id: str
    payload: Any
    fields: dict[str, Any]
    label: str


@dataclass
class ReadFailure:
    """An item a reader could not use; reported in the job and skipped."""

    label: str
    error: str


@dataclass
class EncodedItem:
    """A record turned into rows (one per vector), or a failure."""

    record: Record
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


Reader = Callable[[str, bytes, "AppRuntime"], Iterable[Record | ReadFailure]]
ToRows = Callable[["AppRuntime", Sequence[Record]], list[EncodedItem]]
SearchFn = Callable[["AppRuntime", Any], BaseModel]
UploadSearchFn = Callable[["AppRuntime", str, bytes, Any], BaseModel]
"""Search by an uploaded file: (runtime, file name, file bytes, options) -> response."""
RouterFactory = Callable[["AppRuntime"], "APIRouter"]


def content_id(*parts: str | bytes) -> str:
    """A stable 32-hex-digit id for content (sha256, truncated)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8") if isinstance(p, str) else p)
        h.update(b"\x1f")
    return h.hexdigest()[:32]


def one_row_per_record(rt: AppRuntime, records: Sequence[Record]) -> list[EncodedItem]:
    """The default ``to_rows``: encode each payload into one vector."""
    vectors = rt.encoder.encode([r.payload for r in records])
    return [
        EncodedItem(record=r, rows=[rt.row(r, 0, v)]) for r, v in zip(records, vectors, strict=True)
    ]


T = TypeVar("T")
S = TypeVar("S", bound=BaseSettings)


class _Shared:
    """Objects an app builds once for all its collections (``AppRuntime.cached``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._made: dict[str, Any] = {}

    def get(self, key: str, make: Callable[[], T]) -> T:
        if key in self._made:
            return cast("T", self._made[key])
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._made:
                self._made[key] = make()
            return cast("T", self._made[key])


@dataclass(frozen=True)
class Evaluation:
    """How an app measures itself on its stored data (``POST /api/{app}/evaluate``,
    served by the core on any of the app's collections): ``run(rt, request)``."""

    request: type[BaseModel]
    response: type[BaseModel]
    run: Callable[[AppRuntime, Any], BaseModel]
    summary: str
    description: str = ""


@dataclass(frozen=True)
class AppJob:
    """A background job an app offers beside loads (``POST /api/{app}/{name}``, 202 with
    the job, served by the core on any of the app's collections): ``work(rt)`` is the
    job's work function."""

    name: str
    work: Callable[[AppRuntime], Work]
    summary: str
    description: str = ""


@dataclass(frozen=True)
class CompanionSpec:
    """A collection an app keeps beside each of its own, named ``<collection><suffix>``:
    one row per item of the main collection (``id`` ``"{item_id}:0"``), its vector of
    ``dim`` floats made by ``encoder`` and compared by ``metric``."""

    suffix: str
    dim: int
    metric: Metric
    encoder: str
    fields: tuple[FieldSpec, ...] = ()


@dataclass(frozen=True)
class AppSpec:
    """The declaration of one app."""

    name: str
    title: str
    summary: str
    extensions: frozenset[str]
    fields: tuple[FieldSpec, ...]
    read: Reader
    search_request: type[BaseModel]
    search_response: type[BaseModel]
    search: SearchFn
    make_encoder: Callable[[AppRuntime], Encoder] | None = None
    """Builds the app's own encoder (from ``rt.settings`` and ``rt.app_settings``)."""
    shared_encoder: SharedEncoder | None = None
    """Or a model other apps use too, from ``findalike.encoders.registry`` (built once
    per process for all the apps that name it, and run on one model thread that encodes
    concurrent queries together: ``findalike.core.batching``)."""
    encoder_choices: tuple[SharedEncoder, ...] = ()
    own_text_models: bool = False
    """The operator's own text models (``FINDALIKE_TEXT_MODELS``) are choices too."""
    """Or shared encoders a collection may be made with, chosen per collection by key
    (``encoder`` at creation; the default collection's from the app's settings field
    ``encoder``, else the first) and recorded with it (``AppRuntime.choose``)."""
    to_rows: ToRows = one_row_per_record
    routes: RouterFactory | None = None
    requires: tuple[str, ...] = ()
    """Python modules the app needs; if one is missing the app is listed as disabled."""
    demo_files: Callable[[Path], list[tuple[str, Path]]] | None = None
    """Demo data as (display name, path) pairs, loaded by ``serve --demo``, from the demo
    data folder it is given (``Settings.resolved_demo_data_dir``) or from the package;
    nothing where the folder lacks it."""
    follow_up: Callable[[AppRuntime], Work] | None = None
    """A job to run after the demo load (the recommender trains on what was loaded)."""
    on_drop: Callable[[AppRuntime], None] | None = None
    """Clears app state kept outside Milvus when the app's data is dropped."""
    collection_request: type[BaseModel] | None = None
    """Or the app's own body of ``POST /api/{app}/collections``: ``name`` and the
    app's choices for the new collection (DNA: its encoder and the encoder's options),
    which ``choose_collection`` applies to the new named runtime before it is made."""
    choose_collection: Callable[[AppRuntime, Any], None] | None = None
    batch_size: int | None = None
    """Records encoded per batch, if not FINDALIKE_ENCODE_BATCH_SIZE: small for
    videos (memory), large for cheap encoders (fewer Milvus round trips)."""
    weight: Callable[[AppRuntime, Record], int] | None = None
    """How many model inputs a record makes (a document's passages), so that a load's
    batches hold about ``batch_size`` inputs and its progress moves every few seconds
    however long the items are; ``None``: one input per record."""
    one_row_per_item: bool = False
    """Every item has exactly one vector, so counting rows counts items (fast)."""
    index_type: str | None = None
    """Milvus index; default AUTOINDEX for float vectors, BIN_FLAT (exact) for binary."""
    search_upload: UploadSearchFn | None = None
    """Search by an uploaded file (image, clip): the core serves it as
    ``POST /api/{app}/search/upload`` with the file and ``upload_options`` as form fields."""
    upload_options: type[BaseModel] | None = None
    """The form fields beside the uploaded file (a ``SearchRequest`` without the media)."""
    upload_max_bytes: Callable[[Settings], int] = lambda settings: settings.max_query_bytes
    """The largest query file the upload search takes (FINDALIKE_MAX_QUERY_BYTES unless
    the app's queries are whole items, such as the objects app's videos)."""
    settings: type[BaseSettings] | None = None
    """The app's own settings class (``FINDALIKE_<APP>_...``): the runtime builds it
    once, from the environment and ``.env``; ``create_app(app_settings=...)`` overrides
    it (tests)."""
    stores_originals: bool = False
    """The app keeps each item's original file: it gets ``/items/{item_id}/file``."""
    one_item_per_file: bool = False
    """Each file (or zip member) is one item (an image, a clip): a load's ``total`` is
    known as soon as the files are listed. Otherwise it is known once all are read."""
    stores_thumbnails: bool = False
    """The app keeps thumbnails (of items or frames): it gets ``/items/{item_id}/thumbnail``."""
    companions: tuple[CompanionSpec, ...] = ()
    """Collections the app keeps beside each of its collections (the image app's
    ``_labels``), reached through ``AppRuntime.companion``: not listed as named
    collections of their own, dropped with theirs."""
    evaluation: Evaluation | None = None
    """How the app measures itself (served as ``POST /api/{app}/evaluate``)."""
    jobs: tuple[AppJob, ...] = ()
    """Jobs the app offers beside loads (the recommender's ``train``, image ``labels``)."""
    item_id_pattern: str = CONTENT_ID_PATTERN
    """What the app's item ids look like, stated on ``/items/{item_id}`` routes (a 422
    for any other): content hashes by default, names for the recommender's items."""


class ItemClaims:
    """The items that loads in this process are encoding or writing, by the load that
    holds each: a load claims an item before it looks it up, so two loads of the same
    items (``FINDALIKE_JOB_WORKERS`` > 1) write each one once, and the other counts it
    skipped, as it would had the first load ended before it began."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, tuple[object, threading.Event]] = {}

    def claim(self, owner: object, item_ids: Iterable[str]) -> dict[str, threading.Event]:
        """Claim ``item_ids`` for ``owner``; returns those another load holds, each
        with the event set when that load has written it (or given it up)."""
        busy: dict[str, threading.Event] = {}
        with self._lock:
            for item_id in item_ids:
                held = self._held.get(item_id)
                if held is None:
                    self._held[item_id] = (owner, threading.Event())
                elif held[0] is not owner:
                    busy[item_id] = held[1]
        return busy

    def release(self, owner: object, item_ids: Iterable[str] | None = None) -> None:
        """Give up ``owner``'s claims on ``item_ids`` (all of them when None)."""
        with self._lock:
            ids = list(self._held) if item_ids is None else list(item_ids)
            for item_id in ids:
                held = self._held.get(item_id)
                if held is not None and held[0] is owner:
                    del self._held[item_id]
                    held[1].set()


class AppRuntime:
    """An app bound to this server's settings, store and encoder. Created in the
    lifespan (or the CLI), never at import. All methods block: call them from a
    worker thread in async code."""

    def __init__(
        self,
        spec: AppSpec,
        settings: Settings,
        store: VectorStore,
        *,
        media: MediaStore | None = None,
        encoder_cache: dict[str, Encoder] | None = None,
        app_settings: BaseSettings | None = None,
        collection_name: str | None = None,
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.store = store
        self.media = media
        self.collection_name = collection_name
        """None for the app's default collection, else the name of a named one."""
        self.collection = collection_of(settings.collection_prefix, spec.name, collection_name)
        self._named: dict[str, AppRuntime] = {}
        self.state: dict[str, Any] = {}
        """App-specific state of this collection kept between requests (the
        recommender's model); models the app's collections share: ``cached``."""
        self._shared: _Shared = _Shared()
        self._app_settings = app_settings
        self._encoder: Encoder | None = None
        self._encoder_cache = encoder_cache if encoder_cache is not None else {}
        self._lock = threading.RLock()  # the encoder's factory may read app_settings
        self._chosen: tuple[str | None, Language | None] | None = None
        """(encoder key, language) chosen for a named collection about to be made."""
        self._collection_ready = False
        self._ready_generation = -1
        self._searches: Coalescer[list[Hit]] = Coalescer(self._search_batch)
        self._text_searches: Coalescer[list[Hit]] = Coalescer(self._text_batch)
        self.claims = ItemClaims()
        """Items loads in this process are writing to this collection."""

    @property
    def name(self) -> str:
        return self.spec.name

    # -- named collections --------------------------------------------------------

    def named(self, collection_name: str) -> AppRuntime:
        """The runtime of the app's collection ``collection_name`` (a sibling sharing
        this one's models and settings; its stored files in a folder of its own).
        Cheap and cached; whether the collection exists is ``has_data``'s business."""
        if self.collection_name is not None:
            raise ValueError("named() is called on the default runtime")
        with self._lock:
            rt = self._named.get(collection_name)
            if rt is None:
                media = None if self.media is None else self.media.of_collection(collection_name)
                rt = AppRuntime(
                    self.spec,
                    self.settings,
                    self.store,
                    media=media,
                    encoder_cache=self._encoder_cache,
                    app_settings=self.app_settings,
                    collection_name=collection_name,
                )
                rt._shared = self._shared  # models are the app's, whichever collection
                self._named[collection_name] = rt
            return rt

    def collection_names(self) -> list[str]:
        """The app's named collections in the store (the default one not included)."""
        prefix = f"{self.collection}{NAMED_COLLECTION_SEPARATOR}"
        names = {n[len(prefix) :] for n in self.store.list_collections() if n.startswith(prefix)}
        companions = {f"{n}{c.suffix}" for n in names for c in self.spec.companions}
        return sorted(names - companions)

    def item_url(self, item_id: str, tail: str = "", **params: Any) -> str:
        """The API address of one stored item (``tail`` like ``/file``), naming the
        collection for a named one."""
        if self.collection_name is not None:
            params = {"collection": self.collection_name, **params}
        query = f"?{urlencode(params)}" if params else ""
        return f"/api/{self.name}/items/{item_id}{tail}{query}"

    @property
    def state_dir(self) -> Path:
        """The folder of the app's state beside this collection (``state_dir``): backups
        carry it, ``drop`` removes it. Not made here."""
        return state_dir(self.settings.data_dir, self.name, self.collection)

    def state_database(self, name: str, create: Callable[[sqlite3.Connection], None]) -> Path:
        """The SQLite file ``name`` in ``state_dir``, made if missing, in WAL mode, its
        schema made by ``create`` (one process at a time: the workers of a server share
        it); backups carry it, a drop removes it."""
        path = self.state_dir / name
        set_up_wal(path, create)
        return path

    @property
    def app_settings(self) -> Any:
        """The app's own settings (``AppSpec.settings``), built once; ``None`` for an
        app without any. Typed ``Any``: each app reads it as its own class."""
        if self._app_settings is None and self.spec.settings is not None:
            with self._lock:
                if self._app_settings is None:
                    self._app_settings = self.spec.settings()
        return self._app_settings

    def config(self, kind: type[S]) -> S:
        """The app's own settings (``AppSpec.settings``), typed: ``rt.config(TextSettings)``.
        ``TypeError`` if the app's settings are of another class."""
        found = self.app_settings
        if not isinstance(found, kind):
            raise TypeError(f"the {self.name} app's settings are {type(found).__name__}")
        return found

    def cached(self, key: str, make: Callable[[], T]) -> T:
        """What ``make`` builds (a model, a table derived from one), built once at first
        use and shared by the app's collections, the default one and the named ones;
        callers asking at once wait for one build."""
        return self._shared.get(key, make)

    def forget_encoder(self) -> None:
        """Build the encoder anew at its next use: its settings changed (an app's own
        per-collection choice, ``AppSpec.choose_collection``)."""
        with self._lock:
            self._encoder = None
            self._collection_ready = False

    @property
    def encoder(self) -> Encoder:
        """The app's encoder, created on first use (model weights load from disk)."""
        if self._encoder is None:
            with self._lock:
                if self._encoder is None:
                    self._encoder = self._build_encoder()
        return self._encoder

    # -- encoder and language per collection ------------------------------------

    def choose(self, encoder: str | None = None, language: Language | None = None) -> None:
        """The encoder (a key of ``AppSpec.encoder_choices``) and full-text language
        of this named collection, which is about to be created; ``None``: the app's
        default (the language: the encoder's own). ``ValueError`` for an unknown key."""
        if self.collection_name is None:
            raise ValueError("choose() is for a named collection")
        if encoder is not None and encoder not in self.encoder_keys():
            raise ValueError(f"unknown encoder {encoder!r}")
        with self._lock:
            self._chosen = (encoder, language)
            self._encoder = None
            self._collection_ready = False

    def encoder_keys(self) -> list[str]:
        """The encoders a collection of this app may be made with (none: the app's one)."""
        return [e.key for e in self.encoder_choices]

    @property
    def encoder_choices(self) -> tuple[SharedEncoder, ...]:
        """The encoders a collection of this app may be made with: the app's, then the
        operator's own text models where the app takes them."""
        own = own_text_encoders(self.settings) if self.spec.own_text_models else ()
        return (*self.spec.encoder_choices, *own)

    def _shared_encoder(self) -> SharedEncoder | None:
        """Which shared encoder this collection's vectors come from: the one chosen at
        creation; for an existing named collection, the one its record names; else the
        app's setting ``encoder`` (the default collection: a record that differs is a
        ``Conflict`` at first use, as for any other encoder change)."""
        choices = {e.key: e for e in self.encoder_choices}
        if not choices:
            return self.spec.shared_encoder
        if self._chosen is not None and self._chosen[0] is not None:
            return choices[self._chosen[0]]
        if self.collection_name is not None and self._chosen is None:
            if self.store.exists(self.collection):
                record = self.store.properties(self.collection).get("encoder")
                for e in choices.values():
                    if e.record == record:
                        return e
        default = getattr(self.app_settings, "encoder", None)
        return choices.get(str(default), self.spec.encoder_choices[0])

    def default_encoder_record(self) -> str | None:
        """``name@version`` of the encoder this collection is (or would be) made with,
        where it is known without loading a model (a shared encoder's record)."""
        shared = self._shared_encoder()
        return shared.record or None if shared is not None else None

    def language(self) -> Language:
        """The language of the collection's full text (``findalike.store.LANGUAGES``):
        as recorded for an existing one; else as chosen, or the app's setting
        ``language``, or the encoder's own."""
        if self.store.exists(self.collection):
            recorded = self.store.properties(self.collection).get("language", "en")
            return cast("Language", recorded if recorded in LANGUAGES else "en")
        return self._wanted_language()

    def _wanted_language(self) -> Language:
        chosen: str | None = self._chosen[1] if self._chosen is not None else None
        if chosen is None and self.collection_name is None:
            chosen = getattr(self.app_settings, "language", None)
        if chosen is None:
            shared = self._shared_encoder()
            chosen = shared.language if shared is not None else "en"
        return cast("Language", chosen if chosen in LANGUAGES else "en")

    def _build_encoder(self) -> Encoder:
        batch = self.settings.batch_queries
        shared = self._shared_encoder()
        if shared is not None:
            cache = self._encoder_cache
            with _SHARED_ENCODERS_LOCK:  # two apps asking at once load the model once
                if shared.key not in cache:
                    cache[shared.key] = shared.make(self.settings)
                if not batch:
                    return cache[shared.key]
                threaded = f"{shared.key}:model-thread"  # and share one model thread
                if threaded not in cache:
                    cache[threaded] = BatchingEncoder(cache[shared.key])
                return cache[threaded]
        if self.spec.make_encoder is None:
            raise TypeError(f"app {self.name!r} declares no encoder")
        return self.spec.make_encoder(self)  # cheap or app-specific: called in place

    @property
    def search_stats(self) -> BatchStats:
        """How the app's searches were batched (``findalike.core.batching``)."""
        return self._searches.stats

    @property
    def encoder_loaded(self) -> bool:
        return self._encoder is not None

    def collection_spec(self) -> CollectionSpec:
        enc = self.encoder
        index, params = self._index_choice(enc.vector_kind)
        return CollectionSpec(
            name=self.collection,
            dim=enc.dim,
            vector_kind=enc.vector_kind,
            metric=enc.metric,
            encoder=f"{enc.name}@{enc.version}",
            fields=self.spec.fields,
            index_type=index,
            index_params=tuple(sorted(params.items())),
            language=self._wanted_language(),
        )

    def _index_choice(self, vector_kind: str) -> tuple[str, dict[str, int]]:
        """The index a new collection gets: the app's own choice (exact ``BIN_FLAT`` for
        binary vectors, say), else ``FINDALIKE_INDEX_TYPE``; ``auto`` is Milvus Lite's
        AUTOINDEX (HNSW over sealed rows) on the embedded default, HNSW on a server."""
        if self.spec.index_type:
            return self.spec.index_type, {}
        if vector_kind == "binary":
            return "BIN_FLAT", {}
        s = self.settings
        chosen = s.index_type
        if chosen == "auto" and self.store.is_compiled_lite:
            chosen = "FLAT"  # exact, and fast in C++: see the README's "How big on what"
        elif chosen == "auto":
            chosen = "AUTOINDEX" if self.store.is_lite else "HNSW"
        if chosen == "HNSW" and self.store.is_compiled_lite:
            raise Conflict(
                "FINDALIKE_INDEX_TYPE=HNSW needs a Milvus server: Milvus Lite 2.5 builds "
                "FLAT, IVF_FLAT or AUTOINDEX."
            )
        if chosen == "HNSW":
            return chosen, {"M": s.hnsw_m, "efConstruction": s.hnsw_ef_construction}
        if chosen == "IVF_FLAT":
            return chosen, {"nlist": s.ivf_nlist}
        return chosen, {}

    @property
    def batch_size(self) -> int:
        return self.spec.batch_size or self.settings.encode_batch_size

    def ensure_collection(self) -> None:
        if not self._ready():
            self.store.ensure(self.collection_spec())
            self._ready_generation = self.store.generation
            self._collection_ready = True

    def _ready(self) -> bool:
        """Whether the collection was checked since any process last created or
        dropped a collection (``VectorStore.generation``)."""
        return self._collection_ready and self._ready_generation == self.store.generation

    def target(self, collection: str | None) -> AppRuntime:
        """The runtime a request is about: this (default) one, or the named collection
        ``collection``, which must exist (404 naming how to create it)."""
        if collection is None:
            return self
        named = self.named(collection)
        if not named.has_data():
            raise NotFound(
                f"The {self.name} app has no collection {collection!r}: create it with "
                f"POST /api/{self.name}/collections."
            )
        return named

    def has_data(self) -> bool:
        """Whether the collection exists (and, if so, is compatible)."""
        if self._ready():
            return True
        if not self.store.exists(self.collection):
            self._collection_ready = False
            return False
        self.ensure_collection()
        return True

    def row(self, record: Record, part: int, vector: np.ndarray, **extra: Any) -> dict[str, Any]:
        """One row of ``record``: the skeleton fields, the record's fields, ``extra``."""
        return {
            "id": f"{record.item_id}:{part}",
            "item_id": record.item_id,
            "part": part,
            "vector": vector,
            **record.fields,
            **extra,
        }

    # -- operations shared by every app -------------------------------------------

    def search(self, request: BaseModel) -> BaseModel:
        """The app's search, held to the contract: at most ``top_k`` hits, none
        under ``min_score`` (see ``findalike.core.contract``); its ``ef``/``nprobe`` reach
        every index search it makes (``search_vectors``)."""
        token = _INDEX_PARAMS.set(index_search_params(request))
        try:
            return apply_contract(request, self.spec.search(self, request))
        finally:
            _INDEX_PARAMS.reset(token)

    def search_upload(self, name: str, data: bytes, options: BaseModel) -> BaseModel:
        """The app's search by an uploaded file, held to the same contract."""
        if self.spec.search_upload is None:
            raise NotFound(f"The {self.name} app has no search by upload.")
        token = _INDEX_PARAMS.set(index_search_params(options))
        try:
            return apply_contract(options, self.spec.search_upload(self, name, data, options))
        finally:
            _INDEX_PARAMS.reset(token)

    def search_vectors(
        self,
        vectors: np.ndarray,
        *,
        limit: int,
        filter: str = "",
        output_fields: Sequence[str] | None = None,
        exact: bool = False,
    ) -> list[list[Hit]]:
        """Nearest rows for each query vector; an empty list per query if nothing
        has been loaded yet. ``exact``: by Milvus over every row, never through a big
        collection's HNSW graph (``VectorStore.search``)."""
        if not self.has_data():
            return [[] for _ in range(len(vectors))]
        fields = [f.name for f in self.spec.fields] if output_fields is None else output_fields
        limit = min(limit, MAX_RESULT_ROWS)
        key = (filter, ("part", *fields), limit, self._index_params(limit), exact)
        if self.settings.batch_queries:  # concurrent searches alike go as one request
            return self._searches(key, vectors)
        return self._search_batch(key, vectors)

    def _index_params(self, limit: int) -> tuple[tuple[str, int], ...]:
        """The ``ef``/``nprobe`` of the search request being answered, made valid for
        ``limit`` hits: HNSW finds at most ``ef`` rows; IVF probes at most its lists."""
        params = dict(_INDEX_PARAMS.get() or {})
        if "ef" in params:
            params["ef"] = max(params["ef"], limit)
        if "nprobe" in params:
            params["nprobe"] = min(params["nprobe"], self.settings.ivf_nlist)
        return tuple(sorted(params.items()))

    def _search_batch(self, key: Hashable, vectors: np.ndarray) -> list[list[Hit]]:
        filter, fields, limit, params, exact = cast(
            "tuple[str, tuple[str, ...], int, tuple[tuple[str, int], ...], bool]", key
        )
        return self.store.search(
            self.collection,
            vectors,
            limit=limit,
            filter=filter,
            output_fields=fields,
            params=dict(params) or None,
            exact=exact,
        )

    # -- text modes: full text (BM25) and hybrid, coalesced like dense searches --------

    def has_full_text(self) -> bool:
        """Whether the collection has a full-text (BM25) index, which lexical and hybrid
        search need (one made before findalike had one, or on a Milvus before 2.5, has
        none)."""
        return self.has_data() and self.store.lexical_field(self.collection) is not None

    def search_text(
        self,
        mode: Literal["lexical", "hybrid"],
        text: str,
        vector: np.ndarray,
        *,
        limit: int,
        lexical_weight: float | None = None,
        filter: str = "",
        output_fields: Sequence[str] = (),
    ) -> list[Hit]:
        """Hits for ``text`` by BM25 alone (``lexical``) or fused with the dense
        ``vector`` (``hybrid``: reciprocal rank fusion, or a weighted sum given
        ``lexical_weight``); each hit's ``distance`` is the dense similarity, so scores
        keep one meaning (``VectorStore.hybrid_search``). Concurrent searches alike go to
        Milvus as one request, as dense ones do, and the request's ``ef``/``nprobe``
        reach the dense leg. Call ``has_full_text`` first."""
        if not self.has_data():
            return []
        limit = min(limit, MAX_RESULT_ROWS)
        weight = None if mode == "lexical" else lexical_weight
        key = (mode, filter, tuple(output_fields), limit, weight, self._index_params(limit))
        row = np.empty(1, dtype=object)
        row[0] = (text, np.asarray(vector))
        if self.settings.batch_queries:
            return self._text_searches(key, row)[0]
        return self._text_batch(key, row)[0]

    def _text_batch(self, key: Hashable, rows: np.ndarray) -> list[list[Hit]]:
        mode, filter, fields, limit, weight, params = cast(
            "tuple[str, str, tuple[str, ...], int, float | None, tuple[tuple[str, int], ...]]",
            key,
        )
        texts = [str(text) for text, _ in rows]
        vectors = np.stack([vector for _, vector in rows])
        metric = self.encoder.metric
        if mode == "lexical":
            return self.store.lexical_searches(
                self.collection,
                texts,
                vectors,
                limit=limit,
                metric=metric,
                filter=filter,
                output_fields=fields,
            )
        return self.store.hybrid_searches(
            self.collection,
            texts,
            vectors,
            limit=limit,
            metric=metric,
            lexical_weight=weight,
            filter=filter,
            output_fields=fields,
            params=dict(params) or None,
        )

    # -- reads and writes: the one door to the collection's rows --------------------

    def query(
        self,
        filter: str = "",
        *,
        output_fields: Sequence[str],
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """The rows matching ``filter`` (literals written with
        ``findalike.schema.quote``/``in_filter``), without vectors; at most ``limit``
        from ``offset`` (their sum capped at ``MAX_RESULT_ROWS``). Nothing before the
        first load."""
        if not self.has_data():
            return []
        if limit is not None:
            limit = max(0, min(limit, MAX_RESULT_ROWS - offset))
        return self.store.query(
            self.collection,
            filter=filter,
            output_fields=output_fields,
            limit=limit,
            offset=offset,
        )

    def rows(
        self, output_fields: Sequence[str], *, batch_rows: int = 1000
    ) -> Iterator[list[dict[str, Any]]]:
        """Every row, in pages of at most ``batch_rows`` (``VectorStore.iter_rows``: not
        capped as ``query`` is)."""
        if not self.has_data():
            return iter(())
        return self.store.iter_rows(
            self.collection, output_fields=output_fields, batch_rows=batch_rows
        )

    def count_rows(self, filter: str = "", *, cached: bool = False) -> int:
        """Rows (vectors) stored, those matching ``filter`` if given (``cached``: see
        ``VectorStore.count``)."""
        if not self.has_data():
            return 0
        return self.store.count(self.collection, filter=filter, cached=cached)

    def write(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert or overwrite ``rows`` (by ``id``; made with ``row``) and flush them,
        creating the collection at its first write."""
        self.ensure_collection()
        written = self.store.upsert(
            self.collection, rows, batch_rows=self.settings.insert_batch_rows
        )
        self.store.flush(self.collection)
        return written

    def delete_items(self, item_ids: Sequence[str], *, flush: bool = True) -> int:
        """Delete items: every row of each, their rows in the companion collections
        and their stored files; returns the rows deleted (0: none of them is stored)."""
        if not item_ids or not self.has_data():
            return 0
        where = in_filter("item_id", item_ids)
        deleted = self.store.delete(self.collection, filter=where)
        for companion in self.companions():
            companion.delete(where)
        if flush:
            self.store.flush(self.collection)
        if deleted:
            self.forget_files(item_ids)
        return deleted

    def stored_fields(self) -> set[str]:
        """The scalar fields the collection was made with (an older one may lack a
        field the app declares now); empty before the first load."""
        if not self.store.exists(self.collection):
            return set()
        return {f.name for f in self.store.describe(self.collection).fields}

    def stored_record(self) -> dict[str, str]:
        """The collection's record (encoder, dimension, metric, vector kind, language),
        empty before the first load."""
        if not self.store.exists(self.collection):
            return {}
        return self.store.properties(self.collection)

    @property
    def binary_vectors(self) -> bool:
        """Whether the store keeps binary vectors (Milvus Lite 3.2 does not)."""
        return not self.store.is_lite or self.store.is_compiled_lite

    def companion(self, suffix: str) -> Companion:
        """The collection the app keeps beside this one under ``suffix`` (declared in
        ``AppSpec.companions``): dropped with this one."""
        found = [c for c in self.companions() if c.spec.suffix == suffix]
        if not found:
            raise KeyError(f"the {self.name} app declares no companion {suffix!r}")
        return found[0]

    def companions(self) -> list[Companion]:
        """Every collection the app keeps beside this one."""
        return [Companion(self, spec) for spec in self.spec.companions]

    def existing_items(self, item_ids: Sequence[str]) -> set[str]:
        """Which of ``item_ids`` are already stored (looked up by primary key, the
        fast path on every Milvus)."""
        if not item_ids or not self.has_data():
            return set()
        rows = self.store.query(
            self.collection,
            filter=in_filter("id", [f"{i}:0" for i in item_ids]),
            output_fields=["item_id"],
        )
        return {str(r["item_id"]) for r in rows}

    def count(self) -> tuple[int, int]:
        """(items, vectors) stored."""
        if not self.has_data():
            return 0, 0
        vectors = self.store.count(self.collection)
        if self.spec.one_row_per_item:
            return vectors, vectors
        return self.store.count(self.collection, filter="part == 0", cached=True), vectors

    def list_items(self, *, offset: int, limit: int) -> list[dict[str, Any]]:
        """A page of stored items (the first row of each, without vectors), in the
        store's order (the same from page to page while nothing is written on Milvus Lite,
        where the browse tests run; a server gives no order guarantee across pages)."""
        if not self.has_data():
            return []
        return self.store.query(
            self.collection,
            filter="part == 0",
            output_fields=["item_id", *[f.name for f in self.spec.fields]],
            limit=limit,
            offset=offset,
        )

    def get_item(self, item_id: str) -> dict[str, Any] | None:
        """The first row of an item (its fields, without the vector), or None."""
        if not self.has_data():
            return None
        rows = self.store.query(
            self.collection,
            filter=f"id == {quote(item_id + ':0')}",
            output_fields=["item_id", *[f.name for f in self.spec.fields]],
        )
        return rows[0] if rows else None

    def part_rows(
        self, item_ids: Sequence[str], part: int, output_fields: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """Row ``part`` of each of ``item_ids`` (those that have one), by item id: one
        lookup by primary key for those not read since the collection last changed
        (``VectorStore.rows_by_id``)."""
        if not item_ids or not self.has_data():
            return {}
        rows = self.store.rows_by_id(
            self.collection,
            [f"{i}:{part}" for i in dict.fromkeys(item_ids)],
            ["item_id", *output_fields],
        )
        return {str(r["item_id"]): r for r in rows.values()}

    def item_rows(self, item_id: str, output_fields: Sequence[str]) -> list[dict[str, Any]]:
        """Every row of one item, ordered by part."""
        if not self.has_data():
            return []
        rows = self.store.query(
            self.collection,
            filter=f"item_id == {quote(item_id)}",
            output_fields=["part", *output_fields],
        )
        return sorted(rows, key=lambda r: int(r["part"]))

    def delete_item(self, item_id: str) -> int:
        """Delete one item (``delete_items``); returns the rows deleted (0: unknown
        item, nothing done)."""
        return self.delete_items([item_id], flush=False)

    def forget_files(self, item_ids: Iterable[str]) -> None:
        """Remove the stored files of items whose rows are gone."""
        if self.media is not None and (self.spec.stores_originals or self.spec.stores_thumbnails):
            for item_id in item_ids:
                self.media.delete(self.name, item_id)

    def drop(self) -> bool:
        """Drop the app's collection and whatever the app keeps beside it: its
        companions, stored files and state (on disk and in ``state``), a named one's
        encoder choice (it may be made again with another)."""
        self._collection_ready = False
        if self.collection_name is not None and self.encoder_choices:
            with self._lock:
                self._chosen = None
                self._encoder = None
        dropped = self.store.drop(self.collection)
        for companion in self.companions():
            companion.drop()
        if self.spec.on_drop is not None:
            self.spec.on_drop(self)
        if self.media is not None:  # the collection's stored files go with it
            shutil.rmtree(self.media.root / self.name, ignore_errors=True)
        shutil.rmtree(self.state_dir, ignore_errors=True)  # and its state, on disk
        self.state.clear()  # and in memory (a recommender, caches): the next use starts anew
        return dropped


class Companion:
    """A collection kept beside an app's own (``CompanionSpec``), reached through
    ``AppRuntime.companion``: made at its first write, dropped with the app's."""

    def __init__(self, rt: AppRuntime, spec: CompanionSpec) -> None:
        self._store = rt.store
        self.spec = spec
        self.name = f"{rt.collection}{spec.suffix}"

    def exists(self) -> bool:
        return self._store.exists(self.name)

    def ensure(self) -> None:
        """Make the collection if it is not there (or check it is compatible)."""
        self._store.ensure(
            CollectionSpec(
                name=self.name,
                dim=self.spec.dim,
                vector_kind="float",
                metric=self.spec.metric,
                encoder=self.spec.encoder,
                fields=self.spec.fields,
            )
        )

    def write(self, rows: Sequence[dict[str, Any]], *, flush: bool = True) -> int:
        """Insert or overwrite rows (by ``id``), making the collection first."""
        self.ensure()
        written = self._store.upsert(self.name, rows)
        if flush:
            self._store.flush(self.name)
        return written

    def flush(self) -> None:
        if self.exists():
            self._store.flush(self.name)

    def query(
        self, filter: str = "", *, output_fields: Sequence[str], limit: int | None = None
    ) -> list[dict[str, Any]]:
        if not self.exists():
            return []
        return self._store.query(self.name, filter=filter, output_fields=output_fields, limit=limit)

    def count(self) -> int:
        return self._store.count(self.name) if self.exists() else 0

    def delete(self, filter: str) -> int:
        """Delete the rows matching ``filter`` (those of deleted items)."""
        return self._store.delete(self.name, filter=filter) if self.exists() else 0

    def search(
        self, vectors: np.ndarray, *, limit: int, output_fields: Sequence[str] = ()
    ) -> list[list[Hit]]:
        if not self.exists():
            return [[] for _ in range(len(vectors))]
        limit = min(limit, MAX_RESULT_ROWS)
        return self._store.search(self.name, vectors, limit=limit, output_fields=output_fields)

    def drop(self) -> bool:
        return self._store.drop(self.name)
