"""The QA app's own routes: the chatbot's answer and the evaluation."""

from __future__ import annotations

import anyio
from fastapi import APIRouter

from findalike.apps.qa.models import (
    AnswerResponse,
    AskRequest,
    QAEvaluateRequest,
    QAEvaluateResponse,
)
from findalike.apps.qa.search import answer, evaluate_pairs
from findalike.core.app import AppRuntime
from findalike.core.request_types import CollectionQuery


def qa_routes(rt: AppRuntime) -> APIRouter:
    router = APIRouter()

    @router.post("/answer", response_model=AnswerResponse, summary="Ask the chatbot")
    async def ask(body: AskRequest, collection: CollectionQuery = None) -> AnswerResponse:
        return await anyio.to_thread.run_sync(lambda: answer(rt.target(collection), body))

    @router.post(
        "/evaluate",
        response_model=QAEvaluateResponse,
        summary="Relevance of each search mode and the best answer threshold",
    )
    async def evaluate(
        body: QAEvaluateRequest, collection: CollectionQuery = None
    ) -> QAEvaluateResponse:
        return await anyio.to_thread.run_sync(lambda: evaluate_pairs(rt.target(collection), body))

    return router
