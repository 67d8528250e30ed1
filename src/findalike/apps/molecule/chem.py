"""Parsing, validation, canonicalisation and depiction of molecules (RDKit).

Every function imports RDKit lazily, so importing the app stays cheap. Bad input
raises ``Unprocessable`` (422) with a message that names the problem and, when
RDKit reports one, the 1-based character position.
"""

from __future__ import annotations

import re
from typing import Any

from findalike.errors import Unprocessable

MAX_SMILES_CHARS = 2000
"""Longer SMILES are refused before parsing (a pasted 10k-character string is
almost certainly not a molecule someone wants to search with)."""
SMILES_PATTERN = r"^\s*[!-~]+\s*$"
"""What ``_check_text`` accepts, stated in request schemas (it enforces it with a
message naming the character and its position): printable ASCII without inner white
space (outer white space is stripped)."""

_POSITION = re.compile(r"position (\d+)")
_SMARTS_ONLY = re.compile(r"[~&!;]|\$\(|\[#|\[[^\]]*,")
"""Characters that occur in SMARTS but never in SMILES."""


def _rdkit() -> tuple[Any, Any]:
    from rdkit import Chem, rdBase

    return Chem, rdBase


def _check_text(text: str, what: str, field: str) -> str:
    text = text.strip()
    if not text:
        raise Unprocessable(f"The {what} is empty.", field=field)
    if len(text) > MAX_SMILES_CHARS:
        raise Unprocessable(
            f"The {what} has {len(text)} characters; at most {MAX_SMILES_CHARS} are accepted.",
            field=field,
        )
    if any(c.isspace() for c in text):
        pos = next(i for i, c in enumerate(text) if c.isspace()) + 1
        raise Unprocessable(f"The {what} contains white space at position {pos}.", field=field)
    if not text.isascii():  # RDKit's error log of a non-ASCII string can be cut mid-character
        pos = next(i for i, c in enumerate(text) if not c.isascii()) + 1
        raise Unprocessable(
            f"The {what} contains {text[pos - 1]!r} at position {pos}; SMILES and SMARTS are "
            "ASCII.",
            field=field,
        )
    return text


def _explain(log: str, fallback: str) -> str:
    """RDKit's error log reduced to one line: the first message and the position."""
    lines = [re.sub(r"^\[[0-9:]+\]\s*", "", ln).strip() for ln in log.splitlines()]
    lines = [ln for ln in lines if ln and not set(ln) <= {"~", "^"}]
    reason = lines[0] if lines else fallback
    reason = reason.replace("SMILES Parse Error: ", "").replace("SMARTS Parse Error: ", "")
    match = _POSITION.search(log)
    if match and "position" not in reason:
        reason += f" (around position {match.group(1)})"
    return reason


def parse_smiles(smiles: str, *, field: str = "smiles") -> Any:
    """An RDKit ``Mol`` (sanitised) for ``smiles``; ``Unprocessable`` if it is empty,
    too long, looks like SMARTS, or RDKit cannot parse or sanitise it."""
    Chem, rdBase = _rdkit()
    text = _check_text(smiles, "SMILES", field)
    smarts = _SMARTS_ONLY.search(text)
    if smarts:
        raise Unprocessable(
            f"This looks like SMARTS, not SMILES ({smarts.group(0)[0]!r} at position "
            f"{smarts.start() + 1}); use a substructure search with query_type 'smarts'.",
            field=field,
        )
    with rdBase.CaptureErrorLog() as log:
        mol = Chem.MolFromSmiles(text)
    if mol is None or mol.GetNumAtoms() == 0:
        raise Unprocessable(
            f"Invalid SMILES {text[:60]!r}: {_explain(log.messages, 'RDKit cannot parse it')}",
            field=field,
        )
    return mol


def parse_smarts(smarts: str, *, field: str = "query") -> Any:
    """An RDKit query ``Mol`` for ``smarts``; ``Unprocessable`` if it cannot be parsed."""
    Chem, rdBase = _rdkit()
    text = _check_text(smarts, "SMARTS", field)
    with rdBase.CaptureErrorLog() as log:
        mol = Chem.MolFromSmarts(text)
    if mol is None or mol.GetNumAtoms() == 0:
        raise Unprocessable(
            f"Invalid SMARTS {text[:60]!r}: {_explain(log.messages, 'RDKit cannot parse it')}",
            field=field,
        )
    return mol


def canonical_smiles(mol: Any) -> str:
    """RDKit's canonical isomeric SMILES: the same molecule written two ways gives
    the same string (and so the same item id)."""
    Chem, _ = _rdkit()
    return str(Chem.MolToSmiles(mol))


def depict_svg(mol: Any, *, highlight: Any | None = None, size_px: int = 300) -> str:
    """An SVG drawing of ``mol``; atoms and bonds matching the ``highlight`` query
    molecule (a fragment or the common substructure) are highlighted."""
    from rdkit.Chem import rdDepictor
    from rdkit.Chem.Draw import rdMolDraw2D

    Chem, _ = _rdkit()
    mol = Chem.Mol(mol)
    rdDepictor.Compute2DCoords(mol)
    atoms: list[int] = []
    bonds: list[int] = []
    if highlight is not None:
        match = mol.GetSubstructMatch(highlight)
        atoms = list(match)
        for bond in highlight.GetBonds():
            if match:
                b = mol.GetBondBetweenAtoms(
                    match[bond.GetBeginAtomIdx()], match[bond.GetEndAtomIdx()]
                )
                if b is not None:
                    bonds.append(b.GetIdx())
    drawer = rdMolDraw2D.MolDraw2DSVG(size_px, size_px)
    drawer.DrawMolecule(mol, highlightAtoms=atoms, highlightBonds=bonds)
    drawer.FinishDrawing()
    return str(drawer.GetDrawingText())


def common_substructure(a: Any, b: Any, *, timeout_s: int = 1) -> Any | None:
    """The maximum common substructure of two molecules as a query ``Mol`` (RDKit
    FMCS, bounded by ``timeout_s``), or None when there is none."""
    from rdkit.Chem import rdFMCS

    Chem, _ = _rdkit()
    result = rdFMCS.FindMCS([a, b], timeout=timeout_s, ringMatchesRingOnly=True)
    if not result.smartsString or result.numAtoms == 0:
        return None
    return Chem.MolFromSmarts(result.smartsString)
