"""Faces: dlib's HOG face detector, its 5-point landmark model and its ResNet face
embedding (128-d; dlib calls two faces one person within 0.6 euclidean, i.e. cosine
>= ~0.91 on the unit-length vectors stored here, its raw vectors being ~1.4 long). The model files
ship inside the PyPI package ``face-recognition-models`` (0.3.0, CC0 weights by Davis
King) and dlib itself comes prebuilt from ``dlib-bin``; both load offline.

Chosen by measurement on the first 20 photos of datasets/people/ (2 CPU cores, shared;
the folder has grown since): the HOG detector found
every face the CNN (MMOD) detector found, at 25-180 ms per photo against 2-12 s; the
embedding takes ~0.25 s per face. OpenCV 5's wheel no longer has the Haar cascades, and
its YuNet/SFace need ONNX files no package ships.

Boxes are ``(x0, y0, x1, y1)`` in pixels of the picture given, clipped to it.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from findalike.encoders.base import Metric, VectorKind, l2_normalise
from findalike.errors import Unavailable

if TYPE_CHECKING:
    from PIL import Image

UPSAMPLE_BELOW_PX = 600
"""Pictures whose longer side is under this are upsampled once before detection: the
HOG detector misses faces under ~80 px, which is common in video frames."""


@dataclass(frozen=True)
class FaceBox:
    """One detected face: its box in pixels and the detector's score."""

    box: tuple[int, int, int, int]
    score: float

    @property
    def area_px(self) -> int:
        return max(0, self.box[2] - self.box[0]) * max(0, self.box[3] - self.box[1])


@dataclass(frozen=True)
class FaceCrop:
    """What the embedding takes: a picture (RGB) and one face box on it."""

    image: Image.Image
    box: tuple[int, int, int, int]


class DlibFaceModel:
    """Face detection and embedding. ``encode`` takes :class:`FaceCrop` items (the
    embedding aligns the face with its landmarks, so it needs the whole picture and the
    box, not a crop). dlib's models are not safe to run from several threads at once:
    calls are serialised by a lock."""

    name = "dlib-resnet-face"
    version = "face-recognition-models-0.3.0"
    dim = 128
    vector_kind: VectorKind = "float"
    metric: Metric = "COSINE"

    def __init__(self) -> None:
        # Found, not imported: face_recognition_models imports pkg_resources, often absent.
        models = importlib.util.find_spec("face_recognition_models")
        if models is None or models.origin is None or importlib.util.find_spec("dlib") is None:
            raise Unavailable(
                "face recognition needs 'dlib-bin' and 'face-recognition-models': "
                "pip install 'findalike[vision]'"
            )
        folder = os.path.join(os.path.dirname(models.origin), "models")
        import dlib

        self._detector: Any = dlib.get_frontal_face_detector()
        self._landmarks: Any = dlib.shape_predictor(
            os.path.join(folder, "shape_predictor_5_face_landmarks.dat")
        )
        self._net: Any = dlib.face_recognition_model_v1(
            os.path.join(folder, "dlib_face_recognition_resnet_model_v1.dat")
        )
        self._rectangle: Any = dlib.rectangle
        self._lock = threading.Lock()

    def detect(self, image: Image.Image, *, min_side_px: int = 20) -> list[FaceBox]:
        """The faces of one picture, largest first."""
        pixels = np.asarray(image.convert("RGB"))
        height, width = pixels.shape[:2]
        upsample = 1 if max(height, width) < UPSAMPLE_BELOW_PX else 0
        with self._lock:
            rects, scores, _ = self._detector.run(pixels, upsample, 0.0)
        found = []
        for rect, score in zip(rects, scores, strict=True):
            box = (
                max(0, rect.left()),
                max(0, rect.top()),
                min(width, rect.right()),
                min(height, rect.bottom()),
            )
            if box[2] - box[0] >= min_side_px and box[3] - box[1] >= min_side_px:
                found.append(FaceBox(box, round(float(score), 4)))
        found.sort(key=lambda f: f.area_px, reverse=True)
        return found

    def encode(self, items: Sequence[FaceCrop]) -> np.ndarray:
        """Unit-length 128-d vectors, one per face, in input order."""
        vectors = np.zeros((len(items), self.dim), dtype=np.float32)
        for i, item in enumerate(items):
            pixels = np.asarray(item.image.convert("RGB"))
            rect = self._rectangle(*item.box)
            with self._lock:
                shape = self._landmarks(pixels, rect)
                vectors[i] = np.asarray(self._net.compute_face_descriptor(pixels, shape))
        return l2_normalise(vectors)
