"""The audio app's own endpoint: search by an uploaded clip."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, File, Form, UploadFile

from findalike.app import AppRuntime
from findalike.apps.audio.models import AudioSearchOptions, AudioSearchResponse
from findalike.apps.audio.search import search_clip_bytes
from findalike.errors import InvalidInput, TooLarge


async def read_upload(file: UploadFile, max_bytes: int) -> tuple[str, bytes]:
    """The uploaded file's base name and bytes; ``TooLarge`` past ``max_bytes``,
    ``InvalidInput`` if empty."""
    data = await file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise TooLarge(
            f"the query clip is over the {max_bytes}-byte limit (FINDALIKE_MAX_QUERY_BYTES)",
            field="file",
        )
    if not data:
        raise InvalidInput("the query clip is empty", field="file")
    name = (file.filename or "query").replace("\\", "/").rsplit("/", 1)[-1]
    return name, data


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
        name, data = await read_upload(file, rt.settings.max_query_bytes)
        options = AudioSearchOptions(
            top_k=top_k, matches_per_clip=matches_per_clip, min_score=min_score
        )
        return await anyio.to_thread.run_sync(
            lambda: search_clip_bytes(rt, data, options, name=name)
        )

    return router
