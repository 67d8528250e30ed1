"""Browser fixtures: the real findalike server (uvicorn in a thread, a tmp data dir,
the session's shared text model) and Debian's Chromium driven by Playwright.

No browser is ever downloaded: Chromium comes from Debian (``/usr/bin/chromium``);
the tests are skipped with a clear reason when it or Playwright is missing.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import serving

CHROMIUM = os.environ.get("FINDALIKE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous: the first search of an app loads its model in the server.
UI_TIMEOUT_MS = 120_000
DEMO = Path(__file__).resolve().parents[2] / "src" / "findalike" / "demo"


@pytest.fixture(scope="session")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, shared_encoders: dict[str, Any]
) -> Iterator[str]:
    """The real app on a free loopback port; yields its base URL."""
    from findalike.api.main import create_app
    from findalike.config import Settings

    data_dir = tmp_path_factory.mktemp("ui-data")
    app = create_app(Settings(data_dir=data_dir), encoders=shared_encoders)  # every app
    with serving(app) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    """A fresh page (1280x900) whose console errors fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server)
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="session")
def screenshots(artifacts_dir: Path) -> Path:
    out = artifacts_dir / "ui"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    return out


def load_through_ui(page: Any, files: list[Path], timeout_ms: int = UI_TIMEOUT_MS) -> str:
    """Choose ``files`` in the page's loader, submit, and wait for the job to end;
    returns the final status line. Checks the progress bar ends full."""
    page.get_by_label("Files to load").set_input_files([str(f) for f in files])
    page.get_by_role("button", name="Load", exact=True).click()
    job = page.locator(".loader .job")
    job.wait_for(state="visible")
    page.wait_for_function(
        "() => ['done','failed','cancelled','interrupted']"
        ".includes(document.querySelector('.loader .job')?.dataset.state)",
        timeout=timeout_ms,
    )
    status = page.locator(".loader .job-status").inner_text()
    assert job.get_attribute("data-state") == "done", status
    value = page.locator(".loader .job progress").evaluate("p => [p.value, p.max]")
    assert value[0] == value[1], value
    return str(status)


def shot(page: Any, screenshots: Path, name: str) -> Path:
    path = screenshots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="module")
def sotu_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 real State of the Union addresses (public domain), first 1,500 characters each."""
    docs = [json.loads(line) for line in (DEMO / "sotu_recent.jsonl").open()]
    out = tmp_path_factory.mktemp("text") / "sotu_small.jsonl"
    with out.open("w") as fh:
        for doc in docs[::3][:12]:
            fh.write(json.dumps({**doc, "text": doc["text"][:1500]}) + "\n")
    return out


@pytest.fixture(scope="module")
def perlfaq_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 60 real question/answer pairs of perlfaq (Perl's own FAQ)."""
    with (DEMO / "perlfaq.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))[:60]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["question", "answer"], extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    out = tmp_path_factory.mktemp("qa") / "perlfaq_small.csv"
    out.write_text(buf.getvalue())
    return out
