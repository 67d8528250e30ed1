"""Request and response models of the molecule app."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from findalike.apps.molecule.chem import MAX_SMILES_CHARS, SMILES_PATTERN
from findalike.core.contract import Hit, SearchRequest, SearchResponse, deprecated_alias


class MoleculeSearch(SearchRequest):
    """A similarity, substructure or superstructure search. ``min_score`` is a
    Tanimoto floor (0..1) in every mode."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "query": "CC(=O)Oc1ccccc1C(=O)O",
                    "mode": "similarity",
                    "top_k": 10,
                    "min_score": 0.3,
                },
            ]
        }
    )

    query: str = Field(
        min_length=1,
        max_length=MAX_SMILES_CHARS,
        json_schema_extra={"pattern": SMILES_PATTERN},
        description="A SMILES (or, for a substructure search, SMARTS with query_type='smarts').",
    )
    mode: Literal["similarity", "substructure", "superstructure"] = Field(
        "similarity",
        description="similarity: the top-k by Tanimoto, best first. substructure: stored "
        "molecules that contain the query; superstructure: stored molecules contained in the "
        "query (both exact, smallest molecules first).",
    )
    query_type: Literal["smiles", "smarts"] = Field(
        "smiles", description="How to read `query`; SMARTS only for substructure searches."
    )
    smiles: str | None = deprecated_alias(
        "query", "Deprecated: the old name of `query` (a SMILES)."
    )
    limit: int | None = deprecated_alias("top_k")
    threshold: float | None = deprecated_alias(
        "min_score", "Deprecated: the old name of `min_score` (the Tanimoto floor)."
    )


class MoleculeHit(Hit):
    score: float = Field(
        description="Tanimoto similarity of the Morgan fingerprints to the query, 0..1 (1: "
        "the same fingerprint), in every mode. For a SMARTS query (no molecule to "
        "fingerprint), the Tanimoto between the hit and the atoms of it that the SMARTS matches."
    )
    smiles: str = Field(description="Canonical SMILES (RDKit).")
    mol_id: str = ""
    name: str = ""
    meta: dict[str, Any] = Field(default_factory=dict)
    tanimoto: float = Field(
        deprecated="Use `score`.", description="Deprecated: the same as `score`."
    )
    depiction_url: str = Field(description="An SVG drawing, the match highlighted.")


class MoleculeResults(SearchResponse):
    query: str = Field(description="The query as understood: canonical SMILES, or the SMARTS.")
    mode: str
    hits: list[MoleculeHit] = Field(
        description="Similarity: best first. Substructure and superstructure: smallest "
        "molecules first (then by SMILES), whatever their score."
    )
    exact: bool = Field(
        description="True when the hits are provably the exact answer (always, unless a "
        "similarity search would need more than 16,384 candidates from Milvus)."
    )
    candidates: int = Field(description="Stored molecules examined exactly (after screening).")
    matches: int = Field(
        description="How many stored molecules qualified (at least `min_score`), before `top_k`."
    )
