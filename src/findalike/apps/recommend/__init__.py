"""Recommender: load ratings (``user,item,rating[,timestamp]``) and item metadata
(``item,title,...``) CSVs, train item and user factors with implicit-feedback ALS,
keep item vectors in Milvus (inner product) and serve recommendations for stored
users, new users (fold-in from liked items) and similar items.

A load stores ratings (``<data_dir>/recommend/<collection>/ratings.sqlite``); vectors
appear when ``POST /api/recommend/train`` (a job) has trained a model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from findalike.apps.recommend.models import (
    EvaluateRequest,
    EvaluationReport,
    Recommendations,
    RecommendRequest,
)
from findalike.apps.recommend.ratings import ItemInfo, Rating, read_csv
from findalike.apps.recommend.settings import RecommendSettings
from findalike.core.app import (
    AppJob,
    AppRuntime,
    AppSpec,
    EncodedItem,
    Evaluation,
    ReadFailure,
    Record,
)
from findalike.core.request_types import NAME_ID_PATTERN
from findalike.encoders.base import Encoder
from findalike.schema import FieldSpec

if TYPE_CHECKING:
    from fastapi import APIRouter

    from findalike.jobs import Work


def _make_encoder(rt: AppRuntime) -> Encoder:
    from findalike.encoders.factors import FactorsEncoder

    return FactorsEncoder(dim=rt.config(RecommendSettings).factors)


def _read(name: str, data: bytes, rt: AppRuntime) -> Iterable[Record | ReadFailure]:
    return read_csv(name, data)


def _to_rows(rt: AppRuntime, records: Sequence[Record]) -> list[EncodedItem]:
    """Keep the ratings and metadata; no vectors until training."""
    from findalike.apps.recommend.recommender import recommender

    entries = [e for r in records for e in r.payload]
    ratings = [e for e in entries if isinstance(e, Rating)]
    items = [e for e in entries if isinstance(e, ItemInfo)]
    recommender(rt).store(ratings, items)
    return [EncodedItem(record=r) for r in records]


def _search(rt: AppRuntime, request: RecommendRequest) -> Recommendations:
    from findalike.apps.recommend.recommender import recommender

    rec = recommender(rt)
    if request.user is not None:
        return rec.for_user(request.user, request.top_k)
    return rec.for_liked(request.items or [], request.top_k)


def _routes(rt: AppRuntime) -> APIRouter:
    from findalike.apps.recommend.routes import make_router

    return make_router(rt)


def _train(rt: AppRuntime) -> Work:
    from findalike.apps.recommend.recommender import train_work

    return train_work(rt)


def _evaluate(rt: AppRuntime, request: EvaluateRequest) -> EvaluationReport:
    from findalike.apps.recommend.recommender import recommender

    return recommender(rt).evaluate(request)


def _forget(rt: AppRuntime) -> None:
    from findalike.apps.recommend.recommender import forget_everything

    forget_everything(rt)


def _demo_files(datasets: Path) -> list[tuple[str, Path]]:
    files = (datasets / "ratings" / "items.csv", datasets / "ratings" / "ratings.csv")
    return [(p.name, p) for p in files if p.exists()]


APP = AppSpec(
    name="recommend",
    title="Recommendations",
    summary="Recommend items to users from their ratings (ALS factors, inner product).",
    extensions=frozenset({".csv", ".tsv", ".txt", ".data"}),
    fields=(FieldSpec("title", "str", max_length=1024), FieldSpec("n_ratings", "int")),
    make_encoder=_make_encoder,
    settings=RecommendSettings,
    read=_read,
    to_rows=_to_rows,
    batch_size=64,  # records of 1,000 rating lines: 64,000 lines a batch
    search_request=RecommendRequest,
    search_response=Recommendations,
    search=_search,
    routes=_routes,
    evaluation=Evaluation(
        EvaluateRequest,
        EvaluationReport,
        _evaluate,
        summary="Hold-out precision/recall/NDCG@k vs most-popular",
    ),
    jobs=(
        AppJob(
            "train",
            _train,
            summary="Retrain the model (a job)",
            description="Trains ALS on every loaded rating and stores the item vectors. "
            "Answers 202 with the job; its done/total count ALS iterations. The previous "
            "model serves until the new one is stored.",
        ),
    ),
    requires=("implicit", "scipy", "threadpoolctl"),
    demo_files=_demo_files,
    follow_up=_train,
    on_drop=_forget,
    one_row_per_item=True,
    item_id_pattern=NAME_ID_PATTERN,
)
