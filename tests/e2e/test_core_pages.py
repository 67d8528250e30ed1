"""Home, text and QA pages in a real browser against the real server and model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import load_through_ui, shot

pytestmark = pytest.mark.browser


def test_home_lists_apps_and_docs(page: Any, screenshots: Path) -> None:
    page.goto("/")
    cards = page.locator(".cards > li")
    cards.first.wait_for()
    names = cards.evaluate_all("els => els.map(e => e.dataset.app)")
    assert {"text", "qa"} <= set(names)
    assert page.locator('a[href="/docs"]').count() >= 1
    assert page.locator('a[href="/redoc"]').count() >= 1
    page.locator(".health").filter(has_text="ok").wait_for()
    shot(page, screenshots, "home")
    for url in ("/docs", "/redoc"):
        assert page.request.get(url).ok, url


def test_docs_render_offline(browser: Any, live_server: str, screenshots: Path) -> None:
    context = browser.new_context(base_url=live_server)
    try:
        page = context.new_page()
        # Any request off loopback fails, as it would on an offline machine.
        page.route(
            "**/*",
            lambda route: (
                route.continue_() if route.request.url.startswith(live_server) else route.abort()
            ),
        )
        page.goto("/docs")
        page.locator(".opblock").first.wait_for(timeout=10_000)
        assert page.locator(".opblock").count() > 10
        shot(page, screenshots, "docs")
        page.goto("/redoc")
        page.locator("h2", has_text="Search Text search").first.wait_for(timeout=20_000)
        shot(page, screenshots, "redoc")
    finally:
        context.close()


def test_text_load_and_search(page: Any, screenshots: Path, sotu_small: Path) -> None:
    page.goto("/#/text")
    status = load_through_ui(page, [sotu_small])
    assert "12 stored" in status or "already there" in status, status
    assert page.get_by_test_id("item-count").inner_text() == "12"

    page.get_by_label("Search documents").fill("American hostages held in Iran")
    page.get_by_label("Results").fill("5")
    page.get_by_role("button", name="Search", exact=True).click()
    head = page.get_by_test_id("results-count")
    head.wait_for()
    assert head.get_attribute("data-count") == "5"
    first = page.locator(".hit").first
    assert first.locator(".hit-title").inner_text() == "Jimmy Carter, 1981"
    assert first.locator("mark").count() > 0, "query words are highlighted"
    shot(page, screenshots, "text")

    # A quoted phrase: the documents holding it exactly come first, and the page says so.
    page.get_by_label("Search documents").fill('"hostages" release')
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_text("Searching…").wait_for(state="detached")
    note = page.locator(".results .exact")
    assert "“hostages”" in note.inner_text(), note.inner_text()
    first_snippet = page.locator(".hit").first.inner_text().lower()
    assert "hostages" in first_snippet, first_snippet

    # A metadata filter: only Republican addresses come back.
    page.get_by_role("button", name="+ Add filter").click()
    page.get_by_label("Filter field").fill("party")
    page.get_by_label("Filter value").fill("Republican")
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_text("Searching…").wait_for(state="detached")
    head.wait_for()
    tags = page.locator(".hit .tag", has_text="party:").all_inner_texts()
    assert tags and all(t == "party: Republican" for t in tags), tags
    shot(page, screenshots, "text-filtered")


def test_text_error_is_readable(page: Any) -> None:
    page.goto("/#/text")
    page.get_by_label("Search documents").fill("x")
    page.get_by_label("Results").fill("5000")
    page.get_by_label("Results").evaluate("el => el.removeAttribute('max')")
    page.get_by_role("button", name="Search", exact=True).click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "422" in alert.inner_text()
    assert "top_k" in alert.inner_text()


def test_qa_chat(page: Any, screenshots: Path, perlfaq_small: Path) -> None:
    page.goto("/#/qa")
    load_through_ui(page, [perlfaq_small])
    ask = page.get_by_label("Your question")
    ask.fill("how do I speed up my perl code")
    ask.press("Enter")  # keyboard use
    bot = page.locator(".msg.bot:not(.pending)").last
    bot.wait_for()
    assert bot.get_attribute("data-answered") == "true", bot.inner_text()
    assert "run faster" in bot.locator(".matched").inner_text()
    assert "confidence" in bot.inner_text()

    ask.fill("what is the best recipe for banana bread")
    ask.press("Enter")
    page.locator(".msg.bot:not(.pending)").nth(1).wait_for()
    unsure = page.locator(".msg.bot").nth(1)
    assert unsure.get_attribute("data-answered") == "false", unsure.inner_text()
    related = unsure.locator(".related button")
    assert related.count() >= 1
    picked = related.first.inner_text()
    related.first.click()  # a related question is asked as is: answered with confidence 1
    third = page.locator(".msg.bot").nth(2)
    page.wait_for_function("() => document.querySelectorAll('.msg.bot[data-answered]').length >= 3")
    assert third.get_attribute("data-answered") == "true", third.inner_text()
    assert picked in third.locator(".matched").inner_text()
    shot(page, screenshots, "qa")


def test_narrow_screen(page: Any, screenshots: Path) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto("/#/text")
    page.get_by_label("Search documents").wait_for()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"page scrolls sideways on a narrow screen ({width}px)"
    shot(page, screenshots, "text-narrow")
