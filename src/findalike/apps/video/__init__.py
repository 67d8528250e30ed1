"""Video search: frames sampled from each video (about one a second plus every cut)
are embedded with the image encoder and stored with their time offset; search by an
image or a clip returns videos grouped, best first, with matching offsets."""

from __future__ import annotations

from pathlib import Path

from findalike.apps.video.models import (
    VideoSearchOptions,
    VideoSearchRequest,
    VideoSearchResponse,
)
from findalike.apps.video.reader import read_video, video_rows
from findalike.apps.video.search import search, search_upload
from findalike.apps.video.settings import VideoSettings
from findalike.core.app import AppSpec
from findalike.encoders.registry import IMAGE
from findalike.formats.video import VIDEO_EXTENSIONS
from findalike.schema import FieldSpec


def demo_files(datasets: Path) -> list[tuple[str, Path]]:
    """Three real clips (a cockatoo, Big Buck Bunny, pedestrians; 43 s, 0.6 MB in all),
    under ``video/``."""
    return sorted((p.name, p) for p in (datasets / "video").glob("*.mp4"))


APP = AppSpec(
    name="video",
    stores_originals=True,
    one_item_per_file=True,
    stores_thumbnails=True,
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
    shared_encoder=IMAGE,
    settings=VideoSettings,
    read=read_video,
    to_rows=video_rows,
    search_request=VideoSearchRequest,
    search_response=VideoSearchResponse,
    search=search,
    search_upload=search_upload,
    upload_options=VideoSearchOptions,
    requires=("av", "PIL", "ai_edge_litert"),
    batch_size=2,
    demo_files=demo_files,
)
