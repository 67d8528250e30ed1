"""The encoder protocol every app's encoder implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

VectorKind = Literal["float", "binary"]
Metric = Literal["COSINE", "IP", "L2", "JACCARD", "HAMMING"]


@runtime_checkable
class Encoder(Protocol):
    """Turns items (texts, decoded images, molecules, ...) into vectors.

    ``encode`` returns a 2-D array, one row per item, in input order:
    float32 ``(n, dim)`` for ``vector_kind == "float"``, or packed bits uint8
    ``(n, dim // 8)`` for ``"binary"``. It is blocking and CPU-heavy: callers run it
    in a worker thread. It raises ``findalike.errors.InvalidInput`` only for an item
    it cannot encode at all; readers are expected to have validated items first.
    """

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def vector_kind(self) -> VectorKind: ...

    @property
    def metric(self) -> Metric: ...

    def encode(self, items: Sequence[Any]) -> np.ndarray: ...


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalised: np.ndarray = v / norms
    return normalised


def encode_queries(encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
    """Vectors of search queries. An asymmetric text model (one trained with an
    instruction before its queries, such as bge) names that instruction in its
    ``query_prefix`` attribute; stored text is encoded without it (``encode``)."""
    prefix = str(getattr(encoder, "query_prefix", "") or "")
    return encoder.encode([prefix + t for t in texts] if prefix else list(texts))
