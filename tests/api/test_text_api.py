"""The text app through the real HTTP app: real model, real Milvus Lite, real files."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from findalike.api.main import create_app
from findalike.config import Settings
from tests.conftest import wait_job

DOCS = [
    (
        "Volcanoes",
        "A volcano erupts when molten rock, ash and gases escape from the magma "
        "chamber below the crust.",
        {"topic": "geology", "year": 2001},
    ),
    (
        "Photosynthesis",
        "Plants turn sunlight, water and carbon dioxide into sugar and oxygen in their leaves.",
        {"topic": "biology", "year": 2005},
    ),
    (
        "Interest rates",
        "The central bank raised interest rates to slow inflation and cool the housing market.",
        {"topic": "economics", "year": 2010},
    ),
    (
        "Penalty kicks",
        "The goalkeeper dived to the left and saved the penalty in the final minute of the match.",
        {"topic": "sport", "year": 2015},
    ),
]


def _csv(docs: list[tuple[str, str, dict[str, Any]]]) -> bytes:
    lines = ["title,text,topic,year"]
    for title, text, meta in docs:
        lines.append(f'"{title}","{text}",{meta["topic"]},{meta["year"]}')
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, shared_encoders: dict) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp("text-api")
    allowed = data / "allowed"
    allowed.mkdir()
    settings = Settings(
        data_dir=data,
        apps=["text", "qa"],
        allowed_roots=[allowed],
        max_upload_bytes=30 * 1024 * 1024,
    )
    with TestClient(create_app(settings, encoders=shared_encoders)) as c:
        c.allowed = allowed  # type: ignore[attr-defined]
        yield c


def _load(client: TestClient, files: list[tuple[str, bytes]], app: str = "text") -> dict:
    r = client.post(f"/api/{app}/load", files=[("files", (n, b)) for n, b in files])
    assert r.status_code == 202, r.text
    assert r.json()["state"] in ("queued", "running")
    return wait_job(client, r.json()["id"])


def _search(client: TestClient, query: str, **kw: Any) -> list[dict]:
    r = client.post("/api/text/search", json={"query": query, **kw})
    assert r.status_code == 200, r.text
    return r.json()["hits"]


def test_load_search_filter_delete_count_drop(client: TestClient) -> None:
    job = _load(client, [("docs.csv", _csv(DOCS))])
    assert (job["state"], job["done"], job["failed"]) == ("done", 4, 0), job
    hits = _search(client, "lava coming out of a mountain", top_k=2)
    assert hits[0]["title"] == "Volcanoes"
    assert hits[0]["meta"] == {"topic": "geology", "year": 2001}
    assert hits[0]["score"] > hits[1]["score"]
    # highlighted spans point at query words inside the snippet
    hits = _search(client, "interest rates and inflation", top_k=1)
    snippet = hits[0]["snippet"]
    assert {snippet[a:b].lower() for a, b in hits[0]["highlights"]} >= {"interest", "inflation"}
    # filters: exact and range; a filter no document matches gives nothing
    assert [h["title"] for h in _search(client, "lava", filters={"topic": "sport"})] == [
        "Penalty kicks"
    ]
    ranged = _search(client, "anything", filters={"year": {"gte": 2005, "lt": 2015}})
    assert sorted(h["title"] for h in ranged) == ["Interest rates", "Photosynthesis"]
    assert _search(client, "lava", filters={"topic": "astronomy"}) == []
    # count, get, delete one, drop
    assert client.get("/api/text/count").json()["items"] == 4
    item_id = _search(client, "goalkeeper", top_k=1)[0]["item_id"]
    assert client.get(f"/api/text/items/{item_id}").json()["fields"]["title"] == "Penalty kicks"
    assert client.delete(f"/api/text/items/{item_id}").status_code == 200
    assert client.get(f"/api/text/items/{item_id}").status_code == 404
    assert client.delete(f"/api/text/items/{item_id}").status_code == 404
    assert client.get("/api/text/count").json()["items"] == 3
    assert client.delete("/api/text").json()["dropped"] is True
    assert client.get("/api/text/count").json()["items"] == 0
    assert _search(client, "lava") == []


def test_reloading_the_same_content_does_not_duplicate(client: TestClient) -> None:
    client.delete("/api/text")
    first = _load(client, [("docs.csv", _csv(DOCS))])
    again = _load(client, [("copy.csv", _csv(DOCS)), ("docs.jsonl", _jsonl(DOCS[:2]))])
    assert first["done"] == 4
    # the CSV copy is identical content; the JSONL rows carry the same title/text/meta
    assert again["done"] == 0 and again["skipped"] == 6, again
    assert client.get("/api/text/count").json()["items"] == 4


def _jsonl(docs: list[tuple[str, str, dict[str, Any]]]) -> bytes:
    return "\n".join(json.dumps({"title": t, "text": x, **m}) for t, x, m in docs).encode()


def test_txt_files_zip_and_long_documents_become_passages(client: TestClient) -> None:
    client.delete("/api/text")
    long_text = (
        " ".join(
            f"Sentence number {i} talks about ordinary matters of the day." for i in range(200)
        )
        + " The final sentence reveals that the treasure is buried under the old oak tree."
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("notes/long-story.txt", long_text)
        zf.writestr("notes/short.txt", "Bees make honey from the nectar of flowers.")
    job = _load(client, [("notes.zip", buf.getvalue())])
    assert (job["done"], job["failed"]) == (2, 0), job
    counts = client.get("/api/text/count").json()
    assert counts["items"] == 2 and counts["vectors"] > 5  # the long story was split
    hit = _search(client, "where is the treasure hidden", top_k=1)[0]
    assert hit["title"] == "long-story" and hit["passage"] > 0
    assert "treasure" in hit["snippet"]


def test_bad_items_are_reported_and_skipped_and_nothing_is_lost(client: TestClient) -> None:
    client.delete("/api/text")
    _load(client, [("docs.csv", _csv(DOCS))])
    ten_mb_line = b"title,text\nhuge," + b"x" * (10 * 1024 * 1024) + b"\nok,A small good line.\n"
    zip_buf = io.BytesIO()
    with zipfile.ZipFile(zip_buf, "w") as zf:
        zf.writestr("../../etc/evil.txt", "escape attempt")
        zf.writestr("fine.txt", "Whales sing long songs under the sea.")
    job = _load(
        client,
        [
            ("empty.csv", b""),
            ("latin1.csv", "title,text\ncaf\xe9,cr\xe8me br\xfbl\xe9e\n".encode("latin-1")),
            ("nocolumn.csv", b"title,body\na,b\n"),
            ("bad.jsonl", b'{"text": "fine line"}\n{not json}\n[1, 2]\n'),
            ("emptytext.csv", b"title,text\nnothing,\n"),
            ("huge.csv", ten_mb_line),
            ("archive.zip", zip_buf.getvalue()),
            ("image.png", b"\x89PNG\r\n"),
        ],
    )
    errors = {e["item"]: e["error"] for e in job["errors"]}
    assert job["state"] == "done"
    assert job["done"] == 3  # bad.jsonl line 1, huge.csv's small line, archive.zip/fine.txt
    assert "empty file" in errors["empty.csv"]
    assert "not UTF-8" in errors["latin1.csv"] and "0xe9" in errors["latin1.csv"]
    assert "no column 'text'" in errors["nocolumn.csv"]
    assert "not valid JSON" in errors["bad.jsonl:2"]
    assert "JSON object" in errors["bad.jsonl:3"]
    assert "empty text" in errors["emptytext.csv:2"]
    assert "longer than" in errors["huge.csv:2"]
    assert "unsafe path" in errors["archive.zip/../../etc/evil.txt"]
    assert "unsupported file type" in errors["image.png"]
    assert job["failed"] == len(job["errors"]) == 9
    # what was stored before is intact
    assert client.get("/api/text/count").json()["items"] == 4 + 3
    assert _search(client, "lava coming out of a mountain", top_k=1)[0]["title"] == "Volcanoes"


def test_load_request_errors(client: TestClient) -> None:
    r = client.post("/api/text/load")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "files"
    r = client.post("/api/text/load", files=[("files", ("a.png", b"png"))])
    assert r.status_code == 415 and "a.png" in r.json()["detail"]
    r = client.post("/api/text/load", files=[("files", ("a.csv", b""))])
    assert r.status_code == 400 and "empty" in r.json()["detail"]
    r = client.post("/api/text/load", data={"path": "/etc"})
    assert r.status_code == 403 and "outside the allowed roots" in r.json()["detail"]
    r = client.post("/api/text/load", data={"path": str(client.allowed / ".." / "..")})  # type: ignore[attr-defined]
    assert r.status_code == 403
    r = client.post("/api/text/load", data={"path": str(client.allowed / "missing")})  # type: ignore[attr-defined]
    assert r.status_code == 404
    big = b"title,text\n" + b"a,b\n" * (8 * 1024 * 1024)  # 32 MB > the 30 MB limit here
    r = client.post("/api/text/load", files=[("files", ("big.csv", big))])
    assert r.status_code == 413 and "limit" in r.json()["detail"]


def test_load_from_an_allowed_folder(client: TestClient) -> None:
    client.delete("/api/text")
    allowed: Path = client.allowed  # type: ignore[attr-defined]
    (allowed / "corpus").mkdir(exist_ok=True)
    (allowed / "corpus" / "a.txt").write_text("Penguins huddle together to survive the winter.")
    (allowed / "corpus" / "b.csv").write_bytes(_csv(DOCS[:1]))
    r = client.post("/api/text/load", data={"path": str(allowed / "corpus")})
    assert r.status_code == 202
    job = wait_job(client, r.json()["id"])
    assert (job["done"], job["failed"]) == (2, 0), job
    assert _search(client, "birds in cold weather", top_k=1)[0]["title"] == "a"


def test_search_validation_and_unknown_things(client: TestClient) -> None:
    r = client.post("/api/text/search", json={"query": "", "top_k": 0})
    body = r.json()
    assert r.status_code == 422 and body["title"] == "Validation failed"
    assert {e["field"] for e in body["errors"]} == {"body.query", "body.top_k"}
    r = client.post("/api/text/search", json={"query": "x", "filters": {'a"]) or 1==1': "x"}})
    assert r.status_code == 422 and "metadata field name" in r.json()["detail"]
    r = client.post(
        "/api/text/search", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert client.get("/api/nope/count").status_code == 404
    assert "Unknown app 'nope'" in client.post("/api/nope/search", json={}).json()["detail"]
    assert client.get("/api/jobs/does-not-exist").status_code == 404
    assert client.get("/api/jobs/does-not-exist/events").status_code == 404


def test_sse_stream_reports_progress_and_ends_with_done(client: TestClient) -> None:
    client.delete("/api/text")
    r = client.post("/api/text/load", files=[("files", ("docs.csv", _csv(DOCS)))])
    job_id = r.json()["id"]
    events = []
    with client.stream("GET", f"/api/jobs/{job_id}/events") as stream:
        event = None
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((event, json.loads(line.split(":", 1)[1])))
    names = [e for e, _ in events]
    assert names[-1] == "done" and set(names[:-1]) <= {"progress"}
    processed = [d["done"] + d["skipped"] + d["failed"] for _, d in events]
    assert processed == sorted(processed), "progress went backwards"
    assert events[-1][1]["done"] == 4


def test_cancel_and_jobs_listing(client: TestClient) -> None:
    r = client.post("/api/text/load", files=[("files", ("docs.csv", _csv(DOCS)))])
    job_id = r.json()["id"]
    job = wait_job(client, job_id)
    assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 409
    listed = client.get("/api/jobs", params={"app": "text"}).json()["data"]
    assert job_id in [j["id"] for j in listed] and all(j["app"] == "text" for j in listed)
    assert job["state"] == "done"


def test_openapi_docs_and_health(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in (
        "/api/text/load",
        "/api/text/search",
        "/api/qa/answer",
        "/api/jobs/{job_id}",
        "/api/jobs/{job_id}/events",
        "/api/health",
        "/api/apps",
    ):
        assert path in spec["paths"], path
    search_schema = spec["paths"]["/api/text/search"]["post"]["requestBody"]["content"]
    assert search_schema["application/json"]["schema"]["$ref"].endswith("TextSearchRequest")
    assert client.get("/docs").status_code == 200 and "swagger" in client.get("/docs").text
    assert client.get("/redoc").status_code == 200 and "redoc" in client.get("/redoc").text
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["milvus"]["ok"]
    apps = {a["name"]: a for a in client.get("/api/apps").json()["data"]}
    assert apps["text"]["enabled"] and apps["qa"]["enabled"]


OTHER_TOPICS = [
    "The bakery sells fresh bread and croissants every morning before sunrise.",
    "Our football team won the league after a penalty shoot-out in the final.",
    "The bank lowered its mortgage rates for first-time buyers this spring.",
    "Bees carry pollen between flowers and make honey in their hives.",
    "The orchestra played a symphony by Beethoven to a full concert hall.",
    "Engineers tested the new electric car's battery in freezing weather.",
    "The library opened a reading room for children with picture books.",
    "Farmers harvested wheat and barley before the autumn rains arrived.",
    "The chess champion defended her title in a long endgame.",
    "Doctors recommend washing hands to stop the spread of the flu.",
    "The museum displayed ancient Roman coins and pottery.",
    "A new bridge connects the two halves of the city across the river.",
]


def test_grouped_search_reaches_top_k_documents_past_one_long_documents_passages(
    tmp_path: Path, shared_encoders: dict
) -> None:
    """One long document whose passages all match the query fills the first fetch of
    passages (3 per wanted document): the search asks again for more and still answers
    ``top_k`` distinct documents, in the order an ungrouped search ranks them."""
    # exact search (FLAT): this is about how many passages grouping fetches, and Milvus
    # Lite's HNSW may leave a row out of a search for more rows than are stored
    settings = Settings(data_dir=tmp_path, apps=["text"], text_chunk_words=16, index_type="FLAT")
    long_doc = " ".join(
        f"Volcano number {i} erupted at dawn, and red lava, ash and volcanic gas poured "
        "down its slopes."
        for i in range(70)
    )
    docs = [("Seventy eruptions", long_doc, {"topic": "geology", "year": 2020})]
    docs += [
        (f"Note {i}", text, {"topic": "misc", "year": 2000 + i})
        for i, text in enumerate(OTHER_TOPICS)
    ]
    with TestClient(create_app(settings, encoders={"minilm": shared_encoders["minilm"]})) as c:
        job = _load(c, [("docs.csv", _csv(docs))])
        assert (job["done"], job["failed"]) == (13, 0), job
        assert c.get("/api/text/count").json()["vectors"] >= 70
        for mode in ("semantic", "hybrid"):
            hits = _search(c, "a volcano erupting lava", top_k=10, mode=mode)
            assert len(hits) == 10, (mode, [h["title"] for h in hits])
            assert len({h["item_id"] for h in hits}) == 10
            assert hits[0]["title"] == "Seventy eruptions"
            if mode == "semantic":  # the documents of every passage, in rank order
                flat = _search(c, "a volcano erupting lava", top_k=500, mode=mode, group=False)
                firsts = list(dict.fromkeys(h["item_id"] for h in flat))[:10]
                assert [h["item_id"] for h in hits] == firsts
