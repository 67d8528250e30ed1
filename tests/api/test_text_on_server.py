"""The text app on a real Milvus server (FINDALIKE_MILVUS_URI=http://...): the same
API works, and search over real text has recall@10 >= 0.99 against exact brute-force
search over the very vectors stored (the server builds an approximate index)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from findalike.api.main import create_app
from findalike.config import Settings
from tests.api.test_resilience import sotu_sentences
from tests.conftest import wait_job

pytestmark = pytest.mark.server
QUERIES = [
    "cutting taxes for families",
    "the threat of nuclear war",
    "exploring space",
    "health insurance costs",
    "building highways",
    "immigration",
    "the war in Vietnam",
    "clean air and water",
    "schools and teachers",
    "trade with Japan",
    "the budget deficit",
    "veterans",
    "civil rights",
    "oil and energy",
    "terrorism",
    "social security",
    "jobs and unemployment",
    "farmers",
    "crime and drugs",
    "the Soviet Union",
]
RECALL_BAR = 0.99


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, milvus_server_uri: str, shared_encoders: dict
) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("server"),
        apps=["text"],
        milvus_uri=milvus_server_uri,
        collection_prefix=f"t{uuid.uuid4().hex[:6]}_",
    )
    with TestClient(create_app(settings, encoders=shared_encoders)) as c:
        yield c
        c.delete("/api/text")


def test_load_search_delete_on_a_milvus_server(client: TestClient) -> None:
    docs = sotu_sentences(800)
    body = "\n".join(json.dumps({"title": f"s{i}", "text": t, "n": i}) for i, t in enumerate(docs))
    r = client.post("/api/text/load", files=[("files", ("sotu.jsonl", body.encode()))])
    job = wait_job(client, r.json()["id"])
    assert (job["state"], job["done"]) == ("done", 800), job
    assert client.get("/api/text/count").json()["items"] == 800
    health = client.get("/api/health").json()
    assert health["milvus"]["version"].startswith("v2.3")
    hit = client.post("/api/text/search", json={"query": docs[42], "top_k": 1}).json()["hits"][0]
    assert hit["title"] == "s42" and hit["score"] > 0.9
    assert client.delete(f"/api/text/items/{hit['item_id']}").status_code == 200
    assert client.get("/api/text/count").json()["items"] == 799
    filtered = client.post("/api/text/search", json={"query": "war", "filters": {"n": {"lt": 10}}})
    assert {h["meta"]["n"] < 10 for h in filtered.json()["hits"]} == {True}


def test_recall_at_10_against_brute_force_over_the_stored_vectors(
    client: TestClient, shared_encoders: dict
) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    rt = client.app.state.runtimes["text"]  # type: ignore[attr-defined]
    rows = store.query(rt.collection, filter="part >= 0", output_fields=["item_id", "vector"])
    ids = [r["item_id"] for r in rows]
    matrix = np.asarray([r["vector"] for r in rows], dtype=np.float32)
    queries = shared_encoders["minilm"].encode(QUERIES)
    recalls = []
    for text, q in zip(QUERIES, queries, strict=True):
        exact = {ids[i] for i in np.argsort(-(matrix @ q))[:10]}
        got = client.post("/api/text/search", json={"query": text, "top_k": 10, "group": False})
        found = {h["item_id"] for h in got.json()["hits"]}
        recalls.append(len(exact & found) / 10)
    recall = float(np.mean(recalls))
    print(
        f"text search recall@10 vs brute force on a Milvus server ({len(ids)} vectors): "
        f"{recall:.3f}"
    )
    assert recall >= RECALL_BAR


def test_hybrid_falls_back_to_semantic_on_a_server_without_bm25(client: TestClient) -> None:
    """Milvus 2.3 has no BM25: the collection was made dense-only, and a hybrid or
    lexical search answers semantically, saying so."""
    from findalike.kit.hybrid import NO_LEXICAL_NOTICE

    for mode in ("hybrid", "lexical"):
        r = client.post("/api/text/search", json={"query": "the Soviet Union", "mode": mode})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["mode"] == "semantic" and body["notice"] == NO_LEXICAL_NOTICE
        assert body["hits"] and body["hits"][0]["rank_score"] is None
    plain = client.post("/api/text/search", json={"query": "the Soviet Union"}).json()
    assert plain["mode"] == "auto" and plain["notice"] is None
