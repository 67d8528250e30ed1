"""The people page in a real browser: real photos of two people (datasets/people/) are
registered through the UI, listed with their photos, a clip made from real photos
(an unregistered astronaut, then Obama) is checked, and a person is removed."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import load_through_ui, shot
from tests.e2e.test_science_pages import _need

pytestmark = pytest.mark.browser

FPS = 4


def test_people_register_list_identify_and_remove(
    page: Any, screenshots: Path, tmp_path: Path
) -> None:
    pytest.importorskip("av")
    if importlib.util.find_spec("face_recognition_models") is None:
        pytest.skip("face-recognition-models is not installed")
    from findalike.formats.video import write_clip
    from tests.apps.test_people import PEOPLE, letterboxed

    photos = []  # named after the person: the loader sends file names only
    for person in ("obama", "carphone_man"):
        for i, src in enumerate(sorted((PEOPLE / "register" / person).glob("*.jpg")), 1):
            photos.append(tmp_path / f"{person}_{i}.jpg")
            shutil.copy(src, photos[-1])
    clip = tmp_path / "clip.mp4"
    scenes = [PEOPLE / "unknown" / "eileen_collins.jpg", PEOPLE / "query" / "obama" / "obama_3.jpg"]
    write_clip([letterboxed(p) for p in scenes for _ in range(2 * FPS)], clip, fps=FPS)

    page.goto("/#/people")
    _need("people", page)
    status = load_through_ui(page, photos)
    assert "5 stored" in status or "5 already there" in status, status
    cards = page.locator(".person")
    cards.first.wait_for()
    assert sorted(cards.evaluate_all("cs => cs.map(c => c.dataset.name)")) == [
        "carphone_man",
        "obama",
    ]
    page.wait_for_function("() => document.querySelector('.person img').naturalWidth > 0")

    page.get_by_label("Video or image to check").set_input_files(str(clip))
    page.locator(".results-head", has_text="1 person found").wait_for()
    hit = page.locator(".object-hit")
    assert hit.locator(".hit-title").inner_text() == "obama"
    first_s = float(re.search(r"[\d.]+", hit.get_by_test_id("first-s").inner_text()).group())
    assert 2.0 <= first_s < 4.0
    assert page.get_by_test_id("unknown-faces").count() == 1  # the astronaut
    page.wait_for_function(
        "() => [...document.querySelectorAll('.object-hit canvas.frame')]"
        ".every(c => c.dataset.drawn !== 'pending')"
    )
    drawn = hit.locator("canvas.frame").evaluate_all("cs => cs.map(c => c.dataset.drawn)")
    assert drawn and all(d == "yes" for d in drawn), drawn
    shot(page, screenshots, "people")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove obama").click()
    page.wait_for_function("() => !document.querySelector('.person[data-name=\"obama\"]')")
    assert cards.evaluate_all("cs => cs.map(c => c.dataset.name)") == ["carphone_man"]
    page.get_by_label("Video or image to check").set_input_files(str(scenes[1]))
    page.locator(".results-head", has_text="0 people found").wait_for()

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    page.get_by_label("Video or image to check").set_input_files(str(broken))
    error = page.locator(".results .error[role=alert]")
    error.wait_for()
    assert "(4" in error.inner_text(), error.inner_text()  # a 4xx with the API's detail
