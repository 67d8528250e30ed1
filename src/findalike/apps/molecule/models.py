"""Request and response models of the molecule app."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class MoleculeSearch(BaseModel):
    """A similarity, substructure or superstructure search."""
    model_config = ConfigDict(
        json_schema_extra={"examples": [
            {"query": "CC(=O)Oc1ccccc1C(=O)O", "mode": "similarity", "limit": 10, "threshold": 0.3},
        ]}
    )

    query: str = Field(
        min_length=1, max_length=10_000,
        description="A SMILES (or, for a substructure search, SMARTS with query_type='smarts').",
    )
    mode: Literal["similarity", "substructure", "superstructure"] = Field(
        "similarity",
        description="similarity: top-k by Tanimoto. substructure: stored molecules that "
        "contain the query. superstructure: stored molecules contained in the query.",
    )
    query_type: Literal["smiles", "smarts"] = Field(
        "smiles", description="How to read `query`; SMARTS only for substructure searches."
    )
    limit: int = Field(10, ge=1, le=1000, description="Most hits returned.")
    threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="Similarity: only hits with Tanimoto >= threshold."
    )


class MoleculeHit(BaseModel):
    item_id: str
    smiles: str = Field(description="Canonical SMILES (RDKit).")
    mol_id: str = ""
    name: str = ""
    meta: dict[str, Any] = Field(default_factory=dict)
    tanimoto: float | None = Field(
        None, description="Tanimoto similarity of the Morgan fingerprints (similarity mode)."
    )
    depiction_url: str = Field(description="An SVG drawing, the match highlighted.")


class MoleculeResults(BaseModel):
    query: str = Field(description="The query as understood: canonical SMILES, or the SMARTS.")
    mode: str
    hits: list[MoleculeHit]
    exact: bool = Field(
        description="True when the hits are provably the exact answer (always, unless a "
        "similarity search would need more than 16,384 candidates from Milvus)."
    )
    candidates: int = Field(description="Stored molecules examined exactly (after screening).")
    matches: int = Field(description="How many stored molecules qualified (before `limit`).")
