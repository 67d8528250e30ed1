"""The image app's own endpoint: search by an uploaded image."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, File, Form, UploadFile

from findalike.app import AppRuntime
from findalike.apps.image.models import ImageSearchResponse
from findalike.apps.image.search import search_bytes
from findalike.uploads import read_query_upload


def make_router(rt: AppRuntime) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/search/upload",
        response_model=ImageSearchResponse,
        summary="Search images by an uploaded image (jpg, png, webp, gif, bmp)",
    )
    async def search_by_upload(
        file: Annotated[UploadFile, File(description="The query image.")],
        top_k: Annotated[int, Form(ge=1, le=200)] = 10,
        min_score: Annotated[float, Form(ge=-1.0, le=1.0)] = -1.0,
    ) -> ImageSearchResponse:
        _, data = await read_query_upload(file, rt.settings.max_query_bytes, what="query image")
        return await anyio.to_thread.run_sync(
            lambda: search_bytes(rt, data, top_k=top_k, min_score=min_score)
        )

    return router
