"""The audio app's own endpoint: search by an uploaded clip."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, File, Form, UploadFile

from findalike.app import AppRuntime
from findalike.apps.audio.models import AudioSearchOptions, AudioSearchResponse
from findalike.apps.audio.search import search_clip_bytes
from findalike.uploads import read_query_upload


def make_router(rt: AppRuntime) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/search/upload",
        response_model=AudioSearchResponse,
        summary="Search stored clips by an uploaded clip (wav, flac, ogg, mp3); results "
        "grouped per clip with the matching offsets",
    )
    async def search_by_upload(
        file: Annotated[UploadFile, File(description="The query clip.")],
        top_k: Annotated[int, Form(ge=1, le=100)] = 10,
        matches_per_clip: Annotated[int, Form(ge=1, le=100)] = 5,
        min_score: Annotated[float, Form(ge=-1.0, le=1.0)] = 0.0,
    ) -> AudioSearchResponse:
        name, data = await read_query_upload(file, rt.settings.max_query_bytes, what="query clip")
        options = AudioSearchOptions(
            top_k=top_k, matches_per_clip=matches_per_clip, min_score=min_score
        )
        return await anyio.to_thread.run_sync(
            lambda: search_clip_bytes(rt, data, options, name=name)
        )

    return router
