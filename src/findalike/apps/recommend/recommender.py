"""The recommender bound to one app runtime: its ratings, its trained model, training
as a job, and the queries (a stored user, a new user from liked items, similar items).

Serving and retraining: the model in use is one ``FactorModel`` object, replaced by a
single assignment when a new one is ready. Training reads the ratings, fits ALS,
upserts the new item vectors over the old ones (same row ids, one Milvus call per
2,000 items), flushes, saves the model file, and only then swaps; until then the
previous model answers. During the upsert itself (well under a second for a few
thousand items) a query may rank some items by new vectors and some by old ones;
it never sees an empty collection.

Queries are scored in memory: the same inner products (and, for similar items, the
same inner-product shortlist re-ranked by cosine) that Milvus would compute over the
stored item vectors, with numpy over the model's float32 factors (~10x the requests
per second of a Milvus Lite search per request). Only items the store holds are
ranked: which ones is read from the store when the model changes and again when the
store's row count has changed, checked at most every ``STORED_ITEMS_RECHECK_S``. If
they cannot be read in one query (more than 16,384 items), queries go to Milvus.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from findalike.apps.recommend.models import (
    EvaluateRequest,
    EvaluationReport,
    FoldInRequest,
    ModelInfo,
    Recommendation,
    Recommendations,
    SimilarItem,
    SimilarItems,
    UsersRecommendations,
)
from findalike.apps.recommend.ratings import (
    ItemInfo,
    Rating,
    RatingsStore,
    RatingsTable,
    create_schema,
)
from findalike.apps.recommend.settings import RecommendSettings
from findalike.core.app import AppRuntime
from findalike.core.contract import apply_contract
from findalike.encoders.factors import (
    FactorModel,
    TrainParams,
    confidence_matrix,
    fold_in,
    train_als,
)
from findalike.errors import Conflict, InvalidInput, NotFound
from findalike.jobs import JobContext
from findalike.schema import MAX_RESULT_ROWS

log = logging.getLogger(__name__)

DEFAULT_FOLD_IN_RATING = 5.0
SIMILAR_CANDIDATES_PER_RESULT = 10
"""Similar items: Milvus returns this many inner-product candidates per wanted
result; they are re-ranked by cosine so that popular items (long vectors) do not
crowd out the truly similar ones."""
STORED_ITEMS_RECHECK_S = 1.0
"""How often the store's row count is compared with the in-memory set of stored
items (a Milvus Lite count costs milliseconds, as much as the scoring itself)."""
_MAX_QUERY_ROWS = MAX_RESULT_ROWS


def recommender(rt: AppRuntime) -> Recommender:
    """The runtime's recommender, created on first use and kept in ``rt.state``."""
    rec = rt.state.get("recommender")
    if rec is None:
        with _create_lock:
            rec = rt.state.get("recommender")
            if rec is None:
                rec = rt.state["recommender"] = Recommender(rt)
    return rec


_create_lock = threading.Lock()


class Recommender:
    def __init__(self, rt: AppRuntime, settings: RecommendSettings | None = None) -> None:
        self.rt = rt
        self.settings = settings or rt.config(RecommendSettings)
        self.folder: Path = rt.state_dir
        self.ratings = RatingsStore(rt.state_database("ratings.sqlite", create_schema))
        self.model_path = self.folder / "model.npz"
        self._model: FactorModel | None = None
        self._model_checked = False
        self._model_key: tuple[int, int] | None = None
        self._titles: dict[str, str] | None = None
        self._lock = threading.Lock()
        self._train_lock = threading.Lock()
        self._stored: StoredItems | None = None
        self._writing = threading.Event()
        """Set while training rewrites the item vectors: an upsert is a delete then an
        insert (Milvus Lite 2.5 shows the gap to a count or a query), so the items
        known to be stored are not re-read meanwhile."""

    # -- state ----------------------------------------------------------------

    @property
    def model(self) -> FactorModel | None:
        """The model in use, or None: loaded from disk on first access, and again
        whenever the file was replaced (trained by another worker process; a ``stat``
        per access) or removed (dropped by one)."""
        key = _file_key(self.model_path)
        if not self._model_checked or key != self._model_key:
            with self._lock:
                if not self._model_checked or key != self._model_key:
                    self._model = FactorModel.load(self.model_path) if key else None
                    self._model_key = key
                    self._model_checked = True
                    self._titles = None
        return self._model

    def require_model(self) -> FactorModel:
        model = self.model
        if model is None:
            raise Conflict(
                "No recommender model has been trained yet: load ratings "
                "(POST /api/recommend/load), then POST /api/recommend/train."
            )
        if not self.rt.has_data():
            raise Conflict(
                "The item vectors are gone (the collection was dropped): "
                "POST /api/recommend/train to store them again."
            )
        return model

    def title(self, item: str) -> str:
        if self._titles is None:
            self._titles = self.ratings.titles()
        return self._titles.get(item, item)

    def store(self, ratings: list[Rating], items: list[ItemInfo]) -> None:
        """Keep loaded ratings and item metadata (the load job's "encoding")."""
        if ratings:
            self.ratings.add_ratings(ratings)
        if items:
            self.ratings.add_items(items)
            self._titles = None

    def info(self) -> ModelInfo:
        stored = self.ratings.counts()
        model = self.model
        if model is None:
            return ModelInfo(stored=stored)
        return ModelInfo(
            version=model.version,
            users=len(model.user_ids),
            items=len(model.item_ids),
            trained_on_ratings=int(model.info.get("ratings", 0)),
            factors=model.dim,
            trained_at=model.info.get("trained_at"),
            train_s=model.info.get("train_s"),
            stored=stored,
        )

    # -- training ---------------------------------------------------------------

    def train(self, job: JobContext | None = None) -> str:
        """Train on every stored rating, store the item vectors, then swap models."""
        with self._train_lock:
            if job is not None:
                job.phase("reading ratings")
            table = self.ratings.table()
            if len(table) == 0:
                raise InvalidInput(
                    "No ratings loaded yet: POST /api/recommend/load a ratings "
                    "CSV (user,item,rating[,timestamp]) first."
                )
            params = self.settings.params()
            if job is not None:
                job.set_total(params.iterations)
                job.phase("training")
            started = time.perf_counter()
            model = self._fit(table, params, _progress(job))
            model.info["train_s"] = round(time.perf_counter() - started, 3)
            if job is not None:
                job.phase("storing vectors")
            self._store_vectors(model, table)
            model.save(self.model_path)
            with self._lock:
                self._model, self._model_checked = model, True
                self._model_key = _file_key(self.model_path)
        return (
            f"model v{model.version}: ALS with {params.factors} factors on {len(table)} ratings "
            f"({len(model.user_ids)} users x {len(model.item_ids)} items) in "
            f"{model.info['train_s']} s"
        )

    def _fit(
        self, table: RatingsTable, params: TrainParams, on_iteration: Callable[[int], None]
    ) -> FactorModel:
        users, user_idx = np.unique(table.users.astype(str), return_inverse=True)
        items, item_idx = np.unique(table.items.astype(str), return_inverse=True)
        matrix = confidence_matrix(
            user_idx, item_idx, table.ratings, (len(users), len(items)), params.alpha
        )
        user_factors, item_factors = train_als(matrix, params, on_iteration=on_iteration)
        previous = self.model
        return FactorModel(
            user_ids=[str(u) for u in users],
            item_ids=[str(i) for i in items],
            user_factors=user_factors,
            item_factors=item_factors,
            params=params,
            version=(previous.version + 1) if previous else 1,
            info={
                "ratings": len(table),
                "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "item_ratings": np.bincount(item_idx, minlength=len(items)).tolist(),
            },
        )

    def _store_vectors(self, model: FactorModel, table: RatingsTable) -> None:
        self.rt.ensure_collection()
        counts = model.info.pop("item_ratings")
        rows: list[dict[str, Any]] = [
            {
                "id": f"{item}:0",
                "item_id": item,
                "part": 0,
                "vector": model.item_factors[n],
                "title": self.title(item)[:500],
                "n_ratings": int(counts[n]),
            }
            for n, item in enumerate(model.item_ids)
        ]
        self._writing.set()
        try:
            self.rt.write(rows)
        finally:
            self._writing.clear()

    # -- queries ----------------------------------------------------------------

    def for_user(self, user: str, k: int) -> Recommendations:
        """Top-k items ``user`` has not rated. ``NotFound`` for an unknown user."""
        model = self.require_model()
        row = model.user_index.get(user)
        if row is None:
            if self.ratings.has_user(user):
                raise NotFound(
                    f"User {user!r} has ratings but the model (v{model.version}) was "
                    "trained before they were loaded: POST /api/recommend/train."
                )
            raise NotFound(f"Unknown user {user!r}.")
        rated = self.ratings.rated_items(user)
        items = self._top(model, model.user_factors[row], k, exclude=rated)
        return Recommendations(user=user, model_version=model.version, hits=items)

    def for_users(self, users: list[str], k: int) -> UsersRecommendations:
        """``for_user`` for each of ``users`` (repeats answered once); the users the
        model does not know are listed, not fatal."""
        model = self.require_model()
        answered, unknown = [], []
        for user in dict.fromkeys(users):
            if user in model.user_index:
                answered.append(self.for_user(user, k))
            else:
                unknown.append(user)
        return UsersRecommendations(
            model_version=model.version,
            data=answered,
            count=len(answered),
            unknown_users=unknown,
        )

    def for_liked(
        self, liked: list[str], k: int, ratings: list[float] | None = None
    ) -> Recommendations:
        """Top-k for a new user who liked ``liked`` (fold-in). ``NotFound`` if the
        model knows none of them; unknown ones are listed and ignored."""
        model = self.require_model()
        values = ratings or [DEFAULT_FOLD_IN_RATING] * len(liked)
        known = [
            (model.item_index[i], r)
            for i, r in zip(liked, values, strict=True)
            if i in model.item_index
        ]
        unknown = [i for i in liked if i not in model.item_index]
        if not known:
            raise NotFound(f"None of the liked items is known to the model: {', '.join(liked)}.")
        rows, weights = zip(*known, strict=True)
        vector = fold_in(model, list(rows), list(weights))
        items = self._top(model, vector, k, exclude=set(liked))
        return Recommendations(
            user=None, model_version=model.version, hits=items, unknown_items=unknown
        )

    def similar(self, item: str, k: int) -> SimilarItems:
        """The k items whose factors are closest in cosine to ``item``'s."""
        model = self.require_model()
        row = model.item_index.get(item)
        if row is None:
            raise NotFound(f"Unknown item {item!r}.")
        query = model.item_factors[row] / model.item_norms[row]
        limit = min(len(model.item_ids), (k + 1) * SIMILAR_CANDIDATES_PER_RESULT)
        scored = []
        for item_id, product in self._nearest(model, query, limit):
            other = model.item_index.get(item_id)
            if other is None or other == row:
                continue
            scored.append((product / float(model.item_norms[other]), item_id))
        scored.sort(reverse=True)
        return SimilarItems(
            item=item,
            title=self.title(item),
            model_version=model.version,
            hits=[
                SimilarItem(item_id=i, item=i, title=self.title(i), score=round(s, 6))
                for s, i in scored[:k]
            ],
        )

    def _top(
        self, model: FactorModel, vector: np.ndarray, k: int, *, exclude: set[str]
    ) -> list[Recommendation]:
        out = []
        for item_id, product in self._nearest(model, vector, k + len(exclude)):
            if item_id in exclude:
                continue
            out.append(
                Recommendation(
                    item_id=item_id,
                    item=item_id,
                    title=self.title(item_id),
                    score=round(product, 6),
                )
            )
            if len(out) == k:
                break
        return out

    def _nearest(
        self, model: FactorModel, vector: np.ndarray, limit: int
    ) -> list[tuple[str, float]]:
        """The ``limit`` stored items with the largest inner product with ``vector``,
        best first (ties by model row), as (item id, inner product): numpy over the
        model's factors, or a Milvus search when the stored items are not known."""
        limit = min(limit, _MAX_QUERY_ROWS)
        stored = self._stored_items(model)
        if stored is None:
            hits = self.rt.search_vectors(vector[None, :], limit=limit, output_fields=[])[0]
            return [(h.item_id, h.distance) for h in hits]
        products = model.item_factors @ vector.astype(np.float32)
        rows = np.flatnonzero(stored)
        if len(rows) > limit:
            rows = rows[np.argpartition(-products[rows], limit - 1)[:limit]]
        rows = rows[np.lexsort((rows, -products[rows]))]
        return [(model.item_ids[r], float(products[r])) for r in rows]

    def _stored_items(self, model: FactorModel) -> np.ndarray | None:
        """Which of ``model``'s items the store holds, re-read when the model or the
        store's row count has changed; None if they cannot be read in one query."""
        now = time.monotonic()
        stored = self._stored
        if (
            stored is not None
            and stored.model is model
            and (now - stored.checked_at < STORED_ITEMS_RECHECK_S or self._writing.is_set())
        ):
            return stored.mask
        rows = self.rt.count_rows()
        if stored is None or stored.model is not model or stored.rows != rows:
            stored = _read_stored_items(self.rt, model, rows)
        else:
            stored = StoredItems(model, rows, stored.mask, now)
        self._stored = stored
        return stored.mask

    # -- evaluation ---------------------------------------------------------------

    def evaluate(self, request: EvaluateRequest) -> EvaluationReport:
        """Hold-out evaluation on the stored ratings; the serving model is untouched."""
        from findalike.apps.recommend.evaluation import evaluate

        table = self.ratings.table()
        if len(table) == 0:
            raise InvalidInput("No ratings loaded yet.")
        return evaluate(table, request, self.settings.params())


@dataclass(frozen=True)
class StoredItems:
    """``mask[n]``: whether the store holds ``model.item_ids[n]`` (None: unknown),
    as read when the store held ``rows`` rows."""

    model: FactorModel
    rows: int
    mask: np.ndarray | None
    checked_at: float


def _read_stored_items(rt: AppRuntime, model: FactorModel, rows: int) -> StoredItems:
    mask = None
    if rows < _MAX_QUERY_ROWS:
        found = rt.query("part == 0", output_fields=["item_id"], limit=_MAX_QUERY_ROWS)
        mask = np.zeros(len(model.item_ids), dtype=bool)
        for row in found:
            n = model.item_index.get(str(row["item_id"]))
            if n is not None:
                mask[n] = True
    return StoredItems(model, rows, mask, time.monotonic())


def _progress(job: JobContext | None) -> Callable[[int], None]:
    def on_iteration(_iteration: int) -> None:
        if job is not None:
            job.check_cancelled()
            job.advance(done=1)

    return on_iteration


def train_work(rt: AppRuntime) -> Callable[[JobContext], str | None]:
    """A job work function that retrains ``rt``'s recommender (for ``JobManager.submit``)."""

    def work(job: JobContext) -> str | None:
        return recommender(rt).train(job)

    return work


def _file_key(path: Path) -> tuple[int, int] | None:
    """What tells one version of a file from the next (it is replaced atomically)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns)


def forget_everything(rt: AppRuntime) -> None:
    """On drop: the ratings and the model go with the vectors (the runtime then removes
    their folder and forgets this recommender: the next use starts a new, empty one)."""
    rec = recommender(rt)
    with rec._lock:
        rec.ratings.clear()
        rec.model_path.unlink(missing_ok=True)
        rec._model = None
        rec._model_checked = True
        rec._model_key = None
        rec._titles = None


def fold_in_search(rt: AppRuntime, request: FoldInRequest) -> Recommendations:
    """``POST /api/recommend/fold-in``: recommendations for a new user, held to the
    search contract (``top_k``, ``min_score``) as the shared search is."""
    found = recommender(rt).for_liked(request.items, request.top_k, request.ratings)
    apply_contract(request, found)
    return found


def evaluate_app(rt: AppRuntime, request: EvaluateRequest | None = None) -> EvaluationReport:
    """Evaluate on ``rt``'s stored ratings (the CLI's entry point)."""
    return recommender(rt).evaluate(request or EvaluateRequest())
