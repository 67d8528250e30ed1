"""Text search modes through the real app: semantic, lexical (BM25) and hybrid, on
Milvus Lite and on a Milvus reached by URI (Milvus Lite's gRPC server), the
``evaluate`` figures, and the clean fall-back to semantic for a collection without a
full-text index (made before it existed, or on a Milvus 2.3 server)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from findalike.api.main import create_app
from findalike.apps.text import DEMO_DIR
from findalike.config import Settings
from findalike.kit.hybrid import NO_LEXICAL_NOTICE
from findalike.store import FieldSpec
from tests.conftest import wait_job

SPACE = re.compile(r"\b(Mars|astronauts?|moon|space|rockets?|telescope)\b", re.IGNORECASE)
QUERY = "sending astronauts to Mars"


def sentences(generic: int = 60) -> list[str]:
    """Real State of the Union sentences: every one about space travel (the known
    answers and their distractors) and ``generic`` others."""
    space, other = [], []
    for line in (DEMO_DIR / "sotu_recent.jsonl").read_text(encoding="utf-8").splitlines():
        for s in re.split(r"(?<=[.!?])\s+", json.loads(line)["text"]):
            if not 8 <= len(s.split()) <= 60:
                continue
            if SPACE.search(s):
                space.append(s)
            elif len(other) < generic:
                other.append(s)
    return space + other


def _jsonl(texts: list[str]) -> bytes:
    return "\n".join(
        json.dumps({"title": f"s{i}", "text": t}) for i, t in enumerate(texts)
    ).encode()


def _load(client: TestClient, texts: list[str]) -> None:
    r = client.post("/api/text/load", files=[("files", ("sotu.jsonl", _jsonl(texts)))])
    job = wait_job(client, r.json()["id"])
    assert (job["state"], job["done"]) == ("done", len(texts)), job


def _is_answer(text: str) -> bool:
    return "astronauts" in text and "Mars" in text


@pytest.fixture(scope="module")
def texts() -> list[str]:
    out = sentences()
    assert sum(_is_answer(t) for t in out) == 2 and len(out) > 80
    return out


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, shared_encoders: dict, texts: list[str]
) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("hybrid"), apps=["text"])
    with TestClient(create_app(settings, encoders=shared_encoders)) as c:
        _load(c, texts)
        yield c


def _search(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.post("/api/text/search", json={"query": QUERY, "top_k": 5, **body})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_lexical_and_hybrid_find_the_known_answer(client: TestClient, mode: str) -> None:
    res = _search(client, mode=mode)
    assert res["mode"] == mode and res["notice"] is None
    best = res["hits"][0]
    assert _is_answer(best["snippet"]), best
    assert best["rank_score"] is not None and -1 <= best["score"] <= 1
    marked = {best["snippet"][a:b] for a, b in best["highlights"]}
    assert {"astronauts", "Mars"} <= marked


def test_default_is_auto_and_scores_mean_the_same_in_every_mode(client: TestClient) -> None:
    """The default mode is auto; a query that names no identifier ranks exactly as
    semantic does."""
    default = _search(client, top_k=100)
    assert default["mode"] == "auto" and default["exact_terms"] == []
    semantic = _search(client, top_k=100, mode="semantic")
    assert semantic["mode"] == "semantic" and semantic["hits"][0]["rank_score"] is None
    assert default["hits"] == semantic["hits"]
    cosine = {h["item_id"]: h["score"] for h in semantic["hits"]}
    for mode in ("lexical", "hybrid"):
        for hit in _search(client, mode=mode)["hits"]:
            assert hit["score"] == pytest.approx(cosine[hit["item_id"]], abs=1e-3)
    rrf = _search(client, mode="hybrid", fusion="rrf")
    assert _is_answer(rrf["hits"][0]["snippet"])


def test_min_score_and_filters_hold_in_hybrid_mode(client: TestClient) -> None:
    res = _search(client, mode="hybrid", min_score=0.3, top_k=50)
    assert res["hits"] and min(h["score"] for h in res["hits"]) >= 0.3
    none = client.post(
        "/api/text/search", json={"query": QUERY, "mode": "lexical", "filters": {"x": 1}}
    ).json()
    assert none["hits"] == []
    wordless = client.post("/api/text/search", json={"query": "!!! ???", "mode": "lexical"})
    assert wordless.status_code == 200 and wordless.json()["hits"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "fuzzy"},
        {"lexical_weight": 1.5},
        {"lexical_weight": -0.1},
        {"fusion": "max"},
    ],
)
def test_bad_mode_options_are_422(client: TestClient, body: dict[str, Any]) -> None:
    r = client.post("/api/text/search", json={"query": QUERY, **body})
    assert r.status_code == 422, r.text


def test_evaluate_reports_each_mode(client: TestClient, texts: list[str]) -> None:
    ids = {}
    for offset in range(0, len(texts), 100):
        page = client.get("/api/text/items", params={"limit": 100, "offset": offset}).json()
        ids.update({d["fields"]["text"]: d["item_id"] for d in page["data"]})
    answers = [ids[t] for t in texts if _is_answer(t)]
    body = {"queries": [{"query": QUERY, "relevant": answers}], "k": 10}
    res = client.post("/api/text/evaluate", json=body).json()
    assert set(res["modes"]) == {"auto", "semantic", "lexical", "hybrid"} and res["notice"] is None
    print(f"text evaluate, one known-answer query: {res['modes']}")
    for figures in res["modes"].values():
        assert 0 <= figures["recall_at_k"] <= 1 and 0 <= figures["ndcg_at_10"] <= 1
    # both answers hold every query word: BM25 ranks one first and both in its top 10
    # (not always first and second: the documents' short title rows, "s12", lower BM25's
    # average length, and with it how much a long passage's extra words cost)
    assert res["modes"]["lexical"]["recall_at_k"] == 1.0
    assert res["modes"]["lexical"]["top1"] == 1.0
    too_many = {"queries": [{"query": "q", "relevant": answers}] * 201}
    assert client.post("/api/text/evaluate", json=too_many).status_code == 422
    bad_id = {"queries": [{"query": "q", "relevant": ["not-an-id"]}]}
    assert client.post("/api/text/evaluate", json=bad_id).status_code == 422
    # ids of the right shape that the collection does not hold: nothing was measured
    unknown = [{"query": f"question {i}", "relevant": [f"{i:032x}"]} for i in range(12)]
    r = client.post("/api/text/evaluate", json={"queries": unknown})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "None of the relevant items" in detail and "'question 0'" in detail
    assert "and 2 more" in detail
    # one query whose answer is stored is enough to measure
    mixed = {"queries": [*unknown[:2], {"query": QUERY, "relevant": answers}]}
    assert client.post("/api/text/evaluate", json=mixed).status_code == 200


def test_a_collection_without_full_text_falls_back_to_semantic(
    tmp_path: Path, shared_encoders: dict, texts: list[str]
) -> None:
    """A collection made before full-text search: it opens (no 409), loads, and a
    hybrid or lexical search answers semantically with a notice."""
    settings = Settings(data_dir=tmp_path, apps=["text"])
    with TestClient(create_app(settings, encoders=shared_encoders)) as c:
        rt = c.app.state.runtimes["text"]  # type: ignore[attr-defined]
        spec = rt.collection_spec()
        plain = tuple(FieldSpec(f.name, f.kind, f.max_length) for f in spec.fields)
        rt.store.ensure(type(spec)(**{**spec.__dict__, "fields": plain}))
        _load(c, texts[:20])
        res = c.post("/api/text/search", json={"query": QUERY, "mode": "hybrid"}).json()
        assert res["mode"] == "semantic" and res["notice"] == NO_LEXICAL_NOTICE
        assert res["hits"] and res["hits"][0]["rank_score"] is None
        ev = c.post(
            "/api/text/evaluate",
            json={"queries": [{"query": QUERY, "relevant": [res["hits"][0]["item_id"]]}]},
        ).json()
        assert set(ev["modes"]) == {"auto", "semantic"} and ev["notice"] == NO_LEXICAL_NOTICE


def test_hybrid_on_a_milvus_reached_by_uri(
    tmp_path: Path, shared_encoders: dict, texts: list[str], lite_server_uri: str
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        apps=["text"],
        milvus_uri=lite_server_uri,
        collection_prefix=f"t{uuid.uuid4().hex[:6]}_",
    )
    with TestClient(create_app(settings, encoders=shared_encoders)) as c:
        _load(c, [t for t in texts if SPACE.search(t)])
        for mode in ("lexical", "hybrid"):
            res = _search(c, mode=mode)
            assert res["mode"] == mode and _is_answer(res["hits"][0]["snippet"]), res
        c.delete("/api/text")
