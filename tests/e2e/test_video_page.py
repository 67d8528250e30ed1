"""The video page in a real browser: a clip made from real photos (scikit-image's
samples) is loaded through the UI, then searched by one of the photos."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.e2e.conftest import load_through_ui, shot
from tests.e2e.test_science_pages import _need

pytestmark = pytest.mark.browser

FPS = 10
SIZE = (320, 240)
# (photo, seconds on screen): the query photo is on screen from 2.0 s to 4.0 s
PLAN = [("astronaut", 2.0), ("chelsea", 2.0), ("coffee", 2.0), ("rocket", 2.0)]


def photo(name: str) -> np.ndarray:
    """A scikit-image sample photo as RGB uint8."""
    from PIL import Image
    from skimage import data as photos

    return np.asarray(Image.fromarray(getattr(photos, name)()).convert("RGB"))


def make_clip(path: Path, plan: list[tuple[str, float]], size: tuple[int, int] = SIZE) -> None:
    """An mp4 showing each photo of ``plan`` for its seconds, with a slow zoom (so no
    two frames are identical)."""
    from PIL import Image

    from findalike.formats.video import write_clip

    frames: list[np.ndarray] = []
    for name, seconds in plan:
        img = Image.fromarray(photo(name))
        n = round(seconds * FPS)
        w, h = img.size
        for i in range(n):
            zoom = 1.0 - 0.1 * i / n
            box = ((w - w * zoom) / 2, (h - h * zoom) / 2, (w + w * zoom) / 2, (h + h * zoom) / 2)
            frames.append(np.asarray(img.resize(size, box=box)))
    write_clip(frames, path, fps=FPS)


def test_video_search_by_photo(page: Any, screenshots: Path, tmp_path: Path) -> None:
    """The clip is found and its first matching offset is where the photo is shown."""
    pytest.importorskip("av")
    pytest.importorskip("skimage")
    from PIL import Image

    clip = tmp_path / "photos_clip.mp4"
    make_clip(clip, PLAN)
    query = tmp_path / "chelsea.jpg"
    Image.fromarray(photo("chelsea")).save(query, quality=90)

    page.goto("/#/video")
    _need("video", page)
    status = load_through_ui(page, [clip])
    assert "1 stored" in status or "1 already there" in status, status
    page.get_by_label("Query image or clip").set_input_files(str(query))
    page.get_by_test_id("results-count").wait_for()
    hits = page.locator(".media-hit")
    assert hits.count() >= 1
    first = hits.first
    assert first.locator(".hit-title").inner_text() == clip.name
    assert first.locator("video").get_attribute("src").endswith("/file")
    offsets = first.locator(".offset").all_inner_texts()
    assert offsets, "no matching time offsets rendered"
    best_s = float(re.search(r"([\d.]+) s", offsets[0]).group(1))  # best match first
    print(f"offsets rendered: {offsets}; bar: best offset within the photo's 2.0-4.0 s")
    assert 2.0 - 0.15 <= best_s <= 4.0, offsets
    first.locator(".offset").first.click()  # seeks the player to the match
    page.wait_for_function(
        "t => { const v = document.querySelector('.media-hit video');"
        " return v && v.readyState >= 2 && Math.abs(v.currentTime - t) < 1.5; }",
        arg=best_s,
    )
    page.evaluate("() => document.querySelector('.media-hit video').pause()")
    shot(page, screenshots, "video")


def test_video_browse_then_find_similar(page: Any, screenshots: Path, tmp_path: Path) -> None:
    """Two clips that share a photo: "Find similar" on one lists the other."""
    pytest.importorskip("av")
    pytest.importorskip("skimage")
    first_clip, second_clip = tmp_path / "cat_then_coffee.mp4", tmp_path / "rocket_then_cat.mp4"
    make_clip(first_clip, [("chelsea", 2.0), ("coffee", 2.0)])
    make_clip(second_clip, [("rocket", 2.0), ("chelsea", 2.0)])
    page.goto("/#/video")
    _need("video", page)
    load_through_ui(page, [first_clip, second_clip])
    tile = page.locator(".browse-tile", has_text=first_clip.name)
    tile.wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.browse-tile img')].every(i => i.complete "
        "&& i.naturalWidth > 0)"
    )
    tile.get_by_role("button", name="Find similar").click()
    page.get_by_test_id("results-count").wait_for()
    titles = page.locator(".media-hit .hit-title").all_inner_texts()
    assert second_clip.name in titles and first_clip.name not in titles, titles
    shot(page, screenshots, "video-browse")
