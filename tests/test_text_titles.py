"""A text hit matched by its document's title row shows the document's first passage:
taken from the same search's hits when that passage is among them, looked up (one
query for all the others) when it is not, and only for the hits shown. Real model,
Milvus Lite, the HTTP app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from findalike.api.main import create_app
from findalike.config import Settings
from findalike.core.app import AppRuntime
from tests.conftest import wait_job

DOCS = [
    {"title": "Volcanoes", "text": "Volcanoes erupt lava, ash and gas from deep in the earth."},
    {"title": "Glaciers", "text": "Glaciers are rivers of ice that carve valleys slowly."},
    {"title": "Deserts", "text": "Deserts receive very little rain and can be hot or cold."},
]


def test_title_hits_show_their_first_passage_looked_up_only_when_missing(
    tmp_path: Path, minilm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path, apps=["text"], load_demo=False)
    looked_up: list[list[str]] = []
    real = AppRuntime.part_rows

    def recorded(self: AppRuntime, item_ids: Any, part: int, fields: Any) -> Any:
        looked_up.append(sorted(item_ids))
        return real(self, item_ids, part, fields)

    monkeypatch.setattr(AppRuntime, "part_rows", recorded)
    with TestClient(
        create_app(settings, encoders={"minilm": minilm}), base_url="http://127.0.0.1"
    ) as client:
        lines = "\n".join(json.dumps(d) for d in DOCS).encode()
        r = client.post("/api/text/load", files=[("files", ("docs.jsonl", lines))])
        assert wait_job(client, r.json()["id"])["state"] == "done"

        def search(query: str, top_k: int, group: bool = False) -> list[dict[str, Any]]:
            r = client.post(
                "/api/text/search",
                json={"query": query, "top_k": top_k, "group": group, "mode": "semantic"},
            )
            assert r.status_code == 200, r.text
            return list(r.json()["hits"])

        # every row comes back (3 passages, 3 title rows): each title's passage is there
        hits = search("Glaciers", 6)
        assert len(hits) == 3  # a title row and its passage make one (item, passage) hit
        by_title = {h["title"]: h for h in hits}
        for doc in DOCS:
            assert _shows(by_title[doc["title"]], doc["text"])
        assert looked_up == []
        # grouped, one document wanted: 3 rows fetched, the title row and its passage
        # first, then a row of another document; that row is not shown, and nothing is
        # looked up for it even if it is a title row
        (hit,) = search("Glaciers", 1, group=True)
        assert hit["title"] == "Glaciers" and _shows(hit, DOCS[1]["text"])
        assert looked_up == []
        # the title row alone: its passage is looked up, once
        (hit,) = search("Glaciers", 1)
        assert hit["title"] == "Glaciers" and _shows(hit, DOCS[1]["text"])
        assert len(looked_up) == 1 and len(looked_up[0]) == 1


def _shows(hit: dict[str, Any], text: str) -> bool:
    """The hit's snippet is the passage (all its words: the snippet ends at the last)."""
    return hit["passage"] == 0 and hit["snippet"].rstrip("…") == text.rstrip(".")
