"""Your own text model, from a local folder the operator names
(``FINDALIKE_TEXT_MODELS='{"legal": "/models/legal-minilm"}'``): a sentence-transformers
folder (``modules.json``, as ``SentenceTransformer.save`` writes it), or an ONNX model
(``*.onnx``) beside its ``tokenizer.json``. Nothing is downloaded: the folder must hold
everything. A collection made with it records ``name@<hash of the folder's files>``, so
a changed model is a different encoder (a 409, as for any encoder change) and never
mixes its vectors with the old ones'."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from findalike.encoders.base import Metric, VectorKind, l2_normalise

MODEL_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
MAX_TOKENS = 512
"""Word pieces read per input at most (an ONNX model's own limit may be lower: then its
tokenizer's truncation, if it sets one, wins)."""
BATCH = 32
HASH_CHUNK = 1 << 20
ModelKind = Literal["sentence-transformers", "onnx"]


class LocalModelError(ValueError):
    """The folder is not a model findalike can read (the message says why)."""


def model_kind(folder: Path) -> ModelKind:
    """What the folder holds; ``LocalModelError`` if it is neither kind."""
    if not folder.is_dir():
        raise LocalModelError(f"{folder} is not a folder")
    if (folder / "modules.json").is_file():
        return "sentence-transformers"
    if any(folder.glob("*.onnx")):
        if not (folder / "tokenizer.json").is_file():
            raise LocalModelError(f"{folder} has an ONNX model but no tokenizer.json")
        return "onnx"
    raise LocalModelError(
        f"{folder} holds no model: a sentence-transformers folder (modules.json) or an "
        "ONNX model (*.onnx) with its tokenizer.json"
    )


def fingerprint(folder: Path) -> str:
    """A hash of every file of the folder (names and contents): the model's version."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        with path.open("rb") as fh:
            while chunk := fh.read(HASH_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()[:12]


def check_name(name: str) -> None:
    if not re.match(MODEL_NAME_PATTERN, name):
        raise LocalModelError(
            f"model name {name!r}: a lower-case letter, then up to 31 lower-case letters, "
            "digits, `-` or `_`"
        )


class LocalTextEncoder:
    """A local text model as an encoder: L2-unit vectors (cosine), on the CPU. An ONNX
    model's output is pooled as its sentence-transformers config says (``1_Pooling``:
    the first token, or the mean over the tokens, the default) unless it already
    answers a ``sentence_embedding``."""

    vector_kind: VectorKind = "float"
    metric: Metric = "COSINE"

    def __init__(self, name: str, folder: Path, *, version: str = "", threads: int = 0) -> None:
        self.name = name
        self.version = version or fingerprint(folder)
        self.kind = model_kind(folder)
        self._threads = threads
        if self.kind == "sentence-transformers":
            self._model = self._sentence_transformer(folder)
            self.dim = int(self._model.get_embedding_dimension())
        else:
            self._load_onnx(folder)
            self.dim = int(self._encode_onnx(["dimension probe"]).shape[1])

    def _sentence_transformer(self, folder: Path) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        if self._threads:
            torch.set_num_threads(self._threads)
        return SentenceTransformer(str(folder), device="cpu", local_files_only=True)

    def _load_onnx(self, folder: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = self._threads or 1
        options.inter_op_num_threads = 1
        model = sorted(folder.glob("*.onnx"))[0]
        self._session: Any = ort.InferenceSession(
            str(model), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._outputs = [o.name for o in self._session.get_outputs()]
        tokenizer: Any = Tokenizer.from_file(str(folder / "tokenizer.json"))
        if tokenizer.truncation is None:
            tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding()
        self._tokenizer = tokenizer
        self._cls = _pooling(folder) == "cls"

    def encode(self, items: Sequence[Any]) -> np.ndarray:
        texts = [str(t) for t in items]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.kind == "sentence-transformers":
            vectors = self._model.encode(
                texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
            return np.asarray(vectors, dtype=np.float32)
        return np.concatenate(
            [self._encode_onnx(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)]
        )

    def _encode_onnx(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        given = {
            "input_ids": ids,
            "attention_mask": mask,
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        feeds = {k: v for k, v in given.items() if k in self._inputs}
        wanted = "sentence_embedding" if "sentence_embedding" in self._outputs else None
        output = np.asarray(self._session.run([wanted or self._outputs[0]], feeds)[0])
        if output.ndim == 3:  # token vectors: pool them
            if self._cls:
                output = output[:, 0]
            else:
                weights = mask[:, :, None].astype(np.float32)
                output = (output * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return l2_normalise(output.astype(np.float32))


def _pooling(folder: Path) -> str:
    """``cls`` or ``mean``, from a sentence-transformers pooling config beside the model."""
    config = folder / "1_Pooling" / "config.json"
    if config.is_file():
        try:
            if json.loads(config.read_text(encoding="utf-8")).get("pooling_mode_cls_token"):
                return "cls"
        except ValueError:
            pass
    return "mean"
