"""Image and audio pages in a real browser, on real files from datasets/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.e2e.conftest import load_through_ui, shot
from tests.e2e.test_science_pages import _need

DATASETS = Path(__file__).resolve().parents[2] / "datasets"

pytestmark = pytest.mark.browser


def test_image_upload_search(page: Any, screenshots: Path, tmp_path: Path) -> None:
    """24 real photos (Tux Paint stamps); the query is one of them."""
    photos = sorted((DATASETS / "images" / "photos").glob("*.jpg"))[:24]
    page.goto("/#/image")
    _need("image", page)
    load_through_ui(page, photos)
    page.get_by_label("Results").fill("6")
    page.get_by_label("Query image").set_input_files(str(photos[5]))
    page.get_by_test_id("results-count").wait_for()
    tiles = page.locator(".hit-tile")
    assert tiles.count() == 6
    assert tiles.first.locator(".tile-name").inner_text() == photos[5].name
    assert "near-duplicate" in tiles.first.inner_text()
    assert tiles.first.locator("a").get_attribute("href").endswith("/file")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.hit-tile img')].every(i => i.complete "
        "&& i.naturalWidth > 0)"
    )
    shot(page, screenshots, "image")
    # a crop of it (its centre, as a screenshot of part of the picture): found first,
    # with the region that matched drawn over the thumbnail
    picture = Image.open(photos[5]).convert("RGB")
    w, h = picture.size
    crop = tmp_path / "crop.png"
    picture.crop((w // 5, h // 5, w * 4 // 5, h * 4 // 5)).save(crop)
    page.get_by_label("Query image").set_input_files(str(crop))
    page.locator(".hit-tile .region-box").first.wait_for()
    assert tiles.first.locator(".tile-name").inner_text() == photos[5].name
    box = tiles.first.locator(".region-box").bounding_box()
    frame = tiles.first.locator("img").bounding_box()
    assert box is not None and frame is not None
    assert frame["x"] < box["x"] and box["x"] + box["width"] < frame["x"] + frame["width"]
    assert "matched its centre" in tiles.first.inner_text()
    shot(page, screenshots, "image-crop")


def test_audio_upload_search(page: Any, screenshots: Path) -> None:
    """Real recorded speech prompts (Asterisk); the query is one of them."""
    clips = sorted((DATASETS / "audio" / "asterisk").iterdir())[:8]
    page.goto("/#/audio")
    _need("audio", page)
    load_through_ui(page, clips)
    page.get_by_label("Query recording").set_input_files(str(clips[3]))
    page.get_by_test_id("results-count").wait_for()
    first = page.locator(".media-hit").first
    assert first.locator(".hit-title").inner_text() == clips[3].name
    assert first.locator("audio").count() == 1
    first.locator(".offset").first.click()  # seeks the player
    shot(page, screenshots, "audio")


def test_image_browse_then_find_similar(page: Any, screenshots: Path) -> None:
    """The stored photos are listed without any upload; "Find similar" on one of them
    finds photos like it, itself left out (a stored-item query)."""
    photos = sorted((DATASETS / "images" / "photos").glob("*.jpg"))[:24]
    page.goto("/#/image")
    _need("image", page)
    load_through_ui(page, photos)  # already stored by the test above: skipped, still done
    tiles = page.locator(".browse-tile")
    tiles.first.wait_for()
    assert tiles.count() == 12  # one page
    page.wait_for_function(
        "() => [...document.querySelectorAll('.browse-tile img')].every(i => i.complete "
        "&& i.naturalWidth > 0)"
    )
    picked = tiles.nth(2)
    name = picked.locator(".tile-name").inner_text()
    picked.get_by_role("button", name="Find similar").click()
    page.get_by_test_id("results-count").wait_for()
    names = page.locator(".hit-tile .tile-name").all_inner_texts()
    assert names and name not in names
    page.locator(".browse").get_by_role("button", name="Next").click()
    page.wait_for_function(
        "() => document.querySelectorAll('.browse-tile').length === 12 && "
        "document.querySelector('.browse .row .muted').textContent.startsWith('13')"
    )
    shot(page, screenshots, "image-browse")


def test_image_search_by_words(page: Any, screenshots: Path) -> None:
    """A text query matched to the photos' ImageNet labels: among frogs, birds and
    fish, "a fish" finds the fish first and shows each hit's labels."""
    photos = sorted((DATASETS / "images" / "photos").glob("*.jpg"))[:24]
    assert sum("-fish-" in p.name for p in photos) >= 3
    page.goto("/#/image")
    _need("image", page)
    load_through_ui(page, photos)  # already stored by the tests above: skipped, still done
    page.get_by_label("Or describe it in words").fill("a fish")
    page.get_by_role("button", name="Search by words").click()
    page.get_by_test_id("results-count").wait_for()
    names = page.locator(".hit-tile .tile-name").all_inner_texts()
    print("'a fish' ->", names[:5])
    assert names and "-fish-" in names[0]
    assert page.locator(".hit-tile .labels").first.inner_text()  # e.g. "rock beauty 71%"
    shot(page, screenshots, "image-words")
