"""k-mer profiles of DNA sequences.

The vocabulary is FIXED: all ``4**k`` k-mers over ``ACGT`` in lexicographic order
(``AAA..A`` = 0, ``TTT..T`` = 4**k - 1), so a vector stored today means the same
tomorrow, however much data is loaded later (the Bootcamp's demo re-fitted a
``CountVectorizer`` on every load and silently invalidated its stored vectors).
Windows that contain ``N`` (or any non-ACGT letter) are skipped. The counts are
L2-normalised, so the cosine of two profiles compares composition, not length.

``canonical=True`` counts a k-mer and its reverse complement as one (the smaller
index of the two), for data whose strand is unknown or does not matter: a sequence
and its reverse complement then have the same profile. The version records it
(``k5-acgt-canonical-v1``), so such a collection is never mixed with a stranded one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from findalike.encoders.base import Metric, VectorKind
from findalike.errors import InvalidInput

_CODES = np.full(256, -1, dtype=np.int64)
for _i, _base in enumerate("ACGT"):
    _CODES[ord(_base)] = _i
    _CODES[ord(_base.lower())] = _i


class KmerEncoder:
    """Sequence (str) -> L2-normalised k-mer count vector, float32 ``(4**k,)``."""

    name = "kmer-profile"
    vector_kind: VectorKind = "float"
    metric: Metric = "COSINE"

    def __init__(self, k: int = 5, *, canonical: bool = False) -> None:
        if not 2 <= k <= 7:
            raise ValueError(f"k must be in [2, 7] (4**k dimensions), got {k}")
        self.k = k
        self.dim = 4**k
        self.canonical = canonical
        self.version = f"k{k}-acgt-canonical-v1" if canonical else f"k{k}-acgt-v1"
        self._canonical_index = _canonical_index(k) if canonical else None

    def counts(self, sequence: str) -> np.ndarray:
        """Raw k-mer counts, int64 ``(4**k,)``; windows with a non-ACGT letter skipped."""
        codes = _CODES[np.frombuffer(sequence.encode("ascii", "replace"), dtype=np.uint8)]
        n = len(codes) - self.k + 1
        if n <= 0:
            return np.zeros(self.dim, dtype=np.int64)
        index = np.zeros(n, dtype=np.int64)
        valid = np.ones(n, dtype=bool)
        for offset in range(self.k):
            window = codes[offset : offset + n]
            index = index * 4 + np.maximum(window, 0)
            valid &= window >= 0
        if self._canonical_index is not None:
            index = self._canonical_index[index]
        return np.bincount(index[valid], minlength=self.dim)

    def encode(self, items: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        for row, sequence in enumerate(items):
            counts = self.counts(sequence).astype(np.float32)
            norm = float(np.linalg.norm(counts))
            if norm == 0.0:
                raise InvalidInput(
                    f"a sequence of {len(sequence)} letters has no {self.k}-mer of A/C/G/T only"
                )
            out[row] = counts / norm
        return out


def _canonical_index(k: int) -> np.ndarray:
    """For every k-mer index, the smaller of it and its reverse complement's index
    (A<->T, C<->G is ``3 - code`` in the ACGT order)."""
    index = np.arange(4**k, dtype=np.int64)
    reverse = np.zeros_like(index)
    rest = index.copy()
    for _ in range(k):
        reverse = reverse * 4 + (3 - rest % 4)
        rest //= 4
    return np.minimum(index, reverse)
