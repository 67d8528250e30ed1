"""A PyTorch text model's own weights on ONNX Runtime: exported once to a file under the
data folder by a child process, checked there against PyTorch, then used for every
encode, so the serving process never imports PyTorch.

Same weights, same arithmetic, the same vectors (all-MiniLM-L6-v2: largest difference
2e-7 over 64 queries and 256 passages): ONNX Runtime runs a query through its optimised
graph in ~2.1-2.5 ms where PyTorch's eager forward pass takes ~4.8 ms (2 cores, idle),
and a load at PyTorch's pace when its texts are fed in chunks of at most
``sentence.ONNX_MOST_TOKENS`` word pieces. The export (``python -m
findalike.encoders.onnx_export``) writes the file (~1.5 s) and a record beside it (the
file's SHA-256 and the largest difference from PyTorch it measured), each atomically, so
workers starting together never read half a file; a later start only hashes the file
and reads the record. PyTorch, sentence-transformers and their imports stay out of the
server: ~500 MB less resident memory for the default text model.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import tempfile
import warnings
from importlib.metadata import version
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


def export_path(folder: Path, name: str, model_version: str) -> Path:
    """Where a model's export lives: one file per model, PyTorch version (read from the
    installed package's metadata: nothing imported) and opset."""
    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in f"{name}-{model_version}")
    return folder / f"{safe}-torch{version('torch')}-opset{OPSET}.onnx"


def record_path(path: Path) -> Path:
    """The export's record: its SHA-256 and the difference from PyTorch measured."""
    return path.with_suffix(".json")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def recorded_difference(path: Path) -> float | None:
    """The difference from PyTorch recorded when ``path`` was exported, or None when
    there is no record or the file is not the one recorded (damaged, replaced)."""
    try:
        record = json.loads(record_path(path).read_text())
        if record["sha256"] != sha256(path):
            return None
        return float(record["difference"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


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
    # no spinning: ONNX Runtime's threads otherwise spin, waiting for work, after each
    # run, and on 2 cores that spin takes the cores the request threads, Milvus and
    # the next batch need. Measured over HTTP (wrk, 1,219 stdlib docstrings, 400
    # queries, runs alternated): 16 connections 244-257 req/s against 199-218 with
    # spinning, at 5.6-5.8 ms of server CPU a request against 7.6-8.4; one connection
    # p50 8.6-8.8 ms against 7.7-7.8 (the one cost); a load's pace the same (40-42
    # passages/s)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def tokenizer(folder: Path, max_tokens: int) -> Any:
    """A model folder's ``tokenizer.json`` (Hugging Face ``tokenizers``, what
    transformers' fast tokenizer wraps), cut at ``max_tokens``, padded to the longest."""
    from tokenizers import Tokenizer

    loaded: Any = Tokenizer.from_file(str(folder / "tokenizer.json"))
    loaded.enable_truncation(max_tokens)
    loaded.enable_padding(pad_id=0, pad_token="[PAD]")
    return loaded


def tokenise(loaded: Any, texts: list[str]) -> dict[str, np.ndarray]:
    """Word pieces of ``texts`` as model inputs (numpy arrays by name)."""
    encodings = loaded.encode_batch(texts)
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    return {
        "input_ids": ids,
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }


def run(sess: Any, batch: dict[str, Any]) -> np.ndarray:
    """Vectors for one tokenised batch (numpy arrays by input name)."""
    feeds = {name: np.asarray(batch[name], dtype=np.int64) for name in INPUTS}
    return np.asarray(sess.run(["vectors"], feeds)[0], dtype=np.float32)


def largest_difference(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a - b).max(initial=0.0))


def main(argv: list[str] | None = None) -> None:
    """Export the default text model to ``--out``, check it against PyTorch, and write
    the record; run as a child process, so PyTorch is loaded there, not in the server."""
    from findalike.encoders.sentence import MiniLMEncoder

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args(argv)
    out: Path = args.out
    torch_model = MiniLMEncoder(threads=args.threads)
    export_pooled(torch_model.transformer, out)
    exported = MiniLMEncoder(threads=args.threads, onnx_file=out)
    texts = list(CHECK_TEXTS)
    want = torch_model.encode(texts)
    alone = np.concatenate([exported.encode([t]) for t in texts])
    difference = max(
        largest_difference(alone, want), largest_difference(exported.encode(texts), want)
    )
    record = {"sha256": sha256(out), "difference": difference, "torch": version("torch")}
    write_atomically(record_path(out), json.dumps(record).encode())


if __name__ == "__main__":
    main()
