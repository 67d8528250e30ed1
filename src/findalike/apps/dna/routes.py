"""The DNA app's own endpoint: ``POST /api/dna/classify`` (its evaluation is declared on
the app and served by the core).
Load, search, count and delete come from the shared routers."""

from __future__ import annotations

import anyio
from fastapi import APIRouter

from findalike.apps.dna.models import (
    DnaClassification,
    DnaClassifyRequest,
)
from findalike.apps.dna.search import classify_sequence
from findalike.core.app import AppRuntime
from findalike.core.request_types import CollectionQuery


def dna_routes(rt: AppRuntime) -> APIRouter:
    router = APIRouter()

    @router.post("/classify", response_model=DnaClassification)
    async def classify(
        body: DnaClassifyRequest, collection: CollectionQuery = None
    ) -> DnaClassification:
        """The class of a sequence by a similarity-weighted vote of its nearest
        labelled sequences, with a confidence and the neighbours (in a named
        collection: with the encoder it was made with)."""
        target = await anyio.to_thread.run_sync(rt.target, collection)
        return await anyio.to_thread.run_sync(
            lambda: classify_sequence(target, body.sequence, neighbours=body.neighbours)
        )

    return router
