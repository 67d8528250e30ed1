"""Image search: by a stored image, an uploaded one, a base64 one, or by text (the
images' ImageNet labels, see ``findalike.apps.image.labels``)."""

from __future__ import annotations

import json

import numpy as np

from findalike.apps.image.labels import labels_of, query_relevance
from findalike.apps.image.models import (
    ImageHit,
    ImageLabel,
    ImageSearchOptions,
    ImageSearchRequest,
    ImageSearchResponse,
)
from findalike.apps.image.reader import decode_query, region_box
from findalike.apps.image.settings import ImageSettings
from findalike.core.app import AppRuntime
from findalike.errors import NotFound
from findalike.schema import Hit, quote, similarity


def search(rt: AppRuntime, request: ImageSearchRequest) -> ImageSearchResponse:
    """The ``top_k`` stored images most like the query, best first."""
    if request.text is not None:
        return search_text(rt, request.text, top_k=request.top_k, min_score=request.min_score)
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
    threshold = rt.config(ImageSettings).image_near_duplicate_score
    # an image has at most 2 vectors (the whole, its centre): 2 x top_k rows hold at
    # least top_k images; each image scores its best vector
    rows = rt.search_vectors(vector[None, :], limit=2 * top_k, filter=filter)[0]
    best: dict[str, Hit] = {}
    for row in rows:  # best first: an image's first row is its best
        best.setdefault(row.item_id, row)
    metric = rt.encoder.metric
    out = []
    for hit in list(best.values())[:top_k]:
        score = similarity(metric, hit.distance)
        if min_score is not None and score < min_score:
            continue
        item_id = hit.item_id
        width, height = int(hit.fields.get("width", 0)), int(hit.fields.get("height", 0))
        out.append(
            ImageHit(
                item_id=item_id,
                score=round(score, 6),
                near_duplicate=score >= threshold,
                name=str(hit.fields.get("name", "")),
                width=width,
                height=height,
                region=region_box(int(hit.fields.get("part", 0)), width, height),
                file_url=rt.item_url(item_id, "/file"),
                thumbnail_url=rt.item_url(item_id, "/thumbnail"),
            )
        )
    enc = rt.encoder
    return ImageSearchResponse(
        hits=out, near_duplicate_score=threshold, model=f"{enc.name}@{enc.version}"
    )


def search_text(
    rt: AppRuntime, text: str, *, top_k: int, min_score: float | None = None
) -> ImageSearchResponse:
    """The ``top_k`` images whose labels best match ``text`` (score: the sum over an
    image's top classes of probability x class relevance; 0 means no label matches,
    and such images are left out)."""
    enc = rt.encoder
    threshold = rt.config(ImageSettings).image_near_duplicate_score
    labels = labels_of(rt)
    empty = ImageSearchResponse(
        hits=[],
        near_duplicate_score=threshold,
        model=f"{enc.name}@{enc.version}",
        labelled_images=0,
    )
    if not rt.has_data() or not labels.exists():
        return empty
    relevance = query_relevance(rt, text)
    labelled = labels.count()
    if not relevance.any():
        return empty.model_copy(update={"labelled_images": labelled})
    # a few more than asked for: label rows of images deleted since are skipped
    found = labels.search(relevance[None, :], limit=top_k + 16, output_fields=["labels"])[0]
    found = [h for h in found if h.distance > 0 and (min_score is None or h.distance >= min_score)]
    rows = rt.part_rows([h.item_id for h in found], 0, ["name", "width", "height"])
    out = []
    for hit in found:
        row = rows.get(hit.item_id)
        if row is None:
            continue
        item_id = hit.item_id
        out.append(
            ImageHit(
                item_id=item_id,
                score=round(hit.distance, 6),
                near_duplicate=False,
                name=str(row.get("name", "")),
                width=int(row.get("width", 0)),
                height=int(row.get("height", 0)),
                file_url=rt.item_url(item_id, "/file"),
                thumbnail_url=rt.item_url(item_id, "/thumbnail"),
                labels=[
                    ImageLabel(name=str(n), probability=float(p))
                    for n, p in json.loads(str(hit.fields.get("labels") or "[]"))
                ],
            )
        )
    return ImageSearchResponse(
        hits=out[:top_k],
        near_duplicate_score=threshold,
        model=f"{enc.name}@{enc.version}",
        labelled_images=labelled,
    )


def stored_vector(rt: AppRuntime, item_id: str) -> np.ndarray:
    """The vector of a stored image; ``NotFound`` if there is none."""
    rows = rt.item_rows(item_id, ["vector"])
    if not rows:
        raise NotFound(f"No image with id {item_id!r}.")
    return np.asarray(rows[0]["vector"], dtype=np.float32)
