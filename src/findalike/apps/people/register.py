"""Registering people: each photo is one row, the embedding of its largest face,
named after the person (the photo's folder, or its file name without a trailing
number). A photo without a face is refused (recorded in the load job, never stored)."""

from __future__ import annotations

from collections.abc import Sequence

from findalike.core.app import AppRuntime, EncodedItem, Record
from findalike.encoders.face import DlibFaceModel, FaceCrop
from findalike.jobs import checkpoint
from findalike.kit.sightings import store_photo
from findalike.schema import quote

MAX_PHOTOS_LISTED = 10_000
NO_FACE = "no face found in the photo (a registered photo needs one clear, frontal face)"


def make_face_model(rt: AppRuntime) -> DlibFaceModel:
    """The app's encoder: dlib's face detector and embedding (loaded once per runtime)."""
    return DlibFaceModel()


def face_model_of(rt: AppRuntime) -> DlibFaceModel:
    model = rt.encoder
    assert isinstance(model, DlibFaceModel)  # the app declares no other encoder
    return model


def person_rows(rt: AppRuntime, records: Sequence[Record]) -> list[EncodedItem]:
    model = face_model_of(rt)
    out: list[EncodedItem] = []
    for record in records:
        checkpoint()
        image = record.payload[0]
        faces = model.detect(image)
        if not faces:
            out.append(EncodedItem(record=record, error=NO_FACE))
            continue
        vector = model.encode([FaceCrop(image, faces[0].box)])[0]
        store_photo(rt, record)
        out.append(EncodedItem(record=record, rows=[rt.row(record, 0, vector)]))
    return out


def list_people(rt: AppRuntime) -> dict[str, list[str]]:
    """Registered people by name, each with their photos' item ids."""
    if not rt.has_data():
        return {}
    rows = rt.query(
        "part == 0",
        output_fields=["item_id", "name"],
        limit=MAX_PHOTOS_LISTED,
    )
    people: dict[str, list[str]] = {}
    for row in rows:
        people.setdefault(str(row["name"]), []).append(str(row["item_id"]))
    return dict(sorted(people.items()))


def delete_person(rt: AppRuntime, name: str) -> tuple[list[str], int]:
    """Delete every face vector and stored photo of ``name``: the item ids removed and
    the vectors deleted (nothing if no one has that name)."""
    if not rt.has_data():
        return [], 0
    rows = rt.query(
        f"name == {quote(name)}",
        output_fields=["item_id"],
        limit=MAX_PHOTOS_LISTED,
    )
    item_ids = sorted({str(r["item_id"]) for r in rows})
    if not item_ids:
        return [], 0
    return item_ids, rt.delete_items(item_ids)
