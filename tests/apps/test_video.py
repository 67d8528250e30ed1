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

from findalike.app import AppRuntime  # noqa: E402
from findalike.apps.video import APP  # noqa: E402
from findalike.apps.video.models import VideoSearchOptions, VideoSearchRequest  # noqa: E402
from findalike.apps.video.search import search, search_upload  # noqa: E402
from findalike.config import Settings  # noqa: E402
from findalike.errors import Unprocessable  # noqa: E402
from findalike.ingest import load_files  # noqa: E402
from findalike.jobs import JobManager  # noqa: E402
from findalike.media import MediaStore  # noqa: E402
from findalike.store import VectorStore  # noqa: E402
from findalike.video import Sampling, probe, sample_frames, write_clip  # noqa: E402

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


def test_a_query_photo_finds_its_clip_and_when(loaded: dict) -> None:
    env = loaded
    job = _load(env, [("b.mp4", env["tmp"] / "b.mp4")])
    assert job.done == 1 and job.failed == 0
    plan = dict(CLIP_A)
    for name in ("chelsea", "coffee", "rocket"):
        query = _jpeg(_photo(name), 300, 40)  # smaller and recompressed
        res = search_upload(env["rt"], "q.jpg", query, VideoSearchOptions(top_k=5))
        assert res.query == "image" and res.query_frames == 1
        top = res.results[0]
        assert top.name == "a.mp4", [r.name for r in res.results]
        start_s, end_s = env["a"][name], env["a"][name] + plan[name]
        seg = max(top.segments, key=lambda s: s.score)
        print(f"{name}: on screen {start_s:.1f}-{end_s:.1f} s, found segment "
              f"{seg.start_s:.2f}-{seg.end_s:.2f} s (score {seg.score:.3f}); bar: ends within "
              f"{INTERVAL_S} s")
        assert abs(seg.start_s - start_s) <= INTERVAL_S
        assert abs(seg.end_s - end_s) <= INTERVAL_S
        assert start_s - INTERVAL_S <= top.matches[0].offset_s <= end_s
        assert top.thumbnail_url.startswith(f"/api/video/items/{top.item_id}/thumbnail?part=")
    motorcycle = _jpeg(photos.stereo_motorcycle()[1], 400, 60)  # the other camera's view
    res = search_upload(env["rt"], "m.jpg", motorcycle, VideoSearchOptions(top_k=5))
    assert res.results[0].name == "b.mp4"
    assert res.results[0].matches[0].offset_s < CLIP_B[0][1] + INTERVAL_S


def test_a_short_clip_finds_where_it_starts(loaded: dict, tmp_path: Path) -> None:
    env = loaded
    frames, _ = _frames(CLIP_A)
    true_start_s = 3.0
    piece = frames[int(true_start_s * FPS): int((true_start_s + 3.0) * FPS)]
    write_clip(piece, tmp_path / "q.mp4", fps=FPS)
    res = search_upload(env["rt"], "q.mp4", (tmp_path / "q.mp4").read_bytes(),
                        VideoSearchOptions(top_k=3))
    assert res.query == "clip" and res.query_frames >= 3
    top = res.results[0]
    print(f"clip from {true_start_s} s found at {top.clip_start_s} s (bar: within {INTERVAL_S} s)")
    assert top.name == "a.mp4"
    assert top.clip_start_s is not None and abs(top.clip_start_s - true_start_s) <= INTERVAL_S
    by_item = search(env["rt"], VideoSearchRequest(item_id=top.item_id, top_k=3))
    assert all(r.item_id != top.item_id for r in by_item.results)


def test_frames_and_thumbnails_are_stored(loaded: dict) -> None:
    rt: AppRuntime = loaded["rt"]
    res = search_upload(rt, "q.jpg", _jpeg(_photo("astronaut"), 256, 80), VideoSearchOptions())
    top = res.results[0]
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
    assert res.results[0].name == "a.mp4"
