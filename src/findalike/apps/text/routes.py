"""The text app's own route: relevance of each search mode over labelled queries."""

from __future__ import annotations

import anyio
from fastapi import APIRouter

from findalike.apps.text.models import TextEvaluateRequest, TextEvaluateResponse
from findalike.apps.text.search import evaluate_text
from findalike.core.app import AppRuntime
from findalike.core.request_types import CollectionQuery


def text_routes(rt: AppRuntime) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/evaluate",
        response_model=TextEvaluateResponse,
        summary="Relevance of each search mode over labelled queries",
    )
    async def evaluate(
        body: TextEvaluateRequest, collection: CollectionQuery = None
    ) -> TextEvaluateResponse:
        return await anyio.to_thread.run_sync(lambda: evaluate_text(rt.target(collection), body))

    return router
