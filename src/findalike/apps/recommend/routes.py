"""The recommender's own endpoints, mounted under ``/api/recommend``. Each is thin:
it runs one ``Recommender`` method in a worker thread. Every list of items answers
``hits`` of ``item_id`` and ``score`` and takes ``top_k``, as the shared search does."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Path, Query

from findalike.apps.recommend.models import (
    FoldInRequest,
    ModelInfo,
    Recommendations,
    SimilarItems,
    UsersRecommendations,
    UsersRequest,
)
from findalike.apps.recommend.recommender import fold_in_search, recommender
from findalike.core.app import AppRuntime
from findalike.core.contract import TOP_K_DEFAULT, TOP_K_MAX
from findalike.core.request_types import NAME_ID_PATTERN, CollectionQuery, json_response
from findalike.errors import Unprocessable


async def _top_k(  # async: FastAPI runs a plain def dependency in a worker thread
    top_k: Annotated[
        int | None,
        Query(
            ge=1,
            le=TOP_K_MAX,
            description=f"Most items returned (default {TOP_K_DEFAULT}).",
        ),
    ] = None,
    k: Annotated[
        int | None,
        Query(
            ge=1,
            le=TOP_K_MAX,
            deprecated=True,
            description="Deprecated: the old name of `top_k`.",
        ),
    ] = None,
) -> int:
    """``top_k``, or its deprecated old name ``k`` (kept for one release)."""
    if top_k is not None and k is not None and top_k != k:
        raise Unprocessable("Give `top_k` only (`k` is its deprecated old name).", field="k")
    return top_k or k or TOP_K_DEFAULT


TopK = Annotated[int, Depends(_top_k)]
UserId = Annotated[str, Path(pattern=NAME_ID_PATTERN, description="A user id from the ratings.")]
ItemId = Annotated[str, Path(pattern=NAME_ID_PATTERN, description="An item id from the ratings.")]


def make_router(rt: AppRuntime) -> APIRouter:
    router = APIRouter()

    async def _target(collection: str | None) -> AppRuntime:
        """The app's own collection, or the named one (which must exist: a 404)."""
        if collection is None:  # the hot path: no worker-thread trip
            return rt
        return await anyio.to_thread.run_sync(rt.target, collection)

    @router.get("/model", response_model=ModelInfo, summary="The model in use")
    async def model_info(collection: CollectionQuery = None) -> ModelInfo:
        return await anyio.to_thread.run_sync(recommender(await _target(collection)).info)

    @router.get(
        "/users/{user}",
        response_model=Recommendations,
        summary="Items a stored user has not rated, best first",
    )
    async def for_user(user: UserId, top_k: TopK, collection: CollectionQuery = None) -> Any:
        target = await _target(collection)
        found = await anyio.to_thread.run_sync(recommender(target).for_user, user, top_k)
        return json_response(found, Recommendations)

    @router.get(
        "/items/{item}/similar",
        response_model=SimilarItems,
        summary="Items with the most similar factors",
    )
    async def similar(item: ItemId, top_k: TopK, collection: CollectionQuery = None) -> Any:
        target = await _target(collection)
        found = await anyio.to_thread.run_sync(recommender(target).similar, item, top_k)
        return json_response(found, SimilarItems)

    @router.post(
        "/fold-in",
        response_model=Recommendations,
        summary="Recommendations for a new user from items they liked",
    )
    async def fold_in(body: FoldInRequest, collection: CollectionQuery = None) -> Any:
        found = await anyio.to_thread.run_sync(fold_in_search, await _target(collection), body)
        return json_response(found, Recommendations)

    @router.post(
        "/for-users",
        response_model=UsersRecommendations,
        summary="Recommendations for many stored users in one request",
    )
    async def for_users(body: UsersRequest, collection: CollectionQuery = None) -> Any:
        target = await _target(collection)
        found = await anyio.to_thread.run_sync(
            recommender(target).for_users, list(body.users), body.top_k
        )
        return json_response(found, UsersRecommendations)

    return router
