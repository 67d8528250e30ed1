"""The objects app's old upload endpoint, kept for one release: its search is now the
core's ``POST /api/objects/search/upload`` (the same detect, with ``top_k`` and
``min_score``). This one still takes files up to FINDALIKE_MAX_ITEM_BYTES."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, File, Form, UploadFile

from findalike.apps.objects.models import DetectOptions, DetectResponse
from findalike.core.app import AppRuntime
from findalike.core.request_types import MULTIPART_SLACK_BYTES, CollectionQuery, body_limit
from findalike.errors import InvalidInput, TooLarge


def make_router(rt: AppRuntime) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/detect/upload",
        response_model=DetectResponse,
        deprecated=True,
        summary="Deprecated: use POST /api/objects/search/upload (the same detect)",
        description="Find the known objects in an uploaded video (or image): when, where, "
        "how similar. Kept for one release; the answer has the new names (`hits`, `score`).",
        openapi_extra=body_limit(rt.settings.max_item_bytes + MULTIPART_SLACK_BYTES),
    )
    async def detect_upload(
        file: Annotated[UploadFile, File(description="A video (mp4, webm, ...) or image.")],
        min_match_score: Annotated[float | None, Form(ge=-1.0, le=1.0)] = None,
        include_unknown: Annotated[bool, Form()] = False,
        collection: CollectionQuery = None,
    ) -> Any:
        max_bytes = rt.settings.max_item_bytes
        data = await file.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise TooLarge(
                f"the file is over the {max_bytes}-byte limit (FINDALIKE_MAX_ITEM_BYTES)",
                field="file",
            )
        if not data:
            raise InvalidInput("the uploaded file is empty", field="file")
        name = (file.filename or "query.mp4").replace("\\", "/").rsplit("/", 1)[-1]
        options = DetectOptions(min_score=min_match_score, include_unknown=include_unknown)
        target = await anyio.to_thread.run_sync(rt.target, collection)
        return await anyio.to_thread.run_sync(target.search_upload, name, data, options)

    return router
