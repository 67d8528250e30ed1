"""The DNA app's own endpoints: ``POST /api/dna/classify`` and ``POST /api/dna/evaluate``.
Load, search, count and delete come from the shared routers."""

from __future__ import annotations

import anyio
from fastapi import APIRouter

from findalike.apps.dna.models import (
    DnaClassification,
    DnaClassifyRequest,
    DnaEvaluateRequest,
    DnaEvaluation,
)
from findalike.apps.dna.search import classify_sequence, evaluate
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

    @router.post("/evaluate", response_model=DnaEvaluation)
    async def evaluate_route(
        body: DnaEvaluateRequest, collection: CollectionQuery = None
    ) -> DnaEvaluation:
        """Compare the DNA encoders on the stored labelled sequences: held-out accuracy,
        per-class precision/recall, confusion matrix and the majority-class baseline of
        each (the top-level figures are the stored vectors' encoder's)."""
        target = await anyio.to_thread.run_sync(rt.target, collection)
        return await anyio.to_thread.run_sync(
            lambda: evaluate(
                target,
                holdout_fraction=body.holdout_fraction,
                neighbours=body.neighbours,
                seed=body.seed,
                max_sequences=body.max_sequences,
            )
        )

    return router
