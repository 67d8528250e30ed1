"""Image search: by a stored image, an uploaded one, or a base64 one."""

from __future__ import annotations

import numpy as np

from findalike.app import AppRuntime
from findalike.apps.image.models import (
    ImageHit,
    ImageSearchOptions,
    ImageSearchRequest,
    ImageSearchResponse,
)
from findalike.apps.image.pipeline import app_settings, decode_query
from findalike.errors import NotFound
from findalike.store import quote, similarity


def search(rt: AppRuntime, request: ImageSearchRequest) -> ImageSearchResponse:
    """The ``top_k`` stored images most like the query, best first."""
    if request.item_id is not None:
        vector = stored_vector(rt, request.item_id)
        exclude = f"item_id != {quote(request.item_id)}"
        return search_vector(
            rt, vector, top_k=request.top_k, min_score=request.min_score, filter=exclude
        )
    return search_bytes(
        rt, request.image_base64 or b"", top_k=request.top_k, min_score=request.min_score
    )


def search_upload(
    rt: AppRuntime, name: str, data: bytes, options: ImageSearchOptions
) -> ImageSearchResponse:
    """The upload search (``POST /api/image/search/upload``): the file is the query."""
    return search_bytes(rt, data, top_k=options.top_k, min_score=options.min_score)


def search_bytes(
    rt: AppRuntime, data: bytes, *, top_k: int, min_score: float | None = None
) -> ImageSearchResponse:
    """Search by an image file's bytes (``Unprocessable`` / ``TooLarge`` if unusable)."""
    picture = decode_query(rt, data)
    vector = rt.encoder.encode([picture])[0]
    return search_vector(rt, vector, top_k=top_k, min_score=min_score)


def search_vector(
    rt: AppRuntime,
    vector: np.ndarray,
    *,
    top_k: int,
    min_score: float | None = None,
    filter: str = "",
) -> ImageSearchResponse:
    threshold = app_settings(rt).image_near_duplicate_score
    hits = rt.search_vectors(vector[None, :], limit=top_k, filter=filter)[0]
    metric = rt.encoder.metric
    out = []
    for hit in hits:
        score = similarity(metric, hit.distance)
        if min_score is not None and score < min_score:
            continue
        item_id = hit.item_id
        out.append(
            ImageHit(
                item_id=item_id,
                score=round(score, 6),
                near_duplicate=score >= threshold,
                name=str(hit.fields.get("name", "")),
                width=int(hit.fields.get("width", 0)),
                height=int(hit.fields.get("height", 0)),
                file_url=f"/api/{rt.name}/items/{item_id}/file",
                thumbnail_url=f"/api/{rt.name}/items/{item_id}/thumbnail",
            )
        )
    enc = rt.encoder
    return ImageSearchResponse(
        hits=out, near_duplicate_score=threshold, model=f"{enc.name}@{enc.version}"
    )


def stored_vector(rt: AppRuntime, item_id: str) -> np.ndarray:
    """The vector of a stored image; ``NotFound`` if there is none."""
    rows = rt.item_rows(item_id, ["vector"])
    if not rows:
        raise NotFound(f"No image with id {item_id!r}.")
    return np.asarray(rows[0]["vector"], dtype=np.float32)
