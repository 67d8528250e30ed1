"""Query uploads (an image, a clip) read for a search, with the size limit."""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from findalike.errors import InvalidInput, TooLarge


class Upload(Protocol):
    filename: str | None

    async def read(self, size: int = -1) -> bytes: ...


async def read_query_upload(
    file: Upload, max_bytes: int, *, what: str = "query file"
) -> tuple[str, bytes]:
    """The uploaded file's base name and bytes. ``TooLarge`` past ``max_bytes``
    (FINDALIKE_MAX_QUERY_BYTES) without reading further; ``InvalidInput`` if empty."""
    data = await file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise TooLarge(
            f"the {what} is over the {max_bytes}-byte limit (FINDALIKE_MAX_QUERY_BYTES)",
            field="file",
        )
    if not data:
        raise InvalidInput(f"the {what} is empty (0 bytes)", field="file")
    name = (file.filename or "query").replace("\\", "/").rsplit("/", 1)[-1]
    return name, data


MAX_FORM_FIELDS = 50


async def read_upload_search(
    request: Request, options_model: type[BaseModel], max_bytes: int
) -> tuple[str, bytes, BaseModel]:
    """The uploaded query file (multipart field ``file``: its name and bytes, at most
    ``max_bytes``) and the other form fields validated by ``options_model``. A bad
    option is a 422 naming it (``form.top_k``), like a bad JSON field."""
    form = await request.form(max_files=1, max_fields=MAX_FORM_FIELDS)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise InvalidInput("send the query file in the multipart field `file`", field="file")
    name, data = await read_query_upload(upload, max_bytes)
    fields = {key: value for key, value in form.multi_items() if key != "file"}
    try:
        options = options_model.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("form", *e["loc"])} for e in exc.errors()]
        ) from None
    return name, data, options


def upload_body(options_model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI ``requestBody`` of an upload search: ``file`` plus the options' fields."""
    schema = options_model.model_json_schema()
    properties = {"file": {"type": "string", "format": "binary", "description": "The query file."}}
    properties |= schema.get("properties", {})
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": properties,
                    }
                }
            },
        }
    }
