"""The image app's own endpoint: search by an uploaded image."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, File, Form, UploadFile

from findalike.app import AppRuntime
from findalike.apps.image.models import ImageSearchResponse
from findalike.apps.image.search import search_bytes
from findalike.errors import InvalidInput, TooLarge


async def read_upload(file: UploadFile, max_bytes: int) -> bytes:
    """The uploaded file's bytes; ``TooLarge`` past ``max_bytes``, ``InvalidInput``
    if empty."""
    data = await file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise TooLarge(
            f"the query image is over the {max_bytes}-byte limit (FINDALIKE_MAX_QUERY_BYTES)",
            field="file",
        )
    if not data:
        raise InvalidInput("the query image is empty (0 bytes)", field="file")
    return data


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
        data = await read_upload(file, rt.settings.max_query_bytes)
        return await anyio.to_thread.run_sync(
            lambda: search_bytes(rt, data, top_k=top_k, min_score=min_score)
        )

    return router
