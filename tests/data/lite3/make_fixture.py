"""Makes ``milvus.db/``, the Milvus Lite 3.2 data folder that tests/test_lite3.py migrates:
run once with Milvus Lite 3.2.2 installed (findalike's embedded engine before issue 25),
from the repository root:

    .venv/bin/python tests/data/lite3/make_fixture.py

The text app (real MiniLM vectors, a BM25 field) loads ``DOCS`` into its default
collection and ``NOTES`` into a named collection ``notes``, deletes one document, and
the process then ends without closing Milvus Lite (``os._exit``), as a crash would: the
delete is left in Lite's write-ahead log, not in its Parquet files. What the test
expects of the migrated store is written beside it as ``expected.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))  # tests.conftest

from fastapi.testclient import TestClient  # noqa: E402

from findalike.api.main import create_app  # noqa: E402
from findalike.config import Settings  # noqa: E402
from tests.conftest import wait_job  # noqa: E402

DOCS = [
    {
        "title": "Volcanoes",
        "text": "A volcano erupts when molten rock and ash escape.",
        "year": 2001,
    },
    {"title": "Photosynthesis", "text": "Plants turn sunlight and water into sugar.", "year": 2005},
    {"title": "Interest rates", "text": "The central bank raised interest rates.", "year": 2010},
    {"title": "Glaciers", "text": "Glaciers carve valleys as they slowly move.", "year": 2012},
    {
        "title": "Vaccines",
        "text": "Vaccines train the immune system against disease.",
        "year": 2020,
    },
    {"title": "Tides", "text": "The moon's pull raises the tides twice a day.", "year": 1999},
]
NOTES = [
    {"title": "Bread", "text": "Knead the dough and let it rise before baking."},
    {"title": "Tea", "text": "Steep green tea in water just below boiling."},
]
DELETED = "Interest rates"


def main() -> None:
    data = HERE / "data"
    shutil.rmtree(data, ignore_errors=True)
    client = TestClient(create_app(Settings(data_dir=data, apps=["text"])))
    client.__enter__()
    docs = "\n".join(json.dumps(d) for d in DOCS)
    r = client.post("/api/text/load", files=[("files", ("docs.jsonl", docs))])
    assert wait_job(client, r.json()["id"])["state"] == "done"
    assert client.post("/api/text/collections", json={"name": "notes"}).status_code == 201
    notes = "\n".join(json.dumps(d) for d in NOTES)
    r = client.post(
        "/api/text/load", params={"collection": "notes"}, files=[("files", ("n.jsonl", notes))]
    )
    assert wait_job(client, r.json()["id"])["state"] == "done"
    items = client.get("/api/text/items", params={"limit": 100}).json()["data"]
    ids = {i["fields"]["title"]: i["item_id"] for i in items}
    assert client.delete(f"/api/text/items/{ids[DELETED]}").status_code == 200
    expected = {
        "default": {t: i for t, i in ids.items() if t != DELETED},
        "deleted": ids[DELETED],
        "notes": len(NOTES),
    }
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    db = data / "milvus.db"
    shutil.rmtree(HERE / "milvus.db", ignore_errors=True)
    shutil.copytree(db, HERE / "milvus.db")  # Lite's folder as it is now, not closed
    os._exit(0)


if __name__ == "__main__":
    main()
