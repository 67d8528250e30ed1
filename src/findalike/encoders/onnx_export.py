"""A PyTorch text model's own weights on ONNX Runtime: exported once to a file under the
data folder, checked against PyTorch, then used for every encode.

Same weights, same arithmetic, the same vectors (all-MiniLM-L6-v2: largest difference
2e-7 over 64 queries and 256 passages), in less time on short inputs: ONNX Runtime
runs a query through its optimised graph in ~2.1-2.5 ms where PyTorch's eager forward
pass takes ~4.8 ms (2 cores, idle); on long padded batches PyTorch is the faster, so
the encoder chooses by size (``sentence.ONNX_MOST_TOKENS``). The session costs ~128 MB
of memory beside PyTorch's copy of the weights. The file is written once per model
and PyTorch version (~1.5 s), atomically, so workers starting together never read
half a file.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17
TOLERANCE = 1e-5
"""Largest difference allowed between a vector from ONNX Runtime and PyTorch's for the
same text (unit vectors; float32 rounding gives ~2e-7): more and the export is not used."""
CHECK_TEXTS = (
    "a",
    "How do I join two paths?",
    "The Milvus vector database answers nearest-neighbour queries over many rows. " * 30,
    "Ünïcödé, 中文 and emoji 🙂 in one line",
)
"""Texts the export is checked on, alone and as one padded batch: one word piece, a
query, a text cut at the model's limit, and characters outside ASCII."""


def export_path(folder: Path, name: str, version: str) -> Path:
    import torch

    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in f"{name}-{version}")
    return folder / f"{safe}-torch{torch.__version__}-opset{OPSET}.onnx"


def mean_pooled(hidden: Any, attention_mask: Any) -> Any:
    """sentence-transformers' pooling for MiniLM, in torch: the mean of the word pieces'
    vectors (padding left out), made unit length. The export and PyTorch's own forward
    pass (``MiniLMEncoder._forward``) both pool with this."""
    import torch

    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=1)


def export_pooled(transformer: Any, path: Path) -> None:
    """Write ``transformer`` (a Hugging Face encoder) followed by mean pooling over the
    attention mask and L2 normalisation (sentence-transformers' modules for MiniLM) as
    one ONNX graph, to ``path``, atomically."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            return mean_pooled(out, attention_mask)

    example = tuple(torch.ones((2, 4), dtype=torch.long) for _ in INPUTS)
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS} | {"vectors": {0: "batch"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".onnx.part")
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
            torch.onnx.export(
                Pooled(transformer).eval(),
                example,
                tmp,
                input_names=list(INPUTS),
                output_names=["vectors"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads  # 0: ONNX Runtime's default, one per core
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # no memory arena: a session then holds +128 MB (weights, and their pre-packed
    # copies, which make it fast: without them a query took 7.5 ms) instead of +155 MB
    # and growing with the largest batch seen, at the same speed (2.5 against 2.8 ms)
    options.enable_cpu_mem_arena = False
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run(sess: Any, batch: dict[str, Any]) -> np.ndarray:
    """Vectors for one tokenised batch (numpy arrays by input name)."""
    feeds = {name: np.asarray(batch[name], dtype=np.int64) for name in INPUTS}
    return np.asarray(sess.run(["vectors"], feeds)[0], dtype=np.float32)


def largest_difference(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a - b).max(initial=0.0))
