"""The molecule app's own endpoints: SVG depictions (``/api/molecule/depict`` and
per stored item). Search, load, count and delete come from the shared routers."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from findalike.apps.molecule.chem import (
    MAX_SMILES_CHARS,
    SMILES_PATTERN,
    common_substructure,
    depict_svg,
    parse_smarts,
    parse_smiles,
)
from findalike.core.app import AppRuntime
from findalike.core.request_types import CONTENT_ID_PATTERN, CollectionQuery
from findalike.errors import NotFound

SVG = "image/svg+xml"
OPTIONAL_SMILES_PATTERN = rf"^({SMILES_PATTERN[1:-1]})?$"
"""A SMILES or SMARTS, or nothing."""


def depiction(smiles: str, *, highlight: str = "", reference: str = "", size_px: int = 300) -> str:
    """An SVG of ``smiles``; ``highlight`` (SMARTS) or the maximum common substructure
    with ``reference`` (SMILES) is highlighted. ``Unprocessable`` for bad input."""
    mol = parse_smiles(smiles, field="smiles")
    fragment = None
    if highlight:
        fragment = parse_smarts(highlight, field="highlight")
    elif reference:
        fragment = common_substructure(mol, parse_smiles(reference, field="reference"))
    return depict_svg(mol, highlight=fragment, size_px=size_px)


def molecule_routes(rt: AppRuntime) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/depict",
        response_class=Response,
        responses={200: {"content": {SVG: {}}, "description": "An SVG drawing."}},
    )
    async def depict(
        smiles: Annotated[
            str,
            Query(
                max_length=MAX_SMILES_CHARS,
                json_schema_extra={"pattern": SMILES_PATTERN},
                description="The molecule (SMILES).",
            ),
        ],
        highlight: Annotated[
            str,
            Query(
                max_length=MAX_SMILES_CHARS,
                json_schema_extra={"pattern": OPTIONAL_SMILES_PATTERN},
                description="SMARTS to highlight.",
            ),
        ] = "",
        reference: Annotated[
            str,
            Query(
                max_length=MAX_SMILES_CHARS,
                json_schema_extra={"pattern": OPTIONAL_SMILES_PATTERN},
                description="Highlight the common substructure with this SMILES.",
            ),
        ] = "",
        size: Annotated[int, Query(ge=100, le=1200, description="Width and height (px).")] = 300,
    ) -> Response:
        svg = await anyio.to_thread.run_sync(
            lambda: depiction(smiles, highlight=highlight, reference=reference, size_px=size)
        )
        return Response(svg, media_type=SVG)

    @router.get(
        "/items/{item_id}/depiction",
        response_class=Response,
        responses={200: {"content": {SVG: {}}, "description": "An SVG drawing."}},
    )
    async def item_depiction(
        item_id: Annotated[str, Path(pattern=CONTENT_ID_PATTERN)],
        collection: CollectionQuery = None,
    ) -> Response:
        def draw() -> str:
            item = rt.target(collection).get_item(item_id)
            if item is None:
                raise NotFound(f"No molecule with id {item_id!r}.")
            return depiction(str(item["smiles"]))

        return Response(await anyio.to_thread.run_sync(draw), media_type=SVG)

    return router
