"""The video app on the real image model, real photos (scikit-image's sample photos)
made into clips whose content is known, and a real Milvus Lite file."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av")
pytest.importorskip("skimage")

from PIL import Image  # noqa: E402
from skimage import data as photos  # noqa: E402

from findalike.apps.video import APP  # noqa: E402
from findalike.apps.video.models import VideoSearchOptions, VideoSearchRequest  # noqa: E402
from findalike.apps.video.search import search, search_upload  # noqa: E402
from findalike.config import Settings  # noqa: E402
from findalike.core.app import AppRuntime  # noqa: E402
from findalike.core.ingest import load_files  # noqa: E402
from findalike.errors import TooLarge, Unprocessable  # noqa: E402
from findalike.formats.video import Sampling, probe, sample_frames, write_clip  # noqa: E402
from findalike.jobs import JobManager  # noqa: E402
from findalike.store import VectorStore  # noqa: E402
from findalike.store.media import MediaStore  # noqa: E402

FPS = 10
SIZE = (320, 240)
INTERVAL_S = 1.0  # the app's default sampling interval

# (photo, seconds on screen); cuts fall between whole seconds on purpose
CLIP_A = [("astronaut", 2.5), ("chelsea", 1.7), ("coffee", 2.7), ("rocket", 2.3)]
CLIP_B = [("motorcycle", 3.0), ("hubble_deep_field", 2.0), ("immunohistochemistry", 2.0)]


def _photo(name: str) -> np.ndarray:
    if name == "motorcycle":
        return photos.stereo_motorcycle()[0]
    return getattr(photos, name)()


def _frames(plan: list[tuple[str, float]]) -> tuple[list[np.ndarray], dict[str, float]]:
    """Frames of a clip of the photos in ``plan`` with a slow zoom on each (so that
    no two frames are identical), and each photo's start time in seconds."""
    frames: list[np.ndarray] = []
    starts: dict[str, float] = {}
    for name, seconds in plan:
        starts[name] = len(frames) / FPS
        img = Image.fromarray(_photo(name)).convert("RGB")
        n = round(seconds * FPS)
        for i in range(n):
            zoom = 1.0 - 0.1 * i / n
            w, h = img.size
            cw, ch = w * zoom, h * zoom
            box = ((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2)
            frames.append(np.asarray(img.resize(SIZE, box=box)))
    return frames, starts


def _clip(path: Path, plan: list[tuple[str, float]]) -> dict[str, float]:
    frames, starts = _frames(plan)
    write_clip(frames, path, fps=FPS)
    return starts


def _audio_only(path: Path) -> None:
    import av

    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("aac", rate=16000)
        tone = np.sin(np.linspace(0, 2 * np.pi * 440, 16000, dtype=np.float32))
        for chunk in np.split(tone, 16):
            frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
            frame.sample_rate = 16000
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _jpeg(img: np.ndarray, side_px: int, quality: int) -> bytes:
    pic = Image.fromarray(img).convert("RGB")
    pic.thumbnail((side_px, side_px))
    out = io.BytesIO()
    pic.save(out, format="JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("video")
    starts_a = _clip(tmp / "a.mp4", CLIP_A)
    starts_b = _clip(tmp / "b.mp4", CLIP_B)
    settings = Settings(data_dir=tmp)
    store = VectorStore(str(tmp / "milvus.db"))
    rt = AppRuntime(APP, settings, store, media=MediaStore(tmp / "media"))
    jobs = JobManager(tmp / "jobs.sqlite")
    job = jobs.wait(jobs.submit(APP.name, load_files(rt, [("a.mp4", tmp / "a.mp4")])).id)
    assert job.state == "done", job
    yield {"rt": rt, "jobs": jobs, "tmp": tmp, "a": starts_a, "b": starts_b}
    store.close()


def _load(env: dict, files: list[tuple[str, Path]]):  # noqa: ANN202
    jobs: JobManager = env["jobs"]
    return jobs.wait(jobs.submit(APP.name, load_files(env["rt"], files)).id)


def test_sampling_takes_one_frame_a_second_and_every_cut(tmp_path: Path) -> None:
    starts = _clip(tmp_path / "a.mp4", CLIP_A)
    frames = sample_frames((tmp_path / "a.mp4").read_bytes(), Sampling(interval_s=1.0))
    times = [f.time_s for f in frames]
    assert [t for t in times if t == int(t)] == [float(s) for s in range(10)]
    for start_s in list(starts.values())[1:]:
        assert any(abs(t - start_s) < 1.5 / FPS for t in times), (start_s, times)
    assert [f.index for f in frames] == list(range(len(frames)))
    capped = sample_frames((tmp_path / "a.mp4").read_bytes(), Sampling(max_frames=4))
    assert 0 < len(capped) <= 4


def test_a_query_photo_is_held_to_the_configured_pixel_cap(loaded: dict) -> None:
    """FINDALIKE_IMAGE_MAX_PIXELS applies to a video search by image too (it used the
    40 MP default whatever the setting)."""
    env = loaded
    small_cap = Settings(data_dir=env["tmp"], image_max_pixels=10_000)  # the query: 200 x 300
    rt = AppRuntime(APP, small_cap, env["rt"].store, media=MediaStore(env["tmp"] / "media"))
    query = _jpeg(_photo("coffee"), 300, 80)
    with pytest.raises(TooLarge, match="FINDALIKE_IMAGE_MAX_PIXELS"):
        search_upload(rt, "q.jpg", query, VideoSearchOptions(top_k=5))
    assert search_upload(env["rt"], "q.jpg", query, VideoSearchOptions(top_k=5)).hits


def test_a_query_photo_finds_its_clip_and_when(loaded: dict) -> None:
    env = loaded
    job = _load(env, [("b.mp4", env["tmp"] / "b.mp4")])
    assert job.done == 1 and job.failed == 0
    plan = dict(CLIP_A)
    for name in ("chelsea", "coffee", "rocket"):
        query = _jpeg(_photo(name), 300, 40)  # smaller and recompressed
        res = search_upload(env["rt"], "q.jpg", query, VideoSearchOptions(top_k=5))
        assert res.query == "image" and res.query_frames == 1
        top = res.hits[0]
        assert top.name == "a.mp4", [r.name for r in res.hits]
        start_s, end_s = env["a"][name], env["a"][name] + plan[name]
        seg = max(top.segments, key=lambda s: s.score)
        print(
            f"{name}: on screen {start_s:.1f}-{end_s:.1f} s, found segment "
            f"{seg.start_s:.2f}-{seg.end_s:.2f} s (score {seg.score:.3f}); bar: ends within "
            f"{INTERVAL_S} s"
        )
        assert abs(seg.start_s - start_s) <= INTERVAL_S
        assert abs(seg.end_s - end_s) <= INTERVAL_S
        assert start_s - INTERVAL_S <= top.matches[0].offset_s <= end_s
        assert top.thumbnail_url.startswith(f"/api/video/items/{top.item_id}/thumbnail?part=")
    motorcycle = _jpeg(photos.stereo_motorcycle()[1], 400, 60)  # the other camera's view
    res = search_upload(env["rt"], "m.jpg", motorcycle, VideoSearchOptions(top_k=5))
    assert res.hits[0].name == "b.mp4"
    assert res.hits[0].matches[0].offset_s < CLIP_B[0][1] + INTERVAL_S


def test_a_short_clip_finds_where_it_starts(loaded: dict, tmp_path: Path) -> None:
    env = loaded
    frames, _ = _frames(CLIP_A)
    true_start_s = 3.0
    piece = frames[int(true_start_s * FPS) : int((true_start_s + 3.0) * FPS)]
    write_clip(piece, tmp_path / "q.mp4", fps=FPS)
    res = search_upload(
        env["rt"], "q.mp4", (tmp_path / "q.mp4").read_bytes(), VideoSearchOptions(top_k=3)
    )
    assert res.query == "clip" and res.query_frames >= 3
    top = res.hits[0]
    print(f"clip from {true_start_s} s found at {top.clip_start_s} s (bar: within {INTERVAL_S} s)")
    assert top.name == "a.mp4"
    assert top.clip_start_s is not None and abs(top.clip_start_s - true_start_s) <= INTERVAL_S
    by_item = search(env["rt"], VideoSearchRequest(item_id=top.item_id, top_k=3))
    assert all(r.item_id != top.item_id for r in by_item.hits)


def test_frames_and_thumbnails_are_stored(loaded: dict) -> None:
    rt: AppRuntime = loaded["rt"]
    res = search_upload(rt, "q.jpg", _jpeg(_photo("astronaut"), 256, 80), VideoSearchOptions())
    top = res.hits[0]
    rows = rt.item_rows(top.item_id, ["offset_s"])
    assert len(rows) >= 10 and rows[0]["part"] == 0
    assert rt.media is not None
    assert rt.media.find("video", top.item_id).stat().st_size > 0
    assert rt.media.find("video", top.item_id, variant="thumb").suffix == ".jpg"
    last = rows[-1]["part"]
    assert rt.media.find("video", top.item_id, variant=f"f{last}").stat().st_size > 0


def test_bad_videos_are_reported_per_item_and_nothing_is_lost(loaded: dict) -> None:
    env = loaded
    tmp: Path = env["tmp"]
    rt: AppRuntime = env["rt"]
    before_items, before_rows = rt.count()
    _audio_only(tmp / "speech.mp4")
    good = (tmp / "a.mp4").read_bytes()
    (tmp / "truncated.mp4").write_bytes(good[: len(good) // 3])
    (tmp / "garbage.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    (tmp / "notes.webm").write_text("this is not a video at all\n")
    _clip(tmp / "c.mp4", CLIP_B[::-1])  # a good video in the same load
    names = ("speech.mp4", "truncated.mp4", "c.mp4", "garbage.mp4", "notes.webm")
    job = _load(env, [(p, tmp / p) for p in names])
    assert job.state == "done", job
    assert job.failed == 4 and job.done == 1
    errors = " | ".join(str(e) for e in job.errors)
    print(errors)
    assert "no video stream" in errors
    items, rows = rt.count()
    assert items == before_items + 1 and rows > before_rows
    with pytest.raises(Unprocessable):
        probe((tmp / "garbage.mp4").read_bytes())
    res = search_upload(rt, "q.jpg", _jpeg(_photo("coffee"), 300, 50), VideoSearchOptions())
    assert res.hits[0].name == "a.mp4"


# -- bounded sampling (issue 9): many cuts, long queries, one decoding pass ---------------


def _many_cuts_clip(path: Path, cuts: int = 40, *, seed: int | None = None) -> bytes:
    """A tiny clip (64x64, 10 fps) with ``cuts`` hard cuts: alternating black and white
    pairs of frames, or random noise frames when ``seed`` is given (every frame a cut)."""
    if seed is None:
        frames = [
            np.full((64, 64, 3), 255 * (i % 2), np.uint8) for i in range(cuts + 1) for _ in range(2)
        ]
    else:
        rng = np.random.default_rng(seed)
        frames = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(cuts + 1)]
    write_clip(frames, path, fps=FPS)
    return path.read_bytes()


def _count_opens(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    import findalike.formats.video as video

    opens: list[int] = []
    real_open = video._open

    def counting_open(data: bytes):  # noqa: ANN202
        opens.append(1)
        return real_open(data)

    monkeypatch.setattr(video, "_open", counting_open)
    return opens


@pytest.mark.timeout(60)
def test_more_cuts_than_max_frames_are_thinned_in_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _many_cuts_clip(tmp_path / "cuts.mp4")
    assert len(data) < 16_000  # the review's 7-KB clip that never answered
    full = sample_frames(data, Sampling())
    assert sum(f.scene_change for f in full) >= 30  # the cuts are really there
    opens = _count_opens(monkeypatch)
    for max_frames in (32, 8, 1):
        frames = sample_frames(data, Sampling(max_frames=max_frames))
        times = [f.time_s for f in frames]
        assert 1 <= len(frames) <= max_frames, (max_frames, times)
        assert times == sorted(times) and times[0] == 0.0
        assert [f.index for f in frames] == list(range(len(frames)))
    assert len(opens) == 3  # one decoding pass per sampling, never a retry loop
    noise = _many_cuts_clip(tmp_path / "noise.mp4", 80, seed=7)
    frames = sample_frames(noise, Sampling(max_frames=5, min_scene_gap_s=0.0))
    assert 1 <= len(frames) <= 5


@pytest.mark.timeout(60)
def test_decoding_stops_at_the_duration_and_frame_budget(tmp_path: Path) -> None:
    data = _many_cuts_clip(tmp_path / "cuts.mp4")  # 8.2 s
    frames = sample_frames(data, Sampling(max_duration_s=3.0))
    assert frames and max(f.time_s for f in frames) <= 3.0
    budget = Sampling(max_duration_s=1.0, max_fps=5.0)  # at most 6 frames decoded
    assert budget.max_decoded_frames == 6
    frames = sample_frames(data, budget)
    assert frames and max(f.frame_number for f in frames) < 6


@pytest.mark.timeout(120)
def test_a_query_clip_samples_only_its_first_part(
    loaded: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from findalike.apps.video.settings import VideoSettings

    rt: AppRuntime = loaded["rt"]
    data = _many_cuts_clip(tmp_path / "cuts.mp4")
    monkeypatch.setattr(rt, "_app_settings", VideoSettings(query_max_duration_s=2.0))
    res = search_upload(rt, "q.mp4", data, VideoSearchOptions(top_k=3))
    assert res.query == "clip" and 1 <= res.query_frames <= 21  # 2 s at 10 fps, plus one
    monkeypatch.setattr(rt, "_app_settings", VideoSettings(max_duration_s=5.0))
    with pytest.raises(TooLarge):  # probed and refused before any decoding
        search_upload(rt, "q.mp4", data, VideoSearchOptions(top_k=3))


@pytest.mark.timeout(120)
def test_http_clip_query_with_40_cuts_answers(loaded: dict, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from findalike.api.main import create_app

    data = _many_cuts_clip(tmp_path / "cuts.mp4")
    settings = Settings(data_dir=tmp_path / "srv", apps=["video"])
    app = create_app(settings, encoders={"image": loaded["rt"].encoder})
    with TestClient(app) as client:
        r = client.post(
            "/api/video/search/upload", files={"file": ("cuts.mp4", data)}, data={"top_k": "3"}
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"] == "clip" and 1 <= body["query_frames"] <= 32


@pytest.mark.timeout(300)
def test_http_search_contract(loaded: dict, tmp_path: Path) -> None:
    """Issue 10: ``top_k`` bounds the hits (JSON and upload form field), a misspelt
    field is a 422 naming it, bad base64 a 422 naming the field, no query a 422."""
    import base64

    from fastapi.testclient import TestClient

    from findalike.api.main import create_app
    from tests.conftest import wait_job

    tmp: Path = loaded["tmp"]
    settings = Settings(data_dir=tmp_path / "srv", apps=["video"])
    app = create_app(settings, encoders={"image": loaded["rt"].encoder})
    query = _jpeg(_photo("coffee"), 300, 60)
    b64 = base64.b64encode(query).decode()
    with TestClient(app) as client:
        files = [("files", (n, (tmp / n).read_bytes())) for n in ("a.mp4", "b.mp4")]
        job = wait_job(client, client.post("/api/video/load", files=files).json()["id"])
        assert job["state"] == "done" and job["done"] == 2, job
        every = client.post("/api/video/search", json={"image_base64": b64, "min_score": None})
        assert every.status_code == 200 and len(every.json()["hits"]) == 2, every.text
        r = client.post("/api/video/search", json={"image_base64": b64, "top_k": 1})
        assert r.status_code == 200, r.text
        hits = r.json()["hits"]
        assert len(hits) == 1 and hits[0]["item_id"] == every.json()["hits"][0]["item_id"]
        assert isinstance(hits[0]["score"], float) and hits[0]["segments"]
        r = client.post(
            "/api/video/search/upload", files={"file": ("q.jpg", query)}, data={"top_k": "1"}
        )
        assert r.status_code == 200 and len(r.json()["hits"]) == 1, r.text
        bad = {
            "body.topk": {"image_base64": b64, "topk": 1},
            "body.image_base64": {"image_base64": "%%%not base64"},
            "body": {},
        }
        for field, body in bad.items():
            r = client.post("/api/video/search", json=body)
            assert r.status_code == 422, r.text
            assert field in {e["field"] for e in r.json()["errors"]}, r.json()
        r = client.post(
            "/api/video/search/upload",
            files={"file": ("q.jpg", query)},
            data={"offsets_per_vid": "3"},
        )
        assert r.status_code == 422, r.text
        assert "form.offsets_per_vid" in {e["field"] for e in r.json()["errors"]}
