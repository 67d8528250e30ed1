"""Molecule similarity, substructure and superstructure search (RDKit + Milvus).

Loads ``.smi`` / CSV / SDF, canonicalises every molecule (one entry per molecule
however it was written), stores its Morgan fingerprint (Tanimoto search, exact on
Milvus Lite and on a server: see ``search``) and its pattern fingerprint (exact
substructure screening). Settings: ``FINDALIKE_MOLECULE_RADIUS``, ``_BITS``,
``_VECTORS``.
"""

from __future__ import annotations

from pathlib import Path

from findalike.apps.molecule.models import MoleculeResults, MoleculeSearch
from findalike.apps.molecule.reader import read_molecules
from findalike.apps.molecule.routes import molecule_routes
from findalike.apps.molecule.search import molecule_rows, search_molecules
from findalike.apps.molecule.settings import MoleculeSettings
from findalike.core.app import AppRuntime, AppSpec
from findalike.encoders.base import Encoder
from findalike.schema import FieldSpec


def make_encoder(rt: AppRuntime) -> Encoder:
    """A Morgan encoder: packed binary vectors (exact JACCARD) on a Milvus server and
    on Milvus Lite 2.5, 0/1 floats on Lite 3.2, which has no binary vectors. ``auto``
    keeps what an existing collection holds (one moved from Lite 3.2 holds floats)."""
    from findalike.encoders.fingerprint import MorganEncoder

    own = rt.config(MoleculeSettings)
    binary = own.vectors == "binary"
    if own.vectors == "auto":
        stored = rt.stored_record()
        if "vector_kind" in stored:
            binary = stored["vector_kind"] == "binary"
        else:
            binary = rt.binary_vectors
    return MorganEncoder(radius=own.radius, n_bits=own.bits, binary=binary)


def demo_files(datasets: Path) -> list[tuple[str, Path]]:
    path = datasets / "molecules" / "nci_first_5K.smi"
    return [(path.name, path)] if path.exists() else []


APP = AppSpec(
    name="molecule",
    title="Molecules",
    summary="Find similar molecules to a SMILES (Tanimoto on Morgan fingerprints), or every "
    "stored molecule that contains a fragment.",
    extensions=frozenset({".smi", ".smiles", ".csv", ".tsv", ".sdf", ".sd"}),
    fields=(
        FieldSpec("smiles", "str", 4096),
        FieldSpec("mol_id", "str", 256),
        FieldSpec("name", "str", 512),
        FieldSpec("meta", "json"),
        FieldSpec("heavy_atoms", "int"),
        FieldSpec("bits_on", "int"),
        FieldSpec("pattern_fp", "str", 600),
    ),
    make_encoder=make_encoder,
    settings=MoleculeSettings,
    read=read_molecules,
    to_rows=molecule_rows,
    search_request=MoleculeSearch,
    search_response=MoleculeResults,
    search=search_molecules,
    routes=molecule_routes,
    requires=("rdkit",),
    demo_files=demo_files,
    one_row_per_item=True,
    batch_size=500,
)
