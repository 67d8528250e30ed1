"""Known people in videos and images ("Who is she?"): register people by a few photos
each (a folder per person, or the name in the file name), then upload a video or an
image; faces are detected in sampled frames (dlib HOG), embedded (dlib's 128-d ResNet
face model) and matched to the registered photos, and the app reports which people
appear, when, where (box) and how surely, and the other faces as unknown.

Privacy: a person's face vectors and photos are deleted with the person
(``DELETE /api/people/people/{name}``); no face image leaves the server but the
registered photos' thumbnails."""

from __future__ import annotations

from pathlib import Path

from findalike.apps.people.models import IdentifyOptions, IdentifyRequest, IdentifyResponse
from findalike.apps.people.register import make_face_model, person_rows
from findalike.apps.people.routes import make_router
from findalike.apps.people.search import identify_people, search
from findalike.apps.people.settings import PeopleSettings
from findalike.core.app import AppSpec
from findalike.kit.sightings import PHOTO_EXTENSIONS, read_photo
from findalike.schema import FieldSpec


def demo_files(datasets: Path) -> list[tuple[str, Path]]:
    """The registered people of the demo, from the demo data folder: a folder per person
    under datasets/people/register/ (6 photos of 3 people, ~3 s to register on 2 cores)."""
    folder = datasets / "people" / "register"
    return [("register", folder)] if folder.is_dir() else []


APP = AppSpec(
    name="people",
    stores_originals=True,
    one_item_per_file=True,
    stores_thumbnails=True,
    upload_max_bytes=lambda settings: settings.max_item_bytes,  # whole videos
    title="Known people in videos",
    summary="Register people by a few photos each, then find who appears in a video or "
    "an image: when, where, and how surely.",
    extensions=PHOTO_EXTENSIONS,
    fields=(
        FieldSpec("name", "str", 256),
        FieldSpec("width", "int"),
        FieldSpec("height", "int"),
    ),
    make_encoder=make_face_model,
    settings=PeopleSettings,
    read=read_photo,
    to_rows=person_rows,
    search_request=IdentifyRequest,
    search_response=IdentifyResponse,
    search=search,
    search_upload=identify_people,
    upload_options=IdentifyOptions,
    routes=make_router,
    requires=("av", "PIL", "dlib", "face_recognition_models"),
    batch_size=8,
    one_row_per_item=True,
    demo_files=demo_files,
)
