"""Constraints that request models and routes share, written so the OpenAPI document
states what the server enforces: a value the schema allows is one the server takes,
and a bad one is a 422 at the edge instead of an error deep in Milvus or a model.

Found by fuzzing the live schema (``tests/api/test_fuzz.py``): control characters in
item ids reached Milvus expressions (500), NaN ratings were accepted (200), and
constraints such as "exactly one of ``item_id`` or the base64 media" were enforced but
not stated.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response
from pydantic import BaseModel, StringConstraints

CONTENT_ID_PATTERN = r"^[0-9a-f]{32}$"
"""Ids made by ``findalike.core.app.content_id``: 32 lower-case hex digits (sha256)."""

NAME_ID_MAX_CHARS = 128
NAME_ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]{1,128}$"
"""Ids that are names taken from the data (the recommender's users and items): 1 to
128 characters, none of them a control character."""

FILTER_TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
"""Text compared in a Milvus filter: any characters but the control characters that
Milvus expressions cannot carry (tab, newline and carriage return can)."""

COLLECTION_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
"""A named collection: a lower-case letter, then up to 31 lower-case letters, digits or
underscores (it becomes part of a Milvus collection name and a folder name)."""

ContentId = Annotated[str, StringConstraints(max_length=32, pattern=CONTENT_ID_PATTERN)]
NameId = Annotated[str, StringConstraints(max_length=NAME_ID_MAX_CHARS, pattern=NAME_ID_PATTERN)]


def exactly_one_of(**kinds: str) -> dict[str, Any]:
    """JSON Schema for "exactly one of these optional fields is given (not null)",
    each named with its JSON type: ``exactly_one_of(user="string", items="array")``.
    Merge it into a model's schema with ``json_schema_extra``."""
    return {"oneOf": [_given(name, kind) for name, kind in kinds.items()]}


def at_least_one_of(**kinds: str) -> dict[str, Any]:
    """JSON Schema for "at least one of these optional fields is given (not null)"."""
    return {"anyOf": [_given(name, kind) for name, kind in kinds.items()]}


def _given(name: str, kind: str) -> dict[str, Any]:
    return {"required": [name], "properties": {name: {"type": kind}}}


CollectionQuery = Annotated[
    str | None,
    Query(
        pattern=COLLECTION_NAME_PATTERN,
        max_length=32,
        description="A named collection of the app (created with `POST /api/{app}/collections`); "
        "left out: the app's default collection.",
    ),
]
"""The ``collection`` query parameter of every route that reads or writes a collection."""


BODY_LIMIT_KEY = "x-max-body-bytes"
"""Where a route's body limit is written in its OpenAPI operation (``api.limits``)."""
MULTIPART_SLACK_BYTES = 64 * 1024
"""Room for the multipart envelope and the form fields beside a query file."""


def body_limit(max_bytes: int) -> dict[str, Any]:
    """``openapi_extra`` that sets a route's body limit explicitly (an app route that
    takes more than the core would give it)."""
    return {BODY_LIMIT_KEY: max_bytes}


def json_response(answer: BaseModel, declared: type[BaseModel]) -> Response | BaseModel:
    """A route's answer, written as JSON by pydantic-core in one pass when it is exactly
    the route's ``response_model`` (which still documents it): FastAPI would otherwise
    validate the model it was just given again and encode it through Python (measured
    in process: 68 -> 23 us for a text search's 10 hits, 37-47 -> 17-18 us for 10
    recommendations; a few percent of a request, too little for ``wrk`` to tell apart
    from this machine's noise). Any other answer is returned as it is, for FastAPI to
    filter to the declared model."""
    if type(answer) is declared:
        return Response(answer.model_dump_json(), media_type="application/json")
    return answer
