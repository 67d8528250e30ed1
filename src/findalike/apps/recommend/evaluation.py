"""Offline evaluation: hold out part of each user's ratings, train on the rest, and
score the trained model and a most-popular baseline on the same split, in one run.

Library use (the CLI calls this): ``evaluate(table, EvaluateRequest(k=10))``.
"""

from __future__ import annotations

import time

import numpy as np

from findalike.apps.recommend.models import EvaluateRequest, EvaluationReport, Metrics
from findalike.apps.recommend.ratings import RatingsTable
from findalike.encoders.factors import TrainParams, confidence_matrix, train_als
from findalike.errors import InvalidInput

SCORE_CELLS_PER_BATCH = 1 << 22
"""Users per scoring batch are chosen so a batch's score matrix stays ~32 MB."""


def evaluate(
    table: RatingsTable, request: EvaluateRequest, params: TrainParams | None = None
) -> EvaluationReport:
    """Precision@k, recall@k and NDCG@k (binary relevance) of ALS and of the
    most-popular baseline, averaged over users with a relevant held-out rating.
    Raises ``InvalidInput`` if the split leaves nothing to evaluate."""
    params = params or TrainParams()
    users, user_idx = np.unique(table.users.astype(str), return_inverse=True)
    items, item_idx = np.unique(table.items.astype(str), return_inverse=True)
    test = _split(user_idx, table.timestamps, request)
    relevant = test.copy()
    if request.relevant_min_rating is not None:
        relevant &= table.ratings >= request.relevant_min_rating
    if not relevant.any():
        raise InvalidInput(
            "The hold-out has no relevant ratings: load more ratings or lower "
            "min_user_ratings / relevant_min_rating."
        )
    shape = (len(users), len(items))
    train = ~test
    matrix = confidence_matrix(
        user_idx[train], item_idx[train], table.ratings[train], shape, params.alpha
    )
    started = time.perf_counter()
    user_factors, item_factors = train_als(matrix, params)
    train_s = time.perf_counter() - started
    popularity = np.bincount(item_idx[train], minlength=len(items)).astype(np.float32)
    truth = _csr(user_idx[relevant], item_idx[relevant], shape)
    eval_users = np.unique(user_idx[relevant])
    model_m = _score(
        lambda u: user_factors[u] @ item_factors.T, eval_users, matrix, truth, request.k
    )
    pop_m = _score(
        lambda u: np.broadcast_to(popularity, (len(u), len(items))),
        eval_users,
        matrix,
        truth,
        request.k,
    )
    return EvaluationReport(
        k=request.k,
        holdout=request.holdout,
        users_evaluated=len(eval_users),
        train_ratings=int(train.sum()),
        test_ratings=int(test.sum()),
        model=model_m,
        popularity=pop_m,
        train_s=round(train_s, 3),
        factors=params.factors,
    )


def _split(user_idx: np.ndarray, timestamps: np.ndarray, request: EvaluateRequest) -> np.ndarray:
    """A boolean mask of held-out ratings: ``test_fraction`` of each user's ratings
    (at least one) for users with ``min_user_ratings`` or more."""
    rng = np.random.default_rng(request.seed)
    if request.holdout == "temporal" and np.isnan(timestamps).all():
        raise InvalidInput(
            "A temporal hold-out needs timestamps; these ratings have none.", field="holdout"
        )
    # order each user's ratings: by a random key, or by time with random tie-breaks
    noise = rng.random(len(user_idx))
    if request.holdout == "temporal":
        times = np.nan_to_num(timestamps, nan=-np.inf)
        order = np.lexsort((noise, times, user_idx))
    else:
        order = np.lexsort((noise, user_idx))
    counts = np.bincount(user_idx)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    sorted_users = user_idx[order]
    rank = np.arange(len(order)) - starts[sorted_users]  # position within the user's list
    n_user = counts[sorted_users]
    n_test = np.maximum(1, np.rint(request.test_fraction * n_user)).astype(np.int64)
    held = (n_user >= request.min_user_ratings) & (rank >= n_user - n_test)
    test = np.zeros(len(user_idx), dtype=bool)
    test[order[held]] = True
    return test


def _csr(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> object:
    from scipy.sparse import csr_matrix

    return csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=shape)


def _score(scores_for, users: np.ndarray, train: object, truth: object, k: int) -> Metrics:  # type: ignore[no-untyped-def]
    """Mean metrics of the top-k (train items excluded) over ``users``."""
    n_items = truth.shape[1]  # type: ignore[attr-defined]
    k = min(k, n_items)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    batch = max(1, SCORE_CELLS_PER_BATCH // n_items)
    precision, recall, ndcg = [], [], []
    for start in range(0, len(users), batch):
        u = users[start : start + batch]
        scores = np.array(scores_for(u), dtype=np.float32)
        seen = train[u]  # type: ignore[index]
        scores[seen.nonzero()] = -np.inf
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, 1), 1), 1)
        rel = truth[u].toarray() > 0  # type: ignore[index]
        hits = np.take_along_axis(rel, top, 1)
        n_rel = rel.sum(axis=1)
        ideal = np.array([discounts[: min(n, k)].sum() for n in n_rel])
        precision.append(hits.sum(axis=1) / k)
        recall.append(hits.sum(axis=1) / n_rel)
        ndcg.append((hits * discounts).sum(axis=1) / ideal)
    return Metrics(
        precision=round(float(np.concatenate(precision).mean()), 4),
        recall=round(float(np.concatenate(recall).mean()), 4),
        ndcg=round(float(np.concatenate(ndcg).mean()), 4),
    )
