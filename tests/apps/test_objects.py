"""The objects app on the real detector (SSD-MobileNet-V2 COCO), the real image model,
real photos (scikit-image's samples) and a real Milvus Lite file. The video is made
from photos so that the right answer is known: the known objects are shown from
another viewpoint, mirrored, or smaller on another photo's background."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av")
pytest.importorskip("cv2")
pytest.importorskip("skimage")

from PIL import Image  # noqa: E402
from skimage import data as photos  # noqa: E402

from findalike.apps.objects import APP  # noqa: E402
from findalike.apps.objects.models import DetectOptions  # noqa: E402
from findalike.apps.objects.reader import object_name  # noqa: E402
from findalike.apps.objects.search import detect_known_objects  # noqa: E402
from findalike.apps.objects.settings import ObjectsSettings  # noqa: E402
from findalike.config import Settings  # noqa: E402
from findalike.core.app import AppRuntime  # noqa: E402
from findalike.core.ingest import load_files  # noqa: E402
from findalike.errors import Unprocessable  # noqa: E402
from findalike.formats.video import write_clip  # noqa: E402
from findalike.jobs import JobManager  # noqa: E402
from findalike.store import VectorStore  # noqa: E402
from findalike.store.media import MediaStore  # noqa: E402

SIZE = (640, 480)
FPS = 10
SECONDS_EACH = 2
CAT_BOX = (200, 150, 200 + 360, 150 + 240)  # where the cat is pasted, pixels


def _fit(arr: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(arr).convert("RGB").resize(SIZE))


def _scenes() -> list[np.ndarray]:
    """0-2 s an astronaut (a person: no known object), 2-4 s the cat smaller on the
    cameraman photo, 4-6 s the motorcycle seen by the other stereo camera, 6-8 s the
    coffee cup mirrored."""
    background = Image.fromarray(photos.camera()).convert("RGB").resize(SIZE)
    cat = Image.fromarray(photos.chelsea()).resize(
        (CAT_BOX[2] - CAT_BOX[0], CAT_BOX[3] - CAT_BOX[1])
    )
    background.paste(cat, CAT_BOX[:2])
    return [
        _fit(photos.astronaut()),
        np.asarray(background),
        _fit(photos.stereo_motorcycle()[1]),
        _fit(photos.coffee()[:, ::-1]),
    ]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("objects")
    known = {
        "chelsea.jpg": photos.chelsea(),
        "coffee_cup.png": photos.coffee(),
        "motorcycle_1.jpg": photos.stereo_motorcycle()[0],
    }
    for name, arr in known.items():
        Image.fromarray(arr).save(tmp / name)
    (tmp / "broken.jpg").write_bytes((tmp / "chelsea.jpg").read_bytes()[:100])
    frames = [scene for scene in _scenes() for _ in range(SECONDS_EACH * FPS)]
    write_clip(frames, tmp / "video.mp4", fps=FPS)
    store = VectorStore(str(tmp / "milvus.db"))
    rt = AppRuntime(
        APP,
        Settings(data_dir=tmp),
        store,
        media=MediaStore(tmp / "media"),
        app_settings=ObjectsSettings(interval_s=1.0),
    )  # 8 frames: a short test
    jobs = JobManager(tmp / "jobs.sqlite")
    files = [(n, tmp / n) for n in [*known, "broken.jpg"]]
    job = jobs.wait(jobs.submit(APP.name, load_files(rt, files)).id)
    assert job.state == "done" and job.done == 3 and job.failed == 1, job
    yield {"rt": rt, "tmp": tmp}
    store.close()


def test_object_names_come_from_files() -> None:
    assert object_name("red_mug_2.jpg") == "red_mug"
    assert object_name("objects.zip/mug/1.jpg") == "mug"
    assert object_name("photos/teapot.png") == "teapot"


def test_known_objects_are_found_when_and_where(env: dict) -> None:
    rt: AppRuntime = env["rt"]
    data = (env["tmp"] / "video.mp4").read_bytes()
    res = detect_known_objects(rt, "video.mp4", data, DetectOptions(include_unknown=True))
    found = {k.name: k for k in res.hits}
    expected = {"chelsea": 2, "motorcycle": 4, "coffee_cup": 6}  # start, seconds
    seen = {k.name: (k.first_s, k.last_s, k.score) for k in res.hits}
    print(
        "found (first_s, last_s, best score):",
        seen,
        f"frames {res.frames_checked}, boxes {res.detections}; bar: each known object "
        f"found only while on screen, score >= 0.7",
    )
    assert set(found) == set(expected)
    for name, start_s in expected.items():
        k = found[name]
        assert start_s <= k.first_s <= start_s + 1.0
        assert k.last_s < start_s + SECONDS_EACH
        assert k.score >= 0.7
    cat = max(found["chelsea"].sightings, key=lambda s: s.score)
    assert cat.detector_label == "cat"
    assert _iou(cat.box, CAT_BOX) >= 0.7, cat.box
    people = [u for u in res.unknown if u.detector_label == "person" and u.time_s < 2]
    assert people, "the astronaut is detected but matched to no known object"


def test_an_image_can_be_checked_too(env: dict) -> None:
    rt: AppRuntime = env["rt"]
    path = env["tmp"] / "moto.jpg"
    Image.fromarray(photos.stereo_motorcycle()[1]).save(path)
    res = detect_known_objects(rt, "moto.jpg", path.read_bytes(), DetectOptions())
    assert [k.name for k in res.hits] == ["motorcycle"]


def test_a_video_without_frames_is_refused(env: dict) -> None:
    with pytest.raises(Unprocessable):
        detect_known_objects(env["rt"], "x.mp4", b"\x00" * 5000, DetectOptions())


def test_top_k_and_min_score_bound_the_hits(env: dict) -> None:
    rt: AppRuntime = env["rt"]
    data = (env["tmp"] / "video.mp4").read_bytes()
    every = detect_known_objects(rt, "video.mp4", data, DetectOptions(min_score=0.5)).hits
    assert len(every) == 3
    scores = [k.score for k in every]
    assert scores == sorted(scores, reverse=True)
    top = detect_known_objects(rt, "video.mp4", data, DetectOptions(top_k=2, min_score=0.5))
    assert [k.name for k in top.hits] == [k.name for k in every[:2]]
    strict = (scores[0] + scores[-1]) / 2
    kept = detect_known_objects(rt, "video.mp4", data, DetectOptions(min_score=strict)).hits
    assert kept and all(s.score >= strict for k in kept for s in k.sightings)
    assert len(kept) < len(every)


@pytest.mark.timeout(300)
def test_http_search_json_upload_and_the_deprecated_route(env: dict, tmp_path: Path) -> None:
    """Issue 10: the detect is the app's search: ``POST /api/objects/search`` (base64)
    and ``/search/upload`` (multipart, options as form fields) take ``top_k`` and
    ``min_score``; the old ``min_match_score`` still works, as does the old
    ``/detect/upload`` route (marked deprecated)."""
    import base64

    from fastapi.testclient import TestClient

    from findalike.api.main import create_app
    from tests.conftest import wait_job

    tmp: Path = env["tmp"]
    video = (tmp / "video.mp4").read_bytes()
    b64 = base64.b64encode(video).decode()
    settings = Settings(data_dir=tmp_path, apps=["objects"])
    app = create_app(settings, encoders={"image": env["rt"].encoder})
    with TestClient(app) as client:
        known = ("chelsea.jpg", "coffee_cup.png", "motorcycle_1.jpg")
        files = [("files", (n, (tmp / n).read_bytes())) for n in known]
        job = wait_job(client, client.post("/api/objects/load", files=files).json()["id"])
        assert job["state"] == "done" and job["done"] == 3, job
        r = client.post(
            "/api/objects/search", json={"media_base64": b64, "filename": "v.mp4", "top_k": 2}
        )
        assert r.status_code == 200, r.text
        hits = r.json()["hits"]
        assert len(hits) == 2 and all(set(h) >= {"item_id", "score"} for h in hits)
        assert hits[0]["score"] >= hits[1]["score"] and hits[0]["sightings"]
        r = client.post(
            "/api/objects/search/upload",
            files={"file": ("v.mp4", video)},
            data={"top_k": "1", "include_unknown": "true"},
        )
        assert r.status_code == 200, r.text
        assert [h["name"] for h in r.json()["hits"]] == [hits[0]["name"]]
        assert r.json()["unknown"]  # the astronaut
        old = client.post(
            "/api/objects/search",
            json={"media_base64": b64, "filename": "v.mp4", "min_match_score": 0.99},
        )
        assert old.status_code == 200 and old.json()["hits"] == [], old.text
        r = client.post(
            "/api/objects/detect/upload",
            files={"file": ("v.mp4", video)},
            data={"min_match_score": "0.5"},
        )
        assert r.status_code == 200 and len(r.json()["hits"]) == 3, r.text
        spec = client.get("/openapi.json").json()["paths"]
        assert spec["/api/objects/detect/upload"]["post"]["deprecated"] is True
        assert "min_score" in str(spec["/api/objects/search/upload"]["post"]["requestBody"])
        bad = {
            "body.media_base64": {"media_base64": "%%%not base64"},
            "body.topk": {"media_base64": b64, "topk": 1},
            "body": {"media_base64": b64, "min_score": 0.5, "min_match_score": 0.6},
        }
        for field, body in bad.items():
            r = client.post("/api/objects/search", json=body)
            assert r.status_code == 422, r.text
            assert field in {e["field"] for e in r.json()["errors"]}, r.json()
        r = client.post(
            "/api/objects/search/upload", files={"file": ("v.mp4", video)}, data={"top_k": "zero"}
        )
        assert r.status_code == 422 and "form.top_k" in {e["field"] for e in r.json()["errors"]}


def _iou(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union
