"""The recommender's own endpoints, mounted under ``/api/recommend``. Each is thin:
it runs one ``Recommender`` method in a worker thread."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request

from findalike.app import AppRuntime
from findalike.apps.recommend.recommender import recommender, train_work
from findalike.apps.recommend.schemas import (
    EvaluateRequest,
    EvaluationReport,
    FoldInRequest,
    ModelInfo,
    Recommendations,
    SimilarItems,
)
from findalike.jobs import Job, JobManager

K = Annotated[int, Query(ge=1, le=1000, description="How many items to return.")]


def make_router(rt: AppRuntime) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/train", status_code=202, response_model=Job, summary="Retrain the model (a job)",
        description="Trains ALS on every loaded rating and stores the item vectors. Answers "
        "202 with the job; its done/total count ALS iterations. The previous model serves "
        "until the new one is stored.",
    )
    async def train(request: Request) -> Job:
        jobs: JobManager = request.app.state.jobs
        return jobs.submit(rt.name, train_work(rt), kind="train")

    @router.get("/model", response_model=ModelInfo, summary="The model in use")
    async def model_info() -> ModelInfo:
        return await anyio.to_thread.run_sync(recommender(rt).info)

    @router.get("/users/{user}", response_model=Recommendations,
                summary="Items a stored user has not rated, best first")
    async def for_user(user: str, k: K = 10) -> Recommendations:
        return await anyio.to_thread.run_sync(recommender(rt).for_user, user, k)

    @router.get("/items/{item}/similar", response_model=SimilarItems,
                summary="Items with the most similar factors")
    async def similar(item: str, k: K = 10) -> SimilarItems:
        return await anyio.to_thread.run_sync(recommender(rt).similar, item, k)

    @router.post("/fold-in", response_model=Recommendations,
                 summary="Recommendations for a new user from items they liked")
    async def fold_in(body: FoldInRequest) -> Recommendations:
        rec = recommender(rt)
        return await anyio.to_thread.run_sync(rec.for_liked, body.items, body.k, body.ratings)

    @router.post("/evaluate", response_model=EvaluationReport,
                 summary="Hold-out precision/recall/NDCG@k vs most-popular")
    async def evaluate(body: EvaluateRequest) -> EvaluationReport:
        return await anyio.to_thread.run_sync(recommender(rt).evaluate, body)

    return router
