"""The video app's own endpoint: search by an uploaded image or clip."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, File, Form, UploadFile

from findalike.app import AppRuntime
from findalike.apps.video.models import VideoSearchOptions, VideoSearchResponse
from findalike.apps.video.search import search_upload
from findalike.uploads import read_query_upload


def make_router(rt: AppRuntime) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/search/upload",
        response_model=VideoSearchResponse,
        summary="Search videos by an uploaded image (jpg, png, webp, bmp) or clip "
        "(mp4, webm, mkv, gif, ...)",
    )
    async def search_by_upload(
        file: Annotated[UploadFile, File(description="The query image or clip.")],
        top_k: Annotated[int, Form(ge=1, le=100)] = 10,
        offsets_per_video: Annotated[int, Form(ge=1, le=100)] = 5,
        min_score: Annotated[float, Form(ge=-1.0, le=1.0)] = 0.0,
        segment_margin: Annotated[float, Form(ge=0.0, le=2.0)] = 0.08,
    ) -> VideoSearchResponse:
        name, data = await read_query_upload(file, rt.settings.max_query_bytes, what="query file")
        options = VideoSearchOptions(
            top_k=top_k, offsets_per_video=offsets_per_video, min_score=min_score,
            segment_margin=segment_margin,
        )
        return await anyio.to_thread.run_sync(search_upload, rt, name, data, options)

    return router
