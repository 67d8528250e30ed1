"""One search contract for every app (issue 10), checked by walking the live OpenAPI
document of the real app with every app enabled, so a new app that breaks it fails
here: `POST /api/{app}/search` takes `top_k` (same default and bound everywhere) and
`min_score`, refuses unknown fields with a 422 naming them, and answers `hits`, each
with `item_id` and `score`. Then each app is searched for real, on small real data."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from findalike.apps import ALL_APPS
from findalike.core.contract import TOP_K_DEFAULT, TOP_K_MAX
from tests.api.conftest import PHOTOS, run_bash, some_photos
from tests.conftest import REPO


@pytest.fixture
def client(live: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live, timeout=600) as c:
        yield c


FACE = REPO / "datasets" / "people" / "query" / "obama" / "obama_3.jpg"  # a registered person


def _queries() -> dict[str, dict[str, Any]]:
    """A real query per app (without top_k)."""
    photo = some_photos(5)[0].read_bytes()
    clip = sorted((REPO / "datasets" / "audio").rglob("*.flac"))[0].read_bytes()
    return {
        "text": {"query": "sending astronauts to Mars"},
        "qa": {"question": "how can I sort a hash"},
        "image": {"image_base64": base64.b64encode(photo).decode()},
        "video": {"image_base64": base64.b64encode(photo).decode()},
        "objects": {"media_base64": base64.b64encode(photo).decode(), "filename": "q.jpg"},
        "people": {
            "media_base64": base64.b64encode(FACE.read_bytes()).decode(),
            "filename": "q.jpg",
        },
        "audio": {"audio_base64": base64.b64encode(clip).decode()},
        "molecule": {"query": "CC(=O)Oc1ccccc1C(=O)O"},
        "dna": {"sequence": "ACGT" * 12},
        "recommend": {"user": "1"},
    }


def _schema(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    return spec["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else node


def test_every_app_declares_the_contract_in_its_openapi(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    enabled = [a["name"] for a in client.get("/api/apps").json()["data"] if a["enabled"]]
    assert set(enabled) == set(ALL_APPS)
    for app in enabled:
        op = spec["paths"][f"/api/{app}/search"]["post"]
        request = _schema(spec, op["requestBody"]["content"]["application/json"]["schema"])
        props = request["properties"]
        assert props["top_k"]["default"] == TOP_K_DEFAULT, app
        assert props["top_k"]["maximum"] == TOP_K_MAX and props["top_k"]["minimum"] == 1, app
        assert "min_score" in props, app
        assert request.get("additionalProperties") is False, app
        response = _schema(spec, op["responses"]["200"]["content"]["application/json"]["schema"])
        hits = response["properties"]["hits"]
        hit = _schema(spec, hits["items"])
        assert {"item_id", "score"} <= set(hit["required"]), app
        assert hit["properties"]["score"]["type"] == "number", app


@pytest.mark.parametrize("app", ALL_APPS)
def test_top_k_bounds_the_hits_and_unknown_fields_are_named(client: httpx.Client, app: str) -> None:
    query = _queries()[app]
    r = client.post(f"/api/{app}/search", json={**query, "top_k": 3})
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    stored = client.get(f"/api/{app}/count").json()["items"]
    if app in ("objects", "people"):  # what was found in the query, at most top_k
        assert len(hits) <= 3
    else:  # top_k of what is stored, never fewer
        assert len(hits) == min(3, stored), (app, len(hits), stored)
    for hit in hits:
        assert isinstance(hit["item_id"], str) and hit["item_id"]
        assert isinstance(hit["score"], float | int)
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    if app != "objects":  # the detector may find nothing on a photo; the rest always answer
        assert hits, f"{app}: no hits"
    bad = client.post(f"/api/{app}/search", json={**query, "no_such_field": 1})
    assert bad.status_code == 422
    assert any(e["field"] == "body.no_such_field" for e in bad.json()["errors"]), bad.json()


@pytest.mark.parametrize("app", ["text", "image", "molecule", "dna"])
def test_min_score_leaves_out_weaker_hits(client: httpx.Client, app: str) -> None:
    query = _queries()[app]
    every = client.post(f"/api/{app}/search", json={**query, "top_k": 50}).json()["hits"]
    assert len(every) >= 2
    cut = (every[0]["score"] + every[-1]["score"]) / 2
    kept = client.post(f"/api/{app}/search", json={**query, "top_k": 50, "min_score": cut})
    scores = [h["score"] for h in kept.json()["hits"]]
    assert scores and min(scores) >= cut
    assert len(scores) == sum(1 for h in every if h["score"] >= cut)


# -- the README's examples, run as a user would run them -----------------------------------

README = (REPO / "README.md").read_text(encoding="utf-8")


def _bash_blocks(after_heading: str) -> list[str]:
    section = README.split(after_heading, 1)[1]
    return re.findall(r"```bash\n(.*?)```", section.split("\n## ", 1)[0], re.S)


@pytest.fixture
def user_folder(tmp_path: Path) -> Path:
    """What the tour assumes a user has: mydocs.csv, cat.jpg and a folder of notes."""
    (tmp_path / "mydocs.csv").write_text(
        "title,text,year\n"
        "Mars,We will send American astronauts to Mars in the 2030s.,2016\n"
        "Moon,We choose to go to the Moon in this decade.,1962\n"
        "Taxes,Tax cuts for working families and small businesses.,2001\n"
    )
    shutil.copy(PHOTOS / "animals-mammals-cats-tiger.jpg", tmp_path / "cat.jpg")
    notes = tmp_path / "my-notes"
    notes.mkdir()
    (notes / "ideas.txt").write_text("Cut taxes for families with children.")
    return tmp_path


def test_the_readme_tour_runs(live: str, user_folder: Path) -> None:
    curl_block = _bash_blocks("## A 60-second tour")[0]
    assert curl_block.count("curl ") >= 8
    done = run_bash(curl_block.replace("| head -30", ""), user_folder, live)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert '"hits"' in done.stdout and "event: done" in done.stdout
    assert "Mars" in done.stdout


def test_the_readme_cli_examples_run(live: str, user_folder: Path) -> None:
    cli_block = _bash_blocks("## A 60-second tour")[1]
    assert cli_block.count("findalike ") >= 6
    done = run_bash(cli_block, user_folder, live)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "accuracy" in done.stdout and "done" in done.stdout


def test_the_readme_python_example_runs(live: str, user_folder: Path) -> None:
    section = README.split("## A 60-second tour", 1)[1].split("\n## ", 1)[0]
    (script,) = re.findall(r"```python\n(.*?)```", section, re.S)
    script = script.replace("http://localhost:8000", live)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=user_folder,
        text=True,
        capture_output=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "done 3 of 3", lines
    assert any(line.endswith("  Taxes") for line in lines[1:4]), lines  # hits: score, title
    assert "sort a hash" in lines[4] and re.fullmatch(r"[0-9a-f]{32}", lines[5]), lines


def _cli_json(live: str, *args: str) -> str:
    from typer.testing import CliRunner

    from findalike.cli import app as cli

    result = CliRunner().invoke(cli, ["search", *args, "-s", live, "-o", "json"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("app", ALL_APPS)
def test_cli_search_k_3_gives_3_hits_in_every_app(live: str, app: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from findalike.cli import app as cli

    photo = some_photos(5)[0]
    clip = sorted((REPO / "datasets" / "audio").rglob("*.flac"))[0]
    args = {
        "text": ["sending astronauts to Mars"],
        "qa": ["how can I sort a hash"],
        "molecule": ["CC(=O)Oc1ccccc1C(=O)O"],
        "dna": ["ACGT" * 12],
        "recommend": ["1"],
        "image": ["--file", str(photo)],
        "video": ["--file", str(photo)],
        "objects": ["--file", str(photo)],
        "people": ["--file", str(FACE)],
        "audio": ["--file", str(clip)],
    }[app]
    table = CliRunner().invoke(cli, ["search", app, *args, "-k", "3", "--server", live])
    assert table.exit_code == 0 and "score" in table.output, table.output  # for people
    result = CliRunner().invoke(cli, ["search", app, *args, "-k", "3", "-s", live, "-o", "json"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)["hits"]
    if hits:  # each hit is a row of the table, named by what it is
        assert "┃ #" in table.output and table.output.count("\n│ ") >= len(hits)
    if app == "text":  # ten hits read at a glance: one line each
        ten = CliRunner().invoke(cli, ["search", app, *args, "-k", "10", "-s", live])
        found = len(json.loads(_cli_json(live, app, *args, "-k", "10"))["hits"])
        # a header of 3 lines, a line per hit, the closing line and the notes line
        assert ten.exit_code == 0 and len(ten.output.splitlines()) == found + 5, ten.output
    if hits:  # every row shows its rank and score (none squeezed away in 80 columns)
        rows = [line for line in table.output.splitlines() if line.startswith("│ ")]
        for rank, (row, hit) in enumerate(zip(rows, hits, strict=True), 1):
            cells = [c.strip() for c in row.strip("│").split("│")]
            assert cells[0] == str(rank) and cells[1] == f"{hit['score']:.4f}", row
    if app == "objects":
        assert len(hits) <= 3  # the detector may find no known object in a photo
    elif app == "people":
        assert len(hits) == 1  # one face in the photo: one registered person
    else:
        assert len(hits) == 3, result.output[:2000]


@pytest.mark.parametrize("app", ["image", "video", "text", "molecule"])
def test_browse_pages_through_every_stored_item(client: httpx.Client, app: str) -> None:
    """`GET /api/{app}/items` pages cover every item once, with the app's own links
    (a thumbnail that loads for media apps, none for the others)."""
    total = client.get(f"/api/{app}/count").json()["items"]
    assert total >= 3
    seen: list[str] = []
    for offset in range(0, total, 2):
        page = client.get(f"/api/{app}/items", params={"offset": offset, "limit": 2}).json()
        assert page["count"] == total and len(page["data"]) == min(2, total - offset)
        seen += [item["item_id"] for item in page["data"]]
    assert len(seen) == len(set(seen)) == total
    first = client.get(f"/api/{app}/items", params={"limit": 1}).json()["data"][0]
    assert first == client.get(f"/api/{app}/items/{first['item_id']}").json()
    if app in ("image", "video"):
        thumb = client.get(first["thumbnail_url"])
        assert thumb.status_code == 200 and thumb.headers["content-type"].startswith("image/")
    else:
        assert first["thumbnail_url"] is None and first["file_url"] is None
    assert client.get(f"/api/{app}/items", params={"offset": 16_380, "limit": 10}).status_code in (
        400,
        422,
    )
