"""Matrix factorisation for the recommender: implicit-feedback ALS (the ``implicit``
library) trained on a user x item confidence matrix, fold-in of a new user, and the
trained model's on-disk form.

Ratings are implicit feedback with a confidence: ``c = 1 + alpha * rating``
(Hu, Koren & Volinsky 2008). A user's score for an item is the inner product of
their factors, so item vectors live in Milvus under the ``IP`` metric.

``implicit``, ``scipy`` and ``threadpoolctl`` are imported inside the functions that
need them, never at import.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from findalike.encoders.base import Metric, VectorKind
from findalike.errors import Conflict, InvalidInput

IterationCallback = Callable[[int], None]
"""Called after each ALS iteration with the iteration number (0-based)."""


@dataclass(frozen=True)
class TrainParams:
    """ALS hyper-parameters. Defaults chosen on InstEval (a validation split with
    another seed than the tests'): 64 factors, 15 iterations."""

    factors: int = 64
    iterations: int = 15
    regularization: float = 0.05
    alpha: float = 1.0
    """Confidence per rating point: ``c = 1 + alpha * rating``."""
    seed: int = 0


@dataclass
class FactorModel:
    """A trained model: ``user_factors`` (n_users, f) and ``item_factors`` (n_items, f),
    float32, rows in the order of ``user_ids`` / ``item_ids``."""

    user_ids: list[str]
    item_ids: list[str]
    user_factors: np.ndarray
    item_factors: np.ndarray
    params: TrainParams
    version: int = 1
    info: dict[str, Any] = field(default_factory=dict)
    """Provenance: ratings, trained_at, train_s."""

    def __post_init__(self) -> None:
        self.user_index = {u: n for n, u in enumerate(self.user_ids)}
        self.item_index = {i: n for n, i in enumerate(self.item_ids)}
        y = self.item_factors.astype(np.float64)
        self.gram = y.T @ y
        """``Y^T Y``, precomputed for fold-in."""
        norms = np.linalg.norm(self.item_factors, axis=1)
        norms[norms == 0] = 1.0
        self.item_norms = norms.astype(np.float32)

    @property
    def dim(self) -> int:
        return int(self.item_factors.shape[1])

    def save(self, path: Path) -> None:
        """Write atomically (a temporary file renamed over ``path``)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"params": self.params.__dict__, "version": self.version, "info": self.info}
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
        os.close(fd)
        try:
            with open(tmp, "wb") as f:
                np.savez(
                    f,
                    user_ids=np.array(self.user_ids, dtype=str),
                    item_ids=np.array(self.item_ids, dtype=str),
                    user_factors=self.user_factors,
                    item_factors=self.item_factors,
                    meta=np.array(json.dumps(meta)),
                )
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def load(cls, path: Path) -> FactorModel:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return cls(
                user_ids=[str(u) for u in z["user_ids"]],
                item_ids=[str(i) for i in z["item_ids"]],
                user_factors=z["user_factors"].astype(np.float32),
                item_factors=z["item_factors"].astype(np.float32),
                params=TrainParams(**meta["params"]),
                version=int(meta["version"]),
                info=dict(meta["info"]),
            )


def confidence_matrix(
    user_idx: np.ndarray,
    item_idx: np.ndarray,
    ratings: np.ndarray,
    shape: tuple[int, int],
    alpha: float,
) -> Any:
    """The CSR user x item confidence matrix ``1 + alpha * rating`` (duplicates summed)."""
    from scipy.sparse import csr_matrix

    with np.errstate(over="ignore"):  # an overflow is refused by ``train_als``
        values = (1.0 + alpha * ratings).astype(np.float32)
    return csr_matrix((values, (user_idx, item_idx)), shape=shape, dtype=np.float32)


def train_als(
    matrix: Any, params: TrainParams, *, on_iteration: IterationCallback | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Fit ALS on a CSR user x item confidence matrix; returns (user_factors,
    item_factors) as float32 arrays. ``on_iteration`` may raise to stop training.
    ``InvalidInput`` for a matrix with no or non-finite confidences; ``Conflict`` when
    the fit diverges (non-finite factors): nothing is returned, so the caller keeps the
    model it had."""
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.recommender_base import ModelFitError
    from threadpoolctl import threadpool_limits

    if matrix.nnz == 0:
        raise InvalidInput("There are no ratings to train on.")
    if not np.isfinite(matrix.data).all():
        raise InvalidInput(
            "Some confidences (1 + alpha * rating) are not finite numbers: the stored "
            "ratings hold a value too large to train on. Drop the ratings and load them "
            "again (ratings must lie in -1e6..1e6)."
        )

    def callback(iteration: int, _elapsed_s: float, _loss: float) -> None:
        if on_iteration is not None:
            on_iteration(iteration)

    # implicit parallelises over users itself; a BLAS thread pool underneath only contends
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=params.factors,
            regularization=params.regularization,
            alpha=1.0,
            iterations=params.iterations,
            random_state=params.seed,
        )
        try:
            model.fit(matrix, show_progress=False, callback=callback)
        except ModelFitError as exc:
            raise Conflict(f"Training failed ({exc}); the model in use is unchanged.") from exc
    user_factors = np.ascontiguousarray(model.user_factors, dtype=np.float32)
    item_factors = np.ascontiguousarray(model.item_factors, dtype=np.float32)
    if not (np.isfinite(user_factors).all() and np.isfinite(item_factors).all()):
        raise Conflict("Training diverged (non-finite factors); the model in use is unchanged.")
    return user_factors, item_factors


def fold_in(model: FactorModel, item_rows: Sequence[int], ratings: Sequence[float]) -> np.ndarray:
    """The factors of a user who is not in the model, from the items they rated
    (row numbers in ``model.item_factors``): one exact ALS user step,
    ``u = (Y^T Y + Y_u^T (C_u - I) Y_u + lambda I)^-1 Y_u^T C_u 1``."""
    y_u = model.item_factors[np.asarray(item_rows, dtype=np.int64)].astype(np.float64)
    conf = 1.0 + model.params.alpha * np.asarray(ratings, dtype=np.float64)
    a = model.gram + (y_u.T * (conf - 1.0)) @ y_u
    a += model.params.regularization * np.eye(model.dim)
    b = y_u.T @ conf
    return np.linalg.solve(a, b).astype(np.float32)


class FactorsEncoder:
    """The recommender's vector declaration for its collection. Its vectors are
    trained (``POST /api/recommend/train``), not computed item by item, so
    ``encode`` refuses."""

    name = "implicit-als"
    version = "1"
    vector_kind: VectorKind = "float"
    metric: Metric = "IP"

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def encode(self, items: Sequence[Any]) -> np.ndarray:
        raise InvalidInput(
            "Recommender vectors are trained from ratings, not encoded one by one: "
            "load ratings, then POST /api/recommend/train."
        )
