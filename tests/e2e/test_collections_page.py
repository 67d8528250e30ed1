"""Named collections in the web UI: a page offers the app's collections once it has
some; picking one sends the page's counts, browsing, loads and searches to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.multilingual_sets import ZH_FAQ_PARAPHRASES
from tests.conftest import REPO, wait_job
from tests.e2e.conftest import load_through_ui, shot

pytestmark = pytest.mark.browser

PHOTOS = sorted((REPO / "datasets" / "images" / "photos").glob("*.jpg"))
BIRDS = [p for p in PHOTOS if "-birds-" in p.name][:3]
FISH = [p for p in PHOTOS if "-fish-" in p.name][:2]


def test_pick_a_collection_then_browse_load_and_search_it(
    page: Any, live_server: str, screenshots: Path
) -> None:
    with httpx.Client(base_url=live_server, timeout=300) as c:
        r = c.post("/api/image/collections", json={"name": "birds_ui"})
        assert r.status_code in (201, 409), r.text
        files = [("files", (p.name, p.read_bytes())) for p in BIRDS]
        job = c.post("/api/image/load", files=files, params={"collection": "birds_ui"}).json()
        assert wait_job(c, job["id"])["state"] == "done"
    page.goto("/#/image")
    picker = page.get_by_test_id("collection")
    picker.wait_for()
    picker.select_option("birds_ui")
    page.wait_for_function("() => location.hash === '#/image?collection=birds_ui'")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=item-count]').textContent === '3'"
    )
    tiles = page.locator(".browse-tile")
    tiles.first.wait_for()
    assert sorted(tiles.locator(".tile-name").all_inner_texts()) == sorted(p.name for p in BIRDS)
    # a load from this page goes to the picked collection
    load_through_ui(page, FISH)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=item-count]').textContent === '5'"
    )
    tiles.nth(0).get_by_role("button", name="Find similar").click()
    page.get_by_test_id("results-count").wait_for()
    names = page.locator(".hit-tile .tile-name").all_inner_texts()
    assert names and set(names) <= {p.name for p in BIRDS + FISH}
    shot(page, screenshots, "image-collection")
    with httpx.Client(base_url=live_server, timeout=60) as c:
        counted = c.get("/api/image/count", params={"collection": "birds_ui"}).json()
        assert counted["items"] == 5


def test_the_chatbot_answers_from_the_picked_collection(
    page: Any, live_server: str, screenshots: Path
) -> None:
    """A Chinese FAQ in a named QA collection (multilingual encoder): the chat page,
    opened on it, answers a Chinese paraphrase from it, in Chinese."""
    zh_faq = REPO / "datasets" / "chatterbot_zh" / "qa_zh.csv"
    asked, expected = ZH_FAQ_PARAPHRASES[1]
    with httpx.Client(base_url=live_server, timeout=300) as c:
        body = {"name": "zh_ui", "encoder": "multilingual"}
        r = c.post("/api/qa/collections", json=body)
        assert r.status_code in (201, 409), r.text
        files = [("files", ("qa_zh.csv", zh_faq.read_bytes()))]
        job = c.post("/api/qa/load", files=files, params={"collection": "zh_ui"}).json()
        assert wait_job(c, job["id"])["state"] == "done"
    page.goto("/#/qa?collection=zh_ui")
    ask = page.get_by_label("Your question")
    ask.fill(asked)
    ask.press("Enter")
    bot = page.locator(".msg.bot:not(.pending)").last
    bot.wait_for()
    assert bot.get_attribute("data-answered") == "true", bot.inner_text()
    assert expected in bot.locator(".matched").inner_text()
    shot(page, screenshots, "qa-collection")
