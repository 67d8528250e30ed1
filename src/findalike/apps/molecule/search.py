"""Exact molecule search on top of Milvus.

Similarity (Tanimoto on Morgan fingerprints) — exact top-k on both stores:

- Milvus server and Milvus Lite 2.5: the fingerprints are ``BINARY_VECTOR`` with the
  ``JACCARD`` metric (exact, ``BIN_FLAT``), and Tanimoto = 1 - Jaccard distance, so
  Milvus's ranking *is* the Tanimoto ranking, in float32: the exact fraction is
  recovered from the distance and the bit counts, and candidates are fetched past the
  k-th until ties at the boundary are all in (as below).
- Milvus Lite 3.2 has no ``BINARY_VECTOR``. The same bits are stored as 0/1 float vectors
  with the ``COSINE`` metric, and each row stores its bit count ``bits_on``. For a
  query with ``a`` bits and a stored molecule with ``b`` bits sharing ``c`` bits,
  ``cos = c / sqrt(a*b)`` and ``Tanimoto = c / (a + b - c)``; so (1) ``c`` and hence the
  exact Tanimoto are recovered from Milvus's cosine and ``bits_on``, and (2)
  ``Tanimoto <= cosine`` always (``a + b - c >= 2*sqrt(a*b) - c >= sqrt(a*b)``). Milvus
  returns candidates in cosine order; once the cosine of the last candidate is below
  the k-th best Tanimoto found (or ``min_score``), no molecule not yet seen can enter
  the answer. The candidate count starts at ``max(4k, 64)`` and grows 4x until that
  holds, so the answer is exact, not approximate; only if 16,384 candidates (Milvus's
  top-k limit) are not enough is ``exact`` reported False.

Both are answered from an in-memory packed-bit copy of the stored fingerprints when
one is held (``fingerprints``: exact Tanimoto by popcount over every molecule, the
same numbers and the same order, (-Tanimoto, item id), as the Milvus path below, at
numpy speed); the Milvus path answers when it is not (more than ``MAX_IN_MEMORY``
molecules).

Substructure / superstructure — exact: Morgan fingerprints cannot screen substructures
(a fragment's atom environments at its cut bonds are not those of the molecule), so
each row also stores RDKit's *pattern* fingerprint, which has the screening property
(query ⊆ molecule ⇒ bits(query) ⊆ bits(molecule)). Stored pattern fingerprints are
screened with numpy and every survivor is confirmed by RDKit's ``HasSubstructMatch``.
Every hit is scored too (``score``, the contract's): its Tanimoto to the query, as in a
similarity search (``structure_score``); the order stays smallest molecule first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

import numpy as np

from findalike.apps.molecule.chem import canonical_smiles, parse_smarts, parse_smiles
from findalike.apps.molecule.fingerprints import (
    WRITES,
    FingerprintIndex,
    fingerprint_index,
    forget_index,
)
from findalike.apps.molecule.models import MoleculeHit, MoleculeResults, MoleculeSearch
from findalike.core.app import AppRuntime, EncodedItem, Record
from findalike.encoders.fingerprint import MorganEncoder
from findalike.errors import Conflict, Unprocessable
from findalike.schema import MAX_RESULT_ROWS, Hit, in_filter

PATTERN_BITS = 2048
MAX_CANDIDATES = MAX_RESULT_ROWS
_SCAN_PAGE = 16_000
_DETAIL_FIELDS = ["smiles", "mol_id", "name", "meta"]
_SCAN_CACHE = "molecule.pattern_scan"
_STALE_RETRIES = 3
_EPSILON = 1e-6
"""Slack for the float32 cosine Milvus returns when it bounds an exact fraction."""
FETCH_PER_HIT = 4
MIN_FETCH = 64
"""The first fetch from Milvus is ``max(FETCH_PER_HIT * top_k, MIN_FETCH)`` candidates; it
grows fourfold until the bound proves the top-k exact (ties by item id included)."""


class _StaleIndex(Exception):
    """A hit from the in-memory index is no longer in the store."""


def pattern_bits(mols: Sequence[Any]) -> np.ndarray:
    """RDKit pattern fingerprints (substructure screening), uint8 0/1 ``(n, 2048)``."""
    from rdkit import Chem
    from rdkit.DataStructs import ConvertToNumpyArray

    out = np.zeros((len(mols), PATTERN_BITS), dtype=np.uint8)
    for row, mol in enumerate(mols):
        ConvertToNumpyArray(Chem.PatternFingerprint(mol, fpSize=PATTERN_BITS), out[row])
    return out


def molecule_rows(rt: AppRuntime, records: Sequence[Record]) -> list[EncodedItem]:
    """One row per molecule: its Morgan vector, bit count and pattern fingerprint."""
    encoder: MorganEncoder = rt.encoder  # type: ignore[assignment]
    mols = [r.payload for r in records]
    bits = encoder.bits(mols)
    vectors = (
        np.packbits(bits, axis=1) if encoder.vector_kind == "binary" else bits.astype(np.float32)
    )
    patterns = np.packbits(pattern_bits(mols), axis=1)
    rt.state[WRITES] = rt.state.get(WRITES, 0) + 1
    return [
        EncodedItem(
            record=r,
            rows=[
                rt.row(
                    r,
                    0,
                    vectors[i],
                    bits_on=int(bits[i].sum()),
                    pattern_fp=patterns[i].tobytes().hex(),
                )
            ],
        )
        for i, r in enumerate(records)
    ]


def search_molecules(rt: AppRuntime, request: MoleculeSearch) -> MoleculeResults:
    """The entry point behind ``POST /api/molecule/search``. A hit found in memory
    but gone from the store means molecules were deleted since the index was read:
    the index is re-read and the search answered again."""
    for _ in range(_STALE_RETRIES):
        try:
            return _search_molecules(rt, request)
        except _StaleIndex:
            forget_index(rt)
    raise Conflict("The stored molecules kept changing during the search: try again.")


def _search_molecules(rt: AppRuntime, request: MoleculeSearch) -> MoleculeResults:
    if request.mode == "similarity":
        if request.query_type != "smiles":
            raise Unprocessable(
                "A similarity search needs a SMILES, not SMARTS.", field="query_type"
            )
        return similarity_search(
            rt,
            parse_smiles(request.query, field="query"),
            limit=request.top_k,
            threshold=request.min_score,
        )
    if request.mode == "superstructure" and request.query_type != "smiles":
        raise Unprocessable(
            "A superstructure search needs a SMILES, not SMARTS.", field="query_type"
        )
    query = (
        parse_smarts(request.query, field="query")
        if request.query_type == "smarts"
        else parse_smiles(request.query, field="query")
    )
    text = request.query.strip() if request.query_type == "smarts" else canonical_smiles(query)
    return structure_search(
        rt,
        query,
        text=text,
        mode=request.mode,
        limit=request.top_k,
        min_score=request.min_score,
        smarts=request.query_type == "smarts",
    )


# -- similarity -------------------------------------------------------------------------


def similarity_search(
    rt: AppRuntime, mol: Any, *, limit: int, threshold: float | None = None
) -> MoleculeResults:
    """The exact top-``limit`` stored molecules by Tanimoto (ties broken by item id),
    keeping only those with Tanimoto >= ``threshold``."""
    encoder: MorganEncoder = rt.encoder  # type: ignore[assignment]
    smiles = canonical_smiles(mol)
    floor = threshold if threshold is not None else 0.0
    index = fingerprint_index(rt)
    if index is not None:
        return _in_memory_similarity(rt, index, encoder, mol, smiles, limit, floor)
    if encoder.vector_kind == "binary":
        scored, exact, examined = _binary_candidates(rt, encoder, mol, limit, floor)
    else:
        scored, exact, examined = _cosine_candidates(rt, encoder, mol, limit, floor)
    top = sorted(
        ((t, i) for i, t in scored.items() if t >= floor - _EPSILON), key=lambda ti: (-ti[0], ti[1])
    )
    hits = _hits(rt, top[:limit], reference=smiles)
    return MoleculeResults(
        query=smiles,
        mode="similarity",
        hits=hits,
        exact=exact,
        candidates=examined,
        matches=len(top),
    )


def _in_memory_similarity(
    rt: AppRuntime,
    index: FingerprintIndex,
    encoder: MorganEncoder,
    mol: Any,
    smiles: str,
    limit: int,
    floor: float,
) -> MoleculeResults:
    """``similarity_search`` over every molecule held in memory: the same Tanimoto
    values, the same floor (with the same slack) and the same tie order."""
    scores = index.tanimoto(np.packbits(encoder.bits([mol]), axis=1)[0])
    kept = np.flatnonzero(scores >= floor - _EPSILON)
    if len(kept) > limit:  # every molecule scoring at least the k-th best, ties kept
        kth = np.partition(scores[kept], len(kept) - limit)[len(kept) - limit]
        shortlist = kept[scores[kept] >= kth]
    else:
        shortlist = kept
    top = sorted(
        ((float(scores[i]), index.item_ids[i]) for i in shortlist), key=lambda t: (-t[0], t[1])
    )[:limit]
    return MoleculeResults(
        query=smiles,
        mode="similarity",
        hits=_hits(rt, top, reference=smiles, index=index),
        exact=True,
        candidates=len(index),
        matches=len(kept),
    )


def _binary_candidates(
    rt: AppRuntime, encoder: MorganEncoder, mol: Any, limit: int, floor: float
) -> tuple[dict[str, float], bool, int]:
    """Packed bits with JACCARD: Milvus ranks by Tanimoto itself, in float32; the exact
    fraction comes back from the distance and the bit counts."""
    a = int(encoder.bits([mol])[0].sum())
    return _fetch_until_exact(
        rt,
        encoder.encode([mol]),
        limit,
        floor,
        score=lambda h: _tanimoto_from_jaccard(a, int(h.fields["bits_on"]), h.distance),
        bound=lambda h: 1.0 - h.distance,
    )


def _cosine_candidates(
    rt: AppRuntime, encoder: MorganEncoder, mol: Any, limit: int, floor: float
) -> tuple[dict[str, float], bool, int]:
    """0/1 floats with COSINE: Tanimoto <= cosine, so a candidate's cosine bounds
    every molecule after it."""
    vector = encoder.encode([mol])
    a = int(vector[0].sum())
    return _fetch_until_exact(
        rt,
        vector,
        limit,
        floor,
        score=lambda h: _tanimoto(a, int(h.fields["bits_on"]), h.distance),
        bound=lambda h: h.distance,
    )


def _fetch_until_exact(
    rt: AppRuntime,
    vector: Any,
    limit: int,
    floor: float,
    *,
    score: Callable[[Hit], float],
    bound: Callable[[Hit], float],
) -> tuple[dict[str, float], bool, int]:
    """Candidates in Milvus's order, ``max(FETCH_PER_HIT * limit, MIN_FETCH)`` first,
    four times more until the last one's ``bound`` (the best exact score a molecule not
    fetched yet could have) is below the k-th best exact score (or ``floor``): then the
    top-k, ties included, is among them. (exact Tanimoto by item id, exact, fetched)."""
    fetch = max(FETCH_PER_HIT * limit, MIN_FETCH)
    while True:
        fetch = min(fetch, MAX_CANDIDATES)
        # exact: the bound below holds for Milvus's order, not for a graph's guesses
        hits = rt.search_vectors(vector, limit=fetch, output_fields=["bits_on"], exact=True)[0]
        scored = {h.item_id: score(h) for h in hits}
        if len(hits) < fetch:
            return scored, True, len(hits)  # every stored molecule was a candidate
        best = sorted(scored.values(), reverse=True)
        kth = best[limit - 1] if len(best) >= limit else 0.0
        if bound(hits[-1]) + _EPSILON < max(kth, floor):
            return scored, True, len(hits)
        if fetch == MAX_CANDIDATES:
            return scored, False, len(hits)
        fetch *= 4


def _tanimoto_from_jaccard(a: int, b: int, distance: float) -> float:
    """Exact Tanimoto from bit counts and Milvus's float32 JACCARD distance: with ``c``
    bits shared, T = c / (a + b - c), so c = T (a + b) / (1 + T), an integer."""
    if a == 0 or b == 0:
        return 0.0
    t = 1.0 - distance
    c = round(t * (a + b) / (1.0 + t))
    return c / (a + b - c)


def _tanimoto(a: int, b: int, cosine: float) -> float:
    """Exact Tanimoto from bit counts and the cosine of 0/1 vectors."""
    if a == 0 or b == 0:
        return 0.0
    c = round(cosine * math.sqrt(a * b))
    return c / (a + b - c)


# -- substructure / superstructure --------------------------------------------------------


def structure_search(
    rt: AppRuntime,
    query: Any,
    *,
    text: str,
    mode: str,
    limit: int,
    min_score: float | None = None,
    smarts: bool = False,
) -> MoleculeResults:
    """Stored molecules that contain ``query`` (substructure) or that ``query``
    contains (superstructure), exactly: pattern-fingerprint screen + RDKit match.
    Smallest molecules first; each scored by ``structure_score``, and those under
    ``min_score`` left out before the first ``limit`` are taken. Without a
    ``min_score`` only the hits returned are scored (scoring every match of a
    benzene ring in 5K molecules adds 0.23 s to the 1.3 s of matching)."""
    from rdkit import Chem

    q = np.packbits(pattern_bits([query]), axis=1)[0]
    encoder: MorganEncoder = rt.encoder  # type: ignore[assignment]
    score = structure_score(encoder, query, smarts=smarts)
    held = fingerprint_index(rt)
    rows = scan_patterns(rt) if held is None else (held.item_ids, held.smiles, held.patterns)
    matches: list[tuple[str, str, float | None]] = []
    examined = 0
    if rows:
        ids, smiles, stored = rows
        if mode == "substructure":
            keep = np.all((stored & q) == q, axis=1)
        else:
            keep = np.all((stored & ~q) == 0, axis=1)
        for index in np.flatnonzero(keep):
            examined += 1
            mol = Chem.MolFromSmiles(smiles[index])
            if mol is None:
                continue
            found = (
                mol.HasSubstructMatch(query)
                if mode == "substructure"
                else query.HasSubstructMatch(mol)
            )
            if not found:
                continue
            if min_score is None:
                matches.append((smiles[index], ids[index], None))
            elif (t := score(mol)) >= min_score:
                matches.append((smiles[index], ids[index], t))
    matches.sort(key=lambda m: (len(m[0]), m[0]))  # smallest molecules first
    top = [
        (score(Chem.MolFromSmiles(s)) if t is None else t, item_id)
        for s, item_id, t in matches[:limit]
    ]
    highlight = Chem.MolToSmarts(query) if mode == "substructure" else ""
    hits = _hits(rt, top, highlight=highlight, index=held)
    return MoleculeResults(
        query=text, mode=mode, hits=hits, exact=True, candidates=examined, matches=len(matches)
    )


def structure_score(encoder: MorganEncoder, query: Any, *, smarts: bool) -> Callable[[Any], float]:
    """How a substructure/superstructure hit is scored: the Tanimoto of its Morgan
    fingerprint to the query's, the number a similarity search would give. A SMARTS
    query is a pattern, not a molecule, and has no fingerprint of its own (RDKit's of
    the SMARTS graph ignores its query features: acetic acid scores 0.27 against
    ``CC(=O)O`` read as SMARTS); a hit is then scored against the environments centred
    on the atoms the pattern matches in it, which are the hit's own bits: 1.0 when the
    pattern covers the whole molecule, less the more of it lies outside."""
    from rdkit import DataStructs

    if not smarts:
        reference = encoder.rdkit_fingerprint(query)
        return lambda mol: float(
            DataStructs.TanimotoSimilarity(reference, encoder.rdkit_fingerprint(mol))
        )

    def pattern_score(mol: Any) -> float:
        atoms = sorted({a for match in mol.GetSubstructMatches(query) for a in match})
        matched = encoder.rdkit_fingerprint(mol, from_atoms=atoms)
        return float(DataStructs.TanimotoSimilarity(matched, encoder.rdkit_fingerprint(mol)))

    return pattern_score


def scan_patterns(rt: AppRuntime) -> tuple[list[str], list[str], np.ndarray] | None:
    """Every stored molecule's id, canonical SMILES and packed pattern fingerprint
    (uint8 ``(n, 256)``); None if nothing is stored.

    Reading them from Milvus Lite takes ~1 s per 5k molecules (it reads whole rows),
    so the result is cached in ``rt.state`` keyed by the collection's row count (cheap,
    and changed by every delete or new molecule) and by a counter this process bumps
    on every write (``molecule_rows``), so a delete followed by a load is seen too."""
    if not rt.has_data():
        return None
    key = (rt.count_rows(), rt.state.get(WRITES, 0))
    cached = rt.state.get(_SCAN_CACHE)
    if cached is not None and cached[0] == key:
        return cached[1]  # type: ignore[no-any-return]
    result = _read_patterns(rt, total_rows=key[0])
    rt.state[_SCAN_CACHE] = (key, result)
    return result


def _read_patterns(
    rt: AppRuntime, *, total_rows: int
) -> tuple[list[str], list[str], np.ndarray] | None:
    filters = (
        ["part == 0"]
        if total_rows <= _SCAN_PAGE
        else [f'item_id like "{p:02x}%"' for p in range(256)]
    )
    ids: list[str] = []
    smiles: list[str] = []
    patterns: list[bytes] = []
    for expr in filters:
        for row in rt.query(
            expr,
            limit=MAX_CANDIDATES,
            output_fields=["item_id", "smiles", "pattern_fp"],
        ):
            ids.append(str(row["item_id"]))
            smiles.append(str(row["smiles"]))
            patterns.append(bytes.fromhex(str(row["pattern_fp"])))
    if not ids:
        return None
    matrix = np.frombuffer(b"".join(patterns), dtype=np.uint8).reshape(len(ids), -1)
    return ids, smiles, matrix


# -- hits ---------------------------------------------------------------------------------


def _hits(
    rt: AppRuntime,
    scored: Sequence[tuple[float, str]],
    *,
    reference: str = "",
    highlight: str = "",
    index: FingerprintIndex | None = None,
) -> list[MoleculeHit]:
    """Hits in the given order, with their stored fields (from ``index`` when given,
    else read from the store) and a depiction link."""
    if not scored:
        return []
    if index is not None:
        stored = rt.existing_items([i for _, i in scored])  # by primary key: ~5 ms
        if len(stored) < len(scored):
            raise _StaleIndex
        by_id = {i: index.row(i) for _, i in scored}
    else:
        rows = rt.query(
            in_filter("item_id", [i for _, i in scored]),
            output_fields=["item_id", *_DETAIL_FIELDS],
        )
        by_id = {str(r["item_id"]): r for r in rows}
    hits = []
    for score, item_id in scored:
        row = by_id.get(item_id)
        if row is None:
            continue  # deleted between the search and now
        hits.append(_hit(rt, item_id, score, row, reference=reference, highlight=highlight))
    return hits


def _hit(
    rt: AppRuntime,
    item_id: str,
    score: float,
    row: dict[str, Any],
    *,
    reference: str,
    highlight: str,
) -> MoleculeHit:
    params = {"smiles": row["smiles"]}
    if highlight:
        params["highlight"] = highlight
    elif reference and reference != row["smiles"]:
        params["reference"] = reference
    return MoleculeHit(
        item_id=item_id,
        smiles=row["smiles"],
        mol_id=row.get("mol_id") or "",
        name=row.get("name") or "",
        meta=row.get("meta") or {},
        score=score,
        tanimoto=score,
        depiction_url=f"/api/{rt.name}/depict?{urlencode(params)}",
    )
