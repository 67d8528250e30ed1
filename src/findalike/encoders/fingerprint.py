"""Morgan (ECFP-like) fingerprints of molecules, computed with RDKit.

No model weights: a fingerprint is a deterministic function of the molecule, so a
stored vector never goes stale. Items are SMILES strings (canonical SMILES from the
molecule app's reader); RDKit is imported when the encoder is created, never at
module import.

Two vector forms of the same bits:

- ``"binary"`` (a Milvus server): packed bits, uint8 ``(n, n_bits // 8)``, stored as
  ``BINARY_VECTOR`` with the ``JACCARD`` metric; Tanimoto = 1 - Jaccard distance.
- ``"float"`` (Milvus Lite, which has no ``BINARY_VECTOR``): the bits as 0.0/1.0
  float32 ``(n, n_bits)`` with the ``COSINE`` metric. Cosine is not Tanimoto, but
  Tanimoto is exactly recoverable from it (``c = cos * sqrt(a * b)`` with ``a``, ``b``
  the bit counts) and ``Tanimoto <= cosine`` always holds, which gives an exact
  stopping rule for a top-k search (see ``findalike.apps.molecule.similarity``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from findalike.encoders.base import Metric, VectorKind
from findalike.errors import InvalidInput

DEFAULT_RADIUS = 2
DEFAULT_BITS = 2048


class MorganEncoder:
    """Morgan fingerprints (RDKit ``MorganGenerator``) of SMILES strings."""

    name = "rdkit-morgan"

    def __init__(
        self, *, radius: int = DEFAULT_RADIUS, n_bits: int = DEFAULT_BITS, binary: bool = False
    ) -> None:
        from rdkit import Chem, rdBase
        from rdkit.Chem import rdFingerprintGenerator

        if n_bits % 8 or not 64 <= n_bits <= 16384:
            raise ValueError(f"n_bits must be a multiple of 8 in [64, 16384], got {n_bits}")
        if not 1 <= radius <= 6:
            raise ValueError(f"radius must be in [1, 6], got {radius}")
        self._chem = Chem
        self._rdbase = rdBase
        self._generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
        self.radius = radius
        self.dim = n_bits
        self.version = f"r{radius}-{n_bits}b-rdkit{rdBase.rdkitVersion}"
        self.vector_kind: VectorKind = "binary" if binary else "float"
        self.metric: Metric = "JACCARD" if binary else "COSINE"

    def bits(self, items: Sequence[Any]) -> np.ndarray:
        """The fingerprint bits, uint8 0/1 ``(n, n_bits)``. Items are SMILES strings
        or RDKit ``Mol`` objects; ``InvalidInput`` for an unparsable SMILES."""
        out = np.zeros((len(items), self.dim), dtype=np.uint8)
        for row, item in enumerate(items):
            mol = item if not isinstance(item, str) else self._parse(item)
            out[row] = self._generator.GetFingerprintAsNumPy(mol)
        return out

    def rdkit_fingerprint(self, mol: Any, *, from_atoms: Sequence[int] | None = None) -> Any:
        """The RDKit ``ExplicitBitVect`` of the same bits (for RDKit's own Tanimoto);
        with ``from_atoms``, only the environments centred on those atoms (a subset of
        the molecule's bits)."""
        if from_atoms is None:
            return self._generator.GetFingerprint(mol)
        return self._generator.GetFingerprint(mol, fromAtoms=list(from_atoms))

    def encode(self, items: Sequence[Any]) -> np.ndarray:
        bits = self.bits(items)
        if self.vector_kind == "binary":
            return np.packbits(bits, axis=1)
        return bits.astype(np.float32)

    def _parse(self, smiles: str) -> Any:
        with self._rdbase.BlockLogs():
            mol = self._chem.MolFromSmiles(smiles)
        if mol is None:
            raise InvalidInput(f"RDKit cannot parse SMILES {smiles[:80]!r}")
        return mol
