"""Reading molecule files: ``.smi`` (SMILES with an optional id/name), CSV (a SMILES
column plus metadata) and SDF. Every molecule is parsed and canonicalised here
(RDKit); an invalid one becomes a ``ReadFailure`` naming its line or record, and
the rest of the file is still read.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from findalike.apps.molecule.chem import canonical_smiles, parse_smiles
from findalike.core.app import ReadFailure, Record, content_id
from findalike.errors import FindalikeError, UnsupportedMedia

SMILES_COLUMNS = ("smiles", "canonical_smiles", "smi", "isosmiles", "structure")
NAME_COLUMNS = ("name", "pref_name", "title", "molecule_name", "compound_name")
ID_COLUMNS = ("id", "mol_id", "chembl_id", "cid", "molregno", "compound_id")
MAX_META_CHARS = 4000


def read_molecules(name: str, data: bytes, runtime: object) -> Iterator[Record | ReadFailure]:
    """The molecules of one file; the format is chosen by the file's extension."""
    text = data.decode("utf-8", errors="replace")
    lower = name.lower()
    if lower.endswith(".smi") or lower.endswith(".smiles"):
        yield from _read_smi(name, text)
    elif lower.endswith(".csv") or lower.endswith(".tsv"):
        yield from _read_csv(name, text, "\t" if lower.endswith(".tsv") else ",")
    elif lower.endswith(".sdf") or lower.endswith(".sd") or lower.endswith(".mol"):
        yield from _read_sdf(name, data)
    else:
        raise UnsupportedMedia(f"{name}: the molecule app reads .smi, .csv, .tsv and .sdf")


def molecule_record(
    mol: Any, label: str, *, mol_id: str = "", title: str = "", meta: dict[str, Any] | None = None
) -> Record:
    """A record keyed by the canonical SMILES, so one molecule written two ways is one
    item. The payload is the RDKit ``Mol``."""
    smiles = canonical_smiles(mol)
    meta = dict(meta or {})
    if len(str(meta)) > MAX_META_CHARS:
        meta = {"note": "metadata too long; dropped"}
    return Record(
        item_id=content_id("molecule", smiles),
        payload=mol,
        fields={
            "smiles": smiles,
            "mol_id": mol_id[:200],
            "name": title[:400],
            "meta": meta,
            "heavy_atoms": int(mol.GetNumHeavyAtoms()),
        },
        label=label,
    )


def _parsed(smiles: str, label: str) -> Any | ReadFailure:
    try:
        return parse_smiles(smiles)
    except FindalikeError as exc:
        return ReadFailure(label, exc.detail)


def _read_smi(name: str, text: str) -> Iterator[Record | ReadFailure]:
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.strip().split(None, 2)
        if not parts or parts[0].startswith("#"):
            continue
        label = f"{name}:{number}"
        mol = _parsed(parts[0], label)
        if isinstance(mol, ReadFailure):
            if number == 1 and parts[0].lower() in SMILES_COLUMNS:
                continue  # a header line
            yield mol
            continue
        mol_id = parts[1] if len(parts) > 1 else ""
        title = parts[2] if len(parts) > 2 else ""
        yield molecule_record(mol, label, mol_id=mol_id, title=title)


def _pick(header: list[str], wanted: tuple[str, ...]) -> str | None:
    lowered = {h.strip().lower(): h for h in header}
    return next((lowered[w] for w in wanted if w in lowered), None)


def _read_csv(name: str, text: str, delimiter: str) -> Iterator[Record | ReadFailure]:
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = list(reader.fieldnames or [])
    smiles_col = _pick(header, SMILES_COLUMNS)
    if smiles_col is None:
        yield ReadFailure(
            name,
            f"no SMILES column; expected one of {', '.join(SMILES_COLUMNS)} "
            f"(found {', '.join(header) or 'no header'})",
        )
        return
    name_col, id_col = _pick(header, NAME_COLUMNS), _pick(header, ID_COLUMNS)
    for number, row in enumerate(reader, start=2):
        label = f"{name}:{number}"
        mol = _parsed(row.get(smiles_col) or "", label)
        if isinstance(mol, ReadFailure):
            yield mol
            continue
        meta = {
            k: _scalar(v)
            for k, v in row.items()
            if k and k not in (smiles_col, name_col, id_col) and v not in (None, "")
        }
        yield molecule_record(
            mol,
            label,
            mol_id=(row.get(id_col) or "") if id_col else "",
            title=(row.get(name_col) or "") if name_col else "",
            meta=meta,
        )


def _read_sdf(name: str, data: bytes) -> Iterator[Record | ReadFailure]:
    from rdkit import Chem, rdBase

    with rdBase.BlockLogs():
        supplier = Chem.ForwardSDMolSupplier(io.BytesIO(data))
        for number, mol in enumerate(supplier, start=1):
            label = f"{name}#{number}"
            if mol is None or mol.GetNumAtoms() == 0:
                yield ReadFailure(label, "RDKit cannot read this SDF record")
                continue
            props = mol.GetPropsAsDict()
            title = mol.GetProp("_Name") if mol.HasProp("_Name") else ""
            id_key = _pick(list(props), ID_COLUMNS)
            meta = {k: _scalar(v) for k, v in props.items() if k != id_key}
            yield molecule_record(
                mol, label, mol_id=str(props[id_key]) if id_key else "", title=title, meta=meta
            )


def _scalar(value: Any) -> Any:
    """CSV/SDF values as numbers where they are numbers, else strings."""
    if isinstance(value, int | float | bool):
        return value
    text = str(value)
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text[:500]
