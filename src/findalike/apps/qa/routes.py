"""The QA app's own route: the chatbot's answer."""

from __future__ import annotations

import anyio
from fastapi import APIRouter

from findalike.apps.qa.models import (
    AnswerResponse,
    AskRequest,
)
from findalike.apps.qa.search import answer
from findalike.core.app import AppRuntime
from findalike.core.request_types import CollectionQuery


def qa_routes(rt: AppRuntime) -> APIRouter:
    router = APIRouter()

    @router.post("/answer", response_model=AnswerResponse, summary="Ask the chatbot")
    async def ask(body: AskRequest, collection: CollectionQuery = None) -> AnswerResponse:
        return await anyio.to_thread.run_sync(lambda: answer(rt.target(collection), body))

    return router
