"""Named collections (issue 12): an app holds several data sets side by side. Two
image collections with different real photos: searches, counts, browsing, stored
files and drops never cross, the default collection keeps today's URLs, and names
are checked."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from findalike.api.main import create_app
from findalike.config import Settings
from tests.conftest import REPO, wait_job

PHOTOS = sorted((REPO / "datasets" / "images" / "photos").glob("*.jpg"))
BIRDS = [p for p in PHOTOS if "-birds-" in p.name][:4]
FISH = [p for p in PHOTOS if "-fish-" in p.name][:3]
DEFAULT = PHOTOS[-2:]


def _load(c: TestClient, photos: list[Any], collection: str | None = None) -> dict[str, Any]:
    params = {"collection": collection} if collection else {}
    files = [("files", (p.name, p.read_bytes())) for p in photos]
    r = c.post("/api/image/load", files=files, params=params)
    assert r.status_code == 202, r.text
    return wait_job(c, r.json()["id"])


def _query(photo: Any) -> dict[str, Any]:
    return {"image_base64": base64.b64encode(photo.read_bytes()).decode(), "top_k": 10}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("collections"), apps=["image"])
    with TestClient(create_app(settings)) as c:
        for name in ("birds", "fish"):
            r = c.post("/api/image/collections", json={"name": name})
            assert r.status_code == 201, r.text
            assert r.json()["items"] == 0 and r.json()["encoder"]
        assert _load(c, BIRDS, "birds")["done"] == len(BIRDS)
        assert _load(c, FISH, "fish")["done"] == len(FISH)
        assert _load(c, DEFAULT)["done"] == len(DEFAULT)
        yield c


def test_collections_are_listed_with_their_counts(client: TestClient) -> None:
    r = client.get("/api/image/collections")
    assert r.status_code == 200, r.text
    listed = r.json()
    assert listed["count"] == 2
    assert [(c["name"], c["items"]) for c in listed["data"]] == [("birds", 4), ("fish", 3)]
    assert client.get("/api/image/count").json()["items"] == len(DEFAULT)  # today's URL
    assert client.get("/api/image/count", params={"collection": "fish"}).json()["items"] == 3


def test_searches_never_cross(client: TestClient) -> None:
    names = {p.name for p in BIRDS}
    r = client.post("/api/image/search", params={"collection": "birds"}, json=_query(FISH[0]))
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert {h["name"] for h in hits} == names  # a fish query still finds only birds here
    r = client.post("/api/image/search", params={"collection": "fish"}, json=_query(FISH[0]))
    top = r.json()["hits"]
    assert top[0]["name"] == FISH[0].name and top[0]["score"] > 0.99
    assert {h["name"] for h in top} == {p.name for p in FISH}
    default = client.post("/api/image/search", json=_query(FISH[0])).json()["hits"]
    assert {h["name"] for h in default} == {p.name for p in DEFAULT}


def test_stored_files_and_browsing_name_their_collection(client: TestClient) -> None:
    page = client.get("/api/image/items", params={"collection": "fish", "limit": 10}).json()
    assert page["count"] == 3 and len(page["data"]) == 3
    item = page["data"][0]
    assert item["file_url"].endswith("/file?collection=fish")
    assert client.get(item["file_url"]).status_code == 200
    assert client.get(item["thumbnail_url"]).status_code == 200
    # the same id is not in another collection
    item_id = item["item_id"]
    assert client.get(f"/api/image/items/{item_id}").status_code == 404
    assert client.get(f"/api/image/items/{item_id}/file").status_code == 404
    assert (
        client.get(f"/api/image/items/{item_id}", params={"collection": "birds"}).status_code == 404
    )
    hits = client.post(
        "/api/image/search", params={"collection": "fish"}, json=_query(FISH[1])
    ).json()["hits"]
    assert client.get(hits[0]["thumbnail_url"]).status_code == 200


def test_names_are_checked_and_unknown_collections_are_404(client: TestClient) -> None:
    for bad in ("Logos", "1st", "a-b", "x" * 33, "", "a b"):
        r = client.post("/api/image/collections", json={"name": bad})
        assert r.status_code == 422, (bad, r.text)
        assert client.get("/api/image/count", params={"collection": bad}).status_code == 422
    r = client.post("/api/image/collections", json={"name": "birds"})
    assert r.status_code == 409
    r = client.post("/api/image/collections", json={"name": "x", "encoder": "y"})
    assert r.status_code == 422  # unknown field
    for method, path in [
        ("GET", "/api/image/count"),
        ("POST", "/api/image/search"),
        ("GET", "/api/image/items"),
        ("DELETE", "/api/image"),
    ]:
        r = client.request(method, path, params={"collection": "nope"}, json=_query(FISH[0]))
        assert r.status_code == 404, (path, r.text)
        assert "POST /api/image/collections" in r.json()["detail"]
    # the app's own routes take a collection too (issue 27): an unknown one is a 404
    r = client.post("/api/image/labels", params={"collection": "nope"})
    assert r.status_code == 404 and "POST /api/image/collections" in r.json()["detail"]
    r = client.post("/api/image/labels", params={"collection": "fish"})
    assert r.status_code == 202 and wait_job(client, r.json()["id"])["state"] == "done"
    files = [("files", (BIRDS[0].name, BIRDS[0].read_bytes()))]
    r = client.post("/api/image/load", files=files, params={"collection": "nope"})
    assert r.status_code == 404  # never creates a collection by accident
    assert client.get("/api/image/collections").json()["count"] == 2


def test_the_schema_states_each_apps_collection_choices(client: TestClient, tmp_path: Any) -> None:
    """A body the schema allows is one the server takes (issue 24): an app with one
    encoder takes a name only, and the text app's ``encoder`` is one of its keys."""
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert set(schemas["ImageNewCollection"]["properties"]) == {"name"}
    text_app = create_app(Settings(data_dir=tmp_path, apps=["text"]))
    text = text_app.openapi()["components"]["schemas"]["TextCreateCollection"]
    choices = [s for s in text["properties"]["encoder"]["anyOf"] if "enum" in s]
    keys = text_app.state.runtimes["text"].encoder_keys()
    assert "multilingual" in keys
    assert choices == [{"type": "string", "enum": keys}]


def test_dropping_one_collection_leaves_the_others(client: TestClient) -> None:
    client.post("/api/image/collections", json={"name": "scratch"})
    assert _load(client, FISH[:1], "scratch")["done"] == 1
    r = client.delete("/api/image/collections/scratch")
    assert r.status_code == 200 and r.json()["dropped"] is True
    assert client.delete("/api/image/collections/scratch").status_code == 404
    assert [c["name"] for c in client.get("/api/image/collections").json()["data"]] == [
        "birds",
        "fish",
    ]
    assert client.get("/api/image/count", params={"collection": "fish"}).json()["items"] == 3
    fish = client.get("/api/image/items", params={"collection": "fish"}).json()["data"]
    assert all(client.get(i["file_url"]).status_code == 200 for i in fish)


def test_the_cli_creates_loads_searches_and_drops_a_collection(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from findalike.cli import app as cli
    from tests.conftest import serving

    fasta = tmp_path / "s.fa"
    fasta.write_text(">a class=A\nACGTACGTACGTACGTAAAA\n>b class=B\nTTTTGGGGCCCCAAAATTTT\n")
    settings = Settings(data_dir=tmp_path / "data", apps=["dna"])
    runner = CliRunner()
    search = ["search", "dna", "TTTTGGGGCCCCAAAATTTT", "-o", "json"]
    with serving(create_app(settings)) as url:
        made = runner.invoke(cli, ["collections", "dna", "--create", "reads", "-s", url])
        assert made.exit_code == 0, made.output
        assert "reads" in made.output
        loaded = runner.invoke(cli, ["load", "dna", str(fasta), "-c", "reads", "-s", url])
        assert loaded.exit_code == 0, loaded.output
        found = runner.invoke(cli, [*search, "-k", "1", "-c", "reads", "-s", url])
        assert found.exit_code == 0, found.output
        hits = json.loads(found.output)["hits"]
        assert [(h["seq_id"], h["label"], h["score"]) for h in hits] == [("b", "B", 1.0)]
        default = runner.invoke(cli, [*search, "-s", url])
        assert default.exit_code == 0 and json.loads(default.output)["hits"] == []
        # a collection with its own encoder, chosen on the command line
        args = ["collections", "dna", "--create", "fixed", "--encoder", "onehot"]
        made = runner.invoke(cli, [*args, "--set", "sequence_length=20", "-s", url])
        assert made.exit_code == 0, made.output
        assert "fixed" in made.output and "onehot" in made.output
        runner.invoke(cli, ["load", "dna", str(fasta), "-c", "fixed", "-s", url])
        found = runner.invoke(cli, [*search, "-k", "1", "-c", "fixed", "-s", url])
        assert [h["seq_id"] for h in json.loads(found.output)["hits"]] == ["b"]
        bad = runner.invoke(cli, ["collections", "dna", "--create", "x", "--set", "k", "-s", url])
        assert bad.exit_code == 1 and "FIELD=VALUE" in bad.output
        dropped = runner.invoke(cli, ["collections", "dna", "--drop", "reads", "-s", url])
        assert dropped.exit_code == 0 and "reads" not in dropped.output
