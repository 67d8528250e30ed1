"""A server that requires API keys, used from the browser: the UI asks for the key,
keeps it in a SameSite=Strict cookie, shows the apps, and shows a read key's 403
when it tries to load."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import serving
from tests.e2e.conftest import UI_TIMEOUT_MS, shot

pytestmark = pytest.mark.browser

READ_KEY = "ui-read-key-0123456789"
WRITE_KEY = "ui-write-key-0123456789"
FASTA = ">s1 class=A\nACGTACGTACGTAAAACCCGGGTTT\n>s2 class=B\nTTTTGGGGCCCCAAAATTTTGGGG\n"


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from findalike.api.main import create_app
    from findalike.config import Settings

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("ui-keys"),
        apps=["dna"],
        api_keys=f"read:{READ_KEY},write:{WRITE_KEY}",
    )
    with serving(create_app(settings)) as url:
        yield url


def test_the_ui_asks_for_the_key_and_a_read_key_cannot_load(
    browser: Any, keyed_server: str, screenshots: Path, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=keyed_server)
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto("/")
        page.get_by_role("heading", name="API key needed").wait_for()
        shot(page, screenshots, "api-key-form")
        page.get_by_label("API key").fill(READ_KEY)
        page.get_by_role("button", name="Save key").click()
        page.locator("#nav a", has_text="DNA").first.wait_for()
        cookie = next(c for c in context.cookies() if c["name"] == "findalike_key")
        assert cookie["sameSite"] == "Strict" and cookie["value"] == READ_KEY

        fasta = tmp_path / "two.fa"
        fasta.write_text(FASTA)
        page.goto("/#/dna")
        page.get_by_label("Files to load").set_input_files([str(fasta)])
        page.get_by_role("button", name="Load", exact=True).click()
        alert = page.get_by_role("alert").filter(has_text="may only read")
        alert.wait_for()
        assert "403" in alert.inner_text()
        shot(page, screenshots, "api-key-read-only")
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
