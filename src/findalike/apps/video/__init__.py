"""Video search: frames sampled from each video (about one a second plus every cut)
are embedded with the image encoder and stored with their time offset; search by an
image or a clip returns videos grouped, best first, with matching offsets."""

from __future__ import annotations

import os

from findalike.app import AppSpec
from findalike.apps.video.models import VideoSearchRequest, VideoSearchResponse
from findalike.apps.video.pipeline import read_video, video_rows
from findalike.apps.video.routes import make_router
from findalike.apps.video.search import search
from findalike.config import Settings
from findalike.encoders.base import Encoder
from findalike.store import FieldSpec
from findalike.video import VIDEO_EXTENSIONS

IMAGE_ENCODER_KEY = "image"


def make_encoder(settings: Settings) -> Encoder:
    """The shared image encoder (the same model as the image app)."""
    from findalike.encoders.image import DEFAULT_IMAGE_MODEL, make_image_encoder

    model = os.environ.get("FINDALIKE_IMAGE_MODEL", DEFAULT_IMAGE_MODEL)
    return make_image_encoder(model, threads=settings.torch_threads)


APP = AppSpec(
    name="video",
    title="Video search",
    summary="Find the videos, and the moments in them, that look like an image or a clip.",
    extensions=VIDEO_EXTENSIONS,
    fields=(
        FieldSpec("name", "str", 512),
        FieldSpec("offset_s", "float"),
        FieldSpec("frame_number", "int"),
        FieldSpec("scene_change", "bool"),
        FieldSpec("duration_s", "float"),
        FieldSpec("width", "int"),
        FieldSpec("height", "int"),
    ),
    make_encoder=make_encoder,
    read=read_video,
    to_rows=video_rows,
    search_request=VideoSearchRequest,
    search_response=VideoSearchResponse,
    search=search,
    routes=make_router,
    requires=("av", "PIL", "ai_edge_litert"),
    encoder_key=IMAGE_ENCODER_KEY,
    batch_size=2,
)
