"""The objects page in a real browser: a real photo (scikit-image's cat) is registered
as a known object through the UI, then a clip made from real photos that shows the
cat (smaller, on another photo's background) is checked for it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.e2e.conftest import load_through_ui, shot
from tests.e2e.test_science_pages import _need
from tests.e2e.test_video_page import photo

pytestmark = pytest.mark.browser

FPS = 10
SIZE = (640, 480)
CAT_BOX = (200, 150, 200 + 360, 150 + 240)  # where the cat is pasted, pixels
CAT_START_S, CAT_END_S = 2.0, 4.0  # 0-2 s an astronaut (no known object), 2-4 s the cat


def cat_scene() -> np.ndarray:
    """The cameraman photo with the cat pasted at CAT_BOX."""
    from PIL import Image

    scene = Image.fromarray(photo("camera")).resize(SIZE)
    cat = Image.fromarray(photo("chelsea")).resize(
        (CAT_BOX[2] - CAT_BOX[0], CAT_BOX[3] - CAT_BOX[1])
    )
    scene.paste(cat, CAT_BOX[:2])
    return np.asarray(scene)


def make_cat_clip(path: Path) -> None:
    from PIL import Image

    from findalike.formats.video import write_clip

    astronaut = np.asarray(Image.fromarray(photo("astronaut")).resize(SIZE))
    seconds = int(CAT_START_S * FPS)
    write_clip([astronaut] * seconds + [cat_scene()] * seconds, path, fps=FPS)


def _iou(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def test_objects_register_and_detect_in_clip(page: Any, screenshots: Path, tmp_path: Path) -> None:
    """The cat is reported by name, only while on screen, with its box where it was
    pasted, drawn over the frames; a file that is not a video gets a readable error."""
    pytest.importorskip("av")
    pytest.importorskip("skimage")
    from PIL import Image

    known = tmp_path / "chelsea.jpg"
    Image.fromarray(photo("chelsea")).save(known, quality=90)
    clip = tmp_path / "street.mp4"
    make_cat_clip(clip)

    page.goto("/#/objects")
    _need("objects", page)
    status = load_through_ui(page, [known])
    assert "1 stored" in status or "1 already there" in status, status
    page.get_by_label("Video or image to check").set_input_files(str(clip))
    page.get_by_test_id("results-count").wait_for()
    hits = page.locator(".object-hit")
    assert hits.count() == 1, page.locator(".results").inner_text()
    cat = hits.first
    assert cat.locator(".hit-title").inner_text() == "chelsea"
    first_s = float(re.search(r"[\d.]+", cat.get_by_test_id("first-s").inner_text()).group())
    last_s = float(re.search(r"[\d.]+", cat.get_by_test_id("last-s").inner_text()).group())
    rows = cat.locator("table.sightings tbody tr")
    boxes = [
        tuple(int(v) for v in b.split(","))
        for b in rows.evaluate_all("rs => rs.map(r => r.dataset.box)")
    ]
    ious = [round(_iou(b, CAT_BOX), 3) for b in boxes]
    print(
        f"chelsea seen {first_s}-{last_s} s, box IoUs with where it was pasted: {ious}; "
        f"bar: seen only within {CAT_START_S}-{CAT_END_S} s, best IoU >= 0.7"
    )
    assert CAT_START_S <= first_s <= CAT_START_S + 1.0
    assert last_s < CAT_END_S
    assert max(ious) >= 0.7
    # Sightings drawn over frames grabbed from the uploaded clip in the browser.
    page.wait_for_function(
        "() => [...document.querySelectorAll('.object-hit canvas.frame')]"
        ".every(c => c.dataset.drawn !== 'pending')"
    )
    drawn = cat.locator("canvas.frame").evaluate_all("cs => cs.map(c => c.dataset.drawn)")
    assert drawn and all(d == "yes" for d in drawn), drawn
    page.wait_for_function("() => document.querySelector('.known-thumb').naturalWidth > 0")
    shot(page, screenshots, "objects")

    # A still image works too: its boxes are drawn over the picture itself.
    still = tmp_path / "still.jpg"
    Image.fromarray(cat_scene()).save(still, quality=90)
    page.get_by_label("Video or image to check").set_input_files(str(still))
    page.locator(".results-head", has_text="1 known object found").wait_for()
    assert page.locator(".object-hit .hit-title").all_inner_texts() == ["chelsea"]
    page.wait_for_function(
        "() => document.querySelector('.object-hit canvas.frame')?.dataset.drawn === 'yes'"
    )

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 5000)
    page.get_by_label("Video or image to check").set_input_files(str(broken))
    error = page.locator(".results .error[role=alert]")
    error.wait_for()
    text = error.inner_text()
    assert "(422)" in text and "not a readable video" in text, text  # the API's detail
    shot(page, screenshots, "objects-error")


def test_known_objects_are_listed_and_removable(page: Any, tmp_path: Path) -> None:
    """The page lists what is registered, grouped by name with the pictures, and
    removes an object with all its pictures (after asking)."""
    from PIL import Image

    pictures = []
    for i, side in enumerate((200, 160)):
        path = tmp_path / f"teapot_{i}.jpg"
        Image.fromarray(photo("coffee")).resize((side, side)).save(path, quality=90)
        pictures.append(path)
    page.goto("/#/objects")
    _need("objects", page)
    load_through_ui(page, pictures)
    card = page.get_by_test_id("known-objects").locator("li[data-name='teapot']")
    card.wait_for()
    assert card.locator("img.known-thumb").count() == 2
    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Remove teapot").click()
    card.wait_for(state="detached")
    names = (
        page.get_by_test_id("known-objects")
        .locator("li[data-name]")
        .evaluate_all("els => els.map(e => e.dataset.name)")
    )
    assert "teapot" not in names
