"""Data in Milvus Lite 3.2's format is not lost on the compiled engine (issue 25).

``tests/data/lite3/milvus.db/`` is a real Lite 3.2.2 folder made by findalike's text app
(``tests/data/lite3/make_fixture.py``): five documents in the default collection after
one was deleted (the delete only in Lite's write-ahead log: the process ended without
closing), two in a named collection. On Lite 2.5 the first start moves the folder aside
and writes its rows into a 2.5 file; on Lite 3.2 it is opened as it is. Either way the
same documents must be found, by id, by meaning and by word.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from findalike.api.main import create_app
from findalike.config import Settings
from findalike.store import StoreError, VectorStore
from findalike.store.lite3 import BACKUP_SUFFIX, collections, move_to_lite25
from tests.conftest import REPO

FIXTURE = REPO / "tests" / "data" / "lite3"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text())


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE / "milvus.db", tmp_path / "milvus.db")
    return tmp_path / "milvus.db"


@pytest.fixture
def client(tmp_path: Path, shared_encoders: dict[str, Any]) -> Iterator[TestClient]:
    _copy(tmp_path)
    settings = Settings(data_dir=tmp_path, apps=["text"])
    with TestClient(create_app(settings, encoders=dict(shared_encoders))) as c:
        yield c


def test_a_lite32_folder_serves_every_document_it_held(client: TestClient, tmp_path: Path) -> None:
    expected: dict[str, str] = EXPECTED["default"]
    assert client.get("/api/text/count").json()["items"] == len(expected)
    items = client.get("/api/text/items", params={"limit": 100}).json()["data"]
    assert {i["fields"]["title"]: i["item_id"] for i in items} == expected
    assert client.get(f"/api/text/items/{EXPECTED['deleted']}").status_code == 404
    for mode, query in (("semantic", "when does a volcano erupt"), ("lexical", "volcano")):
        r = client.post("/api/text/search", json={"query": query, "top_k": 3, "mode": mode})
        assert r.status_code == 200, r.text
        assert r.json()["hits"][0]["item_id"] == expected["Volcanoes"], (mode, r.json())
    r = client.get("/api/text/count", params={"collection": "notes"})
    assert r.json()["items"] == EXPECTED["notes"]
    db = tmp_path / "milvus.db"
    # moved aside, kept, and a 2.5 file in its place
    assert db.is_file() and (tmp_path / f"milvus.db{BACKUP_SUFFIX}" / "collections").is_dir()


def test_the_folder_is_read_as_lite_wrote_it(tmp_path: Path) -> None:
    """The reader alone: the write-ahead log's delete applies, the record is read."""
    found = {c.name: c for c in collections(_copy(tmp_path))}
    assert set(found) == {"findalike_text", "findalike_text__notes"}
    text = found["findalike_text"]
    spec = text.spec()
    assert (spec.dim, spec.metric, spec.vector_kind) == (384, "COSINE", "float")
    assert spec.encoder.startswith("all-MiniLM-L6-v2@")
    assert [f.name for f in spec.fields if f.lexical] == ["text"]
    rows = [r for chunk in text.rows(spec) for r in chunk]
    assert sorted(r["item_id"] for r in rows) == sorted(EXPECTED["default"].values())
    assert all(r["vector"].shape == (384,) and isinstance(r["meta"], dict) for r in rows)


def test_a_folder_that_cannot_be_moved_stays_where_it_was(tmp_path: Path) -> None:
    """A collection without findalike's record: refused before anything moves."""
    db = _copy(tmp_path)
    schema = db / "collections" / "findalike_text__notes" / "schema.json"
    record = json.loads(schema.read_text())
    record["properties"] = {}
    schema.write_text(json.dumps(record))
    with pytest.raises(StoreError, match="no findalike record"):
        move_to_lite25(db)
    assert (db / "collections" / "findalike_text").is_dir()
    assert not (tmp_path / f"milvus.db{BACKUP_SUFFIX}").exists()


def test_moving_writes_the_rows_with_the_installed_engine(tmp_path: Path) -> None:
    """``move_to_lite25`` with whichever engine is installed (2.5 by default; 3.2 writes
    a new folder): the rows and the record come through."""
    db = _copy(tmp_path)
    backup = move_to_lite25(db)
    assert backup == tmp_path / f"milvus.db{BACKUP_SUFFIX}" and backup.is_dir()
    store = VectorStore(str(db))
    try:
        assert store.count("findalike_text") == len(EXPECTED["default"])
        assert store.count("findalike_text__notes") == EXPECTED["notes"]
        assert store.properties("findalike_text")["encoder"].startswith("all-MiniLM-L6-v2@")
        assert store.lexical_field("findalike_text") == "text_bm25"
    finally:
        store.close()
    assert db.is_file() and move_to_lite25(db) is None  # nothing left to move
