"""The docs' examples, run as a user would run them against the live server (every
app, real data): each app page's commands from the repository's root, the client
page's Python. The README's tour is run by test_contract."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import run_bash
from tests.conftest import REPO, wait_job

DOCS = REPO / "docs"
APP_PAGES = sorted((DOCS / "apps").glob("*.md"))


def _blocks(page: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", page.read_text(encoding="utf-8"), re.S)


def test_every_app_has_a_page_with_an_example() -> None:
    from findalike.apps import ALL_APPS

    assert {p.stem for p in APP_PAGES} == set(ALL_APPS)
    assert all(_blocks(p, "bash") for p in APP_PAGES)


@pytest.mark.parametrize("page", APP_PAGES, ids=lambda p: p.stem)
def test_an_app_pages_example_runs(live: str, page: Path, tmp_path: Path) -> None:
    (script,) = _blocks(page, "bash")
    script = script.replace("@datasets/", f"@{REPO}/datasets/").replace(
        " datasets/", f" {REPO}/datasets/"
    )
    done = run_bash(script, tmp_path, live)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    answers = _json_answers(done.stdout)
    assert answers, done.stdout[-2000:]
    if page.stem == "people":  # the page removes a person: register them again
        _register_again(live, "obama")
    elif page.stem == "qa":
        assert answers[0]["answered"] and "hash" in answers[0]["matched_question"]
    elif page.stem == "objects":  # the live server knows other objects than the demo
        assert answers[0]["frames_checked"] > 1 and answers[0]["detections"] > 0
    elif page.stem == "dna":
        assert answers[0]["label"] is not None
    else:
        assert answers[0]["hits"], answers[0]
    if page.stem == "molecule":
        assert (tmp_path / "aspirin.svg").read_text().lstrip().startswith("<?xml")


def _json_answers(text: str) -> list[dict]:
    """The JSON objects curl printed, in order (curl adds no newline between answers;
    the CLI's tables between them are skipped)."""
    decoder, found, at = json.JSONDecoder(), [], text.find("{")
    while at != -1:
        try:
            value, end = decoder.raw_decode(text, at)
        except ValueError:
            at = text.find("{", at + 1)
            continue
        found.append(value)
        at = text.find("{", end)
    return found


def _register_again(live: str, person: str) -> None:
    photos = sorted((REPO / "datasets" / "people" / "register" / person).glob("*.jpg"))
    with httpx.Client(base_url=live, timeout=600) as c:
        r = c.post("/api/people/load", files=[("files", (p.name, p.read_bytes())) for p in photos])
        assert wait_job(c, r.json()["id"])["state"] == "done"


def test_the_client_pages_examples_run(live: str, tmp_path: Path) -> None:
    (tmp_path / "speeches.jsonl").write_text(
        json.dumps({"title": "Taxes", "text": "Families deserve lower taxes."}) + "\n"
    )
    sync, asynchronous = _blocks(DOCS / "client.md", "python")
    printed = [_python(script, tmp_path, live) for script in (sync, asynchronous)]
    assert "done" in printed[0] and "422 " in printed[0] and "['body.top_k']" in printed[0]
    assert printed[1].splitlines(), "the label job's events were not printed"


def _python(script: str, cwd: Path, live: str) -> str:
    """What ``script`` prints, run as its own program against the live server."""
    done = subprocess.run(
        [sys.executable, "-c", script.replace("http://127.0.0.1:8000", live)],
        cwd=cwd,
        env={"FINDALIKE_SERVER": live, "PATH": "/usr/bin:/bin"},
        text=True,
        capture_output=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout
