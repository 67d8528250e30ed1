"""The search contract every app speaks, owned by the core.

Every search request has ``top_k`` (same bounds and default everywhere) and
``min_score``, and refuses unknown fields (a misspelt ``topk`` is a 422 that names
it). Every search response has ``hits``, each with ``item_id`` and ``score``, where a
higher score is always closer (the scale is the app's: cosine, Tanimoto, ...; each
hit model says which). An app subclasses ``SearchRequest`` / ``Hit`` /
``SearchResponse`` and adds its own fields; ``apply_contract`` then holds every
response to ``top_k`` and ``min_score`` whatever the app's search did.

Old field names (``limit``, ``k``, ``smiles``) stay accepted for one release as
deprecated aliases: ``deprecated_alias`` declares one (marked ``deprecated`` in the
OpenAPI schema) and the request moves its value to the new name.

Media sent inside JSON is ``Base64Media``: plain base64 or a ``data:`` URL, decoded
once here; bad base64 is a 422 naming the field.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from functools import cache
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

TOP_K_DEFAULT = 10
TOP_K_MAX = 1000
MAX_BASE64_CHARS = 28_000_000
"""Longest base64 text taken in a JSON body (about 20 MiB of media); larger files go to
the app's ``/search/upload``."""
_ALIAS_OF = "x-deprecated-alias-of"


class StrictModel(BaseModel):
    """A request body that refuses fields it does not know, and a JSON ``true`` or
    ``false`` where a number goes (or a number where ``true``/``false`` goes), which
    pydantic's lax mode would take as 1, 0 or a bool. Form fields (strings) are
    converted as usual."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_bool_for_number(cls, data: Any) -> Any:
        if isinstance(data, dict):
            kinds = _scalar_kinds(cls)
            for name, value in data.items():
                kind = kinds.get(name)
                if kind == "number" and isinstance(value, bool):
                    raise ValueError(f"{name} must be a number, not {str(value).lower()}")
                if (
                    kind == "bool"
                    and isinstance(value, int | float)
                    and not isinstance(value, bool)
                ):
                    raise ValueError(f"{name} must be true or false, not {value}")
        return data


@cache
def _scalar_kinds(model: type[BaseModel]) -> dict[str, str]:
    """Each field (by name and alias) that takes only numbers (``number``) or only
    booleans (``bool``), ignoring None."""
    found: dict[str, str] = {}
    for name, info in model.model_fields.items():
        types = {t for t in _leaf_types(info.annotation) if t is not type(None)}
        kind = None
        if types and types <= {int, float}:
            kind = "number"
        elif types == {bool}:
            kind = "bool"
        if kind:
            found[name] = kind
            if info.alias:
                found[info.alias] = kind
    return found


def _leaf_types(annotation: Any) -> list[Any]:
    """The plain types of an annotation (``Annotated`` and unions unwrapped)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _leaf_types(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return [t for arg in get_args(annotation) for t in _leaf_types(arg)]
    return [annotation]


def deprecated_alias(target: str, description: str = "") -> Any:
    """A field kept for one release under its old name: its value moves to ``target``.
    Declared on the request model so the OpenAPI schema lists it, as deprecated."""
    return Field(
        None,
        deprecated=f"Use `{target}`.",
        exclude=True,
        description=description or f"Deprecated: the old name of `{target}`.",
        json_schema_extra={_ALIAS_OF: target},
    )


MAX_EF = 4096
MAX_NPROBE = 65536


def index_search_params(request: BaseModel) -> dict[str, int]:
    """The index search parameters a request sets (``ef``, ``nprobe``), if any."""
    return {
        name: int(value)
        for name in ("ef", "nprobe")
        if (value := getattr(request, name, None)) is not None
    }


class SearchRequest(StrictModel):
    """What every app's search takes; apps add their query fields."""

    top_k: int = Field(TOP_K_DEFAULT, ge=1, le=TOP_K_MAX, description="Most hits returned.")
    min_score: float | None = Field(
        None,
        allow_inf_nan=False,
        description="Leave out hits scoring below this (the score's scale is the app's; "
        "higher is always closer).",
    )
    ef: int | None = Field(
        None,
        ge=1,
        le=MAX_EF,
        description="HNSW (and Milvus Lite's AUTOINDEX): candidates examined per query; "
        "higher finds more of the true nearest, slower (default 64; raised to the number "
        "of rows asked). Ignored where the search is exact.",
    )
    nprobe: int | None = Field(
        None,
        ge=1,
        le=MAX_NPROBE,
        description="IVF_FLAT: clusters searched per query (at most the index's nlist). "
        "Ignored by other indexes.",
    )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        _copy_target_constraints(cls, schema)
        return schema

    @model_validator(mode="before")
    @classmethod
    def _move_deprecated_aliases(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        aliases = {n: t for n, t in _aliases_of(cls).items() if n in data}
        if not aliases:
            return data
        data = dict(data)
        for old, new in aliases.items():
            value = data.pop(old)
            if new in data and data[new] != value:
                raise ValueError(f"give `{new}` only (`{old}` is its deprecated old name)")
            data[new] = value
        return data


_CONSTRAINTS = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "type",
)


def _copy_target_constraints(cls: type[BaseModel], schema: dict[str, Any]) -> None:
    """State on each deprecated alias the limits of the field it stands for (its value
    is validated as that field), so the schema admits only what the server takes."""
    props = schema.get("properties", {})
    for old, new in _aliases_of(cls).items():
        target, alias = props.get(new), props.get(old)
        if not isinstance(target, dict) or not isinstance(alias, dict):
            continue
        target_options = [o for o in target.get("anyOf", [target]) if o.get("type") != "null"]
        if len(target_options) != 1:
            continue
        limits = {k: v for k, v in target_options[0].items() if k in _CONSTRAINTS}
        for option in alias.get("anyOf", [alias]):
            if option.get("type") != "null":
                option.update(limits)


def _aliases_of(cls: type[BaseModel]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, info in cls.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and _ALIAS_OF in extra:
            out[name] = str(extra[_ALIAS_OF])
    return out


class Hit(BaseModel):
    """One result: the stored item and how close it is."""

    item_id: str = Field(description="The stored item's id.")
    score: float = Field(description="How close to the query; higher is closer.")


class SearchResponse(BaseModel):
    """What every app's search answers; apps narrow ``hits`` to their own hit model
    and add their own fields."""

    hits: Sequence[Hit]


def apply_contract(request: BaseModel, response: BaseModel) -> BaseModel:
    """``response`` held to the request's ``min_score`` and ``top_k`` (hits are
    already best first)."""
    if not isinstance(request, SearchRequest) or not isinstance(response, SearchResponse):
        return response
    hits = response.hits
    if request.min_score is not None:
        hits = [h for h in hits if h.score >= request.min_score]
    response.hits = list(hits[: request.top_k])
    return response


def _decode_base64(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("ascii", errors="replace")
    if not isinstance(value, str):
        raise ValueError("expected base64 text or a data: URL")
    if len(value) > MAX_BASE64_CHARS:
        raise ValueError(
            f"over {MAX_BASE64_CHARS} characters; upload large files to /search/upload"
        )
    text = value.strip()
    if text.startswith("data:"):
        header, comma, text = text.partition(",")
        if not comma or not header.endswith(";base64"):
            raise ValueError("a data: URL must be base64-encoded (data:<type>;base64,<data>)")
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not valid base64") from None
    if not data:
        raise ValueError("the media is empty")
    return data


Base64Media = Annotated[
    bytes,
    BeforeValidator(_decode_base64),
    WithJsonSchema(
        {
            "type": "string",
            "contentEncoding": "base64",
            "maxLength": MAX_BASE64_CHARS,
            "description": "The file, base64-encoded (a `data:<type>;base64,` URL is accepted).",
        }
    ),
]
"""Media inside a JSON body: decoded to bytes at validation."""
